//! The components under a real Spin (4.0.2 with trigger-cron 0.5.0), not the test host: what
//! only the real runtime can show.
//! - A client cannot claim an address: Spin appends its own `spin-client-addr` after any the
//!   client sent, and the components read Spin's. A loopback request claiming a remote address
//!   is still served as loopback (no token set), so a remote one claiming loopback is not.
//! - spin.toml's routes: the page and the OpenAPI document go to `web`, `/funboost/tick` to
//!   `http-tick`, everything else under `/funboost/` to `api`.
//! - Ten seconds of firing through the cron trigger: every scheduled time once, never early;
//!   the lateness into the queue is printed (the benchmark measures it properly).
//! - A rolling restart: two replicas on one Redis, one stopped and replaced while jobs fire
//!   every second: no fire twice, none left out.
//!
//! Run by `scripts/test` when a Spin CLI is found (on PATH, or installed offline from
//! `../shared/tools/spin/install.sh`): `FUNBOOST_EDGE_SPIN=<spin> cargo test --test
//! under_real_spin -- --ignored`. Needs redis-server and the components (`scripts/prepare`).

mod common;

use std::collections::{BTreeMap, HashSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{connect, register_queue};
use funboost_test_host::test_support::{wasm_dir, RedisServer};
use serde_json::{json, Value};

const S: i64 = 1_000_000;

fn spin_bin() -> PathBuf {
    PathBuf::from(std::env::var_os("FUNBOOST_EDGE_SPIN").filter(|p| !p.is_empty()).expect("FUNBOOST_EDGE_SPIN: the Spin CLI to run (scripts/test sets it)"))
}

/// An app directory whose spin.toml is the repository's, with the components' paths made
/// absolute (they are built outside the checkout).
fn app_dir() -> tempdir::Dir {
    let dir = tempdir::Dir::new("funboost-edge-spin");
    let manifest = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/spin.toml")).expect("spin.toml");
    let wasm = wasm_dir();
    let manifest = manifest.replace("source = \"target/wasm32-wasip2/wasm/", &format!("source = \"{}/", wasm.display()));
    std::fs::write(dir.path().join("spin.toml"), manifest).expect("write spin.toml");
    dir
}

mod tempdir {
    /// A directory removed when dropped.
    pub struct Dir(std::path::PathBuf);

    impl Dir {
        pub fn new(prefix: &str) -> Dir {
            let path = std::env::temp_dir().join(format!(
                "{prefix}-{}-{}",
                std::process::id(),
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
            ));
            std::fs::create_dir_all(&path).expect("create a temporary directory");
            Dir(path)
        }

        pub fn path(&self) -> &std::path::Path {
            &self.0
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A `spin up` of the app, killed when dropped.
struct Replica {
    child: Child,
    port: u16,
}

impl Replica {
    fn start(app: &Path, redis: &RedisServer) -> Replica {
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let child = Command::new(spin_bin())
            // Its own process group: `spin up` runs each trigger as a child process.
            .process_group(0)
            .args(["up", "--listen", &format!("127.0.0.1:{port}")])
            .current_dir(app)
            .env("SPIN_VARIABLE_REDIS_URL", redis.url(7))
            .env("SPIN_VARIABLE_REDIS_HOST", redis.host())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spin up");
        let replica = Replica { child, port };
        let deadline = Instant::now() + Duration::from_secs(120);
        while replica.get("/funboost/health", &[]).map(|(status, _, _)| status) != Some(200) {
            assert!(Instant::now() < deadline, "spin up did not serve health within 2 minutes");
            std::thread::sleep(Duration::from_millis(200));
        }
        replica
    }

    /// One HTTP/1.1 request: status, content type, body; `None` when nothing answers.
    fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Option<(u16, String, String)> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
        let mut head = format!("{method} {path} HTTP/1.1\r\nhost: 127.0.0.1:{}\r\nconnection: close\r\ncontent-length: {}\r\n", self.port, body.len());
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        stream.write_all(format!("{head}\r\n{body}").as_bytes()).ok()?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).ok()?;
        let text = String::from_utf8_lossy(&response).into_owned();
        let (head, body) = text.split_once("\r\n\r\n")?;
        let status = head.split(' ').nth(1)?.parse().ok()?;
        let content_type = head.lines().find_map(|l| l.to_ascii_lowercase().strip_prefix("content-type:").map(|v| v.trim().to_string())).unwrap_or_default();
        let body = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") { dechunk(body) } else { body.to_string() };
        Some((status, content_type, body))
    }

    fn get(&self, path: &str, headers: &[(&str, &str)]) -> Option<(u16, String, String)> {
        self.request("GET", path, headers, "")
    }

    fn json(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&Value>) -> (u16, Value) {
        let mut all = headers.to_vec();
        if body.is_some() {
            all.push(("content-type", "application/json"));
        }
        let (status, _, text) =
            self.request(method, path, &all, &body.map(Value::to_string).unwrap_or_default()).unwrap_or_else(|| panic!("{method} {path}: no answer"));
        (status, serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {text}")))
    }
}

impl Drop for Replica {
    /// Stops the replica as Kubernetes does: SIGTERM to every process of it, SIGKILL after 5 s.
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
    }
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else { break };
        if size == 0 || after.len() < size {
            break;
        }
        out.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    out
}

/// Every message of `queue` so far: scheduled instant (UTC µs) and publish time (s) by job;
/// panics on a fire id seen twice.
fn drain(conn: &mut redis::Connection, queue: &str, seen: &mut HashSet<String>, into: &mut BTreeMap<String, Vec<(i64, f64)>>) {
    let (items, _): (Vec<String>, i64) = redis::pipe().atomic().cmd("LRANGE").arg(queue).arg(0).arg(-1).cmd("DEL").arg(queue).query(conn).expect("LRANGE");
    for item in items {
        let message: Value = serde_json::from_str(&item).expect("a JSON message");
        let fire_id = message["extra"]["fire_id"].as_str().expect("fire id").to_string();
        assert!(seen.insert(fire_id.clone()), "fire {fire_id} was published twice");
        let mut parts = fire_id.rsplitn(3, ':');
        let scheduled: i64 = parts.next().and_then(|t| t.parse().ok()).expect("scheduled µs");
        let job = parts.next().expect("job id").to_string();
        into.entry(job).or_default().push((scheduled, message["extra"]["publish_time"].as_f64().expect("publish_time")));
    }
}

/// Each job's fires form an unbroken run of seconds, none published before its time.
fn assert_every_second_once(fires: &BTreeMap<String, Vec<(i64, f64)>>, jobs: usize, at_least: usize) -> Vec<f64> {
    assert_eq!(fires.len(), jobs, "every job fired: {:?}", fires.keys().collect::<Vec<_>>());
    let mut lateness = Vec::new();
    for (job, times) in fires {
        let mut scheduled: Vec<i64> = times.iter().map(|t| t.0).collect();
        scheduled.sort_unstable();
        assert!(scheduled.len() >= at_least, "{job} fired {} times", scheduled.len());
        assert!(scheduled.windows(2).all(|w| w[1] - w[0] == S), "{job}: a scheduled time was left out: {scheduled:?}");
        for (at, published) in times {
            let late_ms = published * 1000.0 - *at as f64 / 1000.0;
            // publish_time has 0.1 ms resolution.
            assert!(late_ms >= -0.1, "{job}: published {late_ms} ms before its time");
            lateness.push(late_ms);
        }
    }
    lateness.sort_by(f64::total_cmp);
    lateness
}

fn every_second(queue: &str, id: &str) -> Value {
    json!({"queue_name": queue, "job_id": id, "trigger": "interval", "seconds": 1, "misfire_grace_time": null, "coalesce": false, "kwargs": {"x": 1}})
}

#[test]
#[ignore = "needs a Spin CLI: scripts/test runs it with --ignored when one is found"]
fn under_real_spin_routes_client_addresses_firing_and_a_rolling_restart_hold() {
    let redis = RedisServer::start().expect("redis-server");
    let mut conn = connect(&redis);
    register_queue(&mut conn, "spin_q", &["x"], &["x"]);
    let app = app_dir();
    let a = Replica::start(app.path(), &redis);

    // A loopback request that claims to come from elsewhere is still served as loopback.
    let (status, envelope) = a.json("GET", "/funboost/get_timing_jobs?queue_name=spin_q", &[("spin-client-addr", "10.0.0.1:1234")], None);
    assert_eq!(status, 200, "Spin's own client address counts, not the client's: {envelope}");

    // spin.toml's routes.
    for (path, content_type, contains) in [
        ("/funboost/ui", "text/html", "<html"),
        ("/funboost/ui/app.js", "javascript", ""),
        ("/funboost/openapi.json", "application/json", "\"openapi\":\"3.1.0\""),
        ("/funboost/tick", "application/json", "\"round_trips\""),
        ("/funboost/health", "application/json", "\"store\":\"reachable\""),
    ] {
        let (status, got_type, body) = a.get(path, &[]).unwrap_or_else(|| panic!("{path}: no answer"));
        assert_eq!(status, 200, "{path}: {body}");
        assert!(got_type.contains(content_type), "{path} answered {got_type}");
        assert!(body.contains(contains), "{path}: {}", &body[..body.len().min(300)]);
    }

    // Ten seconds of firing through the cron trigger.
    for k in 0..10 {
        let (status, envelope) = a.json("POST", "/funboost/add_timing_job", &[], Some(&every_second("spin_q", &format!("j{k}"))));
        assert_eq!(status, 200, "{envelope}");
    }
    let mut seen = HashSet::new();
    let mut fires = BTreeMap::new();
    std::thread::sleep(Duration::from_secs(10));
    drain(&mut conn, "spin_q", &mut seen, &mut fires);
    let lateness = assert_every_second_once(&fires, 10, 8);
    let pct = |p: f64| lateness[((lateness.len() - 1) as f64 * p) as usize];
    eprintln!("real Spin, into the queue: {} fires, lateness p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms", lateness.len(), pct(0.5), pct(0.99), pct(1.0));

    // A rolling restart: a second replica joins, the first goes, a third replaces it.
    let b = Replica::start(app.path(), &redis);
    std::thread::sleep(Duration::from_secs(3));
    drop(a);
    std::thread::sleep(Duration::from_secs(2));
    let c = Replica::start(app.path(), &redis);
    std::thread::sleep(Duration::from_secs(3));
    drop(b);
    std::thread::sleep(Duration::from_secs(2));
    drain(&mut conn, "spin_q", &mut seen, &mut fires);
    drop(c);
    assert_every_second_once(&fires, 10, 18);
}
