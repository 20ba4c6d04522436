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

use crate::job::{FireRecord, Job, Outcome, StoreKind, StoredTime};
use crate::message::{self, Message, Timing};
use crate::services::Services;
use crate::store::kv::KvStore;
use crate::store::redis::RedisStore;
use crate::store::{encode, Stored};
use crate::trigger::misfire::{process_due, Dropped, Due};
use crate::trigger::Zdt;
use claim::{claim, Claimed};
use commit::{commit, Entry};
use on_time::Upcoming;

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
    pub errors: Vec<String>,
}

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
        let Claimed { clock, previous_tick_us, total_due, due, waits, upcoming } =
            claim(services.redis, &store, options, tick_id, started_us, services.wall_clock_us)?;
        let now_us = clock.now_us();
        report.round_trips += if due.is_empty() && upcoming.is_empty() { 1 } else { 2 };
        if batch == 0 {
            report.now_us = now_us;
            gapless_since = previous_tick_us.filter(|previous| (0..=GAPLESS_US).contains(&(now_us - previous)));
        }
        if waits {
            report.waited_for = upcoming.len() as u64;
            let upcoming: Vec<Upcoming> = upcoming.into_iter().map(|(member, due_us, text)| Upcoming { member, due_us, text }).collect();
            on_time = Some((clock, upcoming));
        }
        if due.is_empty() {
            break;
        }
        let more = total_due > due.len();
        let at = TickTime { now_us, gapless_since };
        let entries: Vec<Entry> = due.iter().map(|(member, text)| advance(services, member, text.as_deref(), at, options, &mut report)).collect();
        // The tick's last due batch observes its duration (on-time waiting is not counted).
        let last = !more || batch + 1 == options.max_batches;
        let statuses = commit(services.redis, &store, &entries, now_us, last.then_some(report.now_us), &mut report)?;
        if options.on_time_window_ms > 0 {
            fired_due_again.extend(on_time::due_again(entries, &statuses, i64::MAX));
        }
        // Every batch moves its jobs out of the due window (applied, retried later, or taken
        // by another ticker first), so this ends; max_batches bounds one tick's work.
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
        let claimed: std::collections::HashSet<String> = upcoming.iter().map(|u| u.member.clone()).collect();
        upcoming.extend(fired_due_again.into_iter().filter(|u| u.due_us <= window_end_us && !claimed.contains(&u.member)));
        on_time::publish(services, &store, clock, upcoming, gapless_since, options, &mut report)?;
    }
    Ok(report)
}

#[derive(Clone, Copy, Debug, Default)]
struct Counts {
    jobs: u64,
    fired: u64,
    fired_ahead: u64,
    missed: u64,
    coalesced: u64,
    finished: u64,
}

impl Counts {
    fn add_to(&self, report: &mut TickReport) {
        report.jobs += self.jobs;
        report.fired += self.fired;
        report.fired_ahead += self.fired_ahead;
        report.missed += self.missed;
        report.coalesced += self.coalesced;
        report.finished += self.finished;
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
/// `None` when the job changed since it was read (read it again and retry).
pub fn run_now(services: &Services, stored: &Stored) -> Result<Option<ManualFire>> {
    let now_us = services.now_us().map_err(|e| anyhow::anyhow!(e.message))?;
    let mut job = stored.job.clone();
    let zone = job.schedule().map_err(|e| anyhow::anyhow!(e.message))?.zone();
    let message = message::build(&job, &Zdt::from_utc(now_us, zone), now_us, services.config.timezone, Timing::Manual);
    let fired =
        ManualFire { task_id: message.task_id.clone(), fire_id: message::fire_id(&job, &Zdt::from_utc(now_us, zone), Timing::Manual), published_us: now_us };
    job.record([FireRecord(now_us, Some(now_us), Some(message.task_id.clone()), Outcome::Manual)]);
    if job.store == StoreKind::Memory {
        if let Some(error) = memory::publish_once(services, std::slice::from_ref(&message))? {
            anyhow::bail!("publishing to queue {}: {error}", job.queue_name);
        }
        // Published: the history is kept unless the job changed meanwhile (no retry, no repeat).
        services.store(StoreKind::Memory).and_then(|store| store.replace(stored, Some(&job))).map_err(|e| anyhow::anyhow!(e.message))?;
        return Ok(Some(fired));
    }
    let store = RedisStore::new(services.redis, &services.config.key_prefix);
    let entry = Entry {
        member: crate::store::redis::member(&job.queue_name, &job.job_id),
        expected: stored.raw.clone(),
        new_text: encode(&job).map_err(|e| anyhow::anyhow!(e.message))?,
        due_us: job.due_us(),
        messages: vec![message],
        manual: true,
        counts: Counts::default(),
        due_fires_us: Vec::new(),
    };
    let mut report = TickReport::default();
    match commit(services.redis, &store, &[entry], now_us, None, &mut report)?.first() {
        Some(commit::Status::Applied) => Ok(Some(fired)),
        Some(commit::Status::Failed) => anyhow::bail!("{}", report.errors.join("; ")),
        _ => Ok(None),
    }
}

/// A due job's update from its stored text (`None`: the job is gone, so the commit only drops
/// it from the due index). A job that cannot be read or scheduled is kept but taken out of the
/// due index, so it cannot block ticks; the error goes into the report.
fn advance(services: &Services, member: &str, text: Option<&str>, at: TickTime, options: TickOptions, report: &mut TickReport) -> Entry {
    let entry = |expected: &str, new_text: String, due_us, (messages, counts, due_fires_us)| Entry {
        member: member.to_string(),
        expected: expected.to_string(),
        new_text,
        due_us,
        messages,
        manual: false,
        counts,
        due_fires_us,
    };
    let Some(text) = text else {
        return entry("", String::new(), None, Fired::default());
    };
    let updated =
        serde_json::from_str::<Job>(text).context("decoding the stored job").and_then(|job| fire(services, job, at, options)).and_then(|(job, fired)| {
            let new_text = job.as_ref().map(encode).transpose().map_err(|e| anyhow::anyhow!(e.message))?.unwrap_or_default();
            let due_us = job.as_ref().and_then(Job::due_us);
            Ok((new_text, due_us, fired))
        });
    match updated {
        Ok((new_text, due_us, fired)) => entry(text, new_text, due_us, fired),
        Err(e) => {
            report.errors.push(format!("{member}: {e:#}"));
            entry(text, text.to_string(), None, Fired::default())
        }
    }
}

/// What [`fire`] publishes: the messages, what they amount to, and the scheduled instants
/// (UTC µs) of those published when due (not ahead), for the lateness metric.
type Fired = (Vec<Message>, Counts, Vec<i64>);

/// Applies APScheduler's rules to one job at `at`: the job's new state (`None` when its
/// trigger is finished), the messages to publish and what that amounts to.
fn fire(services: &Services, mut job: Job, at: TickTime, options: TickOptions) -> Result<(Option<Job>, Fired)> {
    let now_us = at.now_us;
    let schedule = job.schedule().map_err(|e| anyhow::anyhow!(e.message))?;
    let zone = schedule.zone();
    let Some(next_run) = job.next_run_time(&schedule).filter(|_| !job.paused) else {
        return Ok((Some(job), Fired::default()));
    };
    let now = Zdt::from_utc(now_us, zone);
    let until = Zdt::from_utc(now_us + i64::from(options.lookahead_secs) * 1_000_000, zone);
    let Some(Due { fire, coalesced, missed, dropped, next_run_time }) =
        process_due(&schedule.trigger, &next_run, &now, &until, job.misfire_grace_time, job.coalesce, at.gapless_since)
    else {
        return Ok((Some(job), Fired::default()));
    };
    let timing = |ahead| if ahead { Timing::Ahead } else { Timing::Due };
    let messages: Vec<Message> = fire.iter().map(|f| message::build(&job, &f.at, now_us, services.config.timezone, timing(f.ahead))).collect();
    let fired = fire.iter().zip(&messages).map(|(f, m)| FireRecord(f.at.utc_us(), Some(now_us), Some(m.task_id.clone()), Outcome::Fired));
    let not_fired = dropped.iter().map(|(at, why)| {
        let outcome = match why {
            Dropped::Coalesced => Outcome::Coalesced,
            Dropped::Missed => Outcome::Missed,
        };
        FireRecord(at.utc_us(), None, None, outcome)
    });
    job.record(fired.chain(not_fired));
    let ahead = fire.iter().filter(|f| f.ahead).count() as u64;
    let due_fires_us = fire.iter().filter(|f| !f.ahead).map(|f| f.at.utc_us()).collect();
    let mut counts = Counts { jobs: 1, fired: fire.len() as u64 - ahead, fired_ahead: ahead, missed, coalesced, finished: 0 };
    job.fires += fire.len() as u64;
    job.missed += missed;
    job.coalesced += coalesced;
    if let Some(f) = fire.last() {
        job.last_fire = Some(StoredTime::of(&f.at));
    }
    job.next_run = schedule.jitter(next_run_time, crate::random::unit).as_ref().map(StoredTime::of);
    if job.next_run.is_none() {
        counts.finished = 1;
        return Ok((None, (messages, counts, due_fires_us)));
    }
    Ok((Some(job), (messages, counts, due_fires_us)))
}

/// Ticks at most this far apart count as running without a gap (Spin's cron trigger ticks
/// every second): a fire that came due since the previous tick is then never missed.
const GAPLESS_US: i64 = 2_000_000;
