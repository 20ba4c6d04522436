//! Committing a batch of fires: per job, compare the stored version with the one the fires were
//! computed from, and only if it is unchanged push the messages and write the job's new state
//! and history, all in one script, so that no fire is published twice however many ticks race.
//!
//! Redis does not roll a script back, so the script is ordered to make a failure after the
//! first push impossible or harmless: it reads and checks everything first (the store's format,
//! the types of our keys and of every queue key it will push to, each job's version, paused
//! queues), then pushes (a queue key of the wrong type is that queue's push failure, not a
//! script error), then writes. Once a push is out, the writes that follow can no longer be
//! refused (the types were checked, and Redis refuses only a script's *first* write when it is
//! out of memory), and each of them is still run protected, its failure reported.

use anyhow::{Context, Result};

use super::{Counts, TickReport};
use crate::audit;
use crate::host::Redis;
use crate::message::Message;
use crate::store::redis::{int, script_error, text, RedisStore};

/// One job's update: publish `messages` and store `state` (or delete the job), if the stored
/// version is still `version`.
pub(super) struct Entry {
    pub queue: String,
    pub job_id: String,
    /// '' = the job was gone when read (the commit only drops it from the indexes); '*' = its
    /// state cannot even be read (a quarantine overwrites it).
    pub version: String,
    /// The new state text; `None` deletes the job (its trigger is finished).
    pub state: Option<String>,
    /// The job's spec text as read (a tick waiting for the job's next fire reuses it).
    pub spec: String,
    /// The job's new score in its queue's `next` index.
    pub score: i64,
    /// History records to append (text form).
    pub history: String,
    pub messages: Vec<Message>,
    /// A run-now: published even while the queue's scheduler is paused.
    pub manual: bool,
    /// The job could not be read or scheduled: `state` stops it with the error.
    pub quarantine: bool,
    /// What the update does, counted into the report once it is applied.
    pub counts: Counts,
    /// The scheduled instants (UTC µs) of the messages published when due (not ahead), whose
    /// lateness the commit observes.
    pub due_fires_us: Vec<i64>,
}

impl Entry {
    /// When the job is next due (UTC µs), if it stays running.
    pub fn due_us(&self) -> Option<i64> {
        (self.state.is_some() && self.score < crate::store::layout::Stopped::MIN).then_some(self.score)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Status {
    Applied,
    /// Changed by someone else first (another ticker, or the API): nothing published.
    Conflict,
    /// The push failed: the job is retried [`PUBLISH_RETRY_US`] later.
    Failed,
    /// The queue's scheduler is paused: nothing published, the job kept as it was.
    Held,
}

/// A job whose messages could not be pushed (say, its queue key holds another type) is
/// retried a minute later, so it cannot block the jobs due after it.
const PUBLISH_RETRY_US: i64 = 60_000_000;

/// Payloads and instants are joined with the record separator, which JSON text never holds
/// unescaped.
const SEPARATOR: char = '\u{1e}';

crate::lua_script!(
    /// Applies a batch of fires (see the module docs for the order of its steps). Per entry:
    /// the job, the version it was computed from, its new state ('' = delete it) and score, the
    /// history records to append, the push (`R` RPUSH, `L` LPUSH, `X` XADD, '' none), its key
    /// and payloads (joined with \30), '1' for a run-now, '1' for a quarantine, and for the
    /// metrics the missed and coalesced counts and the scheduled instants of the fires published
    /// when due (joined with \30). Replies one status per entry (1 applied, 0 changed by someone
    /// else, 2 not published: its push failed or a key of its queue has the wrong type, 3
    /// held), then one line per problem. A run-now's audit record (`audit`, '' for a tick) is
    /// appended when its entry is applied.
    ///
    /// A call from Lua costs several times what a message does, so the states, scores and
    /// histories of a queue are read and written with one command each, and each queue gets one
    /// push (its jobs' messages in job order). The metrics (a tick's fires, not a run-now's) are
    /// counted by the same script, so a count changes exactly when what it counts does.
    pub COMMIT = "commit", 3,
    keys [format, job_queues, heads, paused_queues, metrics, audit, audit_counts],
    args [spec_prefix, state_prefix, hist_prefix, next_prefix, ids_prefix, retry_score, tick_started, audit_keep, audit, audit_tally],
    entry [queue, job_id, version, state, score, history, push, push_key, payloads, manual, quarantine, missed, coalesced, due_fires],
    concat!(crate::store_lua!(), crate::metrics_lua!(), crate::history_lua!(), r#"
local fe = newer_format(K.format) if fe then return fe end
-- 1. Read and check; nothing is written before every check passed. A key of ours with another
-- type stops what depends on it: the whole commit for the shared indexes, one queue's entries
-- for that queue's keys, only the counting for the metrics hash.
for _, k in ipairs({{K.job_queues, 'set'}, {K.heads, 'zset'}, {K.paused_queues, 'set'}}) do
  local e = wrong_type(k[1], k[2]) if e then return e end
end
if A.audit ~= '' then
  local ae = audit_types(K.audit, K.audit_counts) if ae then return ae end
end
local problems = {}
local metrics_ok = true
if wrong_type(K.metrics, 'hash') then
  metrics_ok = false
  problems[#problems + 1] = 'metrics not counted: ' .. K.metrics .. ' is not a hash'
end
local prefixes = {{A.spec_prefix, 'hash'}, {A.state_prefix, 'hash'}, {A.hist_prefix, 'hash'}, {A.next_prefix, 'zset'}, {A.ids_prefix, 'zset'}}
local by_queue, order, corrupt = {}, {}, {}
for e = 1, N do
  local q = field(e, E.queue)
  if not by_queue[q] then
    by_queue[q] = {}
    local te = queue_types(prefixes, q)
    if te then
      corrupt[q] = true
      problems[#problems + 1] = 'queue ' .. q .. ' not fired: ' .. te.err
    else
      order[#order + 1] = q
    end
  end
  table.insert(by_queue[q], e)
end
local any_paused = redis.call('SCARD', K.paused_queues) > 0
local status, gone = {}, {}
for e = 1, N do status[e] = corrupt[field(e, E.queue)] and 2 or 0 end
for _, q in ipairs(order) do
  local ids = {}
  for _, e in ipairs(by_queue[q]) do ids[#ids + 1] = field(e, E.job_id) end
  local states = redis.call('HMGET', A.state_prefix .. q, unpack(ids))
  local paused = any_paused and redis.call('SISMEMBER', K.paused_queues, q) == 1
  for k, e in ipairs(by_queue[q]) do
    local version = field(e, E.version)
    if not states[k] then
      gone[e] = true
    elseif version == '' or (version ~= '*' and version_of(states[k]) ~= version) then
      status[e] = 0
    elseif paused and field(e, E.manual) ~= '1' then
      status[e] = 3
    else
      status[e] = 1
    end
  end
end
local groups, group_order, group_of = {}, {}, {}
for e = 1, N do
  if status[e] == 1 and field(e, E.push) ~= '' then
    local code, key = field(e, E.push), field(e, E.push_key)
    local g = groups[code .. key]
    if not g then
      local want = code == 'X' and 'stream' or 'list'
      local t = redis.call('TYPE', key).ok
      g = {code = code, key = key, payloads = {}}
      if t ~= 'none' and t ~= want then g.err = 'WRONGTYPE the queue key ' .. key .. ' holds a ' .. t .. ', not a ' .. want end
      groups[code .. key] = g
      group_order[#group_order + 1] = g
    end
    for p in string.gmatch(field(e, E.payloads), '[^\30]+') do g.payloads[#g.payloads + 1] = p end
    group_of[e] = g
  end
end
-- 2. Push. The first write of a script is the only one Redis refuses when out of memory.
local function chunked(command, key, list)
  for s = 1, #list, 4000 do
    local r = redis.pcall(command, key, unpack(list, s, math.min(s + 3999, #list)))
    if type(r) == 'table' and r.err then return r.err end
  end
  return nil
end
for _, g in ipairs(group_order) do
  if not g.err then
    if g.code == 'X' then
      for _, payload in ipairs(g.payloads) do
        local r = redis.pcall('XADD', g.key, '*', '', payload)
        if type(r) == 'table' and r.err then g.err = r.err break end
      end
    else
      g.err = chunked(g.code == 'R' and 'RPUSH' or 'LPUSH', g.key, g.payloads)
    end
  end
end
-- 3. Write what the pushes (or their failures) mean, each call protected and reported.
local function report(err) if err then problems[#problems + 1] = 'after the pushes: ' .. err end end
for e = 1, N do
  local g = group_of[e]
  if g and g.err then
    status[e] = 2
    problems[#problems + 1] = field(e, E.queue) .. '\31' .. field(e, E.job_id) .. ': ' .. g.err
  end
end
for _, q in ipairs(order) do
  local states, scores, deleted, retried, with_history = {}, {}, {}, {}, {}
  for _, e in ipairs(by_queue[q]) do
    local id = field(e, E.job_id)
    if status[e] == 1 then
      local state = field(e, E.state)
      if state == '' then
        deleted[#deleted + 1] = id
      else
        states[#states + 1] = id
        states[#states + 1] = state
        scores[#scores + 1] = field(e, E.score)
        scores[#scores + 1] = id
        if field(e, E.history) ~= '' then with_history[#with_history + 1] = e end
      end
    elseif status[e] == 2 and field(e, E.manual) ~= '1' then
      retried[#retried + 1] = A.retry_score
      retried[#retried + 1] = id
    elseif gone[e] then
      deleted[#deleted + 1] = id
    end
  end
  report(chunked('HSET', A.state_prefix .. q, states))
  report(chunked('ZADD', A.next_prefix .. q, scores))
  report(chunked('ZADD', A.next_prefix .. q, retried))
  if #with_history > 0 then
    local ids = {}
    for _, e in ipairs(with_history) do ids[#ids + 1] = field(e, E.job_id) end
    local old = redis.pcall('HMGET', A.hist_prefix .. q, unpack(ids))
    if old.err then report(old.err) else
      local new = {}
      for k, e in ipairs(with_history) do
        new[#new + 1] = ids[k]
        new[#new + 1] = history_append(old[k], field(e, E.history))
      end
      report(chunked('HSET', A.hist_prefix .. q, new))
    end
  end
  if #deleted > 0 then
    for _, p in ipairs({A.spec_prefix, A.state_prefix, A.hist_prefix}) do report(chunked('HDEL', p .. q, deleted)) end
    for _, p in ipairs({A.next_prefix, A.ids_prefix}) do report(chunked('ZREM', p .. q, deleted)) end
    local ok, err = pcall(function()
      if redis.call('ZCARD', A.ids_prefix .. q) == 0 then redis.call('SREM', K.job_queues, q) end
    end)
    if not ok then report(tostring(err)) end
  end
  local ok, err = pcall(refresh_head, K.heads, K.paused_queues, A.next_prefix, q)
  if not ok then report(tostring(err)) end
end
-- Metrics, by queue: what each entry of a tick (not a run-now) came to.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local add = {}
for e = 1, N do
  local q = field(e, E.queue)
  if field(e, E.manual) ~= '1' then
    if status[e] == 0 then
      count(add, 'conflicts\31' .. q, 1)
    elseif status[e] == 2 then
      count(add, 'push_failures\31' .. q, 1)
    elseif status[e] == 1 then
      local fires = 0
      for _ in string.gmatch(field(e, E.payloads), '[^\30]+') do fires = fires + 1 end
      count(add, 'fires\31' .. q, fires)
      count(add, 'missed\31' .. q, tonumber(field(e, E.missed)))
      count(add, 'coalesced\31' .. q, tonumber(field(e, E.coalesced)))
      if field(e, E.quarantine) == '1' then count(add, 'quarantined\31' .. q, 1) end
      for at in string.gmatch(field(e, E.due_fires), '[^\30]+') do observe(add, 'lateness', now - tonumber(at)) end
    end
  end
end
if A.tick_started ~= '' then observe(add, 'tick', now - tonumber(A.tick_started)) end
if A.audit ~= '' and status[1] == 1 then
  local ok, err = pcall(audit_append, K.audit, K.audit_counts, A.audit_keep, A.audit, A.audit_tally)
  if not ok then report(tostring(err)) end
end
if metrics_ok then
  local ok, err = pcall(bump, K.metrics, add, {})
  if not ok then report(tostring(err)) end
end
local reply = {TAG}
for e = 1, N do reply[#reply + 1] = status[e] end
for _, p in ipairs(problems) do reply[#reply + 1] = p end
return reply
"#)
);

/// Commits `entries` (at most one [`super::BATCH`]) at server time `now_us` and counts what
/// was applied into `report`; returns each entry's status. One round trip. `tick_started_us`
/// (the server clock at the tick's first claim) when this commits the tick's last due batch:
/// the script observes the tick's duration.
pub(super) fn commit(
    redis: &dyn Redis,
    store: &RedisStore,
    entries: &[Entry],
    now_us: i64,
    tick_started_us: Option<i64>,
    audit: Option<&audit::Entry>,
    report: &mut TickReport,
) -> Result<Vec<Status>> {
    let keys = store.keys();
    let mut call = COMMIT
        .call()
        .key("format", keys.format())
        .key("job_queues", keys.job_queues())
        .key("heads", keys.heads())
        .key("paused_queues", keys.paused_queues())
        .key("metrics", keys.metrics())
        .key("audit", keys.audit())
        .key("audit_counts", keys.audit_counts())
        .arg("spec_prefix", keys.queue_prefix("spec"))
        .arg("state_prefix", keys.queue_prefix("state"))
        .arg("hist_prefix", keys.queue_prefix("hist"))
        .arg("next_prefix", keys.queue_prefix("next"))
        .arg("ids_prefix", keys.queue_prefix("ids"))
        .arg("retry_score", now_us + PUBLISH_RETRY_US)
        .arg("tick_started", tick_started_us.map(|us| us.to_string()).unwrap_or_default())
        .arg("audit_keep", audit.map_or(0, |a| a.keep))
        .arg("audit", audit.map_or("", |a| a.text.as_str()))
        .arg("audit_tally", audit.map_or("", |a| a.tally.as_str()));
    for entry in entries {
        // A job's messages all go to one key with one command: message::build derives both
        // from the job alone.
        let (push, key) = entry.messages.first().map_or(("", ""), |m| (m.push.code(), m.key.as_str()));
        let payloads: Vec<&str> = entry.messages.iter().map(|m| m.payload.as_str()).collect();
        let due_fires: Vec<String> = entry.due_fires_us.iter().map(i64::to_string).collect();
        call.field("queue", entry.queue.as_str())
            .field("job_id", entry.job_id.as_str())
            .field("version", entry.version.as_str())
            .field("state", entry.state.as_deref().unwrap_or(""))
            .field("score", entry.score)
            .field("history", entry.history.as_str())
            .field("push", push)
            .field("push_key", key)
            .field("payloads", payloads.join(&SEPARATOR.to_string()))
            .field("manual", entry.manual)
            .field("quarantine", entry.quarantine)
            .field("missed", entry.counts.missed as i64)
            .field("coalesced", entry.counts.coalesced as i64)
            .field("due_fires", due_fires.join(&SEPARATOR.to_string()));
    }
    let reply = call.run(redis).map_err(|e| anyhow::Error::new(script_error(e))).context("committing fires")?;
    report.round_trips += 1;
    report.batches += 1;
    let statuses: Vec<Status> = reply
        .iter()
        .take(entries.len())
        .map(|s| match int(s) {
            Some(1) => Status::Applied,
            Some(2) => Status::Failed,
            Some(3) => Status::Held,
            _ => Status::Conflict,
        })
        .collect();
    for (entry, status) in entries.iter().zip(&statuses) {
        match status {
            Status::Applied => entry.counts.add_to(report),
            Status::Conflict => report.conflicts += 1,
            Status::Held => report.held += 1,
            Status::Failed => {}
        }
    }
    let failures = reply.iter().skip(entries.len()).filter_map(text);
    report.errors.extend(failures.map(|f| format!("publishing {}", f.replace('\u{1f}', "/"))));
    Ok(statuses)
}
