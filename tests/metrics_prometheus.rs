//! `GET /funboost/metrics` through the real .wasm against a real redis-server: known fires, a
//! known misfire, a coalesced backlog, a push that fails, a paused job and a paused queue, then
//! the scrape, parsed by Prometheus's Python client (`prometheus_client.parser`), must show
//! exactly those counts; and the route is behind the metrics token or the API token.
//!
//! Needs the components (cargo build --target wasm32-wasip2 --profile wasm -p funboost-api
//! -p funboost-ticker), redis-server and the venv (`prometheus-client`, tests/python/requirements.txt).

mod firing;

use std::time::Duration;

use firing::*;
use serde_json::{json, Value};

/// `GET /funboost/metrics` with `headers`: (status, content type, body).
async fn scrape(env: &Env, headers: &[(&str, &str)]) -> (u16, String, String) {
    let response = env.host.request("GET", "/funboost/metrics", headers, Vec::new()).await.expect("request");
    (response.status, response.header("content-type").unwrap_or_default().to_string(), response.text())
}

/// The metric families as prometheus_client parses them.
fn parse(text: &str) -> Value {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(python())
        .arg(python_script("parse_metrics.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python");
    child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write");
    let output = child.wait_with_output().expect("wait");
    assert!(output.status.success(), "prometheus_client refused the text:\n{}\n{text}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("JSON")
}

/// The value of the sample `name` with exactly `labels` (prometheus_client names counter
/// families without `_total`, so samples are looked up across families).
fn sample(families: &Value, name: &str, labels: Value) -> f64 {
    let found = families.as_object().expect("families").values().flat_map(|f| f["samples"].as_array().expect("samples").iter());
    let mut matching = found.filter(|s| s["name"] == name && s["labels"] == labels);
    let value = matching.next().unwrap_or_else(|| panic!("no sample {name} {labels}"))["value"].as_f64().expect("value");
    assert!(matching.next().is_none(), "{name} {labels} twice");
    value
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scrape_counts_exactly_what_the_ticks_did() {
    let mut env = Env::start(&[]);
    let (main_q, held_q, fail_q) = ("fe_metrics_main", "fe_metrics_held", "fe_metrics_fail");
    for q in [main_q, held_q, fail_q] {
        env.register_queue(q, "REDIS");
    }
    let now_us = env.now_us();
    let date = |q: &str, id: &str, at_us: i64, grace: Value| json!({"queue_name": q, "job_id": id, "trigger": "date", "run_date": shanghai_py_str(at_us), "misfire_grace_time": grace, "kwargs": {"x": 1}});
    // Two fires, one misfire (a minute late, grace 1 s), one push that fails (the queue's key
    // holds a string).
    env.add(date(main_q, "now_1", now_us, Value::Null)).await;
    env.add(date(main_q, "now_2", now_us, Value::Null)).await;
    env.add(date(main_q, "late", now_us - 60 * S, json!(1))).await;
    env.add(date(fail_q, "fails", now_us, Value::Null)).await;
    redis::cmd("SET").arg(fail_q).arg("not a list").exec(&mut env.conn).expect("SET");
    // A backlog of an every-second job, coalesced into one fire.
    let every_second = json!({"queue_name": main_q, "job_id": "backlog", "trigger": "interval", "seconds": 1, "misfire_grace_time": null, "coalesce": true, "kwargs": {"x": 1}});
    env.add(every_second).await;
    // A paused job, and a job of a paused queue.
    let hourly = |q: &str, id: &str| json!({"queue_name": q, "job_id": id, "trigger": "interval", "hours": 1, "kwargs": {"x": 1}});
    env.add(hourly(main_q, "paused")).await;
    env.ok("POST", &format!("pause_timing_job?queue_name={main_q}&job_id=paused"), None).await;
    env.add(hourly(held_q, "held")).await;
    env.ok("POST", &format!("pause_scheduler?queue_name={held_q}"), None).await;

    let (status, _, before) = scrape(&env, &[]).await;
    assert_eq!(status, 200, "{before}");
    let families = parse(&before);
    assert_eq!(sample(&families, "funboost_edge_ticks_total", json!({})), 0.0);
    assert!(!before.contains("\nfunboost_edge_last_tick_age_seconds "), "no tick yet: no age\n{before}");

    tokio::time::sleep(Duration::from_millis(3200)).await; // the backlog grows to 3 or 4
    let first = env.ok("GET", "tick", None).await;
    let second = env.ok("GET", "tick", None).await;
    let (status, content_type, text) = scrape(&env, &[]).await;
    assert_eq!((status, content_type.as_str()), (200, "text/plain; version=0.0.4; charset=utf-8"), "{text}");
    let families = parse(&text);
    eprintln!("{text}");

    // What happened, from the queues and the jobs themselves.
    let published = env.drain_list(main_q).len() as f64;
    let backlog = env.stored_job(main_q, "backlog").expect("backlog job");
    let backlog_fires = backlog["fires"].as_f64().expect("fires");
    let backlog_coalesced = backlog["coalesced"].as_f64().expect("coalesced");
    assert!(backlog_coalesced >= 2.0, "the backlog was coalesced: {backlog}");
    assert_eq!(published, 2.0 + backlog_fires, "messages in the queue");
    let ticks_fired = (first["fired"].as_f64().unwrap_or(0.0)) + (second["fired"].as_f64().unwrap_or(0.0));
    assert_eq!(ticks_fired, published, "the ticks' reports: {first} {second}");

    let q = |queue: &str| json!({"queue": queue});
    assert_eq!(sample(&families, "funboost_edge_fires_total", q(main_q)), published);
    assert_eq!(sample(&families, "funboost_edge_missed_total", q(main_q)), 1.0);
    assert_eq!(sample(&families, "funboost_edge_coalesced_total", q(main_q)), backlog_coalesced);
    assert_eq!(sample(&families, "funboost_edge_conflicts_total", q(main_q)), 0.0);
    assert_eq!(sample(&families, "funboost_edge_push_failures_total", q(main_q)), 0.0);
    assert_eq!(sample(&families, "funboost_edge_push_failures_total", q(fail_q)), 1.0, "the failed push is counted once");
    assert_eq!(sample(&families, "funboost_edge_fires_total", q(fail_q)), 0.0);
    for counter in ["fires", "missed", "coalesced", "conflicts", "push_failures"] {
        assert_eq!(sample(&families, &format!("funboost_edge_{counter}_total"), q(held_q)), 0.0, "{counter} of the paused queue");
    }

    let jobs = |queue: &str, status: &str| sample(&families, "funboost_edge_jobs", json!({"queue": queue, "status": status}));
    // The date jobs that fired or missed are gone; the failed one is retried later.
    assert_eq!([jobs(main_q, "scheduled"), jobs(main_q, "held"), jobs(main_q, "paused"), jobs(main_q, "finished")], [1.0, 0.0, 1.0, 0.0]);
    assert_eq!([jobs(held_q, "scheduled"), jobs(held_q, "held"), jobs(held_q, "paused"), jobs(held_q, "finished")], [0.0, 1.0, 0.0, 0.0]);
    assert_eq!([jobs(fail_q, "scheduled"), jobs(fail_q, "held"), jobs(fail_q, "paused"), jobs(fail_q, "finished")], [1.0, 0.0, 0.0, 0.0]);

    assert_eq!(sample(&families, "funboost_edge_ticks_total", json!({})), 2.0);
    assert_eq!(sample(&families, "funboost_edge_tick_duration_seconds_count", json!({})), 2.0, "one observation per tick");
    assert_eq!(sample(&families, "funboost_edge_tick_duration_seconds_bucket", json!({"le": "+Inf"})), 2.0);
    // Every fire published when due is observed once (none was published ahead).
    assert_eq!(sample(&families, "funboost_edge_fire_lateness_seconds_count", json!({})), published);
    let late_sum = sample(&families, "funboost_edge_fire_lateness_seconds_sum", json!({}));
    assert!(late_sum > 0.0 && late_sum < 60.0 * published, "lateness sum {late_sum}");
    // The two date jobs came due over 3 s before the tick: in the (2.5 s, 5 s] bucket or later.
    assert!(sample(&families, "funboost_edge_fire_lateness_seconds_bucket", json!({"le": "2.5"})) <= published - 2.0);
    let buckets: Vec<f64> = families["funboost_edge_fire_lateness_seconds"]["samples"]
        .as_array()
        .expect("samples")
        .iter()
        .filter(|s| s["name"] == "funboost_edge_fire_lateness_seconds_bucket")
        .map(|s| s["value"].as_f64().expect("value"))
        .collect();
    assert_eq!(buckets.len(), 13, "12 bounds and +Inf");
    assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "cumulative: {buckets:?}");
    assert_eq!(families["funboost_edge_fire_lateness_seconds"]["type"], "histogram");

    let age = sample(&families, "funboost_edge_last_tick_age_seconds", json!({}));
    assert!((0.0..5.0).contains(&age), "last tick age {age}");
    let skew = sample(&families, "funboost_edge_clock_skew_seconds", json!({}));
    assert!(skew.abs() < 1.0, "one machine's clocks: skew {skew}");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (_, _, later) = scrape(&env, &[]).await;
    let older = sample(&parse(&later), "funboost_edge_last_tick_age_seconds", json!({}));
    assert!(older >= age + 1.0, "the age grows without ticks: {age} then {older}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_route_takes_the_metrics_token_or_the_api_token() {
    let env = Env::start(&[("api_token", "api-secret"), ("metrics_token", "metrics-secret")]);
    let cases: [(&[(&str, &str)], u16); 5] = [
        (&[], 401),
        (&[("authorization", "Bearer wrong")], 401),
        (&[("authorization", "Bearer tick-or-other")], 401),
        (&[("authorization", "Bearer metrics-secret")], 200),
        (&[("authorization", "Bearer api-secret")], 200),
    ];
    for (headers, want) in cases {
        let (status, content_type, body) = scrape(&env, headers).await;
        assert_eq!(status, want, "{headers:?}: {body}");
        if want == 401 {
            assert_eq!(content_type, "application/json");
            assert!(body.contains("\"code\":4010") && !body.contains("metrics-secret"), "{body}");
        } else {
            assert!(body.contains("# TYPE funboost_edge_jobs gauge"), "{body}");
        }
    }
    // The metrics token opens nothing else.
    let (status, _) = env.call_with("GET", "get_timing_jobs", &[("authorization", "Bearer metrics-secret")], None).await;
    assert_eq!(status, 401);
}
