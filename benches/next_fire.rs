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

fn groups() -> Vec<Group> {
    let mut rng = Rng(0x5eed_2026_1128);
    let mut make = |name, count, gen: fn(&mut Rng) -> Value| {
        let schedules = (0..count).map(|_| (gen(&mut rng), NOW_2026 + (rng.below(365 * 86_400_000_000) as i64))).collect();
        Group { name, schedules }
    };
    let common_group = make("common: daily at a time, every n minutes, weekdays at 9", 6900, common);
    let sparse_group = make("sparse: year ranges, ISO week steps, 5th fri, Feb 29, Fri 13th", 3000, sparse);
    let rare_group = make("rare: ISO week 53 on a weekday, never (Feb 30, Apr 31)", 100, rare);
    let interval_group = make("interval (not in the mix)", 1000, interval);
    let mix = [&common_group, &sparse_group, &rare_group].iter().flat_map(|g| g.schedules.iter().cloned()).collect();
    let mix_group = Group { name: "the mix: all 10,000 cron schedules above", schedules: mix };
    vec![common_group, sparse_group, rare_group, mix_group, interval_group]
}

fn time_rust(schedules: &[(Value, i64)], min: Duration) -> f64 {
    let prepared: Vec<(Schedule, Zdt)> = schedules
        .iter()
        .map(|(body, now)| {
            let spec: TriggerSpec = serde_json::from_value(body.clone()).expect("bench spec");
            let schedule = Schedule::build(&spec, Zone::Utc, *now).expect("bench schedule");
            let now = Zdt::from_utc(*now, schedule.zone());
            (schedule, now)
        })
        .collect();
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

fn main() {
    let python = std::env::var("FUNBOOST_EDGE_PYTHON").unwrap_or_else(|_| {
        let home = std::env::var("HOME").unwrap_or_default();
        format!("{home}/.cache/funboost-edge/venv/bin/python")
    });
    let groups = groups();
    let spec = json!({"groups": groups.iter().map(|g| (g.name.to_string(), g.schedules.iter().map(|(f, n)| json!({"fields": f, "now_us": n})).collect::<Vec<_>>().into())).collect::<serde_json::Map<String, Value>>()});
    let path = std::env::temp_dir().join("funboost-edge-next-fire-bench.json");
    std::fs::write(&path, spec.to_string()).expect("write bench input");

    // For profiling the Rust side alone: FUNBOOST_EDGE_BENCH_RUST_ONLY=<group name prefix>.
    if let Ok(prefix) = std::env::var("FUNBOOST_EDGE_BENCH_RUST_ONLY") {
        for group in groups.iter().filter(|g| g.name.starts_with(&prefix)) {
            println!("{:<72} {:>9.0} ns", group.name, time_rust(&group.schedules, Duration::from_secs(2)));
        }
        return;
    }
    let output = std::process::Command::new(&python)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/benches/peers/next_fire_aps.py"))
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python} (set FUNBOOST_EDGE_PYTHON to the test venv's python): {e}"));
    assert!(output.status.success(), "APScheduler side failed: {}", String::from_utf8_lossy(&output.stderr));
    let aps: serde_json::Map<String, Value> = serde_json::from_slice(&output.stdout).expect("APScheduler timings");

    println!("next fire time, get_next_fire_time(None, now), per call:");
    println!("{:<72} {:>12} {:>14} {:>9}", "schedules", "Rust core", "APScheduler", "ratio");
    for group in &groups {
        let rust_ns = time_rust(&group.schedules, Duration::from_secs(2));
        let aps_ns = aps[group.name].as_f64().expect("ns");
        println!("{:<72} {:>9.0} ns {:>11.0} ns {:>8.0}x", format!("{} ({})", group.name, group.schedules.len()), rust_ns, aps_ns, aps_ns / rust_ns);
    }
}
