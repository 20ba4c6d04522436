//! Without an API token the API serves loopback clients, and a browser on the machine is one:
//! any page open in it could add jobs (calling the consumer's function with its own
//! arguments), run them or pause queues. This sends exactly the requests such a page can make
//! without asking first (a "simple" cross-site POST with `content-type: text/plain`, which
//! needs no CORS preflight; a read after DNS rebinding, which carries the attacker's `Host`)
//! and checks they are refused and store nothing, while curl, scripts and the management page
//! (same origin) keep working, and a token makes the API usable from any origin that sends it.
//!
//! Needs redis-server and the API component (`scripts/prepare` builds it).

mod common;

use common::*;
use funboost_test_host::test_support::RedisServer;
use serde_json::json;

const ADD: &str = "/funboost/add_timing_job";

/// A request a page can send (method, path, headers) and the status and code it gets.
type Case<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>, u16, i64);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_site_and_rebound_requests_are_refused_and_store_nothing() {
    let redis = RedisServer::start().expect("redis-server");
    let mut conn = connect(&redis);
    register_queue(&mut conn, "q", &["x"], &["x"]);
    let host = host_with(variables(&redis));
    let job = json!({"queue_name": "q", "trigger": "interval", "seconds": 5, "job_id": "evil", "kwargs": {"x": "rm -rf"}}).to_string();

    // (what a page can send, status, code)
    let refused: [Case; 6] = [
        ("POST", ADD, vec![("content-type", "text/plain"), ("origin", "https://evil.example"), ("sec-fetch-site", "cross-site")], 403, 4030),
        ("POST", ADD, vec![("content-type", "application/json"), ("origin", "https://evil.example")], 403, 4030),
        // An older browser without Origin on a form post: still not JSON.
        ("POST", ADD, vec![("content-type", "text/plain")], 415, 4150),
        ("POST", ADD, vec![("content-type", "application/x-www-form-urlencoded")], 415, 4150),
        ("POST", "/funboost/pause_scheduler?queue_name=q", vec![("sec-fetch-site", "cross-site")], 403, 4030),
        ("GET", "/funboost/get_timing_jobs", vec![("host", "evil.example:3996")], 403, 4030),
    ];
    for (method, path, headers, status, code) in refused {
        let reply = call_with(&host, method, path, &headers, job.clone().into_bytes()).await;
        assert_eq!((reply.status, reply.code()), (status, code), "{method} {path} {headers:?}: {reply}");
        assert!(
            reply.msg().contains("Sec-Fetch-Site") || reply.msg().contains("origin") || reply.msg().contains("Host") || reply.msg().contains("JSON"),
            "says why: {reply}"
        );
    }
    assert_eq!(stored_job(&mut conn, "q", "evil"), None, "nothing was stored");
    let paused: bool = redis::cmd("SISMEMBER").arg("{funboost_edge}:paused_queues").arg("q").query(&mut conn).unwrap();
    assert!(!paused, "the queue was not paused");

    // curl and scripts (no Origin), and the management page (same origin), are served.
    let served: [Vec<(&str, &str)>; 3] = [
        vec![("content-type", "application/json")],
        vec![("content-type", "application/json; charset=utf-8"), ("origin", "http://127.0.0.1:3000"), ("sec-fetch-site", "same-origin")],
        vec![("content-type", "application/json"), ("origin", "http://localhost:3000"), ("host", "localhost:3000")],
    ];
    for (k, headers) in served.iter().enumerate() {
        let body = json!({"queue_name": "q", "trigger": "interval", "seconds": 5, "job_id": format!("ok{k}"), "kwargs": {"x": 1}}).to_string();
        let reply = call_with(&host, "POST", ADD, headers, body.into_bytes()).await;
        assert_eq!(reply.status, 200, "{headers:?}: {reply}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_token_any_origin_that_sends_it_is_served() {
    let redis = RedisServer::start().expect("redis-server");
    let mut conn = connect(&redis);
    register_queue(&mut conn, "q", &["x"], &["x"]);
    let mut vars = variables(&redis);
    vars.insert("api_token".into(), "dashboard-token".into());
    let host = host_with(vars);
    let body = json!({"queue_name": "q", "trigger": "interval", "seconds": 5, "kwargs": {"x": 1}}).to_string();
    let with_token = [
        ("content-type", "application/json"),
        ("authorization", "Bearer dashboard-token"),
        ("origin", "https://dashboard.example"),
        ("sec-fetch-site", "cross-site"),
    ];
    let reply = call_with(&host, "POST", ADD, &with_token, body.clone().into_bytes()).await;
    assert_eq!(reply.status, 200, "{reply}");
    let reply = call_with(&host, "POST", ADD, &with_token[2..], body.into_bytes()).await;
    assert_eq!(reply.status, 401, "{reply}");
}
