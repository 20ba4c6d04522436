//! One tick: publish every due job's messages and move each job forward, exactly once.
//!
//! Per batch of due `redis` jobs, three round trips: a read script returns the Redis server's
//! clock and the due members (from the due index, O(log n + due)), and an HMGET their texts;
//! the core applies APScheduler's misfire rules and builds the messages; a commit script then,
//! per job, checks the job's stored text is unchanged, pushes its messages and writes its new
//! state, all in one atomic step. A job changed in between (another ticker got there first,
//! or the API paused or deleted it) is skipped, so no fire is published twice however many
//! ticks race, and a tick that dies before its commit leaves everything to the next one.

use anyhow::{Context, Result};
use serde::Serialize;

use crate::services::Services;
use crate::host::{Redis, RedisArg, RedisValue};
use crate::job::{Job, StoredTime};
use crate::message::{self, Message};
use crate::store::kv::KvStore;
use crate::store::redis::{bytes, eval, int, score, text, time_us, RedisStore};
use crate::store::{encode, JobStore};
use crate::trigger::misfire::{process_due, Due};
use crate::trigger::Zdt;

#[derive(Clone, Copy, Debug)]
pub struct TickOptions {
    /// Also publish fires scheduled up to this many seconds ahead, with funboost's `eta`
    /// (for hosts that can only tick once a minute).
    pub lookahead_secs: u32,
    /// Batches of [`BATCH`] jobs per tick at most; the next tick goes on from there.
    pub max_batches: usize,
}

/// Jobs per batch: three round trips each. The scripts `unpack` one value per job, which Lua
/// allows up to about 8,000 times.
pub const BATCH: usize = 500;

impl Default for TickOptions {
    fn default() -> Self {
        TickOptions { lookahead_secs: 0, max_batches: 200 }
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
    pub errors: Vec<String>,
}

pub fn run(services: &Services) -> Result<TickReport> {
    run_with(services, TickOptions::default())
}

pub fn run_with(services: &Services, options: TickOptions) -> Result<TickReport> {
    let mut report = TickReport::default();
    let store = RedisStore::new(services.redis, &services.config.key_prefix);
    // The previous tick as the first batch saw it (later batches see this tick's).
    let mut at = TickTime { now_us: 0, gapless_since: None };
    for batch in 0..options.max_batches {
        let Claimed { now_us, previous_tick_us, total_due, due } = claim(services.redis, &store, options)?;
        report.round_trips += if due.is_empty() { 1 } else { 2 };
        if batch == 0 {
            report.now_us = now_us;
            at.gapless_since = previous_tick_us.filter(|previous| (0..=GAPLESS_US).contains(&(now_us - previous)));
        }
        at.now_us = now_us;
        let more = total_due > due.len();
        if due.is_empty() {
            break;
        }
        let mut entries = Vec::with_capacity(due.len());
        for (member, raw) in due {
            let Some(raw) = raw else {
                // Deleted since it was read as due: the commit drops it from the due index.
                entries.push(Entry { member, expected: String::new(), job: None, keep_raw: None, messages: Vec::new(), counts: Counts::default() });
                continue;
            };
            match advance(services, &member, &raw, at, options) {
                Ok(entry) => entries.push(entry),
                Err(e) => {
                    report.errors.push(format!("{member}: {e:#}"));
                    // Keep the job but take it out of the due index, so it cannot block ticks.
                    entries.push(Entry { member, expected: raw.clone(), job: None, keep_raw: Some(raw), messages: Vec::new(), counts: Counts::default() });
                }
            }
        }
        let outcome = commit(services.redis, &store, &entries, now_us + PUBLISH_RETRY_US)?;
        report.round_trips += 1;
        report.batches += 1;
        for (entry, status) in entries.iter().zip(&outcome.statuses) {
            match status {
                Status::Applied => entry.counts.add_to(&mut report),
                Status::Conflict => report.conflicts += 1,
                Status::Failed => {}
            }
        }
        report.errors.extend(outcome.failures.into_iter().map(|f| format!("publishing {}", f.replace('\u{1f}', "/"))));
        // Every batch moves its jobs out of the due window (applied, retried later, or taken
        // by another ticker first), so this ends; max_batches bounds one tick's work.
        if !more {
            break;
        }
    }
    if let Some(kv) = services.kv {
        tick_memory_store(services, &KvStore::new(kv), TickTime { now_us: report.now_us, ..at }, options, &mut report)?;
    }
    Ok(report)
}

/// A job whose messages could not be pushed (say, its queue key holds another type) is
/// retried a minute later, so it cannot block the jobs due after it.
const PUBLISH_RETRY_US: i64 = 60_000_000;

/// One job's update: publish `messages` and store `job` (or delete it when `None`), if the
/// stored text is still `expected`.
struct Entry {
    member: String,
    expected: String,
    job: Option<Job>,
    /// Store this text unchanged but unscheduled (a job that cannot be read or scheduled).
    keep_raw: Option<String>,
    messages: Vec<Message>,
    /// What the update does, counted into the report once it is applied.
    counts: Counts,
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

/// Computes a due job's fires and new state from its stored text.
fn advance(services: &Services, member: &str, raw: &str, at: TickTime, options: TickOptions) -> Result<Entry> {
    let job: Job = serde_json::from_str(raw).context("decoding the stored job")?;
    let (job, messages, counts) = fire(services, job, at, options)?;
    Ok(Entry { member: member.to_string(), expected: raw.to_string(), job, keep_raw: None, messages, counts })
}

/// Applies APScheduler's rules to one job at `at`: the job's new state (`None` when its
/// trigger is finished), the messages to publish and what that amounts to.
fn fire(services: &Services, mut job: Job, at: TickTime, options: TickOptions) -> Result<(Option<Job>, Vec<Message>, Counts)> {
    let now_us = at.now_us;
    let schedule = job.schedule().map_err(|e| anyhow::anyhow!(e.message))?;
    let zone = schedule.zone();
    let Some(next_run) = job.next_run_time(&schedule).filter(|_| !job.paused) else {
        return Ok((Some(job), Vec::new(), Counts::default()));
    };
    let now = Zdt::from_utc(now_us, zone);
    let until = Zdt::from_utc(now_us + i64::from(options.lookahead_secs) * 1_000_000, zone);
    let Some(Due { fire, coalesced, missed, next_run_time }) =
        process_due(&schedule.trigger, &next_run, &now, &until, job.misfire_grace_time, job.coalesce, at.gapless_since)
    else {
        return Ok((Some(job), Vec::new(), Counts::default()));
    };
    let messages: Vec<Message> = fire.iter().map(|f| message::build(&job, &f.at, now_us, services.config.timezone, f.ahead)).collect();
    let ahead = fire.iter().filter(|f| f.ahead).count() as u64;
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
        return Ok((None, messages, counts));
    }
    Ok((Some(job), messages, counts))
}

/// KEYS: due, last tick. ARGV: look-ahead seconds, batch size, a random number. Returns the
/// server clock, the previous tick's time (µs, '' if none), how many jobs are due and a batch
/// of them; records this tick's time. With more due than a batch, the batch is a random
/// window of them, so that tickers running at once (replicas) mostly take different jobs
/// instead of racing for the same ones. The texts are read with a plain HMGET after it:
/// passed through Lua, a batch of long strings costs about a millisecond more.
const CLAIM: &str = r#"
local t = redis.call('TIME')
local now = string.format('%d%06d', tonumber(t[1]), tonumber(t[2]))
local previous = redis.call('GET', KEYS[2]) or ''
redis.call('SET', KEYS[2], now)
local until_score = string.format('%d%06d', tonumber(t[1]) + tonumber(ARGV[1]), tonumber(t[2]))
local total = redis.call('ZCOUNT', KEYS[1], '-inf', until_score)
local batch = tonumber(ARGV[2])
local first = 0
if total > batch then first = (tonumber(ARGV[3]) % math.ceil(total / batch)) * batch end
-- The due jobs are the lowest ranks, so a window of them is a range of ranks (and none is
-- no range: ZRANGE 0 -1 would be every job).
local due = {}
if total > 0 then due = redis.call('ZRANGE', KEYS[1], first, math.min(first + batch, total) - 1) end
return {t[1], t[2], previous, total, unpack(due)}
"#;

/// Ticks at most this far apart count as running without a gap (Spin's cron trigger ticks
/// every second): a fire that came due since the previous tick is then never missed.
const GAPLESS_US: i64 = 2_000_000;

/// KEYS: jobs, due. ARGV: entry count, the retry score for jobs whose push fails, the prefix
/// of the per-queue sets, the queues set, then per entry: member (`queue\x1fjob_id`),
/// expected text ('' = the job is gone), new text ('' = delete), score ('' = not due), push
/// code, key, message count, the payloads. Returns one status per entry (1 applied, 0
/// changed by someone else, 2 push failed), then `member: error` per failed push.
///
/// A call from Lua costs several times what a message does, so the batch is read with one
/// HMGET, each queue gets one push (its jobs' messages in job order), and the new texts and
/// scores are written with one HSET and one ZADD. A push that fails fails every job of that
/// queue in the batch, as a push per job would have.
const COMMIT: &str = r#"
-- funboost-edge tick commit: each job is applied only if its stored text is unchanged
-- Lua's unpack fails beyond about 8,000 values, so lists go in chunks.
local function chunked(command, key, list)
  for s = 1, #list, 4000 do
    local r = redis.pcall(command, key, unpack(list, s, math.min(s + 3999, #list)))
    if type(r) == 'table' and r.err then return r end
  end
  return true
end
local n, retry, queue_prefix, queues = tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4]
local members, at = {}, {}
local i = 5
for e = 1, n do
  members[e], at[e] = ARGV[i], i
  i = i + 7 + tonumber(ARGV[i + 6])
end
local stored = n > 0 and redis.call('HMGET', KEYS[1], unpack(members)) or {}
local groups, order, group_of = {}, {}, {}
for e = 1, n do
  local i = at[e]
  local count = tonumber(ARGV[i + 6])
  if (stored[e] or '') == ARGV[i + 1] and count > 0 then
    local code, key = ARGV[i + 4], ARGV[i + 5]
    local g = groups[code .. key]
    if not g then
      g = {code = code, key = key, payloads = {}}
      groups[code .. key] = g
      order[#order + 1] = g
    end
    for k = 1, count do g.payloads[#g.payloads + 1] = ARGV[i + 6 + k] end
    group_of[e] = g
  end
end
for _, g in ipairs(order) do
  if g.code == 'X' then
    for _, payload in ipairs(g.payloads) do
      local r = redis.pcall('XADD', g.key, '*', '', payload)
      if type(r) == 'table' and r.err then g.err = r.err break end
    end
  else
    local r = chunked(g.code == 'R' and 'RPUSH' or 'LPUSH', g.key, g.payloads)
    if type(r) == 'table' and r.err then g.err = r.err end
  end
end
local statuses, failures, texts, scores, unscheduled = {}, {}, {}, {}, {}
for e = 1, n do
  local i = at[e]
  local member, new, score = ARGV[i], ARGV[i + 2], ARGV[i + 3]
  local g = group_of[e]
  if (stored[e] or '') ~= ARGV[i + 1] then
    statuses[e] = 0
  elseif g and g.err then
    statuses[e] = 2
    failures[#failures + 1] = member .. ': ' .. g.err
    redis.call('ZADD', KEYS[2], retry, member)
  else
    statuses[e] = 1 -- applied
    if new == '' then
      local q, id = string.match(member, '^(.-)\31(.*)$')
      redis.call('HDEL', KEYS[1], member)
      redis.call('ZREM', KEYS[2], member)
      redis.call('SREM', queue_prefix .. q, id)
      if redis.call('SCARD', queue_prefix .. q) == 0 then redis.call('SREM', queues, q) end
    else
      texts[#texts + 1] = member
      texts[#texts + 1] = new
      if score == '' then
        unscheduled[#unscheduled + 1] = member
      else
        scores[#scores + 1] = score
        scores[#scores + 1] = member
      end
    end
  end
end
chunked('HSET', KEYS[1], texts)
chunked('ZADD', KEYS[2], scores)
chunked('ZREM', KEYS[2], unscheduled)
for _, f in ipairs(failures) do statuses[#statuses + 1] = f end
return statuses
"#;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    Applied,
    Conflict,
    Failed,
}

struct CommitOutcome {
    statuses: Vec<Status>,
    failures: Vec<String>,
}

/// A batch read by [`claim`].
struct Claimed {
    now_us: i64,
    previous_tick_us: Option<i64>,
    /// Jobs due in all (the batch is some of them).
    total_due: usize,
    /// `(member, job text)`, no text when the job is gone.
    due: Vec<(String, Option<String>)>,
}

/// The server clock, the previous tick and up to a batch of due jobs. Two round trips when
/// anything is due, one otherwise.
fn claim(redis: &dyn Redis, store: &RedisStore, options: TickOptions) -> Result<Claimed> {
    let reply = eval(
        redis,
        CLAIM,
        &[store.due_key(), store.last_tick_key()],
        vec![
            RedisArg::Int(i64::from(options.lookahead_secs)),
            RedisArg::Int(BATCH as i64),
            RedisArg::Int((crate::random::u64() >> 33) as i64),
        ],
    )
    .context("reading due jobs")?;
    let now_us = time_us(&reply).context("the claim's reply starts without TIME")?;
    let previous_tick_us = reply.get(2).and_then(text).and_then(|t| t.parse().ok());
    let total_due = reply.get(3).and_then(int).context("due count")?.max(0) as usize;
    let members: Vec<String> = reply.iter().skip(4).filter_map(text).collect();
    if members.is_empty() {
        return Ok(Claimed { now_us, previous_tick_us, total_due, due: Vec::new() });
    }
    let mut args = vec![bytes(store.jobs_key())];
    args.extend(members.iter().map(|m| bytes(m.as_str())));
    let texts = redis.execute("HMGET", &args).context("reading due jobs")?;
    let texts = texts.into_iter().map(|v| match v {
        RedisValue::Bytes(b) => String::from_utf8(b).ok(),
        _ => None,
    });
    Ok(Claimed { now_us, previous_tick_us, total_due, due: members.into_iter().zip(texts).collect() })
}

fn commit(redis: &dyn Redis, store: &RedisStore, entries: &[Entry], retry_score_us: i64) -> Result<CommitOutcome> {
    let mut args = vec![
        RedisArg::Int(entries.len() as i64),
        bytes(retry_score_us.to_string()),
        bytes(store.queue_key("")), // the per-queue sets' prefix
        bytes(store.queues_key()),
    ];
    for entry in entries {
        let (new_text, score) = match (&entry.job, &entry.keep_raw) {
            (Some(job), _) => (encode(job).map_err(|e| anyhow::anyhow!(e.message))?, score(job)),
            (None, Some(raw)) => (raw.clone(), String::new()),
            (None, None) => (String::new(), String::new()),
        };
        // A job's messages all go to one key with one command: message::build derives both
        // from the job alone.
        let (code, key) = entry.messages.first().map_or(("R", ""), |m| (m.push.code(), m.key.as_str()));
        args.extend([
            bytes(entry.member.as_str()),
            bytes(entry.expected.as_str()),
            bytes(new_text),
            bytes(score),
            bytes(code),
            bytes(key),
            RedisArg::Int(entry.messages.len() as i64),
        ]);
        args.extend(entry.messages.iter().map(|m| bytes(m.payload.as_str())));
    }
    let reply = eval(redis, COMMIT, &[store.jobs_key(), store.due_key()], args).context("committing fires")?;
    let statuses = reply
        .iter()
        .take(entries.len())
        .map(|s| match int(s) {
            Some(1) => Status::Applied,
            Some(2) => Status::Failed,
            _ => Status::Conflict,
        })
        .collect();
    let failures = reply.iter().skip(entries.len()).filter_map(text).collect();
    Ok(CommitOutcome { statuses, failures })
}

/// Publishes a message unless its fire was already published (a marker per fire id, kept a
/// week): the memory store cannot publish and advance in one atomic step, so a retry after a
/// crash between the two must not publish again.
const PUBLISH_ONCE: &str = r#"
for k = 0, tonumber(ARGV[1]) - 1 do
  local marker, code, key, payload = ARGV[2 + 4 * k], ARGV[3 + 4 * k], ARGV[4 + 4 * k], ARGV[5 + 4 * k]
  if redis.call('EXISTS', marker) == 0 then
    local r
    if code == 'R' then r = redis.pcall('RPUSH', key, payload)
    elseif code == 'L' then r = redis.pcall('LPUSH', key, payload)
    else r = redis.pcall('XADD', key, '*', '', payload) end
    if type(r) == 'table' and r.err then return r.err end
    redis.call('SET', marker, '1', 'EX', 604800)
  end
end
return ''
"#;

fn tick_memory_store(services: &Services, store: &KvStore, at: TickTime, options: TickOptions, report: &mut TickReport) -> Result<()> {
    let until_us = at.now_us + i64::from(options.lookahead_secs) * 1_000_000;
    let jobs = match store.list(None) {
        Ok(jobs) => jobs,
        Err(e) => {
            report.errors.push(format!("memory store: {}", e.message));
            return Ok(());
        }
    };
    for stored in jobs {
        let job = &stored.job;
        if job.paused || job.next_run.is_none_or(|t| t.utc_us > until_us) {
            continue;
        }
        let (after, messages, counts) = match fire(services, job.clone(), at, options) {
            Ok(result) => result,
            Err(e) => {
                report.errors.push(format!("{}/{}: {e:#}", job.queue_name, job.job_id));
                continue;
            }
        };
        let mut args = vec![bytes(PUBLISH_ONCE), RedisArg::Int(0), RedisArg::Int(messages.len() as i64)];
        for m in &messages {
            let marker = format!("{{{}}}:fired:{}", services.config.key_prefix, m.dedupe_key);
            args.extend([bytes(marker), bytes(m.push.code()), bytes(m.key.as_str()), bytes(m.payload.as_str())]);
        }
        if !messages.is_empty() {
            let reply = services.redis.execute("EVAL", &args).context("publishing memory-store fires")?;
            report.round_trips += 1;
            if let Some(error) = reply.first().and_then(text).filter(|e| !e.is_empty()) {
                // Not advanced: the next tick tries again (fires already out stay marked).
                report.errors.push(format!("publishing {}/{}: {error}", job.queue_name, job.job_id));
                continue;
            }
        }
        if store.replace(&stored, after.as_ref()).map_err(|e| anyhow::anyhow!(e.message))? {
            counts.add_to(report);
        } else {
            report.conflicts += 1;
        }
    }
    Ok(())
}
