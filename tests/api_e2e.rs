//! The HTTP API end to end: the real release `funboost_api.wasm` in the test host (as `spin up`
//! runs it) against a real redis-server started per test. Every route, every error row of
//! funboost-compat.md §1.7 with this product's statuses, the queue registry, auth, limits, an
//! unreachable store, restarts and racing adds.
//!
//! Build the components first: cargo build --target wasm32-wasip2 --profile wasm -p funboost-api -p funboost-ticker

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::*;
use funboost_test_host::test_support::RedisServer;
use funboost_test_host::Host;
use serde_json::{json, Value};

/// A redis-server, a sync connection to it with queue `q` (consumer `f(x, y=5)`) registered,
/// and a Host running the API component with spin.toml's defaults plus `overrides`.
struct Env {
    redis: RedisServer,
    conn: redis::Connection,
    host: Host,
}

impl Env {
    fn start() -> Env {
        Env::with(&[])
    }

    fn with(overrides: &[(&str, &str)]) -> Env {
        let redis = RedisServer::start().expect("redis-server");
        let mut conn = connect(&redis);
        register_queue(&mut conn, "q", &["x", "y"], &["x"]);
        let mut vars = variables(&redis);
        for (name, value) in overrides {
            vars.insert(name.to_string(), value.to_string());
        }
        let host = host_with(vars);
        Env { redis, conn, host }
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        call(&self.host, method, &format!("/funboost/{path}"), body.as_ref()).await
    }

    async fn add(&self, body: Value) -> Reply {
        self.call("POST", "add_timing_job", Some(body)).await
    }

    async fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let reply = self.call(method, path, body).await;
        assert_eq!((reply.status, reply.body["succ"].as_bool(), reply.code()), (200, Some(true), 200), "{method} {path}: {reply}");
        assert!(reply.body["error"].is_null() && reply.body["error_data"].is_null(), "{reply}");
        reply.data().clone()
    }

    fn now_us(&mut self) -> i64 {
        redis_now_us(&mut self.conn)
    }
}

fn next_run_us(job: &Value) -> i64 {
    py_time_utc_us(job["next_run_time"].as_str().unwrap_or_else(|| panic!("no next_run_time: {job}")))
}

fn ids(jobs: &Value) -> Vec<&str> {
    jobs.as_array().expect("job array").iter().map(|j| j["job_id"].as_str().unwrap()).collect()
}

const SECOND: i64 = 1_000_000;
const DAY: i64 = 86_400 * SECOND;

// ---- add_timing_job ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adding_each_trigger_kind_returns_the_job_with_its_next_run_time() {
    let mut env = Env::start();
    // (store, body, trigger_str, check of the next run given the Redis clock just before and
    // just after the add: the add's "now" is between them, however long the add took)
    type Check = fn(&str, i64, i64);
    let cases: Vec<(&str, Value, &str, Check)> = vec![
        ("date", json!({"trigger": "date", "run_date": "2030-12-03 15:00:00", "args": [10, 20]}), "date[2030-12-03 15:00:00 CST]", |next, _, _| {
            assert_eq!(next, "2030-12-03 15:00:00+08:00")
        }),
        (
            "interval",
            json!({"trigger": "interval", "seconds": 10, "kwargs": {"x": 1, "y": 2}}),
            "interval[0:00:10]",
            // start = add time + interval, microseconds kept
            |next, before, after| {
                let at = py_time_utc_us(next);
                assert!(at >= before + 10 * SECOND && at <= after + 10 * SECOND, "{next}");
            },
        ),
        (
            "interval with days and hours",
            json!({"trigger": "interval", "days": 1, "hours": "2", "kwargs": {"x": 1}}),
            "interval[1 day, 2:00:00]",
            |next, before, after| {
                let at = py_time_utc_us(next);
                assert!(at >= before + DAY + 2 * 3600 * SECOND && at <= after + DAY + 2 * 3600 * SECOND, "{next}");
            },
        ),
        ("cron", json!({"trigger": "cron", "hour": "15", "minute": "30", "args": [1, 2]}), "cron[hour='15', minute='30']", |next, before, after| {
            assert_eq!(&next[10..], " 15:30:00+08:00", "{next}");
            let at = py_time_utc_us(next);
            assert!(at > before && at <= after + DAY, "{next}");
        }),
        ("cron field as a JSON integer", json!({"trigger": "cron", "hour": 9, "minute": 0, "kwargs": {"x": 1}}), "cron[hour='9', minute='0']", |next, _, _| {
            assert_eq!(&next[10..], " 09:00:00+08:00", "{next}")
        }),
        (
            "cron every 2 hours in another zone",
            json!({"trigger": "cron", "hour": "*/2", "minute": "0", "timezone": "Europe/London", "kwargs": {"x": 1}}),
            "cron[hour='*/2', minute='0']",
            |next, _, _| {
                assert_eq!(&next[13..19], ":00:00", "{next}");
                assert!(next.ends_with("+00:00") || next.ends_with("+01:00"), "{next}");
            },
        ),
    ];
    for store in ["redis", "memory"] {
        for (name, body, trigger_str, check) in &cases {
            let job_id = format!("{store}-{}", name.replace(' ', "-"));
            let mut body = body.clone();
            body["queue_name"] = json!("q");
            body["job_id"] = json!(job_id);
            body["job_store_kind"] = json!(store);
            let before = env.now_us();
            let reply = env.add(body.clone()).await;
            let after = env.now_us();
            assert_eq!(reply.status, 200, "{name} ({store}): {reply}");
            assert_eq!(reply.body["succ"], true);
            assert_eq!(reply.code(), 200);
            assert_eq!(reply.msg(), format!("timing job {job_id} added to queue q"));
            let job = reply.data();
            assert_eq!(job["job_id"], json!(job_id));
            assert_eq!(job["queue_name"], "q");
            assert_eq!(job["trigger"], body["trigger"], "{name}");
            assert_eq!(job["trigger_str"], *trigger_str, "{name}");
            assert_eq!(job["status"], "running");
            assert_eq!(job["job_store_kind"], store);
            assert_eq!(job["args"], body.get("args").cloned().unwrap_or(json!([])));
            assert_eq!(job["kwargs"], body.get("kwargs").cloned().unwrap_or(json!({})));
            assert_eq!(job["timezone"], body.get("timezone").cloned().unwrap_or(json!("Asia/Shanghai")));
            for field in ["run_date", "seconds", "days", "hours", "hour", "minute"] {
                assert_eq!(job.get(field), body.get(field), "{name}: trigger field {field} as given");
            }
            let next = job["next_run_time"].as_str().expect("next_run_time");
            assert!(parse_py_time(next).is_some(), "{name}: {next:?} is not YYYY-MM-DD HH:MM:SS[.ffffff]+HH:MM");
            check(next, before, after);

            let stored = stored_job(&mut env.conn, "q", &job_id);
            let due = due_score(&mut env.conn, "q", &job_id);
            match store {
                "redis" => {
                    assert!(stored.is_some(), "{name}: a redis job is in Redis");
                    assert_eq!(due, Some(py_time_utc_us(next)), "{name}: due index score = next run, UTC µs");
                }
                _ => assert_eq!((stored, due), (None, None), "{name}: a memory job is not in Redis"),
            }
        }
    }
    // Each store lists only its own jobs.
    for store in ["redis", "memory"] {
        let data = env.ok("GET", &format!("get_timing_jobs?job_store_kind={store}"), None).await;
        assert_eq!(data["count"], cases.len(), "{store}: {data}");
        assert!(ids(&data["jobs"]).iter().all(|id| id.starts_with(store)), "{store}: {data}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_without_job_id_gets_a_generated_32_hex_digit_id() {
    let mut env = Env::start();
    let mut seen = Vec::new();
    for store in ["redis", "memory", "redis"] {
        let job = env
            .ok("POST", "add_timing_job", Some(json!({"queue_name": "q", "trigger": "cron", "minute": "*/5", "kwargs": {"x": 1}, "job_store_kind": store})))
            .await;
        let id = job["job_id"].as_str().unwrap().to_string();
        assert!(id.len() == 32 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)), "{id}");
        assert!(!seen.contains(&id), "ids are unique");
        if store == "redis" {
            assert!(stored_job(&mut env.conn, "q", &id).is_some());
        }
        seen.push(id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replace_existing_replaces_a_job_and_without_it_a_duplicate_is_refused() {
    let mut env = Env::start();
    for store in ["redis", "memory"] {
        let first = json!({"queue_name": "q", "trigger": "interval", "seconds": 30, "job_id": "same", "kwargs": {"x": 1}, "job_store_kind": store});
        env.ok("POST", "add_timing_job", Some(first.clone())).await;

        let mut second = first.clone();
        second["kwargs"] = json!({"x": 2});
        let reply = env.add(second.clone()).await;
        assert_eq!((reply.status, reply.code(), reply.body["error"].as_str()), (409, 4090, Some("ConflictingIdError")), "{reply}");
        assert!(reply.msg().starts_with("Job identifier (same) conflicts with an existing job"), "{reply}");

        second["replace_existing"] = json!(true);
        let reply = env.add(second).await;
        assert_eq!(reply.status, 200, "{reply}");
        assert_eq!(reply.msg(), "timing job same in queue q replaced");
        assert_eq!(reply.data()["kwargs"], json!({"x": 2}));

        let jobs = env.ok("GET", &format!("get_timing_jobs?queue_name=q&job_store_kind={store}"), None).await;
        assert_eq!(jobs["count"], 1, "{jobs}");
        assert_eq!(jobs["jobs"][0]["kwargs"], json!({"x": 2}));
    }
    assert_eq!(stored_job(&mut env.conn, "q", "same").unwrap()["message_kwargs"], json!({"x": 2}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_date_job_whose_run_date_has_an_offset_stays_readable() {
    // Its zone is the fixed offset (Python's aware datetime), stored as "+05:30".
    let env = Env::start();
    for store in ["redis", "memory"] {
        for (id, run_date, next) in [
            ("plus", "2030-12-03 15:00:00+05:30", "2030-12-03 15:00:00+05:30"),
            ("minus", "2030-12-03T15:00:00.25-03:00", "2030-12-03 15:00:00.000025-03:00"),
            ("zulu", "2030-12-03 15:00:00Z", "2030-12-03 15:00:00+00:00"),
        ] {
            let job = env
                .ok(
                    "POST",
                    "add_timing_job",
                    Some(json!({"queue_name": "q", "trigger": "date", "run_date": run_date, "job_id": id, "kwargs": {"x": 1}, "job_store_kind": store})),
                )
                .await;
            assert_eq!(job["next_run_time"], next, "{id}");
            let q = format!("job_id={id}&queue_name=q&job_store_kind={store}");
            let got = env.ok("GET", &format!("get_timing_job?{q}"), None).await;
            assert_eq!((&got["next_run_time"], &got["next_run_times"]), (&json!(next), &json!([next])), "{id}");
            env.ok("POST", &format!("pause_timing_job?{q}"), None).await;
            let resumed = env.ok("POST", &format!("resume_timing_job?{q}"), None).await;
            assert_eq!(resumed["next_run_time"], next);
        }
        let listed = env.ok("GET", &format!("get_timing_jobs?job_store_kind={store}"), None).await;
        assert_eq!(listed["count"], 3, "{listed}");
        for id in ["plus", "minus", "zulu"] {
            env.ok("DELETE", &format!("delete_timing_job?job_id={id}&queue_name=q&job_store_kind={store}"), None).await;
        }
    }
}

// ---- the queue registry ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn positional_args_are_mapped_to_the_registered_parameter_names() {
    let mut env = Env::start();
    register_queue(&mut env.conn, "adder", &["a", "b", "c"], &["a"]);
    let cases = [
        (json!([1, 2]), json!({}), json!({"a": 1, "b": 2})),
        (json!([5]), json!({"c": 6}), json!({"a": 5, "c": 6})),
        (json!([]), json!({"a": "x", "b": [1, {"k": null}]}), json!({"a": "x", "b": [1, {"k": null}]})),
        (json!(["s", 2.5, true]), json!({}), json!({"a": "s", "b": 2.5, "c": true})),
    ];
    for (i, (args, kwargs, expected)) in cases.into_iter().enumerate() {
        let job_id = format!("m{i}");
        let job = env
            .ok(
                "POST",
                "add_timing_job",
                Some(json!({"queue_name": "adder", "trigger": "cron", "hour": "3", "job_id": job_id, "args": args, "kwargs": kwargs})),
            )
            .await;
        // The API returns args and kwargs as given ...
        assert_eq!((&job["args"], &job["kwargs"]), (&args, &kwargs));
        // ... and the stored job carries the message's keyword arguments, as funboost's push maps them.
        assert_eq!(stored_job(&mut env.conn, "adder", &job_id).unwrap()["message_kwargs"], expected, "args {args} kwargs {kwargs}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_allow_unregistered_queues_an_unknown_queue_takes_kwargs_but_refuses_args() {
    let mut env = Env::with(&[("allow_unregistered_queues", "true")]);
    let job = env
        .ok("POST", "add_timing_job", Some(json!({"queue_name": "free", "trigger": "cron", "hour": "1", "job_id": "kw", "kwargs": {"anything": [1, 2]}})))
        .await;
    assert_eq!(job["kwargs"], json!({"anything": [1, 2]}));
    assert_eq!(stored_job(&mut env.conn, "free", "kw").unwrap()["message_kwargs"], json!({"anything": [1, 2]}));

    let reply = env.add(json!({"queue_name": "free", "trigger": "cron", "hour": "1", "job_id": "pos", "args": [1]})).await;
    assert_eq!((reply.status, reply.code()), (400, 4000), "{reply}");
    assert_eq!(reply.body["error_data"], json!({"field": "args"}));
    assert!(reply.msg().starts_with("args: queue free: no consumer registered it"), "{reply}");
    assert!(stored_job(&mut env.conn, "free", "pos").is_none());

    // A missing job of an unregistered queue is then just a missing job.
    let reply = env.call("GET", "get_timing_job?job_id=nope&queue_name=other", None).await;
    assert_eq!((reply.status, reply.code()), (404, 4040), "{reply}");
}

// ---- get_timing_jobs ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_gives_both_shapes_sorted_by_next_run_with_paused_jobs_last() {
    let env = Env::start();
    let mut conn = connect(&env.redis);
    register_queue(&mut conn, "q2", &["x"], &[]);
    let adds = [
        ("q", "late", "2031-01-01 00:00:00"),
        ("q", "early", "2029-01-01 00:00:00"),
        ("q2", "middle", "2030-01-01 00:00:00"),
        ("q", "paused", "2028-01-01 00:00:00"),
        ("q2", "q2-paused", "2027-01-01 00:00:00"),
    ];
    for (queue, id, run_date) in adds {
        env.ok("POST", "add_timing_job", Some(json!({"queue_name": queue, "trigger": "date", "run_date": run_date, "job_id": id, "kwargs": {"x": 1}}))).await;
    }
    for (queue, id) in [("q", "paused"), ("q2", "q2-paused")] {
        env.ok("POST", &format!("pause_timing_job?job_id={id}&queue_name={queue}"), None).await;
    }

    // All queues (no queue_name): the seed's shape and funboost's shape.
    for path in ["get_timing_jobs", "get_timing_jobs?job_store_kind=redis"] {
        let data = env.ok("GET", path, None).await;
        // Running jobs by next run time, then the paused ones (APScheduler's sort key puts them
        // at datetime.max; among themselves their order is unspecified).
        let all = ids(&data["jobs"]);
        assert_eq!(all[..3], ["early", "middle", "late"], "{data}");
        let mut paused = all[3..].to_vec();
        paused.sort();
        assert_eq!(paused, ["paused", "q2-paused"], "{data}");
        assert_eq!((&data["count"], &data["total_count"]), (&json!(5), &json!(5)));
        let by_queue = data["jobs_by_queue"].as_object().unwrap();
        assert_eq!(by_queue.len(), 2);
        assert_eq!(ids(&by_queue["q"]), ["early", "late", "paused"]);
        assert_eq!(ids(&by_queue["q2"]), ["middle", "q2-paused"]);
        for job in data["jobs"].as_array().unwrap() {
            let paused = job["job_id"].as_str().unwrap().contains("paused");
            assert_eq!(job["status"], if paused { "paused" } else { "running" });
            assert_eq!(job["next_run_time"].is_null(), paused, "{job}");
        }
    }

    // One queue.
    let data = env.ok("GET", "get_timing_jobs?queue_name=q2&job_store_kind=redis", None).await;
    assert_eq!(ids(&data["jobs"]), ["middle", "q2-paused"]);
    assert_eq!((&data["count"], &data["total_count"]), (&json!(2), &json!(2)));
    assert_eq!(data["jobs_by_queue"].as_object().unwrap().keys().collect::<Vec<_>>(), ["q2"]);

    // A queue without jobs (registered or not): success, an empty list under its name, as funboost.
    for queue in ["nobody", "q3"] {
        let data = env.ok("GET", &format!("get_timing_jobs?queue_name={queue}"), None).await;
        assert_eq!(data, json!({"jobs": [], "count": 0, "jobs_by_queue": {queue: []}, "total_count": 0}));
    }
    // The memory store has none of them; every registered queue is listed, as funboost does.
    let data = env.ok("GET", "get_timing_jobs?job_store_kind=memory", None).await;
    assert_eq!(data, json!({"jobs": [], "count": 0, "jobs_by_queue": {"q": [], "q2": []}, "total_count": 0}));
}

// ---- get_timing_job ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_timing_job_returns_the_job_and_its_next_fire_times() {
    let env = Env::start();
    env.ok("POST", "add_timing_job", Some(json!({"queue_name": "q", "trigger": "cron", "hour": "15", "minute": "0", "job_id": "daily", "args": [1]}))).await;
    env.ok(
        "POST",
        "add_timing_job",
        Some(json!({"queue_name": "q", "trigger": "date", "run_date": "2030-12-03 15:00:00.5", "job_id": "once", "args": [1], "job_store_kind": "memory"})),
    )
    .await;

    let job = env.ok("GET", "get_timing_job?job_id=daily&queue_name=q&count=3", None).await;
    assert_eq!(job["job_id"], "daily");
    assert_eq!(job["trigger_str"], "cron[hour='15', minute='0']");
    let times: Vec<&str> = job["next_run_times"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    assert_eq!(times.len(), 3);
    assert_eq!(times[0], job["next_run_time"].as_str().unwrap(), "the first is the next run");
    for pair in times.windows(2) {
        assert_eq!(py_time_utc_us(pair[1]) - py_time_utc_us(pair[0]), DAY, "{times:?}");
        assert!(pair[1].ends_with(" 15:00:00+08:00"));
    }
    // Default count: 5.
    let job = env.ok("GET", "get_timing_job?queue_name=q&job_id=daily", None).await;
    assert_eq!(job["next_run_times"].as_array().unwrap().len(), 5);

    // A date job has one fire time, whatever the count; microseconds are printed.
    let job = env.ok("GET", "get_timing_job?job_id=once&queue_name=q&job_store_kind=memory&count=1000", None).await;
    assert_eq!(job["next_run_times"], json!(["2030-12-03 15:00:00.000005+08:00"]), "APScheduler reads '.5' as 5 µs");

    // Paused: no next run, no fire times.
    env.ok("POST", "pause_timing_job?job_id=daily&queue_name=q", None).await;
    let job = env.ok("GET", "get_timing_job?job_id=daily&queue_name=q&count=3", None).await;
    assert_eq!((&job["status"], &job["next_run_time"], &job["next_run_times"]), (&json!("paused"), &Value::Null, &json!([])));

    for count in ["0", "1001", "abc", "-1", ""] {
        let reply = env.call("GET", &format!("get_timing_job?job_id=daily&queue_name=q&count={count}"), None).await;
        assert_eq!((reply.status, reply.code(), &reply.body["error_data"]), (400, 4000, &json!({"field": "count"})), "count={count}: {reply}");
    }
}

// ---- delete_timing_job, delete_all_timing_jobs ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_removes_the_job_from_the_store_and_the_due_index() {
    let mut env = Env::start();
    for store in ["redis", "memory"] {
        for id in ["a", "b"] {
            env.ok(
                "POST",
                "add_timing_job",
                Some(json!({"queue_name": "q", "trigger": "interval", "minutes": 5, "job_id": id, "kwargs": {"x": 1}, "job_store_kind": store})),
            )
            .await;
        }
        let data = env.call("DELETE", &format!("delete_timing_job?job_id=a&queue_name=q&job_store_kind={store}"), None).await;
        assert_eq!((data.status, data.msg(), data.data()), (200, "timing job a deleted from queue q", &Value::Null), "{data}");
        let reply = env.call("GET", &format!("get_timing_job?job_id=a&queue_name=q&job_store_kind={store}"), None).await;
        assert_eq!((reply.status, reply.code()), (404, 4040), "{reply}");
        let reply = env.call("DELETE", &format!("delete_timing_job?job_id=a&queue_name=q&job_store_kind={store}"), None).await;
        assert_eq!((reply.status, reply.code()), (404, 4040), "deleting twice: {reply}");
        let left = env.ok("GET", &format!("get_timing_jobs?job_store_kind={store}"), None).await;
        assert_eq!(ids(&left["jobs"]), ["b"]);
    }
    assert_eq!((stored_job(&mut env.conn, "q", "a"), due_score(&mut env.conn, "q", "a")), (None, None));
    assert!(due_score(&mut env.conn, "q", "b").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_all_deletes_the_jobs_of_one_queue_or_of_all_queues() {
    let mut env = Env::start();
    register_queue(&mut env.conn, "q2", &["x"], &[]);
    for store in ["redis", "memory"] {
        for (queue, id) in [("q", "1"), ("q", "2"), ("q", "3"), ("q2", "4"), ("q2", "5")] {
            env.ok(
                "POST",
                "add_timing_job",
                Some(json!({"queue_name": queue, "trigger": "cron", "second": "*/10", "job_id": id, "kwargs": {"x": 1}, "job_store_kind": store})),
            )
            .await;
        }
        let data = env.ok("DELETE", &format!("delete_all_timing_jobs?queue_name=q&job_store_kind={store}"), None).await;
        assert_eq!(data, json!({"deleted_count": 3, "failed_jobs": []}));
        let left = env.ok("GET", &format!("get_timing_jobs?job_store_kind={store}"), None).await;
        assert_eq!(ids(&left["jobs"]).len(), 2, "{left}");
        assert!(left["jobs"].as_array().unwrap().iter().all(|j| j["queue_name"] == "q2"));

        let reply = env.call("DELETE", &format!("delete_all_timing_jobs?job_store_kind={store}"), None).await;
        assert_eq!(
            (reply.status, reply.msg(), reply.data()),
            (200, "deleted 2 timing jobs from all queues", &json!({"deleted_count": 2, "failed_jobs": []})),
            "{reply}"
        );
        let left = env.ok("GET", &format!("get_timing_jobs?job_store_kind={store}"), None).await;
        assert_eq!(left["count"], 0);
    }
    let keys: Vec<String> = redis::cmd("KEYS").arg("{funboost_edge}*").query(&mut env.conn).unwrap();
    let trail = ["{funboost_edge}:audit", "{funboost_edge}:audit_counts"];
    assert!(keys.iter().all(|k| trail.contains(&k.as_str())), "nothing left behind but the audit trail: {keys:?}");
}

// ---- pause_timing_job, resume_timing_job ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_keeps_the_job_but_removes_it_from_the_due_index() {
    let mut env = Env::start();
    let job = env.ok("POST", "add_timing_job", Some(json!({"queue_name": "q", "trigger": "interval", "seconds": 10, "job_id": "p", "kwargs": {"x": 1}}))).await;
    assert_eq!(due_score(&mut env.conn, "q", "p"), Some(next_run_us(&job)));

    let reply = env.call("POST", "pause_timing_job?job_id=p&queue_name=q&job_store_kind=redis", None).await;
    assert_eq!((reply.status, reply.msg()), (200, "timing job p in queue q paused"), "{reply}");
    let paused = reply.data();
    assert_eq!((&paused["next_run_time"], &paused["status"]), (&Value::Null, &json!("paused")));
    assert_eq!(due_score(&mut env.conn, "q", "p"), None, "a paused job is not due");
    assert_eq!(stored_job(&mut env.conn, "q", "p").unwrap()["paused"], true, "but it stays stored");
    let listed = env.ok("GET", "get_timing_jobs?queue_name=q", None).await;
    assert_eq!((&listed["jobs"][0]["job_id"], &listed["jobs"][0]["status"]), (&json!("p"), &json!("paused")));

    // Pausing twice is fine.
    env.ok("POST", "pause_timing_job?job_id=p&queue_name=q", None).await;
    assert_eq!(due_score(&mut env.conn, "q", "p"), None);

    // Memory store too.
    env.ok(
        "POST",
        "add_timing_job",
        Some(json!({"queue_name": "q", "trigger": "cron", "minute": "1", "job_id": "m", "kwargs": {"x": 1}, "job_store_kind": "memory"})),
    )
    .await;
    let paused = env.ok("POST", "pause_timing_job?job_id=m&queue_name=q&job_store_kind=memory", None).await;
    assert_eq!((&paused["next_run_time"], &paused["status"]), (&Value::Null, &json!("paused")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_recomputes_the_next_run_from_now_keeping_the_interval_grid() {
    let mut env = Env::start();
    // Every second on a grid anchored at .250000 (start_date in the past).
    let job = env.ok("POST", "add_timing_job", Some(json!({"queue_name": "q", "trigger": "interval", "seconds": 1, "start_date": "2025-01-01 00:00:00.250000", "job_id": "grid", "kwargs": {"x": 1}}))).await;
    let before = next_run_us(&job);
    // Every 10 s from "now + 10 s" (the default start): the grid keeps the add time's microseconds.
    let job = env
        .ok("POST", "add_timing_job", Some(json!({"queue_name": "q", "trigger": "interval", "seconds": 10, "job_id": "default-start", "kwargs": {"x": 1}})))
        .await;
    let default_before = next_run_us(&job);
    // A cron job.
    env.ok(
        "POST",
        "add_timing_job",
        Some(json!({"queue_name": "q", "trigger": "cron", "second": "*/2", "job_id": "cron", "kwargs": {"x": 1}, "job_store_kind": "memory"})),
    )
    .await;

    for (id, store) in [("grid", "redis"), ("default-start", "redis"), ("cron", "memory")] {
        env.ok("POST", &format!("pause_timing_job?job_id={id}&queue_name=q&job_store_kind={store}"), None).await;
    }
    // Resumed once the old next run of the grid job has passed (by the Redis clock). The
    // resumes' "now" lies between `now` and `after`, however long they take.
    let now = wait_for_redis_clock(&mut env.conn, before).await;
    let mut resumed = HashMap::new();
    for (id, store) in [("grid", "redis"), ("default-start", "redis"), ("cron", "memory")] {
        let reply = env.call("POST", &format!("resume_timing_job?job_id={id}&queue_name=q&job_store_kind={store}"), None).await;
        assert_eq!((reply.status, reply.msg()), (200, format!("timing job {id} in queue q resumed").as_str()), "{reply}");
        assert_eq!(reply.data()["status"], "running");
        resumed.insert(id, next_run_us(reply.data()));
    }
    let after = env.now_us();

    let grid = resumed["grid"];
    assert!(grid > now && grid <= after + SECOND, "the first grid point after the resume: {grid} vs {now}..{after}");
    assert!(grid >= before + SECOND, "recomputed from now, not the old next run");
    assert_eq!((grid - before) % SECOND, 0, "on the start_date grid");
    assert_eq!(grid.rem_euclid(SECOND), 250_000);
    assert_eq!(due_score(&mut env.conn, "q", "grid"), Some(grid), "back in the due index");

    let default = resumed["default-start"];
    assert_eq!((default - default_before) % (10 * SECOND), 0, "the grid of the default start (add time + 10 s)");
    assert!(default > now && default <= after + 10 * SECOND, "{default} vs {now}..{after}");

    let cron = resumed["cron"];
    assert_eq!(cron % (2 * SECOND), 0);
    assert!(cron > now - SECOND && cron <= after + 2 * SECOND, "{cron} vs {now}..{after}");
}

// ---- preview_timing_job ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preview_lists_the_next_fire_times_after_a_time_and_stores_nothing() {
    let mut env = Env::start();
    let cases = [
        (
            "cron, naive after in the trigger's zone",
            json!({"trigger": "cron", "hour": "15", "minute": "30", "after": "2025-12-03 16:00:00", "count": 2}),
            "cron[hour='15', minute='30']",
            "2025-12-03 16:00:00+08:00",
            vec!["2025-12-04 15:30:00+08:00", "2025-12-05 15:30:00+08:00"],
        ),
        (
            "an after with an offset is that instant",
            json!({"trigger": "cron", "hour": "15", "minute": "30", "after": "2025-12-03 07:00:00+00:00", "count": 2}),
            "cron[hour='15', minute='30']",
            "2025-12-03 07:00:00+00:00",
            vec!["2025-12-03 15:30:00+08:00", "2025-12-04 15:30:00+08:00"],
        ),
        (
            "weekdays at 9, with a queue_name and cron integers",
            json!({"queue_name": "q", "trigger": "cron", "day_of_week": "mon-fri", "hour": 9, "minute": 0, "after": "2025-12-05 10:00:00", "count": 2}),
            "cron[day_of_week='mon-fri', hour='9', minute='0']",
            "2025-12-05 10:00:00+08:00",
            vec!["2025-12-08 09:00:00+08:00", "2025-12-09 09:00:00+08:00"],
        ),
        (
            "interval on its start_date grid, microseconds printed",
            json!({"trigger": "interval", "seconds": 10, "start_date": "2025-12-03 14:50:00.5", "after": "2025-12-03 14:50:05.123456", "count": 3}),
            "interval[0:00:10]",
            "2025-12-03 14:50:05.123456+08:00",
            vec!["2025-12-03 14:50:10.000005+08:00", "2025-12-03 14:50:20.000005+08:00", "2025-12-03 14:50:30.000005+08:00"],
        ),
        (
            "date: one fire time",
            json!({"trigger": "date", "run_date": "2030-12-03 15:00:00", "after": "2025-01-01 00:00:00"}),
            "date[2030-12-03 15:00:00 CST]",
            "2025-01-01 00:00:00+08:00",
            vec!["2030-12-03 15:00:00+08:00"],
        ),
        (
            "a timezone of its own, across a DST change",
            json!({"trigger": "cron", "hour": "2", "minute": "30", "timezone": "America/New_York", "after": "2025-03-08 12:00:00", "count": 2}),
            "cron[hour='2', minute='30']",
            "2025-03-08 12:00:00-05:00",
            vec!["2025-03-09 02:30:00-05:00", "2025-03-10 02:30:00-04:00"],
        ),
        (
            "the end_date ends the list",
            json!({"trigger": "cron", "hour": "0", "end_date": "2025-01-03", "after": "2024-12-31 12:00:00", "count": 10}),
            "cron[hour='0']",
            "2024-12-31 12:00:00+08:00",
            vec!["2025-01-01 00:00:00+08:00", "2025-01-02 00:00:00+08:00", "2025-01-03 00:00:00+08:00"],
        ),
    ];
    for (name, body, trigger_str, after, expected) in cases {
        let data = env.ok("POST", "preview_timing_job", Some(body)).await;
        assert_eq!(data["trigger_str"], trigger_str, "{name}");
        assert_eq!(data["after"], after, "{name}");
        assert_eq!(data["next_run_times"], json!(expected), "{name}");
    }

    // count: default 10, at most 1000.
    let data = env
        .ok(
            "POST",
            "preview_timing_job",
            Some(json!({"trigger": "interval", "minutes": 1, "start_date": "2025-01-01 00:00:00", "after": "2025-01-01 00:00:00"})),
        )
        .await;
    assert_eq!(data["next_run_times"].as_array().unwrap().len(), 10);
    assert_eq!(data["next_run_times"][0], "2025-01-01 00:00:00+08:00", "the start itself (APScheduler's first fire)");
    let data = env.ok("POST", "preview_timing_job", Some(json!({"trigger": "cron", "second": "*", "after": "2025-01-01 00:00:00", "count": 1000}))).await;
    let times = data["next_run_times"].as_array().unwrap();
    assert_eq!((times.len(), times[999].as_str()), (1000, Some("2025-01-01 00:16:39+08:00")));

    // Without `after`: from now (between the Redis clock's readings before and after).
    let now = env.now_us();
    let data = env.ok("POST", "preview_timing_job", Some(json!({"trigger": "cron", "second": "*/5"}))).await;
    let after = env.now_us();
    let first = py_time_utc_us(data["next_run_times"][0].as_str().unwrap());
    assert!(first >= now - SECOND && first <= after + 5 * SECOND, "{data}");
    assert_eq!(data["next_run_times"].as_array().unwrap().len(), 10);

    let refusals = [
        (json!({"trigger": "cron", "count": 0}), "count"),
        (json!({"trigger": "cron", "count": 1001}), "count"),
        (json!({"trigger": "cron", "count": "5"}), "count"),
        (json!({"trigger": "cron", "after": "yesterday"}), "after"),
        (json!({"trigger": "cron", "after": "2025-01-01 00:00:00+25:00"}), "after"),
        (json!({"trigger": "cron", "after": 1_700_000_000}), "after"),
        (json!({"trigger": "cron", "minute": "60"}), "minute"),
        (json!({"trigger": "cron", "minutes": 1}), "minutes"),
        (json!({"trigger": "cron", "job_id": "x"}), "job_id"),
        (json!({"trigger": "cron", "kwargs": {}}), "kwargs"),
        (json!({"trigger": "hourly"}), "trigger"),
        (json!({"hour": "1"}), "trigger"),
        (json!({"trigger": "cron", "queue_name": ""}), "queue_name"),
        (json!({"trigger": "cron", "timezone": "Mars/Base"}), "timezone"),
        (json!([1]), "body"),
    ];
    for (body, field) in refusals {
        let reply = env.call("POST", "preview_timing_job", Some(body.clone())).await;
        assert_eq!((reply.status, reply.code(), &reply.body["error_data"]), (400, 4000, &json!({"field": field})), "{body}: {reply}");
        assert!(reply.msg().starts_with(&format!("{field}: ")), "{reply}");
    }
    let keys: Vec<String> = redis::cmd("KEYS").arg("{funboost_edge}*").query(&mut env.conn).unwrap();
    assert!(keys.is_empty(), "preview stores nothing: {keys:?}");
    let data = env.ok("GET", "get_timing_jobs?job_store_kind=memory", None).await;
    assert_eq!(data["count"], 0);
}

// ---- health ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_the_store_version_and_clocks() {
    let env = Env::start();
    let data = env.ok("GET", "health", None).await;
    assert_eq!((&data["store"], &data["version"], &data["timezone"]), (&json!("reachable"), &json!(env!("CARGO_PKG_VERSION")), &json!("Asia/Shanghai")));
    for clock in ["redis_time", "host_time"] {
        assert!(parse_py_time(data[clock].as_str().unwrap()).is_some(), "{data}");
    }
    // Both clocks are this machine's, so the skew is only the time between the two readings:
    // 5 s means a hang or a wrong figure, not a slow machine.
    assert!(data["clock_skew_ms"].as_i64().unwrap().abs() < 5_000, "{data}");
}

// ---- errors: funboost-compat.md §1.7 with our statuses, and the rest ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_row_answers_with_its_status_code_and_a_message_naming_the_problem() {
    let env = Env::start();
    env.ok("POST", "add_timing_job", Some(json!({"queue_name": "q", "trigger": "cron", "hour": "1", "job_id": "existing", "kwargs": {"x": 1}}))).await;
    let deep = format!("{}1{}", "[".repeat(40), "]".repeat(40));

    struct Row {
        name: &'static str,
        method: &'static str,
        path: &'static str,
        body: String,
        status: u16,
        code: i64,
        error: &'static str,
        msg: String,
        /// `error_data.field`, when the error is about one field.
        field: Option<&'static str>,
    }
    let row = |name, method, path, body: &str, status, code, error, msg: &str, field| Row {
        name,
        method,
        path,
        body: body.to_string(),
        status,
        code,
        error,
        msg: msg.to_string(),
        field,
    };
    let add = "add_timing_job";
    let rows = vec![
        // §1.7, row by row
        row(
            "duplicate job_id without replace_existing",
            "POST",
            add,
            r#"{"queue_name":"q","trigger":"cron","job_id":"existing","kwargs":{"x":1}}"#,
            409,
            4090,
            "ConflictingIdError",
            "Job identifier (existing) conflicts with an existing job in queue q",
            None,
        ),
        row(
            "unknown trigger",
            "POST",
            add,
            r#"{"queue_name":"q","trigger":"foo","kwargs":{"x":1}}"#,
            400,
            4000,
            "InvalidField",
            r#"trigger: No trigger by the name "foo" was found"#,
            Some("trigger"),
        ),
        row(
            "bad kwargs: unknown name",
            "POST",
            add,
            r#"{"queue_name":"q","trigger":"cron","kwargs":{"x":1,"z":2}}"#,
            400,
            5001,
            "FuncParamsError",
            r#"Invalid parameters for the consuming function of queue q: unexpected keyword argument "z""#,
            Some("kwargs"),
        ),
        row(
            "bad kwargs: missing required",
            "POST",
            add,
            r#"{"queue_name":"q","trigger":"cron","kwargs":{"y":2}}"#,
            400,
            5001,
            "FuncParamsError",
            "Invalid parameters for the consuming function of queue q: missing required arguments: x",
            Some("kwargs"),
        ),
        row(
            "bad args: too many positional (funboost accepts, then fails at every fire)",
            "POST",
            add,
            r#"{"queue_name":"q","trigger":"cron","args":[1,2,3]}"#,
            400,
            5001,
            "FuncParamsError",
            "Invalid parameters for the consuming function of queue q: 3 positional arguments given, but the function takes at most 2 (x, y)",
            Some("args"),
        ),
        row(
            "bad args: a parameter given twice",
            "POST",
            add,
            r#"{"queue_name":"q","trigger":"cron","args":[1],"kwargs":{"x":2}}"#,
            400,
            5001,
            "FuncParamsError",
            r#"got multiple values for argument "x""#,
            Some("kwargs"),
        ),
        row(
            "unknown queue: add",
            "POST",
            add,
            r#"{"queue_name":"nosuch","trigger":"cron","kwargs":{"x":1}}"#,
            404,
            4001,
            "QueueNameNotExists",
            "queue nosuch is not registered by any funboost consumer",
            None,
        ),
        row(
            "unknown queue: get one",
            "GET",
            "get_timing_job?job_id=existing&queue_name=nosuch",
            "",
            404,
            4001,
            "QueueNameNotExists",
            "queue nosuch is not registered",
            None,
        ),
        row(
            "unknown queue: pause",
            "POST",
            "pause_timing_job?job_id=existing&queue_name=nosuch",
            "",
            404,
            4001,
            "QueueNameNotExists",
            "queue nosuch is not registered",
            None,
        ),
        row(
            "unknown queue: resume",
            "POST",
            "resume_timing_job?job_id=existing&queue_name=nosuch",
            "",
            404,
            4001,
            "QueueNameNotExists",
            "queue nosuch is not registered",
            None,
        ),
        row(
            "unknown queue: delete",
            "DELETE",
            "delete_timing_job?job_id=existing&queue_name=nosuch",
            "",
            404,
            4001,
            "QueueNameNotExists",
            "queue nosuch is not registered",
            None,
        ),
        row(
            "bad cron value",
            "POST",
            add,
            r#"{"queue_name":"q","trigger":"cron","minute":"61","kwargs":{"x":1}}"#,
            400,
            4000,
            "InvalidField",
            "minute: Error validating expression '61': the last value (61) is higher than the maximum value (59)",
            Some("minute"),
        ),
        row(
            "bad run_date",
            "POST",
            add,
            r#"{"queue_name":"q","trigger":"date","run_date":"12/03/2030","kwargs":{"x":1}}"#,
            400,
            4000,
            "InvalidField",
            r#"run_date: Invalid date string "12/03/2030""#,
            Some("run_date"),
        ),
        row(
            "bad job_store_kind (body)",
            "POST",
            add,
            r#"{"queue_name":"q","trigger":"cron","job_store_kind":"disk","kwargs":{"x":1}}"#,
            400,
            4000,
            "InvalidField",
            r#"job_store_kind: Unsupported job_store_kind "disk""#,
            Some("job_store_kind"),
        ),
        row(
            "bad job_store_kind (query)",
            "GET",
            "get_timing_jobs?job_store_kind=mongo",
            "",
            400,
            4000,
            "InvalidField",
            r#"job_store_kind: Unsupported job_store_kind "mongo""#,
            Some("job_store_kind"),
        ),
        row(
            "get unknown job",
            "GET",
            "get_timing_job?job_id=nope&queue_name=q",
            "",
            404,
            4040,
            "JobLookupError",
            "No job by the id of nope was found in queue q",
            None,
        ),
        row(
            "pause unknown job",
            "POST",
            "pause_timing_job?job_id=nope&queue_name=q",
            "",
            404,
            4040,
            "JobLookupError",
            "No job by the id of nope was found in queue q",
            None,
        ),
        row(
            "resume unknown job",
            "POST",
            "resume_timing_job?job_id=nope&queue_name=q",
            "",
            404,
            4040,
            "JobLookupError",
            "No job by the id of nope was found in queue q",
            None,
        ),
        row(
            "delete unknown job",
            "DELETE",
            "delete_timing_job?job_id=nope&queue_name=q",
            "",
            404,
            4040,
            "JobLookupError",
            "No job by the id of nope was found in queue q",
            None,
        ),
        row(
            "unknown job in the memory store",
            "GET",
            "get_timing_job?job_id=existing&queue_name=q&job_store_kind=memory",
            "",
            404,
            4040,
            "JobLookupError",
            "No job by the id of existing",
            None,
        ),
        row(
            "missing query param job_id (pause)",
            "POST",
            "pause_timing_job?queue_name=q",
            "",
            400,
            4000,
            "InvalidField",
            "job_id: is required (as a query parameter)",
            Some("job_id"),
        ),
        row(
            "missing query param queue_name (resume)",
            "POST",
            "resume_timing_job?job_id=existing",
            "",
            400,
            4000,
            "InvalidField",
            "queue_name: is required (as a query parameter)",
            Some("queue_name"),
        ),
        row("missing query params (delete)", "DELETE", "delete_timing_job", "", 400, 4000, "InvalidField", "job_id: is required", Some("job_id")),
        row(
            "missing query params (get one)",
            "GET",
            "get_timing_job?job_id=existing",
            "",
            400,
            4000,
            "InvalidField",
            "queue_name: is required",
            Some("queue_name"),
        ),
        row(
            "pause arguments in a JSON body are not read",
            "POST",
            "pause_timing_job",
            r#"{"job_id":"existing","queue_name":"q"}"#,
            400,
            4000,
            "InvalidField",
            "job_id: is required (as a query parameter)",
            Some("job_id"),
        ),
        row("missing trigger", "POST", add, r#"{"queue_name":"q","kwargs":{"x":1}}"#, 400, 4000, "InvalidField", "trigger: is required", Some("trigger")),
        row(
            "missing queue_name",
            "POST",
            add,
            r#"{"trigger":"cron","kwargs":{"x":1}}"#,
            400,
            4000,
            "InvalidField",
            "queue_name: is required",
            Some("queue_name"),
        ),
        row(
            "float seconds",
            "POST",
            add,
            r#"{"queue_name":"q","trigger":"interval","seconds":1.5,"kwargs":{"x":1}}"#,
            400,
            4000,
            "InvalidField",
            "seconds: must be a whole number, got 1.5",
            Some("seconds"),
        ),
        row(
            "args as an object",
            "POST",
            add,
            r#"{"queue_name":"q","trigger":"cron","args":{"x":1}}"#,
            400,
            4000,
            "InvalidField",
            "args: must be an array of positional arguments, got an object",
            Some("args"),
        ),
        row(
            "minutes on a cron job",
            "POST",
            add,
            r#"{"queue_name":"q","trigger":"cron","minutes":5,"kwargs":{"x":1}}"#,
            400,
            4000,
            "InvalidField",
            "minutes: is not a field of the cron trigger",
            Some("minutes"),
        ),
        row(
            "run_date on an interval job",
            "POST",
            add,
            r#"{"queue_name":"q","trigger":"interval","run_date":"2030-01-01","kwargs":{"x":1}}"#,
            400,
            4000,
            "InvalidField",
            "run_date: is not a field of the interval trigger",
            Some("run_date"),
        ),
        row(
            "an unknown field",
            "POST",
            add,
            r#"{"queue_name":"q","trigger":"cron","max_instances":3,"kwargs":{"x":1}}"#,
            400,
            4000,
            "InvalidField",
            "max_instances: unknown field",
            Some("max_instances"),
        ),
        row(
            "an unknown field named like JSON",
            "POST",
            add,
            r#"{"queue_name":"q","trigger":"cron","123":1,"kwargs":{"x":1}}"#,
            400,
            4000,
            "InvalidField",
            "123: unknown field",
            Some("123"),
        ),
        row(
            "an unknown field with an empty name",
            "POST",
            add,
            r#"{"queue_name":"q","trigger":"cron","":1,"kwargs":{"x":1}}"#,
            400,
            4000,
            "InvalidField",
            "body: has a field with an empty name",
            Some("body"),
        ),
        row(
            "a cron field of the wrong type",
            "POST",
            add,
            r#"{"queue_name":"q","trigger":"cron","hour":[9],"kwargs":{"x":1}}"#,
            400,
            4000,
            "InvalidField",
            "hour: must be a cron expression string or a non-negative integer, got [9]",
            Some("hour"),
        ),
        row(
            "kwargs nested too deep",
            "POST",
            add,
            &format!(r#"{{"queue_name":"q","trigger":"cron","kwargs":{{"x":{deep}}}}}"#),
            400,
            4000,
            "InvalidField",
            "kwargs: nests arrays and objects 41 levels deep; at most 32 are accepted",
            Some("kwargs"),
        ),
        row(
            "priority without REDIS_PRIORITY",
            "POST",
            add,
            r#"{"queue_name":"q","trigger":"cron","priority":3,"kwargs":{"x":1}}"#,
            400,
            4000,
            "InvalidField",
            "priority: only applies with broker_kind",
            Some("priority"),
        ),
        row(
            "a task option of the wrong type",
            "POST",
            add,
            r#"{"queue_name":"q","trigger":"cron","max_retry_times":-1,"kwargs":{"x":1}}"#,
            400,
            4000,
            "InvalidField",
            "max_retry_times: must be a non-negative integer, got -1",
            Some("max_retry_times"),
        ),
        row(
            "an unknown time zone",
            "POST",
            add,
            r#"{"queue_name":"q","trigger":"cron","timezone":"Mars/Base","kwargs":{"x":1}}"#,
            400,
            4000,
            "InvalidField",
            "timezone: ",
            Some("timezone"),
        ),
        row(
            "a negative interval",
            "POST",
            add,
            r#"{"queue_name":"q","trigger":"interval","hours":-1,"kwargs":{"x":1}}"#,
            400,
            4000,
            "InvalidField",
            "hours: must not be negative, got -1",
            Some("hours"),
        ),
        row("not JSON", "POST", add, r#"{"queue_name":"q","#, 400, 4000, "InvalidField", "body: is not valid JSON", Some("body")),
        row("a JSON array", "POST", add, "[]", 400, 4000, "InvalidField", "body: must be a JSON object, got an array", Some("body")),
        row("an empty body", "POST", add, "", 400, 4000, "InvalidField", "body: a JSON object is required", Some("body")),
        row("an unknown query parameter", "GET", "get_timing_jobs?queue=q", "", 400, 4000, "InvalidField", "queue: unknown query parameter", Some("queue")),
        row(
            "a query parameter given twice",
            "GET",
            "get_timing_jobs?queue_name=q&queue_name=r",
            "",
            400,
            4000,
            "InvalidField",
            "queue_name: is given more than once",
            Some("queue_name"),
        ),
        row(
            "a broken percent escape",
            "GET",
            "get_timing_jobs?queue_name=%G1",
            "",
            400,
            4000,
            "InvalidField",
            "queue_name: is not valid percent-encoded UTF-8",
            Some("queue_name"),
        ),
        row("a query parameter without a name", "GET", "get_timing_jobs?=q", "", 400, 4000, "InvalidField", "query: ", Some("query")),
        row(
            "a control character in a queue name",
            "GET",
            "get_timing_jobs?queue_name=a%0Ab",
            "",
            400,
            4000,
            "InvalidField",
            "queue_name: must not contain control characters",
            Some("queue_name"),
        ),
        // methods and routes
        row("wrong method", "GET", add, "", 405, 4050, "MethodNotAllowed", "/add_timing_job takes POST, not GET", None),
        row(
            "wrong method (delete by POST)",
            "POST",
            "delete_timing_job?job_id=existing&queue_name=q",
            "",
            405,
            4050,
            "MethodNotAllowed",
            "/delete_timing_job takes DELETE, not POST",
            None,
        ),
        row("unknown route", "GET", "get_scheduler_overview?queue_name=q", "", 404, 4041, "NotFound", "no route /get_scheduler_overview", None),
    ];
    for row in rows {
        let path = format!("/funboost/{}", row.path);
        let reply = call_with(&env.host, row.method, &path, &[("content-type", "application/json")], row.body.clone().into_bytes()).await;
        let name = row.name;
        assert_eq!((reply.status, reply.code(), reply.body["error"].as_str()), (row.status, row.code, Some(row.error)), "{name}: {reply}");
        assert_eq!((&reply.body["succ"], &reply.body["data"]), (&json!(false), &Value::Null), "{name}: {reply}");
        assert!(
            reply.msg().starts_with(&row.msg) || (!row.msg.ends_with(": ") && reply.msg().contains(&row.msg)),
            "{name}: msg {:?} should contain {:?}",
            reply.msg(),
            row.msg
        );
        match row.field {
            Some(field) => {
                assert_eq!(reply.body["error_data"]["field"], field, "{name}: {reply}");
                if row.code == 4000 {
                    assert!(reply.msg().starts_with(&format!("{field}: ")), "{name}: {reply}");
                }
            }
            None => assert!(reply.body["error_data"].is_null(), "{name}: {reply}"),
        }
        if row.status == 405 {
            assert!(reply.raw.header("www-authenticate").is_none());
        }
    }
    // None of them stored anything but the one job.
    let data = env.ok("GET", "get_timing_jobs", None).await;
    assert_eq!(ids(&data["jobs"]), ["existing"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn func_params_errors_carry_funboost_style_error_data() {
    let env = Env::start();
    let reply = env.add(json!({"queue_name": "q", "trigger": "cron", "kwargs": {"x": 1, "zz": 2}})).await;
    assert_eq!(reply.body["error_data"], json!({"field": "kwargs", "unknown": "zz"}));
    let reply = env.add(json!({"queue_name": "q", "trigger": "cron", "kwargs": {}})).await;
    assert_eq!(reply.body["error_data"], json!({"field": "kwargs", "missing": ["x"]}));
    let reply = env.add(json!({"queue_name": "q", "trigger": "cron", "args": [1, 2, 3]})).await;
    assert_eq!(reply.body["error_data"], json!({"field": "args", "all_arg_name_list": ["x", "y"]}));
}

// ---- auth ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_an_api_token_every_route_but_health_needs_the_bearer_token() {
    let env = Env::with(&[("api_token", "s3cret-token")]);
    let routes = [
        ("GET", "get_timing_jobs"),
        ("GET", "get_timing_job?job_id=a&queue_name=q"),
        ("POST", "add_timing_job"),
        ("POST", "pause_timing_job?job_id=a&queue_name=q"),
        ("POST", "resume_timing_job?job_id=a&queue_name=q"),
        ("POST", "preview_timing_job"),
        ("DELETE", "delete_timing_job?job_id=a&queue_name=q"),
        ("DELETE", "delete_all_timing_jobs"),
    ];
    let wrong: [&[(&str, &str)]; 5] = [
        &[],
        &[("authorization", "Bearer wrong")],
        &[("authorization", "Bearer s3cret-token-and-more")],
        &[("authorization", "Basic czNjcmV0LXRva2Vu")],
        &[("authorization", "s3cret-token")],
    ];
    for (method, path) in routes {
        for headers in wrong {
            let reply = call_with(&env.host, method, &format!("/funboost/{path}"), headers, b"{}".to_vec()).await;
            assert_eq!((reply.status, reply.code(), reply.body["error"].as_str()), (401, 4010, Some("Unauthorized")), "{method} {path} {headers:?}: {reply}");
            assert_eq!(reply.raw.header("www-authenticate"), Some("Bearer"));
            assert!(!reply.msg().contains("s3cret"), "the token never appears in a message");
        }
    }
    // Even from a loopback client, and even with a valid body: nothing stored.
    let body = json!({"queue_name": "q", "trigger": "cron", "kwargs": {"x": 1}, "job_id": "j"}).to_string();
    let reply = call_with(&env.host, "POST", "/funboost/add_timing_job", &[], body.clone().into_bytes()).await;
    assert_eq!(reply.status, 401);
    assert!(reply.msg().contains("Authorization: Bearer"), "{reply}");

    // The right token.
    for auth in ["Bearer s3cret-token", "bearer s3cret-token"] {
        let headers = [("authorization", auth)];
        let reply = call_with(&env.host, "GET", "/funboost/get_timing_jobs", &headers, vec![]).await;
        assert_eq!(reply.status, 200, "{auth}: {reply}");
    }
    let reply = call_with(
        &env.host,
        "POST",
        "/funboost/add_timing_job",
        &[("Authorization", "Bearer s3cret-token"), ("spin-client-addr", "10.1.2.3:5555"), ("content-type", "application/json")],
        body.into_bytes(),
    )
    .await;
    assert_eq!(reply.status, 200, "a token works from any address: {reply}");

    // health needs no token.
    for headers in wrong {
        let reply = call_with(&env.host, "GET", "/funboost/health", headers, vec![]).await;
        assert_eq!(reply.status, 200, "{reply}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_api_token_only_loopback_clients_are_served() {
    let env = Env::start();
    for addr in ["10.1.2.3:5555", "192.168.1.10:80", "[2001:db8::1]:443", "8.8.8.8"] {
        let headers = [("spin-client-addr", addr)];
        let reply = call_with(&env.host, "GET", "/funboost/get_timing_jobs", &headers, vec![]).await;
        assert_eq!((reply.status, reply.code()), (401, 4010), "{addr}: {reply}");
        for hint in ["api_token", "SPIN_VARIABLE_API_TOKEN", "Authorization: Bearer"] {
            assert!(reply.msg().contains(hint), "the message tells how to set the token ({hint}): {reply}");
        }
        // health is open.
        let reply = call_with(&env.host, "GET", "/funboost/health", &headers, vec![]).await;
        assert_eq!(reply.status, 200, "{addr}: {reply}");
    }
    for addr in ["127.0.0.1:5555", "127.8.9.10:1", "[::1]:5555"] {
        let reply = call_with(&env.host, "GET", "/funboost/get_timing_jobs", &[("spin-client-addr", addr)], vec![]).await;
        assert_eq!(reply.status, 200, "{addr}: {reply}");
    }
    // A bearer header does not help without a configured token.
    let reply = call_with(&env.host, "GET", "/funboost/get_timing_jobs", &[("spin-client-addr", "10.1.2.3:5555"), ("authorization", "Bearer x")], vec![]).await;
    assert_eq!(reply.status, 401);
}

// ---- limits, store down ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_max_body_bytes_is_refused_with_413() {
    let env = Env::with(&[("max_body_bytes", "1024")]);
    let padding = "p".repeat(1024);
    let body = json!({"queue_name": "q", "trigger": "cron", "kwargs": {"x": padding}}).to_string();
    for path in ["add_timing_job", "preview_timing_job"] {
        let reply = call_with(&env.host, "POST", &format!("/funboost/{path}"), &[("content-type", "application/json")], body.clone().into_bytes()).await;
        assert_eq!((reply.status, reply.code(), reply.body["error"].as_str()), (413, 4130, Some("BodyTooLarge")), "{reply}");
        assert!(reply.msg().contains("limit of 1024 bytes (variable max_body_bytes)"), "{reply}");
    }
    // At the limit it is read.
    let small = json!({"queue_name": "q", "trigger": "cron", "kwargs": {"x": 1}}).to_string();
    let exact = format!("{small}{}", " ".repeat(1024 - small.len()));
    let reply = call_with(&env.host, "POST", "/funboost/add_timing_job", &[("content-type", "application/json")], exact.into_bytes()).await;
    assert_eq!(reply.status, 200, "{reply}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_jobs_per_queue_caps_a_queue() {
    let env = Env::with(&[("max_jobs_per_queue", "2")]);
    for store in ["redis", "memory"] {
        for id in ["1", "2"] {
            env.ok("POST", "add_timing_job", Some(json!({"queue_name": "q", "trigger": "cron", "job_id": id, "kwargs": {"x": 1}, "job_store_kind": store})))
                .await;
        }
        let reply = env.add(json!({"queue_name": "q", "trigger": "cron", "job_id": "3", "kwargs": {"x": 1}, "job_store_kind": store})).await;
        assert_eq!((reply.status, reply.code(), reply.body["error"].as_str()), (409, 4091, Some("TooManyJobs")), "{reply}");
        // Replacing an existing job is still allowed.
        env.ok(
            "POST",
            "add_timing_job",
            Some(json!({"queue_name": "q", "trigger": "cron", "job_id": "2", "kwargs": {"x": 2}, "job_store_kind": store, "replace_existing": true})),
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_store_answers_503_without_hanging() {
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let redis = RedisServer::start().expect("redis-server");
    let mut vars = variables(&redis);
    vars.insert("redis_url".to_string(), format!("redis://127.0.0.1:{closed_port}/7"));
    let host = host_with(vars);
    let add = json!({"queue_name": "q", "trigger": "cron", "kwargs": {"x": 1}}).to_string();
    let requests = [
        ("POST", "add_timing_job", add.clone()),
        ("POST", "add_timing_job", add.replace("\"cron\"", "\"cron\",\"job_store_kind\":\"memory\"")),
        ("GET", "get_timing_jobs", String::new()),
        ("GET", "get_timing_job?job_id=a&queue_name=q", String::new()),
        ("POST", "pause_timing_job?job_id=a&queue_name=q", String::new()),
        ("POST", "resume_timing_job?job_id=a&queue_name=q", String::new()),
        ("DELETE", "delete_timing_job?job_id=a&queue_name=q", String::new()),
        ("DELETE", "delete_all_timing_jobs?queue_name=q", String::new()),
        ("GET", "health", String::new()),
    ];
    for (method, path, body) in requests {
        let started = Instant::now();
        let reply = call_with(&host, method, &format!("/funboost/{path}"), &[("content-type", "application/json")], body.into_bytes()).await;
        assert_eq!((reply.status, reply.code(), reply.body["error"].as_str()), (503, 5030, Some("StoreUnavailable")), "{method} {path}: {reply}");
        assert!(reply.msg().starts_with("the job store is unreachable: "), "{reply}");
        // The open route tells anyone only that the store is unreachable; the others say where.
        let names_the_address = reply.msg().contains(&format!("127.0.0.1:{closed_port}"));
        assert_eq!(names_the_address, path != "health", "{reply}");
        // A refused connection is answered, not left waiting. The bound only detects a hang:
        // how long the answer takes is a benchmark's business.
        assert!(started.elapsed() < Duration::from_secs(20), "{method} {path} hung for {:?}", started.elapsed());
    }
    // Input errors are still 400, and a preview with `after` needs no store at all.
    let reply = call_with(&host, "POST", "/funboost/add_timing_job", &[("content-type", "application/json")], b"{}".to_vec()).await;
    assert_eq!(reply.status, 400, "{reply}");
    let reply =
        call(&host, "POST", "/funboost/preview_timing_job", Some(&json!({"trigger": "cron", "hour": "1", "after": "2025-01-01 00:00:00", "count": 1}))).await;
    assert_eq!((reply.status, &reply.data()["next_run_times"]), (200, &json!(["2025-01-01 01:00:00+08:00"])), "{reply}");
}

// ---- restarts and races ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_jobs_survive_a_restart_and_memory_jobs_stay_apart() {
    let redis = RedisServer::start().expect("redis-server");
    let mut conn = connect(&redis);
    register_queue(&mut conn, "q", &["x", "y"], &["x"]);
    let first = host_with(variables(&redis));
    for (id, store) in [("r1", "redis"), ("r2", "redis"), ("m1", "memory")] {
        let reply = call(
            &first,
            "POST",
            "/funboost/add_timing_job",
            Some(&json!({"queue_name": "q", "trigger": "cron", "hour": "4", "job_id": id, "kwargs": {"x": id}, "job_store_kind": store})),
        )
        .await;
        assert_eq!(reply.status, 200, "{reply}");
    }
    let before = call(&first, "GET", "/funboost/get_timing_jobs", None).await;
    assert_eq!(ids(&before.data()["jobs"]), ["r1", "r2"], "the redis listing has no memory job");
    let memory = call(&first, "GET", "/funboost/get_timing_jobs?job_store_kind=memory", None).await;
    assert_eq!(ids(&memory.data()["jobs"]), ["m1"], "the memory listing has only the memory job");

    // A brand-new host: new process state, same Redis.
    drop(first);
    let second = host_with(variables(&redis));
    let after = call(&second, "GET", "/funboost/get_timing_jobs?job_store_kind=redis", None).await;
    assert_eq!(after.data(), before.data(), "the same jobs, field for field");
    let job = call(&second, "GET", "/funboost/get_timing_job?job_id=r2&queue_name=q", None).await;
    assert_eq!((job.status, &job.data()["kwargs"]), (200, &json!({"x": "r2"})));
    // And the new host can change them.
    let reply = call(&second, "POST", "/funboost/pause_timing_job?job_id=r1&queue_name=q", None).await;
    assert_eq!(reply.status, 200);
    assert_eq!(due_score(&mut conn, "q", "r1"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_adds_of_one_job_id_store_exactly_one_job() {
    let env = Env::start();
    // Two hosts (two "replicas") on the same Redis, 8 concurrent requests each.
    let hosts = [env.host.clone(), host_with(variables(&env.redis))];
    for round in 0..3 {
        let job_id = format!("race-{round}");
        let mut tasks = Vec::new();
        for i in 0..16 {
            let host = hosts[i % 2].clone();
            let body = json!({"queue_name": "q", "trigger": "interval", "seconds": 5, "job_id": job_id, "kwargs": {"x": i}});
            tasks.push(tokio::spawn(async move { call(&host, "POST", "/funboost/add_timing_job", Some(&body)).await }));
        }
        let mut statuses = Vec::new();
        let mut winner = None;
        for task in tasks {
            let reply = task.await.expect("task");
            if reply.status == 200 {
                winner = Some(reply.data()["kwargs"].clone());
            } else {
                assert_eq!((reply.status, reply.code()), (409, 4090), "{reply}");
            }
            statuses.push(reply.status);
        }
        assert_eq!(statuses.iter().filter(|&&s| s == 200).count(), 1, "exactly one add wins: {statuses:?}");
        assert_eq!(statuses.iter().filter(|&&s| s == 409).count(), 15);
        let mut conn = connect(&env.redis);
        let stored = stored_job(&mut conn, "q", &job_id).expect("stored");
        assert_eq!(Some(stored["kwargs"].clone()), winner, "the stored job is the winner's");
        let listed = call(&hosts[1], "GET", "/funboost/get_timing_jobs?queue_name=q", None).await;
        assert_eq!(listed.data()["count"], round + 1);
    }
    assert_eq!(due_count(&mut connect(&env.redis)), 3);
}
