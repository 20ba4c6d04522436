//! The trigger behaviours users rely on, as readable cases (the differential suite checks
//! thousands more against APScheduler itself).

use funboost_edge::trigger::misfire::process_due;
use funboost_edge::trigger::{Schedule, TriggerSpec, Zdt, Zone};
use serde_json::json;

fn schedule(body: serde_json::Value, now: &str) -> (Schedule, Zdt) {
    let spec: TriggerSpec = serde_json::from_value(body).expect("spec");
    let zone = Zone::parse(spec.timezone.as_deref().unwrap_or("Asia/Shanghai")).expect("zone");
    let now = funboost_edge::trigger::parse_datetime("now", now, zone).expect("now");
    (Schedule::build(&spec, Zone::parse("Asia/Shanghai").unwrap(), now.utc_us()).expect("valid"), now)
}

fn upcoming(body: serde_json::Value, now: &str, count: usize) -> Vec<String> {
    let (s, now) = schedule(body, now);
    s.trigger.upcoming(&now, count).iter().map(Zdt::py_str).collect()
}

#[test]
fn seed_examples_fire_when_the_seed_says() {
    let cases = [
        (
            "daily at 15:30",
            json!({"trigger": "cron", "hour": "15", "minute": "30"}),
            "2025-12-03 16:00:00",
            vec!["2025-12-04 15:30:00+08:00", "2025-12-05 15:30:00+08:00"],
        ),
        (
            "every 2 hours",
            json!({"trigger": "cron", "hour": "*/2", "minute": "0"}),
            "2025-12-03 15:00:00",
            vec!["2025-12-03 16:00:00+08:00", "2025-12-03 18:00:00+08:00"],
        ),
        (
            "weekdays at 9",
            json!({"trigger": "cron", "day_of_week": "mon-fri", "hour": "9", "minute": "0"}),
            "2025-12-05 10:00:00",
            vec!["2025-12-08 09:00:00+08:00", "2025-12-09 09:00:00+08:00"],
        ),
        (
            "every 10 s from an explicit start",
            json!({"trigger": "interval", "seconds": 10, "start_date": "2025-12-03 14:50:00"}),
            "2025-12-03 14:50:05",
            vec!["2025-12-03 14:50:10+08:00", "2025-12-03 14:50:20+08:00"],
        ),
        ("once at run_date", json!({"trigger": "date", "run_date": "2025-12-03 15:00:00"}), "2025-12-01 00:00:00", vec!["2025-12-03 15:00:00+08:00"]),
    ];
    for (name, body, now, expected) in cases {
        assert_eq!(upcoming(body, now, 2), expected, "{name}");
    }
}

#[test]
fn apscheduler_rules_that_differ_from_unix_cron() {
    let cases = [
        (
            "day and day_of_week combine with AND: Friday the 13th only",
            json!({"trigger": "cron", "day": "13", "day_of_week": "fri", "timezone": "UTC"}),
            "2026-01-01 00:00:00",
            vec!["2026-02-13 00:00:00+00:00", "2026-03-13 00:00:00+00:00"],
        ),
        (
            "weekday 0 is Monday",
            json!({"trigger": "cron", "day_of_week": "0", "hour": "0", "timezone": "UTC"}),
            "2026-11-28 00:00:00",
            vec!["2026-11-30 00:00:00+00:00", "2026-12-07 00:00:00+00:00"],
        ),
        (
            "fields after the last given one default to their minimum",
            json!({"trigger": "cron", "minute": "30", "timezone": "UTC"}),
            "2026-11-28 10:31:00",
            vec!["2026-11-28 11:30:00+00:00", "2026-11-28 12:30:00+00:00"],
        ),
        (
            "no field at all means every second",
            json!({"trigger": "cron", "timezone": "UTC"}),
            "2026-11-28 10:31:00.5",
            vec!["2026-11-28 10:31:01+00:00", "2026-11-28 10:31:02+00:00"],
        ),
        (
            "last day and last weekday of the month",
            json!({"trigger": "cron", "day": "last fri", "timezone": "UTC"}),
            "2026-11-28 00:00:00",
            vec!["2026-12-25 00:00:00+00:00", "2027-01-29 00:00:00+00:00"],
        ),
        (
            "ISO week 53 only exists in some years",
            json!({"trigger": "cron", "week": "53", "day_of_week": "thu", "timezone": "UTC"}),
            "2021-01-01 00:00:00",
            vec!["2026-12-31 00:00:00+00:00", "2032-12-30 00:00:00+00:00"],
        ),
        (
            "the spring-forward gap fires at the non-existent wall time",
            json!({"trigger": "cron", "hour": "2", "minute": "30", "timezone": "America/New_York"}),
            "2024-03-09 12:00:00",
            vec!["2024-03-10 02:30:00-05:00", "2024-03-11 02:30:00-04:00"],
        ),
        (
            "the fall-back fold fires twice",
            json!({"trigger": "cron", "hour": "1", "minute": "30", "timezone": "America/New_York"}),
            "2024-11-02 12:00:00",
            vec!["2024-11-03 01:30:00-04:00", "2024-11-03 01:30:00-05:00", "2024-11-04 01:30:00-05:00"],
        ),
        (
            "intervals are absolute time across DST",
            json!({"trigger": "interval", "days": 1, "start_date": "2024-03-09 09:00:00", "timezone": "America/New_York"}),
            "2024-03-09 08:00:00",
            vec!["2024-03-09 09:00:00-05:00", "2024-03-10 10:00:00-04:00"],
        ),
    ];
    for (name, body, now, expected) in cases {
        assert_eq!(upcoming(body, now, expected.len()), expected, "{name}");
    }
}

#[test]
fn a_schedule_that_can_never_fire_has_no_next_time() {
    for body in [
        json!({"trigger": "cron", "month": "feb", "day": "30"}),
        json!({"trigger": "cron", "year": "2031", "month": "feb", "day": "29"}),
        json!({"trigger": "cron", "month": "apr,jun,sep,nov", "day": "31"}),
        json!({"trigger": "cron", "hour": "9", "end_date": "2020-01-01"}),
    ] {
        assert!(upcoming(body.clone(), "2026-11-28 00:00:00", 1).is_empty(), "{body}");
    }
}

#[test]
fn rejections_name_the_field_and_the_problem() {
    let cases = [
        (json!({"trigger": "cron", "minute": "61"}), "minute", "higher than the maximum value (59)"),
        (json!({"trigger": "cron", "day_of_week": "mon-fri/2"}), "day_of_week", "names take no step"),
        (json!({"trigger": "cron", "day_of_week": "monday"}), "day_of_week", "Invalid weekday name"),
        (json!({"trigger": "cron", "minutes": 5}), "minutes", "not a field of the cron trigger"),
        (json!({"trigger": "interval", "seconds": -5}), "seconds", "must not be negative"),
        (json!({"trigger": "date", "run_date": "12/03/2030"}), "run_date", "Invalid date string"),
        (json!({"trigger": "cron", "hour": "9", "timezone": "Mars/Olympus"}), "timezone", "unknown time zone"),
        (json!({"trigger": "every"}), "trigger", "No trigger by the name"),
    ];
    for (body, field, message) in cases {
        let spec: TriggerSpec = serde_json::from_value(body.clone()).expect("spec");
        let err = Schedule::build(&spec, Zone::Utc, 0).expect_err(&body.to_string());
        assert_eq!(err.field, field, "{body}");
        assert!(err.message.contains(message), "{body}: {}", err.message);
    }
}

#[test]
fn misfire_rules_follow_apscheduler() {
    // Every 10 s job, stored next run 12:00:00, scheduler back at 12:00:35.5.
    let body = json!({"trigger": "interval", "seconds": 10, "start_date": "2026-11-28 12:00:00", "timezone": "UTC"});
    let (s, _) = schedule(body, "2026-11-28 11:00:00");
    let zone = Zone::Utc;
    let at = |t: &str| funboost_edge::trigger::parse_datetime("t", t, zone).unwrap();
    let stored = at("2026-11-28 12:00:00");
    let now = at("2026-11-28 12:00:35.5");
    let cases = [
        // (grace, coalesce, fired, coalesced, missed)
        (Some(1), true, Vec::<&str>::new(), 3, 1),
        (Some(10), true, vec!["2026-11-28 12:00:30+00:00"], 3, 0),
        (Some(10), false, vec!["2026-11-28 12:00:30+00:00"], 0, 3),
        (None, false, vec!["2026-11-28 12:00:00+00:00", "2026-11-28 12:00:10+00:00", "2026-11-28 12:00:20+00:00", "2026-11-28 12:00:30+00:00"], 0, 0),
    ];
    for (grace, coalesce, fired, coalesced, missed) in cases {
        let due = process_due(&s.trigger, &stored, &now, &now, grace, coalesce, None).expect("due");
        let got: Vec<String> = due.fire.iter().map(|f| f.at.py_str()).collect();
        let fired: Vec<String> = fired.into_iter().map(String::from).collect();
        assert_eq!((got, due.coalesced, due.missed), (fired, coalesced, missed), "grace {grace:?} coalesce {coalesce}");
        assert_eq!(due.next_run_time.map(|t| t.py_str()).as_deref(), Some("2026-11-28 12:00:40+00:00"));
    }
    assert!(process_due(&s.trigger, &at("2026-11-28 12:00:36"), &now, &now, Some(1), true, None).is_none(), "not due yet");
}

#[test]
fn a_fire_late_only_by_the_tick_granularity_is_on_time() {
    // Every 10 s from 12:00:00.9; ticks on whole seconds. The fire at 12:00:30.9 is seen by
    // the tick at 12:00:32.05 (1.15 s late, grace 1 s).
    let body = json!({"trigger": "interval", "seconds": 10, "start_date": "2026-11-28 12:00:00.9", "timezone": "UTC"});
    let (s, _) = schedule(body, "2026-11-28 11:00:00");
    let at = |t: &str| funboost_edge::trigger::parse_datetime("t", t, Zone::Utc).unwrap();
    let (run, now) = (at("2026-11-28 12:00:30.9"), at("2026-11-28 12:00:32.05"));
    let cases = [
        // (previous tick, fired, missed)
        (Some("2026-11-28 12:00:30.2"), 1, 0), // ticks without a gap: on time
        (Some("2026-11-28 12:00:31.0"), 0, 1), // the fire was already due at the previous tick
        (None, 0, 1),                          // after a gap: APScheduler's grace applies
    ];
    for (previous, fired, missed) in cases {
        let due = process_due(&s.trigger, &run, &now, &now, Some(1), true, previous.map(|p| at(p).utc_us())).expect("due");
        assert_eq!((due.fire.len(), due.missed), (fired, missed), "previous tick {previous:?}");
    }
}

#[test]
fn a_date_job_is_finished_after_its_fire() {
    let (s, _) = schedule(json!({"trigger": "date", "run_date": "2026-11-28 12:00:00", "timezone": "UTC"}), "2026-11-28 11:00:00");
    let run = funboost_edge::trigger::parse_datetime("t", "2026-11-28 12:00:00", Zone::Utc).unwrap();
    let now = funboost_edge::trigger::parse_datetime("t", "2026-11-28 12:00:00.4", Zone::Utc).unwrap();
    let due = process_due(&s.trigger, &run, &now, &now, Some(1), true, None).expect("due");
    assert_eq!(due.fire.len(), 1);
    assert!(due.next_run_time.is_none());
}

#[test]
fn calendar_interval_and_combining_triggers_fire_as_apscheduler_says() {
    let cases = [
        (
            "the 31st of every month: months without one are skipped",
            json!({"trigger": "calendarinterval", "months": 1, "hour": 9, "start_date": "2026-01-31"}),
            "2026-01-15 00:00:00",
            vec!["2026-01-31 09:00:00+08:00", "2026-03-31 09:00:00+08:00", "2026-05-31 09:00:00+08:00"],
        ),
        (
            "a calendar interval starts on its start date, even one already past",
            json!({"trigger": "calendarinterval", "weeks": 2, "start_date": "2025-12-01"}),
            "2026-01-15 00:00:00",
            vec!["2025-12-01 00:00:00+08:00", "2025-12-15 00:00:00+08:00"],
        ),
        (
            "or: the earliest of its parts",
            json!({"trigger": "or", "triggers": [{"trigger": "cron", "hour": "9"}, {"trigger": "cron", "hour": "18", "minute": "30"}]}),
            "2026-01-15 12:00:00",
            vec!["2026-01-15 18:30:00+08:00", "2026-01-16 09:00:00+08:00", "2026-01-16 18:30:00+08:00"],
        ),
        (
            "and: Friday the 13th",
            json!({"trigger": "and", "triggers": [{"trigger": "cron", "day": "13"}, {"trigger": "cron", "day_of_week": "fri"}]}),
            "2026-01-15 00:00:00",
            vec!["2026-02-13 00:00:00+08:00", "2026-03-13 00:00:00+08:00", "2026-11-13 00:00:00+08:00"],
        ),
    ];
    for (name, body, now, expected) in cases {
        assert_eq!(upcoming(body, now, expected.len()), expected, "{name}");
    }
}

#[test]
fn a_combined_trigger_gives_its_times_in_the_zone_its_parts_default_to_or_else_the_first_parts() {
    let cases = [
        // a part without a timezone takes the default (Asia/Shanghai here): that zone it is
        (
            json!({"trigger": "or", "triggers": [{"trigger": "cron", "hour": "9", "timezone": "Asia/Tokyo"}, {"trigger": "cron", "hour": "9"}]}),
            "Asia/Shanghai",
            "2026-01-16 08:00:00+08:00",
        ),
        // every part names one: the first part's (London's 09:00 comes first, shown in Tokyo)
        (
            json!({"trigger": "or", "triggers": [{"trigger": "cron", "hour": "9", "timezone": "Asia/Tokyo"}, {"trigger": "cron", "hour": "9", "timezone": "Europe/London"}]}),
            "Asia/Tokyo",
            "2026-01-15 18:00:00+09:00",
        ),
    ];
    for (body, zone, first) in cases {
        let (s, now) = schedule(body.clone(), "2026-01-15 12:00:00");
        assert_eq!(s.zone().name(), zone, "{body}");
        assert_eq!(s.trigger.upcoming(&now, 1).iter().map(Zdt::py_str).collect::<Vec<_>>(), [first], "{body}");
    }
}

#[test]
fn jitter_is_drawn_by_each_part_then_by_the_combined_trigger() {
    // Parts' jitters count in choosing the earliest; the or's own comes last. The tick, which
    // knows only the unjittered time, adds the or's own jitter alone.
    let body = json!({"trigger": "or", "jitter": 60, "triggers": [
        {"trigger": "cron", "hour": "9", "jitter": 3600, "timezone": "UTC"},
        {"trigger": "cron", "hour": "9", "minute": "30", "timezone": "UTC"},
    ]});
    let (s, now) = schedule(body, "2026-01-15 00:00:00");
    let draws = std::cell::RefCell::new(vec![0.75, 0.5].into_iter());
    let exact = s.next_fire_time_jittered(None, &now, || draws.borrow_mut().next().unwrap_or(0.0)).map(|t| t.py_str());
    // 09:00 + 45 min loses to 09:30; then + 30 s.
    assert_eq!(exact.as_deref(), Some("2026-01-15 09:30:30+00:00"));
    let tick = s.jitter(s.trigger.next_fire_time(None, &now), || 0.5).map(|t| t.py_str());
    assert_eq!(tick.as_deref(), Some("2026-01-15 09:00:30+00:00"));
}

#[test]
fn new_trigger_kinds_refuse_with_the_field_named() {
    let part = json!({"trigger": "cron", "hour": "9"});
    let deep = (0..4).fold(part.clone(), |inner, _| json!({"trigger": "or", "triggers": [inner]}));
    let cases = [
        (json!({"trigger": "calendarinterval"}), "days", "interval must be at least 1 day long"),
        (json!({"trigger": "calendarinterval", "days": 1, "hour": 24}), "hour", "hour must be in 0..23"),
        (json!({"trigger": "calendarinterval", "days": 1, "hour": "9"}), "hour", "must be a whole number"),
        (json!({"trigger": "calendarinterval", "days": -1, "months": 1}), "days", "must not be negative"),
        (json!({"trigger": "calendarinterval", "years": 101}), "years", "must not exceed 100 years"),
        (json!({"trigger": "calendarinterval", "days": 1, "start_date": "2026-02-30"}), "start_date", "day is out of range for month"),
        (json!({"trigger": "calendarinterval", "days": 1, "start_date": "2026-01-02", "end_date": "2026-01-01"}), "end_date", "cannot be earlier"),
        (json!({"trigger": "calendarinterval", "days": 1, "hours": 1}), "hours", "not a field of the calendarinterval trigger"),
        (json!({"trigger": "cron", "months": 1}), "months", "not a field of the cron trigger"),
        (json!({"trigger": "interval", "hours": 1, "triggers": [part]}), "triggers", "not a field of the interval trigger"),
        (json!({"trigger": "or", "triggers": [part], "timezone": "UTC"}), "timezone", "not a field of the or trigger"),
        (json!({"trigger": "or", "triggers": []}), "triggers", "at least one trigger"),
        (json!({"trigger": "and"}), "triggers", "at least one trigger"),
        (json!({"trigger": "or", "triggers": vec![part.clone(); 17]}), "triggers", "at most 16 triggers"),
        (deep, "triggers", "nest at most 3 levels deep"),
        (json!({"trigger": "or", "triggers": [part, {"trigger": "cron", "hour": "25"}]}), "triggers", "triggers[1].hour: Error validating expression '25'"),
        (json!({"trigger": "and", "triggers": [{"trigger": "cron", "hour": "9", "jitter": 5}, {"trigger": "cron"}]}), "triggers", "cannot have jitter"),
        (
            json!({"trigger": "and", "triggers": [{"trigger": "cron", "hour": "9"}, {"trigger": "cron", "hour": "10"}]}),
            "trigger",
            "never fire at the same time",
        ),
    ];
    for (body, field, message) in cases {
        let spec: TriggerSpec = serde_json::from_value(body.clone()).expect("spec");
        let err = Schedule::build(&spec, Zone::Utc, 1_768_435_200_000_000).expect_err(&body.to_string());
        assert_eq!(err.field, field, "{body}: {err}");
        assert!(err.message.contains(message), "{body}: {}", err.message);
    }
}
