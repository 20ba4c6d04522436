//! funboost's own web manager works on funboost-edge. funboost 55's timing-job page
//! (`funweb/templates/timing_jobs_management.html`), unmodified, is served from the installed
//! funboost package by tests/python/funboost_web_manager.py with its static files, and every
//! `/funboost/*` request goes to the real API `.wasm` served over TCP by the test host (with an
//! API token the proxy adds, and the cron ticker running every second as `spin up` runs it).
//! tests/python/web_manager_driver.py then uses the page in Debian's headless Chromium through
//! Playwright, clicking its own buttons and answering its own dialogs, and after each step this
//! test checks the effect through funboost-edge's API:
//! - the page lists the jobs grouped by queue, each group with its scheduler's state, exactly
//!   as `get_timing_jobs` and `get_scheduler_status` answer;
//! - a cron job added in the page's dialog (queue picked in its Select2 box, the function's
//!   parameters shown from `get_one_queue_config`, kwargs typed) is stored with those cron
//!   fields and kwargs; the page shows the seed's `trigger` kind, `cron`;
//! - pausing and resuming the job pauses and resumes it (`next_run_time` null, then back);
//! - pausing and resuming the queue's scheduler flips `get_scheduler_status` (2, then 1) for
//!   that queue only;
//! - deleting the job deletes it;
//! - the page makes no request to a host other than loopback (the driver blocks and fails on
//!   any), every request it makes is answered, and every `/funboost/*` answer is a success.
//!
//! Needs Debian's `chromium` and Playwright for Python in the test venv (`scripts/prepare`
//! installs both). The screenshot taken while the job is paused goes to
//! `$FUNBOOST_EDGE_WEB_MANAGER_SCREENSHOT`, else to the temp directory.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use funboost_test_host::test_support::{spin_variables, wasm_path, RedisServer};
use funboost_test_host::{Host, HostConfig};
use serde_json::{json, Value};

const TOKEN: &str = "web-manager-test-token-0123456789";
const QUEUE: &str = "orders";
const OTHER: &str = "reports";
const JOB: &str = "weekday_report";
const CHROMIUM: &str = "/usr/bin/chromium";
/// How long one step of the driver may take (Chromium's start included).
const STEP_TIMEOUT: Duration = Duration::from_secs(120);

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python").join(name)
}

/// funboost-edge's API, straight into the component, with the token.
struct Api<'a> {
    host: &'a Host,
}

impl Api<'_> {
    async fn call(&self, method: &str, path: &str) -> Reply {
        let auth = format!("Bearer {TOKEN}");
        call_with(self.host, method, &format!("/funboost/{path}"), &[("authorization", auth.as_str()), ("content-type", "application/json")], Vec::new()).await
    }

    async fn ok(&self, method: &str, path: &str) -> Value {
        let reply = self.call(method, path).await;
        assert!(reply.status == 200 && reply.body["succ"] == json!(true), "{method} {path}: {reply}");
        reply.data().clone()
    }

    async fn add(&self, body: Value) -> Value {
        let auth = format!("Bearer {TOKEN}");
        let reply = call_with(
            self.host,
            "POST",
            "/funboost/add_timing_job",
            &[("authorization", auth.as_str()), ("content-type", "application/json")],
            body.to_string().into_bytes(),
        )
        .await;
        assert!(reply.status == 200, "add {body}: {reply}");
        reply.data().clone()
    }

    async fn job(&self, queue: &str, job_id: &str) -> Value {
        self.ok("GET", &format!("get_timing_job?queue_name={queue}&job_id={job_id}")).await
    }

    async fn scheduler(&self, queue: &str) -> i64 {
        let data = self.ok("GET", &format!("get_scheduler_status?queue_name={queue}&job_store_kind=redis")).await;
        assert_eq!(data["queue_name"], json!(queue), "{data}");
        let code = data["status_code"].as_i64().unwrap_or_else(|| panic!("status_code: {data}"));
        let name = ["stopped", "running", "paused"][code as usize];
        assert_eq!(data["status_str"], json!(name), "{data}");
        code
    }

    async fn listing(&self) -> Value {
        self.ok("GET", "get_timing_jobs?job_store_kind=redis").await
    }
}

/// What the page shows for one queue group.
fn group<'a>(page: &'a Value, queue: &str) -> &'a Value {
    page["groups"].as_array().and_then(|g| g.iter().find(|g| g["queue"] == json!(queue))).unwrap_or_else(|| panic!("the page shows no group {queue}: {page}"))
}

fn row<'a>(page: &'a Value, queue: &str, job_id: &str) -> Option<&'a Value> {
    group(page, queue)["jobs"].as_array().unwrap().iter().find(|j| j["job_id"] == json!(job_id))
}

fn job_ids(jobs: &Value) -> BTreeSet<String> {
    jobs.as_array().unwrap().iter().map(|j| j["job_id"].as_str().unwrap().to_string()).collect()
}

/// The driver's next `STEP` line, which must be step `name`: (what the page shows, the step).
fn next_step(driver: &mut Proc, name: &str) -> (Value, Value) {
    let line = driver.line(STEP_TIMEOUT);
    let json = line.strip_prefix("STEP ").unwrap_or_else(|| panic!("expected step {name}, the driver printed: {line}\nstderr:\n{}", driver.stderr_tail()));
    let step: Value = serde_json::from_str(json).expect("STEP json");
    assert_eq!(step["step"], json!(name), "{step}");
    (step["page"].clone(), step)
}

/// The page's text for a job's `status`.
fn status_text(status: &str) -> &'static str {
    if status == "paused" {
        "已暂停"
    } else {
        "运行中"
    }
}

/// The page's rows for `queue` show what the API lists for it: ids, trigger kind, next run
/// time, status.
fn assert_rows_match(page: &Value, listing: &Value, queue: &str) {
    let api_jobs = &listing["jobs_by_queue"][queue];
    let shown = &group(page, queue)["jobs"];
    assert_eq!(job_ids(shown), job_ids(api_jobs), "{queue}: page {shown} vs API {api_jobs}");
    for job in api_jobs.as_array().unwrap() {
        let id = job["job_id"].as_str().unwrap();
        let row = row(page, queue, id).unwrap();
        assert_eq!(row["trigger"], job["trigger"], "{queue}/{id}: the page shows the seed's trigger kind");
        let next = job["next_run_time"].as_str().unwrap_or("-");
        assert_eq!(row["next_run_time"], json!(next), "{queue}/{id}");
        assert_eq!(row["status"], json!(status_text(job["status"].as_str().unwrap())), "{queue}/{id}");
    }
}

fn scheduler_badge(page: &Value, queue: &str) -> String {
    group(page, queue)["scheduler"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn funboosts_timing_job_page_manages_funboost_edge_jobs() {
    let started = Instant::now();
    assert!(std::path::Path::new(CHROMIUM).is_file(), "{CHROMIUM} not found: run `source scripts/prepare` (apt package chromium)");

    // funboost-edge: Redis with two queues registered as funboost consumers register them, the
    // API and the ticker (every second, as trigger-cron under `spin up`), an API token.
    let redis = RedisServer::start().expect("redis-server");
    let mut conn = connect(&redis);
    register_queue(&mut conn, QUEUE, &["x", "y"], &["x"]);
    register_queue(&mut conn, OTHER, &["x", "y"], &["x"]);
    let variables = spin_variables(&redis.url(7), &[("redis_host", &redis.host()), ("api_token", TOKEN)]);
    let host =
        Host::new(HostConfig { api_wasm: wasm_path("funboost_api"), ticker_wasm: Some(wasm_path("funboost_ticker")), variables, ..HostConfig::default() })
            .expect("Host::new");
    let (addr, server) = host.serve("127.0.0.1:0".parse().unwrap()).await.expect("serve");
    let ticker = tokio::spawn(host.clone().tick_every(Duration::from_secs(1)));
    let api = Api { host: &host };

    // One job in each queue before the page opens.
    let hourly = api.add(json!({"queue_name": QUEUE, "job_id": "hourly_sync", "trigger": "interval", "hours": 1, "kwargs": {"x": 1}})).await;
    assert_eq!(hourly["trigger"], json!("interval"), "{hourly}");
    api.add(json!({"queue_name": OTHER, "job_id": "year_end", "trigger": "date", "run_date": "2030-12-03 15:00:00", "kwargs": {"x": 2}})).await;
    // The ticker has ticked: both schedulers are running.
    let deadline = Instant::now() + Duration::from_secs(20);
    while api.scheduler(QUEUE).await != 1 || api.scheduler(OTHER).await != 1 {
        assert!(Instant::now() < deadline, "the ticker never ran");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // funboost's page in front of it.
    let mut manager = Proc::spawn(
        "funboost_web_manager.py",
        Command::new(python()).arg(script("funboost_web_manager.py")).args([
            "--api",
            &format!("http://{addr}"),
            "--token",
            TOKEN,
            "--listen",
            "127.0.0.1:0",
            "--quiet",
        ]),
    );
    let listening = manager.line(Duration::from_secs(30));
    let base = listening
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("funboost_web_manager.py printed {listening:?}; stderr:\n{}", manager.stderr_tail()))
        .to_string();

    let screenshot = std::env::var_os("FUNBOOST_EDGE_WEB_MANAGER_SCREENSHOT")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join(format!("funboost_edge_web_manager_{}.png", std::process::id())));
    let _ = std::fs::remove_file(&screenshot);
    let cron = "day_of_week=mon-fri,hour=9,minute=30,second=0";
    let mut driver = Proc::spawn(
        "web_manager_driver.py",
        Command::new(python())
            .arg(script("web_manager_driver.py"))
            .args([
                "--url",
                &base,
                "--expect-queues",
                &format!("{QUEUE},{OTHER}"),
                "--queue",
                QUEUE,
                "--job-id",
                JOB,
                "--kwargs",
                r#"{"x": 1, "y": 2}"#,
                "--cron",
                cron,
                "--screenshot",
            ])
            .arg(&screenshot)
            .arg("--step-by-step"),
    );

    // 1. Listed, grouped by queue, as get_timing_jobs and get_scheduler_status answer.
    let (page, step) = next_step(&mut driver, "listed");
    assert_eq!(step["title"], json!("定时任务管理"), "funboost's page, unmodified");
    let listing = api.listing().await;
    let queues: BTreeSet<&str> = page["groups"].as_array().unwrap().iter().map(|g| g["queue"].as_str().unwrap()).collect();
    assert_eq!(queues, BTreeSet::from([QUEUE, OTHER]), "{page}");
    assert_eq!(listing["jobs_by_queue"].as_object().unwrap().len(), 2, "{listing}");
    assert_rows_match(&page, &listing, QUEUE);
    assert_rows_match(&page, &listing, OTHER);
    assert_eq!(row(&page, OTHER, "year_end").unwrap()["trigger_badge"], json!("一次性"));
    assert_eq!(row(&page, QUEUE, "hourly_sync").unwrap()["trigger_badge"], json!("间隔"));
    assert_eq!(page["stats"], json!({"queues": "2", "jobs": "2", "running": "2"}));
    assert!(page["queue_filter"].as_array().unwrap().contains(&json!(format!("{QUEUE} (1个任务)"))), "{page}");
    for queue in [QUEUE, OTHER] {
        assert_eq!(scheduler_badge(&page, queue), "调度中", "{queue}: status_code 1 shows as running");
        assert_eq!((group(&page, queue)["pause_button"].clone(), group(&page, queue)["resume_button"].clone()), (json!(true), json!(false)));
    }
    driver.send("ok");

    // 2. Added through the dialog: stored with the dialog's cron fields and kwargs.
    let (page, step) = next_step(&mut driver, "added");
    let params = step["func_params_text"].as_str().unwrap();
    assert!(params.contains("consume") && params.contains('x') && params.contains('y'), "get_one_queue_config fed the dialog: {params}");
    let template: Value = serde_json::from_str(step["kwargs_template"].as_str().unwrap()).expect("kwargs template");
    assert_eq!(template, json!({"x": "", "y": ""}), "the dialog's kwargs template from the registered parameters");
    let dialogs = step["dialogs"].to_string();
    assert!(dialogs.contains("任务添加成功") && dialogs.contains(JOB), "{dialogs}");
    let job = api.job(QUEUE, JOB).await;
    assert_eq!(job["trigger"], json!("cron"), "{job}");
    assert_eq!(job["trigger_str"], json!("cron[day_of_week='mon-fri', hour='9', minute='30', second='0']"), "{job}");
    for (field, value) in [("day_of_week", "mon-fri"), ("hour", "9"), ("minute", "30"), ("second", "0")] {
        assert_eq!(job[field], json!(value), "{field}: {job}");
    }
    for field in ["year", "month", "day", "week"] {
        assert!(job.get(field).is_none_or(Value::is_null), "the dialog left {field} empty: {job}");
    }
    assert_eq!(
        (job["kwargs"].clone(), job["status"].clone(), job["job_store_kind"].clone()),
        (json!({"x": 1, "y": 2}), json!("running"), json!("redis")),
        "{job}"
    );
    let shown = row(&page, QUEUE, JOB).unwrap();
    assert_eq!((shown["trigger_badge"].clone(), shown["trigger"].clone()), (json!("定时"), json!("cron")), "the seed's trigger kind, not funboost's cron[...]");
    assert_eq!(shown["next_run_time"], job["next_run_time"], "{shown} vs {job}");
    assert_rows_match(&page, &api.listing().await, QUEUE);
    assert_eq!(page["stats"], json!({"queues": "2", "jobs": "3", "running": "3"}));
    driver.send("ok");

    // 3. The job paused: stored paused, out of the due index.
    let (page, _) = next_step(&mut driver, "job_paused");
    let job = api.job(QUEUE, JOB).await;
    assert_eq!((job["status"].clone(), job["next_run_time"].clone()), (json!("paused"), Value::Null), "{job}");
    assert_eq!(due_score(&mut conn, QUEUE, JOB), None, "a paused job is not due");
    let shown = row(&page, QUEUE, JOB).unwrap();
    assert_eq!((shown["status"].clone(), shown["next_run_time"].clone()), (json!("已暂停"), json!("-")), "{shown}");
    assert!(shown["buttons"].as_array().unwrap().iter().any(|b| b.as_str().unwrap().contains("恢复")), "{shown}");
    assert_eq!(page["stats"]["running"], json!("2"));
    driver.send("ok");

    // 4. Resumed: running again with a next run time.
    let (page, _) = next_step(&mut driver, "job_resumed");
    let job = api.job(QUEUE, JOB).await;
    assert_eq!(job["status"], json!("running"), "{job}");
    let next = job["next_run_time"].as_str().unwrap_or_else(|| panic!("resumed without a next run time: {job}"));
    assert_eq!(py_time_utc_us(next) % 1_000_000, 0, "a cron fire time: {next}");
    assert!(due_score(&mut conn, QUEUE, JOB).is_some(), "a resumed job is due again");
    assert_eq!(row(&page, QUEUE, JOB).unwrap()["next_run_time"], json!(next));
    driver.send("ok");

    // 5. The queue's scheduler paused, that queue only.
    let (page, _) = next_step(&mut driver, "scheduler_paused");
    assert_eq!(api.scheduler(QUEUE).await, 2, "pause_scheduler from the page");
    assert_eq!(api.scheduler(OTHER).await, 1, "the other queue's scheduler runs on");
    assert_eq!((scheduler_badge(&page, QUEUE), scheduler_badge(&page, OTHER)), ("已暂停".to_string(), "调度中".to_string()));
    assert_eq!(group(&page, QUEUE)["resume_button"], json!(true));
    driver.send("ok");

    // 6. And resumed.
    let (page, _) = next_step(&mut driver, "scheduler_resumed");
    assert_eq!(api.scheduler(QUEUE).await, 1, "resume_scheduler from the page");
    assert_eq!(scheduler_badge(&page, QUEUE), "调度中");
    driver.send("ok");

    // 7. Deleted: gone from the API, the store and the page; the rest untouched.
    let (page, _) = next_step(&mut driver, "deleted");
    let reply = api.call("GET", &format!("get_timing_job?queue_name={QUEUE}&job_id={JOB}")).await;
    assert_eq!((reply.status, reply.code()), (404, 4040), "{reply}");
    assert_eq!(stored_job(&mut conn, QUEUE, JOB), None);
    let listing = api.listing().await;
    assert_eq!(listing["total_count"], json!(2), "{listing}");
    assert_rows_match(&page, &listing, QUEUE);
    assert_rows_match(&page, &listing, OTHER);
    driver.send("ok");

    // Every request the page made: loopback only, all answered, every API answer a success.
    let done = driver.line(STEP_TIMEOUT);
    let report: Value =
        serde_json::from_str(done.strip_prefix("DONE ").unwrap_or_else(|| panic!("the driver printed {done}\nstderr:\n{}", driver.stderr_tail())))
            .expect("DONE json");
    assert_eq!(report["blocked"], json!([]), "{report}");
    assert_eq!(report["failed_requests"], json!([]), "{report}");
    let requests = report["requests"].as_array().unwrap();
    let mut routes = BTreeSet::new();
    for request in requests {
        assert_eq!(request["host"], json!("127.0.0.1"), "{request}");
        let (path, status) = (request["path"].as_str().unwrap(), request["status"].as_i64().unwrap());
        if let Some(route) = path.strip_prefix("/funboost/") {
            assert_eq!((status, request["succ"].clone()), (200, json!(true)), "{request}");
            routes.insert(format!("{} {route}", request["method"].as_str().unwrap()));
        } else if path == "/static//js/select2.min.js" {
            assert_eq!(status, 308, "werkzeug's merge_slashes redirect, as funweb answers it: {request}");
        } else {
            assert_eq!(status, 200, "{request}");
        }
    }
    let want: BTreeSet<String> = [
        "GET get_timing_jobs",
        "GET get_scheduler_status",
        "GET get_one_queue_config",
        "POST add_timing_job",
        "POST pause_timing_job",
        "POST resume_timing_job",
        "POST pause_scheduler",
        "POST resume_scheduler",
        "DELETE delete_timing_job",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(routes, want, "the API routes the page called");
    let png = std::fs::read(&screenshot).unwrap_or_else(|e| panic!("no screenshot at {}: {e}", screenshot.display()));
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "the screenshot is a PNG");
    let status = tokio::task::block_in_place(|| driver.child.wait()).expect("driver exit");
    assert!(status.success(), "the driver exited with {status}; stderr:\n{}", driver.stderr_tail());

    drop(manager);
    ticker.abort();
    server.abort();
    if std::env::var_os("FUNBOOST_EDGE_WEB_MANAGER_SCREENSHOT").is_none() {
        let _ = std::fs::remove_file(&screenshot);
    }
    eprintln!("funboost's web manager on funboost-edge: {} requests, API routes {routes:?}, {:.1}s", requests.len(), started.elapsed().as_secs_f64());
}
