//! An `and` trigger whose parts never fire at the same time makes APScheduler 3.11.3 loop
//! forever. funboost-edge bounds the search (`MAX_AND_SEARCH_YEARS`,
//! `MAX_AND_SEARCH_EVALUATIONS`) and refuses such a trigger when it is built for a new job,
//! naming `trigger`, well within a second even unoptimized; combinations that are possible
//! but sparse are accepted and fire when they should. Needs nothing built beyond the crate.

use std::time::{Duration, Instant};

use funboost_edge::trigger::{Schedule, TriggerSpec, Zdt, Zone, MAX_AND_SEARCH_EVALUATIONS};
use serde_json::{json, Value};

/// 2026-01-15 10:00:00 UTC.
const NOW_US: i64 = 1_768_471_200_000_000;

/// Refusing must take well under this, even in a debug build.
const QUICKLY: Duration = Duration::from_millis(500);

fn build(body: &Value) -> (Result<Schedule, funboost_edge::trigger::TriggerError>, Duration) {
    let spec: TriggerSpec = serde_json::from_value(body.clone()).unwrap_or_else(|e| panic!("{body}: {e}"));
    let started = Instant::now();
    let built = Schedule::build(&spec, Zone::Utc, NOW_US);
    (built, started.elapsed())
}

fn cron(fields: Value) -> Value {
    let mut part = json!({"trigger": "cron", "timezone": "UTC"});
    if let (Some(part), Some(fields)) = (part.as_object_mut(), fields.as_object()) {
        part.extend(fields.clone());
    }
    part
}

#[test]
fn impossible_combinations_are_refused_naming_trigger_within_the_time_bound() {
    let sixteen_hours = |offset: u32| (0..16).map(|i| cron(json!({"hour": (i + offset) % 24}))).collect::<Vec<_>>();
    let cases = [
        // two times of day: the search moves a day at a time until its budget is spent
        ("different hours", json!({"trigger": "and", "triggers": [cron(json!({"hour": 9})), cron(json!({"hour": 10}))]})),
        // a grid that never lands on 09:00 (09:30 + 7 h steps only ever gives half hours)
        (
            "an interval off the cron's grid",
            json!({"trigger": "and", "triggers": [cron(json!({"hour": 9})), {"trigger": "interval", "hours": 7, "start_date": "2026-01-01 09:30:00", "timezone": "UTC"}]}),
        ),
        // a date already past: APScheduler keeps answering it while the cron moves on
        (
            "a past date",
            json!({"trigger": "and", "triggers": [cron(json!({"hour": 9})), {"trigger": "date", "run_date": "2026-01-01 09:00:00", "timezone": "UTC"}]}),
        ),
        // a calendar interval's first answer is its start date, whatever now is
        (
            "a calendar interval started in the past",
            json!({"trigger": "and", "triggers": [{"trigger": "calendarinterval", "days": 1, "hour": 9, "start_date": "2026-01-01", "timezone": "UTC"}, cron(json!({"hour": 9}))]}),
        ),
        // each part fires, never on the same day
        ("the 31st and February", json!({"trigger": "and", "triggers": [cron(json!({"day": 31})), cron(json!({"month": 2}))]})),
        // one part of an or: APScheduler would hang on the or as well
        (
            "inside an or",
            json!({"trigger": "or", "triggers": [{"trigger": "interval", "seconds": 10, "timezone": "UTC"}, {"trigger": "and", "triggers": [cron(json!({"hour": 9})), cron(json!({"hour": 10}))]}]}),
        ),
        // three levels deep
        (
            "nested three deep",
            json!({"trigger": "and", "triggers": [{"trigger": "or", "triggers": [{"trigger": "and", "triggers": [cron(json!({"second": "*/2"})), cron(json!({"second": "1-59/2"}))]}]}]}),
        ),
        // the widest search allowed: 16 parts of 16 each, every part a different hour set
        (
            "16 ors of 16 crons",
            json!({"trigger": "and", "triggers": (0..16).map(|i| json!({"trigger": "or", "triggers": sixteen_hours(i * 3)})).collect::<Vec<_>>()}),
        ),
        // dense parts that never meet: every even second against odd seconds
        ("even and odd seconds", json!({"trigger": "and", "triggers": [cron(json!({"second": "*/2"})), cron(json!({"second": "1-59/2"}))]})),
    ];
    for (name, body) in cases {
        let (built, took) = build(&body);
        let err = built.err().unwrap_or_else(|| panic!("{name}: accepted"));
        assert_eq!(err.field, "trigger", "{name}: {err}");
        assert!(err.message.contains("never fire at the same time"), "{name}: {err}");
        eprintln!("{name}: refused in {took:?}");
        assert!(took < QUICKLY, "{name}: took {took:?} (search budget {MAX_AND_SEARCH_EVALUATIONS} part evaluations)");
    }
}

#[test]
fn possible_but_sparse_combinations_are_accepted_and_fire_when_they_meet() {
    let cases = [
        // Friday the 13th at 09:00
        (
            json!({"trigger": "and", "triggers": [cron(json!({"day": 13, "hour": 9})), cron(json!({"day_of_week": "fri", "hour": 9}))]}),
            vec!["2026-02-13 09:00:00+00:00", "2026-03-13 09:00:00+00:00", "2026-11-13 09:00:00+00:00"],
        ),
        // 29 February on a Monday: 2044, 2072, then 2112 (2100 is no leap year)
        (
            json!({"trigger": "and", "triggers": [cron(json!({"month": 2, "day": 29})), cron(json!({"day_of_week": "mon"}))]}),
            vec!["2044-02-29 00:00:00+00:00", "2072-02-29 00:00:00+00:00"],
        ),
        // a daily cron and a 7-hour grid through 09:00: every 7 days
        (
            json!({"trigger": "and", "triggers": [cron(json!({"hour": 9})), {"trigger": "interval", "hours": 7, "start_date": "2026-01-15 09:00:00", "timezone": "UTC"}]}),
            vec!["2026-01-22 09:00:00+00:00", "2026-01-29 09:00:00+00:00", "2026-02-05 09:00:00+00:00"],
        ),
        // a monthly calendar interval from the 31st and the last day of the month
        (
            json!({"trigger": "and", "triggers": [{"trigger": "calendarinterval", "months": 1, "hour": 9, "start_date": "2026-01-31", "timezone": "UTC"}, cron(json!({"day": "last", "hour": 9}))]}),
            vec!["2026-01-31 09:00:00+00:00", "2026-03-31 09:00:00+00:00", "2026-05-31 09:00:00+00:00"],
        ),
        // every second and one time a day
        (
            json!({"trigger": "and", "triggers": [cron(json!({"second": "*"})), cron(json!({"hour": 23, "minute": 59, "second": 59}))]}),
            vec!["2026-01-15 23:59:59+00:00", "2026-01-16 23:59:59+00:00"],
        ),
        // 09:00 in Tokyo is 20:00 the evening before in New York only while New York keeps
        // daylight time (from 8 March 2026)
        (
            json!({"trigger": "and", "triggers": [{"trigger": "cron", "hour": 9, "timezone": "Asia/Tokyo"}, {"trigger": "cron", "hour": 20, "timezone": "America/New_York"}]}),
            vec!["2026-03-09 09:00:00+09:00", "2026-03-10 09:00:00+09:00"],
        ),
    ];
    for (body, expected) in cases {
        let (built, took) = build(&body);
        let schedule = built.unwrap_or_else(|e| panic!("{body}: {e}"));
        assert!(took < QUICKLY, "{body}: took {took:?}");
        let fires: Vec<String> = schedule.trigger.upcoming(&Zdt::from_utc(NOW_US, schedule.zone()), expected.len()).iter().map(Zdt::py_str).collect();
        assert_eq!(fires, expected, "{body}");
    }
}

#[test]
fn a_part_that_is_finished_leaves_the_job_without_a_next_time_rather_than_refused() {
    // An end date already past: APScheduler answers None at once (a finished trigger, as a
    // cron job on 30 February), which is not a search that ran out.
    let body = json!({"trigger": "and", "triggers": [cron(json!({"hour": 9, "end_date": "2025-01-01"})), cron(json!({"hour": 9}))]});
    let (built, _) = build(&body);
    let schedule = built.unwrap_or_else(|e| panic!("{body}: {e}"));
    assert_eq!(schedule.trigger.next_fire_time(None, &Zdt::from_utc(NOW_US, schedule.zone())), None);
}
