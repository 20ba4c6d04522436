//! # Exactly-once firing under chaos
//!
//! `tests/tick_exactly_once.rs` proves the firing guarantee of the product spec (section 6)
//! end to end, with the real release `.wasm` components: every scheduled fire is published
//! exactly once (no fire id appears twice in any queue), and every scheduled time that was not
//! published is counted on its job as missed or coalesced, never lost silently. It adds 272
//! jobs through the HTTP API on five registered queues (interval jobs every 1, 2 and 3 s with a
//! 30 s grace, jobs with a 1 s grace with and without coalescing, jobs with unlimited grace,
//! interval jobs with an end date, date jobs; the REDIS, REDIS_ACK_ABLE, REDIS_BRPOP_LPUSH and
//! REDIS_STREAM broker kinds), then lets eight `funboost-test-host serve --tick-every-ms 250`
//! processes (235 to 265 ms, so their phases drift) race on one redis-server (append-only file, fsync always) for 45 s of firing.
//! Three tickers run with the guest wall clock 5 s behind, 5 s ahead and 3 s ahead (the tick
//! must use the Redis clock). Meanwhile a random ticker is killed with SIGKILL every 1.5 to
//! 3.5 s and replaced; four tickers abort themselves at random just before or after a Redis
//! command, two of them aimed at the commit script, so crashes land between a tick's read and
//! commit scripts and after a commit was applied but before its reply arrived; and the
//! redis-server is shut down and restarted once on the same port and data directory while the
//! tickers keep retrying. After a final catch-up tick the test reads every queue and every
//! stored job and checks, per job: its fire ids are distinct and on the trigger's grid,
//! `fires` equals its number of messages, `fires + missed + coalesced` equals the number of
//! fire times from its first one up to (excluding) the stored `next_run`, nothing due was left
//! behind, jobs with unlimited grace skipped nothing, finished jobs published their whole
//! schedule and were removed; and no message went out before its scheduled time by the Redis
//! clock (publish times, and stream entry ids, which the Redis server stamps itself). One
//! queue's scheduler is paused and resumed every 4 s through the API meanwhile: nothing of it
//! is published while paused, and what came due meanwhile is counted as above. A run
//! checks about 11,000 fires across some 20 kills and 30 to 50 injected crashes, in about a
//! minute.
//!
//! Needs `redis-server` on PATH (or `$FUNBOOST_EDGE_REDIS_SERVER`) and the components built
//! (`cargo build --target wasm32-wasip2 --profile wasm -p funboost-api -p funboost-ticker`); builds
//! the `funboost-test-host` binary itself (or set `$FUNBOOST_EDGE_TEST_HOST_BIN`).
//! `$FUNBOOST_EDGE_CHAOS_SEED` replays the kill schedule of a reported seed.

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::test_host_bin;
use funboost_test_host::test_support::{spin_variables, wasm_path};
use funboost_test_host::{Host, HostConfig};
use serde_json::{json, Value};

/// Per ticker slot: guest wall-clock skew (ms), the chance of aborting before or after a Redis
/// command, which commands ('' = all; [`COMMIT_SCRIPT_TEXT`] = the tick's commit script), and
/// the tick period (ms; around 250 so that the tickers' phases drift and each one wins races).
const SLOTS: [(i64, f64, &str, u64); 8] = [
    (-5000, 0.0, "", 250),
    (5000, 0.0, "", 240),
    (3000, 0.0, "", 260),
    (0, 0.02, "", 245),
    (0, 0.02, "", 255),
    (0, 0.3, COMMIT_SCRIPT_TEXT, 235),
    (0, 0.3, COMMIT_SCRIPT_TEXT, 265),
    (0, 0.0, "", 250),
];
/// The tick's commit script's tag (`src/tick/commit.rs`, `COMMIT`), its first argument.
const COMMIT_SCRIPT_TEXT: &str = "commit/";
/// From the jobs' first scheduled time to the end of the chaos.
const FIRING_SECS: i64 = 45;
/// When the redis-server is restarted, from the first scheduled time.
const REDIS_RESTART_AT_SECS: u64 = 20;
const REDIS_OUTAGE: Duration = Duration::from_millis(2000);
/// A random ticker is killed every KILL_EVERY_MS.0 to .1 ms.
const KILL_EVERY_MS: (u64, u64) = (1500, 3500);
const US: i64 = 1_000_000;

#[test]
fn every_scheduled_fire_is_published_exactly_once_under_chaos() {
    let started = Instant::now();
    let seed = std::env::var("FUNBOOST_EDGE_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64 | 1);
    eprintln!("chaos seed {seed} (FUNBOOST_EDGE_CHAOS_SEED={seed} replays the kill schedule)");
    let mut rng = Rng(seed);

    let dir = TempDir::new("funboost-exactly-once");
    eprintln!("work dir {} (kept on failure: Redis data, AOF and ticker logs)", dir.0.display());
    let bin = test_host_bin();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();

    let mut redis = DurableRedis::start(&dir.0.join("redis"));
    let mut conn = redis.connect();
    for queue in QUEUES {
        register_queue(&mut conn, queue);
    }

    // The components: compiled (or loaded from the shared compile cache) once here, then
    // snapshotted with their compiled copies, so a concurrent rebuild of the .wasm cannot give
    // the ticker processes another build halfway through.
    let variables = spin_variables(&redis.url(), &[]);
    let shared = HostConfig {
        api_wasm: wasm_path("funboost_api"),
        ticker_wasm: Some(wasm_path("funboost_ticker")),
        variables: variables.clone(),
        ..HostConfig::default()
    };
    let compile_started = Instant::now();
    drop(Host::new(shared.clone()).expect("Host::new"));
    let wasm = snapshot_components(&shared, &dir.0.join("wasm"));
    let host = Host::new(HostConfig { api_wasm: wasm.0.clone(), ticker_wasm: Some(wasm.1.clone()), variables: variables.clone(), ..HostConfig::default() })
        .expect("Host::new");
    eprintln!("components ready in {:?}", compile_started.elapsed());

    // The racing tickers. The first one starts alone: if this host binary's engine cannot use
    // the compiled copies, it compiles once and caches for the others.
    let spawner = Spawner { bin, wasm, variables: variables.clone(), dir: dir.0.join("tickers") };
    std::fs::create_dir_all(&spawner.dir).unwrap();
    let mut tickers: Vec<Ticker> = Vec::new();
    for slot in 0..SLOTS.len() {
        tickers.push(spawner.spawn(slot));
        if slot == 0 {
            tickers[0].wait_ready(Duration::from_secs(120));
        }
    }
    for ticker in &mut tickers {
        ticker.wait_ready(Duration::from_secs(60));
    }
    // The skew is real: each skewed guest's health endpoint compares its wall clock with Redis
    // TIME. (Only those: the health request's own Redis command could trip a crash injection.)
    for ticker in tickers.iter().filter(|t| SLOTS[t.slot].0 != 0) {
        let skew = SLOTS[ticker.slot].0;
        assert_eq!(SLOTS[ticker.slot].1, 0.0, "skewed slots run without crash injection");
        let health = http_get(ticker.addr.as_deref().unwrap(), "/funboost/health");
        let measured = health["data"]["clock_skew_ms"].as_i64().unwrap_or_else(|| panic!("health of ticker {}: {health}", ticker.slot));
        assert!((measured - skew).abs() < 2000, "ticker {} should run {skew} ms off, its guest reports {measured} ms: {health}", ticker.slot);
    }
    eprintln!("{} tickers up after {:?} (skews {:?} ms)", tickers.len(), started.elapsed(), SLOTS.map(|s| s.0));

    // The jobs, with explicit start dates a few seconds ahead so that the schedule is known.
    let now_us = redis_now_us(&mut conn);
    let base_us = (now_us / US + 8) * US;
    let mut plans = plans(base_us);
    let adding = Instant::now();
    for plan in &mut plans {
        let body = plan.add_body();
        let response = runtime
            .block_on(host.request("POST", "/funboost/add_timing_job", &[("content-type", "application/json")], body.to_string().into_bytes()))
            .expect("add request");
        assert_eq!(response.status, 200, "adding {}/{}: {}", plan.queue, plan.job_id, response.text());
        // Normally the start date; on a machine so slow that the start passed while adding,
        // APScheduler's first fire time after the creation instant.
        let reply: Value = serde_json::from_slice(&response.body).expect("add reply is JSON");
        let next = reply["data"]["next_run_time"].as_str().unwrap_or_else(|| panic!("add reply without next_run_time: {reply}"));
        plan.first_us =
            chrono::DateTime::parse_from_str(next, "%Y-%m-%d %H:%M:%S%.f%:z").unwrap_or_else(|e| panic!("next_run_time {next:?}: {e}")).timestamp_micros();
    }
    let now_us = redis_now_us(&mut conn);
    eprintln!("{} jobs added in {:?}; first fires in {} ms", plans.len(), adding.elapsed(), (base_us - now_us) / 1000);
    let first_fire = Instant::now() + Duration::from_micros((base_us - now_us).max(0) as u64);
    drop(conn);

    // Chaos until FIRING_SECS after the first scheduled time.
    let chaos_end = first_fire + Duration::from_secs(FIRING_SECS as u64);
    let restart_at = first_fire + Duration::from_secs(REDIS_RESTART_AT_SECS);
    let mut stats = ChaosStats::default();
    let mut next_kill = Instant::now() + Duration::from_millis(rng.between(KILL_EVERY_MS.0, KILL_EVERY_MS.1));
    let mut restarted = false;
    let mut queue_switch = QueueSwitch { next_at: first_fire + QUEUE_SWITCH_EVERY, paused_since_us: None, paused: Vec::new() };
    while Instant::now() < chaos_end {
        queue_switch.step(&runtime, &host);
        for ticker in tickers.iter_mut() {
            if let Some(status) = ticker.child.try_wait().expect("try_wait") {
                stats.exits.push(format!("ticker {} exited by itself: {status}", ticker.slot));
                ticker.finish();
                *ticker = spawner.spawn(ticker.slot);
            }
        }
        if Instant::now() >= next_kill {
            let slot = rng.between(0, tickers.len() as u64 - 1) as usize;
            tickers[slot].kill();
            tickers[slot] = spawner.spawn(slot);
            stats.kills += 1;
            next_kill = Instant::now() + Duration::from_millis(rng.between(KILL_EVERY_MS.0, KILL_EVERY_MS.1));
        }
        if !restarted && Instant::now() >= restart_at {
            let outage = Instant::now();
            redis.shutdown();
            std::thread::sleep(REDIS_OUTAGE);
            redis.restart();
            eprintln!("redis-server restarted (down for {:?}, AOF reloaded)", outage.elapsed());
            restarted = true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    while queue_switch.paused_since_us.is_some() {
        queue_switch.next_at = Instant::now();
        queue_switch.step(&runtime, &host);
        std::thread::sleep(Duration::from_millis(100));
    }
    for ticker in &mut tickers {
        ticker.kill();
    }
    let chaos_secs = first_fire.elapsed().as_secs_f64();

    // One last tick publishes whatever was due when the chaos stopped, so that every job's
    // stored next run is in the future and finished jobs are gone.
    let mut conn = redis.connect();
    let drain_from_us = redis_now_us(&mut conn);
    let tick = runtime.block_on(host.cron(drain_from_us as u64 / US as u64)).expect("cron call");
    assert_eq!(tick, Ok(()), "the catch-up tick failed");
    let drain_to_us = redis_now_us(&mut conn);

    // Every message of every queue.
    let messages = read_messages(&mut conn);
    let stored = read_jobs(&mut conn);
    let due_members: HashSet<String> = stored
        .keys()
        .filter(|member| {
            let (queue, job_id) = member.split_once('\u{1f}').expect("queue and id");
            common::due_score(&mut conn, queue, job_id).is_some()
        })
        .cloned()
        .collect();
    let logs = spawner.read_logs();
    let report = verify(&plans, &messages, &stored, &due_members, drain_from_us, drain_to_us, &queue_switch.paused);
    assert!(queue_switch.paused.len() >= 3, "the queue's scheduler was paused only {} times", queue_switch.paused.len());

    let crashes = count_lines(&logs, "funboost-test-host: injected crash ");
    let failures: Vec<&str> = logs.lines().filter(|l| l.contains("tick failed") || l.contains("tick trapped")).collect();
    let mut failure_kinds: BTreeMap<String, usize> = BTreeMap::new();
    for line in &failures {
        *failure_kinds.entry(line.chars().take(200).collect()).or_insert(0) += 1;
    }
    eprintln!("---- exactly-once report ----");
    eprintln!(
        "fires checked: {} messages from {} jobs ({} finished), {} distinct fire ids; missed {} and coalesced {} counted on the jobs",
        messages.len(),
        plans.len(),
        report.finished,
        report.distinct,
        report.missed,
        report.coalesced
    );
    eprintln!("per group (fires/missed/coalesced): {:?}", report.groups);
    eprintln!(
        "tickers: {} racing, {} SIGKILLs, {} self-aborts ({}), {} other exits, {} failed ticks, 1 redis-server restart",
        SLOTS.len(),
        stats.kills,
        crashes.values().sum::<usize>(),
        crashes.iter().map(|(k, v)| format!("{v} {k}")).collect::<Vec<_>>().join(", "),
        stats.exits.len() - crashes.values().sum::<usize>().min(stats.exits.len()),
        failures.len()
    );
    for (kind, n) in &failure_kinds {
        eprintln!("  {n} x {kind}");
    }
    eprintln!("firing window {chaos_secs:.1} s, whole test {:.1} s", started.elapsed().as_secs_f64());
    if !report.problems.0.is_empty() {
        eprintln!("ticker logs, Redis data and AOF kept in {}", dir.0.display());
        dir.keep();
        panic!("{}", report.problems);
    }
    assert!(stats.kills > 0, "no ticker was killed");
    // Guards the chaos itself: if the commit script no longer contains COMMIT_SCRIPT_TEXT, the
    // targeted crashes silently stop happening (~30 are expected).
    let at_commit: usize = crashes.iter().filter(|(label, _)| label.contains("commit script")).map(|(_, n)| n).sum();
    assert!(at_commit > 0, "no injected crash around the commit script: does src/tick.rs COMMIT still contain {COMMIT_SCRIPT_TEXT:?}?");
}

// ---- the jobs ----

const QUEUES: [&str; 5] = ["eo_fast", "eo_slow", "eo_strict", "eo_unlimited", "eo_finite"];

#[derive(Clone, Debug)]
enum Kind {
    Interval { start_us: i64, every_us: i64, end_us: Option<i64> },
    Date { at_us: i64 },
}

#[derive(Clone, Debug)]
struct Plan {
    group: &'static str,
    queue: &'static str,
    job_id: String,
    n: usize,
    kind: Kind,
    grace: Option<u32>,
    coalesce: bool,
    broker: &'static str,
    /// The job's first fire time, as the add request answered (the grid starts there).
    first_us: i64,
}

/// ~270 jobs, all first due within 3 s of `base_us` (a whole second). Start dates fall on the
/// four quarters of a second (exact in APScheduler's float arithmetic), so that nearly every
/// tick of every ticker finds due jobs and the tickers race for them.
fn plans(base_us: i64) -> Vec<Plan> {
    let mut plans = Vec::new();
    let mut add = |group, queue, count: usize, kind: &dyn Fn(usize) -> Kind, grace, coalesce, broker| {
        for i in 0..count {
            let job_id = format!("{group}-{i:03}");
            plans.push(Plan { group, queue, job_id, n: plans.len(), kind: kind(i), grace, coalesce, broker, first_us: 0 });
        }
    };
    let quarter = |i: usize| (i % 4) as i64 * US / 4;
    let every =
        |i: usize, start_secs: usize, secs: i64| Kind::Interval { start_us: base_us + start_secs as i64 * US + quarter(i), every_us: secs * US, end_us: None };
    // Every second, 30 s grace, coalescing (funboost's default): the bulk of the fires.
    add("fast", "eo_fast", 200, &|i| every(i, i % 3, 1), Some(30), true, "REDIS");
    add("slow", "eo_slow", 12, &|i| every(i, i % 3, 2 + (i % 2) as i64), Some(30), true, "REDIS_ACK_ABLE");
    // 1 s grace: the Redis outage and slow starts make misses, counted one by one...
    add("strict", "eo_strict", 24, &|i| every(i, i % 2, 1), Some(1), false, "REDIS_BRPOP_LPUSH");
    // ...or coalesced first.
    add("strict-coalesce", "eo_strict", 8, &|i| every(i, i % 2, 1), Some(1), true, "REDIS_BRPOP_LPUSH");
    // No grace limit and no coalescing: nothing may be skipped at all.
    add("unlimited", "eo_unlimited", 12, &|i| every(i, i % 3, 1), None, false, "REDIS_STREAM");
    // Triggers that end: published in full, then the job is removed.
    add(
        "finite",
        "eo_finite",
        8,
        &|i| Kind::Interval { start_us: base_us + quarter(i), every_us: US, end_us: Some(base_us + (10 + 2 * i as i64) * US) },
        None,
        false,
        "REDIS",
    );
    add("date", "eo_finite", 8, &|i| Kind::Date { at_us: base_us + (2 + 3 * i as i64) * US + quarter(i) }, None, false, "REDIS");
    plans
}

impl Plan {
    fn add_body(&self) -> Value {
        let mut body = json!({
            "queue_name": self.queue,
            "job_id": self.job_id,
            "kwargs": {"n": self.n},
            "coalesce": self.coalesce,
            "broker_kind": self.broker,
            "timezone": "UTC",
            "misfire_grace_time": self.grace,
        });
        match self.kind {
            Kind::Interval { start_us, every_us, end_us } => {
                body["trigger"] = "interval".into();
                body["seconds"] = (every_us / US).into();
                body["start_date"] = utc_text(start_us).into();
                if let Some(end) = end_us {
                    body["end_date"] = utc_text(end).into();
                }
            }
            Kind::Date { at_us } => {
                body["trigger"] = "date".into();
                body["run_date"] = utc_text(at_us).into();
            }
        }
        body
    }

    /// The trigger's fire times from the job's first one up to `to_us` (excluded).
    fn grid(&self, to_us: i64) -> Vec<i64> {
        match self.kind {
            Kind::Interval { every_us, end_us, .. } => {
                let last = end_us.map_or(to_us - 1, |end| end.min(to_us - 1));
                (0..).map(|k| self.first_us + k * every_us).take_while(|&t| t <= last).collect()
            }
            Kind::Date { at_us } => [at_us].into_iter().filter(|&t| t < to_us).collect(),
        }
    }

    fn finite(&self) -> bool {
        matches!(self.kind, Kind::Date { .. } | Kind::Interval { end_us: Some(_), .. })
    }

    fn every_us(&self) -> i64 {
        match self.kind {
            Kind::Interval { every_us, .. } => every_us,
            Kind::Date { .. } => 0,
        }
    }
}

/// `YYYY-MM-DD HH:MM:SS[.ffffff]` in UTC (Python's `str(datetime)` without the offset).
fn utc_text(us: i64) -> String {
    let text = chrono::DateTime::from_timestamp(us.div_euclid(US), 0).unwrap().format("%Y-%m-%d %H:%M:%S").to_string();
    match us.rem_euclid(US) {
        0 => text,
        micros => format!("{text}.{micros:06}"),
    }
}

// ---- checking ----

#[derive(Debug)]
struct Message {
    key: String,
    queue: String,
    job_id: String,
    scheduled_us: i64,
    fire_id: String,
    /// The stream entry id's milliseconds: when the Redis server appended it.
    stream_ms: Option<i64>,
    payload: Value,
}

/// Violations by kind.
#[derive(Default)]
struct Problems(BTreeMap<&'static str, Vec<String>>);

impl Problems {
    fn add(&mut self, kind: &'static str, message: String) {
        self.0.entry(kind).or_default().push(message);
    }
}

impl std::fmt::Display for Problems {
    /// A count per kind, then the first examples of each.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let summary: Vec<String> = self.0.iter().map(|(kind, all)| format!("{} {kind}", all.len())).collect();
        writeln!(f, "exactly-once violated: {}", summary.join(", "))?;
        for (kind, all) in &self.0 {
            writeln!(f, "-- {kind} ({}):", all.len())?;
            for message in all.iter().take(8) {
                let cut: String = message.chars().take(700).collect();
                writeln!(f, "   {cut}{}", if cut.len() < message.len() { " …" } else { "" })?;
            }
        }
        Ok(())
    }
}

#[derive(Default)]
struct Report {
    problems: Problems,
    distinct: usize,
    finished: usize,
    missed: u64,
    coalesced: u64,
    groups: BTreeMap<&'static str, (u64, u64, u64)>,
}

fn verify(
    plans: &[Plan],
    messages: &[Message],
    stored: &HashMap<String, Value>,
    due: &HashSet<String>,
    drain_from_us: i64,
    drain_to_us: i64,
    paused: &[(i64, i64)],
) -> Report {
    let mut report = Report::default();
    let problems = &mut report.problems;

    // Nothing of a queue is published while its scheduler is paused. (A fire stamped just
    // before the pause may be committed a moment later: allow 300 ms.)
    for m in messages.iter().filter(|m| m.queue == SWITCHED_QUEUE) {
        let published_us = (m.payload["extra"]["publish_time"].as_f64().unwrap_or(0.0) * 1e6) as i64;
        if let Some((from, to)) = paused.iter().find(|(from, to)| published_us > from + 300_000 && published_us < *to) {
            problems.add("published while paused", format!("{} published at {published_us} while its queue was paused ({from}..{to})", m.fire_id));
        }
    }

    // No fire id twice, anywhere.
    let mut by_fire: HashMap<&str, Vec<&Message>> = HashMap::new();
    for m in messages {
        by_fire.entry(m.fire_id.as_str()).or_default().push(m);
    }
    report.distinct = by_fire.len();
    let mut duplicated: Vec<_> = by_fire.iter().filter(|(_, ms)| ms.len() > 1).collect();
    duplicated.sort_by_key(|(id, _)| *id);
    for (id, ms) in &duplicated {
        let tasks: Vec<&str> = ms.iter().map(|m| m.payload["extra"]["task_id"].as_str().unwrap_or("?")).collect();
        let published: Vec<String> = ms.iter().map(|m| m.payload["extra"]["publish_time"].to_string()).collect();
        problems.add(
            "duplicated fire id",
            format!("fire id {id} published {} times (task ids {tasks:?}, publish times {published:?}, key {})", ms.len(), ms[0].key),
        );
    }
    let task_ids: HashSet<&str> = messages.iter().filter_map(|m| m.payload["extra"]["task_id"].as_str()).collect();
    if task_ids.len() != messages.len() {
        problems.add("task ids", format!("{} messages but {} distinct task ids", messages.len(), task_ids.len()));
    }

    let mut by_job: HashMap<(&str, &str), Vec<&Message>> = HashMap::new();
    for m in messages {
        by_job.entry((m.queue.as_str(), m.job_id.as_str())).or_default().push(m);
    }
    let planned: HashSet<(&str, &str)> = plans.iter().map(|p| (p.queue, p.job_id.as_str())).collect();
    for (queue, job) in by_job.keys() {
        if !planned.contains(&(*queue, *job)) {
            problems.add("unknown job", format!("messages for a job nobody added: {queue}/{job}"));
        }
    }

    for plan in plans {
        let who = format!("{}/{}", plan.queue, plan.job_id);
        let mine: Vec<&Message> = by_job.get(&(plan.queue, plan.job_id.as_str())).cloned().unwrap_or_default();
        let mut times: Vec<i64> = mine.iter().map(|m| m.scheduled_us).collect();
        times.sort_unstable();

        // Each message: right key, right arguments, on time by the Redis clock, consistent ids.
        for m in &mine {
            if m.key != plan.queue {
                problems.add("message content", format!("{who}: message in key {}, expected {}", m.key, plan.queue));
            }
            if m.payload["n"] != json!(plan.n) {
                problems.add("message content", format!("{who}: message kwargs {} (expected n={})", m.payload, plan.n));
            }
            let extra = &m.payload["extra"];
            if extra.get("eta").is_some() {
                problems.add("message content", format!("{who}: message with an eta from a cron tick: {}", m.payload));
            }
            let expected_text = format!("{}+00:00", utc_text(m.scheduled_us));
            if extra["scheduled_time"].as_str() != Some(expected_text.as_str()) {
                problems.add("message content", format!("{who}: scheduled_time {} does not match fire id {}", extra["scheduled_time"], m.fire_id));
            }
            // publish_time is the tick's "now" (Redis TIME), in seconds rounded to 0.1 ms.
            let published_us = extra["publish_time"].as_f64().map(|s| (s * 1e6).round() as i64);
            if published_us.is_none_or(|p| p + 100 < m.scheduled_us) {
                problems.add("published early", format!("{who}: fire {} published early, publish_time {}", m.fire_id, extra["publish_time"]));
            }
            if let Some(ms) = m.stream_ms {
                if ms * 1000 < m.scheduled_us / 1000 * 1000 {
                    problems.add("published early", format!("{who}: fire {} appended to the stream at {ms} ms by the Redis clock, before its time", m.fire_id));
                }
            }
        }
        let distinct: HashSet<i64> = times.iter().copied().collect();
        if distinct.len() != times.len() {
            problems.add("duplicated fire id", format!("{who}: scheduled times published more than once: {times:?}"));
        }

        let member = format!("{}\u{1f}{}", plan.queue, plan.job_id);
        let job = stored.get(&member);
        let (fires, missed, coalesced) = match job {
            Some(job) => (u(job, "fires"), u(job, "missed"), u(job, "coalesced")),
            None => (mine.len() as u64, 0, 0),
        };
        let entry = report.groups.entry(plan.group).or_default();
        entry.0 += fires;
        entry.1 += missed;
        entry.2 += coalesced;
        report.missed += missed;
        report.coalesced += coalesced;

        if plan.finite() {
            // Unlimited grace, no coalescing: the whole schedule, then the job is gone.
            let grid = plan.grid(i64::MAX);
            if let Some(job) = job {
                problems.add("finite job", format!("{who}: finite job still stored after its last fire time passed: {job}"));
            } else {
                report.finished += 1;
            }
            if times != grid {
                problems.add("finite job", format!("{who}: published {times:?}, its whole schedule is {grid:?}"));
            }
            continue;
        }

        let Some(job) = job else {
            problems.add("job state", format!("{who}: job missing from the store ({} messages)", mine.len()));
            continue;
        };
        let Some(next_us) = job["next_run"]["utc_us"].as_i64() else {
            problems.add("job state", format!("{who}: no next_run: {job}"));
            continue;
        };
        let grid = plan.grid(next_us);
        let grid_set: HashSet<i64> = grid.iter().copied().collect();
        let off_grid: Vec<i64> = times.iter().copied().filter(|t| !grid_set.contains(t)).collect();
        if !off_grid.is_empty() {
            problems.add("off the schedule", format!("{who}: published times not on its schedule before next_run {next_us}: {off_grid:?}"));
        }
        let every = plan.every_us();
        let Kind::Interval { start_us, .. } = plan.kind else { unreachable!() };
        if (plan.first_us - start_us) % every != 0 || plan.first_us < start_us {
            problems.add("job state", format!("{who}: first fire time {} is not start {start_us} + k * {every}", plan.first_us));
        }
        if (next_us - start_us) % every != 0 || next_us < plan.first_us {
            problems.add("job state", format!("{who}: stored next_run {next_us} is not a fire time of start {start_us} + k * {every}"));
        }
        if fires != mine.len() as u64 {
            problems.add("fires != messages", format!("{who}: job counts {fires} fires but {} messages were published (times {times:?}): {job}", mine.len()));
        }
        if fires + missed + coalesced != grid.len() as u64 {
            let lost: Vec<i64> = grid.iter().copied().filter(|t| !distinct.contains(t)).collect();
            problems.add("fires + missed + coalesced != fire times", format!(
                "{who}: fires {fires} + missed {missed} + coalesced {coalesced} != {} fire times before next_run {next_us}; unpublished times {lost:?}; job {job}",
                grid.len()
            ));
        }
        if plan.grace.is_none() && missed + coalesced != 0 {
            problems.add("unlimited grace skipped fires", format!("{who}: unlimited grace without coalescing, yet missed {missed} coalesced {coalesced}"));
        }
        // After the catch-up tick nothing may still be due, and nothing was skipped ahead.
        if next_us <= drain_from_us || next_us > drain_to_us + every {
            problems.add("job state", format!("{who}: next_run {next_us} outside ({drain_from_us}, {}] after the catch-up tick", drain_to_us + every));
        }
        if !due.contains(&member) {
            problems.add("job state", format!("{who}: active job not due (missing from its queue's next index, or its queue not in heads)"));
        }
    }
    if stored.len() + report.finished != plans.len() {
        problems.add("job state", format!("{} jobs stored + {} finished, but {} were added", stored.len(), report.finished, plans.len()));
    }
    report
}

fn u(job: &Value, field: &str) -> u64 {
    job[field].as_u64().unwrap_or(u64::MAX / 4)
}

/// Every message in every key outside the app's and funboost's registry keys.
fn read_messages(conn: &mut redis::Connection) -> Vec<Message> {
    let mut keys: Vec<String> = Vec::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN").arg(cursor).arg("COUNT").arg(1000).query(conn).expect("SCAN");
        keys.extend(batch);
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    keys.sort();
    keys.dedup();
    let mut messages = Vec::new();
    for key in keys.iter().filter(|k| !k.starts_with("{funboost_edge}") && !k.starts_with("funboost_")) {
        let kind: String = redis::cmd("TYPE").arg(key).query(conn).expect("TYPE");
        let entries: Vec<(Option<i64>, String)> = match kind.as_str() {
            "list" => redis::cmd("LRANGE").arg(key).arg(0).arg(-1).query::<Vec<String>>(conn).unwrap().into_iter().map(|p| (None, p)).collect(),
            "stream" => redis::cmd("XRANGE")
                .arg(key)
                .arg("-")
                .arg("+")
                .query::<Vec<(String, Vec<String>)>>(conn)
                .unwrap()
                .into_iter()
                .map(|(id, fields)| {
                    assert_eq!(fields.len(), 2, "stream entry {id} of {key}: {fields:?}");
                    assert_eq!(fields[0], "", "stream entry {id} of {key}: field name");
                    (id.split('-').next().and_then(|ms| ms.parse().ok()), fields[1].clone())
                })
                .collect(),
            other => panic!("unexpected key {key} of type {other}"),
        };
        for (stream_ms, text) in entries {
            let payload: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("message in {key} is not JSON ({e}): {text}"));
            let fire_id = payload["extra"]["fire_id"].as_str().unwrap_or_else(|| panic!("message without extra.fire_id in {key}: {text}")).to_string();
            let mut parts = fire_id.rsplitn(3, ':');
            let (Some(scheduled), Some(job_id), Some(queue)) = (parts.next(), parts.next(), parts.next()) else {
                panic!("fire id {fire_id:?} is not <queue>:<job_id>:<µs>");
            };
            let scheduled_us = scheduled.parse().unwrap_or_else(|_| panic!("fire id {fire_id:?}: bad scheduled time"));
            messages.push(Message { key: key.clone(), queue: queue.to_string(), job_id: job_id.to_string(), scheduled_us, fire_id, stream_ms, payload });
        }
    }
    messages
}

/// Every stored job, by `<queue>\x1f<job_id>`.
fn read_jobs(conn: &mut redis::Connection) -> HashMap<String, Value> {
    common::all_stored_jobs(conn).into_iter().map(|((queue, job_id), job)| (format!("{queue}\u{1f}{job_id}"), job)).collect()
}

fn count_lines(logs: &str, prefix: &str) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for line in logs.lines() {
        let Some(rest) = line.split_once(prefix).map(|(_, r)| r) else { continue };
        // "<before|after> EVALSHA <the script's tag>": name the tick's two scripts.
        let label = match (rest.starts_with("before"), rest.contains(" claim/"), rest.contains(" commit/")) {
            (true, true, _) => "before the read script",
            (false, true, _) => "after the read script (before the commit)",
            (true, _, true) => "before the commit script (after the read)",
            (false, _, true) => "after the commit script applied",
            _ => "elsewhere",
        };
        *counts.entry(label.to_string()).or_insert(0) += 1;
    }
    counts
}

#[derive(Default)]
struct ChaosStats {
    kills: usize,
    exits: Vec<String>,
}

// ---- the processes ----

fn register_queue(conn: &mut redis::Connection, queue: &str) {
    let params =
        json!({"queue_name": queue, "auto_generate_info": {"final_func_input_params_info": {"all_arg_name_list": ["n"], "must_arg_name_list": ["n"]}}});
    redis::cmd("SADD").arg("funboost_all_queue_names").arg(queue).exec(conn).expect("SADD");
    redis::cmd("HSET").arg("funboost_queue__consumer_parmas").arg(queue).arg(params.to_string()).exec(conn).expect("HSET");
}

fn redis_now_us(conn: &mut redis::Connection) -> i64 {
    let (secs, micros): (i64, i64) = redis::cmd("TIME").query(conn).expect("TIME");
    secs * US + micros
}

/// A redis-server with an append-only file fsynced on every write, so that a restart on the
/// same directory keeps everything acknowledged.
struct DurableRedis {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
}

impl DurableRedis {
    fn start(dir: &Path) -> DurableRedis {
        std::fs::create_dir_all(dir).unwrap();
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            let mut server = DurableRedis { child: None, port, dir: dir.to_path_buf() };
            if server.spawn().is_ok() {
                return server;
            }
        }
        panic!("redis-server did not start (see {}/redis.log)", dir.display());
    }

    fn spawn(&mut self) -> Result<(), String> {
        let binary = std::env::var("FUNBOOST_EDGE_REDIS_SERVER").unwrap_or_else(|_| "redis-server".to_string());
        let child = Command::new(&binary)
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes", "--appendfsync", "always"])
            .arg("--dir")
            .arg(&self.dir)
            .arg("--logfile")
            .arg(self.dir.join("redis.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {binary} (install redis-server or set FUNBOOST_EDGE_REDIS_SERVER): {e}"));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                self.child = None;
                return Err(format!("redis-server exited: {status}"));
            }
            if self.raw("PING\r\n").starts_with("+PONG") {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err("redis-server did not answer PING".to_string());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// One inline command on a fresh connection; the reply's first bytes ('' on failure).
    fn raw(&self, command: &str) -> String {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else { return String::new() };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        if stream.write_all(command.as_bytes()).is_err() {
            return String::new();
        }
        let mut reply = [0u8; 64];
        let n = stream.read(&mut reply).unwrap_or(0);
        let _ = stream.shutdown(Shutdown::Both);
        String::from_utf8_lossy(&reply[..n]).into_owned()
    }

    /// SHUTDOWN (the AOF is already fsynced after every write), and wait for the exit.
    fn shutdown(&mut self) {
        let reply = self.raw("SHUTDOWN\r\n");
        assert!(reply.is_empty(), "SHUTDOWN answered {reply:?}");
        let mut child = self.child.take().expect("redis-server running");
        let status = child.wait().expect("wait for redis-server");
        assert!(status.success(), "redis-server exited with {status} on SHUTDOWN");
    }

    fn restart(&mut self) {
        self.spawn().unwrap_or_else(|e| panic!("restarting redis-server on port {}: {e} (see {}/redis.log)", self.port, self.dir.display()));
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/7", self.port)
    }

    fn connect(&self) -> redis::Connection {
        redis::Client::open(self.url()).unwrap().get_connection().expect("connect to redis-server")
    }
}

impl Drop for DurableRedis {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Copies the two components and their compiled copies (from `funboost-test-host-cache/`
/// next to them) into `to`; returns the copied (api, ticker) paths.
fn snapshot_components(config: &HostConfig, to: &Path) -> (PathBuf, PathBuf) {
    let cache = to.join("funboost-test-host-cache");
    std::fs::create_dir_all(&cache).unwrap();
    let api = config.api_wasm.clone();
    let ticker = config.ticker_wasm.clone().unwrap();
    let from_cache = api.parent().unwrap().join("funboost-test-host-cache");
    if let Ok(entries) = std::fs::read_dir(&from_cache) {
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().ends_with(".cwasm") {
                let _ = std::fs::copy(entry.path(), cache.join(entry.file_name()));
            }
        }
    }
    let copy = |from: &Path| {
        let target = to.join(from.file_name().unwrap());
        std::fs::copy(from, &target).unwrap_or_else(|e| panic!("copying {}: {e}", from.display()));
        target
    };
    (copy(&api), copy(&ticker))
}

struct Spawner {
    bin: PathBuf,
    wasm: (PathBuf, PathBuf),
    variables: HashMap<String, String>,
    dir: PathBuf,
}

impl Spawner {
    fn spawn(&self, slot: usize) -> Ticker {
        let (skew, crash, only_on, tick_every_ms) = SLOTS[slot];
        let mut generation = 0;
        let log = loop {
            let log = self.dir.join(format!("ticker-{slot}-{generation:03}.log"));
            if !log.exists() {
                break log;
            }
            generation += 1;
        };
        let out = File::create(&log).unwrap();
        let mut command = Command::new(&self.bin);
        command
            .arg("serve")
            .arg("--api")
            .arg(&self.wasm.0)
            .arg("--ticker")
            .arg(&self.wasm.1)
            .args(["--listen", "127.0.0.1:0", "--tick-every-ms", &tick_every_ms.to_string()])
            .args(["--clock-skew-ms", &skew.to_string(), "--crash-chance", &crash.to_string()]);
        if !only_on.is_empty() {
            command.args(["--crash-only-on", only_on]);
        }
        for (name, value) in &self.variables {
            command.arg("--var").arg(format!("{name}={value}"));
        }
        let child = command
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.bin.display()));
        Ticker { slot, child, log, addr: None, done: false }
    }

    fn read_logs(&self) -> String {
        let mut all = String::new();
        for entry in std::fs::read_dir(&self.dir).unwrap().flatten() {
            all.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
        }
        all
    }
}

struct Ticker {
    slot: usize,
    child: Child,
    log: PathBuf,
    addr: Option<String>,
    done: bool,
}

impl Ticker {
    fn wait_ready(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.addr.is_none() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            self.addr = log.lines().find_map(|l| l.strip_prefix("listening on http://")).map(str::to_string);
            if self.addr.is_some() {
                break;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("ticker {} exited ({status}) before it was ready:\n{log}", self.slot);
            }
            assert!(Instant::now() < deadline, "ticker {} not ready after {timeout:?}:\n{log}", self.slot);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: lands wherever the process is, mid-tick included.
    fn kill(&mut self) {
        let _ = self.child.kill();
        self.finish();
    }

    fn finish(&mut self) {
        let _ = self.child.wait();
        self.done = true;
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        if !self.done {
            self.kill();
        }
    }
}

/// GET to a ticker process; the JSON body.
fn http_get(addr: &str, path: &str) -> Value {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // HTTP/1.0: the body comes unchunked, up to the end of the connection.
    write!(stream, "GET {path} HTTP/1.0\r\nhost: {addr}\r\n\r\n").unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    let body = reply.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("GET {path} on {addr}: {e}: {reply}"))
}

/// The queue whose scheduler is paused and resumed during the chaos.
const SWITCHED_QUEUE: &str = "eo_slow";
/// How long the queue runs, then stays paused, in turn.
const QUEUE_SWITCH_EVERY: Duration = Duration::from_secs(4);

/// Pauses and resumes [`SWITCHED_QUEUE`]'s scheduler in turn through the API, recording when
/// it was paused (wall clock µs, from after the pause answered to before the resume was sent).
struct QueueSwitch {
    next_at: Instant,
    paused_since_us: Option<i64>,
    paused: Vec<(i64, i64)>,
}

impl QueueSwitch {
    fn step(&mut self, runtime: &tokio::runtime::Runtime, host: &Host) {
        if Instant::now() < self.next_at {
            return;
        }
        let wall_us = || SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros() as i64;
        let route = if self.paused_since_us.is_some() { "resume_scheduler" } else { "pause_scheduler" };
        let before_us = wall_us();
        let response =
            runtime.block_on(host.request("POST", &format!("/funboost/{route}?queue_name={SWITCHED_QUEUE}"), &[], Vec::new())).expect("switch request");
        if response.status != 200 {
            // Redis is being restarted: try again shortly.
            self.next_at = Instant::now() + Duration::from_millis(200);
            return;
        }
        match self.paused_since_us.take() {
            Some(since) => self.paused.push((since, before_us)),
            None => self.paused_since_us = Some(wall_us()),
        }
        self.next_at = Instant::now() + QUEUE_SWITCH_EVERY;
    }
}

/// xorshift64: the kill schedule, reproducible from the printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in `[low, high]`.
    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1)
    }
}

/// A temporary directory, removed on drop unless kept.
struct TempDir(PathBuf, std::cell::Cell<bool>);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().subsec_nanos();
        let dir = std::env::temp_dir().join(format!("{name}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir, std::cell::Cell::new(false))
    }

    fn keep(&self) {
        self.1.set(true);
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !self.1.get() && !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
