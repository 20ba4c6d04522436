//! POST apply_timing_jobs: jobs as code. The body is the whole desired set of jobs (of one
//! queue, or of all), each in the add request's fields with its `job_id`; the answer is a plan
//! (create, update with the fields that change, leave unchanged, delete), applied all or none.
//!
//! A job whose declared fields equal the stored ones is left as it is (next run, counts and
//! history stay); an update keeps the counts and history, and keeps the next run unless the
//! trigger, its zone or the paused state changed; `prune` deletes stored jobs the set leaves
//! out; `dry_run` stores nothing. Applying the same set twice changes nothing the second time.
//! README: "Jobs as code".

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use super::jobs::new_job;
use super::query::Query;
use super::{Ctx, Outcome};
use crate::audit;
use crate::error::{code, ApiError};
use crate::job::{validate_queue_name, AddRequest, Body, Job, StoreKind};
use crate::store::redis::{Expect, HistoryChange, RedisStore, Refusal, Write};
use crate::store::{registry, Listed, Stored};
use crate::trigger::Zdt;

/// Most jobs one apply takes (one script applies them all at once).
pub const MAX_APPLY_JOBS: usize = 10_000;

/// What the plan does with one job.
enum Step {
    Create(Job),
    Update { before: Box<Stored>, after: Job, changes: Vec<&'static str> },
    Unchanged,
    Delete(Box<Stored>),
}

/// POST apply_timing_jobs (body: `jobs`, and optionally `queue_name`, `prune`, `dry_run`).
/// A token limited to some queues applies sets of those queues, and prunes only in them.
pub(super) fn apply(ctx: &Ctx, query: Query) -> Outcome {
    let services = ctx.services;
    query.finish()?;
    let mut body = Body::parse(&ctx.request.body)?;
    let scope = body.string("queue_name")?;
    if let Some(q) = &scope {
        validate_queue_name("queue_name", q)?;
        ctx.check_queue(q)?;
    }
    let prune = body.boolean("prune")?.unwrap_or(false);
    let dry_run = body.boolean("dry_run")?.unwrap_or(false);
    let jobs = body
        .array("jobs")?
        .ok_or_else(|| ApiError::invalid("jobs", "is required: the whole desired set of jobs (an empty list with prune deletes them all)"))?;
    body.finish()?;
    if jobs.len() > MAX_APPLY_JOBS {
        return Err(ApiError::invalid("jobs", format!("holds {} jobs; one apply takes at most {MAX_APPLY_JOBS}", jobs.len())));
    }
    // Parse every job first: one bad job refuses the whole set, naming it.
    let mut desired: BTreeMap<(String, String), (usize, AddRequest)> = BTreeMap::new();
    for (k, job) in jobs.into_iter().enumerate() {
        let at = |e: ApiError| in_job(k, e);
        let add = AddRequest::parse(&serde_json::to_vec(&job).unwrap_or_default()).map_err(at)?;
        let job_id = add
            .job_id
            .clone()
            .ok_or_else(|| at(ApiError::invalid("job_id", "is required in an applied set (it is how a job is matched with the stored one)")))?;
        if add.store != StoreKind::Redis {
            return Err(at(ApiError::invalid("job_store_kind", "apply manages the redis store only")));
        }
        if add.replace_existing {
            return Err(at(ApiError::invalid("replace_existing", "has no meaning in an applied set (a changed job is updated)")));
        }
        if let Some(q) = scope.as_ref().filter(|q| **q != add.queue_name) {
            return Err(at(ApiError::invalid("queue_name", format!("{} is outside the applied queue {q}", add.queue_name))));
        }
        ctx.check_queue(&add.queue_name).map_err(|e| ApiError {
            message: format!("jobs[{k}].queue_name: {}", e.message),
            field: Some(format!("jobs[{k}].queue_name")),
            ..e
        })?;
        if desired.insert((add.queue_name.clone(), job_id.clone()), (k, add)).is_some() {
            return Err(at(ApiError::invalid("job_id", format!("{job_id} appears twice in the set"))));
        }
    }
    let store = services.store(StoreKind::Redis)?;
    // The stored jobs the plan compares with: of the scope when pruning, else of the set's queues.
    let queues: BTreeSet<String> = desired.keys().map(|(q, _)| q.clone()).collect();
    let mut stored: BTreeMap<(String, String), Stored> = BTreeMap::new();
    let listings = match (&scope, prune) {
        (Some(q), _) => vec![store.list(Some(q))?],
        (None, true) => vec![store.list(None)?],
        (None, false) => queues.iter().map(|q| store.list(Some(q))).collect::<Result<_, _>>()?,
    };
    let mut unreadable = Vec::new();
    for listed in listings.into_iter().flatten().filter(|l| ctx.caller.scope.allows(l.queue())) {
        match listed {
            Listed::Job(s) => {
                stored.insert((s.job.queue_name.clone(), s.job.job_id.clone()), *s);
            }
            Listed::Unreadable { queue, job_id, .. } => unreadable.push((queue, job_id)),
        }
    }
    if let Some((queue, job_id)) = unreadable.iter().find(|key| desired.contains_key(*key) || prune) {
        return Err(ApiError::new(
            409,
            code::JOB_UNREADABLE,
            "JobUnreadable",
            format!("timing job {job_id} of queue {queue} cannot be read; delete it before applying a set that includes or prunes it"),
        ));
    }
    let mut registered = BTreeMap::new();
    let mut now_us = None;
    for queue in &queues {
        let lookup = registry::lookup(services.redis, queue)?;
        now_us.get_or_insert(lookup.server_now_us);
        registered.insert(queue.clone(), lookup.params);
    }
    let now_us = match now_us {
        Some(now) => now,
        None => services.now_us()?,
    };

    let mut plan: Vec<((String, String), Step)> = Vec::new();
    for (key, (k, add)) in desired {
        let params = registered.get(&key.0).and_then(Option::as_ref);
        let (mut wanted, _) = new_job(services, add, params, now_us).map_err(|e| in_job(k, e))?;
        let step = match stored.remove(&key) {
            None => Step::Create(wanted),
            Some(before) => {
                let changes = before.job.declared_changes(&wanted);
                if changes.is_empty() {
                    Step::Unchanged
                } else {
                    keep_what_firing_did(&before.job, &mut wanted, &changes, now_us).map_err(|e| in_job(k, e))?;
                    Step::Update { before: Box::new(before), after: wanted, changes }
                }
            }
        };
        plan.push((key, step));
    }
    if prune {
        plan.extend(stored.into_iter().map(|(key, before)| (key, Step::Delete(Box::new(before)))));
    }

    let mut answer = json!({"dry_run": dry_run, "applied": false, "create": [], "update": [], "unchanged": [], "delete": []});
    for ((queue, job_id), step) in &plan {
        let (list, entry) = match step {
            Step::Create(_) => ("create", json!({"queue_name": queue, "job_id": job_id})),
            Step::Update { changes, .. } => ("update", json!({"queue_name": queue, "job_id": job_id, "changes": changes})),
            Step::Unchanged => ("unchanged", json!({"queue_name": queue, "job_id": job_id})),
            Step::Delete(_) => ("delete", json!({"queue_name": queue, "job_id": job_id})),
        };
        if let Some(list) = answer[list].as_array_mut() {
            list.push(entry);
        }
    }
    let count = |list: &str| answer[list].as_array().map_or(0, Vec::len);
    let summary = format!("create {}, update {}, unchanged {}, delete {}", count("create"), count("update"), count("unchanged"), count("delete"));
    if dry_run {
        return Ok((format!("plan (dry run, nothing stored): {summary}"), answer));
    }
    // Each change is audited on its own (a job's trail shows it), all in the same write.
    let audits: Vec<Option<audit::Entry>> = plan
        .iter()
        .map(|((queue, job_id), step)| {
            let changes = match step {
                Step::Create(job) => audit::settings(job),
                Step::Update { before, after, .. } => audit::diff(&before.job, after),
                Step::Delete(before) => json!({"deleted": audit::settings(&before.job)}),
                Step::Unchanged => return None,
            };
            Some(ctx.audit(queue, Some(job_id), changes, None))
        })
        .collect();
    let writes: Vec<Write> = plan
        .iter()
        .zip(&audits)
        .filter_map(|(((queue, job_id), step), audit)| {
            let (expect, job, history) = match step {
                Step::Create(job) => (Expect::Absent, Some(job), HistoryChange::Clear),
                Step::Update { before, after, .. } => (Expect::Version(&before.version), Some(after), HistoryChange::Keep),
                Step::Delete(before) => (Expect::Version(&before.version), None, HistoryChange::Keep),
                Step::Unchanged => return None,
            };
            Some(Write { queue, job_id, expect, job, same_spec: false, history, audit: audit.as_ref() })
        })
        .collect();
    if !writes.is_empty() {
        let redis = RedisStore::new(services.redis, &services.config.key_prefix);
        match redis.write_moving_layout_1(&writes, services.config.max_jobs_per_queue)? {
            Ok(_) => {}
            Err(Refusal::Full(e)) => {
                return Err(ApiError::new(
                    409,
                    code::TOO_MANY_JOBS,
                    "TooManyJobs",
                    format!(
                        "queue {} would hold more than {} jobs (variable max_jobs_per_queue); nothing was applied",
                        writes[e].queue, services.config.max_jobs_per_queue
                    ),
                ))
            }
            Err(refusal) => {
                let e = match refusal {
                    Refusal::Exists(e) | Refusal::Changed(e) | Refusal::NotUpgraded(e) => e,
                    Refusal::Full(e) => e,
                };
                return Err(ApiError::new(
                    409,
                    code::JOB_EXISTS,
                    "Conflict",
                    format!(
                        "timing job {} of queue {} changed while the set was applied; nothing was applied, apply it again",
                        writes[e].job_id, writes[e].queue
                    ),
                ));
            }
        }
    }
    answer["applied"] = true.into();
    Ok((format!("applied: {summary}"), answer))
}

/// An input error of the set's job `k`: its field named `jobs[k].<field>`.
fn in_job(k: usize, e: ApiError) -> ApiError {
    let Some(field) = e.field.as_deref() else { return e };
    let field = format!("jobs[{k}].{field}");
    let message = e.message.split_once(": ").map_or(e.message.clone(), |(_, m)| m.to_string());
    ApiError { field: Some(field.clone()), message: format!("{field}: {message}"), ..e }
}

/// An update keeps the counts and the last fire, and the next run unless the schedule changed
/// (a new trigger or zone: as a reschedule, from now) or the job was paused or resumed (as a
/// pause or resume).
fn keep_what_firing_did(stored: &Job, wanted: &mut Job, changes: &[&str], now_us: i64) -> Result<(), ApiError> {
    wanted.fires = stored.fires;
    wanted.missed = stored.missed;
    wanted.coalesced = stored.coalesced;
    wanted.last_fire_us = stored.last_fire_us;
    let schedule_changed = changes.iter().any(|c| matches!(*c, "trigger" | "timezone"));
    if !schedule_changed {
        // The interval's grid stays where it was.
        wanted.created_us = stored.created_us;
        if !changes.contains(&"paused") {
            wanted.next_run = stored.next_run;
        } else if !wanted.paused {
            let schedule = wanted.schedule()?;
            let now = Zdt::from_utc(now_us, schedule.zone());
            wanted.next_run = schedule.next_fire_time_jittered(None, &now, crate::random::unit).as_ref().map(crate::job::StoredTime::of);
        }
    }
    Ok(())
}
