//! The Python client (`clients/python`, `funboost_edge.EdgeJobAdder`) answers as funboost 55's
//! own `ApsJobAdder` does.
//!
//! 1. `a_random_call_sequence_gives_what_funboost_gives_and_the_fires_carry_the_same_arguments`:
//!    tests/python/client_differential.py sends one seeded sequence of 600 random calls (adds of
//!    every trigger kind and value form, `OrTrigger`, `AndTrigger` and `CalendarIntervalTrigger`
//!    objects included, replaces, duplicate and unknown ids, modify_job, reschedule_job, pause,
//!    resume, remove, bad values) through funboost's `ApsJobAdder(booster,
//!    job_store_kind='redis')` (APScheduler 3.11.3 with its Redis job store, its scheduler
//!    started paused) and through `EdgeJobAdder` against the real `.wasm` served over TCP by
//!    the test host, both from the same frozen instant: the redis-server runs with a frozen
//!    clock (a tiny LD_PRELOAD shim, compiled here, answers `gettimeofday`/`clock_gettime`
//!    from a file the driver writes), so funboost-edge's "now" (Redis `TIME`) is that instant,
//!    and the driver freezes its own clock at the same instant with time-machine. It compares
//!    every returned job (`str(job)`, `str(trigger)`, `next_run_time` and its zone, args,
//!    kwargs, options), every exception and the job lists. Then, on the real clock, a few jobs
//!    of each side fire for real (funboost's scheduler thread; funboost-edge's ticker, run here)
//!    into a real funboost consumer (tests/python/funboost_worker.py), and the arguments its
//!    function received are compared.
//! 2. `the_package_passes_its_unit_tests_and_mypy_strict_and_builds_a_typed_wheel`: pytest on
//!    clients/python/tests, `mypy --strict` on the package, and a wheel with `py.typed`.
//!
//! Needs the components, redis-server, a C compiler (`cc`, which Rust's linker needs anyway)
//! and the test venv with funboost 55, APScheduler 3.11.3, time-machine, pytest, mypy and the
//! client installed (scripts/prepare).

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use funboost_test_host::test_support::{spin_variables, wasm_path};
use funboost_test_host::{Host, HostConfig};
use serde_json::{json, Value};

/// The frozen instant the sequence starts at: 2030-03-08 09:15:27.123456 UTC, two days before
/// the US spring-forward; the sequence moves the clock forward across the European one.
const START_US: i64 = 1_899_191_727_123_456;
const CALLS: usize = 600;
const DEFAULT_SEED: u64 = 20301;

/// An LD_PRELOAD shim: CLOCK_REALTIME (`clock_gettime`, `gettimeofday`, `time`) answers the
/// Unix µs in the file `$FROZEN_CLOCK_FILE` (8 bytes, little-endian, mapped shared, so a write
/// is seen at once); 0 means the real clock. Every other clock is the real one (syscall, no
/// dlsym, so it cannot recurse into an allocator at start-up: libfaketime can, and does with
/// Debian's jemalloc-linked redis-server).
const FROZEN_CLOCK_C: &str = r#"
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const volatile int64_t *frozen_us;

__attribute__((constructor)) static void frozen_clock_init(void) {
    const char *path = getenv("FROZEN_CLOCK_FILE");
    if (!path) return;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    void *map = mmap(NULL, sizeof(int64_t), PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (map != MAP_FAILED) frozen_us = map;
}

static int64_t frozen(void) { return frozen_us ? __atomic_load_n(frozen_us, __ATOMIC_SEQ_CST) : 0; }

int clock_gettime(clockid_t id, struct timespec *ts) {
    int64_t us = frozen();
    if (us > 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE)) {
        ts->tv_sec = us / 1000000;
        ts->tv_nsec = (long)(us % 1000000) * 1000;
        return 0;
    }
    return (int)syscall(SYS_clock_gettime, id, ts);
}

int gettimeofday(struct timeval *restrict tv, void *restrict tz) {
    (void)tz;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    tv->tv_sec = ts.tv_sec;
    tv->tv_usec = ts.tv_nsec / 1000;
    return 0;
}

time_t time(time_t *out) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (out) *out = ts.tv_sec;
    return ts.tv_sec;
}
"#;

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python").join(name)
}

/// A scratch directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("funboost_edge_{name}_{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Compiles the shim into `dir` with `cc`.
fn frozen_clock_shim(dir: &Path) -> PathBuf {
    let source = dir.join("frozen_clock.c");
    let library = dir.join("frozen_clock.so");
    std::fs::write(&source, FROZEN_CLOCK_C).expect("write the shim");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let out = Command::new(&cc).args(["-shared", "-fPIC", "-O2", "-o"]).arg(&library).arg(&source).output().unwrap_or_else(|e| panic!("cannot run {cc}: {e}"));
    assert!(out.status.success(), "{cc} failed: {}", String::from_utf8_lossy(&out.stderr));
    library
}

/// A redis-server whose wall clock is the clock file's, killed on drop.
struct FrozenRedis {
    child: Child,
    port: u16,
}

impl FrozenRedis {
    fn start(shim: &Path, clock_file: &Path, dir: &Path) -> FrozenRedis {
        let binary = std::env::var("FUNBOOST_EDGE_REDIS_SERVER").unwrap_or_else(|_| "redis-server".to_string());
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let child = Command::new(&binary)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir)
            .env("LD_PRELOAD", shim)
            .env("FROZEN_CLOCK_FILE", clock_file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {binary}: {e}"));
        let mut redis = FrozenRedis { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut conn) = redis.client().get_connection() {
                if redis::cmd("PING").query::<String>(&mut conn).is_ok() {
                    return redis;
                }
            }
            if let Ok(Some(status)) = redis.child.try_wait() {
                panic!("redis-server under the frozen clock exited: {status}");
            }
            assert!(Instant::now() < deadline, "redis-server under the frozen clock did not answer PING");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/7", self.port)
    }

    fn client(&self) -> redis::Client {
        redis::Client::open(self.url()).expect("redis url")
    }
}

impl Drop for FrozenRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn redis_time_us(conn: &mut redis::Connection) -> i64 {
    let (secs, micros): (i64, i64) = redis::cmd("TIME").query(conn).expect("TIME");
    secs * 1_000_000 + micros
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_random_call_sequence_gives_what_funboost_gives_and_the_fires_carry_the_same_arguments() {
    let started = Instant::now();
    let python = python();
    let scratch = Scratch::new("client_diff");
    let shim = frozen_clock_shim(&scratch.0);
    let clock_file = scratch.0.join("clock");
    std::fs::write(&clock_file, START_US.to_le_bytes()).expect("clock file");

    // The shim works: Redis TIME is the file's instant, and stays there.
    let redis = FrozenRedis::start(&shim, &clock_file, &scratch.0);
    let mut conn = redis.client().get_connection().expect("connect");
    assert_eq!(redis_time_us(&mut conn), START_US, "the frozen clock");
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(redis_time_us(&mut conn), START_US, "frozen: it does not move");

    // funboost-edge: the API over TCP, the ticker (run only in the firing phase).
    let variables = spin_variables(&redis.url(), &[]);
    let host =
        Host::new(HostConfig { api_wasm: wasm_path("funboost_api"), ticker_wasm: Some(wasm_path("funboost_ticker")), variables, ..HostConfig::default() })
            .expect("Host::new");
    let (addr, server) = host.serve("127.0.0.1:0".parse().unwrap()).await.expect("serve");

    // A real funboost consumer of add(x, y=5) on the three queues; starting it registers them.
    let results_key = "client_diff:results";
    let stop_key = "client_diff:stop";
    let queues = json!([
        {"queue": "cmp_q", "broker_kind": "REDIS"},
        {"queue": "fire_fb", "broker_kind": "REDIS"},
        {"queue": "fire_edge", "broker_kind": "REDIS"},
    ]);
    let mut worker = Proc::spawn(
        "funboost_worker.py",
        Command::new(&python)
            .arg(script("funboost_worker.py"))
            .args(["--port", &redis.port.to_string(), "--results-key", results_key, "--stop-key", stop_key, "--timeout", "170"])
            .args(["--queues", &queues.to_string()])
            .env("PYTHONUNBUFFERED", "1"),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let registered: i64 = redis::cmd("SCARD").arg("funboost_all_queue_names").query(&mut conn).expect("SCARD");
        if registered >= 3 {
            break;
        }
        assert!(Instant::now() < deadline, "the funboost worker did not register its queues:\n{}", worker.stderr_tail());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let seed = std::env::var("FUNBOOST_EDGE_CLIENT_DIFF_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(DEFAULT_SEED);
    let mut driver = Proc::spawn(
        "client_differential.py",
        Command::new(&python)
            .arg(script("client_differential.py"))
            .args(["--redis-port", &redis.port.to_string(), "--base-url", &format!("http://{addr}"), "--results-key", results_key])
            .arg("--clock-file")
            .arg(&clock_file)
            .args(["--seed", &seed.to_string(), "--calls", &CALLS.to_string(), "--start-us", &START_US.to_string()])
            .env("PYTHONUNBUFFERED", "1")
            .env_remove("FUNBOOST_EDGE_URL")
            .env_remove("FUNBOOST_EDGE_TOKEN")
            .env_remove("FUNBOOST_EDGE_API_TOKEN"),
    );

    // The frozen phase runs; then the driver asks for ticks.
    let line = driver.line(Duration::from_secs(120));
    assert_eq!(line, "PHASE firing", "the driver printed {line:?}; stderr:\n{}", driver.stderr_tail());
    let frozen_end = redis_time_us(&mut conn);
    assert!(
        (frozen_end - std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_micros() as i64).abs() < 5_000_000,
        "the real clock again"
    );
    let ticker = tokio::spawn(host.clone().tick_every(Duration::from_secs(1)));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    driver.send("ticking");
    let line = driver.line(Duration::from_secs(60));
    let result: Value =
        serde_json::from_str(line.strip_prefix("RESULT ").unwrap_or_else(|| panic!("the driver printed {line:?}; stderr:\n{}", driver.stderr_tail())))
            .expect("RESULT json");
    ticker.abort();
    redis::cmd("SET").arg(stop_key).arg(1).exec(&mut conn).expect("SET stop");
    let _ = tokio::task::block_in_place(|| worker.child.wait());
    server.abort();

    // 1. The frozen phase: every call answered alike, except the differences the client's README
    // documents (each kind is checked to be only what it says).
    let frozen = &result["frozen"];
    eprintln!("client differential (seed {seed}): {}", serde_json::to_string_pretty(frozen).unwrap());
    assert_eq!(
        frozen["mismatches"],
        json!([]),
        "seed {seed}: calls where EdgeJobAdder and ApsJobAdder differ:\n{}",
        serde_json::to_string_pretty(&frozen["mismatches"]).unwrap()
    );
    assert!(frozen["calls"].as_u64().unwrap() >= CALLS as u64, "{frozen}");
    let ops = &frozen["ops"];
    for op in [
        "add",
        "add_paused",
        "add_noid",
        "get_job",
        "remove_job",
        "pause_job",
        "resume_job",
        "modify_job",
        "reschedule_job",
        "get_jobs_checked",
        "refused_option",
    ] {
        assert!(ops[op].as_u64().unwrap_or(0) >= 3, "too few {op} calls: {ops}");
    }
    // The app's own APScheduler behaviours, each answered in one call: resuming a job with no
    // fire time left removes it; rescheduling a paused job resumes it.
    for op in ["resume_job_removed", "reschedule_paused_job"] {
        assert!(ops[op].as_u64().unwrap_or(0) >= 1, "no {op}: {ops}");
    }
    let forms = frozen["trigger_forms"].as_object().unwrap();
    for form in [
        "date",
        "interval",
        "cron",
        "DateTrigger(date",
        "IntervalTrigger(interval",
        "CronTrigger(cron",
        "from_crontab",
        "OrTrigger",
        "AndTrigger",
        "CalendarIntervalTrigger",
    ] {
        assert!(forms.get(form).and_then(Value::as_u64).unwrap_or(0) >= 1, "no {form} trigger: {forms:?}");
    }
    assert!(forms.keys().any(|k| k.contains("DST")), "no trigger at a DST change: {forms:?}");
    let errors = frozen["error_kinds"].as_object().unwrap();
    for kind in [
        "ConflictingIdError / ConflictingIdError",
        "JobLookupError / JobLookupError",
        "FuncParamsError / FuncParamsError",
        "ValueError / ValueError",
        "TypeError / TypeError",
    ] {
        assert!(errors.get(kind).and_then(Value::as_u64).unwrap_or(0) >= 1, "no {kind} on both sides: {errors:?}");
    }
    let documented = [
        "extra_positional_args",
        "param_given_twice",
        "modify_job_checks_arguments",
        "fixed_offset_trigger_zone",
        "fixed_offset_zone_abbreviation",
        "aware_run_date_at_dst_edge",
        "get_jobs_order_at_dst_edges",
        "refused_option:max_instances",
        "refused_option:executor",
        "refused_option:name",
        "refused_option:next_run_time",
        "first_of_two_errors",
        "or_trigger_zone",
        "calendarinterval_zoneinfo_utc",
    ];
    for tag in frozen["known_differences"].as_object().unwrap().keys() {
        assert!(documented.contains(&tag.as_str()), "an undocumented difference {tag}: {}", frozen["known_differences"][tag]);
    }
    let readme = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("clients/python/README.md")).expect("clients/python/README.md");
    for tag in documented.iter().chain(&["message_key_order"]) {
        assert!(readme.contains(&format!("`{tag}`")), "clients/python/README.md does not document `{tag}`");
    }

    // 2. The firing phase: both schedulers paused, then running, then paused, alike; the jobs
    // listed alike; every job fired as often on each side, with the same arguments.
    let firing = &result["firing"];
    eprintln!("client differential, firing: {}", serde_json::to_string(firing).unwrap());
    for (when, want) in [("before", 2), ("running", 1), ("after", 2)] {
        assert_eq!(firing["states"][when], json!({"funboost": want, "edge": want}), "scheduler state {when}: {firing}");
    }
    assert_eq!(firing["listed_equal"], json!(true), "the firing jobs as listed: {}", firing["listed"]);
    let expected = firing["expected_fires"].as_object().unwrap();
    let markers = [
        ("date_args", "d1"),
        ("date_kwargs", "d2"),
        ("date_nested", "d3"),
        ("interval_3", "i1"),
        ("cron_3", "c1"),
        ("cron_obj", "c2"),
        ("interval_obj", "i2"),
        ("modified", "m1"),
    ];
    for side in ["funboost", "edge"] {
        for (job, marker) in markers {
            assert_eq!(firing["fires"][side][marker], expected[job], "{side}: fires of {job} ({marker}): {}", firing["fires"]);
        }
        for marker in ["p1", "p2", "r0", "m0"] {
            assert!(firing["fires"][side].get(marker).is_none(), "{side}: {marker} must not fire (paused, removed or modified): {}", firing["fires"]);
        }
    }
    // After the fires both deleted the jobs that have no more fire times; the paused ones stay.
    let after = &firing["listed_after"];
    assert_eq!(after["funboost"], json!(["paused_at_add", "paused_later"]), "{after}");
    assert_eq!((&after["edge"], &after["edge_finished"]), (&after["funboost"], &json!([])), "{after}");
    assert_eq!(firing["received_equal"], json!(true), "what the consumer's function received: {}", serde_json::to_string_pretty(&firing["received"]).unwrap());
    let elapsed = started.elapsed();
    eprintln!("client differential: {} calls, firing compared, {:.1}s", frozen["calls"], elapsed.as_secs_f64());
    drop(scratch);
}

#[test]
fn the_package_passes_its_unit_tests_and_mypy_strict_and_builds_a_typed_wheel() {
    let python = python();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let package = root.join("clients/python");
    let scratch = Scratch::new("client_package");
    let run = |args: &[&str], what: &str| {
        let out = Command::new(&python)
            .args(args)
            .current_dir(&package)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env_remove("FUNBOOST_EDGE_URL")
            .env_remove("FUNBOOST_EDGE_TOKEN")
            .env_remove("FUNBOOST_EDGE_API_TOKEN")
            .output()
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "{what} failed:\n{text}");
        text
    };
    // The installed package is this checkout's (scripts/prepare installs it, editable).
    let found = run(&["-c", "import funboost_edge, os; print(os.path.realpath(funboost_edge.__file__))"], "import funboost_edge");
    let source = std::fs::canonicalize(package.join("src/funboost_edge/__init__.py")).unwrap();
    assert_eq!(found.trim(), source.to_string_lossy(), "the venv's funboost_edge is not this checkout's: run scripts/prepare");

    let tests = run(&["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], "pytest clients/python/tests");
    eprintln!("{}", tests.lines().last().unwrap_or(""));
    let cache = scratch.0.join("mypy_cache");
    let typed = run(&["-m", "mypy", "--strict", "--cache-dir", cache.to_str().unwrap(), "src/funboost_edge"], "mypy --strict");
    assert!(typed.contains("Success: no issues found"), "{typed}");

    // A wheel, built offline with the venv's setuptools (`pip install ./clients/python` builds
    // the same one), holds the typed package. Built from a copy, so that setuptools' build
    // directories stay out of the checkout.
    let copy = scratch.0.join("package");
    run(
        &[
            "-c",
            &format!(
                "import shutil; shutil.copytree('.', {:?}, ignore=shutil.ignore_patterns('build', '*.egg-info', '__pycache__', '.*cache'))",
                copy.to_str().unwrap()
            ),
        ],
        "copy clients/python",
    );
    let wheels = scratch.0.join("wheels");
    run(
        &[
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--disable-pip-version-check",
            "--wheel-dir",
            wheels.to_str().unwrap(),
            copy.to_str().unwrap(),
        ],
        "pip wheel clients/python",
    );
    let wheel =
        std::fs::read_dir(&wheels).unwrap().filter_map(Result::ok).map(|e| e.path()).find(|p| p.extension().is_some_and(|e| e == "whl")).expect("a wheel");
    let listing = run(&["-c", &format!("import zipfile; print('\\n'.join(zipfile.ZipFile({:?}).namelist()))", wheel.to_str().unwrap())], "list the wheel");
    for file in ["funboost_edge/__init__.py", "funboost_edge/py.typed", "funboost_edge/adder.py", "funboost_edge/cli.py", "funboost_edge/jobfile.py"] {
        assert!(listing.lines().any(|l| l == file), "{file} not in {}: {listing}", wheel.display());
    }
    let metadata = listing.lines().find(|l| l.ends_with(".dist-info/METADATA")).expect("METADATA");
    let text = run(&["-c", &format!("import zipfile; print(zipfile.ZipFile({:?}).read({metadata:?}).decode())", wheel.to_str().unwrap())], "read METADATA");
    assert!(text.contains("Name: funboost-edge") && text.contains("Requires-Python: >=3.9") && text.contains("Requires-Dist: requests"), "{text}");
    // requests only by default; the command's readers are optional extras.
    let requires: Vec<&str> = text.lines().filter(|l| l.starts_with("Requires-Dist:")).collect();
    let by_default: Vec<&&str> = requires.iter().filter(|l| !l.contains("extra ==")).collect();
    assert_eq!(by_default.len(), 1, "requests only by default: {requires:?}");
    for extra in ["toml", "yaml"] {
        assert!(text.lines().any(|l| l == format!("Provides-Extra: {extra}")), "no extra {extra}: {text}");
    }
    assert!(requires.iter().any(|l| l.contains("PyYAML") && l.contains("extra == \"yaml\"")), "{requires:?}");
    assert!(requires.iter().any(|l| l.contains("tomli") && l.contains("python_version < \"3.11\"") && l.contains("extra == \"toml\"")), "{requires:?}");
    // The console script.
    let entry_points = listing.lines().find(|l| l.ends_with(".dist-info/entry_points.txt")).expect("entry_points.txt");
    let scripts = run(
        &["-c", &format!("import zipfile; print(zipfile.ZipFile({:?}).read({entry_points:?}).decode())", wheel.to_str().unwrap())],
        "read entry_points.txt",
    );
    assert!(scripts.contains("[console_scripts]") && scripts.contains("funboost-edge = funboost_edge.cli:run"), "{scripts}");
}
