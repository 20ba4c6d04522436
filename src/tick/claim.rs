//! Reading what a tick is to publish: the Redis server's clock, a batch of the jobs due now,
//! and (for a tick that publishes on the instant) the fires of the coming window, each with
//! its state and spec texts, read in the same script so that they belong together.

use std::time::Instant;

use anyhow::{Context, Result};

use super::TickOptions;
use crate::host::{Redis, RedisValue};
use crate::store::redis::{int, text, time_us, RedisStore};

crate::lua_script!(
    /// Records this tick's time and reads the server clock, the previous tick's time, how many
    /// jobs are due (by `lookahead`), a batch of them, and how many layout-1 jobs an upgrade
    /// still has to move. On the last batch of what is due, a tick that may wait (fewer than
    /// `max_waiting` are waiting, so a slow Redis cannot pile waiting ticks up) registers until
    /// its window ends and also gets the fires due within it, oldest first.
    ///
    /// With more due than a batch, the batch starts at a random queue and, in it, at a random
    /// window of its due jobs, so that tickers running at once (replicas) mostly take different
    /// jobs instead of racing for the same ones.
    ///
    /// Metrics: the tick's first claim counts the tick and records the clock skew; a claim that
    /// finds nothing due ends the tick's due batches, so it observes the tick's duration.
    ///
    /// Reply: the clock (2), the previous tick ('' if none), the due count, the batch size n,
    /// layout-1 jobs left, n jobs, whether this tick waits (1 or 0), the upcoming count m, m
    /// jobs (a job is `queue, id, score, state, spec`, '' when absent), then one line per queue
    /// left out because a key of it has the wrong type.
    pub CLAIM = "claim", 2,
    keys [format, heads, last_tick, waiting_ticks, metrics, v1_jobs],
    args [spec_prefix, state_prefix, next_prefix, lookahead, batch, random, window, tick_id, max_waiting, max_upcoming, started, host_us],
    entry [],
    concat!(crate::store_lua!(), crate::metrics_lua!(), r#"
local fe = newer_format(K.format) if fe then return fe end
local t = redis.call('TIME')
local now = string.format('%d%06d', tonumber(t[1]), tonumber(t[2]))
local previous = redis.call('GET', K.last_tick) or ''
redis.call('SET', K.last_tick, now)
local until_score = string.format('%d%06d', tonumber(t[1]) + tonumber(A.lookahead), tonumber(t[2]))
local batch, random = tonumber(A.batch), tonumber(A.random)
-- Queues with something due, and how much; a queue whose keys have the wrong type (written
-- by hand) is left out and named in the reply, so that it cannot stop the others.
local prefixes = {{A.next_prefix, 'zset'}, {A.state_prefix, 'hash'}, {A.spec_prefix, 'hash'}}
local corrupt = {}
local function usable(qs)
  local out = {}
  for _, q in ipairs(qs) do
    local te = queue_types(prefixes, q)
    if te then corrupt[#corrupt + 1] = q .. ': ' .. te.err else out[#out + 1] = q end
  end
  return out
end
local queues = usable(redis.call('ZRANGEBYSCORE', K.heads, '-inf', until_score))
local counts, total = {}, 0
for i, q in ipairs(queues) do
  counts[i] = redis.call('ZCOUNT', A.next_prefix .. q, '-inf', until_score)
  total = total + counts[i]
end
-- A batch: from a random queue on, the first of them from a random window of its due jobs.
local picked = {}
local first = #queues > 0 and (random % #queues) + 1 or 1
for k = 0, #queues - 1 do
  local room = batch - #picked
  if room <= 0 then break end
  local i = (first - 1 + k) % #queues + 1
  local q, offset = queues[i], 0
  if k == 0 and counts[i] > room then offset = (random % math.ceil(counts[i] / room)) * room end
  local ids = redis.call('ZRANGEBYSCORE', A.next_prefix .. q, '-inf', until_score, 'WITHSCORES', 'LIMIT', offset, room)
  for j = 1, #ids, 2 do picked[#picked + 1] = {q, ids[j], ids[j + 1]} end
end
local function append(out, jobs)
  local by_queue, order = {}, {}
  for _, job in ipairs(jobs) do
    local q = job[1]
    if not by_queue[q] then by_queue[q] = {} order[#order + 1] = q end
    table.insert(by_queue[q], job)
  end
  local texts = {}
  for _, q in ipairs(order) do
    local ids = {}
    for _, job in ipairs(by_queue[q]) do ids[#ids + 1] = job[2] end
    local states = redis.call('HMGET', A.state_prefix .. q, unpack(ids))
    local specs = redis.call('HMGET', A.spec_prefix .. q, unpack(ids))
    for k, job in ipairs(by_queue[q]) do texts[job] = {states[k] or '', specs[k] or ''} end
  end
  for _, job in ipairs(jobs) do
    for _, v in ipairs({job[1], job[2], job[3], texts[job][1], texts[job][2]}) do out[#out + 1] = v end
  end
end
local reply = {TAG, t[1], t[2], previous, total, #picked, redis.call('HLEN', K.v1_jobs)}
append(reply, picked)
local window = tonumber(A.window)
local waits, upcoming = 0, {}
if window > 0 and total <= batch and not wrong_type(K.waiting_ticks, 'zset') then
  redis.call('ZREMRANGEBYSCORE', K.waiting_ticks, '-inf', now)
  if redis.call('ZCARD', K.waiting_ticks) < tonumber(A.max_waiting) then
    local us = tonumber(t[2]) + window
    local deadline = string.format('%d%06d', tonumber(t[1]) + math.floor(us / 1000000), us % 1000000)
    redis.call('ZADD', K.waiting_ticks, deadline, A.tick_id)
    waits = 1
    local room = tonumber(A.max_upcoming)
    -- Queues with due jobs too: their heads are due now, their next jobs may fall in the window.
    for _, q in ipairs(usable(redis.call('ZRANGEBYSCORE', K.heads, '-inf', deadline))) do
      if room <= 0 then break end
      local ids = redis.call('ZRANGEBYSCORE', A.next_prefix .. q, '(' .. until_score, deadline, 'WITHSCORES', 'LIMIT', 0, room)
      for j = 1, #ids, 2 do upcoming[#upcoming + 1] = {q, ids[j], ids[j + 1]} end
      room = room - #ids / 2
    end
    table.sort(upcoming, function(a, b) return tonumber(a[3]) < tonumber(b[3]) end)
  end
end
reply[#reply + 1] = waits
reply[#reply + 1] = #upcoming
append(reply, upcoming)
for _, c in ipairs(corrupt) do reply[#reply + 1] = c end
local add, set, started = {}, {}, tonumber(A.started)
if not started then
  started = tonumber(now)
  add.ticks = 1
  set.clock_skew_us = string.format('%d', started - tonumber(A.host_us))
end
if total == 0 then observe(add, 'tick', tonumber(now) - started) end
-- A metrics key of another type stops the counting, not the firing (the commit reports it).
if not wrong_type(K.metrics, 'hash') then bump(K.metrics, add, set) end
return reply
"#)
);

/// The most fires one tick waits for (a window of 1.5 s holds this many at 3,300 fires/s);
/// beyond it, fires go out with the next tick's due batches.
const MAX_UPCOMING: i64 = 5000;

/// The Redis server's clock, carried forward with the monotonic clock so that a tick can wait
/// for an instant without asking Redis again.
#[derive(Clone, Copy, Debug)]
pub(super) struct ServerClock {
    read_at: Instant,
    server_us: i64,
}

impl ServerClock {
    /// The server's clock when the claim read it, Unix µs.
    pub(super) fn read_us(&self) -> i64 {
        self.server_us
    }

    /// Never ahead of the server: its clock was read before the reply arrived.
    pub(super) fn now_us(&self) -> i64 {
        self.server_us + i64::try_from(self.read_at.elapsed().as_micros()).unwrap_or(i64::MAX / 2)
    }
}

/// A job a claim read: where it is, when it is due (its score, UTC µs) and its texts ('' when
/// the job is gone).
#[derive(Clone, Debug)]
pub(super) struct ClaimedJob {
    pub queue: String,
    pub job_id: String,
    pub due_us: i64,
    pub state: String,
    pub spec: String,
}

/// A batch read by [`claim`].
pub(super) struct Claimed {
    pub clock: ServerClock,
    pub previous_tick_us: Option<i64>,
    /// Jobs due in all (the batch is some of them).
    pub total_due: usize,
    pub due: Vec<ClaimedJob>,
    /// Layout-1 jobs an upgrade has yet to move.
    pub v1_left: u64,
    /// Whether this tick may wait for fires' instants (it registered as a waiting tick).
    pub waits: bool,
    /// Fires due within the on-time window, oldest first.
    pub upcoming: Vec<ClaimedJob>,
    /// Queues left out because a key of theirs has the wrong type: `<queue>: <what>`.
    pub corrupt: Vec<String>,
}

/// The server clock, the previous tick and up to a batch of due jobs (plus, on the last batch
/// of a tick that publishes on the instant, the coming window's fires): one round trip.
///
/// `started_us`: the server clock at the tick's first claim (`None`: this is it); `host_us`:
/// the host's clock now, for the skew.
pub(super) fn claim(redis: &dyn Redis, store: &RedisStore, options: TickOptions, tick_id: u64, started_us: Option<i64>, host_us: i64) -> Result<Claimed> {
    let keys = store.keys();
    let reply = CLAIM
        .call()
        .key("format", keys.format())
        .key("heads", keys.heads())
        .key("last_tick", keys.last_tick())
        .key("waiting_ticks", keys.waiting_ticks())
        .key("metrics", keys.metrics())
        .key("v1_jobs", keys.v1().jobs)
        .arg("spec_prefix", keys.queue_prefix("spec"))
        .arg("state_prefix", keys.queue_prefix("state"))
        .arg("next_prefix", keys.queue_prefix("next"))
        .arg("lookahead", i64::from(options.lookahead_secs))
        .arg("batch", super::BATCH)
        .arg("random", (crate::random::u64() >> 33) as i64)
        .arg("window", i64::from(options.on_time_window_ms) * 1000)
        .arg("tick_id", tick_id.to_string())
        .arg("max_waiting", MAX_WAITING_TICKS)
        .arg("max_upcoming", MAX_UPCOMING)
        .arg("started", started_us.map(|us| us.to_string()).unwrap_or_default())
        .arg("host_us", host_us)
        .run(redis)
        .map_err(|e| anyhow::Error::new(crate::store::redis::script_error(e)))
        .context("reading due jobs")?;
    let clock = ServerClock { read_at: Instant::now(), server_us: time_us(&reply).context("the claim's reply starts without TIME")? };
    let previous_tick_us = reply.get(2).and_then(text).and_then(|t| t.parse().ok());
    let total_due = reply.get(3).and_then(int).context("due count")?.max(0) as usize;
    let batch = reply.get(4).and_then(int).context("batch size")?.max(0) as usize;
    let v1_left = reply.get(5).and_then(int).unwrap_or(0).max(0) as u64;
    let mut rest = reply.get(6..).unwrap_or_default().iter();
    let due = jobs(&mut rest, batch);
    let waits = rest.next().and_then(int) == Some(1);
    let upcoming_count = rest.next().and_then(int).unwrap_or(0).max(0) as usize;
    let upcoming = jobs(&mut rest, upcoming_count);
    let corrupt = rest.filter_map(text).collect();
    Ok(Claimed { clock, previous_tick_us, total_due, due, v1_left, waits, upcoming, corrupt })
}

fn jobs<'a>(values: &mut impl Iterator<Item = &'a RedisValue>, count: usize) -> Vec<ClaimedJob> {
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let mut next = || values.next().and_then(text).unwrap_or_default();
        let (queue, job_id, score, state, spec) = (next(), next(), next(), next(), next());
        let due_us = score.parse::<f64>().map(|s| s.round() as i64).unwrap_or(0);
        out.push(ClaimedJob { queue, job_id, due_us, state, spec });
    }
    out
}

/// How many ticks may wait for their fires' instants at once, across replicas: with ticks
/// every second and a 1.5 s window two overlap, a third covers for one that died.
const MAX_WAITING_TICKS: i64 = 3;
