//! The `redis` job store, layout 2 (keys: [`super::layout`]; texts: [`super::record`]). Every
//! change is one script that checks everything it depends on before its first write (the
//! store's format, each job's version, the types of the keys it touches), so a refused change
//! writes nothing, and a batch of changes is applied whole or not at all.

use anyhow::Context;

use super::layout::{v1_member, Keys, FORMAT};
use super::record::{self, Unreadable};
use super::{v1, AddOutcome, JobStore, Listed, Stored};
use crate::audit;
use crate::error::{code, ApiError};
use crate::host::{Redis, RedisArg, RedisValue};
use crate::job::{history, FireRecord, Job, StoreKind};

pub struct RedisStore<'a> {
    redis: &'a dyn Redis,
    keys: Keys,
}

/// Lua: `wrong_type(key, want)` is an error reply (`CORRUPT ...`) when `key` exists with another
/// type than `want`, else nil; `refresh_head(q)` puts queue `q` in `heads` at its earliest
/// running job's score, or takes it out (paused scheduler, nothing running);
/// `audit_append(...)` appends an audit record ('' = none) to the capped trail and counts it.
#[macro_export]
#[doc(hidden)]
macro_rules! store_lua {
    () => {
        concat!(
            $crate::stopped_lua!(),
            $crate::format_lua!(),
            r#"
local function wrong_type(key, want)
  local t = redis.call('TYPE', key).ok
  if t ~= 'none' and t ~= want then return redis.error_reply('CORRUPT ' .. key .. ' holds a ' .. t .. ', not a ' .. want) end
  return nil
end
local function queue_types(prefixes, q)
  for _, p in ipairs(prefixes) do
    local e = wrong_type(p[1] .. q, p[2])
    if e then return e end
  end
  return nil
end
local function refresh_head(heads, paused, next_prefix, q)
  if redis.call('SISMEMBER', paused, q) == 1 then redis.call('ZREM', heads, q) return end
  local first = redis.call('ZRANGE', next_prefix .. q, 0, 0, 'WITHSCORES')
  if first[2] and tonumber(first[2]) < STOPPED then redis.call('ZADD', heads, first[2], q) else redis.call('ZREM', heads, q) end
end
local function version_of(state)
  return state and string.match(state, '^{"v":"([^"]*)"')
end
local function audit_types(stream, counts)
  return wrong_type(stream, 'stream') or wrong_type(counts, 'hash')
end
local function audit_append(stream, counts, keep, text, tally, deleted)
  if text == '' then return end
  if deleted then
    redis.call('XADD', stream, 'MAXLEN', keep, '*', 'a', text, 'deleted', deleted)
  else
    redis.call('XADD', stream, 'MAXLEN', keep, '*', 'a', text)
  end
  redis.call('HINCRBY', counts, tally, 1)
end
"#
        )
    };
}

crate::lua_script!(
    /// Writes a batch of jobs, all or nothing. Per entry: `expect` is '' (the job must not
    /// exist), '*' (anything) or the version the stored state must have; `spec` is the new
    /// spec, '=' to keep it, or '' to delete the job; `history` is '' (keep), '-' (clear) or a
    /// text to store; `audit` is the entry's audit record ('' = none), appended when the entry
    /// changes something. Replies `ok, 0` then one letter per entry (`a` added, `r` replaced, `u`
    /// updated, `d` deleted, `n` nothing to delete), or a refusal and the entry it concerns:
    /// `exists`, `changed`, `full`, `v1` (the job is still in layout 1: upgrade it first).
    pub WRITE = "write", 2,
    keys [format, job_queues, heads, paused_queues, v1_jobs, audit, audit_counts],
    args [spec_prefix, state_prefix, hist_prefix, next_prefix, ids_prefix, max_jobs, audit_keep],
    entry [queue, job_id, expect, spec, state, score, history, audit, audit_tally],
    concat!(store_lua!(), r#"
local fe = newer_format(K.format) if fe then return fe end
for _, k in ipairs({{K.job_queues, 'set'}, {K.heads, 'zset'}, {K.paused_queues, 'set'}, {K.v1_jobs, 'hash'}}) do
  local e = wrong_type(k[1], k[2]) if e then return e end
end
local ae = audit_types(K.audit, K.audit_counts) if ae then return ae end
local prefixes = {{A.spec_prefix, 'hash'}, {A.state_prefix, 'hash'}, {A.hist_prefix, 'hash'}, {A.next_prefix, 'zset'}, {A.ids_prefix, 'zset'}}
local current, sizes, checked = {}, {}, {}
for e = 1, N do
  local q, id, expect = field(e, E.queue), field(e, E.job_id), field(e, E.expect)
  if not checked[q] then
    local te = queue_types(prefixes, q) if te then return te end
    checked[q] = true
  end
  if redis.call('HEXISTS', K.v1_jobs, q .. '\31' .. id) == 1 then return {TAG, 'v1', e} end
  local cur = redis.call('HGET', A.state_prefix .. q, id)
  current[e] = cur
  if expect == '' then
    if cur then return {TAG, 'exists', e} end
  elseif expect ~= '*' then
    if version_of(cur) ~= expect then return {TAG, 'changed', e} end
  end
  if not cur and field(e, E.spec) ~= '' then
    sizes[q] = (sizes[q] or redis.call('ZCARD', A.ids_prefix .. q)) + 1
    if sizes[q] > tonumber(A.max_jobs) then return {TAG, 'full', e} end
  end
end
local out = {TAG, 'ok', 0}
for e = 1, N do
  local q, id, expect, spec, hist = field(e, E.queue), field(e, E.job_id), field(e, E.expect), field(e, E.spec), field(e, E.history)
  local cur = current[e]
  if spec == '' then
    if cur then
      redis.call('HDEL', A.spec_prefix .. q, id)
      redis.call('HDEL', A.state_prefix .. q, id)
      redis.call('HDEL', A.hist_prefix .. q, id)
      redis.call('ZREM', A.next_prefix .. q, id)
      redis.call('ZREM', A.ids_prefix .. q, id)
      out[#out + 1] = 'd'
    else
      out[#out + 1] = 'n'
    end
  else
    if spec ~= '=' then redis.call('HSET', A.spec_prefix .. q, id, spec) end
    redis.call('HSET', A.state_prefix .. q, id, field(e, E.state))
    redis.call('ZADD', A.next_prefix .. q, field(e, E.score), id)
    if hist == '-' then redis.call('HDEL', A.hist_prefix .. q, id) elseif hist ~= '' then redis.call('HSET', A.hist_prefix .. q, id, hist) end
    if not cur then
      redis.call('ZADD', A.ids_prefix .. q, 0, id)
      redis.call('SADD', K.job_queues, q)
      out[#out + 1] = 'a'
    elseif expect == '*' then
      out[#out + 1] = 'r'
    else
      out[#out + 1] = 'u'
    end
  end
  if out[#out] ~= 'n' then audit_append(K.audit, K.audit_counts, A.audit_keep, field(e, E.audit), field(e, E.audit_tally)) end
end
for q in pairs(checked) do
  refresh_head(K.heads, K.paused_queues, A.next_prefix, q)
  if redis.call('ZCARD', A.ids_prefix .. q) == 0 then redis.call('SREM', K.job_queues, q) end
end
return out
"#)
);

crate::lua_script!(
    /// One job: its state, spec and (when asked) history texts, and its layout-1 text while an
    /// upgrade has not moved it yet.
    pub GET = "get", 1,
    keys [format, v1_jobs],
    args [spec_prefix, state_prefix, hist_prefix, queue, job_id, with_history],
    entry [],
    concat!(store_lua!(), r#"
local fe = newer_format(K.format) if fe then return fe end
local q, id = A.queue, A.job_id
local hist = ''
if A.with_history == '1' then hist = redis.call('HGET', A.hist_prefix .. q, id) or '' end
return {TAG, redis.call('HGET', A.state_prefix .. q, id) or '', redis.call('HGET', A.spec_prefix .. q, id) or '', hist,
  redis.call('HGET', K.v1_jobs, q .. '\31' .. id) or ''}
"#)
);

crate::lua_script!(
    /// Every job of one queue ('' = all queues): per queue its name, job count, then `id,
    /// spec, state` per job; then `v1` and the layout-1 texts not upgraded yet.
    pub LIST = "list", 1,
    keys [format, job_queues, v1_jobs, v1_queues],
    args [spec_prefix, state_prefix, v1_queue_prefix, queue],
    entry [],
    concat!(store_lua!(), r#"
local fe = newer_format(K.format) if fe then return fe end
local queues = {A.queue}
if A.queue == '' then queues = redis.call('SMEMBERS', K.job_queues) end
local out = {TAG}
for _, q in ipairs(queues) do
  local specs = redis.call('HGETALL', A.spec_prefix .. q)
  local states = {}
  local raw = redis.call('HGETALL', A.state_prefix .. q)
  for i = 1, #raw, 2 do states[raw[i]] = raw[i + 1] end
  out[#out + 1] = q
  out[#out + 1] = #specs / 2
  for i = 1, #specs, 2 do
    out[#out + 1] = specs[i]
    out[#out + 1] = specs[i + 1]
    out[#out + 1] = states[specs[i]] or ''
  end
end
out[#out + 1] = 'v1'
if redis.call('EXISTS', K.v1_jobs) == 1 then
  if A.queue == '' then
    for _, v in ipairs(redis.call('HVALS', K.v1_jobs)) do out[#out + 1] = v end
  else
    for _, id in ipairs(redis.call('SMEMBERS', A.v1_queue_prefix .. A.queue)) do
      local v = redis.call('HGET', K.v1_jobs, A.queue .. '\31' .. id)
      if v then out[#out + 1] = v end
    end
  end
end
return out
"#)
);

crate::lua_script!(
    /// Deletes every job of one queue ('' = of all queues), in both layouts, and appends the
    /// audit record with the count; replies how many.
    pub DELETE_ALL = "delete_all", 2,
    keys [format, job_queues, heads, v1_jobs, v1_due, v1_queues, audit, audit_counts],
    args [spec_prefix, state_prefix, hist_prefix, next_prefix, ids_prefix, v1_queue_prefix, v1_held_prefix, queue, audit_keep, audit, audit_tally],
    entry [],
    concat!(store_lua!(), r#"
local fe = newer_format(K.format) if fe then return fe end
local ae = audit_types(K.audit, K.audit_counts) if ae then return ae end
local queues, seen = {}, {}
local function add(q) if not seen[q] then seen[q] = true queues[#queues + 1] = q end end
if A.queue ~= '' then add(A.queue) else
  for _, q in ipairs(redis.call('SMEMBERS', K.job_queues)) do add(q) end
  for _, q in ipairs(redis.call('SMEMBERS', K.v1_queues)) do add(q) end
end
local deleted = 0
for _, q in ipairs(queues) do
  deleted = deleted + redis.call('ZCARD', A.ids_prefix .. q)
  redis.call('UNLINK', A.spec_prefix .. q, A.state_prefix .. q, A.hist_prefix .. q, A.next_prefix .. q, A.ids_prefix .. q)
  redis.call('SREM', K.job_queues, q)
  redis.call('ZREM', K.heads, q)
  for _, id in ipairs(redis.call('SMEMBERS', A.v1_queue_prefix .. q)) do
    local m = q .. '\31' .. id
    deleted = deleted + redis.call('HDEL', K.v1_jobs, m)
    redis.call('ZREM', K.v1_due, m)
  end
  redis.call('DEL', A.v1_queue_prefix .. q, A.v1_held_prefix .. q)
  redis.call('SREM', K.v1_queues, q)
end
audit_append(K.audit, K.audit_counts, A.audit_keep, A.audit, A.audit_tally, deleted)
return {TAG, deleted}
"#)
);

crate::lua_script!(
    /// Pauses ('1') or resumes ('') a queue's scheduler: the queue leaves `heads` (or comes
    /// back at its earliest job), which is all a tick looks at. Layout-1 jobs held by an older
    /// ticker go back into layout 1's due index on resume, as that build did.
    pub QUEUE_SWITCH = "queue_switch", 2,
    keys [format, heads, paused_queues, v1_due, audit, audit_counts],
    args [next_prefix, v1_held_prefix, queue, pause, audit_keep, audit, audit_tally],
    entry [],
    concat!(store_lua!(), r#"
local fe = newer_format(K.format) if fe then return fe end
local ae = audit_types(K.audit, K.audit_counts) if ae then return ae end
local q = A.queue
if A.pause == '1' then
  redis.call('SADD', K.paused_queues, q)
else
  redis.call('SREM', K.paused_queues, q)
  local held = redis.call('ZRANGE', A.v1_held_prefix .. q, 0, -1, 'WITHSCORES')
  for i = 1, #held, 2 do redis.call('ZADD', K.v1_due, held[i + 1], held[i]) end
  redis.call('DEL', A.v1_held_prefix .. q)
end
refresh_head(K.heads, K.paused_queues, A.next_prefix, q)
audit_append(K.audit, K.audit_counts, A.audit_keep, A.audit, A.audit_tally)
return {TAG, 1}
"#)
);

crate::lua_script!(
    /// Whether a queue's scheduler is paused and when the last tick ran, with the server clock.
    pub SCHEDULER_STATE = "scheduler_state", 1,
    keys [paused_queues, last_tick],
    args [queue],
    entry [],
    r#"
local t = redis.call('TIME')
return {TAG, t[1], t[2], redis.call('SISMEMBER', K.paused_queues, A.queue), redis.call('GET', K.last_tick) or ''}
"#
);

/// A queue's scheduler as [`RedisStore::scheduler_state`] reads it.
pub struct SchedulerState {
    pub paused: bool,
    pub last_tick_us: Option<i64>,
    pub now_us: i64,
}

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

/// The API error for a failed script: a store written by a newer layout (503, naming both
/// versions), a key of ours holding another type (500, naming it), or an unreachable store.
pub fn script_error(e: anyhow::Error) -> ApiError {
    let text = format!("{e:#}");
    // The scripts' error replies start with a word; through redis-rs (Spin's host) it is
    // followed by a colon (`FORMAT: 3`).
    let after = |word: &str| text.split(word).nth(1).map(|rest| rest.trim_start_matches([':', ' ']).to_string());
    if let Some(version) = after("FORMAT").map(|rest| rest.chars().take_while(char::is_ascii_digit).collect::<String>()).filter(|v| !v.is_empty()) {
        return ApiError::new(
            503,
            code::STORE_FORMAT,
            "StoreFormatNewer",
            format!("the job store was written by layout {version}, newer than this build's layout {FORMAT}: deploy the newer build (this one changes and publishes nothing)"),
        );
    }
    if let Some(detail) = after("CORRUPT") {
        return ApiError::new(500, code::STORE_CORRUPT, "StoreCorrupt", format!("the job store is damaged: {detail}"));
    }
    ApiError::store_unavailable(text)
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

/// One change of [`RedisStore::write`].
pub struct Write<'a> {
    pub queue: &'a str,
    pub job_id: &'a str,
    pub expect: Expect<'a>,
    /// `None` deletes the job.
    pub job: Option<&'a Job>,
    /// Keep the stored spec (the change touches only the state).
    pub same_spec: bool,
    pub history: HistoryChange<'a>,
    /// The audit record of the change, appended when it changes something.
    pub audit: Option<&'a audit::Entry>,
}

/// What a [`Write`] requires of the stored job.
#[derive(Clone, Copy, Debug)]
pub enum Expect<'a> {
    Absent,
    Anything,
    Version(&'a str),
}

#[derive(Clone, Copy, Debug)]
pub enum HistoryChange<'a> {
    Keep,
    Clear,
    Set(&'a str),
}

/// Why [`RedisStore::write`] refused a batch: the entry and what it found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    Exists(usize),
    Changed(usize),
    Full(usize),
    /// The entry's job is still in layout 1.
    NotUpgraded(usize),
}

impl<'a> RedisStore<'a> {
    pub fn new(redis: &'a dyn Redis, prefix: &str) -> RedisStore<'a> {
        RedisStore { redis, keys: Keys::new(prefix) }
    }

    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    pub fn redis(&self) -> &'a dyn Redis {
        self.redis
    }

    /// Applies `writes` all or none. `Ok(Err(refusal))` when a check failed (nothing written).
    pub fn write(&self, writes: &[Write], max_jobs: usize) -> Result<Result<Vec<char>, Refusal>, ApiError> {
        let keys = &self.keys;
        let mut call = WRITE
            .call()
            .key("format", keys.format())
            .key("job_queues", keys.job_queues())
            .key("heads", keys.heads())
            .key("paused_queues", keys.paused_queues())
            .key("v1_jobs", keys.v1().jobs)
            .key("audit", keys.audit())
            .key("audit_counts", keys.audit_counts())
            .arg("spec_prefix", keys.queue_prefix("spec"))
            .arg("state_prefix", keys.queue_prefix("state"))
            .arg("hist_prefix", keys.queue_prefix("hist"))
            .arg("next_prefix", keys.queue_prefix("next"))
            .arg("ids_prefix", keys.queue_prefix("ids"))
            .arg("max_jobs", max_jobs)
            .arg("audit_keep", writes.iter().find_map(|w| w.audit).map_or(0, |a| a.keep));
        for w in writes {
            let expect = match w.expect {
                Expect::Absent => String::new(),
                Expect::Anything => "*".to_string(),
                Expect::Version(v) => v.to_string(),
            };
            let (spec, state, score) = match w.job {
                None => (String::new(), String::new(), 0),
                Some(job) => (
                    if w.same_spec { "=".to_string() } else { record::encode_spec(job) },
                    record::encode_state(job, &record::new_version()),
                    record::score(job),
                ),
            };
            let history = match w.history {
                HistoryChange::Keep => "",
                HistoryChange::Clear => "-",
                HistoryChange::Set(text) => text,
            };
            call.field("queue", w.queue)
                .field("job_id", w.job_id)
                .field("expect", expect)
                .field("spec", spec)
                .field("state", state)
                .field("score", score)
                .field("history", history)
                .field("audit", w.audit.map_or("", |a| a.text.as_str()))
                .field("audit_tally", w.audit.map_or("", |a| a.tally.as_str()));
        }
        let reply = call.run(self.redis).map_err(script_error)?;
        let entry = reply.get(1).and_then(int).unwrap_or(0).max(1) as usize - 1;
        match reply.first().and_then(text).as_deref() {
            Some("ok") => Ok(Ok(reply[2..].iter().filter_map(text).filter_map(|t| t.chars().next()).collect())),
            Some("exists") => Ok(Err(Refusal::Exists(entry))),
            Some("changed") => Ok(Err(Refusal::Changed(entry))),
            Some("full") => Ok(Err(Refusal::Full(entry))),
            Some("v1") => Ok(Err(Refusal::NotUpgraded(entry))),
            _ => Err(ApiError::store_unavailable(format!("unexpected reply of the write script: {reply:?}"))),
        }
    }

    /// Pauses (`true`) or resumes a queue's scheduler: while paused, none of its jobs is due.
    pub fn set_queue_paused(&self, queue: &str, paused: bool, audit: &audit::Entry) -> Result<(), ApiError> {
        let keys = &self.keys;
        QUEUE_SWITCH
            .call()
            .key("format", keys.format())
            .key("heads", keys.heads())
            .key("paused_queues", keys.paused_queues())
            .key("v1_due", keys.v1().due)
            .key("audit", keys.audit())
            .key("audit_counts", keys.audit_counts())
            .arg("next_prefix", keys.queue_prefix("next"))
            .arg("v1_held_prefix", keys.v1().held_prefix)
            .arg("queue", queue)
            .arg("pause", paused)
            .arg("audit_keep", audit.keep)
            .arg("audit", audit.text.as_str())
            .arg("audit_tally", audit.tally.as_str())
            .run(self.redis)
            .map_err(script_error)?;
        Ok(())
    }

    /// Whether a queue's scheduler is paused and when the last tick ran, with the server's
    /// clock: one round trip.
    pub fn scheduler_state(&self, queue: &str) -> Result<SchedulerState, ApiError> {
        let reply = SCHEDULER_STATE
            .call()
            .key("paused_queues", self.keys.paused_queues())
            .key("last_tick", self.keys.last_tick())
            .arg("queue", queue)
            .run(self.redis)
            .map_err(script_error)?;
        let now_us = time_us(&reply).ok_or_else(|| ApiError::store_unavailable(format!("unexpected reply {reply:?}")))?;
        Ok(SchedulerState { paused: reply.get(2).and_then(int) == Some(1), last_tick_us: reply.get(3).and_then(int), now_us })
    }

    fn get_texts(&self, queue: &str, job_id: &str, with_history: bool) -> Result<[String; 4], ApiError> {
        let keys = &self.keys;
        let reply = GET
            .call()
            .key("format", keys.format())
            .key("v1_jobs", keys.v1().jobs)
            .arg("spec_prefix", keys.queue_prefix("spec"))
            .arg("state_prefix", keys.queue_prefix("state"))
            .arg("hist_prefix", keys.queue_prefix("hist"))
            .arg("queue", queue)
            .arg("job_id", job_id)
            .arg("with_history", with_history)
            .run(self.redis)
            .map_err(script_error)?;
        let field = |i: usize| reply.get(i).and_then(text).unwrap_or_default();
        Ok([field(0), field(1), field(2), field(3)])
    }

    /// [`Self::write`], moving a job that is still in layout 1 to layout 2 first when the
    /// write finds one (an upgrade under way), then writing again.
    pub fn write_moving_layout_1(&self, writes: &[Write], max_jobs: usize) -> Result<Result<Vec<char>, Refusal>, ApiError> {
        for _ in 0..3 {
            match self.write(writes, max_jobs)? {
                Err(Refusal::NotUpgraded(e)) => super::upgrade::one(self, writes[e].queue, writes[e].job_id)?,
                done => return Ok(done),
            }
        }
        self.write(writes, max_jobs)
    }

    fn written(&self, refused: Result<Vec<char>, Refusal>, job: &Job) -> Result<Vec<char>, ApiError> {
        refused.map_err(|refusal| match refusal {
            Refusal::NotUpgraded(_) => ApiError::new(
                503,
                code::STORE_UNAVAILABLE,
                "StoreUpgrading",
                format!("timing job {} of queue {} is still being moved to this build's layout; try again", job.job_id, job.queue_name),
            ),
            _ => ApiError::new(409, code::JOB_EXISTS, "Conflict", format!("timing job {} changed meanwhile; try again", job.job_id)),
        })
    }
}

impl JobStore for RedisStore<'_> {
    fn add(&self, job: &Job, replace: bool, max_jobs: usize, audit: &audit::Entry) -> Result<AddOutcome, ApiError> {
        let write = Write {
            queue: &job.queue_name,
            job_id: &job.job_id,
            expect: if replace { Expect::Anything } else { Expect::Absent },
            job: Some(job),
            same_spec: false,
            history: HistoryChange::Clear,
            audit: Some(audit),
        };
        match self.write_moving_layout_1(&[write], max_jobs)? {
            Ok(letters) if letters.first() == Some(&'r') => Ok(AddOutcome::Replaced),
            Ok(_) => Ok(AddOutcome::Added),
            Err(Refusal::Exists(_)) => Err(ApiError::new(
                409,
                code::JOB_EXISTS,
                "ConflictingIdError",
                format!("Job identifier ({}) conflicts with an existing job in queue {}; send replace_existing=true to replace it", job.job_id, job.queue_name),
            )),
            Err(Refusal::Full(_)) => Err(ApiError::new(
                409,
                code::TOO_MANY_JOBS,
                "TooManyJobs",
                format!("queue {} already holds the maximum of {max_jobs} jobs (variable max_jobs_per_queue)", job.queue_name),
            )),
            Err(refusal) => self.written(Err(refusal), job).map(|_| AddOutcome::Added),
        }
    }

    fn get(&self, queue: &str, job_id: &str) -> Result<Option<Result<Stored, Unreadable>>, ApiError> {
        let [state, spec, _, v1_text] = self.get_texts(queue, job_id, false)?;
        if state.is_empty() {
            if v1_text.is_empty() {
                return Ok(None);
            }
            // Not moved to layout 2 yet: shown as it is, with no version (a write moves it first).
            return Ok(Some(v1::decode(&v1_text).map(|(job, _)| Stored { job, version: String::new() })));
        }
        Ok(Some(record::decode(queue, job_id, StoreKind::Redis, &spec, &state).map(|(job, version)| Stored { job, version })))
    }

    fn history(&self, queue: &str, job_id: &str) -> Result<Vec<FireRecord>, ApiError> {
        let [state, _, hist, v1_text] = self.get_texts(queue, job_id, true)?;
        if state.is_empty() && !v1_text.is_empty() {
            return Ok(v1::decode(&v1_text).map(|(_, history)| history).unwrap_or_default());
        }
        Ok(history::decode(&hist))
    }

    fn list(&self, queue: Option<&str>) -> Result<Vec<Listed>, ApiError> {
        let keys = &self.keys;
        let v1 = keys.v1();
        let reply = LIST
            .call()
            .key("format", keys.format())
            .key("job_queues", keys.job_queues())
            .key("v1_jobs", v1.jobs)
            .key("v1_queues", v1.queues)
            .arg("spec_prefix", keys.queue_prefix("spec"))
            .arg("state_prefix", keys.queue_prefix("state"))
            .arg("v1_queue_prefix", v1.queue_prefix)
            .arg("queue", queue.unwrap_or(""))
            .run(self.redis)
            .map_err(script_error)?;
        let mut values = reply.iter().map(|v| text(v).unwrap_or_default());
        let mut listed = Vec::new();
        let mut seen = std::collections::HashSet::new();
        while let Some(q) = values.next() {
            if q == "v1" {
                break;
            }
            let count = values.next().and_then(|n| n.parse::<usize>().ok()).unwrap_or(0);
            for _ in 0..count {
                let (id, spec, state) = (values.next().unwrap_or_default(), values.next().unwrap_or_default(), values.next().unwrap_or_default());
                seen.insert((q.clone(), id.clone()));
                listed.push(match record::decode(&q, &id, StoreKind::Redis, &spec, &state) {
                    Ok((job, version)) => Listed::Job(Box::new(Stored { job, version })),
                    Err(Unreadable(reason)) => Listed::Unreadable { queue: q.clone(), job_id: id, reason },
                });
            }
        }
        for v1_text in values {
            match v1::decode(&v1_text) {
                Ok((job, _)) if !seen.contains(&(job.queue_name.clone(), job.job_id.clone())) => {
                    listed.push(Listed::Job(Box::new(Stored { job, version: String::new() })))
                }
                Ok(_) => {}
                Err(Unreadable(reason)) => listed.push(Listed::Unreadable { queue: queue.unwrap_or("?").to_string(), job_id: "?".to_string(), reason }),
            }
        }
        Ok(listed)
    }

    fn replace(&self, before: &Stored, after: Option<&Job>, audit: &audit::Entry) -> Result<bool, ApiError> {
        let job = &before.job;
        if before.version.is_empty() {
            // Read from layout 1: move it, then let the caller read it again.
            super::upgrade::one(self, &job.queue_name, &job.job_id)?;
            return Ok(false);
        }
        let write = Write {
            queue: &job.queue_name,
            job_id: &job.job_id,
            expect: Expect::Version(&before.version),
            job: after,
            same_spec: after.is_some_and(|after| record::encode_spec(after) == record::encode_spec(job)),
            history: HistoryChange::Keep,
            audit: Some(audit),
        };
        match self.write(&[write], usize::MAX)? {
            Ok(_) => Ok(true),
            Err(Refusal::Changed(_)) => Ok(false),
            Err(refusal) => self.written(Err(refusal), job).map(|_| false),
        }
    }

    fn remove(&self, queue: &str, job_id: &str, audit: &audit::Entry) -> Result<bool, ApiError> {
        let write = Write { queue, job_id, expect: Expect::Anything, job: None, same_spec: false, history: HistoryChange::Keep, audit: Some(audit) };
        match self.write_moving_layout_1(&[write], usize::MAX)? {
            Ok(letters) => Ok(letters.first() == Some(&'d')),
            Err(refusal) => {
                Err(ApiError::new(503, code::STORE_UNAVAILABLE, "StoreUpgrading", format!("timing job {job_id} could not be deleted ({refusal:?}); try again")))
            }
        }
    }

    fn delete_all(&self, queue: Option<&str>, audit: &audit::Entry) -> Result<u64, ApiError> {
        let keys = &self.keys;
        let v1 = keys.v1();
        let reply = DELETE_ALL
            .call()
            .key("format", keys.format())
            .key("job_queues", keys.job_queues())
            .key("heads", keys.heads())
            .key("v1_jobs", v1.jobs)
            .key("v1_due", v1.due)
            .key("v1_queues", v1.queues)
            .key("audit", keys.audit())
            .key("audit_counts", keys.audit_counts())
            .arg("spec_prefix", keys.queue_prefix("spec"))
            .arg("state_prefix", keys.queue_prefix("state"))
            .arg("hist_prefix", keys.queue_prefix("hist"))
            .arg("next_prefix", keys.queue_prefix("next"))
            .arg("ids_prefix", keys.queue_prefix("ids"))
            .arg("v1_queue_prefix", v1.queue_prefix)
            .arg("v1_held_prefix", v1.held_prefix)
            .arg("queue", queue.unwrap_or(""))
            .arg("audit_keep", audit.keep)
            .arg("audit", audit.text.as_str())
            .arg("audit_tally", audit.tally.as_str())
            .run(self.redis)
            .map_err(script_error)?;
        Ok(reply.first().and_then(int).unwrap_or(0).max(0) as u64)
    }
}

/// Layout 1's hash field of a job (tests and the upgrade use it).
pub fn member(queue: &str, job_id: &str) -> String {
    v1_member(queue, job_id)
}
