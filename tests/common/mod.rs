//! Shared by the end-to-end tests: a real redis-server per test, the real `.wasm` in the test
//! host, funboost's queue registry as a consumer writes it, and a native implementation of the
//! core's host traits (for running the API handler natively against the same Redis).
#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use funboost_edge::host::{KeyValue, Redis, RedisArg, RedisValue};
use funboost_test_host::spin_redis::{flatten, RedisResult};
use funboost_test_host::test_support::{spin_variables, wasm_path, RedisServer};
use funboost_test_host::{Host, HostConfig, HostResponse};
use serde_json::{json, Value};

#[path = "../support/host_bin.rs"]
mod host_bin;
#[path = "../support/store.rs"]
pub mod store;
#[allow(unused_imports)]
pub use host_bin::test_host_bin;
#[allow(unused_imports)]
pub use store::{all_stored_jobs, backdate, due_count, due_score, stored_job};

/// The Spin variables of spin.toml with their defaults, pointed at `redis`.
pub fn variables(redis: &RedisServer) -> HashMap<String, String> {
    spin_variables(&redis.url(7), &[("redis_host", &redis.host())])
}

/// A host running the real API component with `variables`.
pub fn host_with(variables: HashMap<String, String>) -> Host {
    Host::new(HostConfig {
        api_wasm: wasm_path("funboost_api"),
        ticker_wasm: None,
        http_tick_wasm: Some(wasm_path("funboost_http_tick")),
        variables,
        ..HostConfig::default()
    })
    .expect("Host::new")
}

/// A synchronous connection to DB 7 of `redis` (the DB the app uses), for arranging and
/// inspecting keys.
pub fn connect(redis: &RedisServer) -> redis::Connection {
    redis::Client::open(redis.url(7)).expect("redis url").get_connection().expect("connect to redis")
}

/// Registers `queue` the way a funboost consumer does on start: the queue name in
/// `funboost_all_queue_names` and its BoosterParams JSON (with the consuming function's
/// parameter lists) in `funboost_queue__consumer_parmas`.
pub fn register_queue(conn: &mut redis::Connection, queue: &str, all: &[&str], must: &[&str]) {
    let optional: Vec<&str> = all.iter().copied().filter(|n| !must.contains(n)).collect();
    let params = json!({
        "queue_name": queue,
        "broker_kind": "REDIS",
        "concurrent_num": 50,
        "broker_exclusive_config": {},
        "auto_generate_info": {
            "where_to_instantiate": "/app/tasks.py:12",
            "final_func_input_params_info": {
                "func_name": "consume",
                "func_position": "<function consume at 0x7f>",
                "is_manual_func_input_params": false,
                "all_arg_name_list": all,
                "must_arg_name_list": must,
                "optional_arg_name_list": optional,
            },
        },
    });
    redis::cmd("SADD").arg("funboost_all_queue_names").arg(queue).exec(conn).expect("SADD");
    redis::cmd("HSET").arg("funboost_queue__consumer_parmas").arg(queue).arg(params.to_string()).exec(conn).expect("HSET");
}

/// The Redis server's clock (the app's "now"), Unix µs.
pub fn redis_now_us(conn: &mut redis::Connection) -> i64 {
    let (secs, micros): (i64, i64) = redis::cmd("TIME").query(conn).expect("TIME");
    secs * 1_000_000 + micros
}

/// Waits until the Redis server's clock (the app's "now") is past `until_us` and returns its
/// reading: how a test waits for a time to come.
pub async fn wait_for_redis_clock(conn: &mut redis::Connection, until_us: i64) -> i64 {
    loop {
        let now = redis_now_us(conn);
        if now > until_us {
            return now;
        }
        tokio::time::sleep(Duration::from_micros((until_us - now + 1) as u64).min(Duration::from_millis(100))).await;
    }
}

/// A parsed response: status and JSON envelope.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub raw: HostResponse,
}

impl Reply {
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }

    pub fn msg(&self) -> &str {
        self.body["msg"].as_str().unwrap_or("")
    }

    pub fn code(&self) -> i64 {
        self.body["code"].as_i64().unwrap_or(-1)
    }
}

impl std::fmt::Display for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP {} {}", self.status, self.raw.text())
    }
}

/// One request through the component; the body is JSON text (with its content type) when given.
pub async fn call(host: &Host, method: &str, path_and_query: &str, body: Option<&Value>) -> Reply {
    let headers: &[(&str, &str)] = if body.is_some() { &[("content-type", "application/json")] } else { &[] };
    call_with(host, method, path_and_query, headers, body.map(|b| b.to_string().into_bytes()).unwrap_or_default()).await
}

pub async fn call_with(host: &Host, method: &str, path_and_query: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Reply {
    let raw = host.request(method, path_and_query, headers, body).await.expect("request reached the component");
    let body: Value = serde_json::from_slice(&raw.body).unwrap_or_else(|e| panic!("{method} {path_and_query}: body is not JSON ({e}): {}", raw.text()));
    assert_envelope(&body);
    assert_eq!(raw.header("content-type"), Some("application/json"), "{method} {path_and_query}");
    Reply { status: raw.status, body, raw }
}

/// funboost's `BaseResponse`: exactly these keys, every one present.
pub const ENVELOPE_KEYS: [&str; 8] = ["succ", "msg", "data", "code", "error", "error_data", "traceback", "trace_id"];

pub fn assert_envelope(body: &Value) {
    let object = body.as_object().unwrap_or_else(|| panic!("envelope is not an object: {body}"));
    let keys: Vec<&str> = object.keys().map(String::as_str).collect();
    assert_eq!(keys, ENVELOPE_KEYS, "envelope keys: {body}");
    assert!(object["succ"].is_boolean() && object["msg"].is_string() && object["code"].is_i64(), "{body}");
    assert!(object["traceback"].is_null() && object["trace_id"].is_null(), "no traceback ever: {body}");
}

/// `YYYY-MM-DD HH:MM:SS[.ffffff]+HH:MM` (funboost's `str(datetime)`), parsed into
/// (wall-clock text without fraction, microseconds, offset text).
pub fn parse_py_time(text: &str) -> Option<(String, u32, String)> {
    let b = text.as_bytes();
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let base_ok = b.len() >= 25
        && (0..4).all(digit)
        && b[4] == b'-'
        && digit(5)
        && digit(6)
        && b[7] == b'-'
        && digit(8)
        && digit(9)
        && b[10] == b' '
        && digit(11)
        && digit(12)
        && b[13] == b':'
        && digit(14)
        && digit(15)
        && b[16] == b':'
        && digit(17)
        && digit(18);
    if !base_ok {
        return None;
    }
    let (micros, rest) = if b[19] == b'.' {
        let frac = text.get(20..26)?;
        if !frac.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let micros: u32 = frac.parse().ok()?;
        if micros == 0 {
            return None; // Python prints no fraction when it is zero
        }
        (micros, &text[26..])
    } else {
        (0, &text[19..])
    };
    let r = rest.as_bytes();
    let offset_ok =
        r.len() == 6 && matches!(r[0], b'+' | b'-') && r[1..3].iter().all(u8::is_ascii_digit) && r[3] == b':' && r[4..6].iter().all(u8::is_ascii_digit);
    offset_ok.then(|| (text[..19].to_string(), micros, rest.to_string()))
}

/// Unix µs of a `parse_py_time` text.
pub fn py_time_utc_us(text: &str) -> i64 {
    let (wall, micros, offset) = parse_py_time(text).unwrap_or_else(|| panic!("not a funboost time: {text:?}"));
    let n = |s: &str| s.parse::<i64>().unwrap();
    let (y, m, d) = (n(&wall[0..4]), n(&wall[5..7]), n(&wall[8..10]));
    let (hh, mm, ss) = (n(&wall[11..13]), n(&wall[14..16]), n(&wall[17..19]));
    // days from civil (Howard Hinnant)
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let sign = if offset.starts_with('-') { -1 } else { 1 };
    let offset_secs = sign * (n(&offset[1..3]) * 3600 + n(&offset[4..6]) * 60);
    (days * 86_400 + hh * 3600 + mm * 60 + ss - offset_secs) * 1_000_000 + i64::from(micros)
}

// ---- the core's host traits, natively ----

/// `host::Redis` over a synchronous redis-rs connection, with Spin's reply flattening (the
/// test host's [`flatten`]), so the core sees exactly what it sees under Spin.
pub struct NativeRedis {
    connection: RefCell<redis::Connection>,
}

impl NativeRedis {
    pub fn connect(url: &str) -> NativeRedis {
        let connection = redis::Client::open(url).expect("redis url").get_connection().expect("connect to redis");
        NativeRedis { connection: RefCell::new(connection) }
    }
}

impl Redis for NativeRedis {
    fn execute(&self, command: &str, args: &[RedisArg]) -> anyhow::Result<Vec<RedisValue>> {
        let mut cmd = redis::cmd(command);
        for arg in args {
            match arg {
                RedisArg::Int(i) => cmd.arg(*i),
                RedisArg::Bytes(b) => cmd.arg(b.as_slice()),
            };
        }
        let value: redis::Value = cmd.query(&mut *self.connection.borrow_mut())?;
        Ok(flatten(&value)?
            .into_iter()
            .map(|r| match r {
                RedisResult::Nil => RedisValue::Nil,
                RedisResult::Status(s) => RedisValue::Status(s),
                RedisResult::Int64(i) => RedisValue::Int(i),
                RedisResult::Binary(b) => RedisValue::Bytes(b),
            })
            .collect())
    }
}

/// `host::KeyValue` over a map (Spin's `default` store).
#[derive(Default)]
pub struct MapKv {
    map: Mutex<BTreeMap<String, Vec<u8>>>,
}

impl KeyValue for MapKv {
    fn get(&self, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        Ok(self.map.lock().unwrap().get(key).cloned())
    }

    fn set(&self, key: &str, value: &[u8]) -> anyhow::Result<()> {
        self.map.lock().unwrap().insert(key.to_string(), value.to_vec());
        Ok(())
    }

    fn delete(&self, key: &str) -> anyhow::Result<()> {
        self.map.lock().unwrap().remove(key);
        Ok(())
    }

    fn get_keys(&self) -> anyhow::Result<Vec<String>> {
        Ok(self.map.lock().unwrap().keys().cloned().collect())
    }
}

/// The test venv's Python: `$FUNBOOST_EDGE_PYTHON` (scripts/test sets it), else the default venv.
pub fn python() -> PathBuf {
    let path = std::env::var_os("FUNBOOST_EDGE_PYTHON")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/funboost-edge/venv/bin/python")))
        .expect("set FUNBOOST_EDGE_PYTHON (scripts/test does)");
    assert!(path.is_file(), "no Python at {} (run `source scripts/prepare` once to create the venv, or set FUNBOOST_EDGE_PYTHON)", path.display());
    path
}

/// A child process killed on drop, its stdout lines on a channel and its stderr kept.
pub struct Proc {
    pub name: &'static str,
    pub child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    stderr: Arc<Mutex<String>>,
}

impl Proc {
    pub fn spawn(name: &'static str, command: &mut Command) -> Proc {
        let mut child =
            command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let stdin = child.stdin.take();
        let (sender, lines) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let (pipe, kept) = (child.stderr.take().expect("stderr"), Arc::clone(&stderr));
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut kept = kept.lock().unwrap_or_else(|p| p.into_inner());
                kept.push_str(&line);
                kept.push('\n');
            }
        });
        Proc { name, child, stdin, lines, stderr }
    }

    pub fn line(&mut self, timeout: Duration) -> String {
        let line = tokio::task::block_in_place(|| self.lines.recv_timeout(timeout));
        line.unwrap_or_else(|e| {
            let status = self.child.try_wait().ok().flatten();
            panic!("{}: no output line ({e}); exit status {status:?}; stderr:\n{}", self.name, self.stderr_tail())
        })
    }

    pub fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin");
        writeln!(stdin, "{line}").and_then(|()| stdin.flush()).unwrap_or_else(|e| panic!("{}: cannot write to stdin: {e}", self.name));
    }

    pub fn stderr_tail(&self) -> String {
        let text = self.stderr.lock().unwrap_or_else(|p| p.into_inner());
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
