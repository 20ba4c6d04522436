//! Exactly once holds when a Redis command fails *inside* the tick's scripts, not only when a
//! ticker dies between them (tests/tick_exactly_once.rs). Redis does not roll a script back,
//! so a failure after a push would leave the messages out and the job not advanced, to be
//! published again by the next tick. Each case below makes commands fail where they can:
//! - a key of ours holding another type (written by hand): the metrics hash (fires go on, not
//!   counted), one queue's own keys (that queue stops, the others fire);
//! - a Redis out of memory (`maxmemory`, `noeviction`): ticks fail cleanly until memory is
//!   freed, then every fire comes out once;
//! - the ticker's Redis connections killed mid-batch, over and over.
//!
//! Each ends with: no `fire_id` twice in any queue, and every scheduled time of every job either
//! published (once) or counted as missed or coalesced on the job.
//!
//! Needs redis-server and the components (`scripts/prepare` builds them).

mod firing;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use firing::*;
use serde_json::{json, Value};

/// Every message of `queue`, by job id: the scheduled instants (UTC µs) of its fires; panics
/// on a fire id seen twice.
fn fires_by_job(env: &mut Env, queue: &str, seen: &mut HashSet<String>) -> HashMap<String, Vec<i64>> {
    let mut by_job: HashMap<String, Vec<i64>> = HashMap::new();
    for message in env.drain_list(queue) {
        let fire_id = message["extra"]["fire_id"].as_str().expect("a fire id").to_string();
        assert!(seen.insert(fire_id.clone()), "fire {fire_id} was published twice");
        by_job.entry(fire_job(&message)).or_default().push(fire_instant(&message));
    }
    by_job
}

/// An interval job every second from `first_us`, with no grace limit and no coalescing, so
/// that every scheduled time must come out (or be counted if something drops it).
fn every_second(queue: &str, id: &str, first_us: i64) -> Value {
    json!({"queue_name": queue, "job_id": id, "trigger": "interval", "seconds": 1, "start_date": shanghai_wall(first_us),
           "misfire_grace_time": null, "coalesce": false, "kwargs": {"x": 1}})
}

/// Every scheduled time from `first_us` up to the job's stored next run is accounted for: the
/// published ones were counted as fires, the rest as missed or coalesced.
fn assert_accounted(env: &mut Env, queue: &str, id: &str, first_us: i64, published: &[i64]) {
    let job = env.stored_job(queue, id).unwrap_or_else(|| panic!("{queue}/{id} is stored"));
    let next_us = job["next_run"]["utc_us"].as_i64().expect("a next run");
    // A job added after its start date first fires on the next point of its grid.
    let created_us = job["created_us"].as_i64().expect("created");
    let first_us = first_us + ((created_us - first_us).max(0) + S - 1) / S * S;
    let times = ((next_us - first_us) / S) as u64;
    let counted = job["fires"].as_u64().unwrap_or(0) + job["missed"].as_u64().unwrap_or(0) + job["coalesced"].as_u64().unwrap_or(0);
    assert_eq!(counted, times, "{queue}/{id}: fires + missed + coalesced = every scheduled time before the next run: {job}");
    assert_eq!(job["fires"].as_u64(), Some(published.len() as u64), "{queue}/{id}: one message per counted fire");
    let mut sorted = published.to_vec();
    sorted.sort_unstable();
    assert!(sorted.iter().all(|t| (t - first_us) % S == 0 && *t < next_us), "{queue}/{id}: off the schedule: {sorted:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metrics_hash_of_another_type_neither_stops_nor_doubles_fires() {
    let mut env = Env::start(&[]);
    env.register_queue("fe_metrics", "REDIS");
    redis::cmd("SET").arg("{funboost_edge}:metrics").arg("not a hash").exec(&mut env.conn).unwrap();
    let first_us = (env.now_us() / S + 1) * S;
    env.add(every_second("fe_metrics", "tick", first_us)).await;
    for id in ["once_a", "once_b"] {
        env.add(json!({"queue_name": "fe_metrics", "job_id": id, "trigger": "date", "misfire_grace_time": null, "kwargs": {"x": 1}})).await;
    }
    let mut seen = HashSet::new();
    let mut published: HashMap<String, Vec<i64>> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(4);
    while Instant::now() < deadline {
        let report = env.ok("GET", "tick", None).await;
        let errors = report["errors"].to_string();
        assert!(report["fired"].as_u64() == Some(0) || errors.contains("metrics not counted"), "the uncounted metrics are reported: {report}");
        for (job, times) in fires_by_job(&mut env, "fe_metrics", &mut seen) {
            published.entry(job).or_default().extend(times);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    for id in ["once_a", "once_b"] {
        assert_eq!(published.get(id).map(Vec::len), Some(1), "{id} fired exactly once: {published:?}");
        assert!(env.stored_job("fe_metrics", id).is_none(), "{id} is done");
    }
    assert!(published.get("tick").is_some_and(|t| t.len() >= 2), "{published:?}");
    assert_accounted(&mut env, "fe_metrics", "tick", first_us, &published["tick"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_whose_own_key_has_another_type_stops_only_that_queue_until_it_is_repaired() {
    let mut env = Env::start(&[]);
    env.register_queue("fe_broken", "REDIS");
    env.register_queue("fe_fine", "REDIS");
    let first_us = (env.now_us() / S + 1) * S;
    for queue in ["fe_broken", "fe_fine"] {
        env.add(every_second(queue, "job", first_us)).await;
    }
    // The broken queue's history hash, overwritten by hand.
    redis::cmd("SET").arg("{funboost_edge}:hist:fe_broken").arg("oops").exec(&mut env.conn).unwrap();
    let mut seen = HashSet::new();
    let mut published: HashMap<&str, Vec<i64>> = HashMap::new();
    let mut reported = false;
    let repair_at = Instant::now() + Duration::from_secs(3);
    let mut repaired = false;
    while Instant::now() < repair_at + Duration::from_secs(2) {
        if !repaired && Instant::now() >= repair_at {
            assert!(published.get("fe_broken").is_none_or(Vec::is_empty), "nothing of the broken queue was published");
            redis::cmd("DEL").arg("{funboost_edge}:hist:fe_broken").exec(&mut env.conn).unwrap();
            repaired = true;
        }
        let report = env.ok("GET", "tick", None).await;
        reported |= report["errors"].to_string().contains("fe_broken");
        for queue in ["fe_broken", "fe_fine"] {
            let times = fires_by_job(&mut env, queue, &mut seen).remove("job").unwrap_or_default();
            published.entry(queue).or_default().extend(times);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(reported, "the broken key was reported");
    assert!(published["fe_fine"].len() >= 3, "the other queue kept firing: {published:?}");
    assert!(!published["fe_broken"].is_empty(), "after the repair the broken queue fires what came due meanwhile");
    for queue in ["fe_broken", "fe_fine"] {
        assert_accounted(&mut env, queue, "job", first_us, &published[queue]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_out_of_memory_fails_ticks_cleanly_and_loses_nothing() {
    let mut env = Env::start(&[]);
    env.register_queue("fe_oom", "REDIS");
    let first_us = (env.now_us() / S + 1) * S;
    for id in ["a", "b", "c"] {
        env.add(every_second("fe_oom", id, first_us)).await;
    }
    let mut seen = HashSet::new();
    let mut published: HashMap<String, Vec<i64>> = HashMap::new();
    let mut collect = |env: &mut Env, published: &mut HashMap<String, Vec<i64>>| {
        for (job, times) in fires_by_job(env, "fe_oom", &mut seen) {
            published.entry(job).or_default().extend(times);
        }
    };
    // Fill Redis up to a limit just above what it uses now.
    let used: i64 = {
        let info: String = redis::cmd("INFO").arg("memory").query(&mut env.conn).unwrap();
        info.lines().find_map(|l| l.strip_prefix("used_memory:")).and_then(|v| v.trim().parse().ok()).expect("used_memory")
    };
    redis::cmd("CONFIG").arg("SET").arg("maxmemory-policy").arg("noeviction").exec(&mut env.conn).unwrap();
    redis::cmd("CONFIG").arg("SET").arg("maxmemory").arg(used + 2_000_000).exec(&mut env.conn).unwrap();
    let mut filled = 0;
    while redis::cmd("SET").arg(format!("filler:{filled}")).arg("x".repeat(100_000)).exec(&mut env.conn).is_ok() {
        filled += 1;
        assert!(filled < 1000, "maxmemory is not enforced");
    }
    let full_until = Instant::now() + Duration::from_secs(3);
    let mut refused = 0;
    while Instant::now() < full_until {
        let (status, envelope) = env.call("GET", "tick", None).await;
        if status != 200 || envelope["data"]["fired"].as_u64() == Some(0) {
            refused += 1;
        }
        // Reading (not draining: that writes) while Redis is full.
        assert_eq!(env.list_len("fe_oom"), 0, "nothing is published while Redis is full: {envelope}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(refused > 0, "a full Redis refused ticks");
    // Memory back: what came due meanwhile comes out, once.
    for k in 0..filled {
        redis::cmd("DEL").arg(format!("filler:{k}")).exec(&mut env.conn).unwrap();
    }
    for _ in 0..4 {
        let (status, envelope) = env.call("GET", "tick", None).await;
        assert_eq!(status, 200, "{envelope}");
        collect(&mut env, &mut published);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    for id in ["a", "b", "c"] {
        let times = published.get(id).cloned().unwrap_or_default();
        assert!(times.len() >= 3, "{id} fired what came due while Redis was full: {times:?}");
        assert_accounted(&mut env, "fe_oom", id, first_us, &times);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_tickers_connections_mid_batch_doubles_and_loses_nothing() {
    let mut env = Env::start(&[]);
    let queues = ["fe_kill_a", "fe_kill_b"];
    let first_us = (env.now_us() / S + 1) * S;
    let ids: Vec<String> = (0..150).map(|k| format!("j{k:03}")).collect();
    for queue in queues {
        env.register_queue(queue, "REDIS");
        for id in &ids {
            env.add(every_second(queue, id, first_us)).await;
        }
    }
    // A killer closes every connection that is running or has just run one of the scripts.
    let stop = Arc::new(AtomicBool::new(false));
    let killer = {
        let (stop, client) = (stop.clone(), env.redis.client(DB).unwrap());
        std::thread::spawn(move || {
            let mut conn = client.get_connection().unwrap();
            let mut kills = 0;
            while !stop.load(Ordering::Relaxed) {
                let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut conn).unwrap_or_default();
                for line in list.lines().filter(|l| l.contains("cmd=evalsha") || l.contains("cmd=eval ")) {
                    if let Some(id) = line.split(' ').find_map(|f| f.strip_prefix("id=")) {
                        kills += redis::cmd("CLIENT").arg("KILL").arg("ID").arg(id).query::<i64>(&mut conn).unwrap_or(0);
                    }
                }
                std::thread::sleep(Duration::from_millis(3));
            }
            kills
        })
    };
    let mut seen = HashSet::new();
    let mut published: HashMap<(String, String), Vec<i64>> = HashMap::new();
    let until = Instant::now() + Duration::from_secs(6);
    while Instant::now() < until {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        let _ = env.host.cron(now).await; // killed ticks fail; that is the point
        for queue in queues {
            for (job, times) in fires_by_job(&mut env, queue, &mut seen) {
                published.entry((queue.to_string(), job)).or_default().extend(times);
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let kills = killer.join().unwrap();
    assert!(kills >= 5, "only {kills} connections were killed");
    // A last tick with nobody killing, then the books must balance.
    env.http_tick("").await;
    for queue in queues {
        for (job, times) in fires_by_job(&mut env, queue, &mut seen) {
            published.entry((queue.to_string(), job)).or_default().extend(times);
        }
        for id in &ids {
            let times = published.get(&(queue.to_string(), id.clone())).cloned().unwrap_or_default();
            assert_accounted(&mut env, queue, id, first_us, &times);
        }
    }
}
