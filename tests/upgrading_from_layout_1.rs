//! A store written by the last layout-1 build (one JSON text per job) moves into layout 2 in
//! place, while it keeps firing, and old and new replicas side by side during a rolling update
//! neither lose nor double a fire. The layout-1 components are built from this repository's
//! history by `scripts/build-layout1` (scripts/prepare runs it; so does this test when they are
//! missing) and run in the same test host as today's.
//!
//! - In place: the old build adds jobs (running, paused, cron, future, a queue whose scheduler
//!   is paused) and fires them for a while; the new ticker then moves everything, with counts,
//!   history and next runs, empties layout 1 and records format 2; firing goes on with every
//!   scheduled time published once.
//! - Crash mid-upgrade: new tickers that abort before or after the upgrade script, over and
//!   over, still move every job exactly once, and the jobs that fire meanwhile fire once each.
//! - Rolling update: an old API and ticker and a new API and ticker share one Redis for a minute
//!   while jobs fire every second and are added, edited, paused, resumed and deleted through
//!   either API; then only the new ones run. No fire id twice, no scheduled time of a job that
//!   ran all along left out, every job's next run the one APScheduler gives, nothing left in
//!   layout 1.
//!
//! Needs redis-server, the components (`scripts/prepare`) and git history.

mod firing;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use firing::{fire_instant, fire_job, shanghai_wall, Env, DB, S};
use funboost_test_host::{Host, HostConfig};
use serde_json::{json, Value};

/// The directory with the layout-1 build's `funboost_api.wasm` and `funboost_ticker.wasm`.
fn layout1() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/build-layout1");
        let output = Command::new(script).stderr(Stdio::inherit()).output().expect("run scripts/build-layout1");
        assert!(output.status.success(), "scripts/build-layout1 failed");
        PathBuf::from(String::from_utf8(output.stdout).expect("a path").trim())
    })
}

/// The layout-1 API and ticker on `env`'s Redis.
fn old_host(env: &Env) -> Host {
    Host::new(HostConfig {
        api_wasm: layout1().join("funboost_api.wasm"),
        ticker_wasm: Some(layout1().join("funboost_ticker.wasm")),
        variables: firing::variables(&env.redis, &[]),
        ..HostConfig::default()
    })
    .expect("the layout-1 host")
}

async fn call(host: &Host, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let headers: &[(&str, &str)] = if body.is_some() { &[("content-type", "application/json")] } else { &[] };
    let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    let response = host.request(method, &format!("/funboost/{path}"), headers, bytes).await.expect("request");
    (response.status, serde_json::from_slice(&response.body).unwrap_or(Value::Null))
}

async fn ok(host: &Host, method: &str, path: &str, body: Option<&Value>) -> Value {
    let (status, envelope) = call(host, method, path, body).await;
    assert_eq!(status, 200, "{method} {path}: {envelope}");
    envelope["data"].clone()
}

async fn cron(host: &Host) {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let result = host.cron(now).await.expect("cron call");
    assert_eq!(result, Ok(()), "a tick failed");
}

fn interval(queue: &str, id: &str, first_us: i64) -> Value {
    json!({"queue_name": queue, "job_id": id, "trigger": "interval", "seconds": 1, "start_date": shanghai_wall(first_us),
           "misfire_grace_time": null, "coalesce": false, "kwargs": {"x": 1}})
}

/// Layout 1's keys still in Redis.
fn layout1_keys(env: &mut Env) -> Vec<String> {
    let mut keys: Vec<String> = redis::cmd("KEYS").arg("{funboost_edge}:*").query(&mut env.conn).unwrap();
    keys.retain(|k| {
        let rest = &k["{funboost_edge}:".len()..];
        ["jobs", "due", "queues", "upgrade_cursor"].contains(&rest) || rest.starts_with("queue:") || rest.starts_with("held:")
    });
    keys
}

fn format(env: &mut Env) -> Option<String> {
    redis::cmd("GET").arg("{funboost_edge}:format").query(&mut env.conn).unwrap()
}

/// Every message of `queues` so far, by (queue, job): scheduled instants; panics on a fire id
/// published twice.
struct Published {
    seen: HashSet<String>,
    by_job: HashMap<(String, String), Vec<i64>>,
}

impl Published {
    fn new() -> Published {
        Published { seen: HashSet::new(), by_job: HashMap::new() }
    }

    fn collect(&mut self, env: &mut Env, queues: &[&str]) {
        for queue in queues {
            for message in env.drain_list(queue) {
                let fire_id = message["extra"]["fire_id"].as_str().expect("fire id").to_string();
                assert!(self.seen.insert(fire_id.clone()), "fire {fire_id} was published twice");
                self.by_job.entry((queue.to_string(), fire_job(&message))).or_default().push(fire_instant(&message));
            }
        }
    }

    fn of(&self, queue: &str, id: &str) -> Vec<i64> {
        let mut times = self.by_job.get(&(queue.to_string(), id.to_string())).cloned().unwrap_or_default();
        times.sort_unstable();
        times
    }
}

/// An interval job every second that ran all along: every point of its grid from its first fire
/// up to its next run was published once, and its counts say so.
fn assert_every_second_published(env: &mut Env, queue: &str, id: &str, published: &Published) {
    let job = env.stored_job(queue, id).unwrap_or_else(|| panic!("{queue}/{id} is stored"));
    let next_us = job["next_run"]["utc_us"].as_i64().expect("a next run");
    let times = published.of(queue, id);
    let first = *times.first().unwrap_or_else(|| panic!("{queue}/{id} never fired"));
    let grid: Vec<i64> = (0..).map(|k| first + k * S).take_while(|t| *t < next_us).collect();
    assert_eq!(times, grid, "{queue}/{id}: every scheduled time once, none left out");
    assert_eq!(job["fires"].as_u64(), Some(grid.len() as u64), "{queue}/{id}: {job}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_layout_1_store_moves_to_layout_2_in_place_and_keeps_firing() {
    let mut env = Env::start(&[]);
    let old = old_host(&env);
    let queues = ["up_a", "up_b"];
    for queue in queues {
        env.register_queue(queue, "REDIS");
    }
    let first_us = (env.now_us() / S + 2) * S;
    for k in 0..20 {
        ok(&old, "POST", "add_timing_job", Some(&interval("up_a", &format!("every{k:02}"), first_us))).await;
    }
    ok(&old, "POST", "add_timing_job", Some(&interval("up_a", "paused", first_us))).await;
    ok(&old, "POST", "add_timing_job", Some(&json!({"queue_name": "up_a", "job_id": "cron", "trigger": "cron", "second": "*/2", "kwargs": {"x": 1}}))).await;
    ok(
        &old,
        "POST",
        "add_timing_job",
        Some(&json!({"queue_name": "up_a", "job_id": "future", "trigger": "date", "run_date": "2030-01-01 00:00:00", "args": [5]})),
    )
    .await;
    ok(&old, "POST", "add_timing_job", Some(&interval("up_b", "held", first_us))).await;
    let mut published = Published::new();
    let old_until = Instant::now() + Duration::from_secs(4);
    while Instant::now() < old_until {
        cron(&old).await;
        published.collect(&mut env, &queues);
    }
    ok(&old, "POST", "pause_timing_job?queue_name=up_a&job_id=paused", None).await;
    ok(&old, "POST", "pause_scheduler?queue_name=up_b", None).await;
    cron(&old).await;
    published.collect(&mut env, &queues);
    let mut before = BTreeMap::new();
    for id in (0..20).map(|k| format!("every{k:02}")).chain(["paused", "cron", "future"].map(String::from)) {
        before.insert(id.clone(), ok(&old, "GET", &format!("get_timing_job?queue_name=up_a&job_id={id}"), None).await);
    }
    assert!(!layout1_keys(&mut env).is_empty() && format(&mut env).is_none(), "the old build wrote layout 1");

    // The new build: its first tick moves everything.
    cron(&env.host).await;
    assert_eq!(layout1_keys(&mut env), Vec::<String>::new(), "layout 1 is empty");
    assert_eq!(format(&mut env).as_deref(), Some("2"));
    for (id, old_view) in &before {
        let new_view = env.get_job("up_a", id, "redis").await.unwrap_or_else(|| panic!("{id} moved"));
        for field in ["status", "trigger_str", "kwargs", "args", "timezone", "misfire_grace_time", "coalesce", "missed_count", "coalesced_count"] {
            assert_eq!(new_view[field], old_view[field], "{id}: {field}");
        }
        assert!(new_view["fire_count"].as_u64() >= old_view["fire_count"].as_u64(), "{id}: counts kept");
        let (old_history, new_history) = (old_view["history"].as_array().unwrap(), new_view["history"].as_array().unwrap());
        let key = |h: &Value| (h["scheduled_time"].clone(), h["outcome"].clone(), h["fire_id"].clone());
        let new_keys: Vec<_> = new_history.iter().map(key).collect();
        assert!(old_history.iter().take(15).all(|h| new_keys.contains(&key(h))), "{id}: the history moved with it");
    }
    assert_eq!(env.get_job("up_a", "future", "redis").await.unwrap()["next_run_time"], "2030-01-01 00:00:00+08:00");
    assert_eq!(env.get_job("up_b", "held", "redis").await.unwrap()["status"], "running");

    // Firing goes on, once per scheduled time; the held queue fires once resumed.
    ok(&env.host, "POST", "resume_scheduler?queue_name=up_b", None).await;
    let new_until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < new_until {
        cron(&env.host).await;
        published.collect(&mut env, &queues);
    }
    for k in 0..20 {
        assert_every_second_published(&mut env, "up_a", &format!("every{k:02}"), &published);
    }
    assert!(published.of("up_b", "held").len() >= 4, "the held queue's job fired before and after");
    assert!(!published.of("up_a", "cron").is_empty());
}

/// A `funboost-test-host serve` process running a ticker.
struct Ticker(Child);

impl Drop for Ticker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_ticker(env: &Env, ticker: &std::path::Path, crash_chance: f64) -> Ticker {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    let mut command = Command::new(BIN.get_or_init(firing::test_host_bin));
    command.args(["serve", "--api"]).arg(funboost_test_host::test_support::wasm_path("funboost_api")).arg("--ticker").arg(ticker).args([
        "--listen",
        "127.0.0.1:0",
        "--tick-every-ms",
        "300",
    ]);
    if crash_chance > 0.0 {
        command.args(["--crash-chance", &crash_chance.to_string(), "--crash-only-on", "migrate/"]);
    }
    for (name, value) in firing::variables(&env.redis, &[]) {
        command.arg("--var").arg(format!("{name}={value}"));
    }
    Ticker(command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn the test host"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tickers_that_crash_in_the_middle_of_the_upgrade_move_every_job_once() {
    let mut env = Env::start(&[]);
    let old = old_host(&env);
    env.register_queue("up_crash", "REDIS");
    let first_us = (env.now_us() / S + 3) * S;
    // 40 jobs firing through the upgrade, 2,500 waiting: several upgrade steps.
    for k in 0..40 {
        ok(&old, "POST", "add_timing_job", Some(&interval("up_crash", &format!("fire{k:02}"), first_us))).await;
    }
    for k in 0..2500 {
        let body = json!({"queue_name": "up_crash", "job_id": format!("wait{k:04}"), "trigger": "cron", "year": "2031", "kwargs": {"x": k}});
        ok(&old, "POST", "add_timing_job", Some(&body)).await;
    }
    let v1_count: i64 = redis::cmd("HLEN").arg("{funboost_edge}:jobs").query(&mut env.conn).unwrap();
    assert_eq!(v1_count, 2540);
    let mut published = Published::new();

    // Tickers that abort before or after the upgrade script half of the time, replaced as they die.
    let new_ticker = funboost_test_host::test_support::wasm_path("funboost_ticker");
    let mut tickers: Vec<Ticker> = (0..3).map(|_| spawn_ticker(&env, &new_ticker, 0.5)).collect();
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut restarts = 0;
    while format(&mut env).as_deref() != Some("2") {
        assert!(Instant::now() < deadline, "the upgrade did not finish: {:?} layout-1 keys left", layout1_keys(&mut env));
        for ticker in &mut tickers {
            if ticker.0.try_wait().ok().flatten().is_some() {
                *ticker = spawn_ticker(&env, &new_ticker, 0.5);
                restarts += 1;
            }
        }
        published.collect(&mut env, &["up_crash"]);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(restarts >= 3, "the tickers crashed only {restarts} times");
    drop(tickers);
    // Then firing without crashes.
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        cron(&env.host).await;
        published.collect(&mut env, &["up_crash"]);
    }
    assert_eq!(layout1_keys(&mut env), Vec::<String>::new());
    let jobs = firing::store::all_stored_jobs(&mut env.conn);
    assert_eq!(jobs.len(), 2540, "every job moved, once");
    for k in (0..2500).step_by(97) {
        let job = &jobs[&("up_crash".to_string(), format!("wait{k:04}"))];
        assert_eq!(job["kwargs"], json!({"x": k}));
    }
    for k in 0..40 {
        assert_every_second_published(&mut env, "up_crash", &format!("fire{k:02}"), &published);
    }
}

/// What the test expects of a job, from the answers of the calls that changed it.
#[derive(Clone, Debug)]
struct Expected {
    paused: bool,
    /// Paused or rescheduled at some point: its fires have gaps by design.
    interrupted: bool,
    kind: &'static str,
    kwargs: Value,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_and_new_replicas_side_by_side_neither_lose_nor_double_a_fire() {
    let mut env = Env::start(&[]);
    let old = old_host(&env);
    let queues = ["roll_a", "roll_b"];
    for queue in queues {
        env.register_queue(queue, "REDIS");
    }
    let first_us = (env.now_us() / S + 2) * S;
    let mut expected: BTreeMap<(String, String), Expected> = BTreeMap::new();
    for k in 0..40 {
        let (queue, id) = (queues[k % 2], format!("j{k:02}"));
        ok(&old, "POST", "add_timing_job", Some(&interval(queue, &id, first_us))).await;
        expected.insert((queue.to_string(), id), Expected { paused: false, interrupted: false, kind: "interval", kwargs: json!({"x": 1}) });
    }
    // Four tickers, two of each build, each ticking every second as the cron trigger does.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut ticking = Vec::new();
    let new_host = env.host.clone();
    for (host, offset_ms) in [(old.clone(), 0), (old.clone(), 500), (new_host.clone(), 250), (new_host.clone(), 750)] {
        let stop = stop.clone();
        ticking.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(offset_ms)).await;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
                let host = host.clone();
                // Overlapping calls, as trigger-cron starts one every second whatever the last does.
                tokio::spawn(async move { host.cron(now).await });
                tokio::time::sleep(Duration::from_millis(1000)).await;
            }
        }));
    }
    // A minute of edits through either build's API.
    let mut published = Published::new();
    let mut rng = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut added = 0;
    let end = Instant::now() + Duration::from_secs(60);
    while Instant::now() < end {
        let api = if next() % 2 == 0 { &old } else { &new_host };
        let keys: Vec<(String, String)> = expected.keys().cloned().collect();
        let (queue, id) = keys[(next() % keys.len() as u64) as usize].clone();
        let q = format!("queue_name={queue}&job_id={id}");
        match next() % 6 {
            0 => {
                let id = format!("new{added:03}");
                added += 1;
                let body = if added % 2 == 0 {
                    json!({"queue_name": queue, "job_id": id, "trigger": "cron", "second": "*/3", "kwargs": {"x": added}})
                } else {
                    let first = (env.now_us() / S + 2) * S;
                    let mut body = interval(&queue, &id, first);
                    body["kwargs"] = json!({"x": added});
                    body
                };
                if call(api, "POST", "add_timing_job", Some(&body)).await.0 == 200 {
                    let kind = if added % 2 == 0 { "cron" } else { "interval" };
                    expected.insert((queue.clone(), id), Expected { paused: false, interrupted: false, kind, kwargs: json!({"x": added}) });
                }
            }
            1 => {
                let kwargs = json!({"x": next() % 1000});
                if call(api, "POST", &format!("modify_timing_job?{q}"), Some(&json!({"kwargs": kwargs}))).await.0 == 200 {
                    if let Some(e) = expected.get_mut(&(queue.clone(), id.clone())) {
                        e.kwargs = kwargs;
                    }
                }
            }
            2 if !id.starts_with("j0") => {
                let applied = call(api, "POST", &format!("pause_timing_job?{q}"), None).await.0 == 200;
                match expected.get_mut(&(queue.clone(), id.clone())) {
                    Some(e) if applied => {
                        e.paused = true;
                        e.interrupted = true;
                    }
                    _ => {}
                }
            }
            3 => {
                let applied = call(api, "POST", &format!("resume_timing_job?{q}"), None).await.0 == 200;
                match expected.get_mut(&(queue.clone(), id.clone())) {
                    Some(e) if applied => {
                        e.interrupted |= e.paused;
                        e.paused = false;
                    }
                    _ => {}
                }
            }
            4 if !id.starts_with("j0") && expected.len() > 30 => {
                let deleted = call(api, "DELETE", &format!("delete_timing_job?{q}"), None).await.0 == 200;
                expected.retain(|key, _| !deleted || *key != (queue.clone(), id.clone()));
            }
            _ => {}
        }
        published.collect(&mut env, &queues);
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    // The old replicas go; the new ones go on alone.
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for task in ticking {
        task.await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        cron(&env.host).await;
        published.collect(&mut env, &queues);
    }
    assert_eq!(layout1_keys(&mut env), Vec::<String>::new(), "nothing is left in layout 1");
    assert_eq!(format(&mut env).as_deref(), Some("2"));
    let now_us = env.now_us();
    let stored = firing::store::all_stored_jobs(&mut env.conn);
    assert_eq!(stored.len(), expected.len(), "the jobs are the ones the answers said: {:?}", stored.keys().collect::<Vec<_>>());
    for ((queue, id), want) in &expected {
        let job = &stored[&(queue.clone(), id.clone())];
        assert_eq!(job["paused"], json!(want.paused), "{queue}/{id}: {job}");
        assert_eq!(job["kwargs"], want.kwargs, "{queue}/{id}: the last accepted edit wins");
        if want.paused {
            continue;
        }
        // APScheduler's next run: the next point of the job's schedule after now.
        let next_us = job["next_run"]["utc_us"].as_i64().expect("a next run");
        let (period, on_schedule) = match want.kind {
            "cron" => (3 * S, next_us % (3 * S) == 0),
            _ => (S, true),
        };
        assert!(
            on_schedule && next_us > now_us - period && next_us <= now_us + period,
            "{queue}/{id}: next run {next_us} is not the next fire time after {now_us}: {job}"
        );
        if !want.interrupted && want.kind == "interval" && id.starts_with('j') {
            assert_every_second_published(&mut env, queue, id, &published);
        }
    }
    let _ = DB;
}
