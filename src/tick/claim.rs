//! Reading what a tick is to publish: the Redis server's clock, a batch of the jobs due now,
//! and (for a tick that publishes on the instant) the fires of the coming window.

use std::time::Instant;

use anyhow::{Context, Result};

use super::TickOptions;
use crate::host::{Redis, RedisArg, RedisValue};
use crate::store::redis::{bytes, eval, int, text, time_us, RedisStore};

/// KEYS: due, last tick, waiting ticks, metrics. ARGV: look-ahead seconds, batch size, a
/// random number, the on-time window (µs, 0 = none), this tick's id, how many ticks may wait at
/// once, the most upcoming fires to return, when the tick's first claim ran ('' = this is it),
/// the host's clock (µs). Returns the server clock, the previous tick's time (µs, '' if none),
/// how many jobs are due, the batch size n, n due members, whether this tick waits (1 or 0),
/// then upcoming `member, score` pairs; records this tick's time.
///
/// Metrics: the tick's first claim counts the tick and records the clock skew; a claim that
/// finds nothing due ends the tick's due batches, so it observes the tick's duration (an idle
/// tick's is about 0: it is measured on the Redis clock, from the first claim).
///
/// With more due than a batch, the batch is a random window of them, so that tickers running
/// at once (replicas) mostly take different jobs instead of racing for the same ones. On the
/// last batch of what is due, a tick that may wait (fewer than ARGV[6] are waiting, so a slow
/// Redis cannot pile waiting ticks up) registers until its window ends and also gets the
/// fires due within it, oldest first. The texts are read with a plain HMGET after it: passed
/// through Lua, a batch of long strings costs about a millisecond more.
const CLAIM: &str = concat!(
    crate::metrics_lua!(),
    r#"
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
local reply = {t[1], t[2], previous, total, #due}
for _, member in ipairs(due) do reply[#reply + 1] = member end
local window = tonumber(ARGV[4])
local waits = 0
local upcoming = {}
if window > 0 and total <= batch then
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
  if redis.call('ZCARD', KEYS[3]) < tonumber(ARGV[6]) then
    local us = tonumber(t[2]) + window
    local deadline = string.format('%d%06d', tonumber(t[1]) + math.floor(us / 1000000), us % 1000000)
    redis.call('ZADD', KEYS[3], deadline, ARGV[5])
    waits = 1
    upcoming = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. until_score, deadline, 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[7]))
  end
end
reply[#reply + 1] = waits
for _, v in ipairs(upcoming) do reply[#reply + 1] = v end
local add, set, started = {}, {}, tonumber(ARGV[8])
if not started then
  started = tonumber(now)
  add.ticks = 1
  set.clock_skew_us = string.format('%d', started - tonumber(ARGV[9]))
end
if total == 0 then observe(add, 'tick', tonumber(now) - started) end
bump(KEYS[4], add, set)
return reply
"#
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

/// A batch read by [`claim`].
pub(super) struct Claimed {
    pub clock: ServerClock,
    pub previous_tick_us: Option<i64>,
    /// Jobs due in all (the batch is some of them).
    pub total_due: usize,
    /// `(member, job text)`, no text when the job is gone.
    pub due: Vec<(String, Option<String>)>,
    /// Whether this tick may wait for fires' instants (it registered as a waiting tick).
    pub waits: bool,
    /// Fires due within the on-time window: `(member, due µs, job text)`, oldest first.
    pub upcoming: Vec<(String, i64, Option<String>)>,
}

/// The server clock, the previous tick and up to a batch of due jobs (plus, on the last batch
/// of a tick that publishes on the instant, the coming window's fires). Two round trips when
/// anything is due, one otherwise.
///
/// `started_us`: the server clock at the tick's first claim (`None`: this is it); `host_us`:
/// the host's clock now, for the skew.
pub(super) fn claim(redis: &dyn Redis, store: &RedisStore, options: TickOptions, tick_id: u64, started_us: Option<i64>, host_us: i64) -> Result<Claimed> {
    let reply = eval(
        redis,
        CLAIM,
        &[store.due_key(), store.last_tick_key(), store.waiting_ticks_key(), store.metrics_key()],
        vec![
            RedisArg::Int(i64::from(options.lookahead_secs)),
            RedisArg::Int(super::BATCH as i64),
            RedisArg::Int((crate::random::u64() >> 33) as i64),
            RedisArg::Int(i64::from(options.on_time_window_ms) * 1000),
            bytes(tick_id.to_string()),
            RedisArg::Int(MAX_WAITING_TICKS),
            RedisArg::Int(MAX_UPCOMING),
            bytes(started_us.map(|us| us.to_string()).unwrap_or_default()),
            RedisArg::Int(host_us),
        ],
    )
    .context("reading due jobs")?;
    let clock = ServerClock { read_at: Instant::now(), server_us: time_us(&reply).context("the claim's reply starts without TIME")? };
    let previous_tick_us = reply.get(2).and_then(text).and_then(|t| t.parse().ok());
    let total_due = reply.get(3).and_then(int).context("due count")?.max(0) as usize;
    let batch = reply.get(4).and_then(int).context("batch size")?.max(0) as usize;
    let due_members: Vec<String> = reply.iter().skip(5).take(batch).filter_map(text).collect();
    let waits = reply.get(5 + batch).and_then(int) == Some(1);
    let upcoming: Vec<(String, i64)> = reply[(6 + batch).min(reply.len())..]
        .chunks_exact(2)
        .filter_map(|pair| {
            let score = text(&pair[1])?.parse::<f64>().ok()?;
            Some((text(&pair[0])?, score.round() as i64))
        })
        .collect();
    let mut texts = read_texts(redis, store, due_members.iter().chain(upcoming.iter().map(|(member, _)| member)))?.into_iter();
    let due = due_members.into_iter().map(|member| (member, texts.next().flatten())).collect();
    let upcoming = upcoming.into_iter().map(|(member, due_us)| (member, due_us, texts.next().flatten())).collect();
    Ok(Claimed { clock, previous_tick_us, total_due, due, waits, upcoming })
}

/// How many ticks may wait for their fires' instants at once, across replicas: with ticks
/// every second and a 1.5 s window two overlap, a third covers for one that died.
const MAX_WAITING_TICKS: i64 = 3;

/// The stored texts of `members` (one HMGET; none when there are no members).
fn read_texts<'a>(redis: &dyn Redis, store: &RedisStore, members: impl Iterator<Item = &'a String>) -> Result<Vec<Option<String>>> {
    let mut args = vec![bytes(store.jobs_key())];
    args.extend(members.map(|m| bytes(m.as_str())));
    if args.len() == 1 {
        return Ok(Vec::new());
    }
    let texts = redis.execute("HMGET", &args).context("reading due jobs")?;
    Ok(texts
        .into_iter()
        .map(|v| match v {
            RedisValue::Bytes(b) => String::from_utf8(b).ok(),
            _ => None,
        })
        .collect())
}
