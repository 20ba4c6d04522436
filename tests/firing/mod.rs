//! Helpers of tests/firing_e2e.rs: a redis-server and the real .wasm components per test, the
//! HTTP API as JSON, funboost's queue registry, the messages the tick published, the Python
//! interpreter of the test venv, and a real funboost worker process.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::TimeZone;
use funboost_test_host::test_support::{spin_variables, wasm_path, RedisServer};
use funboost_test_host::{Host, HostConfig};
use serde_json::{json, Value};

#[path = "../support/host_bin.rs"]
mod host_bin;
#[path = "../support/store.rs"]
pub mod store;
#[allow(unused_imports)]
pub use host_bin::test_host_bin;

/// The Redis DB the app and funboost use (funboost's default, `BrokerConnConfig.REDIS_DB`).
pub const DB: u32 = 7;
/// Micro-seconds per second.
pub const S: i64 = 1_000_000;
/// Asia/Shanghai's offset (no DST since 1991).
pub const SHANGHAI_OFFSET_US: i64 = 8 * 3600 * S;

/// The interpreter of the test venv: `$FUNBOOST_EDGE_PYTHON` (set by scripts/test), else
/// `$HOME/.cache/funboost-edge/venv/bin/python`. A missing interpreter fails the test.
pub fn python() -> PathBuf {
    let path = match std::env::var_os("FUNBOOST_EDGE_PYTHON").filter(|p| !p.is_empty()) {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(std::env::var_os("HOME").expect("HOME is not set")).join(".cache/funboost-edge/venv/bin/python"),
    };
    assert!(
        path.is_file(),
        "no Python at {}: run scripts/test (it creates the venv from tests/python/requirements.txt) or set FUNBOOST_EDGE_PYTHON",
        path.display()
    );
    path
}

/// `tests/python/<name>`.
pub fn python_script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python").join(name)
}

/// Spin variables (spin.toml's defaults) pointed at `redis`, with `overrides`.
pub fn variables(redis: &RedisServer, overrides: &[(&str, &str)]) -> HashMap<String, String> {
    spin_variables(&redis.url(DB), overrides)
}

/// A redis-server, a connection to DB 7 and the API + ticker components.
pub struct Env {
    pub redis: RedisServer,
    pub conn: redis::Connection,
    pub host: Host,
}

impl Env {
    pub fn start(overrides: &[(&str, &str)]) -> Env {
        Env::start_on(RedisServer::start().expect("redis-server"), overrides)
    }

    /// [`Env::start`] on a given server, e.g. a TLS-only one with a password
    /// (`RedisServer::start_tls`): the components and `conn` then trust its throwaway CA.
    pub fn start_on(redis: RedisServer, overrides: &[(&str, &str)]) -> Env {
        let conn = redis.client(DB).expect("redis url").get_connection().expect("connect to redis");
        let mut host = Host::new(HostConfig {
            api_wasm: wasm_path("funboost_api"),
            ticker_wasm: Some(wasm_path("funboost_ticker")),
            http_tick_wasm: Some(wasm_path("funboost_http_tick")),
            variables: variables(&redis, overrides),
            ..HostConfig::default()
        })
        .expect("Host::new");
        if let Some(ca) = redis.ca_pem() {
            host = host.with_redis_ca(ca).expect("the test CA");
        }
        Env { redis, conn, host }
    }

    /// `method /funboost/<path>` with an optional JSON body: (HTTP status, envelope).
    pub async fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        self.call_with(method, path, &[], body).await
    }

    pub async fn call_with(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&Value>) -> (u16, Value) {
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let mut all = headers.to_vec();
        if body.is_some() {
            all.push(("content-type", "application/json"));
        }
        let response = self.host.request(method, &format!("/funboost/{path}"), &all, bytes).await.expect("request");
        let envelope: Value =
            serde_json::from_slice(&response.body).unwrap_or_else(|e| panic!("{method} {path}: response is not JSON ({e}): {}", response.text()));
        (response.status, envelope)
    }

    /// A call that must succeed; returns `data`.
    pub async fn ok(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let (status, envelope) = self.call(method, path, body).await;
        assert!(status == 200 && envelope["succ"] == json!(true), "{method} {path} {}: {status} {envelope}", body.map(Value::to_string).unwrap_or_default());
        envelope["data"].clone()
    }

    pub async fn add(&self, body: Value) -> Value {
        self.ok("POST", "add_timing_job", Some(&body)).await
    }

    /// `get_timing_job`: `Some(job)` or `None` on 404.
    pub async fn get_job(&self, queue: &str, job_id: &str, store: &str) -> Option<Value> {
        let (status, envelope) = self.call("GET", &format!("get_timing_job?queue_name={queue}&job_id={job_id}&job_store_kind={store}"), None).await;
        match status {
            200 => Some(envelope["data"].clone()),
            404 => None,
            _ => panic!("get_timing_job {queue}/{job_id}: {status} {envelope}"),
        }
    }

    /// One tick of the cron component (as Spin's cron trigger runs it).
    pub async fn cron_tick(&self) {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        let result = self.host.cron(now).await.expect("cron call");
        assert_eq!(result, Ok(()), "the cron tick failed");
    }

    /// One tick through the HTTP route; returns the tick report (`data`).
    pub async fn http_tick(&self, query: &str) -> Value {
        let path = if query.is_empty() { "tick".to_string() } else { format!("tick?{query}") };
        let report = self.ok("GET", &path, None).await;
        assert_eq!(report["errors"], json!([]), "tick errors: {report}");
        report
    }

    /// The Redis server's clock, Unix µs (the app's "now").
    pub fn now_us(&mut self) -> i64 {
        let (secs, micros): (i64, i64) = redis::cmd("TIME").query(&mut self.conn).expect("TIME");
        secs * S + micros
    }

    /// The stored job, straight from Redis (see `store::stored_job`).
    pub fn stored_job(&mut self, queue: &str, job_id: &str) -> Option<Value> {
        store::stored_job(&mut self.conn, queue, job_id)
    }

    /// Registers `queue` the way a funboost consumer of `add(x, y=5)` does on start.
    pub fn register_queue(&mut self, queue: &str, broker_kind: &str) {
        self.register_queue_with(queue, broker_kind, json!({}));
    }

    /// [`Env::register_queue`] with the booster's `broker_exclusive_config`.
    pub fn register_queue_with(&mut self, queue: &str, broker_kind: &str, broker_exclusive_config: Value) {
        let params = json!({
            "queue_name": queue,
            "broker_kind": broker_kind,
            "concurrent_num": 50,
            "broker_exclusive_config": broker_exclusive_config,
            "auto_generate_info": {
                "where_to_instantiate": "tests/firing_e2e.rs",
                "final_func_input_params_info": {
                    "func_name": "add",
                    "func_position": "<function add at 0x7f>",
                    "is_manual_func_input_params": false,
                    "all_arg_name_list": ["x", "y"],
                    "must_arg_name_list": ["x"],
                    "optional_arg_name_list": ["y"],
                },
            },
        });
        redis::cmd("SADD").arg("funboost_all_queue_names").arg(queue).exec(&mut self.conn).expect("SADD");
        redis::cmd("HSET").arg("funboost_queue__consumer_parmas").arg(queue).arg(params.to_string()).exec(&mut self.conn).expect("HSET");
    }

    /// Takes every message now in list `key` (oldest first for RPUSH), leaving the list empty.
    pub fn drain_list(&mut self, key: &str) -> Vec<Value> {
        let (items, _): (Vec<String>, i64) =
            redis::pipe().atomic().cmd("LRANGE").arg(key).arg(0).arg(-1).cmd("DEL").arg(key).query(&mut self.conn).expect("LRANGE+DEL");
        items.iter().map(|m| serde_json::from_str(m).unwrap_or_else(|e| panic!("message in {key} is not JSON ({e}): {m}"))).collect()
    }

    pub fn list_len(&mut self, key: &str) -> i64 {
        redis::cmd("LLEN").arg(key).query(&mut self.conn).expect("LLEN")
    }

    /// Polls until `done` or `timeout`; returns whether `done` became true.
    pub async fn wait_until(&mut self, timeout: Duration, mut done: impl FnMut(&mut Env) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if done(self) {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the Redis server's clock (the app's "now") is past `until_us` and returns
    /// its reading: how a test waits for a fire time.
    pub async fn wait_for_clock(&mut self, until_us: i64) -> i64 {
        loop {
            let now = self.now_us();
            if now > until_us {
                return now;
            }
            tokio::time::sleep(Duration::from_micros((until_us - now + 1) as u64).min(Duration::from_millis(100))).await;
        }
    }

    /// The value of one sample of the metrics route, e.g. `funboost_edge_ticks_total` or
    /// `funboost_edge_fires_total{queue="q"}`; `None` when the scrape has no such sample.
    pub async fn metric(&self, sample: &str) -> Option<f64> {
        let response = self.host.request("GET", "/funboost/metrics", &[], Vec::new()).await.expect("metrics request");
        let text = response.text();
        assert_eq!(response.status, 200, "metrics: {text}");
        text.lines().find_map(|line| line.strip_prefix(sample)?.strip_prefix(' ')?.trim().parse().ok())
    }

    /// How many ticks have claimed (`funboost_edge_ticks_total`): a tick's first claim counts
    /// it in the script that also reads the fires the tick will wait for.
    pub async fn ticks_total(&self) -> i64 {
        self.metric("funboost_edge_ticks_total").await.expect("funboost_edge_ticks_total in the metrics") as i64
    }

    /// Polls (every 5 ms) until [`Env::ticks_total`] reaches `n`; returns whether it did
    /// within `timeout`.
    pub async fn wait_for_ticks(&self, n: i64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.ticks_total().await >= n {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Drains `queue` and reads the stored `jobs` of it (by id) as of one instant, while ticks
    /// may still be publishing. A tick's commit pushes a job's messages and writes its state
    /// (with a new version) in one script, so when no job's version changed across a drain,
    /// the messages drained (here and before) are exactly the fires those states count. A
    /// write in between makes it drain and read again; panics after `timeout` (a hang).
    pub async fn drain_settled(&mut self, queue: &str, jobs: &[&str], timeout: Duration) -> (Vec<Value>, HashMap<String, Value>) {
        let deadline = Instant::now() + timeout;
        let mut messages = Vec::new();
        let read = |env: &mut Env| -> HashMap<String, Value> {
            jobs.iter().map(|id| (id.to_string(), env.stored_job(queue, id).unwrap_or_else(|| panic!("{queue}/{id} is not stored")))).collect()
        };
        loop {
            let before = read(self);
            messages.extend(self.drain_list(queue));
            let after = read(self);
            if jobs.iter().all(|id| before[*id]["version"] == after[*id]["version"]) {
                return (messages, after);
            }
            assert!(Instant::now() < deadline, "{queue}: {jobs:?} were still being written after {timeout:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// `YYYY-MM-DD HH:MM:SS` Asia/Shanghai wall time of a Unix µs instant, truncated to the second.
pub fn shanghai_wall(utc_us: i64) -> String {
    chrono_tz::Asia::Shanghai.timestamp_micros(utc_us).single().expect("valid instant").format("%Y-%m-%d %H:%M:%S").to_string()
}

/// Python's `str(datetime)` of a Unix µs instant in Asia/Shanghai.
pub fn shanghai_py_str(utc_us: i64) -> String {
    let t = chrono_tz::Asia::Shanghai.timestamp_micros(utc_us).single().expect("valid instant");
    let micros = utc_us.rem_euclid(S);
    if micros == 0 {
        t.format("%Y-%m-%d %H:%M:%S+08:00").to_string()
    } else {
        format!("{}.{micros:06}+08:00", t.format("%Y-%m-%d %H:%M:%S"))
    }
}

/// The scheduled instant (UTC µs) in a message's `extra.fire_id` (`<queue>:<job>:<µs>`).
pub fn fire_instant(message: &Value) -> i64 {
    let fire_id = message["extra"]["fire_id"].as_str().unwrap_or_else(|| panic!("no extra.fire_id in {message}"));
    fire_id.rsplit(':').next().and_then(|t| t.parse().ok()).unwrap_or_else(|| panic!("bad fire_id {fire_id}"))
}

/// The job id in a message's `extra.fire_id`.
pub fn fire_job(message: &Value) -> String {
    let fire_id = message["extra"]["fire_id"].as_str().unwrap_or_else(|| panic!("no extra.fire_id in {message}"));
    let mut parts = fire_id.rsplitn(3, ':');
    let _instant = parts.next();
    parts.next().unwrap_or_else(|| panic!("bad fire_id {fire_id}")).to_string()
}

/// The message's body without `extra`: the consuming function's keyword arguments.
pub fn message_kwargs(message: &Value) -> Value {
    let mut body = message.as_object().cloned().unwrap_or_default();
    body.remove("extra");
    Value::Object(body)
}

/// Runs `tests/python/<script>` with `stdin` and returns its stdout parsed as JSON.
pub fn run_python_json(script: &str, args: &[&str], stdin: &Value) -> Value {
    use std::io::Write;
    let mut child = Command::new(python())
        .arg(python_script(script))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {script}: {e}"));
    child.stdin.take().unwrap().write_all(stdin.to_string().as_bytes()).expect("write stdin");
    let output = child.wait_with_output().expect("wait");
    assert!(output.status.success(), "{script} failed ({}):\n{}", output.status, String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{script} printed no JSON ({e}): {}", String::from_utf8_lossy(&output.stdout)))
}

/// A real funboost 55.0 consumer process (tests/python/funboost_worker.py), killed on drop.
pub struct Worker {
    child: Child,
    log: PathBuf,
    pub results_key: String,
    stop_key: String,
}

impl Worker {
    /// Starts the worker for `queues` (`{queue, broker_kind, broker_exclusive_config?}`) and
    /// waits until every queue is registered in `funboost_queue__consumer_parmas`. On a TLS
    /// server with a password, funboost connects with `REDIS_SSL` and `REDIS_PASSWORD`, trusting
    /// the server's throwaway CA through `SSL_CERT_FILE`.
    pub async fn start(env: &mut Env, queues: &Value) -> Worker {
        let started = Instant::now();
        let log = std::env::temp_dir().join(format!("funboost_edge_worker_{}_{}.log", std::process::id(), env.redis.port()));
        let log_file = std::fs::File::create(&log).expect("worker log file");
        let results_key = "firing_e2e:results".to_string();
        let stop_key = "firing_e2e:stop".to_string();
        let mut command = Command::new(python());
        command
            .arg(python_script("funboost_worker.py"))
            .args(["--port", &env.redis.port().to_string(), "--results-key", &results_key, "--stop-key", &stop_key])
            .args(["--queues", &queues.to_string(), "--timeout", "150"]);
        if let (Some(password), Some(ca)) = (env.redis.password(), env.redis.ca_file()) {
            command.args(["--password", password, "--ssl"]).env("SSL_CERT_FILE", ca);
        }
        let child = command
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("log file"))
            .stderr(log_file)
            .spawn()
            .expect("cannot start the funboost worker");
        let mut worker = Worker { child, log, results_key, stop_key };
        let names: Vec<String> = queues.as_array().unwrap().iter().map(|q| q["queue"].as_str().unwrap().to_string()).collect();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let registered =
                names.iter().all(|q| redis::cmd("HEXISTS").arg("funboost_queue__consumer_parmas").arg(q).query::<bool>(&mut env.conn).unwrap_or(false));
            if registered {
                break;
            }
            if worker.exited() {
                panic!("the funboost worker exited (is funboost 55.0 installed in the venv? see tests/python/requirements.txt):\n{}", worker.log_tail());
            }
            if Instant::now() > deadline {
                panic!("the funboost worker did not register its queues within 60 s:\n{}", worker.log_tail());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        eprintln!("funboost worker registered {} queues in {:?}", names.len(), started.elapsed());
        worker
    }

    fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Everything the worker's `add` recorded so far.
    pub fn results(&self, env: &mut Env) -> Vec<Value> {
        let items: Vec<String> = redis::cmd("LRANGE").arg(&self.results_key).arg(0).arg(-1).query(&mut env.conn).expect("LRANGE");
        items.iter().map(|r| serde_json::from_str(r).expect("result JSON")).collect()
    }

    /// The last lines of the worker's output (for failure messages).
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    }

    /// Asks the worker to exit and waits (up to 10 s).
    pub async fn stop(mut self, env: &mut Env) {
        redis::cmd("SET").arg(&self.stop_key).arg(1).exec(&mut env.conn).expect("SET stop");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                assert!(status.success(), "the funboost worker exited with {status}:\n{}", self.log_tail());
                let _ = std::fs::remove_file(&self.log);
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the funboost worker did not exit within 10 s of the stop key:\n{}", self.log_tail());
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if !self.exited() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
