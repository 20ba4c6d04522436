//! The management page (`/funboost/ui`, components/web) works in a browser against the real app:
//! the test host binary serves the API, the page and the ticker as `spin up` does (with an API
//! token, so the page must ask for it), a real redis-server holds two registered queues, and
//! tests/python/management_page_driver.py uses the page in Debian's headless Chromium through
//! Playwright. After each of its steps this test checks the page against the API:
//! - the token: the page shows its own token form on the API's 401, keeps the token in
//!   sessionStorage (never localStorage) and then lists the jobs;
//! - the list: grouped by queue, each row's trigger, status, next run, counters and last fire as
//!   `get_timing_jobs` returns them; the queue and status filters;
//! - escaping: a job id holding `<img src=x onerror=alert(1)>` shows as that text, no element;
//! - preview: typed cron fields show the same 10 fire times `preview_timing_job` answers;
//! - errors: a bad cron hour, a bad time zone and bad kwargs show next to their field;
//! - add: cron, interval and date jobs added through the form are stored with the form's fields;
//! - a job's pause, resume, run now and history; a queue's scheduler pause and resume; delete;
//! - auto-refresh: a job added through the API appears without a click or a reload;
//! - who: the header shows whoami's token, role and queues; pause, resume, delete and the
//!   scheduler switch are confirmed in a panel that takes an optional note, stored in the audit
//!   trail (none when empty); a job's history shows its audit trail;
//! - the page's headers (CSP, nosniff), and no dialog, page error, CSP violation or console error
//!   but the API's expected 4xx answers.
//!
//! Then with named tokens (`tokens`), a read token and a write token limited to one queue:
//! - read: the page only looks (no add form, no change button, no scheduler switch or delete
//!   all), yet shows the job's audit trail; the controls forced (the hidden add form submitted,
//!   whoami made to offer every route) show the API's 403 message and change nothing;
//! - write: only its queue, no admin control; an add to another queue shows the 403 naming the
//!   queue; a pause with a note appears first in the job's trail with the token's name, and
//!   "Older" pages through the whole trail as the API returns it.
//!
//! And with no token at all: the page never asks for one and acts as `loopback`, an admin.
//!
//! Needs the built components (`scripts/prepare`: funboost_api, funboost_ticker, funboost_web),
//! Debian's `chromium` and Playwright for Python in `$FUNBOOST_EDGE_PYTHON`. The screenshot taken
//! with a job's history open goes to `$FUNBOOST_EDGE_MANAGEMENT_PAGE_SCREENSHOT`, else the temp directory.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use funboost_test_host::test_support::{spin_variables, wasm_path, RedisServer};
use funboost_test_host::{Host, HostConfig};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const TOKEN: &str = "management-page-token-0123456789";
/// The `tokens` variable's secrets: a read token for every queue, a write token for `orders`.
const READER: &str = "management-page-reader-secret";
const WRITER: &str = "management-page-writer-secret";
/// A note holding HTML: the trail must show it as text.
const NOTE: &str = "incident 42 <img src=x onerror=alert(1)>";
const QUEUE_NOTE: &str = "maintenance window";
const DELETE_NOTE: &str = "obsolete";
const EVIL: &str = "<img src=x onerror=alert(1)>";
const LATE: &str = "added_while_watching";
const CHROMIUM: &str = "/usr/bin/chromium";
/// spin.toml's page CSP, which components/web sends.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
/// How long one driver step may take (Chromium's start included).
const STEP_TIMEOUT: Duration = Duration::from_secs(120);

/// The API, in-process against the same Redis, with the admin token (none: as loopback).
struct Api {
    host: Host,
    token: Option<&'static str>,
}

impl Api {
    async fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Reply {
        self.call_as(self.token, method, path, body).await
    }

    async fn call_as(&self, token: Option<&str>, method: &str, path: &str, body: Option<&Value>) -> Reply {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("content-type", "application/json")];
        if let Some(auth) = &auth {
            headers.push(("authorization", auth.as_str()));
        }
        call_with(&self.host, method, &format!("/funboost/{path}"), &headers, body.map(|b| b.to_string().into_bytes()).unwrap_or_default()).await
    }

    async fn ok(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let reply = self.call(method, path, body).await;
        assert!(reply.status == 200 && reply.body["succ"] == json!(true), "{method} {path} {body:?}: {reply}");
        reply.data().clone()
    }

    async fn job(&self, queue: &str, job_id: &str) -> Value {
        self.ok("GET", &format!("get_timing_job?queue_name={queue}&job_id={job_id}"), None).await
    }

    async fn scheduler(&self, queue: &str) -> i64 {
        let data = self.ok("GET", &format!("get_scheduler_status?queue_name={queue}"), None).await;
        data["status_code"].as_i64().unwrap_or_else(|| panic!("status_code: {data}"))
    }

    /// The audit records `query` selects (e.g. `queue_name=q&job_id=j`), newest first, up to 1000.
    async fn trail(&self, query: &str) -> Vec<Value> {
        let data = self.ok("GET", &format!("get_audit_records?limit=1000&{query}"), None).await;
        data["records"].as_array().unwrap_or_else(|| panic!("records: {data}")).clone()
    }

    /// Everything the page could change, as the admin sees it: the listing, each job (history
    /// included), each scheduler, the whole audit trail and each queue's message list.
    async fn everything(&self, conn: &mut redis::Connection, queues: &[&str]) -> Value {
        let listing = self.ok("GET", "get_timing_jobs", None).await;
        let mut jobs = Vec::new();
        for job in listing["jobs"].as_array().expect("jobs") {
            let (queue, id) = (job["queue_name"].as_str().unwrap_or_default(), job["job_id"].as_str().unwrap_or_default());
            jobs.push(self.job(queue, id).await);
        }
        let mut schedulers = Vec::new();
        let mut messages = Vec::new();
        for queue in queues {
            schedulers.push(self.scheduler(queue).await);
            let length: i64 = redis::cmd("LLEN").arg(*queue).query(conn).expect("LLEN");
            messages.push(length);
        }
        let memory = self.ok("GET", "get_timing_jobs?job_store_kind=memory", None).await;
        json!({"listing": listing, "memory": memory, "jobs": jobs, "schedulers": schedulers, "trail": self.trail("").await, "messages": messages})
    }
}

/// The app as `spin up` serves it (API, page and a tick every second) with `variables`; its
/// base URL, and the API in-process as `admin` (no token: loopback).
async fn start_app(variables: std::collections::HashMap<String, String>, admin: Option<&'static str>, queues: &[&str]) -> (Proc, String, Api) {
    let mut command = Command::new(test_host_bin());
    command.arg("serve").arg("--api").arg(wasm_path("funboost_api")).arg("--ticker").arg(wasm_path("funboost_ticker"));
    command.arg("--web").arg(wasm_path("funboost_web")).args(["--listen", "127.0.0.1:0", "--tick-every-ms", "1000"]);
    for (name, value) in &variables {
        command.arg("--var").arg(format!("{name}={value}"));
    }
    let mut app = Proc::spawn("funboost-test-host", &mut command);
    let listening = app.line(Duration::from_secs(60));
    let base = listening.strip_prefix("listening on ").unwrap_or_else(|| panic!("the test host printed {listening:?}")).to_string();
    let host = Host::new(HostConfig { api_wasm: wasm_path("funboost_api"), ticker_wasm: None, variables, ..HostConfig::default() }).expect("Host::new");
    let api = Api { host, token: admin };
    // The ticker has run once every queue's scheduler says running.
    let deadline = Instant::now() + Duration::from_secs(20);
    for queue in queues {
        while api.scheduler(queue).await != 1 {
            assert!(Instant::now() < deadline, "the ticker never ran; stderr:\n{}", app.stderr_tail());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    (app, base, api)
}

fn spawn_driver(args: &[&str]) -> Proc {
    assert!(std::path::Path::new(CHROMIUM).is_file(), "{CHROMIUM} not found: run `source scripts/prepare` (apt package chromium)");
    let driver_script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/management_page_driver.py");
    Proc::spawn("management_page_driver.py", Command::new(python()).arg(driver_script).args(args))
}

/// The driver's `DONE` line: the page's headers, and nothing went wrong in the browser but
/// console errors for the API's answers of the statuses `expected` (Chromium logs every 4xx).
fn assert_done(driver: &mut Proc, expected: &[&str]) {
    let line = driver.line(STEP_TIMEOUT);
    let done: Value =
        serde_json::from_str(line.strip_prefix("DONE ").unwrap_or_else(|| panic!("expected DONE: {line}\n{}", driver.stderr_tail()))).expect("DONE json");
    let headers = &done["page_headers"];
    assert_eq!(headers["content-security-policy"], json!(CSP), "{headers}");
    assert_eq!(headers["x-content-type-options"], json!("nosniff"), "{headers}");
    assert_eq!(headers["content-type"], json!("text/html; charset=utf-8"), "{headers}");
    for list in ["dialogs", "page_errors", "csp_violations", "other_hosts"] {
        assert_eq!(done[list], json!([]), "{list}: {done}");
    }
    let expected = |m: &str| expected.iter().any(|status| m.starts_with(&format!("Failed to load resource: the server responded with a status of {status} ")));
    let unexpected: Vec<&Value> = done["console_errors"].as_array().expect("console_errors").iter().filter(|m| !m.as_str().is_some_and(expected)).collect();
    assert!(unexpected.is_empty(), "console errors: {unexpected:?}");
}

fn screenshot_path(name: &str) -> PathBuf {
    let path = std::env::var_os("FUNBOOST_EDGE_MANAGEMENT_PAGE_SCREENSHOT")
        .filter(|p| !p.is_empty())
        .map(|p| {
            let p = PathBuf::from(p);
            if name.is_empty() {
                p
            } else {
                p.with_file_name(format!("{}_{name}.png", p.file_stem().and_then(|s| s.to_str()).unwrap_or("page")))
            }
        })
        .unwrap_or_else(|| {
            std::env::temp_dir().join(format!("funboost_edge_management_page{}{name}_{}.png", if name.is_empty() { "" } else { "_" }, std::process::id()))
        });
    let _ = std::fs::remove_file(&path);
    path
}

fn hex_sha256(secret: &str) -> String {
    Sha256::digest(secret.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// A record as the page's trail shows it: (token, change, note); the change is the route
/// without its `/`, with ` (queue)` for a change of the whole queue, ` (every queue)` of all.
fn trail_row(record: &Value) -> (String, String, String) {
    let route = record["route"].as_str().unwrap_or_default().trim_start_matches('/').to_string();
    let change = match (record["job_id"].is_null(), record["queue_name"] == json!("*")) {
        (false, _) => route,
        (true, false) => format!("{route} (queue)"),
        (true, true) => format!("{route} (every queue)"),
    };
    (shown(&record["token"]), change, shown(&record["note"]))
}

fn trail_rows(records: &Value) -> Vec<(String, String, String)> {
    let records = records.as_array().unwrap_or_else(|| panic!("records: {records}"));
    records
        .iter()
        .map(|r| {
            (r["token"].as_str().unwrap_or("?").to_string(), r["route"].as_str().unwrap_or("?").to_string(), r["note"].as_str().unwrap_or("?").to_string())
        })
        .collect()
}

fn ids(records: &[Value]) -> Vec<&str> {
    records.iter().map(|r| r["id"].as_str().unwrap_or("?")).collect()
}

fn groups(page: &Value) -> &Vec<Value> {
    page["groups"].as_array().unwrap_or_else(|| panic!("no groups: {page}"))
}

fn queues(page: &Value) -> Vec<&str> {
    groups(page).iter().map(|g| g["queue"].as_str().unwrap_or_default()).collect()
}

fn group<'a>(page: &'a Value, queue: &str) -> &'a Value {
    groups(page).iter().find(|g| g["queue"] == json!(queue)).unwrap_or_else(|| panic!("the page shows no group {queue}: {page}"))
}

fn shown(value: &Value) -> String {
    match value {
        Value::Null => "—".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Every queue group shows exactly the listed jobs, each with the listing's fields.
fn assert_page_matches(page: &Value, listing: &Value) {
    let by_queue = listing["jobs_by_queue"].as_object().expect("jobs_by_queue");
    assert_eq!(queues(page), by_queue.keys().map(String::as_str).collect::<Vec<_>>(), "{page}");
    for (queue, jobs) in by_queue {
        let rows = group(page, queue)["jobs"].as_array().expect("rows");
        let jobs = jobs.as_array().expect("jobs");
        assert_eq!(rows.len(), jobs.len(), "{queue}: {rows:?} vs {jobs:?}");
        for job in jobs {
            let row = rows.iter().find(|r| r["job_id"] == job["job_id"]).unwrap_or_else(|| panic!("{queue}: no row for {job}"));
            for field in ["trigger_str", "status", "next_run_time", "fire_count", "missed_count", "coalesced_count", "last_fire_time"] {
                assert_eq!(row[field], json!(shown(&job[field])), "{queue}/{}: {field}", job["job_id"]);
            }
        }
    }
}

/// The driver's next `STEP` line, which must be step `name`: (what the page shows, the step).
fn next_step(driver: &mut Proc, name: &str) -> (Value, Value) {
    let line = driver.line(STEP_TIMEOUT);
    let json = line.strip_prefix("STEP ").unwrap_or_else(|| panic!("expected step {name}, the driver printed: {line}\nstderr:\n{}", driver.stderr_tail()));
    let step: Value = serde_json::from_str(json).expect("STEP json");
    assert_eq!(step["step"], json!(name), "{step}");
    (step["page"].clone(), step)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_management_page_manages_jobs_in_a_browser() {
    let started = Instant::now();
    let redis = RedisServer::start().expect("redis-server");
    let mut conn = connect(&redis);
    register_queue(&mut conn, "orders", &["x", "y"], &["x"]);
    register_queue(&mut conn, "reports", &["x", "y"], &["x"]);
    let variables = spin_variables(&redis.url(7), &[("redis_host", &redis.host()), ("api_token", TOKEN)]);
    let (_app, base, api) = start_app(variables, Some(TOKEN), &[]).await;

    // Jobs before the page opens: one per queue, one paused, one whose id is HTML.
    for body in [
        json!({"queue_name": "orders", "job_id": "hourly_sync", "trigger": "interval", "hours": 1, "kwargs": {"x": 1}}),
        json!({"queue_name": "orders", "job_id": EVIL, "trigger": "cron", "hour": 3, "kwargs": {"x": 2}}),
        json!({"queue_name": "reports", "job_id": "year_end", "trigger": "date", "run_date": "2030-12-03 15:00:00", "kwargs": {"x": 3}}),
        json!({"queue_name": "reports", "job_id": "paused_digest", "trigger": "cron", "day_of_week": "sun", "paused": true, "kwargs": {"x": 4}}),
    ] {
        api.ok("POST", "add_timing_job", Some(&body)).await;
    }
    for queue in ["orders", "reports"] {
        while api.scheduler(queue).await != 1 {
            assert!(started.elapsed() < Duration::from_secs(60), "the ticker never ran");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    let screenshot = screenshot_path("");
    let url = format!("{base}/funboost/ui");
    let shot = screenshot.to_string_lossy();
    let mut driver = spawn_driver(&[
        "--url",
        &url,
        "--token",
        TOKEN,
        "--evil-job-id",
        EVIL,
        "--late-job-id",
        LATE,
        "--screenshot",
        &shot,
        "--queue-note",
        QUEUE_NOTE,
        "--delete-note",
        DELETE_NOTE,
    ]);
    let listing = || async { api.ok("GET", "get_timing_jobs", None).await };

    // The token: asked for in the page's own form, kept in sessionStorage only.
    let (page, step) = next_step(&mut driver, "token");
    assert!(step["reason"].as_str().is_some_and(|r| r.contains("Bearer")), "the API's 401 message is shown: {step}");
    assert_eq!(step["before"], json!({"session": 0, "local": 0}), "{step}");
    assert_eq!(step["storage"]["session"], json!({"funboost-edge.api-token": TOKEN}), "{step}");
    assert_eq!(step["storage"]["local"], json!({}), "nothing in localStorage: {step}");
    assert_eq!((step["token_panel_after"].clone(), page["token_panel"].clone()), (json!(false), json!(false)), "{step}");
    assert_page_matches(&page, &listing().await);
    // api_token is an admin: whoami in the header, and every control.
    assert_eq!(page["me"], json!({"token": "api_token", "role": "admin", "queues": "all queues"}), "{page}");
    assert_eq!(page["add_panel"], json!(true), "{page}");
    for queue in ["orders", "reports"] {
        let group = group(&page, queue);
        assert_eq!((group["scheduler_button"].clone(), group["delete_all"].clone()), (json!("Pause queue"), json!("Delete all")), "{group}");
        assert_eq!(group["head"], json!(format!("{queue}2 jobsscheduler runningPause queueDelete all")), "{group}");
    }
    let hourly =
        group(&page, "orders")["jobs"].as_array().and_then(|rows| rows.iter().find(|r| r["job_id"] == json!("hourly_sync"))).cloned().unwrap_or_default();
    assert_eq!(hourly["buttons"], json!(["Pause", "Run now", "History", "Delete"]), "{hourly}");
    driver.send("ok");

    // A job id holding HTML is shown as text.
    let (page, step) = next_step(&mut driver, "escaped");
    assert_eq!(step["cell"], json!({"text": EVIL, "children": 0}), "{step}");
    assert_eq!(page["imgs"], json!(0), "{page}");
    driver.send("ok");

    // Filters.
    let (_, step) = next_step(&mut driver, "filtered");
    assert_eq!(queues(&step["reports"]), ["reports"], "{step}");
    let paused: Vec<&Value> = groups(&step["paused"]).iter().flat_map(|g| g["jobs"].as_array().expect("rows")).collect();
    assert_eq!(paused.iter().map(|r| r["job_id"].as_str().unwrap_or_default()).collect::<Vec<_>>(), ["paused_digest"], "{step}");
    driver.send("ok");

    // Preview: the same 10 fire times as the API.
    let (_, step) = next_step(&mut driver, "preview");
    let mut trigger = step["typed"].clone();
    trigger["trigger"] = json!("cron");
    trigger["count"] = json!(10);
    let preview = api.ok("POST", "preview_timing_job", Some(&trigger)).await;
    assert_eq!(step["times"], preview["next_run_times"], "{step}");
    assert_eq!(step["times"].as_array().map(Vec::len), Some(10));
    assert!(step["trigger_str"].as_str().is_some_and(|t| t.starts_with(preview["trigger_str"].as_str().unwrap_or("?"))), "{step}");
    driver.send("ok");

    // Errors next to their fields, with the API's message.
    let (_, step) = next_step(&mut driver, "field_error");
    trigger["hour"] = json!("25");
    let bad_hour = api.call("POST", "preview_timing_job", Some(&trigger)).await;
    assert_eq!(bad_hour.body["error_data"]["field"], json!("hour"), "{bad_hour}");
    assert_eq!(step["hour"]["hour"], json!(bad_hour.msg()), "{step}");
    trigger["hour"] = json!("9");
    trigger["timezone"] = json!("Mars/Olympus_Mons");
    let bad_zone = api.call("POST", "preview_timing_job", Some(&trigger)).await;
    assert_eq!(bad_zone.body["error_data"]["field"], json!("timezone"), "{bad_zone}");
    assert_eq!(step["timezone"]["timezone"], json!(bad_zone.msg()), "{step}");
    assert_eq!(step["timezone"]["hour"], json!(""), "the fixed hour's error is gone: {step}");
    assert!(step["kwargs"]["kwargs"].as_str().is_some_and(|m| m.contains('z')), "the unknown parameter is named next to kwargs: {step}");
    for errors in [&step["hour"], &step["timezone"], &step["kwargs"]] {
        let others: Vec<(&String, &Value)> = errors.as_object().expect("errors").iter().filter(|(_, v)| *v != "").collect();
        assert_eq!(others.len(), 1, "one error, next to its field: {errors}");
    }
    driver.send("ok");

    // Added through the form, stored with the form's fields.
    let (page, step) = next_step(&mut driver, "added");
    let cron = api.job("orders", "weekday_report").await;
    assert_eq!(cron["trigger_str"], json!("cron[day_of_week='mon-fri', hour='9', minute='30']"), "{cron}");
    assert_eq!((cron["kwargs"].clone(), cron["status"].clone()), (json!({"x": 1, "y": 2}), json!("running")), "{cron}");
    let interval = api.job("reports", "every_10_minutes").await;
    assert_eq!(interval["trigger_str"], json!("interval[0:10:00]"), "{interval}");
    assert_eq!((interval["misfire_grace_time"].clone(), interval["coalesce"].clone()), (json!(30), json!(false)), "{interval}");
    let date = api.job("orders", "new_year_2031").await;
    assert_eq!((date["trigger"].clone(), date["status"].clone(), date["timezone"].clone()), (json!("date"), json!("paused"), json!("Europe/Berlin")), "{date}");
    assert_eq!(date["args"], json!([7, 8]), "{date}");
    assert!(step["errors"].as_object().expect("errors").values().all(|v| v == ""), "no error left: {step}");
    assert_page_matches(&page, &listing().await);
    driver.send("ok");

    // One job: pause, resume (no note: the record has none), run now, history and audit trail.
    next_step(&mut driver, "job_paused");
    let job = api.job("orders", "weekday_report").await;
    assert_eq!((job["status"].clone(), job["next_run_time"].clone()), (json!("paused"), Value::Null), "{job}");
    let newest = api.trail("queue_name=orders&job_id=weekday_report").await[0].clone();
    assert_eq!((&newest["token"], &newest["route"], &newest["note"]), (&json!("api_token"), &json!("/pause_timing_job"), &Value::Null), "{newest}");
    driver.send("ok");
    next_step(&mut driver, "job_resumed");
    let job = api.job("orders", "weekday_report").await;
    assert!(job["status"] == json!("running") && job["next_run_time"].is_string(), "{job}");
    driver.send("ok");
    let (_, step) = next_step(&mut driver, "run_now");
    let history = &api.job("orders", "weekday_report").await["history"];
    assert_eq!(history[0]["outcome"], json!("manual"), "{history}");
    let fires = step["history"]["fires"].as_array().expect("fires");
    assert_eq!(fires.len(), history.as_array().map_or(0, Vec::len), "{step}");
    assert_eq!((fires[0]["outcome"].clone(), fires[0]["fire_id"].clone()), (json!("manual"), history[0]["fire_id"].clone()), "{step}");
    // Beside the fires, the job's trail: newest first, as the API has it (add, pause, resume, run now).
    let trail = api.trail("queue_name=orders&job_id=weekday_report").await;
    let shown_trail = step["trail"]["records"].as_array().expect("trail records");
    assert_eq!(ids(shown_trail), ids(&trail), "{step}");
    assert_eq!(trail_rows(&step["trail"]["records"]), trail.iter().map(trail_row).collect::<Vec<_>>(), "{step}");
    let run = &shown_trail[0];
    assert_eq!((&run["token"], &run["route"]), (&json!("api_token"), &json!("run_timing_job_now")), "{run}");
    let fire_id = history[0]["fire_id"].as_str().expect("fire_id");
    assert!(run["changes"].as_str().is_some_and(|c| c.contains(&format!("fire_id: {fire_id}"))), "run now's fire id: {run}");
    assert!(shown_trail[1]["changes"] == json!("paused: true → false") && shown_trail[2]["changes"] == json!("paused: false → true"), "{step}");
    assert!(screenshot.is_file(), "no screenshot at {}", screenshot.display());
    driver.send("ok");

    // The queue's scheduler.
    let (page, _) = next_step(&mut driver, "queue_paused");
    assert_eq!((api.scheduler("orders").await, api.scheduler("reports").await), (2, 1));
    assert_eq!(group(&page, "orders")["scheduler_button"], json!("Resume queue"), "{page}");
    let newest = api.trail("queue_name=orders").await[0].clone();
    assert_eq!((&newest["token"], &newest["route"], &newest["note"]), (&json!("api_token"), &json!("/pause_scheduler"), &json!(QUEUE_NOTE)), "{newest}");
    driver.send("ok");
    next_step(&mut driver, "queue_resumed");
    assert_eq!(api.scheduler("orders").await, 1);
    driver.send("ok");

    // Delete; then a job added behind the page's back.
    next_step(&mut driver, "deleted");
    let gone = api.call("GET", "get_timing_job?queue_name=orders&job_id=weekday_report", None).await;
    assert_eq!(gone.status, 404, "{gone}");
    let newest = api.trail("queue_name=orders&job_id=weekday_report").await[0].clone();
    assert_eq!((&newest["route"], &newest["note"]), (&json!("/delete_timing_job"), &json!(DELETE_NOTE)), "{newest}");
    api.ok("POST", "add_timing_job", Some(&json!({"queue_name": "reports", "job_id": LATE, "trigger": "interval", "minutes": 5, "kwargs": {"x": 5}}))).await;
    driver.send("ok");
    let (page, step) = next_step(&mut driver, "auto_refreshed");
    assert_eq!(step["same_document"], json!(true), "refreshed without a reload");
    assert!(group(&page, "reports")["jobs"].as_array().is_some_and(|rows| rows.iter().any(|r| r["job_id"] == json!(LATE))), "{page}");
    driver.send("ok");

    // The page's headers; nothing went wrong in the browser. Chromium logs every 4xx answer as
    // a console error; the token and field errors are 401 and 400.
    assert_done(&mut driver, &["400", "401", "404"]);
    eprintln!("management page checked in {:?}; screenshot at {}", started.elapsed(), screenshot.display());
}

/// What the page offers: each row's buttons, by job id; each group's scheduler switch and
/// delete-all button (`null` when absent).
type Controls = (Vec<(String, Value)>, Vec<(Value, Value)>);

fn controls(page: &Value) -> Controls {
    let rows = groups(page)
        .iter()
        .flat_map(|g| g["jobs"].as_array().expect("rows"))
        .map(|r| (r["job_id"].as_str().unwrap_or_default().to_string(), r["buttons"].clone()))
        .collect();
    let admin = groups(page).iter().map(|g| (g["scheduler_button"].clone(), g["delete_all"].clone())).collect();
    (rows, admin)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_token_only_looks_and_a_write_token_leaves_its_name_and_note_in_the_trail() {
    let started = Instant::now();
    let redis = RedisServer::start().expect("redis-server");
    let mut conn = connect(&redis);
    register_queue(&mut conn, "orders", &["x", "y"], &["x"]);
    register_queue(&mut conn, "reports", &["x", "y"], &["x"]);
    let tokens = json!([
        {"name": "reader", "sha256": hex_sha256(READER), "role": "read"},
        {"name": "writer", "sha256": hex_sha256(WRITER), "role": "write", "queues": ["orders"]},
    ])
    .to_string();
    let variables = spin_variables(&redis.url(7), &[("redis_host", &redis.host()), ("api_token", TOKEN), ("tokens", &tokens)]);
    let (_app, base, api) = start_app(variables, Some(TOKEN), &[]).await;

    // Jobs that do not fire while the test runs, and a trail for hourly_sync longer than a page:
    // its add, two pauses and resumes with notes, its queue's scheduler paused and resumed.
    for body in [
        json!({"queue_name": "orders", "job_id": "hourly_sync", "trigger": "interval", "hours": 1, "kwargs": {"x": 1}}),
        json!({"queue_name": "orders", "job_id": "daily_digest", "trigger": "interval", "days": 1, "kwargs": {"x": 2}}),
        json!({"queue_name": "reports", "job_id": "year_end", "trigger": "date", "run_date": "2030-12-03 15:00:00", "kwargs": {"x": 3}}),
    ] {
        api.ok("POST", "add_timing_job", Some(&body)).await;
    }
    for drill in ["1", "2"] {
        api.ok("POST", &format!("pause_timing_job?queue_name=orders&job_id=hourly_sync&note=drill+{drill}"), None).await;
        api.ok("POST", &format!("resume_timing_job?queue_name=orders&job_id=hourly_sync&note=drill+{drill}+over"), None).await;
    }
    api.ok("POST", "pause_scheduler?queue_name=orders&note=maintenance", None).await;
    api.ok("POST", "resume_scheduler?queue_name=orders", None).await;
    for queue in ["orders", "reports"] {
        while api.scheduler(queue).await != 1 {
            assert!(started.elapsed() < Duration::from_secs(60), "the ticker never ran");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let before = api.everything(&mut conn, &["orders", "reports"]).await;

    let screenshot = screenshot_path("writer");
    let url = format!("{base}/funboost/ui");
    let shot = screenshot.to_string_lossy();
    let mut driver = spawn_driver(&[
        "--scenario",
        "roles",
        "--url",
        &url,
        "--read-token",
        READER,
        "--write-token",
        WRITER,
        "--job-queue",
        "orders",
        "--job-id",
        "hourly_sync",
        "--other-queue",
        "reports",
        "--note",
        NOTE,
        "--screenshot",
        &shot,
    ]);

    // The read token: whoami in the header; only History buttons; the trail still shows.
    let (page, step) = next_step(&mut driver, "read_only");
    assert_eq!(page["me"], json!({"token": "reader", "role": "read-only", "queues": "all queues"}), "{page}");
    assert_eq!(page["add_panel"], json!(false), "no add form: {page}");
    assert_page_matches(&page, &api.ok("GET", "get_timing_jobs", None).await);
    let (rows, admin) = controls(&page);
    assert_eq!(rows.len(), 3, "{page}");
    for (job, buttons) in rows {
        assert_eq!(buttons, json!(["History"]), "{job}: {page}");
    }
    assert!(admin.iter().all(|(switch, delete_all)| switch.is_null() && delete_all.is_null()), "no scheduler switch, no delete all: {page}");
    let heads: Vec<&Value> = groups(&page).iter().map(|g| &g["head"]).collect();
    assert_eq!(heads, [&json!("orders2 jobsscheduler running"), &json!("reports1 jobsscheduler running")], "nothing else in the queue heads: {page}");
    let trail = api.trail("queue_name=orders&job_id=hourly_sync").await;
    assert_eq!(trail.len(), 7, "{trail:?}");
    let shown_trail = step["trail"]["records"].as_array().expect("trail");
    assert_eq!(ids(shown_trail), ids(&trail[..5]), "the newest 5: {step}");
    assert_eq!(trail_rows(&step["trail"]["records"]), trail[..5].iter().map(trail_row).collect::<Vec<_>>(), "{step}");
    assert_eq!(shown_trail[0]["route"], json!("resume_scheduler (queue)"), "the queue's own changes are in the job's trail: {step}");
    assert_eq!(step["trail"]["older"], json!(true), "{step}");
    driver.send("ok");

    // Forced, every change is refused by the API, the page shows its 403 message, and nothing changed.
    let (_, step) = next_step(&mut driver, "read_only_forced");
    let forced = &step["forced"];
    let (rows, admin) = controls(&forced["shown"]);
    assert!(rows.iter().any(|(_, b)| b == &json!(["Pause", "Run now", "History", "Delete"])), "whoami forced, the page offers every change: {step}");
    assert!(admin.iter().all(|(switch, delete_all)| switch == &json!("Pause queue") && delete_all == &json!("Delete all")), "{step}");
    let add = json!({"queue_name": "orders", "job_id": "forced_add", "trigger": "interval", "minutes": 5, "kwargs": {"x": 1}});
    let refusals: [(&str, &str, &str, Option<&Value>, &str); 6] = [
        ("add", "POST", "add_timing_job", Some(&add), "write"),
        ("pause", "POST", "pause_timing_job?queue_name=orders&job_id=hourly_sync&note=forced", None, "write"),
        ("run_now", "POST", "run_timing_job_now?queue_name=orders&job_id=hourly_sync", None, "write"),
        ("delete", "DELETE", "delete_timing_job?queue_name=orders&job_id=hourly_sync&note=forced", None, "write"),
        ("pause_scheduler", "POST", "pause_scheduler?queue_name=orders&job_store_kind=redis&note=forced", None, "admin"),
        ("delete_all", "DELETE", "delete_all_timing_jobs?queue_name=orders&job_store_kind=redis&note=forced", None, "admin"),
    ];
    let mut expected = Vec::new();
    for (key, method, path, body, role) in refusals {
        let reply = api.call_as(Some(READER), method, path, body).await;
        assert_eq!(reply.status, 403, "{reply}");
        assert!(reply.msg().ends_with(&format!("needs role {role}; the token reader has role read")), "{reply}");
        expected.push((key, format!("Not allowed: {}", reply.msg())));
    }
    for (key, message) in &expected {
        assert_eq!(forced[*key], json!(message), "{key}: {step}");
    }
    let add_message = &expected[0].1;
    for key in ["add_hidden", "add_hidden_form_error", "add_form_error"] {
        assert_eq!(&forced[key], &json!(add_message), "{key}: {step}");
    }
    let after = api.everything(&mut conn, &["orders", "reports"]).await;
    assert!(before == after, "a read token changed something:\nbefore {before}\nafter  {after}");
    driver.send("ok");

    // The write token, limited to orders: its queue only, no admin control; another queue is refused by name.
    let (_, step) = next_step(&mut driver, "writer");
    let shown = &step["shown"];
    assert_eq!(shown["me"], json!({"token": "writer", "role": "write", "queues": "queues: orders"}), "{shown}");
    assert_eq!(queues(shown), ["orders"], "only the token's queues are listed: {shown}");
    assert_eq!(shown["add_panel"], json!(true), "{shown}");
    let (rows, admin) = controls(shown);
    assert_eq!(rows.len(), 2, "{shown}");
    for (job, buttons) in rows {
        assert_eq!(buttons, json!(["Pause", "Run now", "History", "Delete"]), "{job}: {shown}");
    }
    assert_eq!(admin, [(Value::Null, Value::Null)], "no scheduler switch, no delete all: {shown}");
    assert_eq!(group(shown, "orders")["head"], json!("orders2 jobsscheduler running"), "{shown}");
    let mut outside = add.clone();
    outside["queue_name"] = json!("reports");
    outside["job_id"] = json!("out_of_scope");
    let reply = api.call_as(Some(WRITER), "POST", "add_timing_job", Some(&outside)).await;
    assert!(reply.status == 403 && reply.msg().contains("may not touch queue reports"), "{reply}");
    let message = format!("Not allowed: {}", reply.msg());
    assert_eq!((&step["outside"], &step["outside_field_error"]), (&json!(message), &json!(message)), "{step}");
    assert_eq!(api.call("GET", "get_timing_job?queue_name=reports&job_id=out_of_scope", None).await.status, 404);
    driver.send("ok");

    // The writer's pause with a note: first in the job's trail, with the token's name; Older
    // pages through the rest, as the API has it.
    let (page, step) = next_step(&mut driver, "writer_paused");
    assert_eq!(api.job("orders", "hourly_sync").await["status"], json!("paused"));
    let trail = api.trail("queue_name=orders&job_id=hourly_sync").await;
    assert_eq!(trail.len(), 8, "{trail:?}");
    assert_eq!((&trail[0]["token"], &trail[0]["route"], &trail[0]["note"]), (&json!("writer"), &json!("/pause_timing_job"), &json!(NOTE)), "{}", trail[0]);
    let first = step["first"]["records"].as_array().expect("first");
    assert_eq!(first.len(), 5, "a page of 5: {step}");
    let pause = &first[0];
    assert_eq!(
        (&pause["token"], &pause["route"], &pause["note"], &pause["changes"], &pause["html_children"]),
        (&json!("writer"), &json!("pause_timing_job"), &json!(NOTE), &json!("paused: false → true"), &json!(0)),
        "{step}"
    );
    assert_eq!(page["imgs"], json!(0), "the note is text: {page}");
    assert!(step["older_clicks"].as_u64().is_some_and(|n| n >= 1), "{step}");
    let all = step["all"]["records"].as_array().expect("all");
    assert_eq!(ids(all), ids(&trail), "{step}");
    assert_eq!(trail_rows(&step["all"]["records"]), trail.iter().map(trail_row).collect::<Vec<_>>(), "{step}");
    assert_eq!(step["all"]["older"], json!(false), "{step}");
    driver.send("ok");

    // The refusals are the 401s of the token form and the forced 403s.
    assert_done(&mut driver, &["401", "403"]);
    eprintln!("management page with tokens checked in {:?}; screenshot at {}", started.elapsed(), screenshot.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_tokens_the_page_is_a_loopback_admin() {
    let started = Instant::now();
    let redis = RedisServer::start().expect("redis-server");
    let mut conn = connect(&redis);
    register_queue(&mut conn, "orders", &["x", "y"], &["x"]);
    let variables = spin_variables(&redis.url(7), &[("redis_host", &redis.host())]);
    let (_app, base, api) = start_app(variables, None, &[]).await;
    api.ok("POST", "add_timing_job", Some(&json!({"queue_name": "orders", "job_id": "hourly_sync", "trigger": "interval", "hours": 1, "kwargs": {"x": 1}})))
        .await;
    while api.scheduler("orders").await != 1 {
        assert!(started.elapsed() < Duration::from_secs(60), "the ticker never ran");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let url = format!("{base}/funboost/ui");
    let mut driver = spawn_driver(&["--scenario", "loopback", "--url", &url, "--job-queue", "orders", "--job-id", "hourly_sync", "--note", NOTE]);

    let (page, _) = next_step(&mut driver, "loopback");
    assert_eq!(
        (page["token_panel"].clone(), page["me"].clone()),
        (json!(false), json!({"token": "loopback", "role": "admin", "queues": "all queues"})),
        "{page}"
    );
    assert_eq!(page["add_panel"], json!(true), "{page}");
    assert_eq!(group(&page, "orders")["head"], json!("orders1 jobsscheduler runningPause queueDelete all"), "{page}");
    assert_eq!(
        controls(&page),
        (vec![("hourly_sync".to_string(), json!(["Pause", "Run now", "History", "Delete"]))], vec![(json!("Pause queue"), json!("Delete all"))])
    );
    driver.send("ok");

    let (_, step) = next_step(&mut driver, "loopback_paused");
    assert_eq!(api.job("orders", "hourly_sync").await["status"], json!("paused"));
    let trail = api.trail("queue_name=orders&job_id=hourly_sync").await;
    assert_eq!(trail_rows(&step["trail"]["records"]), trail.iter().map(trail_row).collect::<Vec<_>>(), "{step}");
    assert_eq!(trail_rows(&step["trail"]["records"])[0], ("loopback".to_string(), "pause_timing_job".to_string(), NOTE.to_string()), "{step}");
    driver.send("ok");
    assert_done(&mut driver, &[]);
}
