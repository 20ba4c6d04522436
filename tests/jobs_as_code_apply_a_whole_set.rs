//! Jobs as code: `POST /funboost/apply_timing_jobs` takes the whole desired set of jobs and
//! makes the store hold exactly that, as a plan (create, update with the fields that change,
//! unchanged, delete) applied all or none:
//! - `dry_run` answers the plan and stores nothing;
//! - a job whose declared fields did not change keeps everything (next run, counts, history,
//!   even its version), so applying the same set twice changes nothing;
//! - an update keeps the counts and history, and the next run unless the trigger changed;
//! - `prune` deletes what the set leaves out (of one queue, or of all);
//! - one invalid job refuses the whole set with a 400 naming it and its field; a set that would
//!   overfill a queue is refused whole.
//!
//! Needs redis-server and the components (`scripts/prepare` builds them).

mod firing;

use firing::*;
use serde_json::{json, Value};

const Q: &str = "fe_apply";
const OTHER: &str = "fe_apply_other";

fn job(id: &str, trigger: Value, kwargs: Value) -> Value {
    let mut job = json!({"queue_name": Q, "job_id": id, "kwargs": kwargs});
    job.as_object_mut().unwrap().extend(trigger.as_object().unwrap().clone());
    job
}

fn ids(plan: &Value, list: &str) -> Vec<String> {
    plan[list].as_array().unwrap_or_else(|| panic!("{list} in {plan}")).iter().map(|j| j["job_id"].as_str().unwrap().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_set_is_planned_applied_whole_kept_when_unchanged_and_pruned() {
    let mut env = Env::start(&[("max_jobs_per_queue", "5")]);
    env.register_queue(Q, "REDIS");
    env.register_queue(OTHER, "REDIS");
    let every_second = json!({"trigger": "interval", "seconds": 1});
    let mut set = vec![
        job("tick", every_second.clone(), json!({"x": 1})),
        job("edited", every_second.clone(), json!({"x": 2})),
        job("morning", json!({"trigger": "cron", "hour": "9"}), json!({"x": 3})),
    ];
    let apply = |jobs: &Vec<Value>, extra: Value| {
        let mut body = json!({"jobs": jobs});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        body
    };

    // A dry run plans and stores nothing.
    let plan = env.ok("POST", "apply_timing_jobs", Some(&apply(&set, json!({"dry_run": true})))).await;
    assert_eq!((ids(&plan, "create"), plan["applied"].clone()), (vec!["edited".to_string(), "morning".into(), "tick".into()], json!(false)), "{plan}");
    assert!(env.stored_job(Q, "tick").is_none(), "a dry run stores nothing");

    let plan = env.ok("POST", "apply_timing_jobs", Some(&apply(&set, json!({})))).await;
    assert_eq!((ids(&plan, "create").len(), plan["applied"].clone()), (3, json!(true)), "{plan}");
    // Let the jobs fire, so that they have counts and history to keep.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while env.stored_job(Q, "edited").and_then(|j| j["fires"].as_u64()) < Some(2) {
        assert!(std::time::Instant::now() < deadline, "the jobs did not fire");
        env.http_tick("").await;
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let before: Vec<Value> = ["tick", "edited", "morning"].iter().map(|id| env.stored_job(Q, id).unwrap()).collect();
    assert!(before[1]["fires"].as_u64() >= Some(1), "{}", before[1]);

    // The same set again: nothing changes, not even a version.
    let plan = env.ok("POST", "apply_timing_jobs", Some(&apply(&set, json!({})))).await;
    assert_eq!(ids(&plan, "unchanged").len(), 3, "{plan}");
    for (id, was) in ["tick", "edited", "morning"].iter().zip(&before) {
        assert_eq!(&env.stored_job(Q, id).unwrap(), was, "{id} is untouched");
    }

    // Edits: new kwargs (the schedule stays), a new trigger (the next run moves), a pause, a new job.
    set[1] = job("edited", every_second.clone(), json!({"x": 20}));
    set[2] = job("morning", json!({"trigger": "cron", "hour": "10"}), json!({"x": 3}));
    set[0]["paused"] = json!(true);
    set.push(job("new", json!({"trigger": "cron", "minute": "*/5"}), json!({"x": 4})));
    let plan = env.ok("POST", "apply_timing_jobs", Some(&apply(&set, json!({})))).await;
    assert_eq!(ids(&plan, "create"), vec!["new"], "{plan}");
    let updates: Vec<(String, Value)> =
        plan["update"].as_array().unwrap().iter().map(|u| (u["job_id"].as_str().unwrap().to_string(), u["changes"].clone())).collect();
    assert_eq!(updates, vec![("edited".into(), json!(["kwargs"])), ("morning".into(), json!(["trigger"])), ("tick".into(), json!(["paused"]))], "{plan}");
    let edited = env.stored_job(Q, "edited").unwrap();
    assert_eq!(edited["kwargs"], json!({"x": 20}));
    assert_eq!(
        (edited["created_us"].clone(), edited["fires"].as_u64() >= before[1]["fires"].as_u64()),
        (before[1]["created_us"].clone(), true),
        "the grid and the counts stay: {edited}"
    );
    let morning = env.get_job(Q, "morning", "redis").await.unwrap();
    assert!(
        morning["trigger_str"].as_str().is_some_and(|t| t.contains("'10'")) && morning["next_run_time"].as_str().is_some_and(|t| t.contains(" 10:00:00")),
        "{morning}"
    );
    assert_eq!(env.get_job(Q, "tick", "redis").await.unwrap()["status"], "paused");
    let history = env.get_job(Q, "edited", "redis").await.unwrap()["history"].as_array().unwrap().len();
    assert!(history >= 1, "the history stays");

    // One bad job refuses the whole set, naming it.
    let mut bad = set.clone();
    bad[1] = job("edited", json!({"trigger": "cron", "minute": "61"}), json!({"x": 21}));
    bad.push(job("never", every_second.clone(), json!({"x": 5})));
    let (status, envelope) = env.call("POST", "apply_timing_jobs", Some(&apply(&bad, json!({})))).await;
    assert_eq!((status, envelope["error_data"]["field"].as_str()), (400, Some("jobs[1].minute")), "{envelope}");
    assert!(env.stored_job(Q, "never").is_none() && env.stored_job(Q, "edited").unwrap()["kwargs"] == json!({"x": 20}), "nothing applied");
    for (extra, field) in [(json!({"queue_name": OTHER}), "jobs[0].queue_name"), (json!({}), "jobs[4].job_id")] {
        let mut jobs = set.clone();
        if field.ends_with("job_id") {
            jobs.push(set[0].clone());
        }
        let (status, envelope) = env.call("POST", "apply_timing_jobs", Some(&apply(&jobs, extra))).await;
        assert_eq!((status, envelope["error_data"]["field"].as_str()), (400, Some(field)), "{envelope}");
    }
    // Over the queue's limit (5): the whole set is refused.
    let mut too_many = set.clone();
    too_many.extend(["a", "b"].map(|id| job(id, every_second.clone(), json!({"x": 6}))));
    let (status, envelope) = env.call("POST", "apply_timing_jobs", Some(&apply(&too_many, json!({})))).await;
    assert_eq!((status, envelope["error"].as_str()), (409, Some("TooManyJobs")), "{envelope}");
    assert!(env.stored_job(Q, "a").is_none(), "nothing applied");

    // Prune: what the set leaves out goes, in this queue only when it is named.
    env.add(json!({"queue_name": OTHER, "job_id": "elsewhere", "trigger": "cron", "hour": "1", "kwargs": {"x": 1}})).await;
    let kept = vec![set[1].clone()];
    let plan = env.ok("POST", "apply_timing_jobs", Some(&apply(&kept, json!({"queue_name": Q, "prune": true})))).await;
    assert_eq!(ids(&plan, "delete"), vec!["morning", "new", "tick"], "{plan}");
    assert_eq!(ids(&plan, "unchanged"), vec!["edited"]);
    assert!(env.stored_job(Q, "tick").is_none() && env.stored_job(OTHER, "elsewhere").is_some());
    // Without a queue, prune covers every queue: an empty set with prune deletes everything.
    let plan = env.ok("POST", "apply_timing_jobs", Some(&json!({"jobs": [], "prune": true, "dry_run": true}))).await;
    assert_eq!(ids(&plan, "delete"), vec!["edited", "elsewhere"], "{plan}");
    let plan = env.ok("POST", "apply_timing_jobs", Some(&json!({"jobs": [], "prune": true}))).await;
    assert_eq!(plan["applied"], true);
    assert!(env.stored_job(Q, "edited").is_none() && env.stored_job(OTHER, "elsewhere").is_none());
}
