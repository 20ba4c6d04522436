//! The job routes: funboost's add, list, get, delete, delete-all, pause and resume.

use serde_json::{json, Map, Value};

use super::query::Query;
use super::{Ctx, Outcome};
use crate::audit;
use crate::error::{code, ApiError};
use crate::job::{history, resolve_broker_kind, unreadable_view, validate_name, AddRequest, Body, Job, Status, StoreKind, StoredTime};
use crate::services::Services;
use crate::store::registry::QueueParams;
use crate::store::{registry, AddOutcome, Listed, Stored, Unreadable};
use crate::trigger::{parse_datetime, Schedule, Zdt};

pub(super) fn queue_not_found(queue: &str) -> ApiError {
    ApiError::new(
        404,
        code::QUEUE_NOT_FOUND,
        "QueueNameNotExists",
        format!("queue {queue} is not registered by any funboost consumer (start its consumer once, or set the variable allow_unregistered_queues=true)"),
    )
}

fn job_not_found(queue: &str, job_id: &str) -> ApiError {
    ApiError::new(404, code::JOB_NOT_FOUND, "JobLookupError", format!("No job by the id of {job_id} was found in queue {queue}"))
}

/// A job that is not stored: funboost answers QueueNameNotExists (4001) first when no consumer
/// registered the queue, so do the same (unless unregistered queues are allowed).
fn missing_job(services: &Services, queue: &str, job_id: &str) -> ApiError {
    if !services.config.allow_unregistered_queues && matches!(registry::lookup(services.redis, queue), Ok(registry::Lookup { params: None, .. })) {
        return queue_not_found(queue);
    }
    job_not_found(queue, job_id)
}

/// The message's keyword arguments: `args` mapped to the parameter names the queue's consumer
/// registered, plus `kwargs`, checked as funboost checks a push (5001).
fn message_kwargs(
    services: &Services,
    queue: &str,
    registered: Option<&QueueParams>,
    args: &[Value],
    kwargs: &Map<String, Value>,
) -> Result<Map<String, Value>, ApiError> {
    match registered {
        Some(params) => registry::message_kwargs(queue, params, args, kwargs),
        None if services.config.allow_unregistered_queues => registry::unmapped(queue, args, kwargs, "no consumer registered it"),
        None => Err(queue_not_found(queue)),
    }
}

/// A random 32-hex-digit id, as APScheduler's `uuid4().hex`.
fn new_job_id() -> String {
    let (a, b) = (crate::random::u64(), crate::random::u64());
    format!("{a:016x}{b:016x}")
}

/// POST add_timing_job (body: the add request).
pub(super) fn add(ctx: &Ctx, query: Query) -> Outcome {
    let services = ctx.services;
    query.finish()?;
    let add = AddRequest::parse(&ctx.request.body)?;
    ctx.check_queue(&add.queue_name)?;
    let replace = add.replace_existing;
    let registry::Lookup { params: registered, server_now_us: now_us, .. } = registry::lookup(services.redis, &add.queue_name)?;
    let (job, schedule) = new_job(services, add, registered.as_ref(), now_us)?;
    let audit = ctx.audit(&job.queue_name, Some(&job.job_id), audit::settings(&job), None);
    let outcome = services.store(job.store)?.add(&job, replace, services.config.max_jobs_per_queue, &audit)?;
    let msg = match outcome {
        AddOutcome::Added => format!("timing job {} added to queue {}", job.job_id, job.queue_name),
        AddOutcome::Replaced => format!("timing job {} in queue {} replaced", job.job_id, job.queue_name),
    };
    Ok((msg, job.view(Some(&schedule))))
}

/// The job an add request describes, created at `now_us` (the Redis clock) for a queue whose
/// consumer registered `registered`: arguments mapped and checked, broker kind resolved,
/// trigger built, first run computed (or as given).
pub(super) fn new_job(services: &Services, add: AddRequest, registered: Option<&QueueParams>, now_us: i64) -> Result<(Job, Schedule), ApiError> {
    let job_id = add.job_id.clone().unwrap_or_else(new_job_id);
    let max_priority = registered.and_then(|p| p.max_priority);
    let broker_kind = resolve_broker_kind(&add.queue_name, add.broker_kind, add.priority, registered.and_then(|p| p.broker_kind.as_deref()))?;
    let message_kwargs = message_kwargs(services, &add.queue_name, registered, &add.args, &add.kwargs)?;
    let schedule = Schedule::build(&add.trigger, services.config.timezone, now_us)?;
    let now = Zdt::from_utc(now_us, schedule.zone());
    let next_run = match (&add.next_run_time, add.paused) {
        (_, true) => None,
        (Some(text), false) => Some(parse_datetime("next_run_time", text, schedule.zone())?),
        (None, false) => schedule.next_fire_time_jittered(None, &now, crate::random::unit),
    };
    let job = Job {
        job_id,
        queue_name: add.queue_name,
        store: add.store,
        timezone: schedule.zone().name(),
        trigger: add.trigger,
        created_us: now_us,
        args: add.args,
        kwargs: add.kwargs,
        message_kwargs,
        misfire_grace_time: add.misfire_grace_time,
        coalesce: add.coalesce,
        broker_kind,
        priority: add.priority,
        max_priority,
        extra: add.extra,
        next_run: next_run.as_ref().map(StoredTime::of),
        paused: add.paused,
        fires: 0,
        missed: 0,
        coalesced: 0,
        last_fire_us: None,
        error: None,
    };
    Ok((job, schedule))
}

/// A stored job that cannot be read: only deleting it (or adding it again with
/// replace_existing) helps.
fn unreadable(queue: &str, job_id: &str, reason: &str) -> ApiError {
    ApiError::new(
        409,
        code::JOB_UNREADABLE,
        "JobUnreadable",
        format!("timing job {job_id} of queue {queue} cannot be read ({reason}); delete it, or add it again with replace_existing=true"),
    )
}

/// The stored job, readable.
fn load(services: &Services, store: StoreKind, queue: &str, job_id: &str) -> Result<Stored, ApiError> {
    match services.store(store)?.get(queue, job_id)? {
        None => Err(missing_job(services, queue, job_id)),
        Some(Err(Unreadable(reason))) => Err(unreadable(queue, job_id, &reason)),
        Some(Ok(stored)) => Ok(stored),
    }
}

/// The job as the API returns it; one that cannot be scheduled shows status `error` and why.
fn view(job: &Job) -> (Value, Option<Schedule>) {
    match job.schedule() {
        Ok(schedule) => (job.view(Some(&schedule)), Some(schedule)),
        Err(e) => {
            let mut stopped = job.clone();
            stopped.error.get_or_insert(e.message);
            (stopped.view(None), None)
        }
    }
}

/// GET get_timing_jobs: every job of one queue or of all, by next run time (paused, finished
/// and stopped jobs last); a job that cannot be read is listed with status `error`.
pub(super) fn list(ctx: &Ctx, mut query: Query) -> Outcome {
    let services = ctx.services;
    let queue = query.take("queue_name");
    if let Some(q) = &queue {
        validate_name("queue_name", q)?;
        ctx.check_queue(q)?;
    }
    let store = query.store()?;
    query.finish()?;
    // (queue, sort key, view)
    let mut jobs: Vec<(String, (bool, i64, String), Value)> = Vec::new();
    let listed = services.store(store)?.list(queue.as_deref())?;
    let in_scope = |q: &str| ctx.caller.scope.allows(q);
    for listed in listed.into_iter().filter(|l| in_scope(l.queue())) {
        match listed {
            Listed::Job(stored) => {
                let job = stored.job;
                let (view, _) = view(&job);
                let running = view["status"] == Status::Running.name();
                jobs.push((job.queue_name.clone(), (!running, job.next_run.map_or(i64::MAX, |t| t.utc_us), job.job_id.clone()), view));
            }
            Listed::Unreadable { queue, job_id, reason } => {
                let view = unreadable_view(&queue, &job_id, store, &reason);
                jobs.push((queue, (true, i64::MAX, job_id), view));
            }
        }
    }
    // APScheduler's get_jobs order: by next run time, paused (no next run) last.
    jobs.sort_by(|a, b| a.1.cmp(&b.1));
    // As funboost: one list per queue asked for, or per registered queue (empty ones too).
    let mut by_queue: Map<String, Value> = Map::new();
    let mut listed = match &queue {
        Some(q) => vec![q.clone()],
        None => registry::registered_queues(services.redis)?,
    };
    listed.retain(|q| in_scope(q));
    listed.sort();
    for q in listed {
        by_queue.insert(q, Value::Array(Vec::new()));
    }
    for (q, _, view) in &jobs {
        if let Value::Array(list) = by_queue.entry(q.clone()).or_insert_with(|| Value::Array(Vec::new())) {
            list.push(view.clone());
        }
    }
    let views: Vec<Value> = jobs.into_iter().map(|(_, _, view)| view).collect();
    let count = views.len();
    Ok(("ok".to_string(), json!({"jobs": views, "count": count, "jobs_by_queue": by_queue, "total_count": count})))
}

/// GET get_timing_job: one job, its next `count` fire times and its recent fires; a job that
/// cannot be read is shown with status `error` and why.
pub(super) fn get(ctx: &Ctx, mut query: Query) -> Outcome {
    let services = ctx.services;
    let (job_id, queue, store) = job_key(ctx, &mut query)?;
    let count = query.count(5)?;
    query.finish()?;
    let jobs = services.store(store)?;
    let stored = match jobs.get(&queue, &job_id)? {
        None => return Err(missing_job(services, &queue, &job_id)),
        Some(Err(Unreadable(reason))) => return Ok(("ok".to_string(), unreadable_view(&queue, &job_id, store, &reason))),
        Some(Ok(stored)) => stored,
    };
    let job = &stored.job;
    let (mut view, schedule) = view(job);
    let upcoming: Vec<String> = match (&schedule, job.status()) {
        (Some(schedule), Status::Running) => match job.next_run_time(schedule) {
            Some(next) => schedule.trigger.following(next, count).iter().map(Zdt::py_str).collect(),
            None => Vec::new(),
        },
        _ => Vec::new(),
    };
    let zone = schedule.as_ref().map(Schedule::zone).or_else(|| job.zone().ok()).unwrap_or(crate::trigger::Zone::Utc);
    let fires = jobs.history(&queue, &job_id)?;
    if let Value::Object(map) = &mut view {
        map.insert("next_run_times".into(), json!(upcoming));
        map.insert("history".into(), history::view(&fires, &queue, &job_id, zone));
    }
    Ok(("ok".to_string(), view))
}

/// DELETE delete_timing_job (optional `note`). The audit record keeps the job's declared
/// fields, so it can be added again as it was.
pub(super) fn delete(ctx: &Ctx, mut query: Query) -> Outcome {
    let services = ctx.services;
    let (job_id, queue, store) = job_key(ctx, &mut query)?;
    let note = query.note()?;
    query.finish()?;
    let jobs = services.store(store)?;
    let deleted = match jobs.get(&queue, &job_id)? {
        None => false,
        Some(Err(Unreadable(reason))) => {
            let audit = ctx.audit(&queue, Some(&job_id), json!({"unreadable": reason}), note.as_deref());
            jobs.remove(&queue, &job_id, &audit)?
        }
        Some(Ok(_)) => {
            update_job(ctx, store, &queue, &job_id, note.as_deref(), |_| Ok(None))?;
            true
        }
    };
    if !deleted {
        return Err(missing_job(services, &queue, &job_id));
    }
    Ok((format!("timing job {job_id} deleted from queue {queue}"), Value::Null))
}

/// Replaces a stored job with `change(job)` (`None` deletes it) by compare-and-set, reading it
/// again when a tick or another call changed it in between, with its audit record (what
/// changed; a deleted job's declared fields). Returns the new job.
fn update_job(
    ctx: &Ctx,
    store: StoreKind,
    queue: &str,
    job_id: &str,
    note: Option<&str>,
    change: impl Fn(&Job) -> Result<Option<Job>, ApiError>,
) -> Result<Option<Job>, ApiError> {
    let jobs = ctx.services.store(store)?;
    for _ in 0..5 {
        let stored = load(ctx.services, store, queue, job_id)?;
        let after = change(&stored.job)?;
        let changes = match &after {
            Some(after) => audit::diff(&stored.job, after),
            None => json!({"deleted": audit::settings(&stored.job)}),
        };
        if jobs.replace(&stored, after.as_ref(), &ctx.audit(queue, Some(job_id), changes, note))? {
            return Ok(after);
        }
    }
    Err(ApiError::new(409, code::JOB_EXISTS, "Conflict", format!("timing job {job_id} kept changing; try again")))
}

/// DELETE delete_all_timing_jobs: every job of one queue, or of all (a token limited to some
/// queues must name one); optional `note`.
pub(super) fn delete_all(ctx: &Ctx, mut query: Query) -> Outcome {
    let queue = query.take("queue_name");
    match &queue {
        Some(q) => {
            validate_name("queue_name", q)?;
            ctx.check_queue(q)?;
        }
        None => ctx.check_every_queue("queue_name")?,
    }
    let store = query.store()?;
    let note = query.note()?;
    query.finish()?;
    let audit = ctx.audit(queue.as_deref().unwrap_or("*"), None, json!({}), note.as_deref());
    let deleted = ctx.services.store(store)?.delete_all(queue.as_deref(), &audit)?;
    let scope = queue.map_or_else(|| "all queues".to_string(), |q| format!("queue {q}"));
    Ok((format!("deleted {deleted} timing jobs from {scope}"), json!({"deleted_count": deleted, "failed_jobs": []})))
}

/// POST pause_timing_job: the job stays stored and leaves the due index.
pub(super) fn pause(ctx: &Ctx, query: Query) -> Outcome {
    pause_or_resume(ctx, query, true)
}

/// POST resume_timing_job: the next run is recomputed from now (APScheduler's rule); a job
/// whose trigger has no more fire times is removed, as APScheduler's `resume_job` does.
pub(super) fn resume(ctx: &Ctx, query: Query) -> Outcome {
    pause_or_resume(ctx, query, false)
}

/// Both take an optional `note`, kept in the audit record.
fn pause_or_resume(ctx: &Ctx, mut query: Query, pause: bool) -> Outcome {
    let services = ctx.services;
    let (job_id, queue, store) = job_key(ctx, &mut query)?;
    let note = query.note()?;
    query.finish()?;
    let job = update_job(ctx, store, &queue, &job_id, note.as_deref(), |job| {
        let mut job = job.clone();
        job.paused = pause;
        if pause {
            job.next_run = None;
            return Ok(Some(job));
        }
        // APScheduler's resume_job: the next run is recomputed from now (which also clears an
        // error, if the job can be scheduled again); a trigger with no more fire times removes
        // the job.
        let schedule = job.schedule()?;
        let now = Zdt::from_utc(services.now_us()?, schedule.zone());
        job.next_run = schedule.next_fire_time_jittered(None, &now, crate::random::unit).as_ref().map(StoredTime::of);
        job.error = None;
        Ok(job.next_run.is_some().then_some(job))
    })?;
    match job {
        Some(job) => {
            let verb = if pause { "paused" } else { "resumed" };
            Ok((format!("timing job {job_id} in queue {queue} {verb}"), view(&job).0))
        }
        None => {
            Ok((format!("timing job {job_id} in queue {queue} removed: its trigger has no more fire times (as APScheduler's resume_job does)"), Value::Null))
        }
    }
}

/// The `job_id`, `queue_name` and `job_store_kind` query parameters of the routes on one job
/// (a queue the caller may touch).
fn job_key(ctx: &Ctx, query: &mut Query) -> Result<(String, String, StoreKind), ApiError> {
    let (job_id, queue) = (query.required_name("job_id")?, query.required_name("queue_name")?);
    ctx.check_queue(&queue)?;
    Ok((job_id, queue, query.store()?))
}

/// POST modify_timing_job (body: any of args, kwargs, the task options, misfire_grace_time,
/// coalesce, broker_kind, priority): APScheduler's `modify_job`; the schedule, the counters
/// and the history stay. Task options given replace the job's of the same name.
pub(super) fn modify(ctx: &Ctx, mut query: Query) -> Outcome {
    let services = ctx.services;
    let (job_id, queue, store) = job_key(ctx, &mut query)?;
    query.finish()?;
    let mut body = Body::parse(&ctx.request.body)?;
    let options = body.job_options()?;
    body.finish()?;
    if options.is_empty() {
        return Err(ApiError::invalid("body", "give at least one of args, kwargs, a task option, misfire_grace_time, coalesce, broker_kind, priority"));
    }
    let registered = registry::lookup(services.redis, &queue)?.params;
    let job = update_job(ctx, store, &queue, &job_id, None, |job| {
        let mut job = job.clone();
        if options.args.is_some() || options.kwargs.is_some() {
            job.args = options.args.clone().unwrap_or(job.args);
            job.kwargs = options.kwargs.clone().unwrap_or(job.kwargs);
            job.message_kwargs = message_kwargs(services, &queue, registered.as_ref(), &job.args, &job.kwargs)?;
        }
        if let Some(grace) = options.misfire_grace_time {
            job.misfire_grace_time = grace;
        }
        job.coalesce = options.coalesce.unwrap_or(job.coalesce);
        if options.broker_kind.is_some() || options.priority.is_some() {
            let priority = options.priority.or(job.priority);
            let given = options.broker_kind.or(Some(job.broker_kind));
            job.broker_kind = resolve_broker_kind(&queue, given, priority, registered.as_ref().and_then(|p| p.broker_kind.as_deref()))?;
            job.priority = priority;
        }
        job.extra.extend(options.extra.clone());
        Ok(Some(job))
    })?;
    Ok((format!("timing job {job_id} in queue {queue} modified"), job.map(|job| view(&job).0).unwrap_or(Value::Null)))
}

/// POST reschedule_timing_job (body: `trigger` and its fields, as in add): APScheduler's
/// `reschedule_job`: a new trigger, the next run computed from now (a paused job runs again);
/// the counters and history stay.
pub(super) fn reschedule(ctx: &Ctx, mut query: Query) -> Outcome {
    let services = ctx.services;
    let (job_id, queue, store) = job_key(ctx, &mut query)?;
    query.finish()?;
    let mut body = Body::parse(&ctx.request.body)?;
    let kind = body.string("trigger")?.ok_or_else(|| ApiError::invalid("trigger", crate::trigger::required_kind()))?;
    let spec = body.trigger_spec(kind)?;
    body.finish()?;
    let now_us = services.now_us()?;
    let schedule = Schedule::build(&spec, services.config.timezone, now_us)?;
    let job = update_job(ctx, store, &queue, &job_id, None, |job| {
        let mut job = job.clone();
        job.trigger = spec.clone();
        job.timezone = schedule.zone().name();
        job.created_us = now_us;
        let now = Zdt::from_utc(now_us, schedule.zone());
        job.next_run = schedule.next_fire_time_jittered(None, &now, crate::random::unit).as_ref().map(StoredTime::of);
        // APScheduler's reschedule_job sets the new next run, which also resumes a paused job.
        job.paused = false;
        job.error = None;
        Ok(Some(job))
    })?;
    Ok((format!("timing job {job_id} in queue {queue} rescheduled"), job.map(|job| job.view(Some(&schedule))).unwrap_or(Value::Null)))
}

/// POST run_timing_job_now: publishes one message now, with its own `fire_id`
/// (`<queue>:<job_id>:manual:<µs>`); the schedule stays; works for paused jobs and queues.
pub(super) fn run_now(ctx: &Ctx, mut query: Query) -> Outcome {
    let services = ctx.services;
    let (job_id, queue, store) = job_key(ctx, &mut query)?;
    query.finish()?;
    let audit = |fired: &crate::tick::ManualFire| ctx.audit(&queue, Some(&job_id), json!({"fire_id": fired.fire_id, "task_id": fired.task_id}), None);
    for _ in 0..5 {
        let stored = load(services, store, &queue, &job_id)?;
        let zone = stored.job.schedule()?.zone();
        if let Some(fired) = crate::tick::run_now(services, &stored, audit).map_err(|e| ApiError::store_unavailable(format!("{e:#}")))? {
            let data = json!({"job_id": job_id, "queue_name": queue, "task_id": fired.task_id, "fire_id": fired.fire_id, "published_time": Zdt::from_utc(fired.published_us, zone).py_str()});
            return Ok((format!("timing job {job_id} in queue {queue} published now"), data));
        }
    }
    Err(ApiError::new(409, code::JOB_EXISTS, "Conflict", format!("timing job {job_id} kept changing; try again")))
}
