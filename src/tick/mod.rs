//! One tick: publish every due job's messages and move each job forward, exactly once.
//!
//! Per batch of due `redis` jobs, three round trips: a read script returns the Redis server's
//! clock and the due members (from the due index, O(log n + due)), and an HMGET their texts;
//! the core applies APScheduler's misfire rules and builds the messages; a commit script then,
//! per job, checks the job's stored text is unchanged, pushes its messages and writes its new
//! state, all in one atomic step. A job changed in between (another ticker got there first,
//! or the API paused or deleted it) is skipped, so no fire is published twice however many
//! ticks race, and a tick that dies before its commit leaves everything to the next one.
//!
//! The cron tick also publishes on the instant ([`TickOptions::on_time`]): with the last
//! batch it reads the fires due within the next moments and commits each at its instant
//! (`on_time`), so fires are not late by up to the tick period.

mod claim;
mod commit;
mod memory;
mod on_time;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::audit;
use crate::job::{history, FireRecord, Job, Outcome, StoreKind};
use crate::message::{self, FireId, Message, Timing};
use crate::services::Services;
use crate::store::audit::AuditLog;
use crate::store::kv::KvStore;
use crate::store::redis::RedisStore;
use crate::store::{record, upgrade, Stored, Unreadable};
use crate::trigger::misfire::{process_due, Dropped, Due};
use crate::trigger::Zdt;
use claim::{claim, Claimed, ClaimedJob};
use commit::{commit, Entry};

#[derive(Clone, Copy, Debug)]
pub struct TickOptions {
    /// Also publish fires scheduled up to this many seconds ahead, with funboost's `eta`
    /// (for hosts that can only tick once a minute).
    pub lookahead_secs: u32,
    /// Batches of [`BATCH`] jobs per tick at most; the next tick goes on from there.
    pub max_batches: usize,
    /// Wait inside the tick for the fires due within this many milliseconds and publish each
    /// on its instant; 0 publishes only what is due now.
    pub on_time_window_ms: u32,
}

/// Jobs per batch: three round trips each. The scripts `unpack` one value per job, which Lua
/// allows up to about 8,000 times.
pub const BATCH: usize = 500;

/// The on-time window of the cron tick. Spin's cron trigger starts a tick every second, so
/// each fire falls in the windows of one or two ticks, and one tick starting up to half a
/// second late still finds every fire waited for by the previous one.
pub const ON_TIME_WINDOW_MS: u32 = 1500;

impl Default for TickOptions {
    fn default() -> Self {
        TickOptions { lookahead_secs: 0, max_batches: 200, on_time_window_ms: 0 }
    }
}

impl TickOptions {
    /// The cron tick: publish what is due, then each fire of the next [`ON_TIME_WINDOW_MS`] on
    /// its instant.
    pub fn on_time() -> TickOptions {
        TickOptions { on_time_window_ms: ON_TIME_WINDOW_MS, ..TickOptions::default() }
    }
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct TickReport {
    /// The Redis server's clock at the first read, Unix µs.
    pub now_us: i64,
    pub jobs: u64,
    pub fired: u64,
    pub fired_ahead: u64,
    pub missed: u64,
    pub coalesced: u64,
    pub finished: u64,
    /// Jobs another ticker or an API call changed first (skipped, nothing published).
    pub conflicts: u64,
    pub batches: u64,
    pub round_trips: u64,
    /// Jobs of queues whose scheduler is paused (nothing published, kept as they were).
    pub held: u64,
    /// Fires this tick read to publish on their instant (some may go to another tick first).
    pub waited_for: u64,
    /// Jobs stopped with status `error` because they could not be read or scheduled.
    pub quarantined: u64,
    /// What this tick's steps of a layout-1 upgrade moved (none when there is nothing to move).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<upgrade::Progress>,
    pub errors: Vec<String>,
}

/// Upgrade steps (of [`upgrade::BATCH`] jobs) a tick runs while a layout-1 store is being
/// moved: 5,000 jobs a second, a few tens of milliseconds of Redis time.
const UPGRADE_STEPS_PER_TICK: usize = 10;

/// Most messages one commit carries: a batch whose jobs catch up many fires at once is split.
pub const MAX_MESSAGES_PER_COMMIT: usize = 5000;

/// The HTTP tick: publishes what is due now.
pub fn run(services: &Services) -> Result<TickReport> {
    run_with(services, TickOptions::default())
}

pub fn run_with(services: &Services, options: TickOptions) -> Result<TickReport> {
    let mut report = TickReport::default();
    let store = RedisStore::new(services.redis, &services.config.key_prefix);
    let tick_id = crate::random::u64();
    // The previous tick as the first batch saw it (later batches see this tick's).
    let mut gapless_since = None;
    let mut on_time = None;
    // Jobs fired from the due batches that are due again soon, for a tick that waits.
    let mut fired_due_again = Vec::new();
    for batch in 0..options.max_batches {
        let started_us = (batch > 0).then_some(report.now_us);
        // The skew is measured against the host's clock as the tick started (before connecting).
        let Claimed { clock, previous_tick_us, total_due, due, v1_left, waits, upcoming, corrupt } =
            claim(services.redis, &store, options, tick_id, started_us, services.wall_clock_us)?;
        let now_us = clock.now_us();
        report.round_trips += 1;
        if batch == 0 {
            report.errors.extend(corrupt.into_iter().map(|c| format!("queue {c}: nothing of it fires until the key is repaired")));
            report.now_us = now_us;
            gapless_since = previous_tick_us.filter(|previous| (0..=GAPLESS_US).contains(&(now_us - previous)));
            if v1_left > 0 {
                // Moved jobs fire from layout 2 on the next batch or tick; the ones due soonest move first.
                let progress = upgrade::step(&store, now_us, UPGRADE_STEPS_PER_TICK).context("upgrading the store from layout 1")?;
                report.upgrade = Some(progress);
            }
        }
        if waits {
            report.waited_for = upcoming.len() as u64;
            on_time = Some((clock, upcoming));
        }
        if due.is_empty() {
            break;
        }
        let more = total_due > due.len();
        let at = TickTime { now_us, gapless_since };
        let entries: Vec<Entry> = due.into_iter().map(|job| advance(services, job, at, options, &mut report)).collect();
        // The tick's last due batch observes its duration (on-time waiting is not counted).
        let last = !more || batch + 1 == options.max_batches;
        for (entries, is_last) in by_message_count(entries) {
            let statuses = commit(services.redis, &store, &entries, now_us, (last && is_last).then_some(report.now_us), None, &mut report)?;
            if options.on_time_window_ms > 0 {
                fired_due_again.extend(on_time::due_again(entries, &statuses, i64::MAX));
            }
        }
        // Every batch moves its jobs forward (applied, retried later, taken by another ticker
        // first, or caught up by a bounded step), and max_batches bounds one tick's work.
        if !more {
            break;
        }
    }
    if let Some(kv) = services.kv {
        memory::tick(services, &KvStore::new(kv), TickTime { now_us: report.now_us, gapless_since }, options, &mut report)?;
    }
    if let Some((clock, mut upcoming)) = on_time {
        // A job fired by an earlier batch may be among the last claim's upcoming fires already.
        let window_end_us = on_time::window_end_us(clock, options);
        let claimed: std::collections::HashSet<(String, String)> = upcoming.iter().map(|u| (u.queue.clone(), u.job_id.clone())).collect();
        upcoming.extend(fired_due_again.into_iter().filter(|u| u.due_us <= window_end_us && !claimed.contains(&(u.queue.clone(), u.job_id.clone()))));
        on_time::publish(services, &store, clock, upcoming, gapless_since, options, &mut report)?;
    }
    Ok(report)
}

/// `entries` in groups of at most [`MAX_MESSAGES_PER_COMMIT`] messages (a job's messages are
/// never split), each with whether it is the last.
fn by_message_count(entries: Vec<Entry>) -> Vec<(Vec<Entry>, bool)> {
    let mut groups: Vec<Vec<Entry>> = vec![Vec::new()];
    let mut messages = 0;
    for entry in entries {
        let n = entry.messages.len();
        if messages + n > MAX_MESSAGES_PER_COMMIT && groups.last().is_some_and(|g| !g.is_empty()) {
            groups.push(Vec::new());
            messages = 0;
        }
        messages += n;
        if let Some(group) = groups.last_mut() {
            group.push(entry);
        }
    }
    let count = groups.len();
    groups.into_iter().enumerate().map(|(i, g)| (g, i + 1 == count)).collect()
}

#[derive(Clone, Copy, Debug, Default)]
struct Counts {
    jobs: u64,
    fired: u64,
    fired_ahead: u64,
    missed: u64,
    coalesced: u64,
    finished: u64,
    quarantined: u64,
}

impl Counts {
    fn add_to(&self, report: &mut TickReport) {
        report.jobs += self.jobs;
        report.fired += self.fired;
        report.fired_ahead += self.fired_ahead;
        report.missed += self.missed;
        report.coalesced += self.coalesced;
        report.finished += self.finished;
        report.quarantined += self.quarantined;
    }
}

/// When a tick runs: the Redis server's clock, and the previous tick's time when ticks have
/// been running without a gap (see `process_due`).
#[derive(Clone, Copy, Debug)]
struct TickTime {
    now_us: i64,
    gapless_since: Option<i64>,
}

/// A message published by [`run_now`].
#[derive(Clone, Debug, Serialize)]
pub struct ManualFire {
    pub task_id: String,
    pub fire_id: String,
    /// Server clock, Unix µs.
    pub published_us: i64,
}

/// Publishes one message of a stored job now, outside its schedule, which stays as it is
/// (also for a paused job or a paused queue); the job's history records it as `manual`.
/// `None` when the job changed since it was read (read it again and retry). `audit` makes the
/// audit record of the fire, appended with it.
pub fn run_now(services: &Services, stored: &Stored, audit: impl FnOnce(&ManualFire) -> audit::Entry) -> Result<Option<ManualFire>> {
    let now_us = services.now_us().map_err(|e| anyhow::anyhow!(e.message))?;
    let job = &stored.job;
    let zone = job.schedule().map_err(|e| anyhow::anyhow!(e.message))?.zone();
    let scheduled = Zdt::from_utc(now_us, zone);
    let message = message::build(job, &scheduled, now_us, services.config.timezone, Timing::Manual);
    let fire = FireId::of(job, &scheduled, Timing::Manual);
    let fired = ManualFire { task_id: message.task_id.clone(), fire_id: fire.text(), published_us: now_us };
    let audit = audit(&fired);
    let record = FireRecord { scheduled_us: now_us, published_us: Some(now_us), outcome: Outcome::Manual };
    if job.store == StoreKind::Memory {
        if let Some(error) = memory::publish_once(services, std::slice::from_ref(&message))? {
            anyhow::bail!("publishing to queue {}: {error}", job.queue_name);
        }
        // Published: the history is kept unless the job changed meanwhile (no retry, no repeat).
        services.kv.map(KvStore::new).context("no key-value store")?.update(stored, Some(job), &[record]).map_err(|e| anyhow::anyhow!(e.message))?;
        AuditLog::new(services.redis, &services.config.key_prefix).append(&audit, None).map_err(|e| anyhow::anyhow!(e.message))?;
        return Ok(Some(fired));
    }
    if stored.version.is_empty() {
        // Still in layout 1 (an upgrade under way): move it, then the caller reads it again.
        upgrade::one(&RedisStore::new(services.redis, &services.config.key_prefix), &job.queue_name, &job.job_id).map_err(|e| anyhow::anyhow!(e.message))?;
        return Ok(None);
    }
    let store = RedisStore::new(services.redis, &services.config.key_prefix);
    let entry = Entry {
        queue: job.queue_name.clone(),
        job_id: job.job_id.clone(),
        version: stored.version.clone(),
        state: Some(record::encode_state(job, &record::new_version())),
        spec: String::new(),
        score: record::score(job),
        history: history::encode(&[record]),
        messages: vec![message],
        manual: true,
        quarantine: false,
        counts: Counts::default(),
        due_fires_us: Vec::new(),
    };
    let mut report = TickReport::default();
    match commit(services.redis, &store, &[entry], now_us, None, Some(&audit), &mut report)?.first() {
        Some(commit::Status::Applied) => Ok(Some(fired)),
        Some(commit::Status::Failed) => anyhow::bail!("{}", report.errors.join("; ")),
        _ => Ok(None),
    }
}

/// A due job's update from its stored texts. A job that is gone only leaves the indexes; one
/// that cannot be read or scheduled is stopped with status `error` and the reason (kept,
/// listed and counted, never dropped), so it cannot block ticks.
fn advance(services: &Services, claimed: ClaimedJob, at: TickTime, options: TickOptions, report: &mut TickReport) -> Entry {
    let ClaimedJob { queue, job_id, state, spec, .. } = claimed;
    let mut entry = Entry {
        version: record::version_of(&state).unwrap_or_default(),
        queue,
        job_id,
        state: None,
        spec,
        score: 0,
        history: String::new(),
        messages: Vec::new(),
        manual: false,
        quarantine: false,
        counts: Counts::default(),
        due_fires_us: Vec::new(),
    };
    if state.is_empty() {
        return entry;
    }
    let decoded = record::decode(&entry.queue, &entry.job_id, StoreKind::Redis, &entry.spec, &state);
    let outcome = match decoded {
        Err(Unreadable(reason)) => Err(reason),
        Ok((job, _)) => match fire(services, job.clone(), at, options) {
            Ok(done) => Ok(done),
            Err(e) => Err(format!("{e:#}")),
        },
    };
    match outcome {
        Ok((job, Fired { messages, counts, due_fires_us, records })) => {
            entry.state = job.as_ref().map(|job| record::encode_state(job, &record::new_version()));
            entry.score = job.as_ref().map_or(0, record::score);
            entry.history = history::encode(&records);
            entry.messages = messages;
            entry.counts = counts;
            entry.due_fires_us = due_fires_us;
        }
        Err(reason) => {
            report.errors.push(format!("{}/{}: stopped with status error: {reason}", entry.queue, entry.job_id));
            if entry.version.is_empty() {
                // Not even a version can be read: overwrite whatever is there.
                entry.version = "*".to_string();
            }
            entry.state = Some(record::error_state(&state, &reason));
            entry.score = crate::store::layout::Stopped::ERROR;
            entry.quarantine = true;
            entry.counts.quarantined = 1;
        }
    }
    entry
}

/// What [`fire`] publishes: the messages, what they amount to, the scheduled instants (UTC µs)
/// of those published when due (not ahead), for the lateness metric, and the history records.
#[derive(Default)]
struct Fired {
    messages: Vec<Message>,
    counts: Counts,
    due_fires_us: Vec<i64>,
    records: Vec<FireRecord>,
}

/// Applies APScheduler's rules to one job at `at`: the job's new state (`None` when its
/// trigger is finished), the messages to publish and what that amounts to. An error when the
/// job cannot be scheduled.
fn fire(services: &Services, mut job: Job, at: TickTime, options: TickOptions) -> Result<(Option<Job>, Fired)> {
    if let Some(error) = &job.error {
        anyhow::bail!("{error}");
    }
    let now_us = at.now_us;
    let schedule = job.schedule().map_err(|e| anyhow::anyhow!(e.message))?;
    let zone = schedule.zone();
    let Some(next_run) = job.next_run_time(&schedule).filter(|_| !job.paused) else {
        return Ok((Some(job), Fired::default()));
    };
    let now = Zdt::from_utc(now_us, zone);
    let until = Zdt::from_utc(now_us + i64::from(options.lookahead_secs) * 1_000_000, zone);
    let Some(Due { fire, coalesced, missed, dropped, next_run_time, catching_up }) =
        process_due(&schedule.trigger, &next_run, &now, &until, job.misfire_grace_time, job.coalesce, at.gapless_since)
    else {
        return Ok((Some(job), Fired::default()));
    };
    let timing = |ahead| if ahead { Timing::Ahead } else { Timing::Due };
    let messages: Vec<Message> = fire.iter().map(|f| message::build(&job, &f.at, now_us, services.config.timezone, timing(f.ahead))).collect();
    let fired = fire.iter().map(|f| FireRecord { scheduled_us: f.at.utc_us(), published_us: Some(now_us), outcome: Outcome::Fired });
    let not_fired = dropped.iter().map(|(at, why)| {
        let outcome = match why {
            Dropped::Coalesced => Outcome::Coalesced,
            Dropped::Missed => Outcome::Missed,
        };
        FireRecord { scheduled_us: at.utc_us(), published_us: None, outcome }
    });
    let mut records: Vec<FireRecord> = fired.chain(not_fired).collect();
    records.sort_by_key(|r| r.scheduled_us);
    let ahead = fire.iter().filter(|f| f.ahead).count() as u64;
    let due_fires_us = fire.iter().filter(|f| !f.ahead).map(|f| f.at.utc_us()).collect();
    let mut counts = Counts { jobs: 1, fired: fire.len() as u64 - ahead, fired_ahead: ahead, missed, coalesced, ..Counts::default() };
    job.fires += fire.len() as u64;
    job.missed += missed;
    job.coalesced += coalesced;
    if let Some(f) = fire.last() {
        job.last_fire_us = Some(f.at.utc_us());
    }
    // A catch-up that goes on in the next batch resumes from the exact time it stopped at.
    let next_run_time = if catching_up { next_run_time } else { schedule.jitter(next_run_time, crate::random::unit) };
    job.next_run = next_run_time.as_ref().map(crate::job::StoredTime::of);
    let fired = Fired { messages, counts, due_fires_us, records };
    if job.next_run.is_none() {
        counts.finished = 1;
        return Ok((None, Fired { counts, ..fired }));
    }
    Ok((Some(job), fired))
}

/// Ticks at most this far apart count as running without a gap (Spin's cron trigger ticks
/// every second): a fire that came due since the previous tick is then never missed.
const GAPLESS_US: i64 = 2_000_000;
