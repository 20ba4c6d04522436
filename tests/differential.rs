//! The core against APScheduler 3.11.3 itself: every case in the file written by
//! `tests/differential/oracle.py` (thousands of random triggers in two dozen zones, plus DST,
//! month-end and rejection cases, and calendar-interval, `or` and `and` triggers) must give the
//! same `str(trigger)`, the same next 10 fire times (wall time, offset and instant), or a
//! refusal where APScheduler refuses. With jitter (`uniform`), the fire times drawn with that
//! constant are compared exactly, and so is the tick's path ([`Schedule::jitter`] on the
//! unjittered time: one of APScheduler's possible draws, `tick`). See
//! `tests/differential/CONTRACT.md`.
//! The README's test command generates the file and sets FUNBOOST_EDGE_DIFF_CASES.

use std::io::BufRead;

use funboost_edge::trigger::{Schedule, TriggerSpec, Zdt, Zone};
use serde::Deserialize;

/// 2099-01-01T00:00:00Z: chrono-tz tabulates transitions through 2099, the oracle stops here.
const HORIZON_US: i64 = 4_070_908_800 * 1_000_000;

#[derive(Deserialize)]
struct Case {
    id: String,
    trigger: serde_json::Value,
    fields: serde_json::Map<String, serde_json::Value>,
    now_us: i64,
    expect: Expect,
    /// Jitter cases: every `random.uniform(0, j)` returned `j * uniform`.
    #[serde(default)]
    uniform: Option<f64>,
    /// Per fire, from the same previous fire: APScheduler's answer when every part draws 0 and
    /// the trigger itself `uniform` (what the tick computes). Absent when parts' zones differ.
    #[serde(default)]
    tick: Option<Vec<Option<(String, i64)>>>,
    /// The oracle stopped early: only the fires it lists are compared.
    #[serde(default)]
    partial: bool,
}

#[derive(Deserialize)]
struct Expect {
    ok: bool,
    #[serde(default)]
    str: Option<String>,
    #[serde(default)]
    fires: Vec<(String, i64)>,
    #[serde(default)]
    error: Option<String>,
}

enum Outcome {
    Built { describe: String, fires: Vec<(String, i64)>, tick_differs: Option<String> },
    Refused(String),
}

fn run(case: &Case) -> Outcome {
    let mut body = case.fields.clone();
    body.insert("trigger".into(), case.trigger.clone());
    let spec: TriggerSpec = match serde_json::from_value(serde_json::Value::Object(body)) {
        Ok(spec) => spec,
        Err(e) => return Outcome::Refused(e.to_string()),
    };
    let schedule = match Schedule::build(&spec, Zone::Utc, case.now_us) {
        Err(e) => return Outcome::Refused(e.to_string()),
        Ok(schedule) => schedule,
    };
    let now = Zdt::from_utc(case.now_us, schedule.zone());
    let describe = schedule.trigger.to_string();
    let Some(uniform) = case.uniform else {
        let fires = schedule.trigger.upcoming(&now, 10).into_iter().map(|f| (f.py_str(), f.utc_us())).take_while(|(_, us)| *us < HORIZON_US).collect();
        return Outcome::Built { describe, fires, tick_differs: None };
    };
    // As `upcoming`, each fire drawing its jitter, the next computed from the jittered one.
    let (mut fires, mut tick_differs) = (Vec::new(), None);
    let (mut previous, mut current) = (None, now);
    while fires.len() < 10 {
        let Some(fire) = schedule.next_fire_time_jittered(previous.as_ref(), &current, || uniform) else { break };
        if fire.utc_us() >= HORIZON_US {
            break;
        }
        let tick = schedule.jitter(schedule.trigger.next_fire_time(previous.as_ref(), &current), || uniform).map(|t| (t.py_str(), t.utc_us()));
        if let Some(expected) = case.tick.as_ref().and_then(|t| t.get(fires.len())) {
            if tick != *expected && tick_differs.is_none() {
                tick_differs = Some(format!("fire {}: the tick's jittered time {tick:?} != {expected:?}", fires.len()));
            }
        }
        fires.push((fire.py_str(), fire.utc_us()));
        (previous, current) = (Some(fire), fire);
    }
    Outcome::Built { describe, fires, tick_differs }
}

#[test]
fn every_case_agrees_with_apscheduler() {
    let path = std::env::var("FUNBOOST_EDGE_DIFF_CASES")
        .expect("FUNBOOST_EDGE_DIFF_CASES is not set: run the README's test command (scripts/test), which generates the APScheduler cases");
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("cannot open {path}: {e}"));
    let (mut total, mut fires_compared, mut refusals, mut lax_refused, mut jittered) = (0, 0, 0, 0, 0);
    let mut per_kind: std::collections::BTreeMap<String, usize> = Default::default();
    let mut disagreements = Vec::new();
    for line in std::io::BufReader::new(file).lines() {
        let line = line.expect("read case line");
        let case: Case = serde_json::from_str(&line).unwrap_or_else(|e| panic!("bad case line {line}: {e}"));
        total += 1;
        *per_kind.entry(case.trigger.as_str().unwrap_or("?").to_string()).or_default() += 1;
        let outcome = run(&case);
        let lax = case.id.starts_with("lax-");
        match (&outcome, case.expect.ok) {
            // Nonsense APScheduler silently truncates (`mon-fri/2`): we refuse it on purpose.
            (Outcome::Refused(_), true) if lax => lax_refused += 1,
            (Outcome::Built { describe, .. }, true) if lax => disagreements.push(format!("{}: accepted lax input ({describe}); it should be refused", case.id)),
            (Outcome::Refused(_), false) => refusals += 1,
            (Outcome::Refused(ours), true) => {
                disagreements.push(format!("{}: we refuse ({ours}) but APScheduler accepts ({:?}); fields {:?}", case.id, case.expect.str, case.fields))
            }
            (Outcome::Built { describe, .. }, false) => {
                disagreements.push(format!("{}: we accept ({describe}) but APScheduler refuses ({:?}); fields {:?}", case.id, case.expect.error, case.fields))
            }
            (Outcome::Built { describe, fires, tick_differs }, true) => {
                if Some(describe) != case.expect.str.as_ref() {
                    disagreements.push(format!("{}: str {describe:?} != {:?}", case.id, case.expect.str));
                }
                let ours = match case.partial {
                    true => &fires[..fires.len().min(case.expect.fires.len())],
                    false => &fires[..],
                };
                if *ours != case.expect.fires {
                    disagreements.push(format!(
                        "{}: fires differ; fields {} now_us {}\n  ours:   {:?}\n  theirs: {:?}",
                        case.id,
                        serde_json::Value::Object(case.fields.clone()),
                        case.now_us,
                        ours,
                        case.expect.fires
                    ));
                }
                if let Some(problem) = tick_differs {
                    disagreements.push(format!("{}: {problem}; fields {}", case.id, serde_json::Value::Object(case.fields.clone())));
                }
                jittered += usize::from(case.uniform.is_some());
                fires_compared += ours.len();
            }
        }
    }
    eprintln!(
        "{total} cases {per_kind:?}: {fires_compared} fire times compared ({jittered} jittered cases), {refusals} refusals shared, {lax_refused} lax inputs refused on purpose, {} disagreements",
        disagreements.len()
    );
    assert!(total >= 5000, "expected at least 5000 cases, found {total}");
    for kind in ["calendarinterval", "or", "and"] {
        let n = per_kind.get(kind).copied().unwrap_or(0);
        assert!(n >= 1000, "expected at least 1000 {kind} cases, found {n}");
    }
    assert!(
        disagreements.is_empty(),
        "{} disagreements with APScheduler, first ones:\n{}",
        disagreements.len(),
        disagreements.iter().take(40).cloned().collect::<Vec<_>>().join("\n")
    );
}
