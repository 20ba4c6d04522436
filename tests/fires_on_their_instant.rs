//! Fires go out on their instant, not at the next tick. The ticker runs as Spin's cron trigger
//! runs it (`Host::tick_every`: a call every second, started by a scheduler that looks every
//! 500 ms, calls overlapping); each call waits inside its invocation for the fires due in its
//! window and commits each at its instant with the compare-and-set. These tests prove:
//!
//! 1. With jobs at sub-second offsets, every message reaches its queue at or after its
//!    scheduled instant (seen by a reader blocked on the queue), never before it, and every
//!    point of each job's grid is published exactly once, in order, none skipped. How late the
//!    messages are is the benchmark's business (benches/service.rs, `lateness`; BENCHMARKS.md
//!    section 5): a bound on it here would fail on a loaded machine with no defect.
//! 2. A job paused, replaced or deleted while ticks wait for its instant does not fire (the
//!    change wins over the waiting ticks); an unchanged job waited for by two overlapping ticks
//!    fires exactly once.
//!
//! Needs the components (cargo build --target wasm32-wasip2 --profile wasm -p funboost-api
//! -p funboost-ticker) and redis-server.

mod firing;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use firing::*;
use serde_json::{json, Value};

fn wall_us() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_micros() as i64
}

/// Reads `queue` with BLPOP on its own connection until `stop`; sends each message with the
/// wall-clock time it arrived (µs).
fn read_queue(url: String, queue: &'static str, stop: Arc<AtomicBool>, sender: mpsc::Sender<(i64, Value)>) {
    let mut conn = redis::Client::open(url).expect("redis url").get_connection().expect("connect");
    while !stop.load(Ordering::Relaxed) {
        let popped: Option<(String, String)> = redis::cmd("BLPOP").arg(queue).arg(0.2).query(&mut conn).expect("BLPOP");
        if let Some((_, text)) = popped {
            let arrived = wall_us();
            if sender.send((arrived, serde_json::from_str(&text).expect("message is JSON"))).is_err() {
                return;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fire_reaches_its_queue_at_or_after_its_instant_once_per_grid_point() {
    let mut env = Env::start(&[]);
    let queue = "fe_on_time";
    env.register_queue(queue, "REDIS");
    // 20 interval jobs every second, their grids at offsets spread over the second. Without a
    // grace limit or coalescing, every point of a grid is published however late a loaded
    // machine makes it, so each one must come exactly once.
    let start_us = (env.now_us() / S + 2) * S;
    let jobs = 20;
    let ids: Vec<String> = (0..jobs).map(|i| format!("j{i}")).collect();
    let mut first_fire = HashMap::new();
    for (i, id) in ids.iter().enumerate() {
        let offset_us = 25_000 + i as i64 * 48_000;
        let start = shanghai_wall(start_us) + &format!(".{offset_us:06}");
        let body = json!({"queue_name": queue, "job_id": id, "trigger": "interval", "seconds": 1, "start_date": start, "kwargs": {"x": i},
            "misfire_grace_time": null, "coalesce": false});
        env.add(body).await;
        // The job's first fire: its start, or a later point of its grid if the adds took longer.
        let first = env.stored_job(queue, id).expect("stored")["next_run"]["utc_us"].as_i64().expect("next run");
        assert_eq!((first - start_us - offset_us) % S, 0, "{id}: the first fire is on the grid");
        first_fire.insert(id.clone(), first);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let (sender, received) = mpsc::channel();
    let reader = std::thread::spawn({
        let (url, stop) = (env.redis.url(DB), Arc::clone(&stop));
        move || read_queue(url, queue, stop, sender)
    });
    let ticker = tokio::spawn(env.host.clone().tick_every(Duration::from_secs(1)));
    // Until every job has fired 4 times (60 s only detects a hang).
    let fired =
        env.wait_until(Duration::from_secs(60), |env| ids.iter().all(|id| env.stored_job(queue, id).is_some_and(|j| j["fires"].as_i64() >= Some(4)))).await;
    assert!(fired, "the jobs did not fire 4 times each within 60 s: {:?}", ids.iter().map(|id| env.stored_job(queue, id)).collect::<Vec<_>>());
    ticker.abort();

    // Ticks started before the abort may still be publishing. The jobs' states and the
    // messages the reader got as of one instant: a commit pushes a job's messages and writes its
    // state (with a new version) together, so when no version changed while the reader caught
    // up with the fires the states count, those messages are exactly these fires.
    let mut messages: Vec<(i64, Value)> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let stored = loop {
        let before: HashMap<&str, Value> = ids.iter().map(|id| (id.as_str(), env.stored_job(queue, id).expect("stored"))).collect();
        let counted = |id: &str| before[id]["fires"].as_u64().expect("fires") as usize;
        while !ids.iter().all(|id| messages.iter().filter(|(_, m)| fire_job(m) == *id).count() >= counted(id)) {
            match received.try_recv() {
                Ok(message) => messages.push(message),
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
            assert!(Instant::now() < deadline, "the reader did not get the fires the jobs count within 30 s: {before:?}");
        }
        let after: HashMap<&str, Value> = ids.iter().map(|id| (id.as_str(), env.stored_job(queue, id).expect("stored"))).collect();
        if ids.iter().all(|id| before[id.as_str()]["version"] == after[id.as_str()]["version"]) {
            break after;
        }
        assert!(Instant::now() < deadline, "the jobs were still being written 30 s after the ticker stopped");
    };
    stop.store(true, Ordering::Relaxed);
    reader.join().expect("reader");

    let mut fire_ids = HashSet::new();
    for (arrived_us, message) in &messages {
        let scheduled = fire_instant(message);
        assert!(fire_ids.insert(message["extra"]["fire_id"].clone()), "published twice: {message}");
        let published_us = (message["extra"]["publish_time"].as_f64().expect("publish_time") * 1e6).round() as i64;
        assert!(published_us >= scheduled - 100, "published before its instant: {message}");
        assert!(*arrived_us >= scheduled, "in the queue before its instant: {message}");
    }
    // Each job fired on every point of its grid from its first fire to its next run, in order,
    // none skipped, missed or coalesced.
    for id in &ids {
        let mut fires: Vec<i64> = messages.iter().filter(|(_, m)| fire_job(m) == *id).map(|(_, m)| fire_instant(m)).collect();
        fires.sort();
        let grid: Vec<i64> = (0..fires.len() as i64).map(|k| first_fire[id] + k * S).collect();
        assert!(fires.len() >= 4 && fires == grid, "job {id} fired at {fires:?}, its grid is {grid:?}");
        let job = &stored[id.as_str()];
        let counts = ["fires", "missed", "coalesced"].map(|c| job[c].as_u64());
        assert_eq!(counts, [Some(fires.len() as u64), Some(0), Some(0)], "{id}: {job}");
        assert_eq!(job["next_run"]["utc_us"].as_i64(), Some(first_fire[id] + fires.len() as i64 * S), "{id}: the next run follows the last fire: {job}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_paused_replaced_or_deleted_while_ticks_wait_for_its_instant_does_not_fire() {
    let mut env = Env::start(&[]);
    let queue = "fe_waiting";
    env.register_queue(queue, "REDIS");
    // Four date jobs due 3 s from now (time enough for the adds on a loaded machine).
    let due_us = env.now_us() + 3 * S;
    let run_date = |us: i64| format!("{}.{:06}", shanghai_wall(us), us.rem_euclid(S));
    for (i, id) in ["paused", "replaced", "deleted", "untouched"].iter().enumerate() {
        env.add(json!({"queue_name": queue, "job_id": id, "trigger": "date", "run_date": run_date(due_us), "kwargs": {"x": i}})).await;
    }
    // Two ticks overlap: both read the four fires and wait for their instant. They start
    // 1.45 s before it, so that it falls in each one's on-time window (1.5 s from its claim),
    // and each is known to have read the fires when it has counted itself in the metrics
    // (one script). 20 s only detects a hang.
    env.wait_for_clock(due_us - 1_450_000).await;
    let ticks = env.ticks_total().await;
    let first = tokio::spawn({
        let host = env.host.clone();
        async move { host.cron(0).await }
    });
    assert!(env.wait_for_ticks(ticks + 1, Duration::from_secs(20)).await, "the first tick did not claim");
    let second = tokio::spawn({
        let host = env.host.clone();
        async move { host.cron(0).await }
    });
    assert!(env.wait_for_ticks(ticks + 2, Duration::from_secs(20)).await, "the second tick did not claim");
    let params = |id: &str| format!("job_id={id}&queue_name={queue}");
    env.ok("POST", &format!("pause_timing_job?{}", params("paused")), None).await;
    env.ok("DELETE", &format!("delete_timing_job?{}", params("deleted")), None).await;
    let later = run_date(due_us + 3600 * S);
    env.add(json!({"queue_name": queue, "job_id": "replaced", "trigger": "date", "run_date": later, "kwargs": {"x": 99}, "replace_existing": true})).await;
    // The scenario, not a speed claim: the changes must land while the ticks wait.
    let changed_at = env.now_us();
    assert!(changed_at < due_us, "the ticks' claims and the changes took until {} µs after the instant: the scenario did not happen", changed_at - due_us);
    assert_eq!(env.list_len(queue), 0, "nothing is published before the instant");
    for tick in [first, second] {
        assert_eq!(tick.await.expect("tick task").expect("cron call"), Ok(()));
    }
    assert!(env.now_us() > due_us, "the ticks returned after the instant");

    let messages = env.drain_list(queue);
    let fired: Vec<String> = messages.iter().map(fire_job).collect();
    assert_eq!(fired, vec!["untouched".to_string()], "only the unchanged job fires, once: {messages:?}");
    assert_eq!(message_kwargs(&messages[0]), json!({"x": 3}));
    assert_eq!(env.get_job(queue, "paused", "redis").await.expect("paused job kept")["status"], "paused");
    assert!(env.get_job(queue, "deleted", "redis").await.is_none(), "deleted job stays deleted");
    let replaced = env.get_job(queue, "replaced", "redis").await.expect("replacement kept");
    assert_eq!((replaced["kwargs"].clone(), replaced["fire_count"].as_u64()), (json!({"x": 99}), Some(0)), "{replaced}");
    assert!(env.get_job(queue, "untouched", "redis").await.is_none(), "a fired date job is removed");
}
