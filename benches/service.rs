//! The service benchmarks: the real .wasm components in the test host (wasmtime, as Spin runs
//! them) against a real redis-server, each run beside its funboost 55 / APScheduler 3.11.3 peer
//! in the same invocation, so the ratios hold on a noisy machine.
//!
//! `./scripts/bench` runs every benchmark (see BENCHMARKS.md). One section, e.g. the tick:
//! `cargo bench --bench service --profile bench-host -- tick`. Sections: footprint, tick, fires,
//! http, lateness, store. `--quick` shortens every run (a smoke test of the harness, not figures);
//! `--no-peers` runs our side only (for profiling). The tick, fires, http, lateness and store
//! sections also draw their figures, ours beside the peer's, into `benches/plots/<section>.svg`; a
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

const SECTIONS: [&str; 6] = ["footprint", "tick", "fires", "http", "lateness", "store"];

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
            "lateness" => lateness(&bench),
            _ => store(&bench),
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
    /// run at `next_run_utc_us`, in pipelines of 10,000, as the API stores them (layout 2): per
    /// chunk and queue one HSET of the specs, one of the states, one ZADD of the `next` index and
    /// one of the `ids` index (many fields each: what the API writes one job at a time).
    fn store(&self, conn: &mut redis::Connection, indices: std::ops::Range<usize>, next_run_utc_us: i64) -> Result<()> {
        let keys = keys();
        let mut state = self.state.clone();
        state["n"] = json!([next_run_utc_us + self.offset_us, 0]);
        for chunk_start in indices.clone().step_by(10_000) {
            let mut commands: Vec<[redis::Cmd; 4]> = tick_queues()
                .iter()
                .map(|queue| {
                    let mut c = [redis::cmd("HSET"), redis::cmd("HSET"), redis::cmd("ZADD"), redis::cmd("ZADD")];
                    c[0].arg(keys.spec(queue));
                    c[1].arg(keys.state(queue));
                    c[2].arg(keys.next(queue));
                    c[3].arg(keys.ids(queue));
                    c
                })
                .collect();
            let mut used = [false; TICK_QUEUES];
            for i in chunk_start..(chunk_start + 10_000).min(indices.end) {
                let q = i % TICK_QUEUES;
                let id = format!("job{i:07}");
                state["v"] = Value::from(format!("{i:x}"));
                let c = &mut commands[q];
                c[0].arg(&id).arg(&self.spec);
                c[1].arg(&id).arg(state.to_string());
                c[2].arg(next_run_utc_us).arg(&id);
                c[3].arg(0).arg(&id);
                used[q] = true;
            }
            let mut pipe = redis::pipe();
            for (q, c) in commands.into_iter().enumerate().filter(|(q, _)| used[*q]) {
                for command in c {
                    pipe.add_command(command).ignore();
                }
                pipe.sadd(keys.job_queues(), format!("tick_q{q}")).ignore();
                pipe.cmd("ZADD").arg(keys.heads()).arg("LT").arg(next_run_utc_us).arg(format!("tick_q{q}")).ignore();
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

/// `repeats` ticks, each with the same [`DUE_PER_TICK`] jobs made due two seconds before: the
/// sorted wall times (ms) and the round trips of each.
fn tick_times(bench: &Bench, host: &Host, conn: &mut redis::Connection, template: &Template, repeats: usize) -> Result<(Vec<f64>, Vec<f64>)> {
    let mut walls = Vec::new();
    let mut trips = Vec::new();
    for _ in 0..repeats {
        template.store(conn, 0..DUE_PER_TICK, unix_us() - 2_000_000)?;
        let before = host.redis_counts();
        let start = Instant::now();
        bench.runtime.block_on(host.cron(unix_secs()))?.map_err(|e| anyhow!("tick failed: {e}"))?;
        walls.push(start.elapsed().as_secs_f64() * 1e3);
        let used = host.redis_counts() - before;
        trips.push((used.connections + used.commands) as f64);
        let published = count_messages(conn)?;
        ensure!(published == DUE_PER_TICK, "the tick published {published} messages, not {DUE_PER_TICK}");
    }
    Ok((sorted(walls), trips))
}

/// Reads every job stored by [`Template::store`] in `from..to` once (HMGET of spec and state,
/// ZMSCORE of both indexes): each lookup also moves Redis's incremental rehashing of a hash that
/// grew one step on, so that afterwards the store is as one that grew over time, not one just
/// bulk-loaded.
fn settle_store(conn: &mut redis::Connection, from: usize, to: usize) -> Result<()> {
    let keys = keys();
    for q in 0..TICK_QUEUES {
        let queue = format!("tick_q{q}");
        let first = from + (q + TICK_QUEUES - from % TICK_QUEUES) % TICK_QUEUES;
        let ids: Vec<String> = (first..to).step_by(TICK_QUEUES).map(|i| format!("job{i:07}")).collect();
        for chunk in ids.chunks(10_000) {
            let () = redis::pipe()
                .cmd("HMGET")
                .arg(keys.spec(&queue))
                .arg(chunk)
                .ignore()
                .cmd("HMGET")
                .arg(keys.state(&queue))
                .arg(chunk)
                .ignore()
                .cmd("ZMSCORE")
                .arg(keys.next(&queue))
                .arg(chunk)
                .ignore()
                .cmd("ZMSCORE")
                .arg(keys.ids(&queue))
                .arg(chunk)
                .ignore()
                .query(conn)
                .context("settling the store")?;
        }
    }
    Ok(())
}

/// Stored jobs beyond which funboost's side is not run: populating 10,000,000 pickles takes its
/// script many minutes and ~10 GB of Redis, and its pass is flat in N well before (it reads the
/// due jobs by score, as ours does).
const PEER_MAX_JOBS: usize = 1_000_000;

fn tick_against_job_count(bench: &Bench) -> Result<()> {
    let sizes: &[usize] = if bench.quick { &[1_000, 10_000] } else { &[1_000, 10_000, 100_000, 1_000_000, 10_000_000] };
    let repeats = if bench.quick { 3 } else { 10 };
    let took = Instant::now();
    let redis = RedisServer::start()?;
    let host = service_host(&redis, &tick_queues())?;
    let mut conn = connect(&redis);
    let template = Template::new(bench, &host, &mut conn)?;

    let sizes_arg = sizes.iter().filter(|&&s| s <= PEER_MAX_JOBS).map(usize::to_string).collect::<Vec<_>>().join(",");
    let peer = funboost_scheduler(bench, &["--sizes", &sizes_arg, "--due", &DUE_PER_TICK.to_string(), "--repeat", &repeats.to_string(), "--fires", "0"])?;
    let peer_seconds = took.elapsed().as_secs_f64();

    println!("| stored jobs | due | tick p50 | tick min | tick max | Redis round trips per tick | funboost p50 | funboost round trips | ratio |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut first_p50 = None;
    let mut stored = 0;
    // Per size: (stored jobs, our p50 ms, our round trips, funboost's p50 ms, its round trips).
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    for &size in sizes {
        let far_future = unix_us() + 86_400_000_000;
        let populate = Instant::now();
        template.store(&mut conn, stored..size, far_future)?;
        let store_seconds = populate.elapsed().as_secs_f64();
        if size == sizes[sizes.len() - 1] && size >= 1_000_000 {
            // Right after a bulk load, Redis is still rehashing the hashes that grew (one bucket
            // per lookup): a tick then pays for it. Measured once here, then settled.
            let (walls, _) = tick_times(bench, &host, &mut conn, &template, repeats)?;
            notes.push(format!("{size} right after the bulk load: p50 {:.1} ms, max {:.1} ms", percentile(&walls, 0.5), walls[walls.len() - 1]));
        }
        let settle = Instant::now();
        settle_store(&mut conn, 0, size)?;
        notes.push(format!("{size}: {store_seconds:.0} s to store, {:.0} s to settle", settle.elapsed().as_secs_f64()));
        stored = size;
        let (walls, trips) = tick_times(bench, &host, &mut conn, &template, repeats)?;
        let p50 = percentile(&walls, 0.5);
        let base = *first_p50.get_or_insert(p50);
        let peer_row = peer.iter().find(|r| r["bench"] == "tick" && r["jobs"] == size);
        let peer_p50 = peer_row.map(|r| median(&f64s(&r["seconds"])) * 1e3).unwrap_or(f64::NAN);
        let peer_trips = peer_row.map(|r| median(&f64s(&r["redis_roundtrips"]))).unwrap_or(f64::NAN);
        let or_dash = |v: f64, text: String| if v.is_finite() { text } else { "–".to_string() };
        println!(
            "| {size} | {DUE_PER_TICK} | {p50:.1} ms ({:.2}x of 1k) | {:.1} ms | {:.1} ms | {:.0} | {} | {} | {} |",
            p50 / base,
            walls[0],
            walls[walls.len() - 1],
            median(&trips),
            or_dash(peer_p50, format!("{peer_p50:.0} ms")),
            or_dash(peer_trips, format!("{peer_trips:.0}")),
            or_dash(peer_p50, format!("{:.0}x", peer_p50 / p50)),
        );
        rows.push((size as f64, p50, median(&trips), peer_p50, peer_trips));
    }
    let used_memory = redis_info_sum(&mut conn, "memory", &["used_memory"])?;
    println!(
        "\nt({})/t(1k) = {:.2}; Redis held {:.2} GB with {stored} jobs. Time: funboost's side {peer_seconds:.0} s, ours {:.0} s ({}).",
        sizes[sizes.len() - 1],
        rows[rows.len() - 1].1 / rows[0].1,
        used_memory / 1e9,
        took.elapsed().as_secs_f64() - peer_seconds,
        notes.join(", ")
    );
    println!("Round trips: Redis commands plus connections the ticker opened (one per tick, as in Spin), counted by the test host: the connection, then per batch of 500 due jobs the claim script and the commit script.");

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
// 3. Fires per second and Redis's time per fire, with the same number of jobs due on every side:
// today's ticker (layout 2; one, then two at once), the last layout-1 build's ticker
// (`scripts/build-layout1`) and funboost's scheduler pass.
//
// Each round stores `due` copies of one job the side's own API stored (an interval job every
// minute, made due two seconds ago; layout 2 as `Template::store` writes it, layout 1 as
// `TemplateV1::store` writes it, funboost as aps_tick.py re-arms its pickles), then ticks back to
// back until none is due and checks that exactly `due` messages were published. Redis's time
// per fire comes from `INFO commandstats` before and after the round: the µs Redis spent
// executing the commands the ticks sent, i.e. EVAL/EVALSHA (whose time includes the commands
// their scripts ran: those are listed under their own names too and are not added again) and
// the plain commands (layout 1's HMGET of the batch's texts, one a batch; its commit script
// runs an HMGET of the same jobs too, so HMGET's time is split by calls). Beside it, the
// redis-server process's CPU time (INFO used_cpu_sys + used_cpu_user), which also holds the
// reading and writing of every connection's bytes. funboost's figures come from
// benches/peers/aps_tick.py the same way (EXEC's and EVAL's time include what they ran).

/// Jobs due per round, on every side.
const FIRES_DUE: usize = 10_000;

/// Which build's ticker and store.
#[derive(Clone, Copy, PartialEq)]
enum Layout {
    /// Today's build.
    Two,
    /// The last build that stored jobs in layout 1 (`scripts/build-layout1`).
    One,
}

impl Layout {
    fn name(self) -> &'static str {
        match self {
            Layout::Two => "funboost-edge (layout 2)",
            Layout::One => "funboost-edge, last layout-1 build (348705f)",
        }
    }
}

/// The directory holding the last layout-1 build's components (built on first use).
fn layout1_dir() -> Result<PathBuf> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/build-layout1");
    let output = Command::new(script).stderr(Stdio::inherit()).output().context("cannot run scripts/build-layout1")?;
    ensure!(output.status.success(), "scripts/build-layout1 failed: {}", output.status);
    Ok(PathBuf::from(String::from_utf8(output.stdout)?.trim()))
}

/// One job the layout-1 API stored (its JSON text), to copy as that build stores jobs.
struct TemplateV1 {
    text: Value,
    /// wall - UTC at the job's next run, µs.
    offset_us: i64,
}

/// Layout 1's keys (`funboost_edge::store::layout::V1Keys`).
const V1_JOBS: &str = "{funboost_edge}:jobs";
const V1_DUE: &str = "{funboost_edge}:due";
const V1_QUEUES: &str = "{funboost_edge}:queues";

fn v1_member(queue: &str, id: &str) -> String {
    format!("{queue}\u{1f}{id}")
}

impl TemplateV1 {
    /// The same job as [`Template::new`]'s, added through the layout-1 API.
    fn new(bench: &Bench, host: &Host, conn: &mut redis::Connection) -> Result<TemplateV1> {
        let body = json!({"queue_name": "tick_q0", "trigger": "interval", "seconds": 60, "job_id": "template", "kwargs": {"x": 1}, "misfire_grace_time": 60});
        add_job(bench, host, &body)?;
        let member = v1_member("tick_q0", "template");
        let text: String = redis::cmd("HGET").arg(V1_JOBS).arg(&member).query(conn).context("the layout-1 template job")?;
        let text: Value = serde_json::from_str(&text)?;
        let next = &text["next_run"];
        let offset_us = next["wall_us"].as_i64().context("next_run.wall_us")? - next["utc_us"].as_i64().context("next_run.utc_us")?;
        let _: () = redis::pipe().hdel(V1_JOBS, &member).zrem(V1_DUE, &member).srem("{funboost_edge}:queue:tick_q0", "template").query(conn)?;
        Ok(TemplateV1 { text, offset_us })
    }

    /// Stores jobs `job0000000`.. for `indices` (spread over the tick queues) due at
    /// `next_run_utc_us`, with the keys the layout-1 API writes.
    fn store(&self, conn: &mut redis::Connection, indices: std::ops::Range<usize>, next_run_utc_us: i64) -> Result<()> {
        let mut job = self.text.clone();
        job["next_run"] = json!({"wall_us": next_run_utc_us + self.offset_us, "fold": false, "utc_us": next_run_utc_us});
        for chunk_start in indices.clone().step_by(10_000) {
            let mut pipe = redis::pipe();
            for i in chunk_start..(chunk_start + 10_000).min(indices.end) {
                let queue = format!("tick_q{}", i % TICK_QUEUES);
                let id = format!("job{i:07}");
                job["job_id"] = Value::from(id.as_str());
                job["queue_name"] = Value::from(queue.as_str());
                let member = v1_member(&queue, &id);
                pipe.hset(V1_JOBS, &member, job.to_string()).ignore();
                pipe.cmd("ZADD").arg(V1_DUE).arg(next_run_utc_us).arg(&member).ignore();
                pipe.sadd(format!("{{funboost_edge}}:queue:{queue}"), &id).ignore();
            }
            for queue in tick_queues() {
                pipe.sadd(V1_QUEUES, &queue).ignore();
            }
            let () = pipe.query(conn).context("storing layout-1 jobs")?;
        }
        Ok(())
    }
}

/// A redis-server with one side's API and ticker and a template job to copy.
struct FireRig {
    layout: Layout,
    redis: RedisServer,
    host: Host,
    template: Option<Template>,
    template_v1: Option<TemplateV1>,
}

impl FireRig {
    fn new(bench: &Bench, layout: Layout) -> Result<FireRig> {
        let redis = RedisServer::start()?;
        let mut conn = connect(&redis);
        match layout {
            Layout::Two => {
                let host = service_host(&redis, &tick_queues())?;
                let template = Some(Template::new(bench, &host, &mut conn)?);
                Ok(FireRig { layout, redis, host, template, template_v1: None })
            }
            Layout::One => {
                let dir = layout1_dir()?;
                let mut variables = common::variables(&redis);
                variables.insert("max_jobs_per_queue".into(), "10000000".into());
                let host = Host::new(HostConfig {
                    api_wasm: dir.join("funboost_api.wasm"),
                    ticker_wasm: Some(dir.join("funboost_ticker.wasm")),
                    variables,
                    ..HostConfig::default()
                })?;
                for queue in tick_queues() {
                    register_queue(&mut conn, &queue, &["x", "y"], &["x"]);
                }
                let template_v1 = Some(TemplateV1::new(bench, &host, &mut conn)?);
                Ok(FireRig { layout, redis, host, template: None, template_v1 })
            }
        }
    }

    /// Jobs 0..due, due two seconds ago.
    fn arm(&self, conn: &mut redis::Connection, due: usize) -> Result<()> {
        let at = unix_us() - 2_000_000;
        match (&self.template, &self.template_v1) {
            (Some(t), _) => t.store(conn, 0..due, at),
            (_, Some(t)) => t.store(conn, 0..due, at),
            _ => bail!("no template"),
        }
    }

    fn due_now(&self, conn: &mut redis::Connection) -> Result<i64> {
        Ok(match self.layout {
            Layout::Two => due_until(conn, unix_us()),
            Layout::One => redis::cmd("ZCOUNT").arg(V1_DUE).arg("-inf").arg(unix_us()).query(conn)?,
        })
    }
}

/// `INFO commandstats`: per command, (calls, µs).
fn command_stats(conn: &mut redis::Connection) -> Result<std::collections::HashMap<String, (u64, u64)>> {
    let info: String = redis::cmd("INFO").arg("commandstats").query(conn)?;
    let mut stats = std::collections::HashMap::new();
    for line in info.lines() {
        let Some((name, rest)) = line.strip_prefix("cmdstat_").and_then(|l| l.split_once(':')) else { continue };
        let field = |key: &str| rest.split(',').find_map(|kv| kv.strip_prefix(key)?.strip_prefix('=')?.parse::<u64>().ok()).unwrap_or(0);
        stats.insert(name.to_string(), (field("calls"), field("usec")));
    }
    Ok(stats)
}

/// The µs Redis spent executing what our ticks sent between two `command_stats` readings, given
/// the commands the host counted: EVAL and EVALSHA, and the rest as HMGET (see the section's notes).
fn ticks_redis_us(before: &std::collections::HashMap<String, (u64, u64)>, after: &std::collections::HashMap<String, (u64, u64)>, sent: u64) -> f64 {
    let delta = |name: &str| {
        let (a, b) = (after.get(name).copied().unwrap_or_default(), before.get(name).copied().unwrap_or_default());
        (a.0.saturating_sub(b.0), a.1.saturating_sub(b.1))
    };
    let ((eval_calls, eval_us), (sha_calls, sha_us), (hmget_calls, hmget_us)) = (delta("eval"), delta("evalsha"), delta("hmget"));
    let plain = sent.saturating_sub(eval_calls + sha_calls).min(hmget_calls);
    let plain_us = if hmget_calls > 0 { hmget_us as f64 * plain as f64 / hmget_calls as f64 } else { 0.0 };
    (eval_us + sha_us) as f64 + plain_us
}

struct FireRound {
    seconds: f64,
    ticks: usize,
    round_trips: u64,
    redis_us: f64,
    redis_cpu_s: f64,
    /// Per command: (calls, µs) during the round, the scripts' inner commands included.
    by_command: Vec<(String, u64, u64)>,
}

/// Arms `due` jobs, then `tickers` threads tick back to back until none is due; checks that
/// exactly `due` messages were published.
fn fire_round(bench: &Bench, rig: &FireRig, due: usize, tickers: usize) -> Result<FireRound> {
    let mut conn = connect(&rig.redis);
    count_messages(&mut conn)?;
    rig.arm(&mut conn, due)?;
    let before = rig.host.redis_counts();
    let stats_before = command_stats(&mut conn)?;
    let cpu_before = redis_info_sum(&mut conn, "cpu", &["used_cpu_sys", "used_cpu_user"])?;
    let start = Instant::now();
    let ticks: usize = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..tickers)
            .map(|_| {
                scope.spawn(|| -> Result<usize> {
                    let mut conn = connect(&rig.redis);
                    let mut ticks = 0;
                    loop {
                        bench.runtime.block_on(rig.host.cron(unix_secs()))?.map_err(|e| anyhow!("tick failed: {e}"))?;
                        ticks += 1;
                        if rig.due_now(&mut conn)? == 0 {
                            return Ok(ticks);
                        }
                    }
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().map_err(|_| anyhow!("a ticker thread panicked"))?).sum::<Result<usize>>()
    })?;
    let seconds = start.elapsed().as_secs_f64();
    let used = rig.host.redis_counts() - before;
    let redis_cpu_s = redis_info_sum(&mut conn, "cpu", &["used_cpu_sys", "used_cpu_user"])? - cpu_before;
    let stats_after = command_stats(&mut conn)?;
    let redis_us = ticks_redis_us(&stats_before, &stats_after, used.commands);
    let mut by_command: Vec<(String, u64, u64)> = stats_after
        .iter()
        .map(|(name, (calls, us))| {
            let (c0, u0) = stats_before.get(name).copied().unwrap_or_default();
            (name.clone(), calls.saturating_sub(c0), us.saturating_sub(u0))
        })
        .filter(|(_, calls, _)| *calls > 0)
        .collect();
    by_command.sort_by_key(|c| std::cmp::Reverse(c.2));
    // Exactly one message per due job: none lost, none twice, however the tickers raced.
    let published = count_messages(&mut conn)?;
    ensure!(published == due, "{}, {tickers} tickers: {published} messages for {due} due jobs", rig.layout.name());
    Ok(FireRound { seconds, ticks, round_trips: used.connections + used.commands, redis_us, redis_cpu_s, by_command })
}

/// Each script's share of a round's time, from one more round with every command in the
/// SLOWLOG (threshold 0): per script called at the top level (by its `name/layout` tag, or for
/// layout 1's EVAL by its key count), µs per fire and calls.
fn script_split(bench: &Bench, rig: &FireRig, due: usize) -> Result<Vec<(String, f64, usize)>> {
    let mut conn = connect(&rig.redis);
    let () = redis::pipe()
        .cmd("CONFIG")
        .arg("SET")
        .arg("slowlog-log-slower-than")
        .arg(0)
        .ignore()
        .cmd("CONFIG")
        .arg("SET")
        .arg("slowlog-max-len")
        .arg(1_000_000)
        .ignore()
        .cmd("SLOWLOG")
        .arg("RESET")
        .ignore()
        .query(&mut conn)?;
    let round = fire_round(bench, rig, due, 1);
    let entries: Vec<redis::Value> = redis::cmd("SLOWLOG").arg("GET").arg(-1).query(&mut conn)?;
    let () =
        redis::pipe().cmd("CONFIG").arg("SET").arg("slowlog-log-slower-than").arg(10_000).ignore().cmd("SLOWLOG").arg("RESET").ignore().query(&mut conn)?;
    round?;
    let text = |v: &redis::Value| match v {
        redis::Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        redis::Value::SimpleString(s) => s.clone(),
        other => format!("{other:?}"),
    };
    let mut split: Vec<(String, f64, usize)> = Vec::new();
    for entry in &entries {
        let redis::Value::Array(fields) = entry else { continue };
        let (Some(redis::Value::Int(us)), Some(redis::Value::Array(args)), Some(client)) = (fields.get(2), fields.get(3), fields.get(4)) else { continue };
        let command = args.first().map(text).unwrap_or_default().to_uppercase();
        if text(client).starts_with('?') || !command.starts_with("EVAL") {
            continue; // run by a script, or not a script
        }
        let keys: usize = args.get(2).map(text).and_then(|n| n.parse().ok()).unwrap_or(0);
        let tag = args.get(3 + keys).map(text).filter(|t| t.contains('/') && t.len() < 40);
        // Layout 1's scripts carry no tag: its claim takes 8 arguments, its commit 6 + 8 a job.
        let label = tag.unwrap_or_else(|| if args.len() < 3 + keys + 12 { format!("{command} claim") } else { format!("{command} commit") });
        match split.iter_mut().find(|s| s.0 == label) {
            Some(s) => {
                s.1 += *us as f64;
                s.2 += 1;
            }
            None => split.push((label, *us as f64, 1)),
        }
    }
    for s in &mut split {
        s.1 /= due as f64;
    }
    Ok(split)
}

fn fires_per_second(bench: &Bench) -> Result<()> {
    let due = if bench.quick { 2_000 } else { FIRES_DUE };
    let rounds = if bench.quick { 2 } else { 5 };
    let peer = funboost_scheduler(bench, &["--sizes", "", "--fires", &due.to_string(), "--fires-repeat", &rounds.min(3).to_string()])?;
    let peer_row = peer.iter().find(|r| r["bench"] == "fires");
    let peer_rate = peer_row.and_then(|r| r["fires_per_s"].as_f64()).unwrap_or(f64::NAN);
    let peer_us = peer_row.map(|r| median(&f64s(&r["redis_usec"])) / due as f64).unwrap_or(f64::NAN);
    let peer_cpu_us = peer_row.map(|r| median(&f64s(&r["redis_cpu_s"])) * 1e6 / due as f64).unwrap_or(f64::NAN);
    let peer_trips = peer_row.map(|r| median(&f64s(&r["redis_roundtrips"]))).unwrap_or(f64::NAN);

    let two = FireRig::new(bench, Layout::Two)?;
    let one = FireRig::new(bench, Layout::One)?;
    for rig in [&two, &one] {
        fire_round(bench, rig, due / 10, 1)?; // warm-up: compiled code, cached scripts
    }
    println!(
        "{due} jobs due on every side, {rounds} rounds each (funboost: {} passes); medians. Redis µs per fire: commands (INFO commandstats, what the ticks sent) / the redis-server process's CPU.\n",
        rounds.min(3)
    );
    println!("| scheduler | due | tickers at once | ticks | seconds | fires/s | Redis µs per fire: commands | redis-server CPU | Redis round trips | fires/s vs funboost | target |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    // (label, fires/s, command µs per fire, server CPU µs per fire) for the plot.
    let mut bars: Vec<(&str, f64, f64, f64)> = Vec::new();
    let mut by_layout = Vec::new();
    // Alternating the sides round by round, so that a slow moment of the machine hits both.
    let configs = [(&two, 1), (&one, 1), (&two, 2)];
    let mut results: Vec<Vec<FireRound>> = configs.iter().map(|_| Vec::new()).collect();
    for _ in 0..rounds {
        for (k, (rig, tickers)) in configs.iter().enumerate() {
            results[k].push(fire_round(bench, rig, due, *tickers)?);
        }
    }
    for ((rig, tickers), runs) in configs.iter().zip(&results) {
        let seconds = median(&runs.iter().map(|r| r.seconds).collect::<Vec<_>>());
        let rate = due as f64 / seconds;
        let cmd_us = median(&runs.iter().map(|r| r.redis_us).collect::<Vec<_>>()) / due as f64;
        let cpu_us = median(&runs.iter().map(|r| r.redis_cpu_s).collect::<Vec<_>>()) * 1e6 / due as f64;
        let trips = median(&runs.iter().map(|r| r.round_trips as f64).collect::<Vec<_>>());
        let ticks = median(&runs.iter().map(|r| r.ticks as f64).collect::<Vec<_>>());
        let target = if rig.layout == Layout::Two { format!("≥ 100x: {}", if rate >= 100.0 * peer_rate { "met" } else { "missed" }) } else { "–".into() };
        println!(
            "| {} | {due} | {tickers} | {ticks:.0} | {seconds:.3} | {rate:.0} (runs: {}) | {cmd_us:.1} | {cpu_us:.1} | {trips:.0} | {:.0}x | {target} |",
            rig.layout.name(),
            runs.iter().map(|r| format!("{:.0}", due as f64 / r.seconds)).collect::<Vec<_>>().join(", "),
            rate / peer_rate
        );
        if *tickers == 1 {
            by_layout.push((rig.layout, cmd_us, cpu_us));
        }
        bars.push((
            if rig.layout == Layout::One {
                "layout 1 (previous build), one ticker"
            } else if *tickers == 1 {
                "layout 2, one ticker"
            } else {
                "layout 2, two tickers"
            },
            rate,
            cmd_us,
            cpu_us,
        ));
    }
    println!(
        "| funboost 55 ApsJobAdder(job_store_kind='redis'), one pass | {due} | 1 | 1 | {:.3} | {peer_rate:.0} | {peer_us:.1} | {peer_cpu_us:.1} | {peer_trips:.0} | 1x | – |",
        due as f64 / peer_rate
    );
    bars.push(("funboost 55 scheduler pass", peer_rate, peer_us, peer_cpu_us));
    // Where the scripts' time goes: the commands they ran (Redis counts them under their own
    // names too), per fire, from the round with the median time, one ticker; the rest of EVAL/EVALSHA's time
    // is Lua itself (and argument handling).
    for (k, (rig, tickers)) in configs.iter().enumerate() {
        // The round with the median Redis time.
        let mut order: Vec<&FireRound> = results[k].iter().collect();
        order.sort_by(|a, b| a.redis_us.total_cmp(&b.redis_us));
        let Some(last) = order.get(order.len() / 2).filter(|_| *tickers == 1) else { continue };
        let scripts: u64 = last.by_command.iter().filter(|c| c.0 == "eval" || c.0 == "evalsha").map(|c| c.2).sum();
        let inner: Vec<String> = last
            .by_command
            .iter()
            .filter(|c| !["eval", "evalsha", "info"].contains(&c.0.as_str()))
            .take(10)
            .map(|c| format!("{} {:.2}", c.0.to_uppercase(), c.2 as f64 / due as f64))
            .collect();
        let split = script_split(bench, rig, due)?;
        println!(
            "{}: EVAL/EVALSHA {:.1} µs per fire ({}, in a round with the SLOWLOG on); commands run inside (and the harness's few ZCOUNTs), µs per fire: {}",
            rig.layout.name(),
            scripts as f64 / due as f64,
            split.iter().map(|(label, us, calls)| format!("{label} {us:.1} in {calls} calls")).collect::<Vec<_>>().join(", "),
            inner.join(", ")
        );
    }
    if let ([(_, two_us, two_cpu), (_, one_us, one_cpu)], true) = (by_layout.as_slice(), by_layout.first().is_some_and(|l| l.0 == Layout::Two)) {
        println!(
            "\nRedis time per fire, layout 2 against layout 1 (one ticker each): commands {two_us:.1} against {one_us:.1} µs ({:.2}x; target ≤ 0.5x: {}), server CPU {two_cpu:.1} against {one_cpu:.1} µs ({:.2}x).",
            two_us / one_us,
            if *two_us <= 0.5 * one_us { "met" } else { "missed" },
            two_cpu / one_cpu
        );
    }

    // Our side at ten times the due count, for scale (funboost would take minutes per pass).
    let big = due * 10;
    let run = fire_round(bench, &two, big, 1)?;
    println!(
        "\nAlso, {} alone at {big} due, one ticker: {:.2} s, {:.0} fires/s, Redis commands {:.1} µs and CPU {:.1} µs per fire, {} round trips (no funboost figure at this count).",
        Layout::Two.name(),
        run.seconds,
        big as f64 / run.seconds,
        run.redis_us / big as f64,
        run.redis_cpu_s * 1e6 / big as f64,
        run.round_trips
    );

    let categories: Vec<&str> = bars.iter().map(|b| b.0).collect();
    // The last bar is funboost's: each series holds its side's categories only.
    let peer_at = bars.len() - 1;
    let side = |label: &str, color: &'static str, ours: bool, value: fn(&(&str, f64, f64, f64)) -> f64| {
        Bars::new(label, color, bars.iter().enumerate().map(|(j, b)| if (j != peer_at) == ours { value(b) } else { f64::NAN }).collect())
    };
    let panels = [
        Panel::bars(
            &format!("Fires per second, {due} due (higher is better)"),
            &categories,
            Axis::log("fires/s"),
            vec![side("funboost-edge", OURS, true, |b| b.1), side("funboost 55", PEER, false, |b| b.1)],
        )
        .reference(100.0 * peer_rate, "target: 100x funboost"),
        Panel::bars(
            "Redis time per fire (lower is better)",
            &categories,
            Axis::log("µs per fire"),
            vec![
                side("funboost-edge: commands (INFO commandstats)", OURS, true, |b| b.2),
                side("funboost-edge: redis-server CPU", OURS, true, |b| b.3).light(),
                side("funboost 55: commands", PEER, false, |b| b.2),
                side("funboost 55: redis-server CPU", PEER, false, |b| b.3).light(),
            ],
        ),
    ];
    let note = format!(
        "{due} jobs due on every side; back-to-back ticks until none is due; every message checked (none lost, none twice); medians of {rounds} rounds"
    );
    bench.plot("fires", &plot::figure("Fires per second and Redis time per fire", &note, 2, &panels))
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

// ---------------------------------------------------------------------------------------------
// 7. The store: bytes per stored job, ours beside funboost 55's own Redis job store
// (`ApsJobAdder(booster, job_store_kind='redis')`, benches/peers/aps_store.py), the same jobs on
// both sides, each side on a redis-server of its own.
//
// Bytes per job = the change of the server's `used_memory` (INFO memory: the bytes Redis's
// allocator holds, not the process's RSS; no MEMORY PURGE, which only returns pages to the OS)
// from before the jobs were stored to after, less the change of `mem_clients_normal` (the
// connections' own buffers, which are not the store), divided by the jobs. Each reading is
// taken once the server is quiet: no tick or pass running, two readings half a second apart
// within 4 KB, each after a SLOWLOG RESET (the log of slow commands keeps their arguments). On
// both servers Redis's per-command latency histograms (`latency-tracking`) are off: each is
// allocated the first time a command name is used and counted in `used_memory` like data.
// Before the first reading each side has stored and deleted one job (ours: fired it once too),
// so that what a first write creates (cached scripts, the metrics' fields) is not counted per
// job. Our audit trail (`{P}:audit`, a capped stream of the changes made through the API) is
// deleted before each reading and reported apart: it is bounded (`audit_max_records`), not per
// job. Also printed, from MEMORY USAGE (SAMPLES 0) of each key, how the bytes divide.
//
// Just added: a third `interval` (seconds=60), a third `cron` (hour=9, minute=30), a third
// `date` (run_date 2030-01-01 09:00:00), kwargs {x: i, y: 2i}, ids job0000000..: first 10,000
// through each side's API one by one (`add_timing_job` in the test host; `add_push_job`), then
// for 10,000 and 1,000,000 the queue's keys emptied and copies of the first three jobs written
// straight into Redis with pipelined commands, each copy with its own id, kwargs (and, ours,
// version token) and everything else as the API stored it (ours: layout 2, as `Template::store`
// writes it; funboost: its pickle, HSET + ZADD as its RedisJobStore does). A million through
// the API would take most of an hour on either side.
//
// After 100 fires: 1,000 jobs, half `interval` seconds=1 and half `cron` second='*' (a date job
// fires once), kwargs {x: i, y: 2i}, added through the API and fired 100 times each: ours by the
// ticker under the test host's 1-second cron trigger, in real time (~100 s), until every job's
// state counts 100 fires; funboost by 100 passes of its own scheduler, every job made due before
// each (it cannot fire 1,000 jobs a second in real time; its pickle holds no history, so the way
// its fires come does not change its size). The queue's messages are deleted before the reading. Then copies of the fired jobs (job i a copy of fired job i mod 1,000, with its own
// id and kwargs; ours with its state and history texts) at 10,000 and 1,000,000.

const STORE_Q: &str = "store_q";

/// Job i of the just-added set: a third each interval, cron and date.
fn store_job_body(i: usize) -> Value {
    let mut body = match i % 3 {
        0 => json!({"trigger": "interval", "seconds": 60}),
        1 => json!({"trigger": "cron", "hour": "9", "minute": "30"}),
        _ => json!({"trigger": "date", "run_date": "2030-01-01 09:00:00"}),
    };
    body["queue_name"] = json!(STORE_Q);
    body["job_id"] = json!(format!("job{i:07}"));
    body["kwargs"] = json!({"x": i, "y": 2 * i});
    body
}

/// Job i of the fired set: half interval every second, half cron every second.
fn fired_job_body(i: usize) -> Value {
    let mut body = if i % 2 == 0 { json!({"trigger": "interval", "seconds": 1}) } else { json!({"trigger": "cron", "second": "*"}) };
    body["queue_name"] = json!(STORE_Q);
    body["job_id"] = json!(format!("job{i:07}"));
    body["kwargs"] = json!({"x": i, "y": 2 * i});
    body
}

/// One job's layout-2 texts and score.
#[derive(Clone)]
struct StoredTexts {
    spec: Value,
    state: Value,
    hist: Option<String>,
    score: f64,
}

fn read_texts(conn: &mut redis::Connection, ids: &[String]) -> Result<Vec<StoredTexts>> {
    let keys = keys();
    let mut pipe = redis::pipe();
    pipe.cmd("HMGET").arg(keys.spec(STORE_Q)).arg(ids);
    pipe.cmd("HMGET").arg(keys.state(STORE_Q)).arg(ids);
    pipe.cmd("HMGET").arg(keys.hist(STORE_Q)).arg(ids);
    pipe.cmd("ZMSCORE").arg(keys.next(STORE_Q)).arg(ids);
    #[allow(clippy::type_complexity)]
    let (specs, states, hists, scores): (Vec<Option<String>>, Vec<Option<String>>, Vec<Option<String>>, Vec<Option<f64>>) = pipe.query(conn)?;
    (0..ids.len())
        .map(|k| {
            Ok(StoredTexts {
                spec: serde_json::from_str(specs[k].as_deref().context("no spec")?)?,
                state: serde_json::from_str(states[k].as_deref().context("no state")?)?,
                hist: hists[k].clone(),
                score: scores[k].context("no score")?,
            })
        })
        .collect()
}

/// A version token as the API makes them (`record::new_version`: a random u64 in hex).
fn version_token(i: usize) -> String {
    let mut z = (i as u64).wrapping_add(0x9e37_79b9_7f4a_7c15).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    format!("{:x}", z ^ (z >> 31))
}

/// Writes `n` copies of `templates` into [`STORE_Q`] (copy i of template i mod len, its own id,
/// kwargs and version), layout 2, pipelined by 10,000; returns the seconds it took.
fn write_store_copies(conn: &mut redis::Connection, templates: &[StoredTexts], n: usize) -> Result<f64> {
    let keys = keys();
    let start = Instant::now();
    for chunk_start in (0..n).step_by(10_000) {
        let (mut specs, mut states, mut hists, mut next, mut ids) =
            (redis::cmd("HSET"), redis::cmd("HSET"), redis::cmd("HSET"), redis::cmd("ZADD"), redis::cmd("ZADD"));
        specs.arg(keys.spec(STORE_Q));
        states.arg(keys.state(STORE_Q));
        hists.arg(keys.hist(STORE_Q));
        next.arg(keys.next(STORE_Q));
        ids.arg(keys.ids(STORE_Q));
        let mut any_hist = false;
        let mut earliest = f64::INFINITY;
        for i in chunk_start..(chunk_start + 10_000).min(n) {
            let t = &templates[i % templates.len()];
            let id = format!("job{i:07}");
            let mut spec = t.spec.clone();
            spec["k"] = json!({"x": i, "y": 2 * i});
            let mut state = t.state.clone();
            state["v"] = Value::from(version_token(i));
            specs.arg(&id).arg(spec.to_string());
            states.arg(&id).arg(state.to_string());
            if let Some(hist) = &t.hist {
                hists.arg(&id).arg(hist);
                any_hist = true;
            }
            next.arg(t.score).arg(&id);
            ids.arg(0).arg(&id);
            earliest = earliest.min(t.score);
        }
        let mut pipe = redis::pipe();
        pipe.add_command(specs).ignore().add_command(states).ignore().add_command(next).ignore().add_command(ids).ignore();
        if any_hist {
            pipe.add_command(hists).ignore();
        }
        pipe.sadd(keys.job_queues(), STORE_Q).ignore();
        if earliest < funboost_edge::store::layout::Stopped::MIN as f64 {
            pipe.cmd("ZADD").arg(keys.heads()).arg("LT").arg(earliest).arg(STORE_Q).ignore();
        }
        let () = pipe.query(conn).context("storing copies")?;
    }
    Ok(start.elapsed().as_secs_f64())
}

/// `used_memory` and `mem_clients_normal` once two readings half a second apart agree within 4 KB,
/// each right after a SLOWLOG RESET (the server's log of commands over 10 ms, which keeps their
/// arguments, is not the store).
fn quiet_used_memory(conn: &mut redis::Connection) -> Result<(f64, f64)> {
    let read = |conn: &mut redis::Connection| -> Result<(f64, f64)> {
        let () = redis::cmd("SLOWLOG").arg("RESET").query(conn)?;
        Ok((redis_info_sum(conn, "memory", &["used_memory"])?, redis_info_sum(conn, "memory", &["mem_clients_normal"])?))
    };
    let mut last = read(conn)?;
    for _ in 0..40 {
        std::thread::sleep(Duration::from_millis(500));
        let now = read(conn)?;
        if (now.0 - last.0).abs() < 4096.0 {
            return Ok(now);
        }
        last = now;
    }
    Ok(last)
}

/// Bytes per job of our store since `before`, with MEMORY USAGE of each of the queue's keys.
struct OurBytes {
    per_job: f64,
    /// (spec, state, hist, next, ids) bytes per job.
    keys: [f64; 5],
    /// What the audit trail took per job (deleted before the reading), when the jobs came through the API.
    audit_per_job: f64,
}

/// The audit trail (`{P}:audit`, a capped stream of every change made through the API, and its
/// counts): not the job store, so it is deleted before each reading and its size reported apart.
const AUDIT_KEYS: [&str; 2] = ["{funboost_edge}:audit", "{funboost_edge}:audit_counts"];

/// Deletes the audit trail; returns the bytes that freed (two quiet readings).
fn drop_audit(conn: &mut redis::Connection) -> Result<f64> {
    let before = quiet_used_memory(conn)?;
    let _: () = redis::cmd("DEL").arg(&AUDIT_KEYS).query(conn)?;
    let after = quiet_used_memory(conn)?;
    Ok((before.0 - before.1) - (after.0 - after.1))
}

fn our_bytes(conn: &mut redis::Connection, jobs: usize, before: (f64, f64)) -> Result<OurBytes> {
    let audit = drop_audit(conn)?;
    let after = quiet_used_memory(conn)?;
    let k = keys();
    let mut per_key = [0.0; 5];
    for (slot, key) in per_key.iter_mut().zip([k.spec(STORE_Q), k.state(STORE_Q), k.hist(STORE_Q), k.next(STORE_Q), k.ids(STORE_Q)]) {
        let usage: Option<u64> = redis::cmd("MEMORY").arg("USAGE").arg(&key).arg("SAMPLES").arg(0).query(conn)?;
        *slot = usage.unwrap_or(0) as f64 / jobs as f64;
    }
    Ok(OurBytes { per_job: ((after.0 - before.0) - (after.1 - before.1)) / jobs as f64, keys: per_key, audit_per_job: audit / jobs as f64 })
}

/// MEMORY USAGE (SAMPLES 0) of every key of the database.
fn all_key_usage(conn: &mut redis::Connection) -> Result<std::collections::HashMap<String, u64>> {
    let names: Vec<String> = redis::cmd("KEYS").arg("*").query(conn)?;
    let mut usage = std::collections::HashMap::new();
    for name in names {
        let bytes: Option<u64> = redis::cmd("MEMORY").arg("USAGE").arg(&name).arg("SAMPLES").arg(0).query(conn)?;
        usage.insert(name, bytes.unwrap_or(0));
    }
    Ok(usage)
}

/// Empties [`STORE_Q`]'s keys (ours).
fn clear_store_queue(conn: &mut redis::Connection) -> Result<()> {
    let k = keys();
    let () = redis::pipe()
        .del(&[k.spec(STORE_Q), k.state(STORE_Q), k.hist(STORE_Q), k.next(STORE_Q), k.ids(STORE_Q)])
        .ignore()
        .srem(k.job_queues(), STORE_Q)
        .ignore()
        .zrem(k.heads(), STORE_Q)
        .ignore()
        .query(conn)?;
    Ok(())
}

/// A peer run in the background (its own redis-server), read when it is done.
struct PeerRun {
    child: Child,
    _redis: RedisServer,
}

impl PeerRun {
    fn finish(mut self) -> Result<Vec<Value>> {
        let mut stdout = String::new();
        self.child.stdout.take().context("no stdout")?.read_to_string(&mut stdout)?;
        let status = self.child.wait()?;
        ensure!(status.success(), "aps_store.py failed: {status}");
        Ok(stdout.lines().filter_map(|l| serde_json::from_str(l).ok()).collect())
    }
}

impl Drop for PeerRun {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `benches/peers/aps_store.py <args>` on a redis-server of its own; `None` without peers.
fn aps_store(bench: &Bench, args: &[String]) -> Result<Option<PeerRun>> {
    if !bench.peers {
        return Ok(None);
    }
    let redis = RedisServer::start()?;
    let child = Command::new(&bench.python)
        .arg(format!("{}/benches/peers/aps_store.py", env!("CARGO_MANIFEST_DIR")))
        .args(args)
        .args(["--redis-port", &redis.port().to_string()])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(std::env::temp_dir().join("funboost-edge-aps-store.log"))?)
        .spawn()
        .context("cannot run aps_store.py")?;
    Ok(Some(PeerRun { child, _redis: redis }))
}

/// One row of the bytes table.
struct BytesRow {
    jobs: usize,
    what: String,
    ours: OurBytes,
    peer: Option<Value>,
    /// The ratio this row must meet (ours / funboost's).
    target: f64,
}

/// Redis 7 keeps a latency histogram per command name (`latency-tracking`), allocated the first
/// time the name is used (tens of KB each) and counted in `used_memory` as if it were data: off,
/// and what exists so far dropped (CONFIG RESETSTAT), before any reading. funboost's side does
/// the same.
fn latency_tracking_off(conn: &mut redis::Connection) -> Result<()> {
    let () = redis::pipe().cmd("CONFIG").arg("SET").arg("latency-tracking").arg("no").ignore().cmd("CONFIG").arg("RESETSTAT").ignore().query(conn)?;
    Ok(())
}

/// A fresh redis-server with our API and ticker and [`STORE_Q`] registered, after one job was
/// stored and deleted (and, with `fire`, fired once first); returns the quiet baseline too.
fn store_rig(bench: &Bench, fire: bool) -> Result<(RedisServer, Host, (f64, f64))> {
    let redis = RedisServer::start()?;
    let mut conn = connect(&redis);
    latency_tracking_off(&mut conn)?;
    let host = service_host(&redis, &[STORE_Q.to_string()])?;
    let warm = if fire { fired_job_body(0) } else { store_job_body(0) };
    let mut warm = warm;
    warm["job_id"] = json!("warmup");
    add_job(bench, &host, &warm)?;
    if fire {
        bench.runtime.block_on(host.cron(unix_secs()))?.map_err(|e| anyhow!("tick failed: {e}"))?;
    }
    let response =
        bench.runtime.block_on(host.request("DELETE", &format!("/funboost/delete_timing_job?job_id=warmup&queue_name={STORE_Q}"), &[], Vec::new()))?;
    ensure!(response.status == 200, "delete_timing_job: {}", response.text());
    let _: () = redis::cmd("DEL").arg(STORE_Q).arg(&AUDIT_KEYS).query(&mut conn)?;
    let before = quiet_used_memory(&mut conn)?;
    Ok((redis, host, before))
}

fn store(bench: &Bench) -> Result<()> {
    let api_jobs = if bench.quick { 1_000 } else { 10_000 };
    let copies: &[usize] = if bench.quick { &[1_000, 10_000] } else { &[10_000, 1_000_000] };
    let (fired_jobs, fires) = if bench.quick { (100, 5) } else { (1_000, 100) };
    let copies_arg = copies.iter().map(usize::to_string).collect::<Vec<_>>().join(",");
    let mut rows: Vec<BytesRow> = Vec::new();
    let took = Instant::now();

    // Just added: funboost's side in the background, ours meanwhile.
    let peer = aps_store(bench, &["added".into(), "--api".into(), api_jobs.to_string(), "--copies".into(), copies_arg.clone()])?;
    let (redis, host, before) = store_rig(bench, false)?;
    let mut conn = connect(&redis);
    let start = Instant::now();
    for i in 0..api_jobs {
        add_job(bench, &host, &store_job_body(i))?;
    }
    let add_seconds = start.elapsed().as_secs_f64();
    ensure!(stored_count(&mut conn) as usize == api_jobs, "{} jobs stored, not {api_jobs}", stored_count(&mut conn));
    let ours = our_bytes(&mut conn, api_jobs, before)?;
    let templates = read_texts(&mut conn, &(0..3).map(|i| format!("job{i:07}")).collect::<Vec<_>>())?;
    let mut ours_added = vec![(api_jobs, "a third each interval/cron/date, just added through the API".to_string(), ours)];
    for &n in copies {
        clear_store_queue(&mut conn)?;
        let before = quiet_used_memory(&mut conn)?;
        write_store_copies(&mut conn, &templates, n)?;
        ours_added.push((n, "the same, just added: copies".to_string(), our_bytes(&mut conn, n, before)?));
    }
    drop(conn);
    drop(host);
    drop(redis);
    let peer_added = match peer {
        Some(p) => p.finish()?,
        None => Vec::new(),
    };
    for (k, (jobs, what, ours)) in ours_added.into_iter().enumerate() {
        let via = if k == 0 { "api" } else { "copies" };
        let peer = peer_added.iter().find(|r| r["case"] == "just added" && r["jobs"] == jobs && r["via"] == via).cloned();
        rows.push(BytesRow { jobs, what, ours, peer, target: 0.5 });
    }
    println!("Adding {api_jobs} jobs through our API in process took {add_seconds:.1} s.");

    // After `fires` fires each: funboost's side in the background, ours meanwhile.
    let peer =
        aps_store(bench, &["fired".into(), "--jobs".into(), fired_jobs.to_string(), "--fires".into(), fires.to_string(), "--copies".into(), copies_arg])?;
    let (redis, host, before) = store_rig(bench, true)?;
    let mut conn = connect(&redis);
    let keys_before = all_key_usage(&mut conn)?;
    for i in 0..fired_jobs {
        add_job(bench, &host, &fired_job_body(i))?;
    }
    let ours = our_bytes(&mut conn, fired_jobs, before)?;
    rows.push(BytesRow { jobs: fired_jobs, what: "half interval, half cron, every second: just added through the API".into(), ours, peer: None, target: 0.5 });
    let ticker = bench.runtime.spawn(host.clone().tick_every(Duration::from_secs(1)));
    let fire_start = Instant::now();
    let ids: Vec<String> = (0..fired_jobs).map(|i| format!("job{i:07}")).collect();
    let fire_counts = |conn: &mut redis::Connection| -> Result<Vec<u64>> {
        let states: Vec<Option<String>> = redis::cmd("HMGET").arg(keys().state(STORE_Q)).arg(&ids).query(conn)?;
        states.iter().map(|s| Ok(serde_json::from_str::<Value>(s.as_deref().context("a job is gone")?)?["f"].as_u64().unwrap_or(0))).collect()
    };
    loop {
        std::thread::sleep(Duration::from_secs(2));
        let _: () = redis::cmd("DEL").arg(STORE_Q).query(&mut conn)?;
        if fire_counts(&mut conn)?.iter().all(|&f| f >= fires) {
            break;
        }
        ensure!(fire_start.elapsed() < Duration::from_secs(fires * 5 + 60), "the jobs did not fire {fires} times in {:?}", fire_start.elapsed());
    }
    ticker.abort();
    let fire_seconds = fire_start.elapsed().as_secs_f64();
    // Ticks already started end within their 1.5 s window: wait until a second passes with no
    // message and no fire counted.
    let mut counts = fire_counts(&mut conn)?;
    for _ in 0..10 {
        std::thread::sleep(Duration::from_secs(1));
        let published: usize = redis::cmd("LLEN").arg(STORE_Q).query(&mut conn)?;
        let now = fire_counts(&mut conn)?;
        let _: () = redis::cmd("DEL").arg(STORE_Q).query(&mut conn)?;
        if published == 0 && now == counts {
            break;
        }
        counts = now;
    }
    let (min, max) = (counts.iter().min().copied().unwrap_or(0), counts.iter().max().copied().unwrap_or(0));
    let missed: u64 = {
        let states: Vec<String> = redis::cmd("HVALS").arg(keys().state(STORE_Q)).query(&mut conn)?;
        states.iter().filter_map(|s| serde_json::from_str::<Value>(s).ok()?["m"].as_u64()).sum()
    };
    let ours = our_bytes(&mut conn, fired_jobs, before)?;
    let late: usize = redis::cmd("LLEN").arg(STORE_Q).query(&mut conn)?;
    ensure!(late == 0, "{late} messages were published after the ticker stopped");
    let queue_keys = [keys().spec(STORE_Q), keys().state(STORE_Q), keys().hist(STORE_Q), keys().next(STORE_Q), keys().ids(STORE_Q)];
    let mut grown: Vec<(String, i64)> = all_key_usage(&mut conn)?
        .into_iter()
        .filter(|(k, _)| !queue_keys.contains(k))
        .map(|(k, v)| {
            let was = keys_before.get(&k).copied().unwrap_or(0);
            (k, v as i64 - was as i64)
        })
        .filter(|(_, d)| *d != 0)
        .collect();
    grown.sort_by_key(|g| std::cmp::Reverse(g.1));
    let fired_texts = read_texts(&mut conn, &ids)?;
    let history_len = fired_texts.iter().map(|t| t.hist.as_deref().unwrap_or("").matches(',').count()).max().unwrap_or(0);
    rows.push(BytesRow { jobs: fired_jobs, what: format!("the same after {fires} fires each (really fired)"), ours, peer: None, target: 1.0 });
    for &n in copies {
        clear_store_queue(&mut conn)?;
        let before = quiet_used_memory(&mut conn)?;
        write_store_copies(&mut conn, &fired_texts, n)?;
        rows.push(BytesRow {
            jobs: n,
            what: format!("the same after {fires} fires each: copies of those"),
            ours: our_bytes(&mut conn, n, before)?,
            peer: None,
            target: 1.0,
        });
    }
    drop(conn);
    drop(host);
    drop(redis);
    let peer_fired = match peer {
        Some(p) => p.finish()?,
        None => Vec::new(),
    };
    let n_rows = rows.len();
    for row in &mut rows[n_rows - 2 - copies.len()..] {
        let case = if row.target == 0.5 { "fired: just added".to_string() } else { format!("fired: after {fires} fires") };
        let via = if row.what.contains("copies") {
            "copies"
        } else if row.target == 0.5 {
            "api"
        } else {
            "fired"
        };
        row.peer = peer_fired.iter().find(|r| r["case"] == case.as_str() && r["jobs"] == row.jobs && r["via"] == via).cloned();
    }
    println!(
        "Our {fired_jobs} jobs fired {min}-{max} times each in {fire_seconds:.0} s of real time ({missed} fires missed in all); each job's history holds its last {history_len} fires."
    );
    println!(
        "Our other keys that grew meanwhile (MEMORY USAGE, bytes; in the figure): {}.",
        grown.iter().map(|(k, d)| format!("{k} {d:+}")).collect::<Vec<_>>().join(", ")
    );
    if let Some(r) = peer_fired.iter().find(|r| r["via"] == "fired") {
        println!("funboost's {fires} passes published the {fired_jobs} x {fires} fires in {} s.", r["fire_seconds"]);
    }

    println!("\n| jobs | stored | funboost-edge bytes/job | of which: spec / state / hist / next / ids (MEMORY USAGE) | funboost 55 bytes/job | of which: pickles / run_times | ours / funboost | target |");
    println!("|---:|---|---:|---|---:|---|---:|---|");
    for row in &rows {
        let theirs = row.peer.as_ref().and_then(|p| p["bytes_per_job"].as_f64()).unwrap_or(f64::NAN);
        let split = row
            .peer
            .as_ref()
            .and_then(|p| p["key_bytes_per_job"].as_object())
            .map(|m| m.values().filter_map(Value::as_f64).map(|v| format!("{v:.0}")).collect::<Vec<_>>().join(" / "))
            .unwrap_or_else(|| "–".into());
        let ratio = row.ours.per_job / theirs;
        let target = if theirs.is_finite() {
            format!("≤ {}: {}", if row.target == 0.5 { "half" } else { "funboost's" }, if ratio <= row.target { "met" } else { "missed" })
        } else {
            "–".into()
        };
        println!(
            "| {} | {} | {:.0} | {} | {theirs:.0} | {split} | {ratio:.2} | {target} |",
            row.jobs,
            row.what,
            row.ours.per_job,
            row.ours.keys.iter().map(|v| format!("{v:.0}")).collect::<Vec<_>>().join(" / ")
        );
    }
    let audit: Vec<String> = rows.iter().filter(|r| r.ours.audit_per_job > 1.0).map(|r| format!("{:.0} ({} jobs)", r.ours.audit_per_job, r.jobs)).collect();
    if !audit.is_empty() {
        println!(
            "\nNot in our figures: the audit trail (`{{funboost_edge}}:audit`, a stream of every change made through the API, capped at `audit_max_records`, 100,000 by default), deleted before each reading; it held {} bytes per job added through the API.",
            audit.join(" and ")
        );
    }
    println!("The store section took {:.0} s.", took.elapsed().as_secs_f64());

    let label = |row: &BytesRow| {
        let jobs = match row.jobs {
            n if n >= 1_000_000 => format!("{}M", n / 1_000_000),
            n if n >= 1_000 => format!("{}k", n / 1_000),
            n => n.to_string(),
        };
        let when = if row.target == 0.5 { "just added" } else { "after fires" };
        let how = if row.what.contains("copies") {
            "copies"
        } else if row.target == 0.5 {
            "API"
        } else {
            "fired"
        };
        format!("{jobs} {when} ({how})")
    };
    let labels: Vec<String> = rows.iter().map(label).collect();
    let categories: Vec<&str> = labels.iter().map(String::as_str).collect();
    let panel = Panel::bars(
        "Bytes per stored job (lower is better)",
        &categories,
        Axis::linear("bytes per job (used_memory)"),
        vec![
            Bars::new("funboost-edge (layout 2)", OURS, rows.iter().map(|r| r.ours.per_job).collect()),
            Bars::new(
                "funboost 55 ApsJobAdder(job_store_kind='redis')",
                PEER,
                rows.iter().map(|r| r.peer.as_ref().and_then(|p| p["bytes_per_job"].as_f64()).unwrap_or(f64::NAN)).collect(),
            ),
        ],
    );
    let note = format!("just added: a third each interval/cron/date; after fires: half interval, half cron every second, {fires} fires each; kwargs {{x, y}}");
    bench.plot("store", &plot::figure("Redis memory per stored job", &note, 1, &[panel]))
}
