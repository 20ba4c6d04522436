//! The service benchmarks: the real .wasm components in the test host (wasmtime, as Spin runs
//! them) against a real redis-server, each run beside its funboost 55 / APScheduler 3.11.3 peer
//! in the same invocation, so the ratios hold on a noisy machine.
//!
//! `./scripts/bench` runs every benchmark (see BENCHMARKS.md). One section, e.g. the tick:
//! `cargo bench --bench service --profile bench-host -- tick`. Sections: footprint, tick, fires,
//! http, lateness. `--quick` shortens every run (a smoke test of the harness, not figures);
//! `--no-peers` runs our side only (for profiling). The tick, fires, http and lateness sections
//! also draw their figures, ours beside the peer's, into `benches/plots/<section>.svg`; a
//! `--quick` or `--no-peers` run draws them into `$FUNBOOST_EDGE_CACHE/plots/` instead, so it
//! never overwrites the committed plots.
//! Needs the components built and, for the peers, the venv and wrk (`./scripts/bench` does both).

#[path = "../tests/common/mod.rs"]
mod common;
// A directory module: cargo would take a benches/plot.rs for a bench target of its own.
mod plot;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, ensure, Context, Result};
use funboost_test_host::test_support::{wasm_path, RedisServer};
use funboost_test_host::{Host, HostConfig};
use serde_json::{json, Value};

use common::store::{due_until, keys, stored_count};
use common::{connect, register_queue};
use plot::{Axis, Bars, Line, Panel, OURS, PEER};

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
        python: std::env::var_os("FUNBOOST_EDGE_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/funboost-edge/venv/bin/python")),
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

    /// Writes a section's figure as `<name>.svg`: beside BENCHMARKS.md from a full run, into
    /// the cache dir from a smoke or one-sided run (never over the committed plots).
    fn plot(&self, name: &str, svg: &str) -> Result<()> {
        let dir = if self.quick || !self.peers {
            std::env::var_os("FUNBOOST_EDGE_CACHE")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/funboost-edge"))
                .join("plots")
        } else {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/plots")
        };
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let path = dir.join(format!("{name}.svg"));
        std::fs::write(&path, svg).with_context(|| format!("cannot write {}", path.display()))?;
        println!("\nPlot: {}", path.display());
        Ok(())
    }
}

/// The API and ticker components on `redis`, with the bench's queues registered as a funboost
/// consumer (`def add(x, y=5)`) registers them.
fn service_host(redis: &RedisServer, queues: &[String]) -> Result<Host> {
    let mut variables = common::variables(redis);
    variables.insert("max_jobs_per_queue".into(), "10000000".into());
    let host = Host::new(HostConfig {
        api_wasm: wasm_path("funboost_api"),
        ticker_wasm: Some(wasm_path("funboost_ticker")),
        http_tick_wasm: Some(wasm_path("funboost_http_tick")),
        variables,
        ..HostConfig::default()
    })?;
    let mut conn = connect(redis);
    for queue in queues {
        register_queue(&mut conn, queue, &["x", "y"], &["x"]);
    }
    Ok(host)
}

/// POSTs `add_timing_job` in process and checks funboost's `succ`.
fn add_job(bench: &Bench, host: &Host, body: &Value) -> Result<()> {
    let response =
        bench.runtime.block_on(host.request("POST", "/funboost/add_timing_job", &[("content-type", "application/json")], body.to_string().into_bytes()))?;
    let reply: Value = serde_json::from_slice(&response.body).context("add_timing_job answered non-JSON")?;
    ensure!(reply["succ"] == true, "add_timing_job {body}: {reply}");
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Stored jobs, written straight into Redis as copies of one job the API stored.

/// A job the API stored (its spec and state texts), to copy `n` times under other ids.
struct Template {
    spec: String,
    state: Value,
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
        let keys = keys();
        let (spec, state): (String, String) = redis::pipe().hget(keys.spec("tick_q0"), "template").hget(keys.state("tick_q0"), "template").query(conn)?;
        let state: Value = serde_json::from_str(&state)?;
        let score: f64 = redis::cmd("ZSCORE").arg(keys.next("tick_q0")).arg("template").query(conn)?;
        let offset_us = state["n"][0].as_i64().context("the state's next run")? - score as i64;
        let _: () = redis::pipe()
            .hdel(keys.spec("tick_q0"), "template")
            .hdel(keys.state("tick_q0"), "template")
            .zrem(keys.next("tick_q0"), "template")
            .zrem(keys.ids("tick_q0"), "template")
            .zrem(keys.heads(), "tick_q0")
            .query(conn)?;
        Ok(Template { spec, state, offset_us })
    }

    /// Stores jobs `job0000000`.. for `indices` (spread over the tick queues) with their next
    /// run at `next_run_utc_us`, in pipelines of 10,000, as the API stores them (layout 2).
    fn store(&self, conn: &mut redis::Connection, indices: std::ops::Range<usize>, next_run_utc_us: i64) -> Result<()> {
        let keys = keys();
        let mut state = self.state.clone();
        state["n"] = json!([next_run_utc_us + self.offset_us, 0]);
        for chunk_start in indices.clone().step_by(10_000) {
            let mut pipe = redis::pipe();
            for i in chunk_start..(chunk_start + 10_000).min(indices.end) {
                let queue = format!("tick_q{}", i % TICK_QUEUES);
                let id = format!("job{i:07}");
                state["v"] = Value::from(format!("{i:x}"));
                pipe.hset(keys.spec(&queue), &id, &self.spec).ignore();
                pipe.hset(keys.state(&queue), &id, state.to_string()).ignore();
                pipe.cmd("ZADD").arg(keys.next(&queue)).arg(next_run_utc_us).arg(&id).ignore();
                pipe.cmd("ZADD").arg(keys.ids(&queue)).arg(0).arg(&id).ignore();
            }
            for queue in tick_queues() {
                pipe.sadd(keys.job_queues(), &queue).ignore();
                pipe.cmd("ZADD").arg(keys.heads()).arg("LT").arg(next_run_utc_us).arg(&queue).ignore();
            }
            let () = pipe.query(conn).context("storing jobs")?;
        }
        Ok(())
    }
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
    Ok(info.lines().filter_map(|l| l.split("usec=").nth(1)?.split(',').next()?.parse::<f64>().ok()).sum())
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
    for name in ["funboost_api", "funboost_http_tick", "funboost_ticker", "funboost_web"] {
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
    // Per size: (stored jobs, our p50 ms, our round trips, funboost's p50 ms, its round trips).
    let mut rows = Vec::new();
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
        rows.push((size as f64, p50, median(&trips), peer_p50, peer_trips));
    }
    println!("\nRound trips: Redis commands plus connections the ticker opened (one per tick, as in Spin), counted by the test host; per batch of 500 jobs: the claim script, an HMGET, the commit script.");

    let line = |label: &str, color, y: fn(&(f64, f64, f64, f64, f64)) -> f64| Line::new(label, color, rows.iter().map(|r| (r.0, y(r))).collect()).markers();
    let panels = [
        Panel::lines(
            "Tick time, p50",
            Axis::log("stored jobs"),
            Axis::log("ms per tick"),
            vec![line("funboost-edge ticker", OURS, |r| r.1), line("funboost 55 scheduler pass", PEER, |r| r.3)],
        ),
        Panel::lines(
            "Redis round trips per tick",
            Axis::log("stored jobs"),
            Axis::log("round trips"),
            vec![line("funboost-edge ticker", OURS, |r| r.2), line("funboost 55 scheduler pass", PEER, |r| r.4)],
        ),
    ];
    let note = format!("{DUE_PER_TICK} due per tick, {repeats} ticks per size; lower is better");
    bench.plot("tick", &plot::figure("Tick cost against the number of stored jobs", &note, 2, &panels))
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
    let mut rates: Vec<(usize, f64)> = Vec::new();
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
                            if due_until(&mut conn, unix_us()) == 0 {
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
        rates.push((tickers, rate));
    }

    let median_of = |tickers: usize| median(&rates.iter().filter(|r| r.0 == tickers).map(|r| r.1).collect::<Vec<_>>());
    let runs = rates.iter().filter(|r| r.0 == 1).count();
    let panel = Panel::bars(
        "Fires per second (higher is better)",
        &["one ticker / scheduler", "two tickers at once (replicas)"],
        Axis::linear("fires/s"),
        vec![
            Bars::new(&format!("funboost-edge, {due} due, median of {runs} runs"), OURS, vec![median_of(1), median_of(2)]),
            Bars::new(&format!("funboost 55 scheduler pass, {peer_due} due"), PEER, vec![peer_rate, f64::NAN]),
        ],
    )
    .reference(50_000.0, "target 50,000/s");
    let note = "back-to-back ticks until none is due; every message checked (none lost, none twice)";
    bench.plot("fires", &plot::figure("Fires per second", note, 1, &[panel]))
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
    Ok(WrkRun {
        rps: get("rps")?,
        p50_ms: get("p50_ms")?,
        p99_ms: get("p99_ms")?,
        requests: get("requests")?,
        failures: get("failures")? + get("socket_errors").unwrap_or(0.0),
    })
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
    // Per route, ours then funboost's, for the plot.
    let mut runs: Vec<(WrkRun, WrkRun)> = Vec::new();
    for (route, script) in
        [("add_timing_job", "add_timing_job.lua"), ("get_timing_jobs (10 jobs)", "get_timing_jobs.lua"), ("pause/resume_timing_job", "pause_resume.lua")]
    {
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
        runs.push((edge, peer));
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

    let none = WrkRun { rps: f64::NAN, p50_ms: f64::NAN, p99_ms: f64::NAN, requests: 0.0, failures: 0.0 };
    runs.push((floor, none));
    let categories = ["add_timing_job", "get_timing_jobs (10 jobs)", "pause/resume", "health (our floor)"];
    let side = |label: &str, color, light: bool, value: fn(&WrkRun) -> f64, ours: bool| {
        let bars = Bars::new(label, color, runs.iter().map(|(edge, peer)| value(if ours { edge } else { peer })).collect());
        if light {
            bars.light()
        } else {
            bars
        }
    };
    let panels = [
        Panel::bars(
            "Throughput (higher is better)",
            &categories,
            Axis::linear("requests/s"),
            vec![side("funboost-edge (test host)", OURS, false, |r| r.rps, true), side("funboost 55 FastAPI router (uvicorn)", PEER, false, |r| r.rps, false)],
        ),
        Panel::bars(
            "Latency (lower is better)",
            &categories,
            Axis::linear("ms"),
            vec![
                side("funboost-edge p50", OURS, false, |r| r.p50_ms, true),
                side("funboost-edge p99", OURS, true, |r| r.p99_ms, true),
                side("funboost 55 p50", PEER, false, |r| r.p50_ms, false),
                side("funboost 55 p99", PEER, true, |r| r.p99_ms, false),
            ],
        ),
    ];
    let note = format!("the same wrk scripts on both, wrk -t1 -c32, {seconds} s per route; the same redis-server");
    bench.plot("http", &plot::figure("HTTP API", &note, 2, &panels))
}

// ---------------------------------------------------------------------------------------------
// 5. Lateness, side by side: our ticker (Spin's cron trigger every second, each tick waiting
// inside its invocation to publish every fire of its window on the instant) against funboost
// 55's own scheduler (`ApsJobAdder(job_store_kind='redis')`: one APScheduler per queue polling
// the Redis job store at most every 0.5 s, pushing through funboost's 0.1 s bulk publisher),
// on the same jobs.
//
// Each scenario runs once per side, each run on a fresh redis-server with the same jobs (the
// same random sub-second offsets, seed 12): interval jobs every second whose grids start at
// `2026-01-01 00:00:00.<offset>` Asia/Shanghai, or one cron job `second='*'` per queue; kwargs
// `{"x": i}` name the job of every fire. Even jobs publish to a queue read by a BLPOP thread
// in this process (lateness "into the queue": when the message could be popped), odd jobs to a
// queue consumed by a real funboost 55 consumer (`benches/peers/aps_lateness.py consume`, the
// same process for both sides), whose function takes `time.time()` as its first statement
// (lateness "at the consumer"). A run measures the fires scheduled within its window, which
// starts 3 s after every job is added and the scheduler running, and gives late fires 3 s
// more to arrive.
//
// Scheduled instant of a fire: funboost's messages do not carry it, so both sides derive it
// from the job's grid the same way: the latest grid point (offset + whole seconds) at or before
// the message's `publish_time` (+1 ms for its rounding to 0.1 ms); that holds while a fire is
// published less than a second after its instant (APScheduler's grace time is 1 s, ours too).
// Our messages also carry the instant (`extra.fire_id`): the table says how often the
// derivation agreed with it. A fire of the window that never arrived counts as missed.
//
// Cost, with no consumer and no reader: per second of steady firing, the scheduler's Redis
// round trips (ours: commands plus connections counted by the test host; funboost: calls of
// redis-py's send_packed_command, a pipeline counting once), the commands the server processed
// (`INFO` total_commands_processed), the scheduler's CPU (ours: this process, in which only the
// ticker works then; funboost: its process, every thread) and redis-server's CPU, with the
// firing jobs alone and with 99,000 more stored that are not due for a day (ours: copies
// written straight into Redis like the `tick` section's; funboost's: one added through
// add_push_job and pickled copies of its state).
//
// Hosts that tick once a minute: `GET /funboost/tick?lookahead=60` (then 90) at the start of
// each minute publishes the coming fires ahead with funboost's `eta`; the real consumer holds
// each in its delay scheduler and runs it: run start minus the instant from `fire_id`, over the
// second minute (the steady state).
//
// Plot: the CDFs of both sides' lateness, into the queue and at the consumer, per scenario, on
// a log-ms axis, in benches/plots/lateness.svg (see `Bench::plot`).

const LATE_QUEUE: &str = "lateness_q";
/// Not the peer's colour: both look-ahead curves are ours.
const LOOKAHEAD_60: &str = "#7570b3";
const LATE_CONSUMER_QUEUE: &str = "lateness_consumer_q";
const LATE_RESULTS_KEY: &str = "lateness:results";
/// The interval jobs' grid start, in the jobs' zone (Asia/Shanghai: a whole-hour offset, so
/// a grid point is a whole UTC second plus the job's offset).
const LATE_START_DATE: &str = "2026-01-01 00:00:00";
const LATE_WARMUP_US: i64 = 3_000_000;
const LATE_TAIL: Duration = Duration::from_secs(3);

#[derive(Clone)]
enum Jobs {
    /// Interval jobs every second; job i's grid starts at its offset (µs past the second).
    Interval(Vec<i64>),
    /// One cron job `second='*'` per queue.
    Cron,
}

impl Jobs {
    fn interval(count: usize) -> Jobs {
        let mut state: u64 = 12;
        Jobs::Interval(
            (0..count)
                .map(|_| {
                    // splitmix64
                    state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
                    let mut z = state;
                    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                    ((z ^ (z >> 31)) % 1_000_000) as i64
                })
                .collect(),
        )
    }

    fn count(&self) -> usize {
        match self {
            Jobs::Interval(offsets) => offsets.len(),
            Jobs::Cron => 2,
        }
    }

    /// Job x's offset from the whole second, µs.
    fn offset_us(&self, x: i64) -> i64 {
        match self {
            Jobs::Interval(offsets) => usize::try_from(x).ok().and_then(|i| offsets.get(i)).copied().unwrap_or(0),
            Jobs::Cron => 0,
        }
    }

    /// Even jobs go to the read queue, odd ones to the consumer's (the peer does the same).
    fn queue(x: usize) -> &'static str {
        [LATE_QUEUE, LATE_CONSUMER_QUEUE][x % 2]
    }

    /// The fires of the jobs of `queue` scheduled in [from_us, until_us).
    fn expected(&self, queue: &str, from_us: i64, until_us: i64) -> usize {
        (0..self.count())
            .filter(|&x| Jobs::queue(x) == queue)
            .map(|x| {
                let offset = self.offset_us(x as i64);
                let first = (from_us - offset + 999_999).div_euclid(1_000_000);
                let end = (until_us - offset + 999_999).div_euclid(1_000_000);
                (end - first).max(0) as usize
            })
            .sum()
    }

    /// The `add_timing_job` body of job x, for queue `queue`.
    fn api_body(&self, x: usize, queue: &str) -> Value {
        match self {
            Jobs::Interval(offsets) => json!({
                "queue_name": queue, "trigger": "interval", "seconds": 1, "job_id": format!("job-{x:07}"),
                "start_date": format!("{LATE_START_DATE}.{:06}", offsets[x]), "kwargs": {"x": x},
            }),
            Jobs::Cron => json!({"queue_name": queue, "trigger": "cron", "second": "*", "job_id": format!("cron-{x}"), "kwargs": {"x": x}}),
        }
    }

    /// The peer's arguments for the same jobs.
    fn peer_args(&self) -> Vec<String> {
        match self {
            Jobs::Interval(offsets) => vec!["--offsets-us".into(), offsets.iter().map(i64::to_string).collect::<Vec<_>>().join(",")],
            Jobs::Cron => vec!["--cron".into()],
        }
    }
}

/// One fire as seen at the end of the pipe: job, instant (derived from the grid), when it was
/// seen (µs), and the instant our message carries (`fire_id`) if any.
struct Seen {
    x: i64,
    scheduled_us: i64,
    at_us: i64,
    fire_id_us: Option<i64>,
}

impl Seen {
    fn new(jobs: &Jobs, x: i64, publish_time: f64, at_us: i64, fire_id: Option<&str>) -> Seen {
        let offset = jobs.offset_us(x);
        let published_us = (publish_time * 1e6).round() as i64 + 1_000;
        let scheduled_us = (published_us - offset).div_euclid(1_000_000) * 1_000_000 + offset;
        let fire_id_us = fire_id.and_then(|f| f.rsplit(':').next()?.parse().ok());
        Seen { x, scheduled_us, at_us, fire_id_us }
    }

    fn from_message(jobs: &Jobs, text: &str, at_us: i64) -> Result<Seen> {
        let message: Value = serde_json::from_str(text)?;
        let x = message["x"].as_i64().context("message without x")?;
        let publish_time = message["extra"]["publish_time"].as_f64().context("message without publish_time")?;
        Ok(Seen::new(jobs, x, publish_time, at_us, message["extra"]["fire_id"].as_str()))
    }

    fn from_record(jobs: &Jobs, text: &str) -> Result<Seen> {
        let record: Value = serde_json::from_str(text)?;
        let x = record["x"].as_i64().context("record without x")?;
        let publish_time = record["publish_time"].as_f64().context("record without publish_time")?;
        let ran_at = record["ran_at"].as_f64().context("record without ran_at")?;
        Ok(Seen::new(jobs, x, publish_time, (ran_at * 1e6).round() as i64, record["fire_id"].as_str()))
    }
}

/// Lateness (ms) of the fires scheduled in the window, and how many arrived (distinct fires),
/// were expected, came twice, and agreed with `fire_id` (of those that carry one).
#[derive(Default)]
struct Arrivals {
    lateness_ms: Vec<f64>,
    fires: usize,
    expected: usize,
    duplicates: usize,
    fire_id_agrees: (usize, usize),
}

impl Arrivals {
    fn new(jobs: &Jobs, queue: &str, seen: &[Seen], window: (i64, i64)) -> Arrivals {
        let mut distinct = std::collections::HashSet::new();
        let mut out = Arrivals { expected: jobs.expected(queue, window.0, window.1), ..Arrivals::default() };
        for s in seen.iter().filter(|s| (window.0..window.1).contains(&s.scheduled_us)) {
            if !distinct.insert((s.x, s.scheduled_us)) {
                out.duplicates += 1;
                continue;
            }
            out.lateness_ms.push((s.at_us - s.scheduled_us) as f64 / 1e3);
            if let Some(fire_id_us) = s.fire_id_us {
                out.fire_id_agrees.1 += 1;
                out.fire_id_agrees.0 += usize::from(fire_id_us == s.scheduled_us);
            }
        }
        out.fires = distinct.len();
        out.lateness_ms = sorted(std::mem::take(&mut out.lateness_ms));
        out
    }

    fn cells(&self) -> String {
        let p = |q| percentile(&self.lateness_ms, q);
        let missed = self.expected.saturating_sub(self.fires);
        let twice = if self.duplicates > 0 { format!(", {} twice", self.duplicates) } else { String::new() };
        format!(
            "{} ({missed} missed{twice}) | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms",
            self.fires,
            p(0.5),
            p(0.9),
            p(0.99),
            self.lateness_ms.last().copied().unwrap_or(f64::NAN)
        )
    }
}

/// A BLPOP loop on `queue`: every message with the time it was popped (µs).
struct Reader {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<Result<Vec<(i64, String)>>>,
}

impl Reader {
    fn start(redis: &RedisServer, queue: &'static str) -> Reader {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut conn = connect(redis);
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut got = Vec::new();
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                let popped: Option<(String, String)> = redis::cmd("BLPOP").arg(queue).arg(0.2).query(&mut conn)?;
                let Some((_, first)) = popped else { continue };
                let at = unix_us();
                got.push((at, first));
                // Whatever else is there was there by then.
                let rest: Option<Vec<String>> = redis::cmd("LPOP").arg(queue).arg(10_000).query(&mut conn)?;
                got.extend(rest.unwrap_or_default().into_iter().map(|m| (at, m)));
            }
            Ok(got)
        });
        Reader { stop, thread }
    }

    fn finish(self) -> Result<Vec<(i64, String)>> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().map_err(|_| anyhow!("the reader panicked"))?
    }
}

/// A process of `benches/peers/aps_lateness.py` (stdout: JSON lines; stderr: a log file in the
/// temp dir). Killed if dropped before it finished.
struct LatenessPeer {
    child: Child,
    stdout: std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
    log: PathBuf,
}

impl LatenessPeer {
    fn spawn(bench: &Bench, role: &str, redis: &RedisServer, args: &[String]) -> Result<LatenessPeer> {
        use std::io::BufRead;
        let log = std::env::temp_dir().join(format!("funboost-edge-lateness-{role}.log"));
        let mut child = Command::new(&bench.python)
            .arg(format!("{}/benches/peers/aps_lateness.py", env!("CARGO_MANIFEST_DIR")))
            .args([role, "--redis-port", &redis.port().to_string()])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .with_context(|| format!("cannot run {} aps_lateness.py", bench.python.display()))?;
        let stdout = std::io::BufReader::new(child.stdout.take().context("no stdout")?).lines();
        Ok(LatenessPeer { child, stdout, log })
    }

    /// The next JSON object it prints.
    fn next(&mut self) -> Result<Value> {
        for line in self.stdout.by_ref() {
            if let Ok(value @ Value::Object(_)) = serde_json::from_str(&line?) {
                return Ok(value);
            }
        }
        bail!("aps_lateness.py ended early ({}); see {}", self.child.wait()?, self.log.display())
    }

    /// Closes its stdin (a consumer exits then) and waits for it.
    fn finish(&mut self) -> Result<()> {
        drop(self.child.stdin.take());
        let status = self.child.wait()?;
        ensure!(status.success(), "aps_lateness.py: {status}; see {}", self.log.display());
        Ok(())
    }
}

impl Drop for LatenessPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Side {
    Ours,
    Funboost,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Ours => "funboost-edge (1 s cron trigger, on-time ticks)",
            Side::Funboost => "funboost 55 ApsJobAdder(job_store_kind='redis')",
        }
    }
}

/// Our API and ticker on `redis` with the lateness queues (and the `tick` section's, for
/// `Template`) registered; `jobs` added through the API.
fn lateness_host(bench: &Bench, redis: &RedisServer, jobs: &Jobs) -> Result<Host> {
    let mut queues = vec![LATE_QUEUE.to_string(), LATE_CONSUMER_QUEUE.to_string()];
    queues.extend(tick_queues());
    let host = service_host(redis, &queues)?;
    for x in 0..jobs.count() {
        add_job(bench, &host, &jobs.api_body(x, Jobs::queue(x)))?;
    }
    Ok(host)
}

/// One side of one scenario: (into the queue, at the consumer).
fn lateness_run(bench: &Bench, side: Side, jobs: &Jobs, seconds: u64) -> Result<(Arrivals, Arrivals)> {
    let redis = RedisServer::start()?;
    let mut consumer =
        LatenessPeer::spawn(bench, "consume", &redis, &["--queues".into(), LATE_CONSUMER_QUEUE.into(), "--results-key".into(), LATE_RESULTS_KEY.into()])?;
    consumer.next()?;
    let reader = Reader::start(&redis, LATE_QUEUE);
    let run_us = seconds as i64 * 1_000_000;
    let window = match side {
        Side::Ours => {
            let host = lateness_host(bench, &redis, jobs)?;
            let ready = unix_us();
            let ticker = bench.runtime.spawn(host.clone().tick_every(Duration::from_secs(1)));
            std::thread::sleep(Duration::from_micros((LATE_WARMUP_US + run_us) as u64) + LATE_TAIL);
            ticker.abort();
            std::thread::sleep(Duration::from_secs(2)); // ticks already started end
            (ready + LATE_WARMUP_US, ready + LATE_WARMUP_US + run_us)
        }
        Side::Funboost => {
            let mut args = jobs.peer_args();
            let run_for = (LATE_WARMUP_US + run_us) as f64 / 1e6 + LATE_TAIL.as_secs_f64();
            args.extend(["--queues".into(), format!("{LATE_QUEUE},{LATE_CONSUMER_QUEUE}"), "--seconds".into(), run_for.to_string()]);
            let mut scheduler = LatenessPeer::spawn(bench, "schedule", &redis, &args)?;
            let ready = scheduler.next()?["ready"].as_f64().context("no ready time")?;
            scheduler.next()?; // its cost line, at the end of its run
            scheduler.finish()?;
            let ready = (ready * 1e6) as i64;
            (ready + LATE_WARMUP_US, ready + LATE_WARMUP_US + run_us)
        }
    };
    let popped = reader.finish()?;
    consumer.finish()?;
    let mut conn = connect(&redis);
    let records: Vec<String> = redis::cmd("LRANGE").arg(LATE_RESULTS_KEY).arg(0).arg(-1).query(&mut conn)?;
    let popped: Vec<Seen> = popped.iter().map(|(at, text)| Seen::from_message(jobs, text, *at)).collect::<Result<_>>()?;
    let ran: Vec<Seen> = records.iter().map(|text| Seen::from_record(jobs, text)).collect::<Result<_>>()?;
    Ok((Arrivals::new(jobs, LATE_QUEUE, &popped, window), Arrivals::new(jobs, LATE_CONSUMER_QUEUE, &ran, window)))
}

/// CPU seconds this process has used (all threads).
fn process_cpu_seconds() -> Result<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    let fields: Vec<&str> = stat.rsplit_once(')').context("/proc/self/stat")?.1.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>()? + fields[12].parse::<f64>()?;
    Ok(ticks / 100.0) // USER_HZ is 100 on Linux
}

fn redis_info_sum(conn: &mut redis::Connection, section: &str, fields: &[&str]) -> Result<f64> {
    let info: String = redis::cmd("INFO").arg(section).query(conn)?;
    Ok(info.lines().filter_map(|l| l.split_once(':')).filter(|(k, _)| fields.contains(k)).filter_map(|(_, v)| v.trim().parse::<f64>().ok()).sum())
}

struct Cost {
    round_trips: f64,
    commands: f64,
    cpu: f64,
    redis_cpu: f64,
}

/// Our ticker's cost per second with `firing` jobs firing every second and `stored` in all.
fn lateness_cost_ours(bench: &Bench, jobs: &Jobs, stored: usize, seconds: u64) -> Result<Cost> {
    let redis = RedisServer::start()?;
    let host = lateness_host(bench, &redis, jobs)?;
    let mut conn = connect(&redis);
    if stored > jobs.count() {
        let template = Template::new(bench, &host, &mut conn)?;
        template.store(&mut conn, 0..stored - jobs.count(), unix_us() + 86_400_000_000)?;
    }
    let total = stored_count(&mut conn) as usize;
    ensure!(total == stored, "{total} jobs stored, not {stored}");
    let ticker = bench.runtime.spawn(host.clone().tick_every(Duration::from_secs(1)));
    std::thread::sleep(Duration::from_micros(LATE_WARMUP_US as u64));
    let sample = |conn: &mut redis::Connection| -> Result<(Instant, f64, u64, f64, f64)> {
        let used = host.redis_counts();
        Ok((
            Instant::now(),
            process_cpu_seconds()?,
            used.connections + used.commands,
            redis_info_sum(conn, "stats", &["total_commands_processed"])?,
            redis_info_sum(conn, "cpu", &["used_cpu_sys", "used_cpu_user"])?,
        ))
    };
    let before = sample(&mut conn)?;
    std::thread::sleep(Duration::from_secs(seconds));
    let after = sample(&mut conn)?;
    ticker.abort();
    std::thread::sleep(Duration::from_secs(2));
    let s = (after.0 - before.0).as_secs_f64();
    Ok(Cost {
        round_trips: (after.2 - before.2) as f64 / s,
        commands: (after.3 - before.3 - 2.0) / s, // minus our own INFO calls in between
        cpu: (after.1 - before.1) / s,
        redis_cpu: (after.4 - before.4) / s,
    })
}

fn lateness_cost_funboost(bench: &Bench, jobs: &Jobs, stored: usize, seconds: u64) -> Result<Cost> {
    let redis = RedisServer::start()?;
    let mut args = jobs.peer_args();
    let run_for = LATE_WARMUP_US as f64 / 1e6 + seconds as f64;
    args.extend(["--queues".into(), format!("{LATE_QUEUE},{LATE_CONSUMER_QUEUE}"), "--seconds".into(), run_for.to_string()]);
    args.extend(["--cost-after".into(), (LATE_WARMUP_US as f64 / 1e6).to_string(), "--far-jobs".into(), (stored - jobs.count()).to_string()]);
    let mut scheduler = LatenessPeer::spawn(bench, "schedule", &redis, &args)?;
    scheduler.next()?;
    let cost = scheduler.next()?;
    scheduler.finish()?;
    let cost = &cost["cost"];
    let get = |k: &str| cost[k].as_f64().with_context(|| format!("no {k} in {cost}"));
    ensure!(cost["jobs_stored"] == stored, "funboost stored {} jobs, not {stored}", cost["jobs_stored"]);
    Ok(Cost { round_trips: get("round_trips_per_s")?, commands: get("redis_commands_per_s")?, cpu: get("cpu_s_per_s")?, redis_cpu: get("redis_cpu_s_per_s")? })
}

fn lateness(bench: &Bench) -> Result<()> {
    let seconds = if bench.quick { 10 } else { 60 };
    let (few, many) = if bench.quick { (20, 200) } else { (20, 1_000) };
    let scenarios = [
        (format!("{few} interval jobs, every second"), Jobs::interval(few)),
        (format!("{many} interval jobs, every second"), Jobs::interval(many)),
        ("a cron job every second (`second='*'`) per queue".to_string(), Jobs::Cron),
    ];
    println!(
        "Lateness = when the fire was seen minus its scheduled instant; {seconds} s of fires per run, half the jobs into a queue read by BLPOP, half run by a real funboost 55 consumer.\n"
    );
    println!("| jobs | scheduler | into the queue: fires | p50 | p90 | p99 | max | at the consumer: fires | p50 | p90 | p99 | max |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut panels = Vec::new();
    let mut agreement = (0, 0);
    let mut targets = Vec::new();
    for (name, jobs) in &scenarios {
        let mut curves = Vec::new();
        let mut p99s = Vec::new();
        for side in [Side::Ours, Side::Funboost] {
            if side == Side::Funboost && !bench.peers {
                continue;
            }
            let (queue, consumer) = lateness_run(bench, side, jobs, seconds)?;
            println!("| {name} | {} | {} | {} |", side.name(), queue.cells(), consumer.cells());
            for a in [&queue, &consumer] {
                agreement.0 += a.fire_id_agrees.0;
                agreement.1 += a.fire_id_agrees.1;
            }
            p99s.push((percentile(&queue.lateness_ms, 0.99), percentile(&consumer.lateness_ms, 0.99)));
            let (who, color) = if side == Side::Ours { ("funboost-edge", OURS) } else { ("funboost 55", PEER) };
            curves.push(Line::new(&format!("{who}, into the queue"), color, cdf(&queue.lateness_ms)));
            curves.push(Line::new(&format!("{who}, at the consumer"), color, cdf(&consumer.lateness_ms)).dashed());
        }
        if let (Jobs::Interval(offsets), [(queue, consumer), rest @ ..]) = (jobs, p99s.as_slice()) {
            if offsets.len() == many {
                targets.push(format!("- {name}: our p99 into the queue {queue:.1} ms (target ≤ 10 ms: {})", if *queue <= 10.0 { "met" } else { "missed" }));
                if let Some((_, theirs)) = rest.first() {
                    targets.push(format!(
                        "- {name}: p99 at the consumer {consumer:.1} ms against funboost's {theirs:.1} ms (target: no worse: {})",
                        if consumer <= theirs { "met" } else { "missed" }
                    ));
                }
            }
        }
        panels.push(lateness_panel(name, curves));
    }
    println!("\nThe instant derived from the grid agreed with our messages' `fire_id` for {} of {} of our fires.", agreement.0, agreement.1);
    for t in &targets {
        println!("{t}");
    }

    // Cost.
    let cost_seconds = if bench.quick { 5 } else { 20 };
    let firing = Jobs::interval(many);
    let stores = [many, if bench.quick { 10 * many } else { 100 * many }];
    println!("\n| stored jobs | firing each second | scheduler | Redis round trips/s | Redis commands/s (server) | scheduler CPU s/s | redis-server CPU s/s |");
    println!("|---:|---:|---|---:|---:|---:|---:|");
    for stored in stores {
        for side in [Side::Ours, Side::Funboost] {
            let cost = match side {
                Side::Ours => lateness_cost_ours(bench, &firing, stored, cost_seconds)?,
                Side::Funboost if bench.peers => lateness_cost_funboost(bench, &firing, stored, cost_seconds)?,
                Side::Funboost => continue,
            };
            println!("| {stored} | {many} | {} | {:.0} | {:.0} | {:.3} | {:.3} |", side.name(), cost.round_trips, cost.commands, cost.cpu, cost.redis_cpu);
        }
    }

    // A host that ticks once a minute over HTTP, with look-ahead: a real consumer runs the fires.
    // 60 s publishes each fire at most a minute ahead, so the first seconds of a minute arrive
    // with that minute's whole batch; 90 s publishes every fire at least 30 s ahead.
    let minutes = if bench.quick { 1 } else { 2 };
    println!("\n| host tick | jobs | fires run (missed) | run start − scheduled: p50 | p90 | p99 | max | min |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    let mut curves = Vec::new();
    for (lookahead, color) in [(60, LOOKAHEAD_60), (90, OURS)] {
        let late = lookahead_at_consumer(bench, lookahead, minutes, if bench.quick { 20 } else { 60 })?;
        println!(
            "| `GET /funboost/tick?lookahead={lookahead}` once a minute, {minutes} min; funboost's consumer holds each fire until its `eta` | {few} | {} ({} missed) | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms |",
            late.fires,
            late.expected.saturating_sub(late.fires),
            percentile(&late.lateness_ms, 0.5),
            percentile(&late.lateness_ms, 0.9),
            percentile(&late.lateness_ms, 0.99),
            late.lateness_ms.last().copied().unwrap_or(f64::NAN),
            late.lateness_ms.first().copied().unwrap_or(f64::NAN),
        );
        curves.push(Line::new(&format!("lookahead={lookahead} + eta, at the consumer"), color, cdf(&late.lateness_ms)).dashed());
    }
    panels.push(lateness_panel(&format!("{few} jobs, HTTP tick once a minute, funboost-edge"), curves));
    let note = "CDF: x = ms after the scheduled instant (under 0.1 ms drawn at 0.1), y = fraction of fires; solid: into the queue, dashed: at the consumer";
    bench.plot("lateness", &plot::figure("Fire lateness", note, 2, &panels))
}

/// `few` interval jobs every second, all to the consumer's queue, published by a once-a-minute
/// `GET /funboost/tick?lookahead=<lookahead>`; the lateness of the consumer's runs (by `fire_id`).
fn lookahead_at_consumer(bench: &Bench, lookahead: u32, minutes: u64, window_seconds: u64) -> Result<Arrivals> {
    let jobs = Jobs::interval(20);
    let redis = RedisServer::start()?;
    let mut consumer =
        LatenessPeer::spawn(bench, "consume", &redis, &["--queues".into(), LATE_CONSUMER_QUEUE.into(), "--results-key".into(), LATE_RESULTS_KEY.into()])?;
    consumer.next()?;
    let host = service_host(&redis, &[LATE_CONSUMER_QUEUE.to_string()])?;
    for x in 0..jobs.count() {
        add_job(bench, &host, &jobs.api_body(x, LATE_CONSUMER_QUEUE))?;
    }
    let start = unix_us();
    for minute in 0..minutes {
        if minute > 0 {
            std::thread::sleep(Duration::from_micros((start + minute as i64 * 60_000_000 - unix_us()).max(0) as u64));
        }
        let response = bench.runtime.block_on(host.request("GET", &format!("/funboost/tick?lookahead={lookahead}"), &[], Vec::new()))?;
        ensure!(response.status == 200, "tick: {}", response.text());
    }
    // The last minute's fires: the steady state, where the previous tick published them. (The
    // first tick publishes its first seconds just ahead; a single minute skips its catch-up second.)
    let last_minute = start + (minutes as i64 - 1) * 60_000_000;
    let window = (last_minute.max(start + 1_000_000), last_minute + window_seconds as i64 * 1_000_000);
    std::thread::sleep(Duration::from_micros((window.1 - unix_us()).max(0) as u64) + LATE_TAIL);
    consumer.finish()?;
    let mut conn = connect(&redis);
    let records: Vec<String> = redis::cmd("LRANGE").arg(LATE_RESULTS_KEY).arg(0).arg(-1).query(&mut conn)?;
    // Published ahead, so the instant is `fire_id`'s, not the grid point before publish_time.
    let ran: Vec<Seen> = records
        .iter()
        .map(|text| {
            let mut seen = Seen::from_record(&jobs, text)?;
            seen.scheduled_us = seen.fire_id_us.context("a fire without fire_id")?;
            Ok(seen)
        })
        .collect::<Result<_>>()?;
    // Every job goes to the consumer's queue here: count them all.
    let mut arrivals = Arrivals::new(&jobs, LATE_CONSUMER_QUEUE, &ran, window);
    arrivals.expected = [LATE_QUEUE, LATE_CONSUMER_QUEUE].iter().map(|q| jobs.expected(q, window.0, window.1)).sum();
    Ok(arrivals)
}

/// A lateness CDF panel: log ms from 0.1 ms to 3 s.
fn lateness_panel(title: &str, curves: Vec<Line>) -> Panel {
    Panel::lines(
        title,
        Axis::log("ms late").range(0.1, 3000.0),
        Axis::linear("fraction of fires").range(0.0, 1.0).ticks(&[0.0, 0.25, 0.5, 0.75, 0.9, 1.0]),
        curves,
    )
}

/// The empirical CDF of sorted `values` as a step line, at most ~600 points.
fn cdf(values: &[f64]) -> Vec<(f64, f64)> {
    let Some(&first) = values.first() else {
        return Vec::new();
    };
    let n = values.len();
    let step = (n / 600).max(1);
    let mut points = vec![(first, 0.0)];
    points.extend((0..n).step_by(step).chain([n - 1]).map(|j| (values[j], (j + 1) as f64 / n as f64)));
    points
}
