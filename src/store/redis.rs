//! The `redis` job store. All keys share one hash tag (`{prefix}`), so every script touches a
//! single slot:
//!
//! | key | type | content |
//! |---|---|---|
//! | `{prefix}:jobs` | hash | `<queue>\x1f<job_id>` → job JSON |
//! | `{prefix}:due` | sorted set | `<queue>\x1f<job_id>`, score = next run (UTC µs) |
//! | `{prefix}:queue:<queue>` | set | the queue's job ids |
//! | `{prefix}:queues` | set | queue names that have jobs |
//! | `{prefix}:last_tick` | string | when the last tick ran (server clock, µs) |
//! | `{prefix}:paused_queues` | set | queues whose scheduler is paused |
//! | `{prefix}:held:<queue>` | sorted set | a paused queue's would-be-due jobs, score = next run |
//! | `{prefix}:waiting_ticks` | sorted set | ticks waiting to publish fires on their instant, score = when they stop (µs) |
//! | `{prefix}:metrics` | hash | Prometheus counters and histograms, written by the tick's scripts (fields: `crate::metrics`) |
//!
//! Paused and finished jobs, and the jobs of a paused queue, are absent from `due`, so a tick
//! reads only due jobs.

use anyhow::Context;

use super::{decode, encode, AddOutcome, JobStore, Stored};
use crate::error::{code, ApiError};
use crate::host::{Redis, RedisArg, RedisValue};
use crate::job::Job;

pub struct RedisStore<'a> {
    redis: &'a dyn Redis,
    prefix: String,
}

/// Queue and id joined with the ASCII unit separator (names may not contain control chars).
pub fn member(queue: &str, job_id: &str) -> String {
    format!("{queue}\u{1f}{job_id}")
}

/// Lua: puts member `m` of queue `q` in the due index at score `s` ('' takes it out), or,
/// while the queue's scheduler is paused (`q` in the set `paused`), in the queue's held set
/// `<held_prefix><q>` instead, where no tick looks.
#[macro_export]
#[doc(hidden)]
macro_rules! schedule_lua {
    () => {
        r#"
local function schedule(due, paused, held_prefix, q, m, s)
  local held = redis.call('SISMEMBER', paused, q) == 1
  if s == '' then
    redis.call('ZREM', due, m)
    if held then redis.call('ZREM', held_prefix .. q, m) end
  elseif held then
    redis.call('ZADD', held_prefix .. q, s, m)
    redis.call('ZREM', due, m)
  else
    redis.call('ZADD', due, s, m)
  end
end
"#
    };
}

/// KEYS: jobs, due, queue set, queues, paused queues. ARGV: member, id, text, score, replace,
/// max jobs, queue, held prefix.
const ADD: &str = concat!(
    schedule_lua!(),
    r#"
local exists = redis.call('HEXISTS', KEYS[1], ARGV[1])
if exists == 1 and ARGV[5] ~= '1' then return {0, 1} end
if exists == 0 and redis.call('SCARD', KEYS[3]) >= tonumber(ARGV[6]) then return {0, 2} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
schedule(KEYS[2], KEYS[5], ARGV[8], ARGV[7], ARGV[1], ARGV[4])
redis.call('SADD', KEYS[3], ARGV[2])
redis.call('SADD', KEYS[4], ARGV[7])
return {1, exists}
"#
);

/// KEYS: jobs, due, queue set, queues, paused queues. ARGV: member, expected text, new text
/// ('' = delete), score, id, queue, held prefix.
const REPLACE: &str = concat!(
    schedule_lua!(),
    r#"
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
if ARGV[3] == '' then
  redis.call('HDEL', KEYS[1], ARGV[1])
  schedule(KEYS[2], KEYS[5], ARGV[7], ARGV[6], ARGV[1], '')
  redis.call('SREM', KEYS[3], ARGV[5])
  if redis.call('SCARD', KEYS[3]) == 0 then redis.call('SREM', KEYS[4], ARGV[6]) end
  return 1
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
schedule(KEYS[2], KEYS[5], ARGV[7], ARGV[6], ARGV[1], ARGV[4])
return 1
"#
);

/// KEYS: jobs, due, queues; ARGV: prefix of queue sets, queue name or '' for all, held prefix.
const DELETE_ALL: &str = r#"
local queues = {}
if ARGV[2] == '' then queues = redis.call('SMEMBERS', KEYS[3]) else queues = {ARGV[2]} end
local deleted = 0
for _, q in ipairs(queues) do
  local set = ARGV[1] .. q
  for _, id in ipairs(redis.call('SMEMBERS', set)) do
    local m = q .. '\31' .. id
    deleted = deleted + redis.call('HDEL', KEYS[1], m)
    redis.call('ZREM', KEYS[2], m)
  end
  redis.call('DEL', set, ARGV[3] .. q)
  redis.call('SREM', KEYS[3], q)
end
return deleted
"#;

/// Pauses a queue's scheduler. KEYS: due, paused queues, the queue's held set, its job set.
/// ARGV: queue. Moves the queue's due jobs into its held set.
const PAUSE_QUEUE: &str = r#"
redis.call('SADD', KEYS[2], ARGV[1])
for _, id in ipairs(redis.call('SMEMBERS', KEYS[4])) do
  local m = ARGV[1] .. '\31' .. id
  local s = redis.call('ZSCORE', KEYS[1], m)
  if s then
    redis.call('ZADD', KEYS[3], s, m)
    redis.call('ZREM', KEYS[1], m)
  end
end
return 1
"#;

/// Resumes a queue's scheduler (KEYS as [`PAUSE_QUEUE`]): its held jobs go back into the due
/// index with their next runs, and the next tick applies the misfire rules to what came due.
const RESUME_QUEUE: &str = r#"
redis.call('SREM', KEYS[2], ARGV[1])
local held = redis.call('ZRANGE', KEYS[3], 0, -1, 'WITHSCORES')
for i = 1, #held, 2 do redis.call('ZADD', KEYS[1], held[i + 1], held[i]) end
redis.call('DEL', KEYS[3])
return 1
"#;

const SCHEDULER_STATE: &str = r#"
local t = redis.call('TIME')
return {t[1], t[2], redis.call('SISMEMBER', KEYS[1], ARGV[1]), redis.call('GET', KEYS[2]) or ''}
"#;

/// A queue's scheduler as [`RedisStore::scheduler_state`] reads it.
pub struct SchedulerState {
    pub paused: bool,
    pub last_tick_us: Option<i64>,
    pub now_us: i64,
}

/// KEYS: jobs, queue set (or queues set when listing all); ARGV: queue or ''.
const LIST: &str = r#"
if ARGV[1] == '' then return redis.call('HVALS', KEYS[1]) end
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local v = redis.call('HGET', KEYS[1], ARGV[1] .. '\31' .. id)
  if v then out[#out + 1] = v end
end
return out
"#;

pub fn bytes(s: impl Into<Vec<u8>>) -> RedisArg {
    RedisArg::Bytes(s.into())
}

pub fn text(value: &RedisValue) -> Option<String> {
    match value {
        RedisValue::Bytes(b) => String::from_utf8(b.clone()).ok(),
        RedisValue::Status(s) => Some(s.clone()),
        RedisValue::Int(i) => Some(i.to_string()),
        RedisValue::Nil => None,
    }
}

pub fn int(value: &RedisValue) -> Option<i64> {
    match value {
        RedisValue::Int(i) => Some(*i),
        RedisValue::Bytes(b) => std::str::from_utf8(b).ok()?.parse().ok(),
        _ => None,
    }
}

/// Runs a command; any failure means the store is unavailable (503).
pub fn run(redis: &dyn Redis, command: &str, args: &[RedisArg]) -> Result<Vec<RedisValue>, ApiError> {
    redis.execute(command, args).with_context(|| format!("Redis {command}")).map_err(|e| ApiError::store_unavailable(format!("{e:#}")))
}

/// The Redis server's clock, Unix µs: one clock for every replica.
pub fn server_time_us(redis: &dyn Redis) -> Result<i64, ApiError> {
    let reply = run(redis, "TIME", &[])?;
    time_us(&reply).ok_or_else(|| ApiError::store_unavailable(format!("unexpected TIME reply {reply:?}")))
}

/// Unix µs from a reply that starts with `TIME`'s seconds and microseconds (the scripts that
/// need the server clock return it first).
pub fn time_us(reply: &[RedisValue]) -> Option<i64> {
    Some(int(reply.first()?)? * 1_000_000 + int(reply.get(1)?)?)
}

impl<'a> RedisStore<'a> {
    pub fn new(redis: &'a dyn Redis, prefix: &str) -> RedisStore<'a> {
        RedisStore { redis, prefix: prefix.to_string() }
    }

    /// Pauses (`true`) or resumes a queue's scheduler: while paused, none of its jobs is due.
    pub fn set_queue_paused(&self, queue: &str, paused: bool) -> Result<(), ApiError> {
        let keys = [self.due_key(), self.paused_queues_key(), self.held_key(queue), self.queue_key(queue)];
        self.eval(if paused { PAUSE_QUEUE } else { RESUME_QUEUE }, &keys, vec![bytes(queue)])?;
        Ok(())
    }

    /// Whether a queue's scheduler is paused and when the last tick ran, with the server's
    /// clock: one round trip.
    pub fn scheduler_state(&self, queue: &str) -> Result<SchedulerState, ApiError> {
        let reply = self.eval(SCHEDULER_STATE, &[self.paused_queues_key(), self.last_tick_key()], vec![bytes(queue)])?;
        let now_us = time_us(&reply).ok_or_else(|| ApiError::store_unavailable(format!("unexpected reply {reply:?}")))?;
        Ok(SchedulerState { paused: reply.get(2).and_then(int) == Some(1), last_tick_us: reply.get(3).and_then(int), now_us })
    }

    pub fn jobs_key(&self) -> String {
        format!("{{{}}}:jobs", self.prefix)
    }

    pub fn due_key(&self) -> String {
        format!("{{{}}}:due", self.prefix)
    }

    /// When the last tick ran (Redis server clock, µs).
    pub fn last_tick_key(&self) -> String {
        format!("{{{}}}:last_tick", self.prefix)
    }

    /// The ticks waiting inside their invocation to publish fires on their instant (member: a
    /// random tick id, score: when it stops waiting, Unix µs).
    pub fn waiting_ticks_key(&self) -> String {
        format!("{{{}}}:waiting_ticks", self.prefix)
    }

    /// The metrics the tick's scripts count (see `crate::metrics`).
    pub fn metrics_key(&self) -> String {
        format!("{{{}}}:metrics", self.prefix)
    }

    /// Queues whose scheduler is paused (`pause_scheduler`).
    pub fn paused_queues_key(&self) -> String {
        format!("{{{}}}:paused_queues", self.prefix)
    }

    /// A paused queue's jobs that would be due, with their next runs (`held_key("")` is the
    /// prefix the scripts append queue names to).
    pub fn held_key(&self, queue: &str) -> String {
        format!("{{{}}}:held:{queue}", self.prefix)
    }

    pub fn queue_key(&self, queue: &str) -> String {
        format!("{{{}}}:queue:{queue}", self.prefix)
    }

    pub fn queues_key(&self) -> String {
        format!("{{{}}}:queues", self.prefix)
    }

    fn eval(&self, script: &str, keys: &[String], args: Vec<RedisArg>) -> Result<Vec<RedisValue>, ApiError> {
        eval(self.redis, script, keys, args)
    }
}

/// `EVAL script keys... args...`.
pub fn eval(redis: &dyn Redis, script: &str, keys: &[String], args: Vec<RedisArg>) -> Result<Vec<RedisValue>, ApiError> {
    let mut all = vec![bytes(script), RedisArg::Int(keys.len() as i64)];
    all.extend(keys.iter().map(|k| bytes(k.as_str())));
    all.extend(args);
    run(redis, "EVAL", &all)
}

/// The due-index score: the next run's UTC µs, or '' for none (paused or finished).
pub fn score(job: &Job) -> String {
    job.due_us().map(|us| us.to_string()).unwrap_or_default()
}

impl JobStore for RedisStore<'_> {
    fn add(&self, job: &Job, replace: bool, max_jobs: usize) -> Result<AddOutcome, ApiError> {
        let member = member(&job.queue_name, &job.job_id);
        let keys = [self.jobs_key(), self.due_key(), self.queue_key(&job.queue_name), self.queues_key(), self.paused_queues_key()];
        let args = vec![
            bytes(member),
            bytes(job.job_id.as_str()),
            bytes(encode(job)?),
            bytes(score(job)),
            bytes(if replace { "1" } else { "0" }),
            RedisArg::Int(max_jobs as i64),
            bytes(job.queue_name.as_str()),
            bytes(self.held_key("")),
        ];
        let reply = self.eval(ADD, &keys, args)?;
        match (reply.first().and_then(int), reply.get(1).and_then(int)) {
            (Some(1), Some(0)) => Ok(AddOutcome::Added),
            (Some(1), Some(_)) => Ok(AddOutcome::Replaced),
            (Some(0), Some(1)) => Err(ApiError::new(
                409,
                code::JOB_EXISTS,
                "ConflictingIdError",
                format!("Job identifier ({}) conflicts with an existing job in queue {}; send replace_existing=true to replace it", job.job_id, job.queue_name),
            )),
            (Some(0), Some(2)) => Err(ApiError::new(
                409,
                code::TOO_MANY_JOBS,
                "TooManyJobs",
                format!("queue {} already holds the maximum of {max_jobs} jobs (variable max_jobs_per_queue)", job.queue_name),
            )),
            _ => Err(ApiError::store_unavailable(format!("unexpected reply {reply:?}"))),
        }
    }

    fn get(&self, queue: &str, job_id: &str) -> Result<Option<Stored>, ApiError> {
        let reply = run(self.redis, "HGET", &[bytes(self.jobs_key()), bytes(member(queue, job_id))])?;
        reply.first().and_then(text).map(decode).transpose()
    }

    fn list(&self, queue: Option<&str>) -> Result<Vec<Stored>, ApiError> {
        let keys = [self.jobs_key(), queue.map_or_else(|| self.queues_key(), |q| self.queue_key(q))];
        let reply = self.eval(LIST, &keys, vec![bytes(queue.unwrap_or(""))])?;
        // A job that cannot be read is left out rather than failing the whole listing.
        Ok(reply.iter().filter_map(text).filter_map(|raw| decode(raw).ok()).collect())
    }

    fn replace(&self, before: &Stored, after: Option<&Job>) -> Result<bool, ApiError> {
        let job = &before.job;
        let keys = [self.jobs_key(), self.due_key(), self.queue_key(&job.queue_name), self.queues_key(), self.paused_queues_key()];
        let args = vec![
            bytes(member(&job.queue_name, &job.job_id)),
            bytes(before.raw.as_str()),
            bytes(after.map(encode).transpose()?.unwrap_or_default()),
            bytes(after.map(score).unwrap_or_default()),
            bytes(job.job_id.as_str()),
            bytes(job.queue_name.as_str()),
            bytes(self.held_key("")),
        ];
        let reply = self.eval(REPLACE, &keys, args)?;
        Ok(reply.first().and_then(int) == Some(1))
    }

    fn delete_all(&self, queue: Option<&str>) -> Result<u64, ApiError> {
        let keys = [self.jobs_key(), self.due_key(), self.queues_key()];
        let args = vec![bytes(self.queue_key("")), bytes(queue.unwrap_or("")), bytes(self.held_key(""))];
        let reply = self.eval(DELETE_ALL, &keys, args)?;
        Ok(reply.first().and_then(int).unwrap_or(0) as u64)
    }
}
