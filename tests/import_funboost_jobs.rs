//! Moving a team's existing funboost timing jobs into funboost-edge with
//! `tools/import_funboost_jobs.py`. Everything is real: a redis-server, a funboost project
//! directory whose `funboost_config.py` points at it, jobs stored there by funboost 55's own
//! `ApsJobAdder(job_store_kind='redis')` (tests/python/funboost_aps_jobs.py: date, interval and
//! cron jobs in seven zones, start/end dates across DST changes, jitter, misfire options, a
//! paused job; `OrTrigger` / `AndTrigger` / `CalendarIntervalTrigger` jobs passed as trigger
//! objects, nested, with parts in DST zones, a calendar interval on the 31st, across a DST gap
//! and fold, on February 29th, from a start date long past; and six jobs that cannot move), the
//! real API `.wasm` served over TCP with an API token, and the tool run from the project
//! directory as a user runs it. It proves that:
//! - the dry run writes nothing and reports every job, and `--queue` limits it;
//! - `--apply` imports every movable job exactly as APScheduler holds it (`trigger_str` is
//!   APScheduler's `str(trigger)`), and for each one funboost-edge's `next_run_times`
//!   (`get_timing_job?count=20`) are the fire times APScheduler computes from the original
//!   pickled trigger: from now for date / interval / cron jobs (and their next run time is the
//!   one funboost stored); for calendarinterval / or / and jobs, APScheduler's scheduler's own
//!   fire times on from the next run time funboost stored (that one itself when it is not past,
//!   jitter included); the paused jobs are paused and, resumed, fire when APScheduler's resume
//!   would (and while one runs here but is paused in funboost, a rerun reports that and changes
//!   neither side);
//! - a part with a sub-second interval, an `and` whose parts never agree, an `or` stepping a
//!   calendar interval from fires in another zone, functions that are not funboost's push,
//!   arguments that do not fit the consumer (5001) and unregistered queues (4001) are each
//!   reported with why and what to do, the exit status is 1, and the originals stay untouched;
//! - running `--apply` again imports nothing twice (the stored jobs are byte-for-byte the same);
//! - `--remove-source` deletes exactly the imported originals, and a later run finds only the
//!   jobs that could not move;
//! - without a `funboost_config.py` the tool stops (status 2) instead of letting funboost write a
//!   default one and read the wrong Redis;
//! - imported or / and / calendarinterval jobs made seconds before really fire through the app's
//!   tick on APScheduler's instants, and go on to APScheduler's next ones.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use funboost_test_host::test_support::{spin_variables, RedisServer};
use serde_json::{json, Value};

const TOKEN: &str = "import-test-token-0123456789";

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// A fresh directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("funboost_edge_import_{name}_{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// tests/python/funboost_aps_jobs.py `command`: its last stdout line, parsed.
async fn fixture(command: &str, project: &Path, port: u16) -> Value {
    let (python, script, project) = (python(), repo("tests/python/funboost_aps_jobs.py"), project.to_path_buf());
    let command = command.to_string();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python).arg(script).arg(&command).arg("--project").arg(&project).args(["--port", &port.to_string(), "--count", "20"]).output()
    })
    .await
    .expect("join")
    .expect("run funboost_aps_jobs.py");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "funboost_aps_jobs.py failed ({}):\n{stdout}\n{}", output.status, String::from_utf8_lossy(&output.stderr));
    let last = stdout.lines().last().unwrap_or("");
    serde_json::from_str(last).unwrap_or_else(|e| panic!("funboost_aps_jobs.py printed no JSON ({e}):\n{stdout}"))
}

/// What one run of the tool did.
struct Run {
    status: i32,
    stdout: String,
    stderr: String,
    /// job_id -> report entry.
    jobs: BTreeMap<String, Value>,
    report: Value,
}

/// Runs the tool from `cwd` (the funboost project, as a user does) with `args`.
async fn run_tool(cwd: &Path, base_url: &str, args: &[&str]) -> Run {
    // One file per run: the tests run in parallel.
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let report_file = std::env::temp_dir().join(format!("funboost_edge_import_report_{}_{n}.json", std::process::id()));
    let _ = std::fs::remove_file(&report_file);
    let mut command = Command::new(python());
    command.current_dir(cwd).arg(repo("tools/import_funboost_jobs.py")).args(["--base-url", base_url, "--token", TOKEN]);
    command.arg("--json-report").arg(&report_file).args(args).env_remove("FUNBOOST_EDGE_API_TOKEN");
    let output = tokio::task::spawn_blocking(move || command.output()).await.expect("join").expect("run import_funboost_jobs.py");
    let report: Value = std::fs::read(&report_file).ok().map(|b| serde_json::from_slice(&b).expect("the JSON report parses")).unwrap_or(Value::Null);
    let _ = std::fs::remove_file(&report_file);
    let jobs =
        report["jobs"].as_array().map(|entries| entries.iter().map(|e| (e["job_id"].as_str().unwrap().to_string(), e.clone())).collect()).unwrap_or_default();
    Run {
        status: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        jobs,
        report,
    }
}

impl Run {
    fn context(&self) -> String {
        format!("exit {}\nstdout:\n{}\nstderr (tail):\n{}", self.status, self.stdout, tail(&self.stderr))
    }

    fn status_of(&self, job_id: &str) -> &str {
        self.jobs.get(job_id).and_then(|e| e["status"].as_str()).unwrap_or_else(|| panic!("{job_id} is not in the report:\n{}", self.context()))
    }

    /// The report's text line(s) for a job: from its `<status> <queue>/<job_id>` line to the next job's.
    fn text_of(&self, queue: &str, job_id: &str) -> String {
        let head = format!(" {queue}/{job_id}");
        let mut lines = self.stdout.lines().skip_while(|l| !l.contains(&head) || l.starts_with(' '));
        let first = lines.next().unwrap_or_else(|| panic!("no report line for {queue}/{job_id}:\n{}", self.context())).to_string();
        let rest: Vec<&str> = lines.take_while(|l| l.starts_with("    ")).collect();
        std::iter::once(first.as_str()).chain(rest).collect::<Vec<_>>().join("\n")
    }
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// The funboost originals: job id -> (pickle bytes, run_times score).
fn funboost_jobs(conn: &mut redis::Connection, queue: &str) -> BTreeMap<String, (Vec<u8>, Option<f64>)> {
    let jobs: BTreeMap<String, Vec<u8>> = redis::cmd("HGETALL").arg(format!("funboost.apscheduler.jobs:{queue}")).query(conn).expect("HGETALL");
    jobs.into_iter()
        .map(|(id, blob)| {
            let score: Option<f64> = redis::cmd("ZSCORE").arg(format!("funboost.apscheduler.run_times:{queue}")).arg(&id).query(conn).expect("ZSCORE");
            (id, (blob, score))
        })
        .collect()
}

fn all_funboost_jobs(conn: &mut redis::Connection) -> BTreeMap<String, (Vec<u8>, Option<f64>)> {
    ["orders", "reports", "ghost_queue"].iter().flat_map(|q| funboost_jobs(conn, q)).collect()
}

/// funboost-edge's stored jobs (each with its version, which every write changes).
fn edge_jobs(conn: &mut redis::Connection) -> BTreeMap<(String, String), Value> {
    all_stored_jobs(conn).into_iter().collect()
}

/// A calendarinterval / or / and job imported from funboost goes on with APScheduler's own fire
/// times from where funboost's scheduler is: `want["fires_us"]` is APScheduler's chain from the
/// next run time funboost stored (from 2 minutes before `expected` ran); funboost-edge's
/// `next_run_times` are the run of them that starts at the first one not past when the tool
/// ran (between `from_us` and `by_us`), the same instants (and, when all of them are in one zone,
/// printed the same), ending where APScheduler's end.
fn assert_continues_apschedulers_fires(id: &str, job: &Value, want: &Value, from_us: i64, by_us: i64) {
    let ours: Vec<i64> = job["next_run_times"].as_array().unwrap().iter().map(|t| py_time_utc_us(t.as_str().unwrap())).collect();
    let theirs: Vec<i64> = want["fires_us"].as_array().unwrap().iter().map(|t| t.as_i64().unwrap()).collect();
    assert!(!ours.is_empty() && !theirs.is_empty(), "{id}: both have fire times: {job} / {want}");
    let start = theirs
        .iter()
        .position(|&t| t == ours[0])
        .unwrap_or_else(|| panic!("{id}: funboost-edge's next run is not one of APScheduler's fire times: {job} / {want}"));
    assert!(theirs[start] >= from_us, "{id}: it starts at a fire time that was past when the tool ran: {job} / {want}");
    assert!(start == 0 || theirs[start - 1] < by_us, "{id}: it skips a fire time that was not past: {job} / {want}");
    let n = ours.len().min(theirs.len() - start);
    assert_eq!(&ours[..n], &theirs[start..start + n], "{id}: funboost-edge fires when APScheduler would ({}): {job} / {want}", job["trigger_str"]);
    if theirs.len() < 20 {
        assert_eq!(ours.len(), theirs.len() - start, "{id}: it ends where APScheduler's does: {job} / {want}");
    }
    if want["one_zone"] == json!(true) {
        assert_eq!(
            job["next_run_times"].as_array().unwrap()[..n],
            want["fires"].as_array().unwrap()[start..start + n],
            "{id}: printed as funboost prints them"
        );
    }
    let stored = want["next_run_time_us"].as_i64().unwrap();
    if stored >= by_us {
        assert_eq!(py_time_utc_us(job["next_run_time"].as_str().unwrap()), stored, "{id}: the next run time funboost stored: {job} / {want}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn funboost_jobs_move_over_with_apschedulers_fire_times_and_what_cannot_move_stays() {
    let started = std::time::Instant::now();
    let redis = RedisServer::start().expect("redis-server");
    let mut conn = connect(&redis);
    let host = host_with(spin_variables(&redis.url(7), &[("redis_host", &redis.host()), ("api_token", TOKEN)]));
    let (addr, server) = host.serve("127.0.0.1:0".parse().unwrap()).await.expect("serve");
    let base_url = format!("http://{addr}");
    let auth = format!("Bearer {TOKEN}");
    let get = |path: String| {
        let (host, auth) = (&host, auth.clone());
        async move { call_with(host, "GET", &format!("/funboost/{path}"), &[("authorization", auth.as_str())], Vec::new()).await }
    };
    let post = |path: String| {
        let (host, auth) = (&host, auth.clone());
        async move { call_with(host, "POST", &format!("/funboost/{path}"), &[("authorization", auth.as_str())], Vec::new()).await }
    };

    // Without funboost_config.py the tool stops before funboost can write a default one.
    let empty = TempDir::new("empty");
    let run = run_tool(&empty.0, &base_url, &[]).await;
    assert_eq!(run.status, 2, "{}", run.context());
    assert!(run.stderr.contains("no funboost_config.py"), "{}", run.context());
    assert!(!empty.0.join("funboost_config.py").exists(), "funboost wrote a default config");

    // funboost's own jobs.
    let project = TempDir::new("project");
    let created = fixture("create", &project.0, redis.port()).await;
    let jobs = created["jobs"].as_object().expect("jobs").clone();
    let movable: BTreeSet<String> = jobs.iter().filter(|(_, j)| j["movable"] == json!(true)).map(|(id, _)| id.clone()).collect();
    let unmovable: BTreeSet<String> = jobs.iter().filter(|(_, j)| j["movable"] == json!(false)).map(|(id, _)| id.clone()).collect();
    assert_eq!((movable.len(), unmovable.len()), (25, 6));
    let originals = all_funboost_jobs(&mut conn);
    assert_eq!(originals.keys().cloned().collect::<BTreeSet<_>>(), movable.union(&unmovable).cloned().collect(), "funboost stored every job");
    assert!(originals["paused_cron"].1.is_none() && originals["date_shanghai"].1.is_some(), "a paused funboost job has no run time");
    let queue_of = |id: &str| jobs[id]["queue"].as_str().unwrap().to_string();

    // 1. The dry run writes nothing and reports every job.
    let run = run_tool(&project.0, &base_url, &[]).await;
    assert_eq!(run.status, 1, "some jobs cannot move: {}", run.context());
    assert_eq!(run.jobs.keys().cloned().collect::<BTreeSet<_>>(), movable.union(&unmovable).cloned().collect(), "{}", run.context());
    for id in &movable {
        assert_eq!(run.status_of(id), "would import", "{id}: {}", run.context());
    }
    assert_eq!(get("get_timing_jobs".into()).await.data()["total_count"], json!(0), "a dry run adds nothing");
    assert_eq!(all_funboost_jobs(&mut conn), originals, "a dry run changes nothing in funboost");
    let expected_why: [(&str, &str, &str); 6] = [
        ("or_subsecond", "skipped", "part 2 of or[cron[hour='3'], interval[0:00:00.500000]]: interval 0:00:00.500000 is not a whole number of seconds"),
        ("and_impossible", "skipped", "funboost-edge refuses its trigger: trigger: the parts of an and trigger never fire at the same time"),
        (
            "or_calendar_zones",
            "skipped",
            "it has a calendarinterval part, and parts in other zones (UTC) than the one funboost-edge keeps the job in (Asia/Tokyo)",
        ),
        ("not_a_push", "skipped", "'time:sleep' is not funboost's push"),
        ("bad_params", "would be refused", "3 positional args but the consumer of orders takes 2 (x, y) (funboost-edge answers 5001)"),
        ("ghost_job", "would be refused", "no funboost consumer registered queue ghost_queue"),
    ];
    for (id, status, why) in expected_why {
        assert_eq!(run.status_of(id), status, "{id}: {}", run.context());
        let text = run.text_of(&queue_of(id), id);
        assert!(text.contains(why) && text.contains("    to do: "), "{id}: the line says why and what to do:\n{text}");
    }
    assert!(run.stdout.contains("31 jobs: ") && run.stdout.contains("6 cannot move (left in funboost)"), "{}", run.context());
    // The calendar interval stored long past would start at APScheduler's first fire not past.
    assert!(run.text_of("reports", "calendar_past_start").contains("note: funboost's next run 2024-01-31 09:00:00+08:00 is past"), "{}", run.context());

    // --queue limits the run; a queue without jobs is named.
    let run = run_tool(&project.0, &base_url, &["--queue", "reports", "--queue", "nope"]).await;
    assert_eq!(run.status, 0, "every reports job can move: {}", run.context());
    let reports: BTreeSet<String> = jobs.iter().filter(|(_, j)| j["queue"] == json!("reports")).map(|(id, _)| id.clone()).collect();
    assert_eq!(run.jobs.keys().cloned().collect::<BTreeSet<_>>(), reports, "{}", run.context());
    assert_eq!(run.report["queues_without_jobs"], json!(["nope"]), "{}", run.context());

    // 2. --apply imports what can move, reports the rest, and leaves the rest in place.
    let applied_from_us = redis_now_us(&mut conn);
    let run = run_tool(&project.0, &base_url, &["--apply"]).await;
    let applied_by_us = redis_now_us(&mut conn);
    eprintln!("the first --apply printed:\n{}", run.stdout);
    assert_eq!(run.status, 1, "{}", run.context());
    for id in &movable {
        assert_eq!(run.status_of(id), "imported", "{id}: {}", run.context());
    }
    for (id, status, why) in [
        ("or_subsecond", "skipped", "is not a whole number of seconds"),
        ("and_impossible", "refused", "funboost-edge refused it (4000 InvalidField): trigger: the parts of an and trigger never fire at the same time"),
        ("or_calendar_zones", "skipped", "it has a calendarinterval part"),
        ("not_a_push", "skipped", "is not funboost's push"),
        ("bad_params", "refused", "funboost-edge refused it (5001 FuncParamsError)"),
        ("ghost_job", "refused", "funboost-edge refused it (4001 QueueNameNotExists)"),
    ] {
        assert_eq!(run.status_of(id), status, "{id}: {}", run.context());
        assert!(run.jobs[id]["why"].as_str().unwrap().contains(why), "{id}: {}", run.jobs[id]);
        assert!(!run.jobs[id]["todo"].as_str().unwrap().is_empty(), "{id}: {}", run.jobs[id]);
    }
    let listed = get("get_timing_jobs".into()).await;
    assert_eq!(listed.data()["total_count"], json!(movable.len()), "{listed}");
    assert_eq!(all_funboost_jobs(&mut conn), originals, "without --remove-source the originals stay");

    // APScheduler's fire times from the original pickled triggers, now.
    let expected = fixture("expected", &project.0, redis.port()).await;
    for id in &movable {
        let queue = queue_of(id);
        let reply = get(format!("get_timing_job?job_id={id}&queue_name={queue}&count=20")).await;
        assert_eq!(reply.status, 200, "{id}: {reply}");
        let job = reply.data();
        let want = &expected[id.as_str()];
        let request = &run.jobs[id]["request"];
        for field in ["trigger", "args", "kwargs", "misfire_grace_time", "coalesce"] {
            assert_eq!(job[field], request[field], "{id}: {field} carried over");
        }
        let continued = ["calendarinterval", "or", "and"].contains(&request["trigger"].as_str().unwrap());
        if continued {
            // Every field as sent (the parts of or/and as they were sent too), and the trigger as
            // APScheduler prints the original.
            for (field, value) in request.as_object().unwrap() {
                if field != "next_run_time" {
                    assert_eq!(&job[field], value, "{id}: {field} carried over");
                }
            }
            assert_eq!(job["trigger_str"], want["str"], "{id}: the trigger as APScheduler prints it");
        }
        if id == "and_friday13" {
            // Resumed, APScheduler searches from now for the first Friday the 13th at noon (and
            // after it searches forever: its parts never agree again); so does funboost-edge.
            assert_eq!((job["status"].as_str(), &job["next_run_times"]), (Some("paused"), &json!([])), "{id}: {job}");
            assert_eq!((want["fires"].as_array().unwrap().len(), &want["endless"]), (1, &json!(true)), "{id}: {want}");
            let resumed = post(format!("resume_timing_job?job_id={id}&queue_name={queue}")).await;
            assert_eq!(resumed.status, 200, "{resumed}");
            let job = get(format!("get_timing_job?job_id={id}&queue_name={queue}&count=20")).await.data().clone();
            assert_eq!(job["next_run_times"][0], want["fires"][0], "{id}: resumed, it fires first when APScheduler's resume would");
            assert_eq!(post(format!("pause_timing_job?job_id={id}&queue_name={queue}")).await.status, 200, "{id}: paused again, as in funboost");
        } else if id == "or_jitter" || id == "calendar_jitter" {
            // Jittered fire times are random on both sides: the first is funboost's own (jitter
            // drawn), then the jitters carry over.
            let stored = want["next_run_time_us"].as_i64().unwrap();
            let ours = py_time_utc_us(job["next_run_time"].as_str().unwrap());
            assert!(stored < applied_by_us || ours == stored, "{id}: starts at funboost's jittered next run {}: {job}", want["next_run_time"]);
            assert!(ours >= stored, "{id}: {job}");
        } else if continued {
            assert_eq!(job["status"], json!("running"), "{id}: {job}");
            assert_continues_apschedulers_fires(id, job, want, applied_from_us, applied_by_us);
        } else if id == "paused_cron" {
            assert_eq!((job["status"].as_str(), &job["next_run_times"]), (Some("paused"), &json!([])), "{id}: {job}");
            let resumed = post(format!("resume_timing_job?job_id={id}&queue_name={queue}")).await;
            assert_eq!(resumed.status, 200, "{resumed}");
            let job = get(format!("get_timing_job?job_id={id}&queue_name={queue}&count=20")).await.data().clone();
            assert_eq!(job["next_run_times"], want["fires"], "{id}: resumed, it fires when APScheduler's resume would");
            // It stays running here (it is paused in funboost): see the second --apply below.
        } else if id == "cron_jitter" {
            // Jittered fire times are random on both sides: the jitter itself must carry over.
            assert_eq!((job["jitter"].clone(), job["minute"].clone(), job["status"].clone()), (json!(5), json!("*/10"), json!("running")), "{id}: {job}");
        } else {
            assert_eq!(job["status"], json!("running"), "{id}: {job}");
            assert!(!want["fires"].as_array().unwrap().is_empty(), "{id}: APScheduler has fire times");
            assert_eq!(job["next_run_times"], want["fires"], "{id}: funboost-edge fires when APScheduler would ({})", job["trigger_str"]);
            assert_eq!(job["next_run_time"], want["next_run_time"], "{id}: the next run time funboost stored");
        }
    }
    // The end dates bound the fires (inclusive, as APScheduler): fewer than the 20 asked for.
    let fires = |id: &str| expected[id]["fires"].as_array().unwrap().iter().map(|f| f.as_str().unwrap().to_string()).collect::<Vec<_>>();
    assert_eq!((fires("interval_new_york").len(), fires("interval_new_york").last().unwrap().as_str()), (9, "2030-03-10 12:00:00-04:00"));
    assert_eq!((fires("cron_london").len(), fires("cron_london").last().unwrap().as_str()), (12, "2030-11-05 09:30:00+00:00"));
    // The calendar intervals, as APScheduler steps them (and so funboost-edge, compared above).
    assert_eq!(
        fires("calendar_31st"),
        [
            "2031-01-31 23:30:00-05:00",
            "2031-03-31 23:30:00-04:00",
            "2031-05-31 23:30:00-04:00",
            "2031-07-31 23:30:00-04:00",
            "2031-08-31 23:30:00-04:00",
            "2031-10-31 23:30:00-04:00",
            "2031-12-31 23:30:00-05:00",
            "2032-01-31 23:30:00-05:00",
            "2032-03-31 23:30:00-04:00",
        ],
        "the 31st, skipping the months without one, to the inclusive end date"
    );
    assert_eq!(
        fires("calendar_dst"),
        ["2031-03-07 02:30:00-05:00", "2031-03-08 02:30:00-05:00", "2031-03-10 02:30:00-04:00", "2031-03-11 02:30:00-04:00", "2031-03-12 02:30:00-04:00"],
        "02:30 does not exist on 2031-03-09 in New York: that day is skipped"
    );
    assert_eq!(
        fires("calendar_fold"),
        ["2031-10-12 01:30:00+01:00", "2031-10-19 01:30:00+01:00", "2031-10-26 01:30:00+01:00", "2031-11-02 01:30:00+00:00", "2031-11-09 01:30:00+00:00"],
        "01:30 comes twice on 2031-10-26 in London: the first one"
    );
    let leap = fires("calendar_leap");
    assert_eq!((leap[17].as_str(), leap[18].as_str()), ("2096-02-29 08:00:00+11:00", "2104-02-29 08:00:00+11:00"), "no February 29th in 2100");
    // Given a previous fire, APScheduler's cron part searches from it, not from its own
    // start_date: the Berlin part fires from 2031-03-10 on, not from its start on the 24th.
    let or_zones = fires("or_zones");
    assert_eq!(
        (or_zones[0].as_str(), or_zones[2].as_str(), or_zones[19].as_str()),
        ("2031-03-08 11:30:00-05:00", "2031-03-10 09:00:00+01:00", "2031-03-27 09:00:00+01:00"),
        "{or_zones:?}"
    );
    // Where a calendar interval or an or / and imported from funboost starts.
    let job = |id: &str| run.jobs[id]["request"].clone();
    assert_eq!(job("calendar_31st")["next_run_time"], json!("2031-01-31 23:30:00"), "funboost's next run, as wall time in the job's zone");
    assert_eq!(job("or_zones")["next_run_time"], json!("2031-03-08 17:30:00"), "in the job's zone (its first part's, Europe/Berlin)");
    assert!(
        run.jobs["calendar_past_start"]["notes"].to_string().contains("funboost's next run 2024-01-31 09:00:00+08:00 is past"),
        "{}",
        run.jobs["calendar_past_start"]
    );
    // The JSON of each kind, exactly.
    assert_eq!(
        job("calendar_31st"),
        json!({"queue_name": "reports", "job_id": "calendar_31st", "trigger": "calendarinterval", "months": 1, "hour": 23, "minute": 30, "second": 0,
               "start_date": "2031-01-31", "end_date": "2032-03-31", "timezone": "America/New_York", "next_run_time": "2031-01-31 23:30:00",
               "args": ["month-end"], "kwargs": {}, "misfire_grace_time": 1, "coalesce": true})
    );
    assert_eq!(
        job("or_zones")["triggers"],
        json!([
            {"trigger": "cron", "day_of_week": "mon-fri", "hour": "9", "timezone": "Europe/Berlin", "start_date": "2031-03-24 00:00:00", "end_date": "2031-04-04 09:00:00"},
            {"trigger": "cron", "day_of_week": "sat,sun", "hour": "11", "minute": "30", "timezone": "America/New_York", "start_date": "2031-03-08 00:00:00", "end_date": "2031-04-06 11:30:00"},
        ])
    );
    assert_eq!(
        (job("or_jitter")["jitter"].clone(), job("or_jitter")["triggers"][0]["jitter"].clone(), job("or_jitter")["triggers"][1].get("jitter").cloned()),
        (json!(10), json!(20), None),
        "the or's jitter and its parts' own"
    );
    assert_eq!((job("calendar_jitter")["jitter"].clone(), job("calendar_leap")["years"].clone()), (json!(30), json!(1)));
    assert_eq!(
        job("or_nested")["triggers"],
        json!([
            {"trigger": "and", "triggers": [
                {"trigger": "cron", "month": "2,5,8,11", "day": "15", "hour": "6", "timezone": "Asia/Kolkata"},
                {"trigger": "cron", "month": "2,5,8,11", "day": "15", "hour": "0", "minute": "30", "timezone": "UTC"},
            ]},
            {"trigger": "or", "triggers": [
                {"trigger": "date", "run_date": "2031-07-04 12:00:00", "timezone": "America/Chicago"},
                {"trigger": "interval", "days": 49, "timezone": "Europe/London", "start_date": "2031-03-29 01:30:00", "end_date": "2031-12-31 00:00:00"},
            ]},
            {"trigger": "cron", "day": "last", "hour": "23", "minute": "59", "timezone": "UTC", "start_date": "2031-01-01 00:00:00", "end_date": "2031-12-31 00:00:00"},
        ])
    );
    // The zones and bounds went over as APScheduler holds them.
    assert_eq!(
        (job("interval_new_york")["timezone"].clone(), job("interval_new_york")["end_date"].clone()),
        (json!("America/New_York"), json!("2030-03-10 12:00:00"))
    );
    assert_eq!(job("date_offset")["run_date"], json!("2031-06-01 08:00:00+05:30"));
    assert_eq!((job("cron_london")["misfire_grace_time"].clone(), job("cron_london")["coalesce"].clone()), (Value::Null, json!(false)));
    assert!(job("interval_default_start")["start_date"].as_str().unwrap().contains('.'), "APScheduler's default start keeps its microseconds");

    // 3. Running it again imports nothing twice. paused_cron, resumed here above while paused in
    // funboost, is reported and left as it is.
    let before = edge_jobs(&mut conn);
    let run = run_tool(&project.0, &base_url, &["--apply"]).await;
    assert_eq!(run.status, 1, "{}", run.context());
    for id in &movable {
        assert_eq!(run.status_of(id), "already imported", "{id}: {}", run.context());
        assert_eq!(run.jobs[id]["ok"], json!(id != "paused_cron"), "{id}: {}", run.context());
    }
    assert_eq!(run.jobs["paused_cron"]["why"], json!("it is paused in funboost but running in funboost-edge"), "{}", run.context());
    assert_eq!(edge_jobs(&mut conn), before, "a second --apply writes nothing");
    assert_eq!(all_funboost_jobs(&mut conn), originals);

    // 4. --remove-source deletes the imported originals only: not those that could not move,
    // nor paused_cron's while the two disagree.
    let run = run_tool(&project.0, &base_url, &["--apply", "--remove-source"]).await;
    assert_eq!(run.status, 1, "{}", run.context());
    for id in &movable {
        assert_eq!(run.jobs[id].get("source_removed").is_some(), id != "paused_cron", "{id}: {}", run.context());
    }
    for id in &unmovable {
        assert!(run.jobs[id].get("source_removed").is_none(), "{id}: {}", run.jobs[id]);
    }
    let kept = |ids: &[&str]| -> BTreeMap<String, (Vec<u8>, Option<f64>)> {
        originals.iter().filter(|(id, _)| unmovable.contains(*id) || ids.contains(&id.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect()
    };
    assert_eq!(all_funboost_jobs(&mut conn), kept(&["paused_cron"]), "exactly these jobs are left, untouched");
    assert_eq!(edge_jobs(&mut conn), before, "removing the originals does not touch the imported jobs");
    // Paused here too, it counts as imported, and its original goes.
    assert_eq!(post("pause_timing_job?job_id=paused_cron&queue_name=reports".into()).await.status, 200);
    let run = run_tool(&project.0, &base_url, &["--apply", "--remove-source", "--queue", "reports"]).await;
    assert_eq!((run.status, run.jobs["paused_cron"]["source_removed"].clone()), (0, json!(true)), "{}", run.context());
    assert_eq!(all_funboost_jobs(&mut conn), kept(&[]), "exactly the jobs that could not move are left, untouched");

    // 5. What is left is only what cannot move.
    let run = run_tool(&project.0, &base_url, &[]).await;
    assert_eq!(run.jobs.keys().cloned().collect::<BTreeSet<_>>(), unmovable, "{}", run.context());
    assert_eq!(run.status, 1);

    server.abort();
    eprintln!("import_funboost_jobs: {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_different_job_with_the_same_id_is_never_overwritten_and_its_original_stays() {
    let redis = RedisServer::start().expect("redis-server");
    let mut conn = connect(&redis);
    let host = host_with(spin_variables(&redis.url(7), &[("redis_host", &redis.host()), ("api_token", TOKEN)]));
    let (addr, server) = host.serve("127.0.0.1:0".parse().unwrap()).await.expect("serve");
    let base_url = format!("http://{addr}");
    let project = TempDir::new("conflict");
    fixture("create", &project.0, redis.port()).await;
    let originals = funboost_jobs(&mut conn, "orders");

    // funboost-edge unreachable: the command stops with status 2 and deletes nothing.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let run = run_tool(&project.0, &format!("http://{closed}"), &["--apply", "--remove-source"]).await;
    assert_eq!(run.status, 2, "{}", run.context());
    assert!(run.stderr.contains("cannot reach funboost-edge"), "{}", run.context());
    assert_eq!(funboost_jobs(&mut conn, "orders"), originals);

    // Someone already has a job date_shanghai in funboost-edge, and it is another job.
    let theirs = json!({"queue_name": "orders", "job_id": "date_shanghai", "trigger": "cron", "hour": "5", "args": [1, 2]});
    let added = call_with(
        &host,
        "POST",
        "/funboost/add_timing_job",
        &[("authorization", &format!("Bearer {TOKEN}")), ("content-type", "application/json")],
        theirs.to_string().into_bytes(),
    )
    .await;
    assert_eq!(added.status, 200, "{added}");
    let before = stored_job(&mut conn, "orders", "date_shanghai").expect("their job");

    let run = run_tool(&project.0, &base_url, &["--apply", "--remove-source", "--queue", "orders"]).await;
    assert_eq!(run.status, 1, "{}", run.context());
    assert_eq!(run.status_of("date_shanghai"), "conflict", "{}", run.context());
    let text = run.text_of("orders", "date_shanghai");
    assert!(text.contains("already has a different job date_shanghai in queue orders (trigger cron[hour='5'])") && text.contains("to do: "), "{text}");
    assert_eq!(stored_job(&mut conn, "orders", "date_shanghai").expect("still there"), before, "their job is not overwritten");
    let left = funboost_jobs(&mut conn, "orders");
    assert_eq!(left.get("date_shanghai"), originals.get("date_shanghai"), "the original of a job that did not move stays");
    for id in ["date_offset", "interval_new_york", "cron_sydney", "cron_utc_years", "cron_jitter"] {
        assert_eq!(run.status_of(id), "imported", "{id}: {}", run.context());
        assert!(!left.contains_key(id), "{id}: imported, so its original is deleted");
    }
    assert!(run.jobs.keys().all(|id| run.jobs[id]["source_queue"] == json!("orders")), "--queue orders reads only that queue");
    assert!(!funboost_jobs(&mut conn, "reports").is_empty(), "the reports queue is left alone");
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imported_or_and_calendar_jobs_fire_through_the_tick_on_apschedulers_instants() {
    let redis = RedisServer::start().expect("redis-server");
    let mut conn = connect(&redis);
    let host = host_with(spin_variables(&redis.url(7), &[("redis_host", &redis.host()), ("api_token", TOKEN)]));
    let (addr, server) = host.serve("127.0.0.1:0".parse().unwrap()).await.expect("serve");
    let base_url = format!("http://{addr}");
    let auth = format!("Bearer {TOKEN}");
    let get = |path: String| {
        let (host, auth) = (&host, auth.clone());
        async move { call_with(host, "GET", &format!("/funboost/{path}"), &[("authorization", auth.as_str())], Vec::new()).await }
    };

    // funboost stores three jobs that come due within seconds (the calendar interval's time of
    // day is 20 s after it was made), and they are imported at once.
    let project = TempDir::new("firing");
    fixture("create-firing", &project.0, redis.port()).await;
    let run = run_tool(&project.0, &base_url, &["--apply"]).await;
    assert_eq!(run.status, 0, "{}", run.context());
    let ids = ["fire_or", "fire_and", "fire_calendar"];
    for id in ids {
        assert_eq!(run.status_of(id), "imported", "{id}: {}", run.context());
    }
    let expected = fixture("expected", &project.0, redis.port()).await;
    let chain = |id: &str| expected[id]["fires_us"].as_array().unwrap().iter().map(|t| t.as_i64().unwrap()).collect::<Vec<_>>();

    // Ticks until each has fired: before each tick, the jobs' next runs are APScheduler's fire
    // times; a tick at `now` fires each job due by then once (coalesce, as APScheduler runs a
    // job whose run times were missed: once, for the last of them), for APScheduler's last fire
    // time not after `now`, and its next run becomes APScheduler's first one after `now`.
    let next_run_us = |job: &Value| py_time_utc_us(job["next_run_time"].as_str().unwrap_or_else(|| panic!("a next run: {job}")));
    let mut fires: BTreeMap<&str, usize> = ids.iter().map(|id| (*id, 0)).collect();
    let mut published: Vec<Value> = Vec::new();
    while fires.values().any(|&n| n == 0) {
        let mut due = BTreeMap::new();
        for id in ids {
            let job = get(format!("get_timing_job?job_id={id}&queue_name=orders")).await.data().clone();
            let at = next_run_us(&job);
            assert!(chain(id).contains(&at), "{id}: its next run is one of APScheduler's fire times: {job} / {}", expected[id]);
            due.insert(id, at);
        }
        let first = ids.iter().filter(|id| fires[*id] == 0).map(|id| due[id]).min().unwrap();
        let now = redis_now_us(&mut conn);
        assert!(first - now < 60_000_000, "due in {} s: the import came after the fire times funboost stored ({due:?})", (first - now) / 1_000_000);
        wait_for_redis_clock(&mut conn, first).await;
        let tick = get("tick".into()).await;
        assert_eq!(tick.status, 200, "{tick}");
        let tick_us = tick.data()["now_us"].as_i64().expect("the tick's now");
        let (messages, _): (Vec<String>, i64) =
            redis::pipe().atomic().cmd("LRANGE").arg("orders").arg(0).arg(-1).cmd("DEL").arg("orders").query(&mut conn).expect("LRANGE+DEL");
        let messages: Vec<Value> = messages.iter().map(|m| serde_json::from_str(m).expect("a JSON message")).collect();
        for id in ids {
            let theirs = chain(id);
            let mine: Vec<&Value> = messages.iter().filter(|m| m["extra"]["fire_id"].as_str().unwrap().starts_with(&format!("orders:{id}:"))).collect();
            let job = get(format!("get_timing_job?job_id={id}&queue_name=orders")).await.data().clone();
            if due[id] > tick_us {
                assert!(mine.is_empty(), "{id}: not due at the tick ({tick_us}): {mine:?}");
                assert_eq!(next_run_us(&job), due[id], "{id}: {job}");
                continue;
            }
            let last = *theirs.iter().filter(|&&t| t <= tick_us).max().unwrap();
            let after = *theirs.iter().find(|&&t| t > tick_us).unwrap_or_else(|| panic!("{id}: APScheduler has a fire time after the tick: {}", expected[id]));
            assert_eq!(mine.len(), 1, "{id}: one message for the tick at {tick_us} (due {}): {messages:?}", due[id]);
            assert_eq!(mine[0]["extra"]["fire_id"], json!(format!("orders:{id}:{last}")), "{id}: fired for APScheduler's fire time (due {})", due[id]);
            assert_eq!(next_run_us(&job), after, "{id}: then APScheduler's next fire time: {job} / {}", expected[id]);
            *fires.get_mut(id).unwrap() += 1;
            published.push(mine[0].clone());
        }
    }
    // What was published is what funboost's timing job would have pushed.
    for (id, x) in [("fire_or", 1), ("fire_and", 2), ("fire_calendar", 3)] {
        let message = published.iter().find(|m| m["extra"]["fire_id"].as_str().unwrap().starts_with(&format!("orders:{id}:"))).expect("fired");
        assert_eq!(message["x"], json!(x), "{message}");
    }
    server.abort();
}
