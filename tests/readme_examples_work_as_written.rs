//! The README's quick start and examples work as written, in order, against the app as `spin up`
//! runs it: the real `.wasm` components served by `funboost-test-host serve` (API and ticker, a
//! tick every second, spin.toml's variable defaults), a real redis-server and the real funboost
//! 55 consumer the README tells a newcomer to run (`examples/quickstart/consumer.py`).
//!
//! The test reads README.md and runs every fenced block preceded by a marker line, in document
//! order, as a user following the README would:
//!
//! * `<!-- readme-test: consumer -->`: the block that starts the consumer. It must name
//!   `examples/quickstart/consumer.py`; the test runs that file with the venv's Python and waits
//!   until funboost has registered its queue.
//! * `<!-- readme-test: run -->`: shell commands. Each command (with its `\` continuation lines)
//!   runs in `bash`, after the variable assignments (`BASE=...`) of the blocks before it. Every
//!   command but an assignment must print funboost's JSON envelope with `"succ": true`, unless a
//!   `# -> ...` line under it says `"succ": false`. Every `"key": value` in a `# ->` line (and
//!   its continuation lines, `#` and two or more spaces) whose value is complete JSON must be
//!   found somewhere in the answer with that value: a string ending in `...` is a prefix, an
//!   object may leave keys out, an array lists every element. Incomplete JSON (`{...`) is not
//!   compared itself, but the complete `"key": value` pairs inside it are. So only write values
//!   there that do not depend on the day the test runs. A command whose answer is not JSON (the
//!   metrics route's text) must have a `# ->` line: each of its lines must be a line of the
//!   answer, or its prefix when it ends in `...`.
//! * `<!-- readme-test: worker-prints -->`: every line of the block must appear as a line of the
//!   consumer's output within 30 s (the quick start's interval job first fires 10 s after its
//!   add; the rest is room for a slow machine, not an assumption about tick timing).
//!
//! The first fenced block (the README's first screen) must still hold the run command
//! (`spin build --up`) and the test command (`./scripts/test`).
//!
//! Rewrites, because tests run in parallel on one machine: `127.0.0.1:3000` in the commands
//! becomes the test host's address (it listens on a free loopback port), and the Redis port
//! 6379 in the consumer's `funboost_config.py` becomes the test's redis-server port (the consumer
//! runs from a copy of `examples/quickstart/` in a temporary directory, so its logs stay out of
//! the checkout). Commands run with `no_proxy` set for loopback and `TICK_TOKEN` unset, as in a
//! fresh shell. Not run: the first screen's commands (`spin build --up` is what the served test
//! host stands in for; `./scripts/test` is what runs this test), the Spin install block, and the
//! Configuration section's deployment examples (Kubernetes, hosted Spin).
//!
//! Needs what `./scripts/test` prepares: redis-server, the components built
//! (`cargo build --target wasm32-wasip2 --profile wasm -p funboost-api -p funboost-ticker`) and the
//! venv with funboost 55 (`$FUNBOOST_EDGE_PYTHON`). Takes about 20 s, most of it waiting for the
//! quick start's first fire. `$FUNBOOST_EDGE_README` runs another copy of the README (to see
//! that a broken example fails).

mod common;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{assert_envelope, python, test_host_bin};
use funboost_test_host::test_support::{spin_variables, wasm_path, RedisServer};
use serde_json::Value;

/// The README's address of the app (`spin up`'s default listen address).
const README_ADDR: &str = "127.0.0.1:3000";
/// The README's Redis port (spin.toml's `redis_url` default, and the consumer's config).
const README_REDIS_PORT: &str = "6379";
/// The consumer file the README must tell users to run.
const CONSUMER: &str = "examples/quickstart/consumer.py";
/// How long a `worker-prints` line may take to appear, from the moment the block is reached (the
/// quick start's job first fires 10 s after its add).
const WORKER_PRINT_TIMEOUT: Duration = Duration::from_secs(30);
/// Every route a newcomer meets in the quick start and examples.
const ROUTES: [&str; 8] =
    ["add_timing_job", "get_timing_jobs", "get_timing_job", "preview_timing_job", "pause_timing_job", "resume_timing_job", "delete_timing_job", "metrics"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Consumer,
    Run,
    WorkerPrints,
}

/// A marked fenced block: its kind, the README line of its opening fence, its text.
#[derive(Debug)]
struct Block {
    kind: Kind,
    line: usize,
    text: String,
}

/// The marked blocks of `readme`, in order. A marker must be followed by a fenced block.
fn marked_blocks(readme: &str) -> Vec<Block> {
    let lines: Vec<&str> = readme.lines().collect();
    let mut blocks = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim();
        if let Some(rest) = line.strip_prefix("<!-- readme-test:") {
            let name = rest.strip_suffix("-->").unwrap_or_else(|| panic!("README line {}: unclosed marker {line:?}", i + 1)).trim();
            let kind = match name {
                "consumer" => Kind::Consumer,
                "run" => Kind::Run,
                "worker-prints" => Kind::WorkerPrints,
                other => panic!("README line {}: unknown readme-test marker {other:?} (consumer, run, worker-prints)", i + 1),
            };
            let mut j = i + 1;
            while j < lines.len() && lines[j].trim().is_empty() {
                j += 1;
            }
            assert!(j < lines.len() && lines[j].trim_start().starts_with("```"), "README line {}: the marker is not followed by a fenced block", i + 1);
            let fence_line = j + 1;
            let mut text = String::new();
            j += 1;
            while j < lines.len() && !lines[j].trim_start().starts_with("```") {
                text.push_str(lines[j]);
                text.push('\n');
                j += 1;
            }
            assert!(j < lines.len(), "README line {fence_line}: the block is not closed");
            blocks.push(Block { kind, line: fence_line, text });
            i = j;
        }
        i += 1;
    }
    blocks
}

/// One command of a `run` block: the README line it starts on, its text (continuations joined),
/// and its `# ->` expectation, if any.
#[derive(Debug)]
struct Step {
    line: usize,
    command: String,
    expect: Option<String>,
    /// The `# ->` text line by line, for answers that are not JSON.
    expect_lines: Vec<String>,
}

fn steps(block: &Block) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut in_expectation = false;
    let mut lines = block.text.lines().enumerate().peekable();
    while let Some((n, line)) = lines.next() {
        let readme_line = block.line + 1 + n;
        let trimmed = line.trim();
        if trimmed.is_empty() {
            in_expectation = false;
        } else if let Some(expect) = trimmed.strip_prefix("# ->") {
            let step = steps.last_mut().unwrap_or_else(|| panic!("README line {readme_line}: `# ->` before any command"));
            assert!(step.expect.is_none() && !in_expectation, "README line {readme_line}: a second `# ->` for one command");
            step.expect = Some(expect.trim().to_string());
            step.expect_lines.push(expect.trim().to_string());
            in_expectation = true;
        } else if let Some(comment) = trimmed.strip_prefix('#') {
            if in_expectation && comment.starts_with("  ") {
                let step = steps.last_mut().unwrap();
                let expect = step.expect.as_mut().unwrap();
                expect.push(' ');
                expect.push_str(comment.trim());
                step.expect_lines.push(comment.trim().to_string());
            } else {
                in_expectation = false;
            }
        } else {
            in_expectation = false;
            let mut command = line.to_string();
            while command.trim_end().ends_with('\\') {
                let (_, next) = lines.next().unwrap_or_else(|| panic!("README line {readme_line}: `\\` continues past the block"));
                command.push('\n');
                command.push_str(next);
            }
            steps.push(Step { line: readme_line, command, expect: None, expect_lines: Vec::new() });
        }
    }
    steps
}

/// `NAME=value` with nothing else on the line: a shell assignment, replayed before later commands.
fn is_assignment(command: &str) -> bool {
    let command = command.trim();
    let name_end = command.find('=').unwrap_or(0);
    name_end > 0
        && command[..name_end].chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !command[..1].chars().all(|c| c.is_ascii_digit())
        && !command.contains(char::is_whitespace)
}

/// The checks of a `# ->` text: every `"key": <complete JSON value>` in it, in order.
fn expected_pairs(expect: &str) -> Vec<(String, Value)> {
    let mut pairs = Vec::new();
    let mut i = 0;
    while let Some(offset) = expect[i..].find('"') {
        let start = i + offset;
        let mut strings = serde_json::Deserializer::from_str(&expect[start..]).into_iter::<String>();
        let Some(Ok(key)) = strings.next() else {
            i = start + 1;
            continue;
        };
        let after_key = start + strings.byte_offset();
        let rest = &expect[after_key..];
        let Some(value_text) = rest.trim_start().strip_prefix(':') else {
            i = after_key; // a string that is not a key (a value, or prose)
            continue;
        };
        let value_start = expect.len() - value_text.trim_start().len();
        let mut values = serde_json::Deserializer::from_str(&expect[value_start..]).into_iter::<Value>();
        match values.next() {
            Some(Ok(value)) => {
                pairs.push((key, value));
                i = value_start + values.byte_offset();
            }
            _ => i = value_start, // truncated (`{"job_id": ...`): look inside it
        }
    }
    pairs
}

/// Whether `actual` is what the README shows as `expected`: a string ending in `...` is a prefix,
/// an object shows some of the keys (each matching), an array shows every element.
fn matches(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (Value::String(a), Value::String(e)) if e.ends_with("...") => a.starts_with(&e[..e.len() - 3]),
        (Value::Object(a), Value::Object(e)) => e.iter().all(|(k, v)| a.get(k).is_some_and(|got| matches(got, v))),
        (Value::Array(a), Value::Array(e)) => a.len() == e.len() && a.iter().zip(e).all(|(got, v)| matches(got, v)),
        _ => actual == expected,
    }
}

/// Whether `key` occurs anywhere in `value` with a value that `matches` `expected`.
fn has_pair(value: &Value, key: &str, expected: &Value) -> bool {
    match value {
        Value::Object(map) => map.iter().any(|(k, v)| (k == key && matches(v, expected)) || has_pair(v, key, expected)),
        Value::Array(items) => items.iter().any(|v| has_pair(v, key, expected)),
        _ => false,
    }
}

/// A child process killed (and reaped) on drop, its output in a file.
struct Process {
    child: Child,
    log: PathBuf,
    name: &'static str,
}

impl Process {
    fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().expect("try_wait")
    }

    fn tail(&self) -> String {
        let text = self.output();
        let lines: Vec<&str> = text.lines().collect();
        format!("--- last lines of the {} output ({}):\n{}", self.name, self.log.display(), lines[lines.len().saturating_sub(40)..].join("\n"))
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(name: &'static str, mut command: Command, log: PathBuf) -> Process {
    let out = File::create(&log).expect("log file");
    let child = command
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("log file"))
        .stderr(out)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start the {name} ({command:?}): {e}"));
    Process { child, log, name }
}

/// `funboost-test-host serve` with the three components and spin.toml's variables pointed at `redis`;
/// returns the process and its `host:port` once it listens.
fn serve(redis: &RedisServer, dir: &Path) -> (Process, String) {
    let mut command = Command::new(test_host_bin());
    command.arg("serve").arg("--api").arg(wasm_path("funboost_api")).arg("--ticker").arg(wasm_path("funboost_ticker"));
    // The web component serves /funboost/openapi.json (and the management page), as under spin up.
    command.arg("--web").arg(wasm_path("funboost_web")).arg("--http-tick").arg(wasm_path("funboost_http_tick"));
    command.args(["--listen", "127.0.0.1:0", "--tick-every-ms", "1000"]);
    for (name, value) in spin_variables(&redis.url(7), &[]) {
        command.arg("--var").arg(format!("{name}={value}"));
    }
    let mut host = spawn("test host", command, dir.join("test-host.log"));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(addr) = host.output().lines().find_map(|l| l.strip_prefix("listening on http://")) {
            return (host, addr.trim().to_string());
        }
        if let Some(status) = host.exited() {
            panic!("the test host exited ({status}) before listening\n{}", host.tail());
        }
        assert!(Instant::now() < deadline, "the test host did not listen within 60 s\n{}", host.tail());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Copies `examples/quickstart/*.py` into `dir`, pointed at `redis`, runs `consumer.py` there
/// and waits until funboost registered `test_queue`.
fn start_consumer(redis: &RedisServer, conn: &mut redis::Connection, dir: &Path) -> Process {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart");
    let project = dir.join("quickstart");
    std::fs::create_dir_all(&project).unwrap();
    for entry in std::fs::read_dir(&source).expect("examples/quickstart").flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "py") {
            let mut text = std::fs::read_to_string(&path).unwrap();
            if path.file_name().is_some_and(|n| n == "funboost_config.py") {
                assert!(text.contains(&format!("REDIS_PORT = {README_REDIS_PORT}")), "funboost_config.py no longer uses Redis port {README_REDIS_PORT}");
                text = text.replace(README_REDIS_PORT, &redis.port().to_string());
            }
            std::fs::write(project.join(entry.file_name()), text).unwrap();
        }
    }
    let mut command = Command::new(python());
    // Started from the directory above, as the README starts it from the checkout's root.
    command.arg(project.join("consumer.py")).current_dir(dir).env("PYTHONUNBUFFERED", "1");
    let mut consumer = spawn("consumer", command, dir.join("consumer.log"));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let registered: bool = redis::cmd("HEXISTS").arg("funboost_queue__consumer_parmas").arg("test_queue").query(conn).expect("HEXISTS");
        if registered {
            return consumer;
        }
        if let Some(status) = consumer.exited() {
            panic!("the consumer exited ({status}) before registering test_queue (funboost 55 in the venv?)\n{}", consumer.tail());
        }
        assert!(Instant::now() < deadline, "the consumer did not register test_queue within 60 s\n{}", consumer.tail());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs one command in bash after `prelude`; returns its stdout. Fails on a non-zero exit or
/// after 30 s.
fn run_shell(prelude: &str, command: &str, line: usize, dir: &Path) -> String {
    let script = format!("set -o pipefail\n{prelude}{command}\n");
    let stdout_path = dir.join("step.out");
    let stderr_path = dir.join("step.err");
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(dir)
        .env_remove("TICK_TOKEN")
        .env_remove("BASE")
        .env("no_proxy", "127.0.0.1,localhost")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .stdin(Stdio::null())
        .stdout(File::create(&stdout_path).unwrap())
        .stderr(File::create(&stderr_path).unwrap())
        .spawn()
        .expect("bash");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("README line {line}: no answer within 30 s:\n{command}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let stdout = std::fs::read_to_string(&stdout_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    assert!(status.success(), "README line {line}: exited with {status}:\n{command}\nstdout: {stdout}\nstderr: {stderr}");
    stdout
}

/// Checks one command's output against its expectation; returns what it answered, for the log.
fn check_answer(step: &Step, output: &str) -> String {
    if !output.trim_start().starts_with('{') {
        assert!(
            !step.expect_lines.is_empty(),
            "README line {}: the answer is not JSON and no `# ->` says what it is:\n{}\n-> {output}",
            step.line,
            step.command
        );
        for want in &step.expect_lines {
            let found = match want.strip_suffix("...") {
                Some(prefix) => output.lines().any(|l| l.starts_with(prefix)),
                None => output.lines().any(|l| l == want),
            };
            assert!(found, "README line {}: the README says the answer has the line {want:?}, it has not:\n{}\n-> {output}", step.line, step.command);
        }
        return format!("text, {} checked line(s)", step.expect_lines.len());
    }
    let envelope: Value = serde_json::from_str(output.trim())
        .unwrap_or_else(|e| panic!("README line {}: the answer is not JSON ({e}):\n{}\n-> {output}", step.line, step.command));
    assert_envelope(&envelope);
    let pairs = step.expect.as_deref().map(expected_pairs).unwrap_or_default();
    let want_succ = pairs.iter().find(|(k, _)| k == "succ").map(|(_, v)| v.clone()).unwrap_or(Value::Bool(true));
    assert_eq!(envelope["succ"], want_succ, "README line {}: `succ` is not what the README says:\n{}\n-> {envelope}", step.line, step.command);
    for (key, expected) in &pairs {
        assert!(
            has_pair(&envelope, key, expected),
            "README line {}: the README says the answer has \"{key}\": {expected}, it has not:\n{}\n-> {envelope}",
            step.line,
            step.command
        );
    }
    format!("succ {}, code {}, {} checked value(s)", envelope["succ"], envelope["code"], pairs.len())
}

#[test]
fn the_readme_quick_start_and_examples_work_as_written_in_order() {
    let started = Instant::now();
    let readme_path = std::env::var_os("FUNBOOST_EDGE_README")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"));
    let readme = std::fs::read_to_string(&readme_path).unwrap_or_else(|e| panic!("{}: {e}", readme_path.display()));
    let first_block = readme.split("```").nth(1).unwrap_or("");
    for command in ["spin build --up", "./scripts/test"] {
        assert!(first_block.contains(command), "the README's first screen lost `{command}`");
    }
    let blocks = marked_blocks(&readme);
    for kind in [Kind::Consumer, Kind::Run, Kind::WorkerPrints] {
        assert!(blocks.iter().any(|b| b.kind == kind), "README has no block marked {kind:?}");
    }
    let run_text: String = blocks.iter().filter(|b| b.kind == Kind::Run).map(|b| b.text.as_str()).collect();
    assert!(run_text.contains(README_ADDR), "the README's commands no longer address {README_ADDR}");
    for route in ROUTES {
        assert!(run_text.contains(&format!("/{route}")), "no tested README command calls {route}");
    }

    let dir = std::env::temp_dir().join(format!("funboost_edge_readme_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let redis = RedisServer::start().expect("redis-server");
    let mut conn = common::connect(&redis);
    let (mut host, addr) = serve(&redis, &dir);
    eprintln!("test host on {addr}, redis on {} ({:?})", redis.port(), started.elapsed());

    let mut consumer: Option<Process> = None;
    let mut prelude = String::new();
    let mut commands = 0;
    for block in &blocks {
        match block.kind {
            Kind::Consumer => {
                assert!(block.text.contains(CONSUMER), "README line {}: the consumer block does not run {CONSUMER}", block.line);
                assert!(consumer.is_none(), "README line {}: a second consumer block", block.line);
                consumer = Some(start_consumer(&redis, &mut conn, &dir));
                eprintln!("README line {}: consumer registered test_queue ({:?})", block.line, started.elapsed());
            }
            Kind::Run => {
                for step in steps(block) {
                    let command = step.command.replace(README_ADDR, &addr);
                    let output = run_shell(&prelude, &command, step.line, &dir);
                    if is_assignment(&command) {
                        prelude.push_str(&command);
                        prelude.push('\n');
                        continue;
                    }
                    let summary = check_answer(&step, &output);
                    commands += 1;
                    eprintln!("README line {}: {summary} ({:?})", step.line, started.elapsed());
                    if let Some(status) = host.exited() {
                        panic!("the test host exited ({status})\n{}", host.tail());
                    }
                }
            }
            Kind::WorkerPrints => {
                let consumer = consumer.as_mut().unwrap_or_else(|| panic!("README line {}: the worker prints before any consumer runs", block.line));
                let deadline = Instant::now() + WORKER_PRINT_TIMEOUT;
                for want in block.text.lines().map(str::trim).filter(|l| !l.is_empty()) {
                    while !consumer.output().lines().any(|l| l.trim() == want) {
                        if let Some(status) = consumer.exited() {
                            panic!("README line {}: the consumer exited ({status}) before printing {want:?}\n{}", block.line, consumer.tail());
                        }
                        assert!(
                            Instant::now() < deadline,
                            "README line {}: the consumer did not print {want:?} within {WORKER_PRINT_TIMEOUT:?}\n{}\n{}",
                            block.line,
                            consumer.tail(),
                            host.tail()
                        );
                        std::thread::sleep(Duration::from_millis(100));
                    }
                    eprintln!("README line {}: the consumer printed {want:?} ({:?})", block.line, started.elapsed());
                }
            }
        }
    }
    assert!(commands >= ROUTES.len(), "only {commands} README commands ran");

    let mut consumer = consumer.unwrap();
    assert!(consumer.exited().is_none(), "the consumer stopped\n{}", consumer.tail());
    let output = consumer.output();
    assert!(!output.contains("Traceback"), "the consumer hit an error\n{}", consumer.tail());
    drop(consumer);
    drop(host);
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!("{commands} README commands answered as documented in {:?}", started.elapsed());
}

/// The `# ->` grammar, on the shapes the README uses.
#[test]
fn expectation_lines_become_key_value_checks() {
    let pairs = expected_pairs(
        r#"{"succ":true,"msg":"timing job hello added to queue test_queue","data":{"job_id":"hello", "trigger_str":"interval[0:00:10]",...},"code":200,...}"#,
    );
    let keys: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["succ", "msg", "job_id", "trigger_str", "code"]);
    assert_eq!(pairs[0].1, Value::Bool(true));
    let pairs = expected_pairs(r#""data":{..., "next_run_times":["2025-12-04 15:30:00+08:00","2025-12-05 15:30:00+08:00"]}"#);
    assert_eq!(pairs.len(), 1);
    assert_eq!(pairs[0].1.as_array().map(Vec::len), Some(2));
    let pairs = expected_pairs(r#"{"succ":false,"msg":"minute: Error validating expression '61': ...","error_data":{"field":"minute"},"next_run_time":null}"#);
    assert_eq!(pairs.len(), 4);
    let answer = serde_json::json!({"succ": false, "msg": "minute: Error validating expression '61': out of range", "data": {"error_data": {"field": "minute"}, "next_run_time": null}});
    for (key, value) in &pairs {
        assert!(has_pair(&answer, key, value), "{key}: {value}");
    }
    assert!(!has_pair(&answer, "msg", &Value::String("minute: other...".into())));
    assert!(has_pair(&answer, "data", &serde_json::json!({"next_run_time": null})), "an object may leave keys out");
    assert!(!has_pair(&answer, "data", &serde_json::json!({"next_run_time": 1})));
    assert!(is_assignment("BASE=http://127.0.0.1:3000/funboost") && !is_assignment("curl -s $BASE/health"));
}
