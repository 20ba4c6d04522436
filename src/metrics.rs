//! Prometheus metrics (`GET /funboost/metrics`). The counters and histograms live in one Redis
//! hash, `{prefix}:metrics`, written by the scripts a tick runs anyway (the claim and the
//! commit, see [`metrics_lua!`]), so they cost no round trip and each one changes in the same
//! atomic step as what it counts. A scrape reads them, the jobs by queue and status and the
//! clocks with one script, and [`render`] writes the text exposition format by hand.
//!
//! Fields of the hash (`\x1f` is the unit separator, `<le>` a bucket's upper bound in ms or
//! `inf`; histogram buckets are stored per bucket, not cumulated):
//!
//! | field | what |
//! |---|---|
//! | `fires\x1f<queue>` | messages published by ticks (due and ahead; not run-now) |
//! | `missed\x1f<queue>`, `coalesced\x1f<queue>` | scheduled times dropped by the misfire rules |
//! | `conflicts\x1f<queue>` | fires not published because the job changed first (compare-and-set lost) |
//! | `push_failures\x1f<queue>` | jobs whose push failed (retried a minute later) |
//! | `quarantined\x1f<queue>` | jobs stopped with status `error` (unreadable or unschedulable) |
//! | `ticks` | ticks that claimed (every tick's first claim) |
//! | `clock_skew_us` | Redis's clock minus the host's, as the last tick's first claim saw it |
//! | `tick\x1f<le>`, `tick_sum_us` | tick duration histogram |
//! | `lateness\x1f<le>`, `lateness_sum_us` | fire lateness histogram (due fires only) |
//!
//! Only the `redis` store is measured: memory-store jobs are neither counted nor listed. The
//! changes made through the API are counted by route and token name in `{prefix}:audit_counts`,
//! beside the audit trail (`crate::audit`).

use std::fmt::Write;

use crate::error::ApiError;
use crate::host::Redis;
use crate::store::redis::{int, script_error, text, time_us};

/// Upper bounds of the histogram buckets, ms (then +Inf), as the scripts write them.
#[macro_export]
#[doc(hidden)]
macro_rules! buckets_lua {
    () => {
        "{1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000}"
    };
}

/// The buckets' `le` labels, seconds: [`buckets_lua!`] then `+Inf`.
const LE: [&str; 13] = ["0.001", "0.002", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "+Inf"];

/// Lua: `bump(hash, add, set)` adds the numbers of table `add` to fields of `hash` and sets the
/// fields of `set`, with one HMGET and one HSET however many fields (a script runs alone, so
/// reading then writing is atomic); `count(add, field, n)` and `observe(add, name, us)` (one
/// histogram observation) collect into `add`.
#[macro_export]
#[doc(hidden)]
macro_rules! metrics_lua {
    () => {
        concat!(
            r#"
local function bump(hash, add, set)
  local fields, out = {}, {}
  for f in pairs(add) do fields[#fields + 1] = f end
  local old = #fields > 0 and redis.call('HMGET', hash, unpack(fields)) or {}
  for k, f in ipairs(fields) do
    out[#out + 1] = f
    out[#out + 1] = string.format('%d', (tonumber(old[k]) or 0) + add[f])
  end
  for f, v in pairs(set) do out[#out + 1] = f; out[#out + 1] = v end
  if #out > 0 then redis.call('HSET', hash, unpack(out)) end
end
local function count(add, field, n)
  if n ~= 0 then add[field] = (add[field] or 0) + n end
end
local function observe(add, name, us)
  us = math.max(0, us)
  local le = 'inf'
  for _, ms in ipairs("#,
            $crate::buckets_lua!(),
            r#") do
    if us <= ms * 1000 then le = tostring(ms) break end
  end
  count(add, name .. '\31' .. le, 1)
  count(add, name .. '_sum_us', us)
end
"#
        )
    };
}

/// The Prometheus text format's content type.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What a scrape reads (see [`SCRAPE`]).
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// The Redis clock, Unix µs.
    pub now_us: i64,
    pub last_tick_us: Option<i64>,
    pub clock_skew_us: Option<i64>,
    pub ticks: i64,
    /// Layout-1 jobs an upgrade has yet to move.
    pub upgrade_pending: i64,
    /// Tick duration and fire lateness: the cumulative counts of the 13 buckets, then the sum (µs).
    pub histograms: [[i64; 14]; 2],
    /// By queue name: jobs by [`STATUSES`], then the [`COUNTERS`].
    pub queues: Vec<(String, [i64; 11])>,
    /// Changes made through the API: route, token name, count.
    pub changes: Vec<(String, String, i64)>,
}

const STATUSES: [&str; 5] = ["scheduled", "held", "paused", "finished", "error"];

const COUNTERS: [(&str, &str); 6] = [
    ("fires_total", "Messages published by ticks (due or ahead; not run-now)."),
    ("missed_total", "Scheduled fires dropped: later than misfire_grace_time."),
    ("coalesced_total", "Scheduled fires merged into one by coalesce."),
    ("conflicts_total", "Fires not published because the job changed first (compare-and-set lost)."),
    ("push_failures_total", "Jobs whose push to the queue failed (retried a minute later)."),
    ("quarantined_total", "Jobs stopped with status error because they could not be read or scheduled."),
];

const HISTOGRAMS: [(&str, &str); 2] = [
    ("tick_duration_seconds", "A tick's first claim to its last due batch's commit, Redis clock (not the on-time wait)."),
    ("fire_lateness_seconds", "Scheduled instant to publish (Redis clock in the commit), fires published when due."),
];

crate::lua_script!(
    /// Reads TIME, the last tick ('' if none), the clock skew ('' if none), the tick count, the
    /// layout-1 jobs an upgrade has yet to move, the two histograms (cumulative buckets, then the
    /// sum), the changes counts (how many, then field and count each), then per queue (every
    /// queue with jobs or counts, by name): name, jobs scheduled,
    /// held, paused, finished and in error, then the counters. O(queues × log jobs): each status
    /// is a score range of the queue's `next` index.
    SCRAPE = "scrape", 1,
    keys [metrics, last_tick, job_queues, paused_queues, v1_jobs, audit_counts],
    args [next_prefix],
    entry [],
    concat!(
        crate::stopped_lua!(),
        r#"
local t = redis.call('TIME')
local h, raw = {}, redis.call('HGETALL', K.metrics)
for k = 1, #raw, 2 do h[raw[k]] = tonumber(raw[k + 1]) end
local function n(field) return h[field] or 0 end
local reply = {TAG, t[1], t[2], redis.call('GET', K.last_tick) or '', h.clock_skew_us or '', n('ticks'), redis.call('HLEN', K.v1_jobs)}
for _, name in ipairs({'tick', 'lateness'}) do
  local c = 0
  for _, ms in ipairs("#,
        buckets_lua!(),
        r#") do
    c = c + n(name .. '\31' .. ms)
    reply[#reply + 1] = c
  end
  reply[#reply + 1] = c + n(name .. '\31inf')
  reply[#reply + 1] = n(name .. '_sum_us')
end
local changes = {}
if redis.call('TYPE', K.audit_counts).ok == 'hash' then changes = redis.call('HGETALL', K.audit_counts) end
reply[#reply + 1] = #changes / 2
for _, v in ipairs(changes) do reply[#reply + 1] = v end
local counters = {'fires', 'missed', 'coalesced', 'conflicts', 'push_failures', 'quarantined'}
local seen, queues = {}, {}
local function add(q)
  if not seen[q] then seen[q] = true queues[#queues + 1] = q end
end
for _, q in ipairs(redis.call('SMEMBERS', K.job_queues)) do add(q) end
for f in pairs(h) do
  local c, q = string.match(f, '^(.-)\31(.*)$')
  if q and c ~= 'tick' and c ~= 'lateness' then add(q) end
end
table.sort(queues)
for _, q in ipairs(queues) do
  local next = A.next_prefix .. q
  local running = redis.call('ZCOUNT', next, '-inf', '(' .. STOPPED)
  local scheduled, held = running, 0
  if redis.call('SISMEMBER', K.paused_queues, q) == 1 then scheduled, held = 0, running end
  local statuses = {scheduled, held, redis.call('ZCOUNT', next, PAUSED, PAUSED), redis.call('ZCOUNT', next, FINISHED, FINISHED), redis.call('ZCOUNT', next, ERROR, ERROR)}
  reply[#reply + 1] = q
  for _, v in ipairs(statuses) do reply[#reply + 1] = v end
  for _, c in ipairs(counters) do reply[#reply + 1] = n(c .. '\31' .. q) end
end
return reply
"#
    )
);

/// Reads a [`Snapshot`] with one script.
pub fn read(redis: &dyn Redis, store: &crate::store::redis::RedisStore) -> Result<Snapshot, ApiError> {
    let keys = store.keys();
    let reply = SCRAPE
        .call()
        .key("metrics", keys.metrics())
        .key("last_tick", keys.last_tick())
        .key("job_queues", keys.job_queues())
        .key("paused_queues", keys.paused_queues())
        .key("v1_jobs", keys.v1().jobs)
        .key("audit_counts", keys.audit_counts())
        .arg("next_prefix", keys.queue_prefix("next"))
        .run(redis)
        .map_err(script_error)?;
    let number = |i: usize| reply.get(i).and_then(int);
    let mut snapshot = Snapshot {
        now_us: time_us(&reply).ok_or_else(|| ApiError::store_unavailable("the metrics script returned no TIME"))?,
        last_tick_us: number(2),
        clock_skew_us: number(3),
        ticks: number(4).unwrap_or(0),
        upgrade_pending: number(5).unwrap_or(0),
        ..Snapshot::default()
    };
    for (k, value) in snapshot.histograms.iter_mut().flatten().enumerate() {
        *value = number(6 + k).unwrap_or(0);
    }
    let changes = number(34).unwrap_or(0).max(0) as usize;
    for pair in reply.get(35..35 + 2 * changes).unwrap_or_default().chunks_exact(2) {
        let field = text(&pair[0]).unwrap_or_default();
        let (route, token) = field.split_once('\u{1f}').unwrap_or((field.as_str(), ""));
        snapshot.changes.push((route.to_string(), token.to_string(), int(&pair[1]).unwrap_or(0)));
    }
    snapshot.changes.sort();
    for row in reply.get(35 + 2 * changes..).unwrap_or_default().chunks_exact(12) {
        let mut values = [0; 11];
        for (value, v) in values.iter_mut().zip(&row[1..]) {
            *value = int(v).unwrap_or(0);
        }
        snapshot.queues.push((text(&row[0]).unwrap_or_default(), values));
    }
    Ok(snapshot)
}

/// The text exposition format of `snapshot`.
pub fn render(snapshot: &Snapshot) -> String {
    let mut out = String::with_capacity(4096);
    header(&mut out, "jobs", "gauge", "Jobs of the redis store by queue and status (held: the queue's scheduler is paused).");
    for (queue, values) in &snapshot.queues {
        for (status, n) in STATUSES.iter().zip(values) {
            let _ = writeln!(out, "funboost_edge_jobs{{queue=\"{}\",status=\"{status}\"}} {n}", Escaped(queue));
        }
    }
    for (k, (name, help)) in COUNTERS.iter().enumerate() {
        header(&mut out, name, "counter", help);
        for (queue, values) in &snapshot.queues {
            let _ = writeln!(out, "funboost_edge_{name}{{queue=\"{}\"}} {}", Escaped(queue), values[STATUSES.len() + k]);
        }
    }
    header(&mut out, "changes_total", "counter", "Changes made through the API (each has an audit record), by route and token name.");
    for (route, token, n) in &snapshot.changes {
        let _ = writeln!(out, "funboost_edge_changes_total{{route=\"{}\",token=\"{}\"}} {n}", Escaped(route), Escaped(token));
    }
    header(&mut out, "ticks_total", "counter", "Ticks run (cron or HTTP).");
    let _ = writeln!(out, "funboost_edge_ticks_total {}", snapshot.ticks);
    header(&mut out, "upgrade_pending_jobs", "gauge", "Jobs still in the store's previous layout, which the ticks are moving.");
    let _ = writeln!(out, "funboost_edge_upgrade_pending_jobs {}", snapshot.upgrade_pending);
    for ((name, help), values) in HISTOGRAMS.iter().zip(&snapshot.histograms) {
        header(&mut out, name, "histogram", help);
        for (le, n) in LE.iter().zip(values) {
            let _ = writeln!(out, "funboost_edge_{name}_bucket{{le=\"{le}\"}} {n}");
        }
        let _ = writeln!(out, "funboost_edge_{name}_sum {}\nfunboost_edge_{name}_count {}", Seconds(values[13]), values[12]);
    }
    let gauges = [
        ("last_tick_age_seconds", "Seconds since the last tick started (Redis clock).", snapshot.last_tick_us.map(|last| snapshot.now_us - last)),
        ("clock_skew_seconds", "Redis's clock minus the ticking host's, as the last tick saw it.", snapshot.clock_skew_us),
    ];
    for (name, help, value) in gauges {
        header(&mut out, name, "gauge", help);
        if let Some(us) = value {
            let _ = writeln!(out, "funboost_edge_{name} {}", Seconds(us));
        }
    }
    out
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP funboost_edge_{name} {help}\n# TYPE funboost_edge_{name} {kind}");
}

/// Microseconds as seconds, without trailing zeros (`1500` → `0.0015`, `2000000` → `2`).
struct Seconds(i64);

impl std::fmt::Display for Seconds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let (whole, mut micros, mut width) = (self.0.unsigned_abs() / 1_000_000, self.0.unsigned_abs() % 1_000_000, 6);
        if micros == 0 {
            return write!(f, "{sign}{whole}");
        }
        while micros % 10 == 0 {
            micros /= 10;
            width -= 1;
        }
        write!(f, "{sign}{whole}.{micros:0width$}")
    }
}

/// A label value with `\`, `"` and newlines escaped.
struct Escaped<'a>(&'a str);

impl std::fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for c in self.0.chars() {
            match c {
                '\\' => f.write_str("\\\\")?,
                '"' => f.write_str("\\\"")?,
                '\n' => f.write_str("\\n")?,
                c => f.write_char(c)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot() -> Snapshot {
        let mut tick = [10, 10, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11, 12, 6_004_000];
        tick[12] = 12;
        Snapshot {
            now_us: 10_250_000,
            last_tick_us: Some(10_000_000),
            clock_skew_us: Some(-1500),
            ticks: 12,
            upgrade_pending: 0,
            histograms: [tick, [0, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 9000]],
            queues: vec![("gone".into(), [0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0]), ("orders".into(), [3, 0, 1, 0, 1, 7, 1, 0, 0, 0, 1])],
            changes: vec![("/pause_timing_job".into(), "oncall".into(), 2)],
        }
    }

    #[test]
    fn renders_every_family_with_its_samples() {
        let text = render(&snapshot());
        for line in [
            "# HELP funboost_edge_jobs Jobs of the redis store by queue and status (held: the queue's scheduler is paused).",
            "# TYPE funboost_edge_jobs gauge",
            "funboost_edge_jobs{queue=\"orders\",status=\"scheduled\"} 3",
            "funboost_edge_jobs{queue=\"orders\",status=\"held\"} 0",
            "funboost_edge_jobs{queue=\"orders\",status=\"paused\"} 1",
            "funboost_edge_jobs{queue=\"orders\",status=\"finished\"} 0",
            "funboost_edge_jobs{queue=\"orders\",status=\"error\"} 1",
            "funboost_edge_quarantined_total{queue=\"orders\"} 1",
            "funboost_edge_upgrade_pending_jobs 0",
            "# TYPE funboost_edge_fires_total counter",
            "funboost_edge_fires_total{queue=\"orders\"} 7",
            "funboost_edge_fires_total{queue=\"gone\"} 0",
            "funboost_edge_missed_total{queue=\"orders\"} 1",
            "funboost_edge_coalesced_total{queue=\"orders\"} 0",
            "funboost_edge_conflicts_total{queue=\"gone\"} 2",
            "funboost_edge_push_failures_total{queue=\"orders\"} 0",
            "funboost_edge_ticks_total 12",
            "# TYPE funboost_edge_changes_total counter",
            "funboost_edge_changes_total{route=\"/pause_timing_job\",token=\"oncall\"} 2",
            "# TYPE funboost_edge_tick_duration_seconds histogram",
            "funboost_edge_tick_duration_seconds_bucket{le=\"0.001\"} 10",
            "funboost_edge_tick_duration_seconds_bucket{le=\"0.005\"} 11",
            "funboost_edge_tick_duration_seconds_bucket{le=\"5\"} 11",
            "funboost_edge_tick_duration_seconds_bucket{le=\"+Inf\"} 12",
            "funboost_edge_tick_duration_seconds_sum 6.004",
            "funboost_edge_tick_duration_seconds_count 12",
            "funboost_edge_fire_lateness_seconds_bucket{le=\"0.001\"} 0",
            "funboost_edge_fire_lateness_seconds_bucket{le=\"0.002\"} 6",
            "funboost_edge_fire_lateness_seconds_sum 0.009",
            "funboost_edge_fire_lateness_seconds_count 6",
            "funboost_edge_last_tick_age_seconds 0.25",
            "funboost_edge_clock_skew_seconds -0.0015",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
        assert!(text.ends_with('\n'));
        // Every sample follows its own family's TYPE line, and every family has HELP and TYPE.
        let mut family = String::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                family = rest.split(' ').next().unwrap_or_default().to_string();
            } else if !line.starts_with("# HELP ") {
                assert!(line.starts_with(&family), "{line} outside {family}");
            }
        }
        assert_eq!(text.matches("# HELP ").count(), text.matches("# TYPE ").count());
    }

    #[test]
    fn a_fresh_deployment_has_every_family_but_no_tick_age() {
        let text = render(&Snapshot::default());
        assert!(text.contains("funboost_edge_ticks_total 0\n"));
        assert!(text.contains("funboost_edge_fire_lateness_seconds_count 0\n"));
        assert_eq!(text.matches("# TYPE ").count(), 14);
        assert!(!text.lines().any(|l| l.starts_with("funboost_edge_last_tick_age_seconds") || l.starts_with("funboost_edge_clock_skew_seconds")));
    }

    #[test]
    fn label_values_are_escaped_and_seconds_exact() {
        let text = render(&Snapshot { queues: vec![("a\"b\\c\nd".into(), [0; 11])], ..Snapshot::default() });
        assert!(text.contains("funboost_edge_jobs{queue=\"a\\\"b\\\\c\\nd\",status=\"scheduled\"} 0"), "{text}");
        for (us, want) in [(0, "0"), (1, "0.000001"), (1500, "0.0015"), (2_000_000, "2"), (-250_000, "-0.25"), (5_000_000_010, "5000.00001")] {
            assert_eq!(Seconds(us).to_string(), want);
        }
    }

    #[test]
    fn the_le_labels_are_the_lua_buckets_in_seconds() {
        let ms: Vec<f64> = buckets_lua!().trim_matches(['{', '}']).split(", ").map(|v| v.parse().expect("a number")).collect();
        let le: Vec<f64> = LE[..12].iter().map(|v| v.parse().expect("a number")).collect();
        assert_eq!(ms.iter().map(|v| v / 1000.0).collect::<Vec<_>>(), le);
        assert_eq!(LE[12], "+Inf");
        assert!(metrics_lua!().contains(buckets_lua!()) && SCRAPE.text.contains(buckets_lua!()));
    }
}
