//! Who may do what, through the real `.wasm`: every route × every kind of caller × a queue
//! inside and outside the caller's scope. A caller without the route's role gets 403 naming
//! the role, one whose token does not cover the queue gets 403 naming the queue, an unknown
//! token or none gets 401, and a refused call changes nothing in Redis (byte for byte,
//! the audit trail included). Lists, metrics and pruning see only the caller's queues; a
//! malformed `tokens` variable serves nothing.
//!
//! Needs redis-server and the API and HTTP tick components (`scripts/prepare` builds them).

mod common;

use std::collections::BTreeMap;

use common::*;
use funboost_test_host::test_support::RedisServer;
use funboost_test_host::Host;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Queues: one every team token covers, one none does.
const IN: &str = "team_a_orders";
const OUT: &str = "team_b_billing";
const JOB: &str = "j";

/// The named tokens: (secret, name, role, queues).
const TOKENS: [(&str, &str, &str, Option<&[&str]>); 5] = [
    ("secret-reader", "reader", "read", None),
    ("secret-team-a-reader", "team_a_reader", "read", Some(&["team_a_*"])),
    ("secret-team-a-writer", "team_a_writer", "write", Some(&["team_a_*", "refunds"])),
    ("secret-team-a-admin", "team_a_admin", "admin", Some(&["team_a_*"])),
    ("secret-writer", "writer", "write", None),
];
const ROOT: &str = "secret-root";
const TICK: &str = "secret-tick";
const METRICS: &str = "secret-metrics";

/// Who calls: a role and scope, or a token that serves only its own route, or none.
#[derive(Clone, Copy, Debug)]
enum Who {
    Named { secret: &'static str, role: &'static str, team_a_only: bool },
    TickToken,
    MetricsToken,
    Unknown,
    NoToken,
}

fn callers() -> Vec<Who> {
    let mut callers: Vec<Who> = TOKENS.iter().map(|(secret, _, role, queues)| Who::Named { secret, role, team_a_only: queues.is_some() }).collect();
    callers.extend([Who::Named { secret: ROOT, role: "admin", team_a_only: false }, Who::TickToken, Who::MetricsToken, Who::Unknown, Who::NoToken]);
    callers
}

fn rank(role: &str) -> u8 {
    match role {
        "read" => 1,
        "write" => 2,
        "admin" => 3,
        other => panic!("role {other}"),
    }
}

/// One route as the matrix calls it: method, path and query (`{q}` = the queue), body, the
/// role it needs (`None`: open), and whether it acts on the queue.
struct Case {
    method: &'static str,
    path_and_query: &'static str,
    body: fn(&str) -> Option<Value>,
    role: Option<&'static str>,
    on_queue: bool,
}

const fn case(method: &'static str, path_and_query: &'static str, role: Option<&'static str>, body: fn(&str) -> Option<Value>) -> Case {
    Case { method, path_and_query, body, role, on_queue: true }
}

fn no_body(_: &str) -> Option<Value> {
    None
}

fn routes() -> Vec<Case> {
    vec![
        case("POST", "/add_timing_job", Some("write"), |q| {
            Some(json!({"queue_name": q, "trigger": "interval", "seconds": 60, "job_id": "new", "kwargs": {"x": 1}, "replace_existing": true}))
        }),
        case("GET", "/get_timing_jobs?queue_name={q}", Some("read"), no_body),
        case("GET", "/get_timing_job?job_id=j&queue_name={q}", Some("read"), no_body),
        case("DELETE", "/delete_timing_job?job_id=j&queue_name={q}&note=cleanup", Some("write"), no_body),
        case("DELETE", "/delete_all_timing_jobs?queue_name={q}", Some("admin"), no_body),
        case("POST", "/pause_timing_job?job_id=j&queue_name={q}&note=incident+42", Some("write"), no_body),
        case("POST", "/resume_timing_job?job_id=j&queue_name={q}", Some("write"), no_body),
        case("POST", "/modify_timing_job?job_id=j&queue_name={q}", Some("write"), |_| Some(json!({"kwargs": {"x": 2}}))),
        case("POST", "/reschedule_timing_job?job_id=j&queue_name={q}", Some("write"), |_| Some(json!({"trigger": "interval", "seconds": 30}))),
        case("POST", "/run_timing_job_now?job_id=j&queue_name={q}", Some("write"), no_body),
        case("POST", "/apply_timing_jobs", Some("write"), |q| {
            Some(json!({"queue_name": q, "jobs": [{"queue_name": q, "job_id": JOB, "trigger": "interval", "seconds": 90, "kwargs": {"x": 3}}]}))
        }),
        case("GET", "/get_scheduler_status?queue_name={q}", Some("read"), no_body),
        case("POST", "/pause_scheduler?queue_name={q}", Some("admin"), no_body),
        case("POST", "/resume_scheduler?queue_name={q}", Some("admin"), no_body),
        case("GET", "/get_one_queue_config?queue_name={q}", Some("read"), no_body),
        case("GET", "/get_audit_records?queue_name={q}", Some("read"), no_body),
        Case { on_queue: false, ..case("GET", "/whoami", Some("read"), no_body) },
        Case { on_queue: false, ..case("POST", "/preview_timing_job", Some("read"), |_| Some(json!({"trigger": "interval", "seconds": 5}))) },
        Case { on_queue: false, ..case("GET", "/health", None, no_body) },
        Case { on_queue: false, ..case("GET", "/tick", Some("admin"), no_body) },
        Case { on_queue: false, ..case("GET", "/metrics", Some("read"), no_body) },
    ]
}

fn tokens_variable() -> String {
    let entries: Vec<Value> = TOKENS
        .iter()
        .map(|(secret, name, role, queues)| {
            let mut entry = json!({"name": name, "sha256": hex_sha256(secret), "role": role});
            if let Some(queues) = queues {
                entry["queues"] = json!(queues);
            }
            entry
        })
        .collect();
    Value::Array(entries).to_string()
}

fn hex_sha256(secret: &str) -> String {
    Sha256::digest(secret.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

struct Env {
    _redis: RedisServer,
    conn: redis::Connection,
    host: Host,
}

impl Env {
    fn start() -> Env {
        let redis = RedisServer::start().expect("redis-server");
        let mut conn = connect(&redis);
        for queue in [IN, OUT] {
            register_queue(&mut conn, queue, &["x"], &["x"]);
        }
        let mut vars = variables(&redis);
        vars.insert("tokens".into(), tokens_variable());
        vars.insert("api_token".into(), ROOT.into());
        vars.insert("tick_token".into(), TICK.into());
        vars.insert("metrics_token".into(), METRICS.into());
        let host = host_with(vars);
        Env { _redis: redis, conn, host }
    }

    async fn send(&self, who: Who, method: &str, path_and_query: &str, body: Option<&Value>) -> (u16, Value, String) {
        let secret = match who {
            Who::Named { secret, .. } => Some(secret),
            Who::TickToken => Some(TICK),
            Who::MetricsToken => Some(METRICS),
            Who::Unknown => Some("secret-nobody"),
            Who::NoToken => None,
        };
        let authorization = secret.map(|s| format!("Bearer {s}"));
        let mut headers: Vec<(&str, &str)> = vec![("content-type", "application/json")];
        if let Some(value) = &authorization {
            headers.push(("authorization", value));
        }
        let body = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let raw = self.host.request(method, &format!("/funboost{path_and_query}"), &headers, body).await.expect("request reached the component");
        let text = raw.text();
        (raw.status, serde_json::from_str(&text).unwrap_or(Value::Null), text)
    }

    async fn root(&self, method: &str, path_and_query: &str, body: Option<Value>) -> Value {
        let (status, reply, text) = self.send(Who::Named { secret: ROOT, role: "admin", team_a_only: false }, method, path_and_query, body.as_ref()).await;
        assert_eq!(status, 200, "{method} {path_and_query}: {text}");
        reply["data"].clone()
    }

    /// Job `j` stored in both queues, running, and both schedulers running.
    async fn arrange(&self) {
        for queue in [IN, OUT] {
            let job = json!({"queue_name": queue, "trigger": "interval", "seconds": 60, "job_id": JOB, "kwargs": {"x": 1}, "replace_existing": true});
            self.root("POST", "/add_timing_job", Some(job)).await;
            self.root("POST", &format!("/resume_scheduler?queue_name={queue}"), None).await;
        }
    }

    /// Every key of the app in DB 7 and its serialized value.
    fn snapshot(&mut self) -> BTreeMap<String, Vec<u8>> {
        let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut self.conn).expect("KEYS");
        keys.into_iter()
            .map(|key| {
                let dump: Vec<u8> = redis::cmd("DUMP").arg(&key).query(&mut self.conn).expect("DUMP");
                (key, dump)
            })
            .collect()
    }
}

/// What a caller should get on a route for a queue: `Ok` (200) or the status and a part of
/// the message.
fn expected(who: Who, route: &Case, queue: &str) -> Result<(), (u16, String)> {
    let Some(need) = route.role else { return Ok(()) };
    match who {
        Who::Named { role, team_a_only, .. } => {
            if rank(role) < rank(need) {
                return Err((403, format!("needs role {need}")));
            }
            if route.on_queue && team_a_only && !queue.starts_with("team_a_") {
                return Err((403, format!("may not touch queue {queue}")));
            }
            Ok(())
        }
        Who::TickToken if route.path_and_query == "/tick" => Ok(()),
        Who::MetricsToken if route.path_and_query == "/metrics" => Ok(()),
        _ => Err((401, String::new())),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_checks_the_role_and_the_queue_and_a_refusal_changes_nothing() {
    let mut env = Env::start();
    let mut checked = 0;
    for route in routes() {
        for who in callers() {
            for queue in [IN, OUT] {
                if !route.on_queue && queue == OUT {
                    continue;
                }
                env.arrange().await;
                let before = env.snapshot();
                let path = route.path_and_query.replace("{q}", queue);
                let body = (route.body)(queue);
                let (status, reply, text) = env.send(who, route.method, &path, body.as_ref()).await;
                let what = format!("{who:?} {} {path}", route.method);
                match expected(who, &route, queue) {
                    Ok(()) => assert_eq!(status, 200, "{what}: {text}"),
                    Err((want, says)) => {
                        assert_eq!(status, want, "{what}: {text}");
                        assert_eq!(reply["code"], if want == 401 { 4010 } else { 4030 }, "{what}: {text}");
                        assert!(reply["msg"].as_str().unwrap_or("").contains(&says), "{what} says {says:?}: {text}");
                        assert!(!text.contains("secret-"), "{what}: a token is never echoed: {text}");
                        assert!(before == env.snapshot(), "{what}: a refused call changed Redis");
                    }
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 300, "{checked} calls");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_limited_to_some_queues_sees_and_prunes_only_those() {
    let env = Env::start();
    env.arrange().await;
    let team_a_reader = Who::Named { secret: "secret-team-a-reader", role: "read", team_a_only: true };
    let team_a_writer = Who::Named { secret: "secret-team-a-writer", role: "write", team_a_only: true };
    let team_a_admin = Who::Named { secret: "secret-team-a-admin", role: "admin", team_a_only: true };

    let (_, reply, text) = env.send(team_a_reader, "GET", "/get_timing_jobs", None).await;
    let queues: Vec<&str> = reply["data"]["jobs"].as_array().expect(&text).iter().map(|j| j["queue_name"].as_str().unwrap_or("")).collect();
    assert_eq!(queues, [IN], "{text}");
    assert!(reply["data"]["jobs_by_queue"].get(OUT).is_none(), "{text}");
    let all = env.root("GET", "/get_timing_jobs", None).await;
    assert_eq!(all["count"], 2, "an unlimited token sees both: {all}");

    let (_, reply, text) = env.send(team_a_reader, "GET", "/whoami", None).await;
    assert_eq!(reply["data"]["token"], "team_a_reader", "{text}");
    assert_eq!(reply["data"]["role"], "read", "{text}");
    assert_eq!(reply["data"]["queues"], json!(["team_a_*"]), "{text}");
    let routes = reply["data"]["routes"].as_array().expect(&text);
    assert!(routes.contains(&json!("/get_timing_jobs")) && !routes.contains(&json!("/add_timing_job")), "{text}");

    // Metrics: only the queues in scope.
    let metrics = env.host.request("GET", "/funboost/metrics", &[("authorization", "Bearer secret-team-a-reader")], Vec::new()).await.expect("metrics").text();
    assert!(metrics.contains(&format!("queue=\"{IN}\"")) && !metrics.contains(&format!("queue=\"{OUT}\"")), "{metrics}");

    // Delete-all of every queue needs a token for every queue.
    let (status, reply, text) = env.send(team_a_admin, "DELETE", "/delete_all_timing_jobs", None).await;
    assert_eq!(status, 403, "{text}");
    assert!(reply["msg"].as_str().unwrap_or("").contains("give queue_name"), "{text}");

    // Apply with prune and no queue_name prunes only the queues in scope.
    let set = json!({"prune": true, "jobs": [{"queue_name": IN, "job_id": "kept", "trigger": "interval", "seconds": 60, "kwargs": {"x": 1}}]});
    let (status, reply, text) = env.send(team_a_writer, "POST", "/apply_timing_jobs", Some(&set)).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(reply["data"]["delete"], json!([{"queue_name": IN, "job_id": JOB}]), "{text}");
    let all = env.root("GET", "/get_timing_jobs", None).await;
    let mut left: Vec<(String, String)> = all["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .map(|j| (j["queue_name"].as_str().unwrap_or("").into(), j["job_id"].as_str().unwrap_or("").into()))
        .collect();
    left.sort();
    assert_eq!(left, [(IN.to_string(), "kept".to_string()), (OUT.to_string(), JOB.to_string())]);

    // A set naming a queue out of scope is refused whole, naming the job.
    let set = json!({"jobs": [{"queue_name": OUT, "job_id": "x", "trigger": "interval", "seconds": 60, "kwargs": {"x": 1}}]});
    let (status, reply, text) = env.send(team_a_writer, "POST", "/apply_timing_jobs", Some(&set)).await;
    assert_eq!(status, 403, "{text}");
    assert_eq!(reply["error_data"]["field"], "jobs[0].queue_name", "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_tokens_variable_serves_nothing_and_says_why() {
    let redis = RedisServer::start().expect("redis-server");
    let good = hex_sha256("secret-reader");
    // (tokens, api_token, what the error names)
    let cases = [
        ("[{\"name\": \"a\", \"sha256\": \"abc\", \"role\": \"read\"}]".to_string(), "", "sha256 must be 64 hex digits"),
        ("not json".to_string(), "", "variable tokens must be a JSON list"),
        (format!("[{{\"name\": \"a\", \"sha256\": \"{good}\", \"role\": \"owner\"}}]"), "", "variable tokens must be a JSON list"),
        (format!("[{{\"name\": \"loopback\", \"sha256\": \"{good}\", \"role\": \"read\"}}]"), "", "reserved"),
        (format!("[{{\"name\": \"a\", \"sha256\": \"{good}\", \"role\": \"read\"}}]"), "secret-reader", "api_token is the same token"),
    ];
    for (tokens, api_token, says) in cases {
        let mut vars = variables(&redis);
        vars.insert("tokens".into(), tokens.clone());
        vars.insert("api_token".into(), api_token.into());
        let host = host_with(vars);
        for (method, path) in [("GET", "/funboost/get_timing_jobs"), ("GET", "/funboost/health"), ("POST", "/funboost/pause_scheduler?queue_name=q")] {
            let reply = call_with(&host, method, path, &[("authorization", "Bearer secret-reader")], Vec::new()).await;
            assert_eq!(reply.status, 500, "{tokens}: {method} {path}: {reply}");
            assert!(reply.msg().contains("configuration error") && reply.msg().contains(says), "{tokens}: {reply}");
            assert!(!reply.raw.text().contains("secret-reader"), "never echoed: {reply}");
        }
    }
}
