//! Firing end to end: the real release .wasm components in the test host (the ticker's
//! `handle-cron-event` as Spin's cron trigger calls it, and the HTTP `/funboost/tick` route)
//! against a real redis-server per test.
//!
//! 1. A real, unmodified funboost 55.0 consumer (tests/python/funboost_worker.py) executes what
//!    the tick publishes, for all five Redis broker kinds, with positional and keyword
//!    arguments, each fire exactly once; a fire published ahead (`lookahead`) carries `eta` and
//!    funboost runs it at its scheduled time.
//! 2. After an outage, the fires published, missed and coalesced, their scheduled times and the
//!    job's next run time are what APScheduler 3.11.3 itself computes
//!    (tests/python/misfire_oracle.py runs APScheduler's scheduler loop at the tick's Redis TIME).
//! 3. Pause, resume, delete, date jobs, look-ahead with `eta`, the tick token, memory-store jobs
//!    and the per-job counters.
//!
//! Needs the components (cargo build --target wasm32-wasip2 --profile wasm -p funboost-api
//! -p funboost-ticker), redis-server, and the test venv (scripts/test; or FUNBOOST_EDGE_PYTHON)
//! with funboost 55.0 and APScheduler 3.11.3. A missing Python or package fails the tests.

mod firing;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use firing::*;
use serde_json::{json, Value};

const TICK_EVERY: Duration = Duration::from_millis(500);

/// Runs the cron component every 0.5 s for `duration`; returns the number of ticks.
async fn tick_for(env: &Env, duration: Duration) -> usize {
    let end = Instant::now() + duration;
    let mut ticks = 0;
    while Instant::now() < end {
        env.cron_tick().await;
        ticks += 1;
        tokio::time::sleep(TICK_EVERY).await;
    }
    ticks
}

/// The whole second at least `secs` (and less than `secs + 1`) seconds after `now_us`.
fn whole_second_after(now_us: i64, secs: i64) -> i64 {
    (now_us / S + secs) * S
}

/// What funboost writes as `publish_time` for a tick at `now_us`: seconds rounded to 4 places.
fn publish_time(now_us: i64) -> f64 {
    ((now_us as f64) / 100.0).round() / 1e4
}

fn assert_uuid_v7(task_id: &str) {
    let bytes = task_id.as_bytes();
    let ok = bytes.len() == 36
        && [8, 13, 18, 23].iter().all(|&i| bytes[i] == b'-')
        && bytes[14] == b'7'
        && matches!(bytes[19], b'8' | b'9' | b'a' | b'b')
        && task_id.chars().all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c));
    assert!(ok, "task_id {task_id:?} is not a lowercase UUIDv7");
}

// ---------------------------------------------------------------------------------------------
// 1. A real funboost consumer

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_funboost_consumer_executes_every_fire_exactly_once_for_each_broker_kind() {
    let started = Instant::now();
    let mut env = Env::start(&[]);
    let kinds = [
        ("fe_redis", "REDIS", json!({})),
        ("fe_ack", "REDIS_ACK_ABLE", json!({})),
        ("fe_stream", "REDIS_STREAM", json!({})),
        // funboost 55.0 crashes declaring a REDIS_PRIORITY booster without pull_msg_batch_size.
        ("fe_prio", "REDIS_PRIORITY", json!({"x-max-priority": 3, "pull_msg_batch_size": 100})),
        ("fe_bl", "REDIS_BRPOP_LPUSH", json!({})),
    ];
    let mut queues: Vec<Value> =
        kinds.iter().map(|(queue, kind, exclusive)| json!({"queue": queue, "broker_kind": kind, "broker_exclusive_config": exclusive})).collect();
    queues.push(json!({"queue": "fe_eta", "broker_kind": "REDIS"}));
    let worker = Worker::start(&mut env, &Value::Array(queues)).await;

    // job id -> (queue, the message's kwargs, what add(x, y=5) receives)
    let mut expected: BTreeMap<String, (String, Value, Value)> = BTreeMap::new();

    // A fire published ahead of its time by the HTTP tick's look-ahead carries `eta`; funboost
    // holds it (its own delay scheduler) and runs it at the scheduled time.
    let eta_at = whole_second_after(env.now_us(), 3);
    env.add(json!({"queue_name": "fe_eta", "job_id": "eta", "trigger": "date", "run_date": shanghai_wall(eta_at), "args": [8, 9]})).await;
    let report = env.http_tick("lookahead=10").await;
    assert_eq!((report["fired"].as_u64(), report["fired_ahead"].as_u64()), (Some(0), Some(1)), "{report}");
    expected.insert("eta".into(), ("fe_eta".into(), json!({"x": 8, "y": 9}), json!({"x": 8, "y": 9})));

    let run_at = whole_second_after(env.now_us(), 3);
    let run_date = shanghai_wall(run_at);
    let mut interval_jobs = Vec::new();
    for (queue, kind, _) in &kinds {
        let priority = |p: u32| if *kind == "REDIS_PRIORITY" { json!(p) } else { Value::Null };
        let jobs = [
            // Positional args map onto the registered parameter names.
            (
                format!("{queue}_pos"),
                json!({"trigger": "date", "run_date": run_date, "args": [1, 2], "priority": priority(2)}),
                json!({"x": 1, "y": 2}),
                json!({"x": 1, "y": 2}),
            ),
            (
                format!("{queue}_mix"),
                json!({"trigger": "date", "run_date": run_date, "args": [5], "kwargs": {"y": 6}, "priority": priority(9)}),
                json!({"x": 5, "y": 6}),
                json!({"x": 5, "y": 6}),
            ),
            // Defaults are not filled in on the wire; the function gets y=5. No broker_kind given.
            (format!("{queue}_def"), json!({"trigger": "date", "run_date": run_date, "kwargs": {"x": 7}}), json!({"x": 7}), json!({"x": 7, "y": 5})),
            (
                format!("{queue}_int"),
                json!({"trigger": "interval", "seconds": 1, "kwargs": {"x": 3, "y": 4}}),
                json!({"x": 3, "y": 4}),
                json!({"x": 3, "y": 4}),
            ),
        ];
        for (job_id, mut body, wire, received) in jobs {
            let fields = body.as_object_mut().unwrap();
            fields.retain(|_, v| !v.is_null());
            fields.insert("queue_name".into(), json!(queue));
            fields.insert("job_id".into(), json!(job_id));
            // Without broker_kind the job publishes with the kind the consumer registered.
            if !job_id.ends_with("_def") {
                fields.insert("broker_kind".into(), json!(kind));
            }
            let data = env.add(body).await;
            assert_eq!(data["broker_kind"], json!(kind), "{data}");
            if job_id.ends_with("_int") {
                interval_jobs.push((queue.to_string(), job_id.clone()));
            } else {
                assert_eq!(data["next_run_time"], json!(format!("{run_date}+08:00")), "{data}");
            }
            expected.insert(job_id, (queue.to_string(), wire, received));
        }
    }

    // The cron component every 0.5 s: the date jobs fire once, the interval jobs every second.
    let ticks = tick_for(&env, Duration::from_millis(4600)).await;
    let mut fires_by_job: HashMap<String, u64> = expected.keys().filter(|id| !id.ends_with("_int")).map(|id| (id.clone(), 1)).collect();
    for (queue, job_id) in &interval_jobs {
        let job = env.get_job(queue, job_id, "redis").await.expect("interval job");
        let fires = job["fire_count"].as_u64().unwrap();
        assert!(fires >= 3, "{job_id}: only {fires} fires in {ticks} ticks: {job}");
        fires_by_job.insert(job_id.clone(), fires);
        env.ok("DELETE", &format!("delete_timing_job?queue_name={queue}&job_id={job_id}"), None).await;
    }
    for (job_id, (queue, _, _)) in &expected {
        if !job_id.ends_with("_int") {
            assert!(env.get_job(queue, job_id, "redis").await.is_none(), "date job {job_id} must be gone after its fire");
        }
    }

    let total: u64 = fires_by_job.values().sum();
    let done = env.wait_until(Duration::from_secs(30), |env| worker.results(env).len() as u64 >= total).await;
    let results = worker.results(&mut env);
    assert!(done, "the worker executed {} of {total} fires:\n{}\n{}", results.len(), serde_json::to_string_pretty(&results).unwrap(), worker.log_tail());
    // Anything published twice would show up now.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let results = worker.results(&mut env);
    worker.stop(&mut env).await;

    let mut seen_fire_ids = HashSet::new();
    let mut executions: HashMap<String, u64> = HashMap::new();
    let mut instants: HashMap<String, Vec<i64>> = HashMap::new();
    for result in &results {
        let fire_id = result["fire_id"].as_str().unwrap_or_else(|| panic!("no fire_id reached the function: {result}"));
        assert!(seen_fire_ids.insert(fire_id.to_string()), "fire {fire_id} executed twice");
        let message = json!({"extra": {"fire_id": fire_id}});
        let job_id = fire_job(&message);
        let (queue, wire, received) = expected.get(&job_id).unwrap_or_else(|| panic!("unexpected job {job_id}: {result}"));
        assert_eq!(result["queue"], json!(queue), "{result}");
        assert!(fire_id.starts_with(&format!("{queue}:{job_id}:")), "{fire_id}");
        assert_eq!(&result["msg_kwargs"], wire, "message body of {job_id}: {result}");
        assert_eq!(&result["kwargs"], received, "arguments of {job_id}: {result}");
        assert_uuid_v7(result["task_id"].as_str().unwrap());
        let instant = fire_instant(&message);
        assert_eq!(result["scheduled_time"], json!(shanghai_py_str(instant)), "{result}");
        *executions.entry(job_id.clone()).or_default() += 1;
        instants.entry(job_id.clone()).or_default().push(instant);
        if job_id == "eta" {
            assert_eq!(instant, eta_at);
            let ran_at = result["ran_at"].as_f64().unwrap();
            let published = result["publish_time"].as_f64().unwrap();
            let scheduled = eta_at as f64 / 1e6;
            assert!(published <= scheduled - 1.0, "published {published}, scheduled {scheduled}");
            assert!(ran_at >= scheduled - 0.05 && ran_at <= scheduled + 5.0, "eta fire ran at {ran_at}, scheduled {scheduled}");
        } else if !job_id.ends_with("_int") {
            assert_eq!(instant, run_at, "{result}");
        }
    }
    for (job_id, fires) in &fires_by_job {
        assert_eq!(executions.get(job_id).copied().unwrap_or(0), *fires, "{job_id}: executions vs published fires");
    }
    for (_, job_id) in &interval_jobs {
        let mut times = instants[job_id].clone();
        times.sort();
        assert!(times.windows(2).all(|w| (w[1] - w[0]) % S == 0 && w[1] > w[0]), "{job_id}: fires off the 1 s grid: {times:?}");
    }
    assert_eq!(results.len() as u64, total);
    // Every message was taken off its queue (funboost deletes acknowledged stream entries).
    for key in ["fe_redis", "fe_ack", "fe_bl", "fe_prio", "fe_prio:1", "fe_prio:2", "fe_prio:3", "fe_eta"] {
        assert_eq!(env.list_len(key), 0, "{key} still holds messages");
    }
    let stream_len: i64 = redis::cmd("XLEN").arg("fe_stream").query(&mut env.conn).expect("XLEN");
    assert_eq!(stream_len, 0);
    eprintln!("funboost executed {} fires ({} ticks) in {:?}", results.len(), ticks, started.elapsed());
}

// ---------------------------------------------------------------------------------------------
// 2. Misfires after an outage, against APScheduler

struct MisfireJob {
    id: &'static str,
    body: Value,
    /// Move the stored next run this far back before the first tick: the job's state after a
    /// ticker outage of that length (for triggers whose slots are too far apart to wait for).
    backdate_secs: i64,
}

/// One tick and what it did: the stored jobs before and after, the messages, the report.
struct TickRecord {
    label: &'static str,
    now_us: i64,
    report: Value,
    before: HashMap<String, Option<Value>>,
    after: HashMap<String, Option<Value>>,
    messages: Vec<Value>,
}

fn counter(job: &Value, name: &str) -> u64 {
    job[name].as_u64().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misfires_after_an_outage_match_apscheduler() {
    python(); // fail at once, not after the outage, when the venv is missing
    let started = Instant::now();
    let mut env = Env::start(&[]);
    let queue = "fe_misfire";
    env.register_queue(queue, "REDIS");
    let now = env.now_us();
    let past = shanghai_wall(now - 5 * S);
    let jobs = vec![
        // APScheduler's defaults: misfire_grace_time 1 s, coalesce true.
        MisfireJob { id: "iv1_g1_c", body: json!({"trigger": "interval", "seconds": 1}), backdate_secs: 0 },
        MisfireJob { id: "iv1_g1_nc", body: json!({"trigger": "interval", "seconds": 1, "coalesce": false}), backdate_secs: 0 },
        MisfireJob { id: "iv1_g5_nc", body: json!({"trigger": "interval", "seconds": 1, "misfire_grace_time": 5, "coalesce": false}), backdate_secs: 0 },
        MisfireJob { id: "iv1_gn_nc", body: json!({"trigger": "interval", "seconds": 1, "misfire_grace_time": null, "coalesce": false}), backdate_secs: 0 },
        MisfireJob { id: "iv1_gn_c", body: json!({"trigger": "interval", "seconds": 1, "misfire_grace_time": null}), backdate_secs: 0 },
        MisfireJob { id: "iv10_g1_c", body: json!({"trigger": "interval", "seconds": 10}), backdate_secs: 0 },
        MisfireJob { id: "iv10_g5_nc", body: json!({"trigger": "interval", "seconds": 10, "misfire_grace_time": 5, "coalesce": false}), backdate_secs: 0 },
        MisfireJob { id: "cr5_g1_c", body: json!({"trigger": "cron", "second": "*/5"}), backdate_secs: 0 },
        MisfireJob { id: "cr5_g5_nc", body: json!({"trigger": "cron", "second": "*/5", "misfire_grace_time": 5, "coalesce": false}), backdate_secs: 0 },
        MisfireJob { id: "cr5_gn_nc", body: json!({"trigger": "cron", "second": "*/5", "misfire_grace_time": null, "coalesce": false}), backdate_secs: 0 },
        // Every minute (second defaults to 0), after an outage of 4 minutes.
        MisfireJob { id: "crm_g1_c", body: json!({"trigger": "cron", "minute": "*"}), backdate_secs: 240 },
        MisfireJob { id: "crm_gn_nc", body: json!({"trigger": "cron", "second": 0, "misfire_grace_time": null, "coalesce": false}), backdate_secs: 240 },
        MisfireJob { id: "crm_gn_c", body: json!({"trigger": "cron", "second": "0", "misfire_grace_time": null, "coalesce": true}), backdate_secs: 240 },
        MisfireJob { id: "crm_g90_nc", body: json!({"trigger": "cron", "second": "0", "misfire_grace_time": 90, "coalesce": false}), backdate_secs: 240 },
        // A date job whose run_date is already past: fires late within its grace, else missed.
        MisfireJob { id: "dt_past_g1", body: json!({"trigger": "date", "run_date": past}), backdate_secs: 0 },
        MisfireJob { id: "dt_past_g30", body: json!({"trigger": "date", "run_date": past, "misfire_grace_time": 30}), backdate_secs: 0 },
    ];
    let added_at = Instant::now();
    for (i, job) in jobs.iter().enumerate() {
        let mut body = job.body.clone();
        body["queue_name"] = json!(queue);
        body["job_id"] = json!(job.id);
        body["kwargs"] = json!({"x": i});
        env.add(body).await;
        if job.backdate_secs > 0 {
            store::backdate(&mut env.conn, queue, job.id, job.backdate_secs);
        }
    }
    let snapshot = |env: &mut Env| -> HashMap<String, Option<Value>> { jobs.iter().map(|j| (j.id.to_string(), env.stored_job(queue, j.id))).collect() };

    // A first tick soon after the add, then nothing for 13 s (the outage), then one tick.
    let mut records = Vec::new();
    for (label, at) in [("first tick", Duration::from_millis(1600)), ("after a 13 s outage", Duration::from_millis(14600))] {
        tokio::time::sleep(at.saturating_sub(added_at.elapsed())).await;
        let before = snapshot(&mut env);
        let report = env.http_tick("").await;
        let now_us = report["now_us"].as_i64().expect("the tick report has now_us");
        let messages = env.drain_list(queue);
        let after = snapshot(&mut env);
        records.push(TickRecord { label, now_us, report, before, after, messages });
    }

    // APScheduler's answer for every (tick, job) whose stored state before the tick was a
    // scheduled job.
    let mut cases = Vec::new();
    let mut keys = Vec::new();
    for (t, record) in records.iter().enumerate() {
        for job in &jobs {
            let Some(stored) = record.before[job.id].clone() else { continue };
            let next = stored["next_run"]["utc_us"].as_i64().expect("scheduled job");
            let mut fields = stored["trigger"].as_object().unwrap().clone();
            let kind = fields.remove("trigger").unwrap();
            let interval_secs = ["weeks", "days", "hours", "minutes", "seconds"]
                .iter()
                .zip([604_800, 86_400, 3_600, 60, 1])
                .map(|(name, unit)| fields.get(*name).and_then(|v| v.as_i64().or_else(|| v.as_str()?.parse().ok())).unwrap_or(0) * unit)
                .sum::<i64>()
                .max(1);
            let start_date_us = (kind == "interval").then(|| stored["created_us"].as_i64().unwrap() + interval_secs * S);
            cases.push(json!({
                "id": format!("{t}/{}", job.id),
                "trigger": kind,
                "fields": fields,
                "timezone": stored["timezone"],
                "start_date_us": start_date_us,
                "next_run_time_us": next,
                "now_us": record.now_us,
                "misfire_grace_time": stored["misfire_grace_time"],
                "coalesce": stored["coalesce"],
            }));
            keys.push((t, job.id));
        }
    }
    let outcomes = run_python_json("misfire_oracle.py", &[], &Value::Array(cases));
    let outcomes = outcomes.as_array().expect("oracle outcomes");
    assert_eq!(outcomes.len(), keys.len());

    let mut totals: HashMap<&str, (u64, u64, u64, Option<String>)> = HashMap::new();
    let mut sums_per_tick = vec![(0u64, 0u64, 0u64); records.len()];
    let mut catch_up = false;
    eprintln!("{:<22} {:<11} {:>5} {:>6} {:>9}  next run (APScheduler)", "tick", "job", "fired", "missed", "coalesced");
    for ((t, id), outcome) in keys.iter().zip(outcomes) {
        let record = &records[*t];
        let before = record.before[*id].as_ref().unwrap();
        let after = record.after[*id].as_ref();
        let fired: Vec<(String, i64)> =
            outcome["fired"].as_array().unwrap().iter().map(|f| (f[0].as_str().unwrap().to_string(), f[1].as_i64().unwrap())).collect();
        let missed = outcome["missed"].as_array().unwrap().len() as u64;
        let coalesced = outcome["coalesced"].as_u64().unwrap();
        let context = format!("{} / {id} at now_us={}: APScheduler says {outcome}", record.label, record.now_us);

        let published: Vec<&Value> = record.messages.iter().filter(|m| fire_job(m) == *id).collect();
        let got: Vec<(String, i64)> = published.iter().map(|m| (m["extra"]["scheduled_time"].as_str().unwrap().to_string(), fire_instant(m))).collect();
        assert_eq!(got, fired, "published fires (scheduled_time, instant): {context}");
        for message in &published {
            assert_eq!(message["extra"]["publish_time"].as_f64(), Some(publish_time(record.now_us)), "{message}");
            assert!(message["extra"].get("eta").is_none(), "a late or on-time fire has no eta: {message}");
            let index = jobs.iter().position(|j| j.id == *id).unwrap();
            assert_eq!(message_kwargs(message), json!({"x": index}));
        }
        match (after, outcome["next_run_time"].as_array()) {
            (Some(after), Some(next)) => {
                assert_eq!(after["next_run"]["utc_us"].as_i64(), next[1].as_i64(), "next run: {context}");
                assert_eq!(counter(after, "fires") - counter(before, "fires"), fired.len() as u64, "fire_count: {context}");
                assert_eq!(counter(after, "missed") - counter(before, "missed"), missed, "missed_count: {context}");
                assert_eq!(counter(after, "coalesced") - counter(before, "coalesced"), coalesced, "coalesced_count: {context}");
            }
            (None, None) => {}
            (after, _) => panic!("job kept = {}, but {context}", after.is_some()),
        }
        let total = totals.entry(id).or_default();
        total.0 += fired.len() as u64;
        total.1 += missed;
        total.2 += coalesced;
        if let Some((last, _)) = fired.last() {
            total.3 = Some(last.clone());
        }
        sums_per_tick[*t].0 += fired.len() as u64;
        sums_per_tick[*t].1 += missed;
        sums_per_tick[*t].2 += coalesced;
        catch_up |= fired.len() > 1;
        let next = outcome["next_run_time"].as_array().map(|n| n[0].as_str().unwrap().to_string()).unwrap_or_else(|| "(removed)".into());
        eprintln!("{:<22} {:<11} {:>5} {:>6} {:>9}  {next}", record.label, id, fired.len(), missed, coalesced);
    }
    for (record, (fired, missed, coalesced)) in records.iter().zip(&sums_per_tick) {
        let report = &record.report;
        assert_eq!(
            (report["fired"].as_u64(), report["missed"].as_u64(), report["coalesced"].as_u64(), report["fired_ahead"].as_u64()),
            (Some(*fired), Some(*missed), Some(*coalesced), Some(0)),
            "{}: tick report {report}",
            record.label
        );
        assert_eq!(record.messages.len() as u64, *fired, "{}", record.label);
    }
    // Not vacuous: the outage produced late fires, catch-up runs, misses and coalescing.
    let (_, missed, coalesced) = sums_per_tick[1];
    assert!(missed > 0 && coalesced > 0 && catch_up, "the outage must exercise grace, coalescing and catch-up: {sums_per_tick:?}");

    // The counters as get_timing_job shows them.
    for job in &jobs {
        let (fired, missed, coalesced, last) = totals.get(job.id).cloned().unwrap_or_default();
        match env.get_job(queue, job.id, "redis").await {
            Some(view) => {
                assert_eq!(
                    (view["fire_count"].as_u64(), view["missed_count"].as_u64(), view["coalesced_count"].as_u64()),
                    (Some(fired), Some(missed), Some(coalesced)),
                    "{}: {view}",
                    job.id
                );
                assert_eq!(view["last_fire_time"], last.map_or(Value::Null, Value::from), "{}: {view}", job.id);
                let stored = records.last().unwrap().after[job.id].as_ref().unwrap();
                assert_eq!(view["next_run_time"], json!(shanghai_py_str(stored["next_run"]["utc_us"].as_i64().unwrap())), "{view}");
            }
            None => assert!(records.last().unwrap().after[job.id].is_none(), "{} is stored but get_timing_job says 404", job.id),
        }
    }
    eprintln!("misfire comparison took {:?}", started.elapsed());
}

// ---------------------------------------------------------------------------------------------
// 3. Behaviours

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_stops_fires_and_resume_restarts_from_now_on_the_start_date_grid() {
    let mut env = Env::start(&[]);
    let queue = "fe_pause";
    env.register_queue(queue, "REDIS");
    let job = "every2";
    env.add(json!({"queue_name": queue, "job_id": job, "trigger": "interval", "seconds": 2, "kwargs": {"x": 1}})).await;
    let created_us = env.stored_job(queue, job).unwrap()["created_us"].as_i64().unwrap();
    let start_us = created_us + 2 * S;

    tick_for(&env, Duration::from_millis(2600)).await;
    let before_pause = env.drain_list(queue);
    assert!(!before_pause.is_empty(), "the job must fire before the pause");

    let paused_at = env.now_us();
    env.ok("POST", &format!("pause_timing_job?queue_name={queue}&job_id={job}"), None).await;
    let view = env.get_job(queue, job, "redis").await.unwrap();
    assert_eq!((view["status"].as_str(), &view["next_run_time"]), (Some("paused"), &Value::Null), "{view}");
    assert_eq!(store::due_score(&mut env.conn, queue, job), None, "a paused job is not due");
    let fires_at_pause = view["fire_count"].as_u64().unwrap();

    tick_for(&env, Duration::from_millis(4600)).await;
    assert_eq!(env.drain_list(queue), Vec::<Value>::new(), "nothing may be published while paused");

    let resume_from = env.now_us();
    let data = env.ok("POST", &format!("resume_timing_job?queue_name={queue}&job_id={job}"), None).await;
    let resume_to = env.now_us();
    let next_us = env.stored_job(queue, job).unwrap()["next_run"]["utc_us"].as_i64().unwrap();
    assert_eq!((next_us - start_us) % (2 * S), 0, "resume keeps the start_date grid: next {next_us}, start {start_us}");
    assert!(next_us >= resume_from && next_us < resume_to + 2 * S, "next run {next_us} is the first grid point from now ({resume_from}..{resume_to})");
    assert_eq!(data["next_run_time"], json!(shanghai_py_str(next_us)), "{data}");
    assert_eq!(data["status"], json!("running"));

    tick_for(&env, Duration::from_millis(3100)).await;
    let after_resume = env.drain_list(queue);
    assert!(!after_resume.is_empty(), "the job fires again after resume");
    for message in &after_resume {
        let at = fire_instant(message);
        assert!(at >= resume_from, "fire {at} scheduled in the paused period (paused at {paused_at}, resumed at {resume_from})");
        assert_eq!((at - start_us) % (2 * S), 0, "fire {at} off the grid");
    }
    let view = env.get_job(queue, job, "redis").await.unwrap();
    assert_eq!(view["fire_count"].as_u64(), Some(fires_at_pause + after_resume.len() as u64), "{view}");
    assert_eq!((view["missed_count"].as_u64(), view["coalesced_count"].as_u64()), (Some(0), Some(0)), "the paused period is skipped, not missed: {view}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fire_late_only_by_the_tick_spacing_is_published_and_after_a_gap_it_is_missed() {
    let mut env = Env::start(&[]);
    let queue = "fe_spacing";
    env.register_queue(queue, "REDIS");
    // Every 3 s, grace 1 s (the default).
    env.add(json!({"queue_name": queue, "job_id": "j", "trigger": "interval", "seconds": 3, "kwargs": {"x": 1}})).await;
    let next_run = |env: &mut Env| env.stored_job(queue, "j").unwrap()["next_run"]["utc_us"].as_i64().unwrap();
    let sleep_until = |env: &mut Env, at_us: i64| tokio::time::sleep(Duration::from_micros((at_us - env.now_us()).max(0) as u64));
    let missed = |view: &Value| view["missed_count"].as_u64().unwrap();

    // Ticks 1.4 s apart, the second 1.2 s after the fire: later than the grace, but only
    // because of the ticks' spacing; it is published.
    let due = next_run(&mut env);
    sleep_until(&mut env, due - 200_000).await;
    env.cron_tick().await;
    sleep_until(&mut env, due + 1_200_000).await;
    env.cron_tick().await;
    assert_eq!(env.drain_list(queue).len(), 1, "published");
    assert_eq!(missed(&env.get_job(queue, "j", "redis").await.unwrap()), 0);

    // No tick for 3 s (a gap): the next fire, also 1.2 s late, is missed as in APScheduler.
    let due = next_run(&mut env);
    sleep_until(&mut env, due + 1_200_000).await;
    env.cron_tick().await;
    assert_eq!(env.drain_list(queue).len(), 0, "missed");
    assert_eq!(missed(&env.get_job(queue, "j", "redis").await.unwrap()), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tick_with_nothing_due_reads_nothing_but_the_due_index() {
    let mut env = Env::start(&[]);
    let queue = "fe_idle";
    env.register_queue(queue, "REDIS");
    env.add(json!({"queue_name": queue, "job_id": "later", "trigger": "interval", "minutes": 5, "kwargs": {"x": 1}})).await;
    let report = env.http_tick("").await;
    assert_eq!((report["round_trips"].as_u64(), report["batches"].as_u64(), report["jobs"].as_u64()), (Some(1), Some(0), Some(0)), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_stops_fires() {
    let mut env = Env::start(&[]);
    let queue = "fe_delete";
    env.register_queue(queue, "REDIS");
    env.add(json!({"queue_name": queue, "job_id": "gone", "trigger": "interval", "seconds": 1, "kwargs": {"x": 1}})).await;
    tick_for(&env, Duration::from_millis(2600)).await;
    assert!(env.drain_list(queue).len() >= 2, "the job fires before the delete");
    env.ok("DELETE", &format!("delete_timing_job?queue_name={queue}&job_id=gone"), None).await;
    tick_for(&env, Duration::from_millis(2600)).await;
    assert_eq!(env.drain_list(queue), Vec::<Value>::new(), "a deleted job must not fire");
    assert!(env.get_job(queue, "gone", "redis").await.is_none());
    assert_eq!(env.stored_job(queue, "gone"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_date_job_fires_once_and_is_then_gone() {
    let mut env = Env::start(&[]);
    let queue = "fe_date";
    env.register_queue(queue, "REDIS");
    let run_at = whole_second_after(env.now_us(), 2);
    let run_date = shanghai_wall(run_at);
    let data = env.add(json!({"queue_name": queue, "job_id": "once", "trigger": "date", "run_date": run_date, "args": [4, 2]})).await;
    assert_eq!((data["next_run_time"].as_str(), data["status"].as_str()), (Some(format!("{run_date}+08:00").as_str()), Some("running")), "{data}");

    tick_for(&env, Duration::from_millis(4100)).await;
    let messages = env.drain_list(queue);
    assert_eq!(messages.len(), 1, "{messages:?}");
    let message = &messages[0];
    assert_eq!(message_kwargs(message), json!({"x": 4, "y": 2}));
    assert_eq!(fire_instant(message), run_at);
    assert_eq!(message["extra"]["fire_id"], json!(format!("{queue}:once:{run_at}")));
    assert_eq!(message["extra"]["scheduled_time"], json!(format!("{run_date}+08:00")));
    let published = message["extra"]["publish_time"].as_f64().unwrap();
    let scheduled = run_at as f64 / 1e6;
    assert!(published >= scheduled && published < scheduled + 1.5, "published at {published} for {scheduled}");
    assert_uuid_v7(message["extra"]["task_id"].as_str().unwrap());
    assert!(env.get_job(queue, "once", "redis").await.is_none(), "a fired date job is removed");
    assert_eq!(env.stored_job(queue, "once"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_tick_with_lookahead_publishes_the_next_minute_once_with_eta() {
    let mut env = Env::start(&[]);
    let queue = "fe_ahead";
    env.register_queue(queue, "REDIS");
    env.add(json!({"queue_name": queue, "job_id": "cron10", "trigger": "cron", "second": "*/10", "kwargs": {"x": 1}})).await;
    env.add(json!({"queue_name": queue, "job_id": "every7", "trigger": "interval", "seconds": 7, "kwargs": {"x": 2}})).await;
    let step = |id: &str| if id == "cron10" { 10 * S } else { 7 * S };
    let first_next: HashMap<&str, i64> =
        ["cron10", "every7"].into_iter().map(|id| (id, env.stored_job(queue, id).unwrap()["next_run"]["utc_us"].as_i64().unwrap())).collect();

    let report = env.http_tick("lookahead=60").await;
    let now_us = report["now_us"].as_i64().unwrap();
    let until = now_us + 60 * S;
    let messages = env.drain_list(queue);
    let mut published: HashMap<String, Vec<i64>> = HashMap::new();
    for message in &messages {
        let at = fire_instant(message);
        if at > now_us {
            assert_eq!(message["extra"]["eta"].as_f64(), Some(at as f64 / 1e6), "eta is the scheduled time in Unix seconds: {message}");
        } else {
            assert!(message["extra"].get("eta").is_none(), "{message}");
        }
        assert_eq!(message["extra"]["scheduled_time"], json!(shanghai_py_str(at)));
        published.entry(fire_job(message)).or_default().push(at);
    }
    for id in ["cron10", "every7"] {
        let expected: Vec<i64> = std::iter::successors(Some(first_next[id]), |t| Some(t + step(id))).take_while(|t| *t <= until).collect();
        assert_eq!(published.get(id), Some(&expected), "{id}: the fires up to now + 60 s");
        let next = env.stored_job(queue, id).unwrap()["next_run"]["utc_us"].as_i64().unwrap();
        assert_eq!(next, expected.last().unwrap() + step(id), "{id}: the next run is the first fire after the window");
    }
    assert_eq!(report["fired"].as_u64().unwrap() + report["fired_ahead"].as_u64().unwrap(), messages.len() as u64, "{report}");

    // The next ticks do not publish those fires again: the look-ahead tick only adds fires that
    // entered its window since, and a plain tick has nothing left to do.
    let report2 = env.http_tick("lookahead=60").await;
    let until2 = report2["now_us"].as_i64().unwrap() + 60 * S;
    for message in env.drain_list(queue) {
        let at = fire_instant(&message);
        assert!(at > until && at <= until2, "fire {at} published twice or outside the window: {message}");
        published.entry(fire_job(&message)).or_default().push(at);
    }
    let report3 = env.http_tick("").await;
    assert_eq!(report3["jobs"].as_u64(), Some(0), "{report3}");
    assert_eq!(env.drain_list(queue), Vec::<Value>::new());
    for id in ["cron10", "every7"] {
        let view = env.get_job(queue, id, "redis").await.unwrap();
        let fires = &published[id];
        assert_eq!(view["fire_count"].as_u64(), Some(fires.len() as u64), "{view}");
        assert_eq!(view["missed_count"].as_u64(), Some(0), "{view}");
        assert_eq!(view["last_fire_time"], json!(shanghai_py_str(*fires.last().unwrap())), "{view}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tick_route_needs_the_tick_token_or_an_admin_token() {
    let mut env = Env::start(&[("tick_token", "tick-s3cret"), ("api_token", "api-t0ken")]);
    let queue = "fe_token";
    env.register_queue(queue, "REDIS");
    let api = [("authorization", "Bearer api-t0ken")];
    let body = json!({"queue_name": queue, "job_id": "now", "trigger": "date", "kwargs": {"x": 1}});
    let (status, envelope) = env.call_with("POST", "add_timing_job", &api, Some(&body)).await;
    assert_eq!(status, 200, "{envelope}");

    for (method, path, headers) in [
        ("GET", "tick", vec![]),
        ("POST", "tick", vec![]),
        ("GET", "tick?token=wrong", vec![]),
        ("GET", "tick?token=", vec![]),
        ("GET", "tick", vec![("authorization", "Bearer wrong")]),
        ("GET", "tick", vec![("authorization", "tick-s3cret")]),
    ] {
        let (status, envelope) = env.call_with(method, path, &headers, None).await;
        assert_eq!(status, 401, "{method} {path} {headers:?}: {envelope}");
        assert_eq!(envelope["succ"], json!(false));
        assert!(envelope["msg"].as_str().unwrap().contains("tick_token"), "{envelope}");
        assert_eq!(env.list_len(queue), 0, "a refused tick published something");
    }

    let (status, envelope) = env.call_with("GET", "tick?token=tick-s3cret", &[], None).await;
    assert_eq!(status, 200, "{envelope}");
    assert_eq!(envelope["data"]["fired"].as_u64(), Some(1), "{envelope}");
    assert_eq!(env.drain_list(queue).len(), 1);
    for (method, path) in [("POST", "tick"), ("GET", "tick")] {
        let (status, envelope) = env.call_with(method, path, &[("authorization", "Bearer tick-s3cret")], None).await;
        assert_eq!(status, 200, "{method} {path}: {envelope}");
        assert_eq!(envelope["data"]["fired"].as_u64(), Some(0), "{envelope}");
    }
    // An admin token (api_token is one) may tick too, as a header or in the query.
    for (path, headers) in [("tick", vec![("authorization", "Bearer api-t0ken")]), ("tick?token=api-t0ken", vec![])] {
        let (status, envelope) = env.call_with("GET", path, &headers, None).await;
        assert_eq!(status, 200, "{path}: {envelope}");
    }

    // Without a tick token the route serves loopback clients only.
    let env2 = Env::start(&[]);
    let (status, _) = env2.call_with("GET", "tick", &[], None).await;
    assert_eq!(status, 200);
    let (status, envelope) = env2.call_with("GET", "tick", &[("spin-client-addr", "203.0.113.7:40000")], None).await;
    assert_eq!(status, 401, "{envelope}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_jobs_fire_too() {
    let mut env = Env::start(&[]);
    let queue = "fe_memory";
    env.register_queue(queue, "REDIS");
    env.add(json!({"queue_name": queue, "job_id": "mem_every1", "job_store_kind": "memory", "trigger": "interval", "seconds": 1, "args": [6]})).await;
    let run_at = whole_second_after(env.now_us(), 2);
    env.add(json!({"queue_name": queue, "job_id": "mem_once", "job_store_kind": "memory", "trigger": "date", "run_date": shanghai_wall(run_at), "kwargs": {"x": 9, "y": 1}})).await;
    assert!(env.get_job(queue, "mem_every1", "redis").await.is_none(), "a memory job is not in the redis store");

    tick_for(&env, Duration::from_millis(3600)).await;
    let messages = env.drain_list(queue);
    let every: Vec<&Value> = messages.iter().filter(|m| fire_job(m) == "mem_every1").collect();
    let once: Vec<&Value> = messages.iter().filter(|m| fire_job(m) == "mem_once").collect();
    assert!(every.len() >= 2, "{messages:?}");
    assert_eq!(once.len(), 1, "{messages:?}");
    assert_eq!(message_kwargs(once[0]), json!({"x": 9, "y": 1}));
    assert_eq!(fire_instant(once[0]), run_at);
    let instants: HashSet<i64> = every.iter().map(|m| fire_instant(m)).collect();
    assert_eq!(instants.len(), every.len(), "a memory fire was published twice");
    for message in &every {
        assert_eq!(message_kwargs(message), json!({"x": 6}));
    }

    let view = env.get_job(queue, "mem_every1", "memory").await.expect("memory job");
    assert_eq!(view["job_store_kind"], json!("memory"));
    assert_eq!(view["fire_count"].as_u64(), Some(every.len() as u64), "{view}");
    let last = every.iter().map(|m| fire_instant(m)).max().unwrap();
    assert_eq!(view["last_fire_time"], json!(shanghai_py_str(last)), "{view}");
    assert!(env.get_job(queue, "mem_once", "memory").await.is_none(), "a fired memory date job is removed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fire_that_cannot_be_pushed_is_reported_and_retried_not_lost() {
    let mut env = Env::start(&[]);
    let (queue, fine) = ("fe_wrongtype", "fe_fine");
    env.register_queue(queue, "REDIS");
    env.register_queue(fine, "REDIS");
    // The queue key holds a stream (say, left over from an earlier stream consumer), but the
    // queue is a list queue (RPUSH): the push fails with WRONGTYPE, for both of its jobs, and
    // not for the job of another queue in the same batch.
    redis::cmd("XADD").arg(queue).arg("*").arg("").arg("{\"x\":0}").exec(&mut env.conn).unwrap();
    for (q, id) in [(queue, "wrong"), (queue, "wrong2"), (fine, "fine")] {
        env.add(json!({"queue_name": q, "job_id": id, "trigger": "date", "kwargs": {"x": 1}})).await;
    }
    let report = env.ok("GET", "tick", None).await;
    let errors: Vec<&str> = report["errors"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(
        errors.len() == 2 && ["wrong", "wrong2"].iter().all(|id| errors.iter().any(|e| e.starts_with(&format!("publishing {queue}/{id}: WRONGTYPE")))),
        "the failed pushes are reported: {report}"
    );
    assert_eq!(report["conflicts"].as_u64(), Some(0), "{report}");
    assert_eq!(report["fired"].as_u64(), Some(1), "the other queue's job fired: {report}");
    assert_eq!(env.drain_list(fine).len(), 1);
    let view = env.get_job(queue, "wrong", "redis").await.expect("the job is kept");
    assert_eq!(view["fire_count"].as_u64(), Some(0), "{view}");
    let len: i64 = redis::cmd("XLEN").arg(queue).query(&mut env.conn).unwrap();
    assert_eq!(len, 1, "nothing was published");

    // The jobs are retried a minute later, so they cannot block the jobs due after them.
    let now_us = report["now_us"].as_f64().unwrap();
    for id in ["wrong", "wrong2"] {
        let retry_at = store::due_score(&mut env.conn, queue, id).expect("still due") as f64;
        assert!((59e6..=61e6).contains(&(retry_at - now_us)), "{id}: retry in a minute: {retry_at} vs now {now_us}");
        // Put it back on its original due time instead of waiting the minute (late fires
        // follow the job's grace time: 1 s).
        store::set_next_score(&mut env.conn, queue, id, now_us as i64);
    }

    // Once the key is usable the fires go out.
    redis::cmd("DEL").arg(queue).exec(&mut env.conn).unwrap();
    let report = env.http_tick("").await;
    assert_eq!(report["fired"].as_u64(), Some(2), "{report}");
    assert_eq!(env.drain_list(queue).len(), 2);
    assert!(env.get_job(queue, "wrong", "redis").await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_broker_kind_publishes_with_its_own_command_and_key() {
    let mut env = Env::start(&[]);
    env.register_queue_with("fe_p", "REDIS_PRIORITY", json!({"x-max-priority": 3, "pull_msg_batch_size": 100}));
    env.register_queue("fe_s", "REDIS_STREAM");
    env.register_queue("fe_l", "RedisBrpopLpush");
    env.register_queue("fe_a", "REDIS_ACK_ABLE");
    // Date jobs without run_date fire at once; no broker_kind: the registered kind is used.
    for (queue, job, priority) in
        [("fe_p", "p2", Some(2)), ("fe_p", "p9", Some(9)), ("fe_p", "p0", Some(0)), ("fe_p", "none", None), ("fe_s", "s", None), ("fe_a", "a", None)]
    {
        let mut body = json!({"queue_name": queue, "job_id": job, "trigger": "date", "kwargs": {"x": 1}});
        if let Some(p) = priority {
            body["priority"] = json!(p);
        }
        env.add(body).await;
    }
    for job in ["l1", "l2"] {
        env.add(json!({"queue_name": "fe_l", "job_id": job, "trigger": "date", "kwargs": {"x": 1}})).await;
    }
    for queue in ["fe_l", "fe_a"] {
        redis::cmd("RPUSH").arg(queue).arg("{\"x\":0}").exec(&mut env.conn).unwrap();
    }
    let report = env.http_tick("").await;
    assert_eq!(report["fired"].as_u64(), Some(8), "{report}");

    // REDIS_PRIORITY: RPUSH <queue>:<min(p, x-max-priority)> with other_extra_params.priroty (sic);
    // no (or zero) priority: RPUSH <queue>.
    let p2 = env.drain_list("fe_p:2");
    let p3 = env.drain_list("fe_p:3");
    let plain = env.drain_list("fe_p");
    assert_eq!((p2.len(), p3.len(), plain.len(), env.list_len("fe_p:1")), (1, 1, 2, 0));
    assert_eq!((fire_job(&p2[0]), p2[0]["extra"]["other_extra_params"]["priroty"].as_u64()), ("p2".into(), Some(2)));
    assert_eq!((fire_job(&p3[0]), p3[0]["extra"]["other_extra_params"]["priroty"].as_u64()), ("p9".into(), Some(9)));
    let plain_jobs: HashSet<String> = plain.iter().map(fire_job).collect();
    assert_eq!(plain_jobs, HashSet::from(["p0".to_string(), "none".to_string()]));
    // REDIS_STREAM: XADD <queue> * "" <json>.
    let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE").arg("fe_s").arg("-").arg("+").query(&mut env.conn).unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].1.len(), 1);
    assert_eq!(entries[0].1[0].0, "", "the one field is named by the empty string");
    let message: Value = serde_json::from_str(&entries[0].1[0].1).unwrap();
    assert_eq!(fire_job(&message), "s");
    // REDIS_ACK_ABLE: RPUSH <queue> (after the message already there); RedisBrpopLpush: LPUSH
    // <queue> (before it: BRPOPLPUSH takes from the right, the oldest first).
    let ack_able = env.drain_list("fe_a");
    assert_eq!((message_kwargs(&ack_able[0]), fire_job(&ack_able[1])), (json!({"x": 0}), "a".to_string()));
    let lpushed = env.drain_list("fe_l");
    assert_eq!(lpushed.len(), 3);
    assert_eq!(message_kwargs(&lpushed[2]), json!({"x": 0}), "LPUSH puts the new messages at the head");
    let mut jobs: Vec<String> = lpushed[..2].iter().map(fire_job).collect();
    jobs.sort();
    assert_eq!(jobs, ["l1", "l2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_job_whose_push_fails_neither_blocks_the_others_nor_loses_its_fire() {
    let mut env = Env::start(&[]);
    let (bad, good) = ("fe_mem_bad", "fe_mem_good");
    env.register_queue(bad, "REDIS");
    env.register_queue(good, "REDIS");
    // The bad queue's key holds a stream: RPUSH fails with WRONGTYPE.
    redis::cmd("XADD").arg(bad).arg("*").arg("").arg("{\"x\":0}").exec(&mut env.conn).unwrap();
    for queue in [bad, good] {
        env.add(json!({"queue_name": queue, "job_id": "once", "job_store_kind": "memory", "trigger": "date", "kwargs": {"x": 1}, "misfire_grace_time": null}))
            .await;
    }
    let report = env.ok("GET", "tick", None).await;
    let errors: Vec<&str> = report["errors"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(errors.len() == 1 && errors[0].starts_with(&format!("publishing {bad}/once: WRONGTYPE")), "{report}");
    assert_eq!(env.drain_list(good).len(), 1, "the other memory job fired: {report}");
    assert!(env.get_job(bad, "once", "memory").await.is_some(), "the failed job is kept, not advanced");

    // Once the key is usable the kept fire goes out, once.
    redis::cmd("DEL").arg(bad).exec(&mut env.conn).unwrap();
    env.http_tick("").await;
    env.http_tick("").await;
    assert_eq!(env.drain_list(bad).len(), 1);
    assert!(env.get_job(bad, "once", "memory").await.is_none(), "a fired date job is removed");
}
