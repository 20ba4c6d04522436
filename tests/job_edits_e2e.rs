//! Editing jobs over HTTP through the real .wasm: `modify_timing_job` (arguments and options;
//! schedule and counters stay), `reschedule_timing_job` (a new trigger, next run from now,
//! counters and history kept), `run_timing_job_now` (one message now with a `manual` fire id,
//! schedule untouched, paused jobs too), `add_timing_job` with `paused`, and each job's fire
//! `history`. Bad input is refused with a 400 naming the field and changes nothing; edits
//! racing the ticker are never lost and never make a fire go out twice.
//!
//! Needs the components (cargo build --target wasm32-wasip2 --profile wasm -p funboost-api
//! -p funboost-ticker) and redis-server.

mod firing;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use firing::*;
use serde_json::{json, Value};

const QUEUE: &str = "fe_edits";

fn on_job(route: &str, job_id: &str) -> String {
    format!("{route}?queue_name={QUEUE}&job_id={job_id}")
}

/// The stored job's next run, UTC µs.
fn next_run_us(env: &mut Env, job_id: &str) -> i64 {
    env.stored_job(QUEUE, job_id).expect("stored")["next_run"]["utc_us"].as_i64().expect("a next run")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modify_changes_arguments_and_options_but_not_the_schedule() {
    let mut env = Env::start(&[]);
    env.register_queue(QUEUE, "REDIS");
    let added = env.add(json!({"queue_name": QUEUE, "job_id": "j", "trigger": "cron", "hour": "3", "args": [1]})).await;
    let modified = env
        .ok("POST", &on_job("modify_timing_job", "j"), Some(&json!({"args": [5, 6], "misfire_grace_time": 30, "coalesce": false, "max_retry_times": 2})))
        .await;
    assert_eq!(modified["next_run_time"], added["next_run_time"], "{modified}");
    assert_eq!(modified["trigger_str"], "cron[hour='3']");
    assert_eq!((modified["args"].clone(), modified["misfire_grace_time"].clone(), modified["coalesce"].clone()), (json!([5, 6]), json!(30), json!(false)));
    assert_eq!(modified["task_options"], json!({"max_retry_times": 2}));
    assert_eq!(env.stored_job(QUEUE, "j").expect("stored")["message_kwargs"], json!({"x": 5, "y": 6}), "args are mapped to the consumer's parameters again");

    // Refused, naming the field, and nothing written.
    let before = env.stored_job(QUEUE, "j");
    let cases = [
        (json!({"kwargs": {"z": 1}}), 400, "kwargs", Some(5001)),
        (json!({"args": [1, 2, 3]}), 400, "args", Some(5001)),
        (json!({"misfire_grace_time": 0}), 400, "misfire_grace_time", None),
        (json!({"priority": 2}), 400, "priority", None),
        (json!({"hour": "4"}), 400, "hour", None),
        (json!({}), 400, "body", None),
    ];
    for (body, status, field, code) in cases {
        let (got, envelope) = env.call("POST", &on_job("modify_timing_job", "j"), Some(&body)).await;
        assert_eq!((got, envelope["error_data"]["field"].as_str()), (status, Some(field)), "{body}: {envelope}");
        if let Some(code) = code {
            assert_eq!(envelope["code"], code, "{envelope}");
        }
    }
    assert_eq!(env.stored_job(QUEUE, "j"), before, "a refused modify changes nothing");
    let (status, envelope) = env.call("POST", &on_job("modify_timing_job", "nope"), Some(&json!({"kwargs": {"x": 1}}))).await;
    assert_eq!((status, envelope["code"].as_i64()), (404, Some(4040)), "{envelope}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reschedule_gives_a_new_trigger_from_now_and_keeps_the_counters() {
    let mut env = Env::start(&[]);
    env.register_queue(QUEUE, "REDIS");
    env.add(json!({"queue_name": QUEUE, "job_id": "j", "trigger": "interval", "seconds": 1, "kwargs": {"x": 1}})).await;
    // Tick once its next run has come, until it has fired (a tick later than the grace of 1 s
    // counts a miss instead; 30 s only detects a hang).
    let deadline = Instant::now() + Duration::from_secs(30);
    let before = loop {
        let next_us = next_run_us(&mut env, "j");
        env.wait_for_clock(next_us).await;
        env.http_tick("").await;
        let job = env.get_job(QUEUE, "j", "redis").await.expect("job");
        if job["fire_count"].as_u64() >= Some(1) {
            break job;
        }
        assert!(Instant::now() < deadline, "the job did not fire within 30 s: {job}");
    };

    let now_us = env.now_us();
    let rescheduled = env.ok("POST", &on_job("reschedule_timing_job", "j"), Some(&json!({"trigger": "cron", "minute": "*/5", "timezone": "UTC"}))).await;
    assert_eq!(
        (rescheduled["trigger"].as_str(), rescheduled["trigger_str"].as_str(), rescheduled["timezone"].as_str()),
        (Some("cron"), Some("cron[minute='*/5']"), Some("UTC"))
    );
    assert_eq!(rescheduled["fire_count"], before["fire_count"], "counters kept");
    let next_us = env.stored_job(QUEUE, "j").expect("stored")["next_run"]["utc_us"].as_i64().expect("next run");
    assert!(next_us > now_us && next_us <= now_us + 300 * S && next_us % (300 * S) == 0, "next run recomputed from now on the new trigger: {rescheduled}");
    let history = env.get_job(QUEUE, "j", "redis").await.expect("job")["history"].clone();
    assert_eq!(history.as_array().map(Vec::len), before["history"].as_array().map(Vec::len), "history kept: {history}");

    let stored = env.stored_job(QUEUE, "j");
    for (body, field) in [
        (json!({"trigger": "cron", "minute": "61"}), "minute"),
        (json!({"trigger": "cron", "seconds": 5}), "seconds"),
        (json!({"minute": "5"}), "trigger"),
        (json!({"trigger": "weekly"}), "trigger"),
    ] {
        let (status, envelope) = env.call("POST", &on_job("reschedule_timing_job", "j"), Some(&body)).await;
        assert_eq!((status, envelope["error_data"]["field"].as_str()), (400, Some(field)), "{body}: {envelope}");
    }
    assert_eq!(env.stored_job(QUEUE, "j"), stored, "a refused reschedule changes nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_now_publishes_one_manual_fire_and_leaves_the_schedule_and_paused_jobs_alone() {
    let mut env = Env::start(&[]);
    env.register_queue(QUEUE, "REDIS");
    let added = env.add(json!({"queue_name": QUEUE, "job_id": "j", "trigger": "cron", "hour": "3", "kwargs": {"x": 7}, "paused": true})).await;
    assert_eq!((added["status"].as_str(), added["next_run_time"].clone()), (Some("paused"), Value::Null), "added paused: {added}");
    let fired = env.ok("POST", &on_job("run_timing_job_now", "j"), None).await;
    let messages = env.drain_list(QUEUE);
    assert_eq!(messages.len(), 1, "{messages:?}");
    let fire_id = messages[0]["extra"]["fire_id"].as_str().expect("fire_id");
    assert!(fire_id.starts_with(&format!("{QUEUE}:j:manual:")), "{fire_id}");
    assert_eq!((fired["fire_id"].as_str(), fired["task_id"].clone()), (Some(fire_id), messages[0]["extra"]["task_id"].clone()), "{fired}");
    assert_eq!(message_kwargs(&messages[0]), json!({"x": 7}));

    let job = env.get_job(QUEUE, "j", "redis").await.expect("job");
    assert_eq!((job["status"].as_str(), job["fire_count"].as_u64()), (Some("paused"), Some(0)), "the schedule and counters are untouched: {job}");
    assert_eq!(job["history"][0]["outcome"], "manual", "{job}");
    assert_eq!(job["history"][0]["fire_id"].as_str(), Some(fire_id));
    // The manual fire is not a scheduled one: resuming fires on the schedule as before.
    env.ok("POST", &on_job("resume_timing_job", "j"), None).await;
    let job = env.get_job(QUEUE, "j", "redis").await.expect("job");
    assert!(job["next_run_time"].as_str().is_some_and(|t| t.contains(" 03:00:00")), "{job}");

    let (status, envelope) = env.call("POST", &on_job("run_timing_job_now", "nope"), None).await;
    assert_eq!((status, envelope["code"].as_i64()), (404, Some(4040)), "{envelope}");
    assert_eq!(env.list_len(QUEUE), 0, "nothing else was published");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_keeps_the_last_twenty_fires_with_their_task_ids_and_what_was_missed() {
    let mut env = Env::start(&[]);
    env.register_queue(QUEUE, "REDIS");
    env.add(json!({"queue_name": QUEUE, "job_id": "j", "trigger": "interval", "seconds": 1, "kwargs": {"x": 1}, "coalesce": false})).await;
    // An outage of over 3 s from the first fire time (by the Redis clock): with the default
    // grace of 1 s, the first 3 fires are missed.
    let first_us = next_run_us(&mut env, "j");
    env.wait_for_clock(first_us + 3_500_000).await;
    env.http_tick("").await;
    let ticker = tokio::spawn(env.host.clone().tick_every(Duration::from_secs(1)));
    // Until the last 20 records are fires (120 s only detects a hang).
    let deadline = Instant::now() + Duration::from_secs(120);
    let job = loop {
        let job = env.get_job(QUEUE, "j", "redis").await.expect("job");
        let history = job["history"].as_array().expect("history");
        if history.len() == 20 && history.iter().all(|r| r["outcome"] == "fired") {
            break job;
        }
        assert!(Instant::now() < deadline, "the last 20 records were not all fires within 120 s: {job}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    ticker.abort();
    // Drained after the read: every message of a fire in the history is in it.
    let messages = env.drain_list(QUEUE);
    let history = job["history"].as_array().expect("history");
    assert_eq!(history.len(), 20, "{job}");
    let times: Vec<&str> = history.iter().map(|r| r["scheduled_time"].as_str().expect("time")).collect();
    assert!(times.windows(2).all(|w| w[0] > w[1]), "newest first: {times:?}");
    let task_ids: HashSet<&str> = messages.iter().filter_map(|m| m["extra"]["task_id"].as_str()).collect();
    for record in history {
        assert_eq!(record["outcome"], "fired", "the missed ones are older than the last 20: {record}");
        assert!(task_ids.contains(record["task_id"].as_str().expect("task_id")), "{record}");
        assert!(record["lateness_ms"].as_f64().is_some_and(|ms| ms >= 0.0), "never early: {record}");
        assert_eq!(record["fire_id"].as_str().map(|f| f.starts_with(&format!("{QUEUE}:j:"))), Some(true));
    }
    assert!(job["missed_count"].as_u64() >= Some(2), "the outage was counted: {job}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_missed_fires_of_an_outage_show_in_the_history() {
    let mut env = Env::start(&[]);
    env.register_queue(QUEUE, "REDIS");
    env.add(json!({"queue_name": QUEUE, "job_id": "j", "trigger": "interval", "seconds": 1, "kwargs": {"x": 1}, "coalesce": false})).await;
    // No tick for over 3 s from the first fire time (by the Redis clock): with the default grace
    // of 1 s, the first 3 fires are missed.
    let first_us = next_run_us(&mut env, "j");
    env.wait_for_clock(first_us + 3_500_000).await;
    env.http_tick("").await;
    let history = env.get_job(QUEUE, "j", "redis").await.expect("job")["history"].clone();
    let outcomes: Vec<&str> = history.as_array().expect("history").iter().map(|r| r["outcome"].as_str().expect("outcome")).collect();
    assert!(outcomes.iter().filter(|o| **o == "missed").count() >= 2, "{history}");
    assert!(history.as_array().expect("history").iter().filter(|r| r["outcome"] == "missed").all(|r| r["task_id"].is_null() && r["published_time"].is_null()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_racing_the_ticker_are_never_lost_and_never_fire_twice() {
    let mut env = Env::start(&[]);
    env.register_queue(QUEUE, "REDIS");
    env.add(json!({"queue_name": QUEUE, "job_id": "j", "trigger": "interval", "seconds": 1, "kwargs": {"x": 0}})).await;
    let ticker = tokio::spawn(env.host.clone().tick_every(Duration::from_secs(1)));
    // 40 edits spread over about 5 s of ticks (the pacing is the scenario: no assertion
    // depends on how many ticks ran meanwhile).
    for x in 1..=40 {
        env.ok("POST", &on_job("modify_timing_job", "j"), Some(&json!({"kwargs": {"x": x}}))).await;
        if x % 10 == 0 {
            env.ok("POST", &on_job("run_timing_job_now", "j"), None).await;
        }
        tokio::time::sleep(Duration::from_millis(120)).await;
    }
    ticker.abort();
    // Ticks started before the abort may still be publishing. The job and the messages as of
    // one instant: a commit pushes the messages and writes the job (with a new version)
    // together, so when the version did not change across the drain, they agree.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut messages = Vec::new();
    let job = loop {
        let version = env.stored_job(QUEUE, "j").expect("stored")["version"].clone();
        messages.extend(env.drain_list(QUEUE));
        let job = env.get_job(QUEUE, "j", "redis").await.expect("job");
        if env.stored_job(QUEUE, "j").expect("stored")["version"] == version {
            break job;
        }
        assert!(Instant::now() < deadline, "the job was still being written 30 s after the ticker stopped: {job}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(job["kwargs"], json!({"x": 40}), "the last edit wins: {job}");
    let fire_ids: Vec<&str> = messages.iter().map(|m| m["extra"]["fire_id"].as_str().expect("fire_id")).collect();
    assert_eq!(fire_ids.iter().collect::<HashSet<_>>().len(), fire_ids.len(), "no fire twice: {fire_ids:?}");
    assert_eq!(fire_ids.iter().filter(|f| f.contains(":manual:")).count(), 4);
    assert_eq!(job["fire_count"].as_u64(), Some(fire_ids.iter().filter(|f| !f.contains(":manual:")).count() as u64), "{job}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn as_in_apscheduler_a_reschedule_runs_a_paused_job_and_a_resume_without_fire_times_removes_it() {
    let mut env = Env::start(&[]);
    env.register_queue(QUEUE, "REDIS");
    // reschedule_job sets the new trigger's next run, which resumes a paused job.
    env.add(json!({"queue_name": QUEUE, "job_id": "p", "trigger": "cron", "hour": "3", "kwargs": {"x": 1}, "paused": true})).await;
    let job = env.ok("POST", &on_job("reschedule_timing_job", "p"), Some(&json!({"trigger": "interval", "minutes": 5}))).await;
    assert_eq!(job["status"], "running", "{job}");
    assert!(job["next_run_time"].is_string(), "{job}");
    // resume_job of a job whose trigger has no fire time left removes it.
    let end_us = (env.now_us() / S + 2) * S;
    env.add(json!({"queue_name": QUEUE, "job_id": "ends", "trigger": "cron", "second": "*", "end_date": shanghai_wall(end_us), "kwargs": {"x": 1}})).await;
    env.ok("POST", &on_job("pause_timing_job", "ends"), None).await;
    env.wait_for_clock(end_us + S).await;
    let (status, envelope) = env.call("POST", &on_job("resume_timing_job", "ends"), None).await;
    assert_eq!((status, envelope["data"].clone()), (200, Value::Null), "{envelope}");
    assert!(envelope["msg"].as_str().is_some_and(|m| m.contains("removed")), "{envelope}");
    assert!(env.get_job(QUEUE, "ends", "redis").await.is_none(), "the job is gone");
}
