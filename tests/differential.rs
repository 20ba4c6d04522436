//! The core against APScheduler 3.11.3 itself: every case in the file written by
//! `tests/differential/oracle.py` (thousands of random triggers in two dozen zones, plus DST,
//! month-end and rejection cases) must give the same `str(trigger)`, the same next 10 fire
//! times (wall time, offset and instant), or a refusal where APScheduler refuses.
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
    Built { describe: String, fires: Vec<(String, i64)> },
    Refused(String),
}

fn run(case: &Case) -> Outcome {
    let mut body = case.fields.clone();
    body.insert("trigger".into(), case.trigger.clone());
    let spec: TriggerSpec = match serde_json::from_value(serde_json::Value::Object(body)) {
        Ok(spec) => spec,
        Err(e) => return Outcome::Refused(e.to_string()),
    };
    match Schedule::build(&spec, Zone::Utc, case.now_us) {
        Err(e) => Outcome::Refused(e.to_string()),
        Ok(schedule) => {
            let now = Zdt::from_utc(case.now_us, schedule.zone());
            let fires = schedule.trigger.upcoming(&now, 10).into_iter().map(|f| (f.py_str(), f.utc_us())).take_while(|(_, us)| *us < HORIZON_US).collect();
            Outcome::Built { describe: schedule.trigger.to_string(), fires }
        }
    }
}

#[test]
fn every_case_agrees_with_apscheduler() {
    let path = std::env::var("FUNBOOST_EDGE_DIFF_CASES")
        .expect("FUNBOOST_EDGE_DIFF_CASES is not set: run the README's test command (scripts/test), which generates the APScheduler cases");
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("cannot open {path}: {e}"));
    let (mut total, mut fires_compared, mut refusals, mut lax_refused) = (0, 0, 0, 0);
    let mut disagreements = Vec::new();
    for line in std::io::BufReader::new(file).lines() {
        let line = line.expect("read case line");
        let case: Case = serde_json::from_str(&line).unwrap_or_else(|e| panic!("bad case line {line}: {e}"));
        total += 1;
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
            (Outcome::Built { describe, fires }, true) => {
                if Some(describe) != case.expect.str.as_ref() {
                    disagreements.push(format!("{}: str {describe:?} != {:?}", case.id, case.expect.str));
                }
                if *fires != case.expect.fires {
                    disagreements.push(format!(
                        "{}: fires differ; fields {:?} now_us {}\n  ours:   {:?}\n  theirs: {:?}",
                        case.id, case.fields, case.now_us, fires, case.expect.fires
                    ));
                }
                fires_compared += fires.len();
            }
        }
    }
    eprintln!(
        "{total} cases: {fires_compared} fire times compared, {refusals} refusals shared, {lax_refused} lax inputs refused on purpose, {} disagreements",
        disagreements.len()
    );
    assert!(total >= 5000, "expected at least 5000 cases, found {total}");
    assert!(
        disagreements.is_empty(),
        "{} disagreements with APScheduler, first ones:\n{}",
        disagreements.len(),
        disagreements.iter().take(40).cloned().collect::<Vec<_>>().join("\n")
    );
}
