//! A queue name is the Redis key its messages are pushed to, so a name must not reach any key
//! that is not the queue's own: ours (`{funboost_edge}:...`), funboost's registry and
//! switches, other queues' unacknowledged messages. With `allow_unregistered_queues=true` (any
//! name is accepted, as the quick start allows for trying the API), names built to hit such
//! keys are refused with a 400 naming `queue_name`, and a fuzz over thousands of names shows
//! that after adding, editing and firing jobs on every accepted one, the only keys in Redis are
//! ours, the registry's as they were, and the accepted queues themselves; and that ticks still
//! work for everyone.
//!
//! Needs redis-server and the components (`scripts/prepare` builds them).

mod firing;

use std::collections::BTreeSet;

use firing::*;
use serde_json::{json, Value};

/// Names aimed at keys that are not a queue's own.
const AIMED: &[&str] = &[
    "{funboost_edge}:paused_queues",
    "{funboost_edge}:heads",
    "{funboost_edge}:metrics",
    "{funboost_edge}:state:q",
    "{funboost_edge}",
    "x{funboost_edge}",
    "{other}:x",
    "funboost_all_queue_names",
    "funboost_queue__consumer_parmas",
    "funboost_queue__msg_count_map",
    "funboost.apscheduler.jobs:orders",
    "funboost.apscheduler.run_times:orders",
    "funboost.project_name:p",
    "funboost_hearbeat_queue__dict:orders",
    "funboost_unack_registry:orders",
    "funboost_kill_task:orders",
    "funboost_pause_flag",
    "funboost_stop_flag",
    "unack_orders_3f2a",
    "orders__unack_id_3f2a",
    "with space",
    "tab\tname",
];

/// A small deterministic generator (xorshift), so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

/// Random names, distinct: pieces of the aimed names, of our prefix and of ordinary names, glued.
fn random_names(count: usize) -> BTreeSet<String> {
    let pieces = ["{", "}", ":", "funboost", "_edge", "funboost_", "edge", ".", "__unack_id_", "unack_", "orders", "q", "中", "é", "-", "7", " ", "queue"];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    (0..count)
        .map(|_| {
            let parts = 1 + rng.next() % 5;
            (0..parts).map(|_| rng.pick(&pieces)).collect::<String>()
        })
        .collect()
}

fn keys(env: &mut Env) -> BTreeSet<String> {
    redis::cmd("KEYS").arg("*").query::<Vec<String>>(&mut env.conn).expect("KEYS").into_iter().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_aimed_at_other_keys_are_refused_and_no_name_writes_outside_its_queue() {
    let mut env = Env::start(&[("allow_unregistered_queues", "true"), ("max_jobs_per_queue", "100000")]);
    env.register_queue("fe_witness", "REDIS");
    let registry_before: BTreeSet<String> = keys(&mut env);

    for name in AIMED {
        let (status, envelope) = env.call("POST", "add_timing_job", Some(&json!({"queue_name": name, "trigger": "date", "kwargs": {"x": 1}}))).await;
        assert_eq!((status, envelope["error_data"]["field"].as_str()), (400, Some("queue_name")), "{name:?}: {envelope}");
    }

    // Every random name: add a job due now, edit it, run it now, tick.
    let mut accepted = BTreeSet::new();
    let mut names = random_names(3000);
    names.extend(AIMED.iter().map(|n| n.to_string()));
    for name in names {
        let body = json!({"queue_name": name, "job_id": "j", "trigger": "date", "misfire_grace_time": null, "kwargs": {"x": 1}, "replace_existing": true});
        let (status, envelope) = env.call("POST", "add_timing_job", Some(&body)).await;
        match status {
            200 => {
                accepted.insert(name.clone());
            }
            400 => {
                assert_eq!(envelope["error_data"]["field"].as_str(), Some("queue_name"), "{name:?}: {envelope}");
                continue;
            }
            _ => panic!("{name:?}: {status} {envelope}"),
        }
        let q = urlencode(&name);
        let (status, envelope) = env.call("POST", &format!("modify_timing_job?queue_name={q}&job_id=j"), Some(&json!({"kwargs": {"x": 2}}))).await;
        assert_eq!(status, 200, "{name:?}: {envelope}");
        let (status, envelope) = env.call("POST", &format!("run_timing_job_now?queue_name={q}&job_id=j"), None).await;
        assert_eq!(status, 200, "{name:?}: {envelope}");
    }
    assert!(accepted.len() > 500, "the fuzz accepted only {} names", accepted.len());
    let report = env.http_tick("").await;
    assert_eq!(report["fired"].as_u64(), Some(accepted.len() as u64), "every accepted job fired: {report}");

    // Only ours, the registry as it was, and the accepted queues.
    let outside: Vec<String> =
        keys(&mut env).into_iter().filter(|k| !k.starts_with("{funboost_edge}:") && !registry_before.contains(k) && !accepted.contains(k)).collect();
    assert_eq!(outside, Vec::<String>::new(), "keys written outside the queues' own");
    for name in &accepted {
        let kind: String = redis::cmd("TYPE").arg(name).query(&mut env.conn).expect("TYPE");
        assert_eq!(kind, "list", "{name:?} is a queue list");
        let messages: Vec<String> = redis::cmd("LRANGE").arg(name).arg(0).arg(-1).query(&mut env.conn).expect("LRANGE");
        assert_eq!(messages.len(), 2, "{name:?}: the run-now and the fire");
        assert!(messages.iter().all(|m| serde_json::from_str::<Value>(m).is_ok_and(|m| m["x"] == 2)), "{name:?}: {messages:?}");
    }
    // And ticks still work for everyone.
    env.add(json!({"queue_name": "fe_witness", "job_id": "w", "trigger": "date", "kwargs": {"x": 1}})).await;
    let report = env.http_tick("").await;
    assert_eq!(report["fired"].as_u64(), Some(1), "{report}");
    assert_eq!(env.drain_list("fe_witness").len(), 1);
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
