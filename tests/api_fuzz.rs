//! Property test of the HTTP API: random and mutated bodies, query strings, routes, methods and
//! headers. Whatever comes in, the API answers with funboost's envelope, never a 5xx, never a
//! panic, and every 4xx names what is wrong: `error_data.field` (and the `msg` prefix) is a
//! field the API knows, a field the request sent, or `body`/`query`.
//!
//! 100,000 requests run natively against the core's `api::handle` with a real redis-server
//! (the core's `host::Redis` over redis-rs with Spin's reply flattening, `host::KeyValue` over a
//! map); a 2,000-request slice of the same generator runs through the real `.wasm` in the test
//! host. Deterministic: a seeded xorshift; `FUNBOOST_EDGE_FUZZ_SEED` and
//! `FUNBOOST_EDGE_FUZZ_CASES` choose another seed and count.

mod common;

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use common::*;
use funboost_edge::api::handle;
use funboost_edge::config::Config;
use funboost_edge::host::HttpRequest;
use funboost_edge::services::Services;
use funboost_test_host::test_support::RedisServer;
use serde_json::{json, Map, Value};

// ---- a small deterministic PRNG ----

struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// xorshift64*
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

// ---- what the API knows ----

const ADD_FIELDS: &[&str] = &[
    "queue_name",
    "trigger",
    "job_id",
    "job_store_kind",
    "replace_existing",
    "args",
    "kwargs",
    "run_date",
    "weeks",
    "days",
    "hours",
    "minutes",
    "seconds",
    "year",
    "month",
    "day",
    "week",
    "day_of_week",
    "hour",
    "minute",
    "second",
    "start_date",
    "end_date",
    "timezone",
    "jitter",
    "misfire_grace_time",
    "coalesce",
    "broker_kind",
    "priority",
    "function_timeout",
    "max_retry_times",
    "is_print_detail_exception",
    "msg_expire_seconds",
    "is_using_rpc_mode",
    "user_extra_info",
    "other_extra_params",
    "filter_str",
    "do_task_filtering",
];
const PREVIEW_FIELDS: &[&str] = &["count", "after"];
const QUERY_NAMES: &[&str] = &["job_id", "queue_name", "job_store_kind", "count", "note", "limit", "before"];

/// Route, method, weight (deleting all jobs is rare, so the stores fill up and ids collide).
const ROUTES: &[(&str, &str, usize)] = &[
    ("/add_timing_job", "POST", 24),
    ("/preview_timing_job", "POST", 12),
    ("/get_timing_jobs", "GET", 4),
    ("/get_timing_job", "GET", 5),
    ("/delete_timing_job", "DELETE", 4),
    ("/delete_all_timing_jobs", "DELETE", 1),
    ("/pause_timing_job", "POST", 5),
    ("/resume_timing_job", "POST", 5),
    ("/health", "GET", 3),
    ("/get_audit_records", "GET", 2),
    ("/whoami", "GET", 1),
];
const ODD_PATHS: &[&str] =
    &["/", "", "/add_timing_job/", "/ADD_TIMING_JOB", "/get_scheduler_status", "/add_timing_job/x", "/%61dd_timing_job", "/funboost/health"];
const METHODS: &[&str] = &["GET", "POST", "DELETE", "PUT", "PATCH", "OPTIONS", "post", "Get"];

const QUEUES: &[&str] = &["q", "q", "q", "q2", "free", "nosuch"];
const JOB_IDS: &[&str] = &["a", "b", "c", "job-1", "d\u{e9}j\u{e0}", "x y", "%41", "\u{1F600}"];

const GOOD_CRON_VALUES: &[&str] = &["*", "*/2", "*/15", "1", "0", "15", "1-5", "1,2,3", "mon-fri", "sun", "last", "last fri", "1st mon", "0-59/7"];
const GOOD_DATES: &[&str] =
    &["2030-12-03 15:00:00", "2030-12-03", "2030-12-03T15:00:00.5", "2029-06-01 00:00:00+08:00", "2031-01-01 08:30:00Z", "2025-03-09 02:30:00"];
const CRON_VALUES: &[&str] = &[
    "*",
    "*/2",
    "1",
    "0",
    "15",
    "59",
    "60",
    "61",
    "1-5",
    "5-1",
    "1,2,3",
    "mon-fri",
    "sun",
    "last",
    "last fri",
    "1st mon",
    "2nd tue",
    "5th sun",
    "*/0",
    "-1",
    "",
    " ",
    "jan",
    "dec-jan",
    "1-",
    ",",
    "1,,2",
    "a-b",
    "2025",
    "1970",
    "9999",
    "10000",
    "*/1000000",
    "L",
    "?",
    "0-59/7",
];
const DATES: &[&str] = &[
    "2030-12-03 15:00:00",
    "2030-12-03",
    "2030-12-03T15:00:00",
    "2030-12-03 15:00:00.5",
    "2030-12-03 15:00:00.123456",
    "2030-12-03 15:00:00+08:00",
    "2030-12-03 15:00:00Z",
    "2030-12-03 15:00:00-05:30",
    "2025-03-09 02:30:00",
    "1970-01-01 00:00:00",
    "9999-12-31 23:59:59",
    "0001-01-01 00:00:00",
    "2030-02-30 00:00:00",
    "2030-13-01",
    "12/03/2030",
    "2030-12-03 24:00:00",
    "2030-12-03 15:00:00+24:00",
    "2030-12-03 15:00:00.1234567",
    "now",
    "",
    "2030-12-03 15:00:00\n",
    "2030-1-2 3:4:5",
];
const ZONES: &[&str] = &[
    "Asia/Shanghai",
    "UTC",
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",
    "Asia/Kathmandu",
    "Etc/GMT+12",
    "Mars/Base",
    "",
    "utc",
    "+08:00",
    "Local",
];
const STRINGS: &[&str] = &[
    "",
    " ",
    "x",
    "redis",
    "memory",
    "REDIS",
    "cron",
    "date",
    "interval",
    "null",
    "true",
    "0",
    "-1",
    "1e309",
    "\u{0}",
    "\u{7}\u{1b}[31m",
    "\n",
    "\u{202e}evil",
    "\u{1F600}\u{1F600}",
    "\u{fffd}",
    "\u{d7ff}",
    "日本語",
    "a\u{1f}b",
    "%",
    "%%",
    "%zz",
    "{\"a\":1}",
    "[1,2]",
    "\\",
    "\"",
    "'",
    "<script>",
    "Ω≈ç√",
];

// ---- generators ----

fn random_scalar(rng: &mut Rng) -> Value {
    match rng.below(12) {
        0 => Value::Null,
        1 => json!(rng.chance(50)),
        2 => json!(rng.below(100)),
        3 => json!(-(rng.below(1000) as i64)),
        4 => json!(rng.next()),
        5 => json!(i64::MIN),
        6 => json!((rng.next() as f64) / 1e3),
        7 => json!(1.5),
        8 => json!(f64::MAX),
        9 => json!(1e-300),
        _ => json!(rng.pick(STRINGS)),
    }
}

fn random_value(rng: &mut Rng, depth: usize) -> Value {
    if depth == 0 || rng.chance(60) {
        return random_scalar(rng);
    }
    if rng.chance(50) {
        Value::Array((0..rng.below(4)).map(|_| random_value(rng, depth - 1)).collect())
    } else {
        let mut map = Map::new();
        for _ in 0..rng.below(4) {
            let key = if rng.chance(50) { rng.pick(ADD_FIELDS).to_string() } else { rng.pick(STRINGS).to_string() };
            map.insert(key, random_value(rng, depth - 1));
        }
        Value::Object(map)
    }
}

fn nested(depth: usize, leaf: Value) -> Value {
    let mut value = leaf;
    for i in 0..depth {
        value = if i % 2 == 0 { json!([value]) } else { json!({"k": value}) };
    }
    value
}

fn trigger_fields(rng: &mut Rng, body: &mut Map<String, Value>) {
    let kind = *rng.pick(&["date", "interval", "cron", "cron", "interval"]);
    body.insert("trigger".into(), json!(kind));
    match kind {
        "date" => {
            if rng.chance(80) {
                body.insert("run_date".into(), json!(if rng.chance(80) { rng.pick(GOOD_DATES) } else { rng.pick(DATES) }));
            }
        }
        "interval" => {
            for unit in ["weeks", "days", "hours", "minutes", "seconds"] {
                if rng.chance(30) {
                    let value = match rng.below(6) {
                        0 => json!(rng.below(5).to_string()),
                        1 => json!(rng.below(100_000)),
                        _ => json!(rng.below(60)),
                    };
                    body.insert(unit.into(), value);
                }
            }
        }
        _ => {
            for field in ["year", "month", "day", "week", "day_of_week", "hour", "minute", "second"] {
                if rng.chance(25) {
                    let value = match rng.below(10) {
                        0 | 1 => json!(rng.below(70)),
                        2 | 3 => json!(rng.pick(CRON_VALUES)),
                        _ => json!(rng.pick(GOOD_CRON_VALUES)),
                    };
                    body.insert(field.into(), value);
                }
            }
        }
    }
    if kind != "date" {
        for field in ["start_date", "end_date"] {
            if rng.chance(10) {
                body.insert(field.into(), json!(if rng.chance(50) { rng.pick(GOOD_DATES) } else { rng.pick(DATES) }));
            }
        }
        if rng.chance(10) {
            body.insert("jitter".into(), json!(rng.below(100)));
        }
    }
    if rng.chance(15) {
        body.insert("timezone".into(), json!(rng.pick(ZONES)));
    }
}

fn add_body(rng: &mut Rng) -> Value {
    let mut body = Map::new();
    body.insert("queue_name".into(), json!(rng.pick(QUEUES)));
    trigger_fields(rng, &mut body);
    if rng.chance(70) {
        body.insert("job_id".into(), json!(rng.pick(JOB_IDS)));
    }
    if rng.chance(40) {
        body.insert("job_store_kind".into(), json!(rng.pick(&["redis", "memory", "memory"])));
    }
    if rng.chance(40) {
        body.insert("replace_existing".into(), json!(rng.chance(70)));
    }
    // Queue q is f(x, y=5); q2 is g(a).
    match rng.below(6) {
        0 => {
            body.insert("args".into(), json!([1, 2]));
        }
        1 => {
            body.insert("args".into(), json!([rng.below(9)]));
            body.insert("kwargs".into(), json!({"y": "two"}));
        }
        2 => {
            body.insert("kwargs".into(), json!({"x": random_value(rng, 3)}));
        }
        3 => {
            body.insert("kwargs".into(), json!({"a": 1}));
        }
        4 => {
            body.insert("args".into(), Value::Array((0..rng.below(4)).map(|_| random_value(rng, 2)).collect()));
        }
        _ => {
            body.insert("kwargs".into(), json!({"x": 1, "y": random_scalar(rng)}));
        }
    }
    if rng.chance(10) {
        body.insert("misfire_grace_time".into(), if rng.chance(20) { Value::Null } else { json!(rng.below(120)) });
    }
    if rng.chance(10) {
        body.insert("coalesce".into(), json!(rng.chance(50)));
    }
    if rng.chance(10) {
        let kind = *rng.pick(&["REDIS", "REDIS_ACK_ABLE", "REDIS_STREAM", "REDIS_PRIORITY", "REDIS_BRPOP_LPUSH", "RedisBrpopLpush", "KAFKA"]);
        body.insert("broker_kind".into(), json!(kind));
        if kind == "REDIS_PRIORITY" && rng.chance(50) {
            body.insert("priority".into(), json!(rng.below(300)));
        }
    }
    if rng.chance(10) {
        let option = *rng.pick(&[
            "function_timeout",
            "max_retry_times",
            "msg_expire_seconds",
            "is_print_detail_exception",
            "user_extra_info",
            "filter_str",
            "do_task_filtering",
        ]);
        let value = match option {
            "function_timeout" | "msg_expire_seconds" => json!(rng.below(100) as f64 / 4.0),
            "max_retry_times" => json!(rng.below(10)),
            "user_extra_info" => json!({"who": "fuzz"}),
            "filter_str" => json!("f"),
            _ => json!(true),
        };
        body.insert(option.into(), value);
    }
    Value::Object(body)
}

/// An add request that should be accepted (unless the id is taken or the queue is full).
fn valid_add_body(rng: &mut Rng) -> Value {
    let queue = *rng.pick(&["q", "q2"]);
    let mut body = Map::new();
    body.insert("queue_name".into(), json!(queue));
    let kind = *rng.pick(&["date", "interval", "cron"]);
    body.insert("trigger".into(), json!(kind));
    match kind {
        "date" => {
            body.insert("run_date".into(), json!(rng.pick(GOOD_DATES)));
        }
        "interval" => {
            let unit = *rng.pick(&["weeks", "days", "hours", "minutes", "seconds"]);
            body.insert(unit.into(), json!(1 + rng.below(30)));
        }
        _ => {
            for field in ["day_of_week", "hour", "minute", "second"] {
                if rng.chance(40) {
                    body.insert(field.into(), json!(rng.pick(&["*", "*/2", "1", "0", "1-5", "1,2,3"])));
                }
            }
        }
    }
    if rng.chance(70) {
        body.insert("job_id".into(), json!(rng.pick(JOB_IDS)));
    }
    if rng.chance(50) {
        body.insert("job_store_kind".into(), json!(rng.pick(&["redis", "memory"])));
    }
    if rng.chance(40) {
        body.insert("replace_existing".into(), json!(rng.chance(50)));
    }
    match (queue, rng.below(3)) {
        ("q", 0) => body.insert("args".into(), json!([1, 2])),
        ("q", 1) => body.insert("kwargs".into(), json!({"x": random_value(rng, 3)})),
        ("q", _) => body.insert("args".into(), json!([random_scalar(rng)])),
        (_, 0) => body.insert("args".into(), json!(["a"])),
        _ => body.insert("kwargs".into(), json!({"a": random_value(rng, 2)})),
    };
    Value::Object(body)
}

fn preview_body(rng: &mut Rng) -> Value {
    let mut body = Map::new();
    trigger_fields(rng, &mut body);
    if rng.chance(20) {
        body.insert("queue_name".into(), json!(rng.pick(QUEUES)));
    }
    if rng.chance(60) {
        body.insert("count".into(), json!(*rng.pick(&[1usize, 3, 10, 100, 1000, 1001, 0])));
    }
    if rng.chance(70) {
        body.insert("after".into(), json!(rng.pick(DATES)));
    }
    Value::Object(body)
}

/// Structural mutations of a JSON body.
fn mutate_value(rng: &mut Rng, body: &mut Value) {
    for _ in 0..1 + rng.below(3) {
        let Value::Object(map) = body else { return };
        let keys: Vec<String> = map.keys().cloned().collect();
        match rng.below(9) {
            // a field of the wrong type (or any value)
            0 | 1 if !keys.is_empty() => {
                let key = rng.pick(&keys).clone();
                map.insert(key, random_value(rng, 3));
            }
            // a known field with a random value
            2 => {
                map.insert(rng.pick(ADD_FIELDS).to_string(), random_value(rng, 2));
            }
            // an unknown field
            3 => {
                let key = match rng.below(4) {
                    0 => format!("extra_{}", rng.below(100)),
                    1 => rng.pick(STRINGS).to_string(),
                    2 => rng.pick(PREVIEW_FIELDS).to_string(),
                    _ => "name".to_string(),
                };
                map.insert(key, random_scalar(rng));
            }
            // a field removed
            4 if !keys.is_empty() => {
                map.remove(rng.pick(&keys));
            }
            // huge numbers
            5 => {
                let key = rng.pick(&["seconds", "weeks", "jitter", "misfire_grace_time", "count", "priority", "hour", "max_retry_times"]).to_string();
                let value = *rng.pick(&[u64::MAX as f64, 1e300, -1e300, 9.3e18, 4_294_967_296.0, 1e16]);
                map.insert(key, json!(value));
            }
            // deep nesting
            6 => {
                let key = rng.pick(&["kwargs", "args", "user_extra_info", "other_extra_params", "hour", "queue_name"]).to_string();
                let depth = *rng.pick(&[5usize, 31, 32, 33, 60, 126]);
                let leaf = nested(depth, json!(1));
                map.insert(key, if rng.chance(50) { leaf } else { json!({"x": leaf}) });
            }
            // unicode and control characters in a string field
            7 => {
                let key = rng.pick(&["queue_name", "job_id", "trigger", "run_date", "timezone", "hour", "after", "broker_kind", "job_store_kind"]).to_string();
                let base = map.get(&key).and_then(Value::as_str).unwrap_or("x").to_string();
                let insert = rng.pick(STRINGS);
                let cut = base.char_indices().map(|(i, _)| i).nth(rng.below(base.chars().count().max(1))).unwrap_or(0);
                map.insert(key, json!(format!("{}{insert}{}", &base[..cut], &base[cut..])));
            }
            // a long string
            _ => {
                let key = rng.pick(&["queue_name", "job_id", "run_date", "minute"]).to_string();
                map.insert(key, json!("y".repeat(*rng.pick(&[255usize, 256, 257, 5000]))));
            }
        }
    }
    if rng.chance(3) {
        *body = random_value(rng, 4);
    }
}

/// Byte-level mutations of the body text.
fn mutate_bytes(rng: &mut Rng, mut bytes: Vec<u8>) -> Vec<u8> {
    match rng.below(10) {
        // truncated
        0 if !bytes.is_empty() => {
            let len = rng.below(bytes.len());
            bytes.truncate(len);
        }
        // a flipped byte
        1 if !bytes.is_empty() => {
            let i = rng.below(bytes.len());
            bytes[i] ^= 1 << rng.below(8);
        }
        // random bytes inserted
        2 => {
            let at = rng.below(bytes.len() + 1);
            let junk: Vec<u8> = (0..1 + rng.below(8)).map(|_| rng.next() as u8).collect();
            bytes.splice(at..at, junk);
        }
        // a duplicated field: the first key again, with another value
        3 if bytes.first() == Some(&b'{') => {
            let duplicate = format!("\"{}\":{},", rng.pick(&["queue_name", "trigger", "job_id", "kwargs"]), random_scalar(rng));
            bytes.splice(1..1, duplicate.into_bytes());
        }
        // escaped lone surrogates, NULs, BOM, trailing garbage
        4 => {
            let extras: [&[u8]; 5] = [b"\xef\xbb\xbf", b" x", b"\x00", b"}", b"{}"];
            let extra = *rng.pick(&extras);
            if rng.chance(50) {
                bytes.splice(0..0, extra.iter().copied());
            } else {
                bytes.extend_from_slice(extra);
            }
        }
        5 if bytes.first() == Some(&b'{') => {
            let field = *rng.pick(&[
                r#""queue_name":"\ud800","#,
                r#""job_id":"\u0000","#,
                r#""hour":"\udfff\ud800","#,
                r#""kwargs":{"x":"\uDBFF\uDFFF"},"#,
                r#""queue_name":"a\u001fb","#,
            ]);
            bytes.splice(1..1, field.bytes());
        }
        // whitespace only, or entirely random bytes
        6 => bytes = if rng.chance(50) { b" \n\t ".to_vec() } else { (0..rng.below(64)).map(|_| rng.next() as u8).collect() },
        _ => {}
    }
    bytes
}

/// Percent-encodes `text` except for unreserved characters (always), so it is URI-safe.
fn encode(text: &str) -> String {
    text.bytes().map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

fn random_query(rng: &mut Rng, route: &str) -> String {
    let mut pairs: Vec<(String, String)> = Vec::new();
    let wants_job = matches!(route, "/get_timing_job" | "/delete_timing_job" | "/pause_timing_job" | "/resume_timing_job");
    if wants_job && rng.chance(90) {
        pairs.push(("job_id".into(), rng.pick(JOB_IDS).to_string()));
    }
    let lists = matches!(route, "/get_timing_jobs" | "/delete_all_timing_jobs");
    if (wants_job && rng.chance(90)) || (lists && rng.chance(50)) || rng.chance(3) {
        pairs.push(("queue_name".into(), rng.pick(QUEUES).to_string()));
    }
    let takes_body = matches!(route, "/add_timing_job" | "/preview_timing_job");
    if (route != "/health" && !takes_body && rng.chance(40)) || rng.chance(3) {
        pairs.push(("job_store_kind".into(), rng.pick(&["redis", "memory", "memory", "Redis", ""]).to_string()));
    }
    if matches!(route, "/delete_timing_job" | "/pause_timing_job" | "/resume_timing_job" | "/delete_all_timing_jobs") && rng.chance(20) {
        let long = "n".repeat(501);
        pairs.push(("note".into(), rng.pick(&["incident 42", "", "a\nb", long.as_str(), "\u{1F600}", "%"]).to_string()));
    }
    if route == "/get_audit_records" {
        for (name, values) in [
            ("job_id", JOB_IDS),
            ("queue_name", QUEUES),
            ("token", &["reader", "api_token", "", "x y"][..]),
            ("limit", &["1", "50", "1000", "1001", "0", "-1", "x"][..]),
            ("before", &["1733456789012-0", "0-0", "1-18446744073709551615", "yesterday", "1-", "-1", "99999999999999999999999-0"][..]),
        ] {
            if rng.chance(30) {
                pairs.push((name.into(), rng.pick(values).to_string()));
            }
        }
    }
    if route == "/get_timing_job" && rng.chance(40) {
        pairs.push(("count".into(), rng.pick(&["1", "5", "1000", "1001", "0", "-1", "+5", "1e3", "x"]).to_string()));
    }
    if rng.chance(5) {
        pairs.push((rng.pick(&["queue", "token", "job", "x", "job_id", "queue_name"]).to_string(), rng.pick(STRINGS).to_string()));
    }
    let mut parts: Vec<String> =
        pairs.iter().map(|(n, v)| if rng.chance(80) { format!("{}={}", encode(n), encode(v)) } else { format!("{n}={}", v.replace(' ', "+")) }).collect();
    match rng.below(20) {
        0 => parts.push(rng.pick(&["%", "%4", "%zz", "%C3%28", "%FF", "%ED%A0%80", "%+F", "a%2", "=", "==", "&&", "name", "%00=1"]).to_string()),
        1 if !parts.is_empty() => {
            let i = rng.below(parts.len());
            let dup = parts[i].clone();
            parts.push(dup);
        }
        2 => parts.push(format!("{}={}", rng.pick(QUERY_NAMES), "%41".repeat(rng.below(200)))),
        3 => parts.push((0..rng.below(20)).map(|_| *rng.pick(&["%", "2", "F", "=", "&", "+", "a", "%E2%82", "\u{e9}", "~"])).collect()),
        _ => {}
    }
    let sep = if rng.chance(5) { ";" } else { "&" };
    parts.join(sep)
}

/// One generated request and the configuration (index into [`configs`]) to serve it with;
/// `case` seeds both.
fn request(case: u64) -> (usize, HttpRequest) {
    let mut rng = Rng::new(case);
    let config = rng.below(4);
    let (path, method) = if rng.chance(92) {
        let mut pick = rng.below(ROUTES.iter().map(|r| r.2).sum());
        let &(path, method, _) = ROUTES
            .iter()
            .find(|r| {
                pick < r.2 || {
                    pick -= r.2;
                    false
                }
            })
            .unwrap();
        (path.to_string(), if rng.chance(95) { method.to_string() } else { rng.pick(METHODS).to_string() })
    } else {
        (rng.pick(ODD_PATHS).to_string(), rng.pick(METHODS).to_string())
    };
    let body = match path.as_str() {
        "/add_timing_job" | "/preview_timing_job" => {
            let valid = path == "/add_timing_job" && rng.chance(40);
            let mut value = match path.as_str() {
                "/add_timing_job" if valid => valid_add_body(&mut rng),
                "/add_timing_job" => add_body(&mut rng),
                _ => preview_body(&mut rng),
            };
            if !valid && rng.chance(55) {
                mutate_value(&mut rng, &mut value);
            }
            let bytes = value.to_string().into_bytes();
            if !valid && rng.chance(15) {
                mutate_bytes(&mut rng, bytes)
            } else {
                bytes
            }
        }
        _ if rng.chance(10) => mutate_bytes(&mut rng, b"{\"job_id\":\"a\"}".to_vec()),
        _ => Vec::new(),
    };
    let query = random_query(&mut rng, &path);
    let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
    // Config 1 has an API token: mostly the right one, sometimes a wrong or odd one. Config 3
    // has named tokens of every role, one limited to queue q: any of them, or a near miss.
    if (config == 1 && rng.chance(90)) || rng.chance(3) {
        let auth = if rng.chance(80) {
            "Bearer fuzz-token"
        } else {
            *rng.pick(&["Bearer wrong", "bearer fuzz-token", "Basic x", "", "Bearer ", "Bearer fuzz-token\u{0}", "Bearer  fuzz-token "])
        };
        headers.push(("authorization".to_string(), auth.to_string()));
    }
    if config == 3 && rng.chance(95) {
        let token = if rng.chance(85) {
            *rng.pick(&["fuzz-token", "fuzz-reader", "fuzz-q-writer", "fuzz-q-writer"])
        } else {
            *rng.pick(&[
                "fuzz-reade",
                "FUZZ-READER",
                "fuzz-reader ",
                "fuzz-q-writer\u{0}",
                "reader",
                "",
                "\u{1F600}",
                "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            ])
        };
        headers.push(("authorization".to_string(), format!("Bearer {token}")));
        if rng.chance(5) {
            headers.push(("authorization".to_string(), "Bearer fuzz-token".to_string()));
        }
    }
    let client_addr = if rng.chance(3) { rng.pick(&["10.0.0.1:1", "[::1]:2", "garbage", "", "127.0.0.1"]).to_string() } else { "127.0.0.1:40000".to_string() };
    (config, HttpRequest { method, path, query, headers, body, client_addr: Some(client_addr) })
}

// ---- the property ----

/// Query parameter names as the API decodes them (lenient: undecodable names are skipped).
fn query_names(query: &str) -> Vec<String> {
    let mut names = Vec::new();
    for part in query.split('&') {
        let name = part.split_once('=').map_or(part, |(n, _)| n);
        let mut bytes = Vec::new();
        let raw = name.as_bytes();
        let mut i = 0;
        while i < raw.len() {
            match raw[i] {
                b'%' if i + 2 < raw.len() && raw[i + 1].is_ascii_hexdigit() && raw[i + 2].is_ascii_hexdigit() => {
                    bytes.push(u8::from_str_radix(&name[i + 1..i + 3], 16).unwrap());
                    i += 3;
                }
                b'+' => {
                    bytes.push(b' ');
                    i += 1;
                }
                b => {
                    bytes.push(b);
                    i += 1;
                }
            }
        }
        names.push(String::from_utf8_lossy(&bytes).into_owned());
    }
    names
}

/// Checks one response; returns the `code` for the tally.
fn check(request: &HttpRequest, status: u16, body: &[u8]) -> Result<i64, String> {
    let envelope: Value = serde_json::from_slice(body).map_err(|e| format!("body is not JSON ({e}): {}", String::from_utf8_lossy(body)))?;
    let object = envelope.as_object().ok_or("envelope is not an object")?;
    let keys: Vec<&str> = object.keys().map(String::as_str).collect();
    if keys != ENVELOPE_KEYS {
        return Err(format!("envelope keys {keys:?}"));
    }
    let code = envelope["code"].as_i64().ok_or("code is not an integer")?;
    let msg = envelope["msg"].as_str().ok_or("msg is not a string")?;
    if !envelope["traceback"].is_null() || !envelope["trace_id"].is_null() {
        return Err("traceback/trace_id set".into());
    }
    if status >= 500 {
        return Err(format!("a {status}"));
    }
    if status == 200 {
        if envelope["succ"] != true || code != 200 {
            return Err("200 without succ/code 200".into());
        }
        return Ok(code);
    }
    if !(400..500).contains(&status) {
        return Err(format!("unexpected status {status}"));
    }
    if envelope["succ"] != false || !envelope["data"].is_null() || msg.is_empty() || !envelope["error"].is_string() {
        return Err("a 4xx needs succ=false, data=null, a msg and an error kind".into());
    }
    let expected_status = match code {
        4000 | 5001 => 400,
        4010 => 401,
        4030 => 403,
        4001 | 4040 | 4041 => 404,
        4050 => 405,
        4090 | 4091 => 409,
        4130 => 413,
        other => return Err(format!("unknown code {other}")),
    };
    if status != expected_status {
        return Err(format!("code {code} with status {status}"));
    }
    match code {
        4000 | 5001 => {
            let field = envelope["error_data"]["field"].as_str().ok_or("a 400 without error_data.field")?;
            let body_keys: Vec<String> = match serde_json::from_slice::<Value>(&request.body) {
                Ok(Value::Object(map)) => map.keys().cloned().collect(),
                _ => Vec::new(),
            };
            // The field is one the request sent, or the body/query as a whole, or a required
            // field that is missing, or (funboost's 5001) the args/kwargs that do not fit.
            let sent = field == "body" || field == "query" || body_keys.iter().any(|k| k == field) || query_names(&request.query).iter().any(|n| n == field);
            let missing = ["queue_name", "trigger", "job_id"].contains(&field) && msg.starts_with(&format!("{field}: is required"));
            let params = code == 5001 && (field == "args" || field == "kwargs");
            if !(sent || missing || params) {
                return Err(format!("error_data.field {field:?} is not a field the request sent (nor a missing required one)"));
            }
            if code == 4000 && !msg.starts_with(&format!("{field}: ")) {
                return Err(format!("msg does not start with the field {field:?}"));
            }
            if code == 5001 && !msg.starts_with("Invalid parameters for the consuming function of queue ") {
                return Err("a 5001 without funboost's FuncParamsError text".into());
            }
        }
        4001 if !msg.starts_with("queue ") => return Err("4001 must name the queue".into()),
        4030 if !["needs role", "may not touch queue", "may touch only some queues"].iter().any(|says| msg.contains(says)) => {
            return Err("4030 must name the missing role or queue".into())
        }
        4040 if !msg.starts_with("No job by the id of ") => return Err("4040 must name the job".into()),
        4090 if !msg.starts_with("Job identifier (") => return Err("4090 must name the job".into()),
        _ => {}
    }
    Ok(code)
}

fn describe(request: &HttpRequest) -> String {
    format!(
        "{} {}?{} headers={:?} client={:?} body={:?}",
        request.method,
        request.path,
        request.query,
        request.headers,
        request.client_addr,
        String::from_utf8_lossy(&request.body)
    )
}

fn seed() -> u64 {
    std::env::var("FUNBOOST_EDGE_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(20_261_128)
}

fn cases(default: u64) -> u64 {
    std::env::var("FUNBOOST_EDGE_FUZZ_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

/// Four configurations: spin.toml's defaults with small limits; with an API token; with
/// unregistered queues allowed; with named tokens ([`TOKENS`]).
fn configs(redis: &RedisServer) -> Vec<Config> {
    let url = redis.url(7);
    let base = move |extra: &[(&str, &str)]| {
        let mut vars: BTreeMap<&str, String> = BTreeMap::new();
        vars.insert("redis_url", url.clone());
        vars.insert("max_body_bytes", "4096".into());
        vars.insert("max_jobs_per_queue", "10".into());
        for (name, value) in extra {
            vars.insert(name, value.to_string());
        }
        Config::from_vars(&|name: &str| vars.get(name).cloned()).expect("config")
    };
    vec![
        base(&[]),
        base(&[("api_token", "fuzz-token")]),
        base(&[("allow_unregistered_queues", "true"), ("timezone", "America/New_York")]),
        base(&[("api_token", "fuzz-token"), ("tokens", TOKENS)]),
    ]
}

/// A reader of every queue and a writer of queue q (secrets fuzz-reader, fuzz-q-writer).
const TOKENS: &str = r#"[{"name": "reader", "sha256": "443c9d4e4dd4a1fbda9796696a2935a4244bdb7fe633d31067a0add17470a492", "role": "read"},
  {"name": "q_writer", "sha256": "ce4a1f6742e94802546c70bb7700585104a23b4f9f64f3dc9d84fef036cebfa7", "role": "write", "queues": ["q"]}]"#;

fn register(redis: &RedisServer) {
    let mut conn = connect(redis);
    register_queue(&mut conn, "q", &["x", "y"], &["x"]);
    register_queue(&mut conn, "q2", &["a"], &["a"]);
}

fn wall_clock_us() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros() as i64
}

#[derive(Default)]
struct Tally {
    by_status: BTreeMap<u16, u64>,
    by_code: BTreeMap<i64, u64>,
    /// (route, code) → count, printed when FUNBOOST_EDGE_FUZZ_VERBOSE is set.
    by_route: BTreeMap<(String, i64), u64>,
}

impl Tally {
    fn add(&mut self, request: &HttpRequest, status: u16, code: i64) {
        *self.by_status.entry(status).or_default() += 1;
        *self.by_code.entry(code).or_default() += 1;
        *self.by_route.entry((request.path.clone(), code)).or_default() += 1;
    }

    fn merge(&mut self, other: Tally) {
        for (k, v) in other.by_status {
            *self.by_status.entry(k).or_default() += v;
        }
        for (k, v) in other.by_code {
            *self.by_code.entry(k).or_default() += v;
        }
        for (k, v) in other.by_route {
            *self.by_route.entry(k).or_default() += v;
        }
    }

    fn print(&self, what: &str) {
        eprintln!("{what}: status {:?}, code {:?}", self.by_status, self.by_code);
        if std::env::var_os("FUNBOOST_EDGE_FUZZ_VERBOSE").is_some() {
            for ((route, code), n) in &self.by_route {
                eprintln!("  {route:28} {code:5} {n}");
            }
        }
    }

    /// The generator must reach every outcome, or the property says little.
    fn assert_covers(&self, codes: &[i64]) {
        for code in codes {
            assert!(self.by_code.get(code).copied().unwrap_or(0) > 0, "no request got code {code}: {:?}", self.by_code);
        }
    }
}

/// Runs cases `first, first + step, ...` (`count` of them) natively against their own
/// redis-server; a shard is deterministic on its own.
fn run_shard(first: u64, step: u64, count: u64) -> (Tally, Vec<String>) {
    let redis = RedisServer::start().expect("redis-server");
    register(&redis);
    let configs = configs(&redis);
    let native = NativeRedis::connect(&redis.url(7));
    let kv = MapKv::default();
    let mut tally = Tally::default();
    let mut failures = Vec::new();
    for i in 0..count {
        let case = first.wrapping_add(i * step);
        let (config, request) = request(case);
        let services = Services { config: &configs[config], redis: &native, kv: Some(&kv), wall_clock_us: wall_clock_us() };
        let response = match catch_unwind(AssertUnwindSafe(|| handle(&request, &services))) {
            Ok(response) => response,
            Err(_) => {
                failures.push(format!("case {case} panicked: {}", describe(&request)));
                break;
            }
        };
        match check(&request, response.status, &response.body) {
            Ok(code) => tally.add(&request, response.status, code),
            Err(problem) => {
                failures.push(format!(
                    "case {case}: {problem}\n  request: {}\n  response: {} {}",
                    describe(&request),
                    response.status,
                    String::from_utf8_lossy(&response.body)
                ));
                if failures.len() >= 10 {
                    break;
                }
            }
        }
        // Keep the stores small: clear them now and then (the generator reuses a few ids, and
        // max_jobs_per_queue = 10 bounds each queue in between).
        if i % 2_500 == 2_499 {
            let mut conn = connect(&redis);
            let ours: Vec<String> = redis::cmd("KEYS").arg("{funboost_edge}:*").query(&mut conn).unwrap();
            if !ours.is_empty() {
                redis::cmd("DEL").arg(ours).exec(&mut conn).unwrap();
            }
            for key in funboost_edge::host::KeyValue::get_keys(&kv).unwrap() {
                funboost_edge::host::KeyValue::delete(&kv, &key).unwrap();
            }
        }
    }
    (tally, failures)
}

#[test]
fn a_hundred_thousand_random_requests_through_the_core_get_clean_4xx_or_200() {
    let total = cases(100_000);
    let seed = seed();
    let started = Instant::now();
    // Two shards (even and odd cases), one thread and one redis-server each: the machine has
    // two cores.
    let shards: Vec<(Tally, Vec<String>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..2u64).map(|shard| scope.spawn(move || run_shard(seed.wrapping_add(shard), 2, (total + 1 - shard) / 2))).collect();
        handles.into_iter().map(|h| h.join().expect("shard thread")).collect()
    });
    let mut tally = Tally::default();
    let mut failures = Vec::new();
    for (shard_tally, shard_failures) in shards {
        tally.merge(shard_tally);
        failures.extend(shard_failures);
    }
    tally.print(&format!("{total} native requests in {:?}", started.elapsed()));
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
    if total >= 10_000 {
        tally.assert_covers(&[200, 4000, 4001, 4010, 4030, 4040, 4041, 4050, 4090, 4091, 4130, 5001]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slice_of_the_same_requests_through_the_wasm_component() {
    let redis = RedisServer::start().expect("redis-server");
    register(&redis);
    // The same four configurations, each in its own host.
    let overrides: [&[(&str, &str)]; 4] = [
        &[],
        &[("api_token", "fuzz-token")],
        &[("allow_unregistered_queues", "true"), ("timezone", "America/New_York")],
        &[("api_token", "fuzz-token"), ("tokens", TOKENS)],
    ];
    let hosts: Vec<_> = overrides
        .iter()
        .map(|extra| {
            let mut vars = variables(&redis);
            vars.insert("max_body_bytes".into(), "4096".into());
            vars.insert("max_jobs_per_queue".into(), "10".into());
            for (name, value) in extra.iter() {
                vars.insert(name.to_string(), value.to_string());
            }
            host_with(vars)
        })
        .collect();
    let total = cases(100_000).min(2_000);
    let seed = seed();
    let started = Instant::now();
    let mut tally = Tally::default();
    let mut failures = Vec::new();
    for i in 0..total {
        let case = seed.wrapping_add(i * 50 + 7);
        let (config, request) = request(case);
        let host = &hosts[config];
        // Spin routes by path; the path and query must be a valid URI, so escape what is not.
        let path_and_query = format!("/funboost{}?{}", encode_path(&request.path), uri_safe(&request.query));
        let mut headers: Vec<(&str, &str)> =
            request.headers.iter().filter(|(_, v)| v.bytes().all(|b| b >= 0x20 && b != 0x7f)).map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let client = request.client_addr.clone().unwrap_or_default();
        headers.push(("spin-client-addr", &client));
        let response = host
            .request(&request.method, &path_and_query, &headers, request.body.clone())
            .await
            .unwrap_or_else(|e| panic!("case {case}: the component failed ({e:#}): {}", describe(&request)));
        // Spin answers 404 itself for paths outside /funboost/... (the component never sees them).
        if !path_and_query.starts_with("/funboost/") {
            continue;
        }
        let wasm_request = HttpRequest { query: uri_safe(&request.query), ..request.clone() };
        match check(&wasm_request, response.status, &response.body) {
            Ok(code) => tally.add(&request, response.status, code),
            Err(problem) => {
                failures.push(format!("case {case}: {problem}\n  request: {}\n  response: {} {}", describe(&request), response.status, response.text()));
                if failures.len() >= 10 {
                    break;
                }
            }
        }
    }
    tally.print(&format!("{total} requests through the wasm component in {:?}", started.elapsed()));
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
    tally.assert_covers(&[200, 4000, 4001, 4030, 4040, 4050, 5001]);
}

#[test]
fn mangled_tokens_variables_configure_whole_or_are_refused_naming_the_variable() {
    let seed = seed();
    let (mut accepted, mut refused) = (0, 0);
    for case in 0..cases(100_000).min(20_000) {
        let mut rng = Rng::new(seed ^ (case + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let text = if rng.chance(50) {
            let mut value: Value = serde_json::from_str(TOKENS).expect("TOKENS is JSON");
            mutate_value(&mut rng, &mut value);
            value.to_string()
        } else {
            String::from_utf8_lossy(&mutate_bytes(&mut rng, TOKENS.as_bytes().to_vec())).into_owned()
        };
        let vars = [("tokens", text.as_str()), ("api_token", "fuzz-token")];
        let configured = catch_unwind(|| Config::from_vars(&|name: &str| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string())));
        match configured {
            Err(_) => panic!("case {case} panicked on tokens {text:?}"),
            Ok(Ok(config)) => {
                let mut names: Vec<&str> = config.tokens.iter().map(|t| t.name.as_str()).collect();
                assert!(names.iter().all(|n| !n.is_empty()), "case {case}: {text}");
                names.sort();
                names.dedup();
                assert_eq!(names.len(), config.tokens.len(), "case {case}: names are unique: {text}");
                accepted += 1;
            }
            Ok(Err(e)) => {
                let message = format!("{e:#}");
                assert!(message.contains("variable tokens") || message.contains("variable api_token"), "case {case}: {message}");
                assert!(!message.contains("fuzz-token"), "case {case}: a secret is never echoed: {message}");
                refused += 1;
            }
        }
    }
    eprintln!("tokens variables: {accepted} accepted, {refused} refused");
    assert!(accepted > 0 && refused > 0);
}

/// A query string as a client would send it on the wire: bytes outside the URI's query
/// characters are percent-encoded; `%`, `&`, `=` and `+` stay as they are (so broken escapes
/// reach the API unchanged).
fn uri_safe(query: &str) -> String {
    query
        .bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?%".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

fn encode_path(path: &str) -> String {
    path.bytes().map(|b| if b.is_ascii_alphanumeric() || b"-._~/%".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}
