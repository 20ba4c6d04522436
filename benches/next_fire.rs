//! Next-fire-time computation: the Rust core against APScheduler 3.11.3 on the same 10,000
//! schedules, in one run, so the ratio holds on a noisy machine.
//!
//! `cargo bench --bench next_fire` (needs the test venv; see README, Benchmarks).

use std::hint::black_box;
use std::time::{Duration, Instant};

use funboost_edge::trigger::{Schedule, TriggerSpec, Zdt, Zone};
use serde_json::{json, Value};

/// A small deterministic generator (xorshift), so both sides see identical schedules.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const ZONES: [&str; 6] = ["Asia/Shanghai", "UTC", "America/New_York", "Europe/Berlin", "Asia/Kolkata", "Australia/Sydney"];
const NOW_2026: i64 = 1_767_225_600_000_000; // 2026-01-01T00:00:00Z

fn common(rng: &mut Rng) -> Value {
    let tz = rng.pick(&ZONES);
    match rng.below(3) {
        0 => json!({"trigger": "cron", "hour": rng.below(24).to_string(), "minute": rng.below(60).to_string(), "timezone": tz}),
        1 => json!({"trigger": "cron", "minute": format!("*/{}", rng.pick(&["2", "5", "10", "15", "30"])), "timezone": tz}),
        _ => json!({"trigger": "cron", "day_of_week": "mon-fri", "hour": "9", "minute": "0", "timezone": tz}),
    }
}

/// Sparse but regular: they fire every few weeks to every few years.
fn sparse(rng: &mut Rng) -> Value {
    let tz = rng.pick(&ZONES);
    match rng.below(6) {
        0 => json!({"trigger": "cron", "year": format!("{}-{}", 2030 + rng.below(10), 2045 + rng.below(10)), "month": "jun", "day": "15", "timezone": tz}),
        1 => json!({"trigger": "cron", "week": format!("*/{}", 2 + rng.below(20)), "day_of_week": "wed", "hour": "8", "timezone": tz}),
        2 => json!({"trigger": "cron", "day": rng.pick(&["5th fri", "last sun", "2nd mon", "last"]), "hour": "12", "timezone": tz}),
        3 => json!({"trigger": "cron", "month": "feb", "day": "29", "hour": "6", "timezone": tz}),
        4 => json!({"trigger": "cron", "year": "2031", "month": "feb", "day": "29", "timezone": tz}),
        _ => json!({"trigger": "cron", "day": "13", "day_of_week": "fri", "hour": "13", "timezone": tz}),
    }
}

/// Rare or impossible: ISO week 53 on a given weekday, and dates that never exist.
fn rare(rng: &mut Rng) -> Value {
    let tz = rng.pick(&ZONES);
    match rng.below(3) {
        0 => json!({"trigger": "cron", "week": "53", "day_of_week": rng.pick(&["mon", "thu", "sun"]), "timezone": tz}),
        1 => json!({"trigger": "cron", "month": "feb", "day": "30", "timezone": tz}),
        _ => json!({"trigger": "cron", "month": "apr,jun,sep,nov", "day": "31", "hour": "9", "timezone": tz}),
    }
}

fn interval(rng: &mut Rng) -> Value {
    let tz = rng.pick(&ZONES);
    json!({"trigger": "interval", "seconds": 1 + rng.below(3600), "start_date": "2025-06-01 00:00:00", "timezone": tz})
}

struct Group {
    name: &'static str,
    schedules: Vec<(Value, i64)>,
}

/// The disjoint groups, each timed per schedule too, and the mixes made of them (names of their
/// parts). The schedules are those of every run since the bench began (same generator, same
/// seed); the 100 "rare" ones are split into those that fire (ISO week 53) and those that never
/// do (Feb 30, Apr 31), which APScheduler walks to year 9999 for.
fn groups() -> (Vec<Group>, Vec<(&'static str, Vec<&'static str>)>) {
    let mut rng = Rng(0x5eed_2026_1128);
    let mut make = |name, count, gen: fn(&mut Rng) -> Value| {
        let schedules = (0..count).map(|_| (gen(&mut rng), NOW_2026 + (rng.below(365 * 86_400_000_000) as i64))).collect();
        Group { name, schedules }
    };
    let common_group = make(COMMON, 6900, common);
    let sparse_group = make(SPARSE, 3000, sparse);
    let rare_group = make("rare", 100, rare);
    let interval_group = make(INTERVAL, 1000, interval);
    let (week53, never): (Vec<_>, Vec<_>) = rare_group.schedules.into_iter().partition(|(body, _)| body.get("week").is_some());
    let groups = vec![common_group, sparse_group, Group { name: WEEK53, schedules: week53 }, Group { name: NEVER, schedules: never }, interval_group];
    let mixes = vec![(MIX_FIRING, vec![COMMON, SPARSE, WEEK53]), (MIX_ALL, vec![COMMON, SPARSE, WEEK53, NEVER])];
    (groups, mixes)
}

const COMMON: &str = "common: daily at a time, every n minutes, weekdays at 9";
const SPARSE: &str = "sparse: year ranges, ISO week steps, 5th fri, Feb 29, Fri 13th";
const WEEK53: &str = "rare: ISO week 53 on a weekday";
const NEVER: &str = "never fire: Feb 30, Apr 31";
const INTERVAL: &str = "interval (not in the mixes)";
const MIX_FIRING: &str = "the mix of schedules that fire: common + sparse + week 53";
const MIX_ALL: &str = "all 10,000 cron schedules (the never-firing ones included)";

fn prepare(schedules: &[(Value, i64)]) -> Vec<(Schedule, Zdt)> {
    schedules
        .iter()
        .map(|(body, now)| {
            let spec: TriggerSpec = serde_json::from_value(body.clone()).expect("bench spec");
            let schedule = Schedule::build(&spec, Zone::Utc, *now).expect("bench schedule");
            let now = Zdt::from_utc(*now, schedule.zone());
            (schedule, now)
        })
        .collect()
}

/// Mean ns per call over the whole set, called in turn (the working set as a tick meets it).
fn time_rust(schedules: &[(Value, i64)], min: Duration) -> f64 {
    let prepared = prepare(schedules);
    let (mut calls, start) = (0u64, Instant::now());
    loop {
        for (schedule, now) in &prepared {
            black_box(schedule.trigger.next_fire_time(None, black_box(now)));
        }
        calls += prepared.len() as u64;
        if start.elapsed() >= min {
            return start.elapsed().as_nanos() as f64 / calls as f64;
        }
    }
}

/// ns per call of each schedule on its own: called in a loop for at least 20 µs (and 20
/// times), the lowest of three such loops. APScheduler's side does the same (at least 0.5 ms,
/// once for a call that takes longer), so both are timed warm.
fn time_rust_each(schedules: &[(Value, i64)]) -> Vec<f64> {
    prepare(schedules)
        .iter()
        .map(|(schedule, now)| {
            (0..3)
                .map(|_| {
                    let (mut calls, start) = (0u64, Instant::now());
                    loop {
                        black_box(schedule.trigger.next_fire_time(None, black_box(now)));
                        calls += 1;
                        if calls >= 20 && start.elapsed() >= Duration::from_micros(20) {
                            return start.elapsed().as_nanos() as f64 / calls as f64;
                        }
                    }
                })
                .fold(f64::INFINITY, f64::min)
        })
        .collect()
}

/// (median, geometric mean, 10th percentile, 90th percentile) of `values`.
fn spread(values: &[f64]) -> (f64, f64, f64, f64) {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite() && *x > 0.0).collect();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return (f64::NAN, f64::NAN, f64::NAN, f64::NAN);
    }
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    let geo = (v.iter().map(|x| x.ln()).sum::<f64>() / v.len() as f64).exp();
    (at(0.5), geo, at(0.1), at(0.9))
}

fn main() {
    let python = std::env::var("FUNBOOST_EDGE_PYTHON").unwrap_or_else(|_| {
        let home = std::env::var("HOME").unwrap_or_default();
        format!("{home}/.cache/funboost-edge/venv/bin/python")
    });
    let (groups, mixes) = groups();
    let find = |name: &str| groups.iter().find(|g| g.name == name).expect("a group");
    let mix_schedules = |parts: &[&str]| parts.iter().flat_map(|p| find(p).schedules.iter().cloned()).collect::<Vec<_>>();
    let as_json = |schedules: &[(Value, i64)]| Value::from(schedules.iter().map(|(f, n)| json!({"fields": f, "now_us": n})).collect::<Vec<_>>());
    let mut timed = serde_json::Map::new();
    for g in &groups {
        timed.insert(g.name.to_string(), as_json(&g.schedules));
    }
    for (name, parts) in &mixes {
        timed.insert(name.to_string(), as_json(&mix_schedules(parts)));
    }
    let spec = json!({"groups": timed, "per_schedule": groups.iter().map(|g| g.name).collect::<Vec<_>>()});
    let path = std::env::temp_dir().join("funboost-edge-next-fire-bench.json");
    std::fs::write(&path, spec.to_string()).expect("write bench input");

    // For profiling the Rust side alone: FUNBOOST_EDGE_BENCH_RUST_ONLY=<group name prefix>.
    if let Ok(prefix) = std::env::var("FUNBOOST_EDGE_BENCH_RUST_ONLY") {
        for group in groups.iter().filter(|g| g.name.starts_with(&prefix)) {
            println!("{:<72} {:>9.0} ns", group.name, time_rust(&group.schedules, Duration::from_secs(2)));
        }
        return;
    }
    let started = Instant::now();
    let output = std::process::Command::new(&python)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/benches/peers/next_fire_aps.py"))
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python} (set FUNBOOST_EDGE_PYTHON to the test venv's python): {e}"));
    assert!(output.status.success(), "APScheduler side failed: {}", String::from_utf8_lossy(&output.stderr));
    let aps: Value = serde_json::from_slice(&output.stdout).expect("APScheduler timings");
    let aps_seconds = started.elapsed().as_secs_f64();

    // Per schedule: APScheduler ns / Rust ns, by group (disjoint groups; a mix is its parts').
    let mut ratios: std::collections::HashMap<&str, Vec<f64>> = std::collections::HashMap::new();
    for g in &groups {
        let rust = time_rust_each(&g.schedules);
        let theirs: Vec<f64> = aps["per_schedule"][g.name].as_array().expect("per-schedule timings").iter().map(|v| v.as_f64().unwrap_or(f64::NAN)).collect();
        assert_eq!(theirs.len(), rust.len(), "{}", g.name);
        ratios.insert(g.name, theirs.iter().zip(&rust).map(|(a, r)| a / r).collect());
    }
    for (name, parts) in &mixes {
        let all = parts.iter().flat_map(|p| ratios[p].clone()).collect();
        ratios.insert(name, all);
    }

    println!("next fire time, get_next_fire_time(None, now); per call, the set called in turn (mean), and per schedule (each on its own, warm):");
    println!("| schedules | count | Rust core, mean | APScheduler, mean | ratio of the means | per schedule: median ratio | geometric mean | p10 – p90 |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    let rows: Vec<(&str, Vec<(Value, i64)>)> = groups
        .iter()
        .filter(|g| g.name != INTERVAL)
        .map(|g| (g.name, g.schedules.clone()))
        .chain(mixes.iter().map(|(name, parts)| (*name, mix_schedules(parts))))
        .chain(groups.iter().filter(|g| g.name == INTERVAL).map(|g| (g.name, g.schedules.clone())))
        .collect();
    for (name, schedules) in &rows {
        let rust_ns = time_rust(schedules, Duration::from_secs(2));
        let aps_ns = aps["groups"][*name].as_f64().expect("ns");
        let (med, geo, p10, p90) = spread(&ratios[name]);
        println!(
            "| {name} | {} | {} | {} | {:.0}x | {med:.0}x | {geo:.0}x | {p10:.0}x – {p90:.0}x |",
            schedules.len(),
            ns(rust_ns),
            ns(aps_ns),
            aps_ns / rust_ns
        );
    }
    println!("\n(APScheduler's side took {aps_seconds:.0} s.)");
}

/// A duration in ns, µs or ms as fits.
fn ns(v: f64) -> String {
    match v {
        v if v >= 1e6 => format!("{:.1} ms", v / 1e6),
        v if v >= 1e4 => format!("{:.1} µs", v / 1e3),
        v => format!("{v:.0} ns"),
    }
}
