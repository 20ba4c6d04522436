//! funboost 55's scheduler routes through the real .wasm, with the ticker running as Spin's
//! cron trigger runs it: `pause_scheduler` stops a whole queue's fires (its jobs stay listed
//! and editable, other queues go on), `resume_scheduler` lets what came due meanwhile follow
//! each job's misfire_grace_time and coalesce (counted, never silent), `get_scheduler_status`
//! reports running / paused / stopped, `get_one_queue_config` returns the consumer's
//! registration, and listing all queues includes registered queues without jobs.
//!
//! Needs the components (cargo build --target wasm32-wasip2 --profile wasm -p funboost-api
//! -p funboost-ticker) and redis-server.

mod firing;

use std::collections::HashMap;
use std::time::Duration;

use firing::*;
use serde_json::{json, Value};

/// The scheduled times of an interval job from its first fire up to (excluding) its next run.
fn grid_points(job: &Value, first_us: i64, period_us: i64) -> i64 {
    (job["next_run"]["utc_us"].as_i64().expect("next_run") - first_us) / period_us
}

/// A message's `publish_time`, Unix µs (stamped before the commit that pushes it; 100 µs
/// resolution).
fn published_us(message: &Value) -> i64 {
    (message["extra"]["publish_time"].as_f64().expect("publish_time") * 1e6) as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pausing_a_queue_stops_its_fires_keeps_its_jobs_and_resume_applies_the_misfire_rules() {
    let mut env = Env::start(&[]);
    let (paused_q, other_q) = ("fe_sched_a", "fe_sched_b");
    env.register_queue(paused_q, "REDIS");
    env.register_queue(other_q, "REDIS");
    let first_us = (env.now_us() / S + 2) * S;
    let start = shanghai_wall(first_us);
    let interval = |queue: &str, id: &str, extra: Value| {
        let mut body = json!({"queue_name": queue, "job_id": id, "trigger": "interval", "seconds": 1, "start_date": start, "kwargs": {"x": 1}});
        body.as_object_mut().expect("object").extend(extra.as_object().expect("object").clone());
        body
    };
    // APScheduler's defaults (grace 1 s, coalesce), no grace limit without coalescing, and a
    // job on a queue that is never paused.
    env.add(interval(paused_q, "defaults", json!({}))).await;
    env.add(interval(paused_q, "catch_up", json!({"misfire_grace_time": null, "coalesce": false}))).await;
    env.add(interval(other_q, "other", json!({}))).await;
    // Each job's first scheduled time: its start, or a later point of its grid if the adds
    // took longer than that.
    let mut first_fire = HashMap::new();
    for id in ["defaults", "catch_up"] {
        first_fire.insert(id, env.stored_job(paused_q, id).expect("stored")["next_run"]["utc_us"].as_i64().expect("next run"));
    }

    let (status, envelope) = env.call("GET", &format!("get_scheduler_status?queue_name={paused_q}"), None).await;
    assert_eq!((status, envelope["data"]["status_code"].as_i64()), (200, Some(0)), "no tick has run: stopped: {envelope}");
    let ticker = tokio::spawn(env.host.clone().tick_every(Duration::from_secs(1)));
    // Until both queues have fired (the deadlines below only detect a hang).
    let fired = env
        .wait_until(Duration::from_secs(30), |env| {
            [(paused_q, "defaults"), (paused_q, "catch_up"), (other_q, "other")]
                .iter()
                .all(|(q, id)| env.stored_job(q, id).is_some_and(|j| j["fires"].as_i64() >= Some(1)))
        })
        .await;
    assert!(fired, "the jobs did not fire within 30 s");
    let status = env.ok("GET", &format!("get_scheduler_status?queue_name={paused_q}"), None).await;
    assert_eq!(status, json!({"queue_name": paused_q, "status_code": 1, "status_str": "running"}));

    let paused = env.ok("POST", &format!("pause_scheduler?queue_name={paused_q}"), None).await;
    assert_eq!(paused, json!({"queue_name": paused_q, "status_str": "paused"}));
    let paused_at = env.now_us();
    assert_eq!(env.ok("GET", &format!("get_scheduler_status?queue_name={paused_q}"), None).await["status_code"], 2);
    // While paused: listed, editable, and a job added now does not fire either.
    env.add(interval(paused_q, "added_while_paused", json!({}))).await;
    env.ok("POST", &format!("modify_timing_job?queue_name={paused_q}&job_id=defaults"), Some(&json!({"kwargs": {"x": 2}}))).await;
    let listed = env.ok("GET", &format!("get_timing_jobs?queue_name={paused_q}"), None).await;
    assert_eq!(listed["count"], 3, "{listed}");
    // The queue stays paused over 4 s of its jobs' scheduled times (by the Redis clock), and
    // until the other queue has fired meanwhile.
    let mut other = Vec::new();
    let waited = env
        .wait_until(Duration::from_secs(30), |env| {
            other.extend(env.drain_list(other_q));
            env.now_us() > paused_at + 4 * S && other.iter().any(|m| published_us(m) > paused_at + S)
        })
        .await;
    assert!(waited, "the other queue did not fire while this one was paused: {other:?}");
    let resumed_from = env.now_us();
    let resumed = env.ok("POST", &format!("resume_scheduler?queue_name={paused_q}"), None).await;
    assert_eq!(resumed, json!({"queue_name": paused_q, "status_str": "running"}));
    // Until the job modified while paused has fired again and the one without a grace limit
    // has caught up with the paused period.
    let mut messages = Vec::new();
    let caught_up = env
        .wait_until(Duration::from_secs(30), |env| {
            messages.extend(env.drain_list(paused_q));
            messages.iter().any(|m| fire_job(m) == "defaults" && published_us(m) > resumed_from)
                && env.stored_job(paused_q, "catch_up").is_some_and(|j| j["next_run"]["utc_us"].as_i64() > Some(resumed_from))
        })
        .await;
    assert!(caught_up, "the queue did not fire again within 30 s of the resume: {:?}", env.stored_job(paused_q, "catch_up"));
    ticker.abort();
    // Ticks started before the abort may still be publishing: the jobs as of one instant.
    let (rest, stored) = env.drain_settled(paused_q, &["defaults", "catch_up"], Duration::from_secs(30)).await;
    messages.extend(rest);

    // A commit while the queue is paused publishes nothing, and every message is stamped
    // before its commit: none is stamped after the pause and before the resume (1 ms:
    // publish_time's resolution).
    let during_pause: Vec<&Value> = messages.iter().filter(|m| published_us(m) > paused_at + 1_000 && published_us(m) < resumed_from).collect();
    assert!(during_pause.is_empty(), "published while the queue was paused: {during_pause:?}");

    for id in ["defaults", "catch_up"] {
        let stored = &stored[id];
        let fired = messages.iter().filter(|m| fire_job(m) == id).count() as i64;
        let counted = ["fires", "missed", "coalesced"].map(|c| stored[c].as_i64().unwrap_or(0));
        assert_eq!(counted[0], fired, "{id}: fires counted = messages: {stored}");
        assert_eq!(counted.iter().sum::<i64>(), grid_points(stored, first_fire[id], S), "{id}: every scheduled time is fired, missed or coalesced: {stored}");
        if id == "catch_up" {
            assert_eq!((counted[1], counted[2]), (0, 0), "no grace limit, no coalescing: the paused period is caught up: {stored}");
        } else {
            // At least 4 scheduled times fell in the pause; resuming fires one of them at most.
            assert!(counted[1] + counted[2] >= 2, "the paused period is missed/coalesced, and counted: {stored}");
        }
    }
    let fired_after_modify = messages.iter().filter(|m| fire_job(m) == "defaults" && published_us(m) > resumed_from);
    assert!(
        fired_after_modify.clone().count() > 0 && fired_after_modify.into_iter().all(|m| m["x"] == 2),
        "the job modified while paused fires with its new kwargs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduler_routes_name_unknown_queues_and_wrong_stores() {
    let mut env = Env::start(&[]);
    env.register_queue("fe_known", "REDIS");
    for route in ["get_scheduler_status", "pause_scheduler", "resume_scheduler", "get_one_queue_config"] {
        let method = if route.starts_with("get") { "GET" } else { "POST" };
        let (status, envelope) = env.call(method, &format!("{route}?queue_name=fe_nobody"), None).await;
        assert_eq!((status, envelope["code"].as_i64(), envelope["error"].as_str()), (404, Some(4001), Some("QueueNameNotExists")), "{route}: {envelope}");
        let (status, envelope) = env.call(method, route, None).await;
        assert_eq!((status, envelope["error_data"]["field"].as_str()), (400, Some("queue_name")), "{route}: {envelope}");
    }
    let (status, envelope) = env.call("POST", "pause_scheduler?queue_name=fe_known&job_store_kind=memory", None).await;
    assert_eq!((status, envelope["error_data"]["field"].as_str()), (400, Some("job_store_kind")), "{envelope}");
    let (status, envelope) = env.call("GET", "get_scheduler_status?queue_name=fe_known&bogus=1", None).await;
    assert_eq!((status, envelope["error_data"]["field"].as_str()), (400, Some("bogus")), "{envelope}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_one_queue_config_returns_the_consumers_registration() {
    let mut env = Env::start(&[]);
    env.register_queue_with("fe_config", "REDIS_PRIORITY", json!({"x-max-priority": 3}));
    let config = env.ok("GET", "get_one_queue_config?queue_name=fe_config", None).await;
    assert_eq!(config["queue_name"], "fe_config");
    assert_eq!(config["broker_kind"], "REDIS_PRIORITY");
    assert_eq!(config["broker_exclusive_config"]["x-max-priority"], 3);
    assert_eq!(config["auto_generate_info"]["final_func_input_params_info"]["all_arg_name_list"], json!(["x", "y"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_every_queue_includes_registered_queues_without_jobs() {
    let mut env = Env::start(&[]);
    env.register_queue("fe_empty", "REDIS");
    env.register_queue("fe_busy", "REDIS");
    env.add(json!({"queue_name": "fe_busy", "job_id": "j", "trigger": "interval", "minutes": 5, "kwargs": {"x": 1}})).await;
    let listed = env.ok("GET", "get_timing_jobs", None).await;
    assert_eq!(listed["jobs_by_queue"]["fe_empty"], json!([]), "{listed}");
    assert_eq!(listed["jobs_by_queue"]["fe_busy"].as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(listed["total_count"], 1);
}
