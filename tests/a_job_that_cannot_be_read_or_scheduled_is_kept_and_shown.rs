//! No job is lost in silence. A stored job that cannot be decoded (its text damaged), whose
//! time zone this build does not know (renamed in a later tz database), or whose trigger can no
//! longer be built, is stopped by the tick with status `error` and the reason: kept, listed
//! with that status and reason (a listing never fails because of one job), counted in the
//! metrics (`funboost_edge_jobs{status="error"}`, `funboost_edge_quarantined_total`), never
//! counted as finished, and repairable (reschedule) or removable (delete). The other jobs go
//! on firing.
//!
//! Needs redis-server and the components (`scripts/prepare` builds them).

mod firing;

use firing::*;
use serde_json::{json, Value};

const Q: &str = "fe_quarantine";

fn edit_spec(env: &mut Env, job_id: &str, edit: impl FnOnce(&mut Value)) {
    let key = format!("{{funboost_edge}}:spec:{Q}");
    let text: String = redis::cmd("HGET").arg(&key).arg(job_id).query(&mut env.conn).expect("HGET");
    let mut spec: Value = serde_json::from_str(&text).expect("spec JSON");
    edit(&mut spec);
    redis::cmd("HSET").arg(&key).arg(job_id).arg(spec.to_string()).exec(&mut env.conn).expect("HSET");
}

fn metric(text: &str, line_start: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(line_start)).and_then(|v| v.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_and_unschedulable_jobs_are_stopped_listed_counted_and_repairable() {
    let mut env = Env::start(&[]);
    env.register_queue(Q, "REDIS");
    let first_us = (env.now_us() / S + 1) * S;
    for id in ["good", "damaged", "no_zone", "bad_trigger"] {
        env.add(json!({"queue_name": Q, "job_id": id, "trigger": "interval", "seconds": 1, "start_date": shanghai_wall(first_us), "kwargs": {"x": 1}})).await;
    }
    redis::cmd("HSET").arg(format!("{{funboost_edge}}:spec:{Q}")).arg("damaged").arg("{\"tr\": oops").exec(&mut env.conn).unwrap();
    edit_spec(&mut env, "no_zone", |spec| spec["tz"] = json!("Mars/Olympus_Mons"));
    edit_spec(&mut env, "bad_trigger", |spec| spec["tr"] = json!({"trigger": "cron", "hour": "25"}));

    assert!(env.wait_until(std::time::Duration::from_secs(10), |env| env.now_us() > first_us + S / 2).await);
    let report = env.ok("GET", "tick", None).await;
    assert_eq!(report["quarantined"].as_u64(), Some(3), "{report}");
    assert_eq!(report["fired"].as_u64(), Some(1), "the good job fired: {report}");
    let errors = report["errors"].to_string();
    for id in ["damaged", "no_zone", "bad_trigger"] {
        assert!(errors.contains(&format!("{Q}/{id}: stopped with status error")), "{id} is reported: {errors}");
    }
    // Stopped: a later tick does not meet them again.
    assert!(env.wait_until(std::time::Duration::from_secs(10), |env| env.now_us() > first_us + 3 * S / 2).await);
    let report = env.ok("GET", "tick", None).await;
    assert_eq!((report["quarantined"].as_u64(), report["fired"].as_u64()), (Some(0), Some(1)), "{report}");

    // Listed, each with its reason; the listing of all queues works too.
    let listed = env.ok("GET", &format!("get_timing_jobs?queue_name={Q}"), None).await;
    assert_eq!(listed["count"], 4, "{listed}");
    let status_of = |id: &str| listed["jobs"].as_array().unwrap().iter().find(|j| j["job_id"] == id).cloned().unwrap_or_else(|| panic!("{id} listed"));
    assert_eq!(status_of("good")["status"], "running");
    for (id, reason) in [("damaged", "spec cannot be read"), ("no_zone", "Mars/Olympus_Mons"), ("bad_trigger", "hour")] {
        let job = status_of(id);
        assert_eq!(job["status"], "error", "{job}");
        assert!(job["error"].as_str().is_some_and(|e| e.contains(reason)), "{id}: {job}");
        assert_eq!(job["next_run_time"], Value::Null);
    }
    assert_eq!(env.ok("GET", "get_timing_jobs", None).await["total_count"], 4);
    let damaged = env.get_job(Q, "damaged", "redis").await.expect("still there");
    assert_eq!(damaged["status"], "error", "{damaged}");

    // Counted, as errors, not as finished.
    let text = String::from_utf8(env.host.request("GET", "/funboost/metrics", &[], Vec::new()).await.expect("metrics").body).expect("text");
    assert_eq!(metric(&text, &format!("funboost_edge_jobs{{queue=\"{Q}\",status=\"error\"}} ")), Some(3.0), "{text}");
    assert_eq!(metric(&text, &format!("funboost_edge_jobs{{queue=\"{Q}\",status=\"finished\"}} ")), Some(0.0), "{text}");
    assert_eq!(metric(&text, &format!("funboost_edge_quarantined_total{{queue=\"{Q}\"}} ")), Some(3.0), "{text}");

    // Repaired by a new trigger; removed by delete.
    let rescheduled =
        env.ok("POST", &format!("reschedule_timing_job?queue_name={Q}&job_id=bad_trigger"), Some(&json!({"trigger": "interval", "seconds": 1}))).await;
    assert_eq!((rescheduled["status"].as_str(), rescheduled.get("error")), (Some("running"), None), "{rescheduled}");
    env.ok("DELETE", &format!("delete_timing_job?queue_name={Q}&job_id=damaged"), None).await;
    assert!(env.get_job(Q, "damaged", "redis").await.is_none());
    let (status, envelope) = env.call("POST", &format!("resume_timing_job?queue_name={Q}&job_id=no_zone"), None).await;
    assert_eq!((status, envelope["error_data"]["field"].as_str()), (400, Some("timezone")), "a job whose zone is unknown cannot be resumed: {envelope}");
}
