//! A build that finds the store written by a newer layout than it knows (a rollback of the app
//! after an upgrade, or an older replica left running) must not misread it: every route that
//! touches the store answers 503 `StoreFormatNewer` naming both layouts, writes nothing, and
//! the tick publishes nothing; health still answers (the store is reachable).
//!
//! Needs redis-server and the components (`scripts/prepare` builds them).

mod firing;

use firing::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_on_the_store_answers_503_naming_the_layouts_and_nothing_fires() {
    let mut env = Env::start(&[]);
    env.register_queue("fe_newer", "REDIS");
    env.add(json!({"queue_name": "fe_newer", "job_id": "j", "trigger": "date", "misfire_grace_time": null, "kwargs": {"x": 1}})).await;
    redis::cmd("SET").arg("{funboost_edge}:format").arg("3").exec(&mut env.conn).unwrap();
    let keys_before: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut env.conn).unwrap();

    let calls: [(&str, &str, Option<serde_json::Value>); 9] = [
        ("POST", "add_timing_job", Some(json!({"queue_name": "fe_newer", "job_id": "k", "trigger": "date", "kwargs": {"x": 1}}))),
        ("GET", "get_timing_jobs", None),
        ("GET", "get_timing_job?queue_name=fe_newer&job_id=j", None),
        ("POST", "pause_timing_job?queue_name=fe_newer&job_id=j", None),
        ("POST", "modify_timing_job?queue_name=fe_newer&job_id=j", Some(json!({"kwargs": {"x": 2}}))),
        ("POST", "run_timing_job_now?queue_name=fe_newer&job_id=j", None),
        ("DELETE", "delete_timing_job?queue_name=fe_newer&job_id=j", None),
        ("DELETE", "delete_all_timing_jobs", None),
        ("POST", "pause_scheduler?queue_name=fe_newer", None),
    ];
    for (method, path, body) in calls {
        let (status, envelope) = env.call(method, path, body.as_ref()).await;
        assert_eq!((status, envelope["error"].as_str(), envelope["code"].as_i64()), (503, Some("StoreFormatNewer"), Some(5031)), "{method} {path}: {envelope}");
        let msg = envelope["msg"].as_str().unwrap_or_default();
        assert!(msg.contains("layout 3") && msg.contains("layout 2"), "names both layouts: {msg}");
    }
    let (status, envelope) = env.call("GET", "tick", None).await;
    assert_eq!((status, envelope["error"].as_str()), (503, Some("StoreFormatNewer")), "{envelope}");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let cron = env.host.cron(now).await.expect("cron call");
    assert!(cron.as_ref().is_err_and(|e| e.contains("layout 3")), "the cron tick fails naming the layout: {cron:?}");
    assert_eq!(env.list_len("fe_newer"), 0, "nothing was published");
    let mut keys_after: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut env.conn).unwrap();
    let mut keys_before = keys_before;
    keys_before.sort();
    keys_after.sort();
    assert_eq!(keys_after, keys_before, "no key was created or removed");
    let (status, _) = env.call("GET", "health", None).await;
    assert_eq!(status, 200, "the store is reachable");

    // The newer build's format goes away (rolled back by hand): everything works again.
    redis::cmd("SET").arg("{funboost_edge}:format").arg("2").exec(&mut env.conn).unwrap();
    let report = env.http_tick("").await;
    assert_eq!(report["fired"].as_u64(), Some(1), "{report}");
}
