//! The service benchmarks: the real .wasm components in the test host (wasmtime, as Spin runs
//! them) against a real redis-server, each run beside its funboost 55 / APScheduler 3.11.3 peer
//! in the same invocation, so the ratios hold on a noisy machine.
//!
//! `./scripts/bench` runs every benchmark (see BENCHMARKS.md). One section, e.g. the tick:
//! `cargo bench --bench service --profile bench-host -- tick`. Sections: footprint, tick, fires,
//! http, lateness. `--quick` shortens every run (a smoke test of the harness, not figures);
//! `--no-peers` runs our side only (for profiling).
//! Needs the components built and, for the peers, the venv and wrk (`./scripts/bench` does both).

#[path = "../tests/common/mod.rs"]
mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, ensure, Context, Result};
use funboost_test_host::test_support::{wasm_path, RedisServer};
use funboost_test_host::{Host, HostConfig};
use serde_json::{json, Value};

use common::{connect, member, register_queue, DUE_KEY, JOBS_KEY};

const SECTIONS: [&str; 5] = ["footprint", "tick", "fires", "http", "lateness"];

fn main() -> Result<()> {
    // `cargo bench` passes `--bench`; everything else is ours.
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let flag = |name: &str| args.iter().any(|a| a == name);
    if let Some(unknown) = args.iter().find(|a| a.starts_with("--") && !["--quick", "--no-peers"].contains(&a.as_str())) {
        bail!("unknown flag {unknown:?}");
    }
    let wanted: Vec<&str> = args.iter().filter(|a| !a.starts_with("--")).map(String::as_str).collect();
    if let Some(unknown) = wanted.iter().find(|w| !SECTIONS.contains(w)) {
        bail!("unknown section {unknown:?}; sections: {}", SECTIONS.join(", "));
    }
    let bench = Bench {
        quick: flag("--quick"),
        peers: !flag("--no-peers"),
        runtime: tokio::runtime::Builder::new_multi_thread().enable_all().build()?,
        python: std::env::var_os("FUNBOOST_EDGE_PYTHON").map(PathBuf::from).unwrap_or_else(|| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/funboost-edge/venv/bin/python")
        }),
    };
    for section in SECTIONS.iter().filter(|s| wanted.is_empty() || wanted.contains(s)) {
        println!("\n## {section}\n");
        match *section {
            "footprint" => footprint(&bench),
            "tick" => tick_against_job_count(&bench),
            "fires" => fires_per_second(&bench),
            "http" => http_api(&bench),
            _ => lateness(&bench),
        }
        .with_context(|| format!("benchmark {section}"))?;
    }
    Ok(())
}

struct Bench {
    quick: bool,
    peers: bool,
    runtime: tokio::runtime::Runtime,
    python: PathBuf,
}

impl Bench {
    /// Runs a peer script from `benches/peers` with the venv's Python; its stdout lines that
    /// are JSON objects are the figures.
    fn peer(&self, script: &str, args: &[String]) -> Result<Vec<Value>> {
        if !self.peers {
            return Ok(Vec::new());
        }
        let path = format!("{}/benches/peers/{script}", env!("CARGO_MANIFEST_DIR"));
        let output = Command::new(&self.python)
            .arg(&path)
            .args(args)
            .stderr(Stdio::inherit())
            .output()
            .with_context(|| format!("cannot run {} {path}", self.python.display()))?;
        ensure!(output.status.success(), "{script} failed: {}", output.status);
        Ok(String::from_utf8_lossy(&output.stdout).lines().filter_map(|l| serde_json::from_str(l).ok()).collect())
    }
}

/// The API and ticker components on `redis`, with the bench's queues registered as a funboost
/// consumer (`def add(x, y=5)`) registers them.
fn service_host(redis: &RedisServer, queues: &[String]) -> Result<Host> {
    let mut variables = common::variables(redis);
    variables.insert("max_jobs_per_queue".into(), "10000000".into());
    let host = Host::new(HostConfig { api_wasm: wasm_path("funboost_api"), ticker_wasm: Some(wasm_path("funboost_ticker")), variables })?;
    let mut conn = connect(redis);
    for queue in queues {
        register_queue(&mut conn, queue, &["x", "y"], &["x"]);
    }
    Ok(host)
}

/// POSTs `add_timing_job` in process and checks funboost's `succ`.
fn add_job(bench: &Bench, host: &Host, body: &Value) -> Result<()> {
    let response = bench.runtime.block_on(host.request("POST", "/funboost/add_timing_job", &[("content-type", "application/json")], body.to_string().into_bytes()))?;
    let reply: Value = serde_json::from_slice(&response.body).context("add_timing_job answered non-JSON")?;
    ensure!(reply["succ"] == true, "add_timing_job {body}: {reply}");
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Stored jobs, written straight into Redis as copies of one job the API stored.

/// A job the API stored, to copy `n` times under other ids.
struct Template {
    job: Value,
    /// The zone's UTC offset at the job's next run (wall - UTC), µs; the zone has no DST.
    offset_us: i64,
}

const TICK_QUEUES: usize = 16;

fn tick_queues() -> Vec<String> {
    (0..TICK_QUEUES).map(|i| format!("tick_q{i}")).collect()
}

impl Template {
    /// An interval job (every minute, kwargs `{"x": 1}`) added through the API. Its grace time
    /// of a minute lets jobs made due a few seconds ago fire rather than count as missed.
    fn new(bench: &Bench, host: &Host, conn: &mut redis::Connection) -> Result<Template> {
        let body = json!({"queue_name": "tick_q0", "trigger": "interval", "seconds": 60, "job_id": "template", "kwargs": {"x": 1}, "misfire_grace_time": 60});
        add_job(bench, host, &body)?;
        let raw: String = redis::cmd("HGET").arg(JOBS_KEY).arg(member("tick_q0", "template")).query(conn)?;
        let job: Value = serde_json::from_str(&raw)?;
        let next = &job["next_run"];
        let offset_us = next["wall_us"].as_i64().context("next_run.wall_us")? - next["utc_us"].as_i64().context("next_run.utc_us")?;
        let _: () = redis::pipe().hdel(JOBS_KEY, member("tick_q0", "template")).zrem(DUE_KEY, member("tick_q0", "template")).query(conn)?;
        Ok(Template { job, offset_us })
    }

    /// Stores jobs `job0000000`.. for `indices` (spread over the tick queues) with their next
    /// run at `next_run_utc_us`, in pipelines of 10,000.
    fn store(&self, conn: &mut redis::Connection, indices: std::ops::Range<usize>, next_run_utc_us: i64) -> Result<()> {
        let mut job = self.job.clone();
        job["next_run"] = json!({"wall_us": next_run_utc_us + self.offset_us, "fold": false, "utc_us": next_run_utc_us});
        for chunk_start in indices.clone().step_by(10_000) {
            let mut pipe = redis::pipe();
            for i in chunk_start..(chunk_start + 10_000).min(indices.end) {
                let queue = format!("tick_q{}", i % TICK_QUEUES);
                let id = format!("job{i:07}");
                job["job_id"] = Value::from(id.as_str());
                job["queue_name"] = Value::from(queue.as_str());
                let member = member(&queue, &id);
                pipe.hset(JOBS_KEY, &member, job.to_string()).ignore();
                pipe.cmd("ZADD").arg(DUE_KEY).arg(next_run_utc_us).arg(&member).ignore();
                pipe.sadd(format!("{{funboost_edge}}:queue:{queue}"), &id).ignore();
            }
            let () = pipe.query(conn).context("storing jobs")?;
        }
        Ok(())
    }
}

/// Messages in the tick queues, removed.
fn take_messages(conn: &mut redis::Connection) -> Result<Vec<String>> {
    let mut messages = Vec::new();
    for queue in tick_queues() {
        let (batch, ()): (Vec<String>, ()) = redis::pipe().lrange(&queue, 0, -1).del(&queue).query(conn)?;
        messages.extend(batch);
    }
    Ok(messages)
}

fn count_messages(conn: &mut redis::Connection) -> Result<usize> {
    let mut pipe = redis::pipe();
    for queue in tick_queues() {
        pipe.llen(&queue).del(&queue).ignore();
    }
    let lengths: Vec<usize> = pipe.query(conn)?;
    Ok(lengths.iter().sum())
}

/// Microseconds Redis spent executing commands so far (`INFO commandstats`, all commands).
fn redis_busy_us(conn: &mut redis::Connection) -> Result<f64> {
    let info: String = redis::cmd("INFO").arg("commandstats").query(conn)?;
    Ok(info
        .lines()
        .filter_map(|l| l.split("usec=").nth(1)?.split(',').next()?.parse::<f64>().ok())
        .sum())
}

fn unix_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn unix_us() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64)
}

// ---------------------------------------------------------------------------------------------
// Statistics.

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn sorted(mut values: Vec<f64>) -> Vec<f64> {
    values.sort_by(f64::total_cmp);
    values
}

fn median(values: &[f64]) -> f64 {
    percentile(&sorted(values.to_vec()), 0.5)
}

fn f64s(value: &Value) -> Vec<f64> {
    value.as_array().map(|a| a.iter().filter_map(Value::as_f64).collect()).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// 1. Footprint: .wasm sizes and the cost of a fresh instance (Spin makes one per request).

fn footprint(bench: &Bench) -> Result<()> {
    println!("| component | .wasm size | target |");
    println!("|---|---:|---:|");
    for name in ["funboost_api", "funboost_ticker"] {
        let size = std::fs::metadata(wasm_path(name))?.len();
        println!("| {name}.wasm | {:.2} MB ({size} bytes) | ≤ 1.5 MB |", size as f64 / 1e6);
    }

    let redis = RedisServer::start()?;
    let host = service_host(&redis, &["bench_q".to_string()])?;
    add_job(bench, &host, &json!({"queue_name": "bench_q", "trigger": "interval", "seconds": 60, "job_id": "one", "kwargs": {"x": 1}}))?;
    let rounds = if bench.quick { 200 } else { 5_000 };
    let time = |f: &dyn Fn() -> Result<()>| -> Result<Vec<f64>> {
        (0..rounds / 10).try_for_each(|_| f())?; // warm-up
        (0..rounds)
            .map(|_| {
                let start = Instant::now();
                f().map(|()| start.elapsed().as_secs_f64() * 1e6)
            })
            .collect::<Result<Vec<f64>>>()
            .map(sorted)
    };
    let instantiate = time(&|| bench.runtime.block_on(host.instantiate_api()))?;
    let get = time(&|| {
        let response = bench.runtime.block_on(host.request("GET", "/funboost/get_timing_job?job_id=one&queue_name=bench_q", &[], Vec::new()))?;
        ensure!(response.status == 200, "get_timing_job: {}", response.text());
        Ok(())
    })?;
    let unknown_route = time(&|| {
        let response = bench.runtime.block_on(host.request("GET", "/funboost/no_such_route", &[], Vec::new()))?;
        ensure!(response.status == 404, "no_such_route: {}", response.text());
        Ok(())
    })?;
    let url = redis.url(7);
    let redis_open = time(&|| {
        bench.runtime.block_on(funboost_test_host::spin_redis::open(&url)).map_err(|e| anyhow!("{e:?}"))?;
        Ok(())
    })?;
    println!("\n| in process, {rounds} times | p50 | p99 |");
    println!("|---|---:|---:|");
    for (what, times) in [
        ("instantiate the HTTP component", &instantiate),
        ("a request the component answers without Redis (unknown route, 404)", &unknown_route),
        ("open a Redis connection as Spin does (redis-rs, multiplexed, SELECT)", &redis_open),
        ("a whole `get_timing_job` (instance, Redis connection, one HGET)", &get),
    ] {
        println!("| {what} | {:.0} µs | {:.0} µs |", percentile(times, 0.5), percentile(times, 0.99));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 2. Tick cost against the number of stored jobs, with the same 1,000 due each time.

const DUE_PER_TICK: usize = 1_000;

/// funboost's own timing scheduler (`benches/peers/aps_tick.py`) with `args`, on a
/// redis-server of its own, so neither side sees the other's data.
fn funboost_scheduler(bench: &Bench, args: &[&str]) -> Result<Vec<Value>> {
    let redis = RedisServer::start()?;
    let mut all = vec!["--redis-port".to_string(), redis.port().to_string()];
    all.extend(args.iter().map(|a| a.to_string()));
    bench.peer("aps_tick.py", &all)
}

fn tick_against_job_count(bench: &Bench) -> Result<()> {
    let sizes: &[usize] = if bench.quick { &[1_000, 10_000] } else { &[1_000, 10_000, 100_000, 1_000_000] };
    let repeats = if bench.quick { 3 } else { 10 };
    let redis = RedisServer::start()?;
    let host = service_host(&redis, &tick_queues())?;
    let mut conn = connect(&redis);
    let template = Template::new(bench, &host, &mut conn)?;

    let sizes_arg = sizes.iter().map(usize::to_string).collect::<Vec<_>>().join(",");
    let peer = funboost_scheduler(bench, &["--sizes", &sizes_arg, "--due", &DUE_PER_TICK.to_string(), "--repeat", &repeats.to_string(), "--fires", "0"])?;

    println!("| stored jobs | due | tick p50 | tick min | tick max | Redis round trips per tick | funboost p50 | funboost round trips | ratio |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut first_p50 = None;
    let mut stored = 0;
    for &size in sizes {
        let far_future = unix_us() + 86_400_000_000;
        template.store(&mut conn, stored..size, far_future)?;
        stored = size;
        let mut walls = Vec::new();
        let mut trips = Vec::new();
        for _ in 0..repeats {
            template.store(&mut conn, 0..DUE_PER_TICK, unix_us() - 2_000_000)?;
            let before = host.redis_counts();
            let start = Instant::now();
            bench.runtime.block_on(host.cron(unix_secs()))?.map_err(|e| anyhow!("tick failed: {e}"))?;
            walls.push(start.elapsed().as_secs_f64() * 1e3);
            let used = host.redis_counts() - before;
            trips.push((used.connections + used.commands) as f64);
            let published = count_messages(&mut conn)?;
            ensure!(published == DUE_PER_TICK, "the tick published {published} messages, not {DUE_PER_TICK}");
        }
        let walls = sorted(walls);
        let p50 = percentile(&walls, 0.5);
        let base = *first_p50.get_or_insert(p50);
        let peer_row = peer.iter().find(|r| r["bench"] == "tick" && r["jobs"] == size);
        let peer_p50 = peer_row.map(|r| median(&f64s(&r["seconds"])) * 1e3).unwrap_or(f64::NAN);
        let peer_trips = peer_row.map(|r| median(&f64s(&r["redis_roundtrips"]))).unwrap_or(f64::NAN);
        println!(
            "| {size} | {DUE_PER_TICK} | {p50:.1} ms ({:.2}x of 1k) | {:.1} ms | {:.1} ms | {:.0} | {peer_p50:.0} ms | {peer_trips:.0} | {:.0}x |",
            p50 / base,
            walls[0],
            walls[walls.len() - 1],
            median(&trips),
            peer_p50 / p50
        );
    }
    println!("\nRound trips: Redis commands plus connections the ticker opened (one per tick, as in Spin), counted by the test host; per batch of 500 jobs: the claim script, an HMGET, the commit script.");
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 3. Fires per second: back-to-back ticks over many due jobs.

fn fires_per_second(bench: &Bench) -> Result<()> {
    let due = if bench.quick { 10_000 } else { 100_000 };
    let redis = RedisServer::start()?;
    let host = service_host(&redis, &tick_queues())?;
    let mut conn = connect(&redis);
    let template = Template::new(bench, &host, &mut conn)?;

    let peer_due = if bench.quick { 2_000 } else { 10_000 };
    let peer = funboost_scheduler(bench, &["--sizes", "", "--fires", &peer_due.to_string()])?;
    let peer_rate = peer.iter().find(|r| r["bench"] == "fires").and_then(|r| r["fires_per_s"].as_f64()).unwrap_or(f64::NAN);

    println!("| due jobs | tickers at once | ticks | seconds | of which in Redis | fires/s | Redis round trips | funboost fires/s ({peer_due} due) | ratio | target |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    // One ticker, then two at once (replicas): they take random windows of the due jobs.
    for tickers in [1, 1, 1, 2, 2, 2] {
        template.store(&mut conn, 0..due, unix_us() - 2_000_000)?;
        let before = host.redis_counts();
        let busy_before = redis_busy_us(&mut conn)?;
        let start = Instant::now();
        let ticks: usize = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..tickers)
                .map(|_| {
                    scope.spawn(|| -> Result<usize> {
                        let mut conn = connect(&redis);
                        let mut ticks = 0;
                        loop {
                            bench.runtime.block_on(host.cron(unix_secs()))?.map_err(|e| anyhow!("tick failed: {e}"))?;
                            ticks += 1;
                            let remaining: usize = redis::cmd("ZCOUNT").arg(DUE_KEY).arg("-inf").arg(unix_us()).query(&mut conn)?;
                            if remaining == 0 {
                                return Ok(ticks);
                            }
                        }
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join().map_err(|_| anyhow!("a ticker thread panicked"))?).sum::<Result<usize>>()
        })?;
        let seconds = start.elapsed().as_secs_f64();
        let used = host.redis_counts() - before;
        let in_redis = (redis_busy_us(&mut conn)? - busy_before) / 1e6;
        // Exactly one message per due job: none lost, none twice, however the tickers raced.
        let published = count_messages(&mut conn)?;
        ensure!(published == due, "{tickers} tickers: {published} messages for {due} due jobs");
        let rate = due as f64 / seconds;
        println!(
            "| {due} | {tickers} | {ticks} | {seconds:.2} | {in_redis:.2} s | {rate:.0} | {} | {peer_rate:.0} | {:.0}x | ≥ 50,000 |",
            used.connections + used.commands,
            rate / peer_rate
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 4. HTTP API: our component served by the test host against funboost's FastAPI router under
// uvicorn, on the same Redis, both loaded by the same wrk scripts.

struct WrkRun {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    requests: f64,
    failures: f64,
}

fn wrk(script: &str, addr: SocketAddr, seconds: u32) -> Result<WrkRun> {
    let script = format!("{}/benches/wrk/{script}", env!("CARGO_MANIFEST_DIR"));
    let output = Command::new("wrk")
        .args(["-t1", "-c32", &format!("-d{seconds}s"), "-s", &script, &format!("http://{addr}")])
        .output()
        .context("cannot run wrk (apt-get install wrk)")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    ensure!(output.status.success(), "wrk failed: {stdout}{}", String::from_utf8_lossy(&output.stderr));
    let line = stdout.lines().find_map(|l| l.strip_prefix("WRK_RESULT ")).with_context(|| format!("no WRK_RESULT in wrk's output: {stdout}"))?;
    let r: Value = serde_json::from_str(line)?;
    let get = |k: &str| r[k].as_f64().with_context(|| format!("WRK_RESULT has no {k}: {line}"));
    Ok(WrkRun { rps: get("rps")?, p50_ms: get("p50_ms")?, p99_ms: get("p99_ms")?, requests: get("requests")?, failures: get("failures")? + get("socket_errors").unwrap_or(0.0) })
}

/// One HTTP/1.0 request (so no chunked reply) on a fresh connection; returns status and body.
fn http(addr: SocketAddr, method: &str, path: &str, body: Option<&Value>) -> Result<(u16, Value)> {
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(stream, "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len())?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response.split_once("\r\n\r\n").context("no end of headers")?;
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).context("no status")?;
    Ok((status, serde_json::from_str(body).with_context(|| format!("{method} {path}: body is not JSON: {body}"))?))
}

/// funboost's router in its own uvicorn process (`benches/peers/funboost_router.py`).
struct FunboostRouter {
    child: Child,
    addr: SocketAddr,
}

impl FunboostRouter {
    fn start(bench: &Bench, redis: &RedisServer) -> Result<FunboostRouter> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut child = Command::new(&bench.python)
            .arg(format!("{}/benches/peers/funboost_router.py", env!("CARGO_MANIFEST_DIR")))
            .args(["--port", &port.to_string(), "--redis-port", &redis.port().to_string(), "--workers", "2", "--queues", "bench_q,bench_list_q"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("cannot start funboost_router.py")?;
        let mut stdout = child.stdout.take().context("no stdout")?;
        let mut seen = Vec::new();
        let mut byte = [0u8; 1];
        while !String::from_utf8_lossy(&seen).contains("listening on") {
            if stdout.read(&mut byte)? == 0 {
                let _ = child.kill();
                bail!("funboost_router.py exited before listening: {}", String::from_utf8_lossy(&seen));
            }
            seen.push(byte[0]);
        }
        Ok(FunboostRouter { child, addr: SocketAddr::from(([127, 0, 0, 1], port)) })
    }
}

impl Drop for FunboostRouter {
    fn drop(&mut self) {
        // SIGTERM lets uvicorn stop its worker processes.
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
    }
}

/// What the wrk scripts expect: 100 jobs `pr-<k>` in bench_q and 10 in bench_list_q.
fn http_fixtures(addr: SocketAddr) -> Result<()> {
    let jobs = (0..100).map(|k| ("bench_q", format!("pr-{k}"))).chain((0..10).map(|k| ("bench_list_q", format!("list-{k}"))));
    for (queue, id) in jobs {
        let body = json!({"queue_name": queue, "trigger": "interval", "seconds": 60, "job_id": id, "kwargs": {"x": 1}, "replace_existing": true});
        let (status, reply) = http(addr, "POST", "/funboost/add_timing_job", Some(&body))?;
        ensure!(status == 200 && reply["succ"] == true, "fixture {queue}/{id}: HTTP {status} {reply}");
    }
    Ok(())
}

fn http_api(bench: &Bench) -> Result<()> {
    let seconds = if bench.quick { 3 } else { 15 };
    let redis = RedisServer::start()?;
    let host = service_host(&redis, &["bench_q".to_string(), "bench_list_q".to_string()])?;
    let (ours, server) = bench.runtime.block_on(host.serve("127.0.0.1:0".parse()?))?;
    let funboost = bench.peers.then(|| FunboostRouter::start(bench, &redis)).transpose()?;
    http_fixtures(ours)?;
    if let Some(funboost) = &funboost {
        http_fixtures(funboost.addr)?;
    }

    println!("| route (wrk -t1 -c32, {seconds} s) | funboost-edge req/s | p50 | p99 | Redis round trips | funboost 55 req/s | p50 | p99 | ratio |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (route, script) in [("add_timing_job", "add_timing_job.lua"), ("get_timing_jobs (10 jobs)", "get_timing_jobs.lua"), ("pause/resume_timing_job", "pause_resume.lua")] {
        let before = host.redis_counts();
        let edge = wrk(script, ours, seconds)?;
        let used = host.redis_counts() - before;
        let peer = funboost.as_ref().map(|f| wrk(script, f.addr, seconds)).transpose()?;
        for (who, run) in [("funboost-edge", Some(&edge)), ("funboost", peer.as_ref())] {
            if let Some(run) = run {
                ensure!(run.failures == 0.0 && run.requests > 0.0, "{route} on {who}: {} of {} requests failed", run.failures, run.requests);
            }
        }
        let peer = peer.unwrap_or(WrkRun { rps: f64::NAN, p50_ms: f64::NAN, p99_ms: f64::NAN, requests: 0.0, failures: 0.0 });
        println!(
            "| {route} | {:.0} | {:.1} ms | {:.1} ms | {:.1} | {:.0} | {:.1} ms | {:.1} ms | {:.1}x |",
            edge.rps,
            edge.p50_ms,
            edge.p99_ms,
            (used.connections + used.commands) as f64 / edge.requests,
            peer.rps,
            peer.p50_ms,
            peer.p99_ms,
            edge.rps / peer.rps
        );
    }
    // The floor: what the platform costs for the cheapest request that reaches Redis.
    let before = host.redis_counts();
    let floor = wrk("health.lua", ours, seconds)?;
    let used = host.redis_counts() - before;
    ensure!(floor.failures == 0.0, "health: {} of {} requests failed", floor.failures, floor.requests);
    println!(
        "| floor: `health` (instance + Redis connection + TIME) | {:.0} | {:.1} ms | {:.1} ms | {:.1} | – | – | – | – |",
        floor.rps,
        floor.p50_ms,
        floor.p99_ms,
        (used.connections + used.commands) as f64 / floor.requests
    );
    server.abort();
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 5. Fire lateness: (end of the tick that published a fire) - (its scheduled time).

fn lateness(bench: &Bench) -> Result<()> {
    let redis = RedisServer::start()?;
    let host = service_host(&redis, &tick_queues())?;
    let mut conn = connect(&redis);
    // Half cron jobs on whole seconds (funboost's usual case), half interval jobs whose grids
    // start at sub-second instants spread over the second.
    let jobs = if bench.quick { 200 } else { 2_000 };
    for i in 0..jobs {
        let queue = format!("tick_q{}", i % TICK_QUEUES);
        let body = if i % 2 == 0 {
            json!({"queue_name": queue, "trigger": "cron", "second": format!("{}/5", i % 5), "job_id": format!("cron-{i}"), "kwargs": {"x": i}})
        } else {
            let start = format!("2026-01-01 00:00:00.{:06}", i * 1_000_000 / jobs);
            json!({"queue_name": queue, "trigger": "interval", "seconds": 3 + i % 5, "start_date": start, "job_id": format!("interval-{i}"), "kwargs": {"x": i}})
        };
        add_job(bench, &host, &body)?;
    }
    println!("| tick | run | schedules | fires | missed | p50 | p99 | max | p99 in the queue | max in the queue | target |");
    println!("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|");

    // Spin's cron trigger with `* * * * * *`: a tick at the start of every second. The first
    // tick catches up with the fires due while the jobs were added (no ticker ran then, so
    // APScheduler's grace applies and some are missed); the run starts after it.
    bench.runtime.block_on(host.cron(unix_secs()))?.map_err(|e| anyhow!("tick failed: {e}"))?;
    take_messages(&mut conn)?;
    let whole_seconds = if bench.quick { 10 } else { 60 };
    let missed_before = missed_fires(bench, &host)?;
    let mut late = Vec::new();
    for _ in 0..whole_seconds {
        let now = unix_us();
        std::thread::sleep(Duration::from_micros((1_000_000 - now % 1_000_000) as u64));
        bench.runtime.block_on(host.cron(unix_secs()))?.map_err(|e| anyhow!("tick failed: {e}"))?;
        late.extend(fire_lateness(&mut conn, unix_us())?);
    }
    let missed = missed_fires(bench, &host)? - missed_before;
    print_lateness("cron trigger, every second", &format!("{whole_seconds} s"), late, missed, "p99 ≤ 1 s");

    // A host without the cron trigger calls `GET /funboost/tick` once a minute. Without a
    // look-ahead, fires later than their grace time (1 s) are missed, as in APScheduler. With
    // one, fires are published ahead with funboost's `eta` and the consumer runs them at their
    // time: their lateness is max(0, publish - scheduled).
    let minutes = if bench.quick { 1 } else { 3 };
    for (name, path, minutes) in [("HTTP tick once a minute", "/funboost/tick", 1), ("HTTP tick once a minute, lookahead=60", "/funboost/tick?lookahead=60", minutes)] {
        bench.runtime.block_on(host.request("GET", path, &[], Vec::new()))?; // catch up first
        take_messages(&mut conn)?;
        let missed_before = missed_fires(bench, &host)?;
        let mut late = Vec::new();
        for _ in 0..minutes {
            std::thread::sleep(Duration::from_secs(60));
            let response = bench.runtime.block_on(host.request("GET", path, &[], Vec::new()))?;
            ensure!(response.status == 200, "{path}: {}", response.text());
            late.extend(fire_lateness(&mut conn, unix_us())?);
        }
        let missed = missed_fires(bench, &host)? - missed_before;
        print_lateness(name, &format!("{minutes} min"), late, missed, "");
    }
    Ok(())
}

/// One fire's lateness in seconds, by its message's `publish_time` (the tick's clock when it
/// read the job) and by when the tick that published it ended (when the message was surely in
/// the queue). A fire published ahead counts 0.
struct Lateness {
    whole_second: bool,
    by_publish_time: f64,
    in_queue_by: f64,
}

/// The lateness of every message now in the tick queues (taken out), published by
/// `published_us`.
fn fire_lateness(conn: &mut redis::Connection, published_us: i64) -> Result<Vec<Lateness>> {
    take_messages(conn)?
        .iter()
        .map(|text| {
            let message: Value = serde_json::from_str(text)?;
            let fire_id = message["extra"]["fire_id"].as_str().context("message without fire_id")?;
            let mut parts = fire_id.rsplit(':');
            let scheduled_us: i64 = parts.next().and_then(|s| s.parse().ok()).context("fire_id without time")?;
            let whole_second = parts.next().is_some_and(|job| job.starts_with("cron-"));
            let publish_time = message["extra"]["publish_time"].as_f64().context("message without publish_time")?;
            Ok(Lateness {
                whole_second,
                by_publish_time: (publish_time - scheduled_us as f64 / 1e6).max(0.0),
                in_queue_by: ((published_us - scheduled_us) as f64 / 1e6).max(0.0),
            })
        })
        .collect()
}

/// The jobs' `missed_count`s, summed (through the API).
fn missed_fires(bench: &Bench, host: &Host) -> Result<u64> {
    let response = bench.runtime.block_on(host.request("GET", "/funboost/get_timing_jobs", &[], Vec::new()))?;
    let reply: Value = serde_json::from_slice(&response.body).context("get_timing_jobs answered non-JSON")?;
    let jobs = reply["data"]["jobs"].as_array().context("get_timing_jobs without jobs")?;
    Ok(jobs.iter().filter_map(|job| job["missed_count"].as_u64()).sum())
}

fn print_lateness(name: &str, run: &str, late: Vec<Lateness>, missed: u64, target: &str) {
    for (schedules, whole_second) in [("all", None), ("whole seconds (cron)", Some(true)), ("sub-second (interval)", Some(false))] {
        let chosen: Vec<&Lateness> = late.iter().filter(|l| whole_second.is_none_or(|want| want == l.whole_second)).collect();
        let by_publish_time = sorted(chosen.iter().map(|l| l.by_publish_time).collect());
        let in_queue_by = sorted(chosen.iter().map(|l| l.in_queue_by).collect());
        println!(
            "| {name} | {run} | {schedules} | {} | {} | {:.3} s | {:.3} s | {:.3} s | {:.3} s | {:.3} s | {target} |",
            chosen.len(),
            if whole_second.is_none() { missed.to_string() } else { String::new() },
            percentile(&by_publish_time, 0.5),
            percentile(&by_publish_time, 0.99),
            by_publish_time.last().copied().unwrap_or(f64::NAN),
            percentile(&in_queue_by, 0.99),
            in_queue_by.last().copied().unwrap_or(f64::NAN),
        );
    }
}
