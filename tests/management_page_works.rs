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
//! - the page's headers (CSP, nosniff), and no dialog, page error, CSP violation or console error
//!   but the API's expected 4xx answers.
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

const TOKEN: &str = "management-page-token-0123456789";
const EVIL: &str = "<img src=x onerror=alert(1)>";
const LATE: &str = "added_while_watching";
const CHROMIUM: &str = "/usr/bin/chromium";
/// spin.toml's page CSP, which components/web sends.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
/// How long one driver step may take (Chromium's start included).
const STEP_TIMEOUT: Duration = Duration::from_secs(120);

/// The API, in-process against the same Redis, with the token.
struct Api {
    host: Host,
}

impl Api {
    async fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Reply {
        let auth = format!("Bearer {TOKEN}");
        let headers = [("authorization", auth.as_str()), ("content-type", "application/json")];
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
    assert!(std::path::Path::new(CHROMIUM).is_file(), "{CHROMIUM} not found: run `source scripts/prepare` (apt package chromium)");

    let redis = RedisServer::start().expect("redis-server");
    let mut conn = connect(&redis);
    register_queue(&mut conn, "orders", &["x", "y"], &["x"]);
    register_queue(&mut conn, "reports", &["x", "y"], &["x"]);
    let variables = spin_variables(&redis.url(7), &[("redis_host", &redis.host()), ("api_token", TOKEN)]);

    // The app as `spin up` serves it: API, page and a tick every second, with the token.
    let mut command = Command::new(test_host_bin());
    command.arg("serve").arg("--api").arg(wasm_path("funboost_api")).arg("--ticker").arg(wasm_path("funboost_ticker"));
    command.arg("--web").arg(wasm_path("funboost_web")).args(["--listen", "127.0.0.1:0", "--tick-every-ms", "1000"]);
    for (name, value) in &variables {
        command.arg("--var").arg(format!("{name}={value}"));
    }
    let mut app = Proc::spawn("funboost-test-host", &mut command);
    let listening = app.line(Duration::from_secs(60));
    let base = listening.strip_prefix("listening on ").unwrap_or_else(|| panic!("the test host printed {listening:?}")).to_string();
    let api =
        Api { host: Host::new(HostConfig { api_wasm: wasm_path("funboost_api"), ticker_wasm: None, variables, ..HostConfig::default() }).expect("Host::new") };

    // Jobs before the page opens: one per queue, one paused, one whose id is HTML.
    for body in [
        json!({"queue_name": "orders", "job_id": "hourly_sync", "trigger": "interval", "hours": 1, "kwargs": {"x": 1}}),
        json!({"queue_name": "orders", "job_id": EVIL, "trigger": "cron", "hour": 3, "kwargs": {"x": 2}}),
        json!({"queue_name": "reports", "job_id": "year_end", "trigger": "date", "run_date": "2030-12-03 15:00:00", "kwargs": {"x": 3}}),
        json!({"queue_name": "reports", "job_id": "paused_digest", "trigger": "cron", "day_of_week": "sun", "paused": true, "kwargs": {"x": 4}}),
    ] {
        api.ok("POST", "add_timing_job", Some(&body)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while api.scheduler("orders").await != 1 || api.scheduler("reports").await != 1 {
        assert!(Instant::now() < deadline, "the ticker never ran; stderr:\n{}", app.stderr_tail());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let screenshot = std::env::var_os("FUNBOOST_EDGE_MANAGEMENT_PAGE_SCREENSHOT")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join(format!("funboost_edge_management_page_{}.png", std::process::id())));
    let _ = std::fs::remove_file(&screenshot);
    let driver_script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/management_page_driver.py");
    let mut driver = Proc::spawn(
        "management_page_driver.py",
        Command::new(python())
            .arg(driver_script)
            .args(["--url", &format!("{base}/funboost/ui"), "--token", TOKEN, "--evil-job-id", EVIL, "--late-job-id", LATE, "--screenshot"])
            .arg(&screenshot),
    );
    let listing = || async { api.ok("GET", "get_timing_jobs", None).await };

    // The token: asked for in the page's own form, kept in sessionStorage only.
    let (page, step) = next_step(&mut driver, "token");
    assert!(step["reason"].as_str().is_some_and(|r| r.contains("Bearer")), "the API's 401 message is shown: {step}");
    assert_eq!(step["before"], json!({"session": 0, "local": 0}), "{step}");
    assert_eq!(step["storage"]["session"], json!({"funboost-edge.api-token": TOKEN}), "{step}");
    assert_eq!(step["storage"]["local"], json!({}), "nothing in localStorage: {step}");
    assert_eq!((step["token_panel_after"].clone(), page["token_panel"].clone()), (json!(false), json!(false)), "{step}");
    assert_page_matches(&page, &listing().await);
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

    // One job: pause, resume, run now, history.
    next_step(&mut driver, "job_paused");
    let job = api.job("orders", "weekday_report").await;
    assert_eq!((job["status"].clone(), job["next_run_time"].clone()), (json!("paused"), Value::Null), "{job}");
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
    assert!(screenshot.is_file(), "no screenshot at {}", screenshot.display());
    driver.send("ok");

    // The queue's scheduler.
    let (page, _) = next_step(&mut driver, "queue_paused");
    assert_eq!((api.scheduler("orders").await, api.scheduler("reports").await), (2, 1));
    assert_eq!(group(&page, "orders")["scheduler_button"], json!("Resume queue"), "{page}");
    driver.send("ok");
    next_step(&mut driver, "queue_resumed");
    assert_eq!(api.scheduler("orders").await, 1);
    driver.send("ok");

    // Delete; then a job added behind the page's back.
    next_step(&mut driver, "deleted");
    let gone = api.call("GET", "get_timing_job?queue_name=orders&job_id=weekday_report", None).await;
    assert_eq!(gone.status, 404, "{gone}");
    api.ok("POST", "add_timing_job", Some(&json!({"queue_name": "reports", "job_id": LATE, "trigger": "interval", "minutes": 5, "kwargs": {"x": 5}}))).await;
    driver.send("ok");
    let (page, step) = next_step(&mut driver, "auto_refreshed");
    assert_eq!(step["same_document"], json!(true), "refreshed without a reload");
    assert!(group(&page, "reports")["jobs"].as_array().is_some_and(|rows| rows.iter().any(|r| r["job_id"] == json!(LATE))), "{page}");
    driver.send("ok");

    // The page's headers; nothing went wrong in the browser.
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
    // Chromium logs every 4xx answer as a console error; the token and field errors are 401 and 400.
    let expected = |m: &str| {
        ["400", "401", "404"].iter().any(|status| m.starts_with(&format!("Failed to load resource: the server responded with a status of {status} ")))
    };
    let unexpected: Vec<&Value> = done["console_errors"].as_array().expect("console_errors").iter().filter(|m| !m.as_str().is_some_and(expected)).collect();
    assert!(unexpected.is_empty(), "console errors: {unexpected:?}");
    eprintln!("management page checked in {:?}; screenshot at {}", started.elapsed(), screenshot.display());
}
