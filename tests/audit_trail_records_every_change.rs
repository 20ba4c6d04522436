//! The audit trail, through the real `.wasm`: a scripted session of every kind of change, by
//! three tokens, then the trail read back newest first: one record per change (none for a
//! refused one) with the token's name, route, queue, job, what changed and the note; filters by
//! queue, job and token; paging; a token limited to some queues sees only theirs; metrics count
//! the changes by route and token; the trail keeps `audit_max_records` records.
//!
//! Needs redis-server and the API component (`scripts/prepare` builds it).

mod common;

use common::*;
use funboost_test_host::test_support::RedisServer;
use funboost_test_host::Host;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const Q: &str = "team_a_orders";
const OTHER: &str = "team_b_billing";

fn hex_sha256(secret: &str) -> String {
    Sha256::digest(secret.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn start(redis: &RedisServer, extra: &[(&str, &str)]) -> Host {
    let mut conn = connect(redis);
    for queue in [Q, OTHER] {
        register_queue(&mut conn, queue, &["x"], &["x"]);
    }
    let tokens = json!([
        {"name": "oncall", "sha256": hex_sha256("secret-oncall"), "role": "write"},
        {"name": "ci", "sha256": hex_sha256("secret-ci"), "role": "write", "queues": ["team_a_*"]},
        {"name": "team_b", "sha256": hex_sha256("secret-team-b"), "role": "read", "queues": ["team_b_*"]},
    ]);
    let mut vars = variables(redis);
    vars.insert("tokens".into(), tokens.to_string());
    vars.insert("api_token".into(), "secret-root".into());
    for (name, value) in extra {
        vars.insert(name.to_string(), value.to_string());
    }
    host_with(vars)
}

/// A call as `token`; the reply's status and envelope.
async fn send(host: &Host, token: &str, method: &str, path_and_query: &str, body: Option<Value>) -> Reply {
    let authorization = format!("Bearer secret-{token}");
    let headers = [("content-type", "application/json"), ("authorization", authorization.as_str())];
    call_with(host, method, &format!("/funboost{path_and_query}"), &headers, body.map(|b| b.to_string().into_bytes()).unwrap_or_default()).await
}

async fn ok(host: &Host, token: &str, method: &str, path_and_query: &str, body: Option<Value>) -> Value {
    let reply = send(host, token, method, path_and_query, body).await;
    assert_eq!(reply.status, 200, "{token} {method} {path_and_query}: {reply}");
    reply.data().clone()
}

/// Every record the filter `query` selects, read `page` at a time through `next_before`.
async fn trail(host: &Host, token: &str, query: &str, page: usize) -> Vec<Value> {
    let mut records = Vec::new();
    let mut before: Option<String> = None;
    for _ in 0..100 {
        let cursor = before.as_ref().map(|b| format!("&before={b}")).unwrap_or_default();
        let data = ok(host, token, "GET", &format!("/get_audit_records?limit={page}{query}{cursor}"), None).await;
        let got = data["records"].as_array().expect("records").clone();
        assert!(got.len() <= page);
        records.extend(got);
        match data["next_before"].as_str() {
            Some(next) => before = Some(next.to_string()),
            None => return records,
        }
    }
    panic!("paging did not end");
}

/// (token, route, queue, job, note) of each record.
fn summary(records: &[Value]) -> Vec<(String, String, String, String, String)> {
    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
    records.iter().map(|r| (s(&r["token"]), s(&r["route"]), s(&r["queue_name"]), s(&r["job_id"]), s(&r["note"]))).collect()
}

fn row(token: &str, route: &str, queue: &str, job: &str, note: &str) -> (String, String, String, String, String) {
    (token.into(), route.into(), queue.into(), job.into(), note.into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_of_changes_reads_back_newest_first_with_who_what_and_why() {
    let redis = RedisServer::start().expect("redis-server");
    let mut conn = connect(&redis);
    let host = start(&redis, &[]);
    let started_us = redis_now_us(&mut conn);
    let job = |seconds: u32, x: i64| json!({"queue_name": Q, "job_id": "sync", "trigger": "interval", "seconds": seconds, "kwargs": {"x": x}});
    let at = |path: &str, job: &str, note: &str| format!("/{path}?queue_name={Q}&job_id={job}{note}");

    ok(&host, "ci", "POST", "/add_timing_job", Some(job(60, 1))).await;
    let refused = send(&host, "ci", "POST", "/add_timing_job", Some(job(60, 1))).await;
    assert_eq!(refused.status, 409, "an existing id, no replace: {refused}");
    ok(&host, "oncall", "POST", &at("modify_timing_job", "sync", ""), Some(json!({"kwargs": {"x": 2}}))).await;
    ok(&host, "oncall", "POST", &at("pause_timing_job", "sync", "&note=incident%2042"), None).await;
    ok(&host, "oncall", "POST", &at("resume_timing_job", "sync", "&note=fixed"), None).await;
    ok(&host, "ci", "POST", &at("reschedule_timing_job", "sync", ""), Some(json!({"trigger": "interval", "seconds": 30}))).await;
    let fired = ok(&host, "oncall", "POST", &at("run_timing_job_now", "sync", ""), None).await;
    let set = json!({"queue_name": Q, "prune": true, "jobs": [
        {"queue_name": Q, "job_id": "sync", "trigger": "interval", "seconds": 45, "kwargs": {"x": 2}},
        {"queue_name": Q, "job_id": "report", "trigger": "cron", "hour": 6, "kwargs": {"x": 9}},
    ]});
    ok(&host, "ci", "POST", "/apply_timing_jobs", Some(set.clone())).await;
    ok(&host, "ci", "POST", "/apply_timing_jobs", Some(set)).await;
    ok(&host, "root", "POST", &format!("/pause_scheduler?queue_name={Q}&note=maintenance"), None).await;
    ok(&host, "root", "POST", &format!("/resume_scheduler?queue_name={Q}"), None).await;
    ok(&host, "oncall", "DELETE", &at("delete_timing_job", "report", "&note=obsolete"), None).await;
    let memory = json!({"queue_name": OTHER, "job_id": "local", "trigger": "interval", "seconds": 5, "kwargs": {"x": 1}, "job_store_kind": "memory"});
    ok(&host, "oncall", "POST", "/add_timing_job", Some(memory)).await;
    ok(&host, "root", "DELETE", &format!("/delete_all_timing_jobs?queue_name={Q}"), None).await;
    ok(&host, "root", "DELETE", "/delete_all_timing_jobs?job_store_kind=memory&note=reset", None).await;
    let ended_us = redis_now_us(&mut conn);

    let records = trail(&host, "root", "", 1000).await;
    let want = vec![
        row("api_token", "/delete_all_timing_jobs", "*", "", "reset"),
        row("api_token", "/delete_all_timing_jobs", Q, "", ""),
        row("oncall", "/add_timing_job", OTHER, "local", ""),
        row("oncall", "/delete_timing_job", Q, "report", "obsolete"),
        row("api_token", "/resume_scheduler", Q, "", ""),
        row("api_token", "/pause_scheduler", Q, "", "maintenance"),
        // The second apply of the same set changed nothing, so it has no record.
        row("ci", "/apply_timing_jobs", Q, "sync", ""),
        row("ci", "/apply_timing_jobs", Q, "report", ""),
        row("oncall", "/run_timing_job_now", Q, "sync", ""),
        row("ci", "/reschedule_timing_job", Q, "sync", ""),
        row("oncall", "/resume_timing_job", Q, "sync", "fixed"),
        row("oncall", "/pause_timing_job", Q, "sync", "incident 42"),
        row("oncall", "/modify_timing_job", Q, "sync", ""),
        row("ci", "/add_timing_job", Q, "sync", ""),
    ];
    assert_eq!(summary(&records), want, "{records:#?}");

    // What changed, as each route records it.
    let changes = |k: usize| &records[k]["changes"];
    assert_eq!(changes(0)["deleted_count"], 1, "{}", records[0]);
    assert_eq!(changes(1)["deleted_count"], 1, "{}", records[1]);
    assert_eq!(changes(3)["deleted"]["trigger"]["hour"], 6, "a deleted job's fields are kept: {}", records[3]);
    assert_eq!(changes(4), &json!({"scheduler": "running"}));
    assert_eq!(changes(6)["trigger"]["from"]["seconds"], 30, "{}", records[6]);
    assert_eq!(changes(6)["trigger"]["to"]["seconds"], 45, "{}", records[6]);
    assert_eq!(changes(7)["kwargs"], json!({"x": 9}), "an add records the job's fields: {}", records[7]);
    assert_eq!(changes(8)["fire_id"], fired["fire_id"], "{}", records[8]);
    assert_eq!(changes(11), &json!({"paused": {"from": false, "to": true}}));
    assert_eq!(changes(12), &json!({"kwargs": {"from": {"x": 1}, "to": {"x": 2}}}));
    for record in &records {
        let us = py_time_utc_us(record["time"].as_str().expect("time"));
        assert!(us / 1000 >= started_us / 1000 && us / 1000 <= ended_us / 1000, "within the session: {record}");
    }

    let whole = ok(&host, "root", "GET", "/get_audit_records?limit=1000", None).await;
    assert_eq!(whole["next_before"], Value::Null, "the whole trail in one page has no next page: {whole}");
    // Paging three at a time reads the same records.
    assert_eq!(trail(&host, "root", "", 3).await, records);
    // Filters: a token's records; a job's records with those of its whole queue; a job's alone.
    let by_ci = summary(&trail(&host, "root", "&token=ci", 2).await);
    assert_eq!(by_ci, want.iter().filter(|r| r.0 == "ci").cloned().collect::<Vec<_>>());
    let of_sync = summary(&trail(&host, "oncall", &format!("&queue_name={Q}&job_id=sync"), 50).await);
    let want_sync: Vec<_> = want.iter().filter(|r| r.3 == "sync" || (r.3.is_empty() && (r.2 == Q || r.2 == "*"))).cloned().collect();
    assert_eq!(of_sync, want_sync);
    let only_sync = summary(&trail(&host, "oncall", "&job_id=sync", 50).await);
    assert_eq!(only_sync, want.iter().filter(|r| r.3 == "sync").cloned().collect::<Vec<_>>());
    let of_other = summary(&trail(&host, "root", &format!("&queue_name={OTHER}"), 50).await);
    assert_eq!(of_other, vec![want[0].clone(), want[2].clone()]);
    // A token limited to team_b_* sees its queue's records and changes of every queue only.
    assert_eq!(summary(&trail(&host, "team-b", "", 50).await), vec![want[0].clone(), want[2].clone()]);
    let refused = send(&host, "team-b", "GET", &format!("/get_audit_records?queue_name={Q}"), None).await;
    assert_eq!(refused.status, 403, "{refused}");

    // Metrics count the changes by route and token name.
    let metrics = host.request("GET", "/funboost/metrics", &[("authorization", "Bearer secret-root")], Vec::new()).await.expect("metrics").text();
    for (route, token, n) in
        [("/apply_timing_jobs", "ci", 2), ("/pause_timing_job", "oncall", 1), ("/add_timing_job", "ci", 1), ("/delete_all_timing_jobs", "api_token", 2)]
    {
        let line = format!("funboost_edge_changes_total{{route=\"{route}\",token=\"{token}\"}} {n}");
        assert!(metrics.lines().any(|l| l == line), "{line} in\n{metrics}");
    }
    assert!(!metrics.contains("secret-"), "tokens never appear");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trail_keeps_the_newest_records_up_to_its_cap() {
    let redis = RedisServer::start().expect("redis-server");
    let host = start(&redis, &[("audit_max_records", "5")]);
    ok(&host, "oncall", "POST", "/add_timing_job", Some(json!({"queue_name": Q, "job_id": "j", "trigger": "interval", "seconds": 60, "kwargs": {"x": 1}})))
        .await;
    for k in 0..12 {
        let route = if k % 2 == 0 { "pause_timing_job" } else { "resume_timing_job" };
        ok(&host, "oncall", "POST", &format!("/{route}?queue_name={Q}&job_id=j&note=step{k}"), None).await;
    }
    let records = trail(&host, "root", "", 100).await;
    let notes: Vec<&str> = records.iter().map(|r| r["note"].as_str().unwrap_or("")).collect();
    assert_eq!(notes, ["step11", "step10", "step9", "step8", "step7"]);
    let length: i64 = redis::cmd("XLEN").arg("{funboost_edge}:audit").query(&mut connect(&redis)).expect("XLEN");
    assert_eq!(length, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_trail_queries_and_notes_are_refused_by_name() {
    let redis = RedisServer::start().expect("redis-server");
    let host = start(&redis, &[]);
    let long_note = "n".repeat(501);
    let cases = [
        ("GET", "/get_audit_records?limit=0".to_string(), "limit"),
        ("GET", "/get_audit_records?limit=1001".to_string(), "limit"),
        ("GET", "/get_audit_records?before=yesterday".to_string(), "before"),
        ("POST", format!("/pause_timing_job?queue_name={Q}&job_id=j&note={long_note}"), "note"),
        ("POST", format!("/pause_timing_job?queue_name={Q}&job_id=j&note=a%0Ab"), "note"),
    ];
    for (method, path, field) in cases {
        let reply = send(&host, "root", method, &path, None).await;
        assert_eq!((reply.status, reply.body["error_data"]["field"].as_str()), (400, Some(field)), "{path}: {reply}");
    }
}
