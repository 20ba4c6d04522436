//! Committing a batch of fires: per job, compare the stored text with the one the fires were
//! computed from, and only if it is unchanged push the messages and write the job's new state,
//! all in one script, so that no fire is published twice however many ticks race.

use anyhow::{Context, Result};

use super::{Counts, TickReport};
use crate::host::{Redis, RedisArg};
use crate::message::Message;
use crate::store::redis::{bytes, eval, int, text, RedisStore};

/// One job's update: publish `messages` and store `new_text` (or delete the job when it is
/// empty), if the stored text is still `expected`.
pub(super) struct Entry {
    pub member: String,
    /// '' = the job is gone (the commit only drops it from the due index).
    pub expected: String,
    pub new_text: String,
    /// When the job is next due (UTC µs); `None` takes it out of the due index.
    pub due_us: Option<i64>,
    pub messages: Vec<Message>,
    /// A run-now: published even while the queue's scheduler is paused.
    pub manual: bool,
    /// What the update does, counted into the report once it is applied.
    pub counts: Counts,
    /// The scheduled instants (UTC µs) of the messages published when due (not ahead), whose
    /// lateness the commit observes.
    pub due_fires_us: Vec<i64>,
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

/// KEYS: jobs, due, paused queues, metrics. ARGV: entry count, the retry score for jobs whose
/// push fails, the prefix of the per-queue sets, the queues set, the prefix of the held sets,
/// when the tick's first claim ran (µs; '' unless this commits the tick's last due batch), then
/// per entry: member (`queue\x1fjob_id`), expected text ('' = the job is gone), new text ('' =
/// delete), score ('' = not due), push code, key, '1' for a run-now, message count, the
/// payloads, then for the metrics: missed and coalesced counts, the number of fires published
/// when due and their scheduled instants (µs). Returns one status per entry (1 applied, 0
/// changed by someone else, 2 push failed, 3 held), then `member: error` per failed push.
///
/// A call from Lua costs several times what a message does, so the batch is read with one
/// HMGET, each queue gets one push (its jobs' messages in job order), and the new texts and
/// scores are written with one HSET and one ZADD. A push that fails fails every job of that
/// queue in the batch, as a push per job would have. While any queue's scheduler is paused,
/// its jobs are held instead (nothing published, the job unchanged, moved to the queue's held
/// set), except a run-now, and scores are written job by job.
///
/// The metrics (a tick's fires, not a run-now's) are counted by the same script, so a count
/// changes exactly when what it counts does, for two more calls per batch (`bump`).
const COMMIT: &str = concat!(
    "-- funboost-edge tick commit: each job is applied only if its stored text is unchanged\n",
    crate::schedule_lua!(),
    crate::metrics_lua!(),
    r#"
-- Lua's unpack fails beyond about 8,000 values, so lists go in chunks.
local function chunked(command, key, list)
  for s = 1, #list, 4000 do
    local r = redis.pcall(command, key, unpack(list, s, math.min(s + 3999, #list)))
    if type(r) == 'table' and r.err then return r end
  end
  return true
end
local n, retry, queue_prefix, queues, held_prefix = tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local any_paused = redis.call('SCARD', KEYS[3]) > 0
local paused_queue = {}
local function queue_of(member) return string.match(member, '^(.-)\31') end
local function is_paused(q)
  if paused_queue[q] == nil then paused_queue[q] = redis.call('SISMEMBER', KEYS[3], q) == 1 end
  return paused_queue[q]
end
local members, at, metrics_at = {}, {}, {}
local i = 7
for e = 1, n do
  members[e], at[e] = ARGV[i], i
  local m = i + 8 + tonumber(ARGV[i + 7])
  metrics_at[e] = m
  i = m + 3 + tonumber(ARGV[m + 2])
end
local stored = n > 0 and redis.call('HMGET', KEYS[1], unpack(members)) or {}
local groups, order, group_of, held = {}, {}, {}, {}
for e = 1, n do
  local i = at[e]
  local count = tonumber(ARGV[i + 7])
  if (stored[e] or '') == ARGV[i + 1] then
    if any_paused and ARGV[i + 6] ~= '1' and is_paused(queue_of(ARGV[i])) then
      held[e] = true
    elseif count > 0 then
      local code, key = ARGV[i + 4], ARGV[i + 5]
      local g = groups[code .. key]
      if not g then
        g = {code = code, key = key, payloads = {}}
        groups[code .. key] = g
        order[#order + 1] = g
      end
      for k = 1, count do g.payloads[#g.payloads + 1] = ARGV[i + 7 + k] end
      group_of[e] = g
    end
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
  elseif held[e] then
    statuses[e] = 3
    local s = redis.call('ZSCORE', KEYS[2], member)
    if s then schedule(KEYS[2], KEYS[3], held_prefix, queue_of(member), member, s) end
  elseif g and g.err then
    statuses[e] = 2
    failures[#failures + 1] = member .. ': ' .. g.err
    if ARGV[i + 6] ~= '1' then redis.call('ZADD', KEYS[2], retry, member) end
  else
    statuses[e] = 1 -- applied
    if new == '' then
      local q, id = string.match(member, '^(.-)\31(.*)$')
      redis.call('HDEL', KEYS[1], member)
      schedule(KEYS[2], KEYS[3], held_prefix, q, member, '')
      redis.call('SREM', queue_prefix .. q, id)
      if redis.call('SCARD', queue_prefix .. q) == 0 then redis.call('SREM', queues, q) end
    else
      texts[#texts + 1] = member
      texts[#texts + 1] = new
      if any_paused then
        schedule(KEYS[2], KEYS[3], held_prefix, queue_of(member), member, score)
      elseif score == '' then
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
-- Metrics, by queue: what each entry of a tick (not a run-now) came to.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local add = {}
for e = 1, n do
  local i, m = at[e], metrics_at[e]
  local q = queue_of(ARGV[i])
  if q and ARGV[i + 6] ~= '1' then
    if statuses[e] == 0 then
      count(add, 'conflicts\31' .. q, 1)
    elseif statuses[e] == 2 then
      count(add, 'push_failures\31' .. q, 1)
    elseif statuses[e] == 1 then
      count(add, 'fires\31' .. q, tonumber(ARGV[i + 7]))
      count(add, 'missed\31' .. q, tonumber(ARGV[m]))
      count(add, 'coalesced\31' .. q, tonumber(ARGV[m + 1]))
      for k = 1, tonumber(ARGV[m + 2]) do observe(add, 'lateness', now - tonumber(ARGV[m + 2 + k])) end
    end
  end
end
if ARGV[6] ~= '' then observe(add, 'tick', now - tonumber(ARGV[6])) end
bump(KEYS[4], add, {})
for _, f in ipairs(failures) do statuses[#statuses + 1] = f end
return statuses
"#
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
    report: &mut TickReport,
) -> Result<Vec<Status>> {
    let mut args = vec![
        RedisArg::Int(entries.len() as i64),
        bytes((now_us + PUBLISH_RETRY_US).to_string()),
        bytes(store.queue_key("")), // the per-queue sets' prefix
        bytes(store.queues_key()),
        bytes(store.held_key("")),
        bytes(tick_started_us.map(|us| us.to_string()).unwrap_or_default()),
    ];
    for entry in entries {
        // A job's messages all go to one key with one command: message::build derives both
        // from the job alone.
        let (code, key) = entry.messages.first().map_or(("R", ""), |m| (m.push.code(), m.key.as_str()));
        args.extend([
            bytes(entry.member.as_str()),
            bytes(entry.expected.as_str()),
            bytes(entry.new_text.as_str()),
            bytes(entry.due_us.map(|us| us.to_string()).unwrap_or_default()),
            bytes(code),
            bytes(key),
            bytes(if entry.manual { "1" } else { "" }),
            RedisArg::Int(entry.messages.len() as i64),
        ]);
        args.extend(entry.messages.iter().map(|m| bytes(m.payload.as_str())));
        args.extend([entry.counts.missed, entry.counts.coalesced, entry.due_fires_us.len() as u64].map(|n| RedisArg::Int(n as i64)));
        args.extend(entry.due_fires_us.iter().map(|&us| RedisArg::Int(us)));
    }
    let keys = [store.jobs_key(), store.due_key(), store.paused_queues_key(), store.metrics_key()];
    let reply = eval(redis, COMMIT, &keys, args).context("committing fires")?;
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
