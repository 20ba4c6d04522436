//! Jobs as code from a file: the Python package's `funboost-edge` command (clients/python,
//! `funboost-edge apply FILE` and `funboost-edge export`), run as a user runs it (the console
//! script of the test venv) against the real `.wasm` served over TCP by the test host, with an
//! API token:
//! - a TOML file is applied (created), applied again (unchanged: every stored job keeps its
//!   version), edited and planned with `--dry-run` (nothing stored), applied (updated with the
//!   changed fields old -> new, created), and pruned (only the file's queue);
//! - a bad file changes nothing: TOML that does not parse and a usage error exit 2, a job the
//!   app refuses exits 1 naming the job and the field; no app at the address exits 2, a wrong
//!   token 1;
//! - YAML (unquoted dates included) and JSON on stdin are applied the same way;
//! - `export` writes the jobs (including ones added through `add_timing_job`, with an explicit
//!   default zone, a fixed-offset run_date, options, a null argument) as TOML, YAML and JSON
//!   that `apply` takes back with every job unchanged; a null argument cannot be TOML (exit 2,
//!   saying so); exporting twice writes the same file;
//! - without PyYAML, a YAML file is refused with the extra to install.
//!
//! Needs redis-server, the components and the test venv with the package installed
//! (`scripts/prepare`: `pip install -e ./clients/python`, which installs the console script).

mod firing;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use firing::*;
use serde_json::{json, Value};

const Q: &str = "fe_file";
const OTHER: &str = "fe_file_other";
const TOKEN: &str = "file-test-token";

/// A scratch directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        let dir = std::env::temp_dir().join(format!("funboost_edge_jobs_file_{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Scratch(dir)
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.0.join(name), text).expect("write a job file");
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.0.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What one run of the command did.
struct Run {
    status: i32,
    stdout: String,
    stderr: String,
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}\n--- stdout\n{}--- stderr\n{}", self.status, self.stdout, self.stderr)
    }
}

impl Run {
    /// The plan's lines: (step, queue/job_id, what changes).
    fn plan(&self) -> Vec<(String, String, String)> {
        self.stdout
            .lines()
            .filter(|l| l.starts_with("  "))
            .map(|l| {
                let mut words = l.trim_start().splitn(2, ' ');
                let step = words.next().unwrap_or_default().to_string();
                let rest = words.next().unwrap_or_default().trim_start();
                let (name, detail) = rest.split_once(' ').unwrap_or((rest, ""));
                (step, name.to_string(), detail.trim().to_string())
            })
            .collect()
    }

    /// The `queue/job_id`s of one step of the plan, in order.
    fn step(&self, step: &str) -> Vec<String> {
        self.plan().into_iter().filter(|(s, _, _)| s == step).map(|(_, name, _)| name).collect()
    }

    /// What the plan says changes in one job (`kwargs: {...} -> {...}; trigger: ...`).
    fn changes_of(&self, name: &str) -> String {
        self.plan().into_iter().find(|(s, n, _)| s == "update" && n == name).map(|(_, _, d)| d).unwrap_or_else(|| panic!("no update of {name}: {self}"))
    }
}

/// The `funboost-edge` console script of the test venv, run in the scratch directory against
/// the app at `url` (`$FUNBOOST_EDGE_URL`, `$FUNBOOST_EDGE_TOKEN`).
struct Cli {
    bin: PathBuf,
    url: String,
    dir: PathBuf,
}

impl Cli {
    fn new(url: String, dir: &Path) -> Cli {
        let python = python();
        let bin = python.parent().expect("the venv's bin directory").join("funboost-edge");
        assert!(bin.is_file(), "no {} (the package's console script): run scripts/prepare (pip install -e ./clients/python)", bin.display());
        Cli { bin, url, dir: dir.to_path_buf() }
    }

    fn run_with(&self, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Run {
        let mut command = Command::new(&self.bin);
        command
            .args(args)
            .current_dir(&self.dir)
            .env("FUNBOOST_EDGE_URL", &self.url)
            .env("FUNBOOST_EDGE_TOKEN", TOKEN)
            .env_remove("FUNBOOST_EDGE_API_TOKEN")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("PYTHONIOENCODING", "utf-8")
            .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            command.env(k, v);
        }
        let out = tokio::task::block_in_place(|| {
            let mut child = command.spawn().unwrap_or_else(|e| panic!("cannot run {}: {e}", self.bin.display()));
            if let Some(text) = stdin {
                use std::io::Write;
                child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write stdin");
            }
            child.wait_with_output().expect("funboost-edge")
        });
        Run {
            status: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, None, &[])
    }

    /// A run that must exit 0.
    fn ok(&self, args: &[&str]) -> Run {
        let run = self.run(args);
        assert_eq!(run.status, 0, "funboost-edge {}:\n{run}", args.join(" "));
        run
    }

    /// A run that must exit `status` and print `needles` on stderr.
    fn fails(&self, args: &[&str], status: i32, needles: &[&str]) -> Run {
        self.fails_with(args, None, &[], status, needles)
    }

    fn fails_with(&self, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)], status: i32, needles: &[&str]) -> Run {
        let run = self.run_with(args, stdin, env);
        assert_eq!(run.status, status, "funboost-edge {}:\n{run}", args.join(" "));
        for needle in needles {
            assert!(run.stderr.contains(needle), "funboost-edge {}: stderr lacks {needle:?}:\n{run}", args.join(" "));
        }
        run
    }
}

/// Every stored job of `queues`, by (queue, job_id): its fields and its version.
fn snapshot(env: &mut Env, queues: &[&str]) -> HashMap<(String, String), Value> {
    store::all_stored_jobs(&mut env.conn).into_iter().filter(|((q, _), _)| queues.contains(&q.as_str())).collect()
}

fn ids(snapshot: &HashMap<(String, String), Value>) -> Vec<String> {
    let mut ids: Vec<String> = snapshot.keys().map(|(q, j)| format!("{q}/{j}")).collect();
    ids.sort();
    ids
}

const FIRST: &str = r#"# the jobs of queue fe_file
queue_name = "fe_file"

[[jobs]]
job_id = "weekday_morning"
trigger = "cron"
day_of_week = "mon-fri"
hour = 9
kwargs = { x = 1, y = 2 }

[[jobs]]
job_id = "every_10_minutes"
trigger = "interval"
minutes = 10
start_date = 2030-01-01T00:00:00
args = [1, 2]
misfire_grace_time = "none"   # no limit
paused = true

[[jobs]]
job_id = "twice_a_day"
trigger = "or"
triggers = [
    { trigger = "cron", hour = 9, timezone = "UTC" },
    { trigger = "cron", hour = 17, minute = 30 },
]
kwargs = { x = { "nested key" = [1, "é", true] } }
max_retry_times = 3

[[jobs]]
job_id = "monthly"
trigger = "calendarinterval"
months = 1
hour = 9
minute = 30
start_date = 2030-01-31
timezone = "Europe/London"
kwargs = { x = 3 }
coalesce = false

[[jobs]]
job_id = "new_year"
trigger = "date"
run_date = 2031-01-01T00:00:00+05:30
args = ["fireworks"]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_file_is_applied_kept_edited_pruned_refused_whole_and_exported_back() {
    let mut env = Env::start(&[("api_token", TOKEN)]);
    env.register_queue(Q, "REDIS");
    env.register_queue(OTHER, "REDIS");
    let (addr, server) = env.host.serve("127.0.0.1:0".parse().unwrap()).await.expect("serve");
    let scratch = Scratch::new();
    let cli = Cli::new(format!("http://{addr}"), &scratch.0);
    let auth = [("authorization", "Bearer file-test-token")];

    // 1. A TOML file: every job created, as the file says.
    scratch.write("jobs.toml", FIRST);
    let run = cli.ok(&["apply", "jobs.toml"]);
    assert!(run.stdout.starts_with(&format!("funboost-edge apply jobs.toml -> http://{addr}/funboost (queue fe_file)")), "{run}");
    let all = ["fe_file/every_10_minutes", "fe_file/monthly", "fe_file/new_year", "fe_file/twice_a_day", "fe_file/weekday_morning"];
    assert_eq!(run.step("create"), all, "{run}");
    assert!(run.stdout.contains("applied: created 5, updated 0, unchanged 0, deleted 0"), "{run}");
    let stored = snapshot(&mut env, &[Q]);
    assert_eq!(ids(&stored), all);
    let job = |s: &HashMap<(String, String), Value>, id: &str| s[&(Q.to_string(), id.to_string())].clone();
    assert_eq!(job(&stored, "weekday_morning")["trigger"], json!({"trigger": "cron", "day_of_week": "mon-fri", "hour": 9}));
    assert_eq!(job(&stored, "weekday_morning")["kwargs"], json!({"x": 1, "y": 2}));
    let every = job(&stored, "every_10_minutes");
    assert_eq!(
        (&every["trigger"]["start_date"], &every["misfire_grace_time"], &every["paused"], &every["args"]),
        (&json!("2030-01-01 00:00:00"), &Value::Null, &json!(true), &json!([1, 2])),
        "TOML date-times become the app's dates; \"none\" is no limit: {every}"
    );
    let twice = job(&stored, "twice_a_day");
    assert_eq!(twice["trigger"]["triggers"], json!([{"trigger": "cron", "hour": 9, "timezone": "UTC"}, {"trigger": "cron", "hour": 17, "minute": 30}]));
    assert_eq!((&twice["kwargs"], &twice["extra"]), (&json!({"x": {"nested key": [1, "é", true]}}), &json!({"max_retry_times": 3})));
    let monthly = job(&stored, "monthly");
    assert_eq!((&monthly["trigger"]["start_date"], &monthly["timezone"], &monthly["coalesce"]), (&json!("2030-01-31"), &json!("Europe/London"), &json!(false)));
    assert_eq!(job(&stored, "new_year")["trigger"]["run_date"], json!("2031-01-01 00:00:00+05:30"));

    // 2. The same file again: nothing changes, not even a version.
    let run = cli.ok(&["apply", "jobs.toml"]);
    assert_eq!(run.step("unchanged"), all, "{run}");
    assert!(run.stdout.contains("applied: created 0, updated 0, unchanged 5, deleted 0"), "{run}");
    assert_eq!(snapshot(&mut env, &[Q]), stored, "applying the same file twice changes nothing");

    // 3. Edited: new kwargs, a new hour, resumed, one more job. A dry run plans and stores nothing.
    let edited = FIRST
        .replace("hour = 9\nkwargs = { x = 1, y = 2 }", "hour = 10\nkwargs = { x = 5, y = 2 }")
        .replace("paused = true\n", "")
        .replace("months = 1\n", "months = 2\n")
        + "\n[[jobs]]\njob_id = \"added\"\ntrigger = \"interval\"\nhours = 6\nkwargs = { x = 6 }\n";
    scratch.write("jobs.toml", &edited);
    let run = cli.ok(&["apply", "jobs.toml", "--dry-run"]);
    assert!(run.stdout.contains("(queue fe_file, dry run)"), "{run}");
    assert_eq!(run.step("create"), ["fe_file/added"], "{run}");
    assert_eq!(run.step("update"), ["fe_file/every_10_minutes", "fe_file/monthly", "fe_file/weekday_morning"], "{run}");
    assert_eq!(
        run.changes_of("fe_file/weekday_morning"),
        r#"trigger: cron[day_of_week="mon-fri", hour=9] -> cron[day_of_week="mon-fri", hour=10]; kwargs: {"x": 1, "y": 2} -> {"x": 5, "y": 2}"#,
        "{run}"
    );
    assert_eq!(run.changes_of("fe_file/every_10_minutes"), "paused: true -> false");
    assert!(run.changes_of("fe_file/monthly").starts_with("trigger: calendarinterval[months=1, hour=9, minute=30,"), "{run}");
    assert!(run.stdout.contains("dry run, nothing stored: would create 1, update 3, leave 2 unchanged, delete 0"), "{run}");
    assert_eq!(snapshot(&mut env, &[Q]), stored, "a dry run stores nothing");
    let run = cli.ok(&["apply", "jobs.toml"]);
    assert!(run.stdout.contains("applied: created 1, updated 3, unchanged 2, deleted 0"), "{run}");
    let after = snapshot(&mut env, &[Q]);
    assert_eq!(job(&after, "weekday_morning")["kwargs"], json!({"x": 5, "y": 2}));
    assert_eq!(job(&after, "every_10_minutes")["paused"], json!(false));
    assert!(job(&after, "every_10_minutes")["next_run"].is_object(), "resumed: it has a next run again");
    for id in ["twice_a_day", "new_year"] {
        assert_eq!(job(&after, id), job(&stored, id), "{id} is untouched");
    }

    // 4. Prune: the jobs the file leaves out go, of its queue only.
    env.call_with(
        "POST",
        "add_timing_job",
        &auth,
        Some(&json!({"queue_name": OTHER, "job_id": "elsewhere", "trigger": "cron", "hour": "1", "kwargs": {"x": 1}})),
    )
    .await;
    let pruned = edited.split("\n[[jobs]]\njob_id = \"twice_a_day\"").next().unwrap().to_string();
    scratch.write("jobs.toml", &pruned);
    let run = cli.ok(&["apply", "jobs.toml", "--prune"]);
    assert!(run.stdout.contains("(queue fe_file, prune)"), "{run}");
    assert_eq!(run.step("delete"), ["fe_file/added", "fe_file/monthly", "fe_file/new_year", "fe_file/twice_a_day"], "{run}");
    assert_eq!(ids(&snapshot(&mut env, &[Q, OTHER])), ["fe_file/every_10_minutes", "fe_file/weekday_morning", "fe_file_other/elsewhere"]);
    scratch.write("jobs.toml", &edited);
    cli.ok(&["apply", "jobs.toml"]);

    // 5. Bad files change nothing.
    let before = snapshot(&mut env, &[Q, OTHER]);
    scratch.write("broken.toml", "queue_name = \"fe_file\"\n\n[[jobs]]\njob_id = \"x\"\ntrigger = cron\n");
    cli.fails(&["apply", "broken.toml"], 2, &["broken.toml: not valid TOML", "line 5"]);
    let bad_minute =
        edited.replace("hour = 10\n", "hour = 10\nminute = 61\n") + "\n[[jobs]]\njob_id = \"never\"\ntrigger = \"interval\"\nseconds = 5\nkwargs = { x = 1 }\n";
    scratch.write("bad.toml", &bad_minute);
    let run =
        cli.fails(&["apply", "bad.toml"], 1, &["refused bad.toml", "InvalidField", "nothing was applied", "job_id 'weekday_morning'", "field: minute", "61"]);
    assert!(run.stderr.contains("job:   jobs[0] of bad.toml"), "{run}");
    scratch.write("typo.toml", &edited.replace("minutes = 10", "minuts = 10"));
    cli.fails(&["apply", "typo.toml"], 1, &["job_id 'every_10_minutes'", "field: minuts", "unknown field"]);
    scratch.write("no_id.toml", "queue_name = \"fe_file\"\n[[jobs]]\ntrigger = \"cron\"\nhour = 1\nkwargs = { x = 1 }\n");
    cli.fails(&["apply", "no_id.toml"], 1, &["field: job_id", "is required"]);
    scratch.write("bad_args.toml", "queue_name = \"fe_file\"\n[[jobs]]\njob_id = \"z\"\ntrigger = \"cron\"\nhour = 1\nkwargs = { z = 1 }\n");
    cli.fails(&["apply", "bad_args.toml"], 1, &["FuncParamsError", "field: kwargs"]);
    scratch.write("when.toml", "queue_name = \"fe_file\"\n[[jobs]]\njob_id = \"w\"\ntrigger = \"cron\"\nkwargs = { x = 2030-01-01 }\n");
    cli.fails(&["apply", "when.toml"], 2, &["jobs[0]", "kwargs.x", "quote it"]);
    scratch.write("top.toml", "queue_name = \"fe_file\"\ntrigger = \"cron\"\njobs = []\n");
    cli.fails(&["apply", "top.toml"], 2, &["unknown top-level key 'trigger'", "[[jobs]]"]);
    cli.fails(&["apply", "jobs.toml", "--queue", OTHER], 2, &["--queue fe_file_other differs from the file's queue_name fe_file"]);
    cli.fails(&["apply", "missing.toml"], 2, &["missing.toml: cannot read it"]);
    cli.fails(&["apply", "jobs.txt"], 2, &["cannot tell the format"]);
    cli.fails(&["apply", "-"], 2, &["needs --format"]);
    cli.fails(&["apply"], 2, &["required"]);
    cli.fails_with(&["apply", "jobs.toml"], None, &[("FUNBOOST_EDGE_TOKEN", "wrong")], 1, &["Unauthorized", "4010"]);
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    cli.fails(&["apply", "jobs.toml", "--base-url", &format!("http://{closed}")], 2, &["cannot reach funboost-edge at"]);
    assert_eq!(snapshot(&mut env, &[Q, OTHER]), before, "no bad file changed anything");

    // 6. YAML (dates unquoted, as people write them) and JSON on stdin.
    let yaml = "queue_name: fe_file_other\njobs:\n  - job_id: elsewhere\n    trigger: cron\n    hour: '1'\n    kwargs: {x: 1}\n  - job_id: from_yaml\n    trigger: interval\n    hours: 2\n    start_date: 2030-06-01 12:00:00\n    end_date: 2031-06-01\n    kwargs: {x: [1, 2], y: null}\n    misfire_grace_time: 30\n";
    scratch.write("other.yaml", yaml);
    let run = cli.ok(&["apply", "other.yaml"]);
    assert_eq!(
        (run.step("unchanged"), run.step("create")),
        (vec!["fe_file_other/elsewhere".to_string()], vec!["fe_file_other/from_yaml".to_string()]),
        "{run}"
    );
    let from_yaml = env.stored_job(OTHER, "from_yaml").unwrap();
    assert_eq!(
        (&from_yaml["trigger"]["start_date"], &from_yaml["trigger"]["end_date"], &from_yaml["kwargs"]),
        (&json!("2030-06-01 12:00:00"), &json!("2031-06-01"), &json!({"x": [1, 2], "y": null})),
        "{from_yaml}"
    );
    let run = cli.ok(&["apply", "other.yaml"]);
    assert_eq!(run.step("unchanged").len(), 2, "{run}");
    let json_set = json!({"jobs": [{"queue_name": OTHER, "job_id": "from_json", "trigger": "date", "run_date": "2032-01-01 08:00:00", "args": [9]}]});
    let run = cli.run_with(&["apply", "-", "--format", "json", "--dry-run"], Some(&json_set.to_string()), &[]);
    assert_eq!((run.status, run.step("create")), (0, vec!["fe_file_other/from_json".to_string()]), "{run}");
    assert!(run.stdout.contains("funboost-edge apply <stdin> ->") && run.stdout.contains("the queues its jobs name"), "{run}");
    assert!(env.stored_job(OTHER, "from_json").is_none(), "a dry run stores nothing");

    // 7. Jobs added through the API, as EdgeJobAdder or curl adds them, with what a file must
    // give back: an explicit zone that is the app's default, a fixed-offset run_date, options.
    for body in [
        json!({"queue_name": Q, "job_id": "api_default_zone", "trigger": "cron", "hour": "3", "timezone": "Asia/Shanghai", "kwargs": {"x": 1}}),
        json!({"queue_name": Q, "job_id": "api_offset_date", "trigger": "date", "run_date": "2031-01-01 10:00:00+05:30", "kwargs": {"x": 1}}),
        json!({"queue_name": Q, "job_id": "api_options", "trigger": "interval", "seconds": 90, "start_date": "2030-05-05 05:05:05",
               "timezone": "America/New_York", "args": [1.5, "two \"quoted\"\nline"], "misfire_grace_time": 300, "coalesce": false,
               "function_timeout": 2.5, "user_extra_info": {"k": ["v"]}, "filter_str": "f", "paused": true}),
        json!({"queue_name": Q, "job_id": "api_and", "trigger": "and", "triggers": [
            {"trigger": "cron", "day_of_week": "fri", "hour": 9},
            {"trigger": "calendarinterval", "weeks": 1, "hour": 9, "start_date": "2030-01-04"}], "kwargs": {"x": 2}}),
    ] {
        let (status, envelope) = env.call_with("POST", "add_timing_job", &auth, Some(&json!(body))).await;
        assert_eq!(status, 200, "{envelope}");
    }

    // Exported and applied back: every job unchanged, every version the same.
    let before = snapshot(&mut env, &[Q, OTHER]);
    let (in_q, in_all) = (snapshot(&mut env, &[Q]).len(), before.len());
    assert_eq!((in_q, in_all), (10, 12));
    let run = cli.ok(&["export", "--queue", Q, "-o", "exported.toml"]);
    assert!(run.stderr.contains("exported 10 jobs of queue fe_file to exported.toml (toml; checked: applying it leaves all 10 unchanged)"), "{run}");
    let exported = scratch.read("exported.toml");
    assert!(exported.contains("queue_name = \"fe_file\"\n") && !exported.contains("queue_name = \"fe_file_other\""), "{exported}");
    for (needle, why) in [
        ("job_id = \"api_default_zone\"\ntrigger = \"cron\"\nhour = \"3\"\ntimezone = \"Asia/Shanghai\"\n", "a zone given is given back"),
        ("job_id = \"weekday_morning\"\ntrigger = \"cron\"\nday_of_week = \"mon-fri\"\nhour = 10\nkwargs = { x = 5, y = 2 }\n", "no zone where none was given"),
        ("run_date = \"2031-01-01 10:00:00+05:30\"\nkwargs", "a fixed offset stays in the date"),
        ("misfire_grace_time = \"none\"", "no limit"),
        ("coalesce = false", "options"),
        ("function_timeout = 2.5", "task options as fields"),
        ("paused = true", "paused"),
    ] {
        assert!(exported.contains(needle), "{why}: {needle:?} not in\n{exported}");
    }
    for run_state in ["fire_count", "next_run_time", "status", "last_fire"] {
        assert!(!exported.contains(run_state), "the run state is not exported ({run_state}):\n{exported}");
    }
    let run = cli.ok(&["apply", "exported.toml"]);
    let none: Vec<String> = vec![];
    assert_eq!((run.step("create"), run.step("update"), run.step("delete"), run.step("unchanged").len()), (none.clone(), none.clone(), none, in_q), "{run}");
    assert_eq!(snapshot(&mut env, &[Q, OTHER]), before, "export -> apply: every job unchanged");
    let again = cli.ok(&["export", "--queue", Q, "-o", "again.toml"]);
    assert_eq!(scratch.read("again.toml"), exported, "exporting twice writes the same file: {again}");

    // Every queue, as YAML (OTHER has a null argument) and JSON: unchanged again, also pruned.
    let run = cli.ok(&["export", "-o", "all.yaml"]);
    assert!(run.stderr.contains("exported 12 jobs of every queue to all.yaml (yaml; checked"), "{run}");
    let all_yaml = scratch.read("all.yaml");
    assert!(all_yaml.contains("  queue_name: fe_file_other\n") && all_yaml.contains("y: null"), "{all_yaml}");
    let run = cli.ok(&["apply", "all.yaml", "--prune"]);
    assert_eq!((run.step("unchanged").len(), run.plan().len()), (in_all, in_all), "{run}");
    let run = cli.ok(&["export", "--format", "json"]);
    let from_stdout: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {run}"));
    assert_eq!(from_stdout["jobs"].as_array().map(Vec::len), Some(in_all));
    let run = cli.run_with(&["apply", "-", "--format", "json"], Some(&run.stdout), &[]);
    assert_eq!((run.status, run.step("unchanged").len()), (0, in_all), "{run}");
    assert_eq!(snapshot(&mut env, &[Q, OTHER]), before, "exports of every queue -> apply: every job unchanged");
    // TOML cannot write a null: said, nothing written.
    cli.fails(&["export", "-o", "all.toml"], 2, &["job 'from_yaml' cannot be written as TOML", "kwargs.y is null", "--format yaml"]);
    assert!(!scratch.0.join("all.toml").exists());

    // 8. Without PyYAML (a shadowing package that fails to import): the extra to install.
    let no_yaml = scratch.0.join("no_yaml");
    std::fs::create_dir_all(no_yaml.join("yaml")).unwrap();
    std::fs::write(no_yaml.join("yaml/__init__.py"), "raise ImportError('PyYAML is not installed here')\n").unwrap();
    let path = no_yaml.to_str().unwrap();
    cli.fails_with(&["apply", "other.yaml"], None, &[("PYTHONPATH", path)], 2, &["YAML needs the PyYAML package", "pip install 'funboost-edge[yaml]'"]);
    cli.fails_with(&["export", "--format", "yaml"], None, &[("PYTHONPATH", path)], 2, &["pip install 'funboost-edge[yaml]'"]);
    let run = cli.run_with(&["apply", "jobs.toml", "--dry-run"], None, &[("PYTHONPATH", path)]);
    assert_eq!(run.status, 0, "TOML needs no PyYAML: {run}");
    server.abort();
}
