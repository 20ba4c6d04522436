//! After a long outage a job catches up exactly as APScheduler 3.11.3 would (its own scheduler
//! loop is the oracle: tests/python/misfire_oracle.py), and at a cost that does not grow with
//! the outage: an interval trigger's missed times are counted, not visited, and any trigger
//! visits at most `MAX_CATCH_UP_STEPS` times per call, the tick's next batch going on from
//! where the last stopped. Outages of hours to a year, across DST changes in four zones, with
//! every combination of grace (1 s, an hour, none) and coalescing; the same fired times, the
//! same missed and coalesced counts and the same next run as APScheduler, in a bounded number
//! of steps.
//!
//! Needs the test venv's Python with APScheduler (scripts/test prepares it).

use std::process::{Command, Stdio};

use funboost_edge::trigger::misfire::{process_due, MAX_CATCH_UP_STEPS};
use funboost_edge::trigger::{Schedule, TriggerSpec, Zdt, Zone};
use serde_json::{json, Value};

const S: i64 = 1_000_000;
const HOUR: i64 = 3600 * S;
const DAY: i64 = 24 * HOUR;

fn python() -> std::path::PathBuf {
    match std::env::var_os("FUNBOOST_EDGE_PYTHON").filter(|p| !p.is_empty()) {
        Some(p) => p.into(),
        None => std::path::PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/funboost-edge/venv/bin/python"),
    }
}

/// A trigger, its zone, the first scheduled time the outage starts at (UTC µs, on the trigger's
/// schedule) and how long the outage lasted.
struct Outage {
    name: &'static str,
    fields: Value,
    zone: &'static str,
    start_us: i64,
    length_us: i64,
}

fn outages() -> Vec<Outage> {
    let at = |zone: &str, wall: &str| -> i64 {
        let zone = Zone::parse(zone).expect("zone");
        funboost_edge::trigger::parse_datetime("at", wall, zone).expect("a time").utc_us()
    };
    vec![
        Outage {
            name: "every second, 6 h over New York's spring-forward",
            fields: json!({"trigger": "interval", "seconds": 1}),
            zone: "America/New_York",
            start_us: at("America/New_York", "2026-03-07 23:00:00"),
            length_us: 6 * HOUR,
        },
        Outage {
            name: "every 10 s, 3 days over London's fall-back",
            fields: json!({"trigger": "interval", "seconds": 10}),
            zone: "Europe/London",
            start_us: at("Europe/London", "2026-10-23 12:00:00"),
            length_us: 3 * DAY,
        },
        Outage {
            name: "hourly interval, 60 days over New York's fall-back",
            fields: json!({"trigger": "interval", "hours": 1}),
            zone: "America/New_York",
            start_us: at("America/New_York", "2026-10-01 05:00:00"),
            length_us: 60 * DAY,
        },
        Outage {
            name: "every minute, 2 days over Sydney's spring-forward",
            fields: json!({"trigger": "cron", "minute": "*"}),
            zone: "Australia/Sydney",
            start_us: at("Australia/Sydney", "2026-10-03 00:00:00"),
            length_us: 2 * DAY,
        },
        Outage {
            name: "daily at 02:30, a year in New York (gap days)",
            fields: json!({"trigger": "cron", "hour": "2", "minute": "30"}),
            zone: "America/New_York",
            start_us: at("America/New_York", "2026-01-01 02:30:00"),
            length_us: 365 * DAY,
        },
        Outage {
            name: "every 10 s, 12 h over London's spring-forward",
            fields: json!({"trigger": "cron", "second": "*/10"}),
            zone: "Europe/London",
            start_us: at("Europe/London", "2026-03-28 20:00:00"),
            length_us: 12 * HOUR,
        },
        Outage {
            name: "01:30 daily, 5 days over New York's fall-back (twice that day)",
            fields: json!({"trigger": "cron", "hour": "1", "minute": "30"}),
            zone: "America/New_York",
            start_us: at("America/New_York", "2026-10-30 01:30:00"),
            length_us: 5 * DAY,
        },
        Outage {
            name: "every 7 s, 2 days in Shanghai",
            fields: json!({"trigger": "interval", "seconds": 7}),
            zone: "Asia/Shanghai",
            start_us: at("Asia/Shanghai", "2026-12-01 00:00:00"),
            length_us: 2 * DAY + 3 * S,
        },
    ]
}

/// What the tick does at one `now`: `process_due` again and again until nothing is due.
struct Ours {
    fired: Vec<i64>,
    missed: u64,
    coalesced: u64,
    next_run_us: Option<i64>,
    calls: usize,
}

fn ours(schedule: &Schedule, first: Zdt, now: &Zdt, grace: Option<u32>, coalesce: bool) -> Ours {
    let mut out = Ours { fired: Vec::new(), missed: 0, coalesced: 0, next_run_us: None, calls: 0 };
    let mut next = Some(first);
    while let Some(run) = next.filter(|r| r.utc_us() <= now.utc_us()) {
        let due = process_due(&schedule.trigger, &run, now, now, grace, coalesce, None).expect("due");
        assert!(due.fire.len() <= MAX_CATCH_UP_STEPS, "one call published {} fires", due.fire.len());
        out.fired.extend(due.fire.iter().map(|f| f.at.utc_us()));
        out.missed += due.missed;
        out.coalesced += due.coalesced;
        next = due.next_run_time;
        out.calls += 1;
    }
    out.next_run_us = next.map(|t| t.utc_us());
    out
}

#[test]
fn long_outages_end_as_apschedulers_do_in_bounded_steps() {
    let mut cases = Vec::new();
    let mut ours_by_case = Vec::new();
    for outage in outages() {
        let zone = Zone::parse(outage.zone).expect("zone");
        let mut fields = outage.fields.clone();
        // The interval's grid starts at the outage's first time.
        if fields["trigger"] == "interval" {
            fields["start_date"] = json!(Zdt::from_utc(outage.start_us, zone).py_str()[..19].to_string());
        }
        fields["timezone"] = json!(outage.zone);
        let spec: TriggerSpec = serde_json::from_value(fields.clone()).expect("a trigger");
        let schedule = Schedule::build(&spec, zone, outage.start_us - S).expect("builds");
        let first = schedule.trigger.next_fire_time(None, &Zdt::from_utc(outage.start_us - S, zone)).expect("a first time");
        assert_eq!(first.utc_us(), outage.start_us, "{}: the outage starts on a scheduled time", outage.name);
        let now = Zdt::from_utc(outage.start_us + outage.length_us, zone);
        for grace in [Some(1), Some(3600), None] {
            for coalesce in [true, false] {
                let id = format!("{} ({}) grace={grace:?} coalesce={coalesce}", outage.name, outage.fields["trigger"].as_str().unwrap_or("?"));
                let mut oracle_fields = outage.fields.clone();
                oracle_fields.as_object_mut().expect("object").remove("trigger");
                cases.push(json!({
                    "id": id, "trigger": outage.fields["trigger"], "fields": oracle_fields, "timezone": outage.zone,
                    "start_date_us": outage.start_us, "next_run_time_us": outage.start_us, "now_us": now.utc_us(),
                    "misfire_grace_time": grace, "coalesce": coalesce, "summary": true,
                }));
                ours_by_case.push((id, ours(&schedule, first, &now, grace, coalesce)));
            }
        }
    }
    let mut child = Command::new(python())
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/misfire_oracle.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run the misfire oracle (FUNBOOST_EDGE_PYTHON with APScheduler)");
    serde_json::to_writer(child.stdin.take().expect("stdin"), &cases).expect("write the cases");
    let output = child.wait_with_output().expect("oracle output");
    assert!(output.status.success(), "the oracle failed");
    let outcomes: Vec<Value> = serde_json::from_slice(&output.stdout).expect("oracle JSON");
    assert_eq!(outcomes.len(), ours_by_case.len());
    for (outcome, (id, ours)) in outcomes.iter().zip(&ours_by_case) {
        assert_eq!(outcome["id"].as_str(), Some(id.as_str()));
        let fired: Vec<i64> = outcome["fired"].as_array().expect("fired").iter().map(|f| f[1].as_i64().expect("µs")).collect();
        assert_eq!(ours.fired, fired, "{id}: the fired times");
        assert_eq!(
            (ours.missed, ours.coalesced),
            (outcome["missed"].as_u64().unwrap_or(0), outcome["coalesced"].as_u64().unwrap_or(0)),
            "{id}: missed, coalesced"
        );
        assert_eq!(ours.next_run_us, outcome["next_run_time"][1].as_i64(), "{id}: the next run");
        // The work: one call per MAX_CATCH_UP_STEPS fires, more only for a cron trigger's
        // visited times; an interval's skipped times cost nothing.
        let run_times = outcome["run_times"].as_u64().unwrap_or(0) as usize;
        let bound = if id.contains("(interval)") { fired.len() } else { run_times } / MAX_CATCH_UP_STEPS + 2;
        assert!(ours.calls <= bound, "{id}: {} calls for {run_times} run times", ours.calls);
    }
}
