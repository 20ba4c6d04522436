//! funboost's message wire format: the consuming function's keyword arguments, then `extra`
//! with the task options, `task_id` (UUIDv7), `publish_time`, `publish_time_format`, and our
//! deterministic `fire_id`; one compact JSON object, pushed with the broker kind's command.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::job::{BrokerKind, Job};
use crate::trigger::{Zdt, Zone};

/// How a message is pushed: `RPUSH`, `LPUSH` or `XADD key * "" payload`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Push {
    RightPush,
    LeftPush,
    StreamAdd,
}

impl Push {
    /// The one-letter code the tick's Lua script switches on.
    pub fn code(self) -> &'static str {
        match self {
            Push::RightPush => "R",
            Push::LeftPush => "L",
            Push::StreamAdd => "X",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub push: Push,
    pub key: String,
    pub payload: String,
    pub task_id: String,
    /// One scheduled fire of one job, unambiguously (names may contain `:`, not `\x1f`).
    pub dedupe_key: String,
}

/// What the tick adds to a message's `extra`, in this order, after the job's own options.
#[derive(Serialize)]
struct OurExtra {
    #[serde(skip_serializing_if = "Option::is_none")]
    eta: Option<f64>,
    task_id: String,
    publish_time: f64,
    publish_time_format: String,
    fire_id: String,
    scheduled_time: String,
}

/// JSON text of a map or of [`OurExtra`]: string keys and finite numbers, which cannot fail.
fn json_text(value: &impl Serialize) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// A UUIDv7 (RFC 9562) from a Unix millisecond time and 74 random bits.
pub fn uuid_v7(unix_ms: u64, random_a: u64, random_b: u64) -> String {
    let time = unix_ms & 0xffff_ffff_ffff;
    let rand_a = random_a & 0x0fff;
    let rand_b = random_b & 0x3fff_ffff_ffff_ffff;
    let hi = (time << 16) | 0x7000 | rand_a;
    let lo = 0x8000_0000_0000_0000 | rand_b;
    // 8-4-4-4-12 hex digits; by hand, as the tick makes one per fire.
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut id = String::with_capacity(36);
    for n in 0..32 {
        if matches!(n, 8 | 12 | 16 | 20) {
            id.push('-');
        }
        let word = if n < 16 { hi } else { lo };
        id.push(char::from(HEX[(word >> (60 - 4 * (n % 16))) as usize & 0xf]));
    }
    id
}

/// When a message goes out relative to its scheduled time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timing {
    /// At or after its time.
    Due,
    /// Ahead of its time, with funboost's `eta` (the HTTP tick's look-ahead).
    Ahead,
    /// Now, by `run_timing_job_now`, outside the schedule.
    Manual,
}

/// `<queue>:<job_id>:<scheduled instant in UTC µs>`: the same for every attempt to publish
/// one scheduled fire, so consumers can de-duplicate. A run-now's is
/// `<queue>:<job_id>:manual:<UTC µs>`, never equal to a scheduled fire's.
pub fn fire_id(job: &Job, scheduled: &Zdt, timing: Timing) -> String {
    if timing == Timing::Manual {
        return format!("{}:{}:manual:{}", job.queue_name, job.job_id, scheduled.utc_us());
    }
    joined(job, ':', scheduled)
}

/// `<queue><separator><job_id><separator><UTC µs>`, without `format!` (one or two per fire).
fn joined(job: &Job, separator: char, scheduled: &Zdt) -> String {
    let mut s = String::with_capacity(job.queue_name.len() + job.job_id.len() + 20);
    s.push_str(&job.queue_name);
    s.push(separator);
    s.push_str(&job.job_id);
    s.push(separator);
    s.push_str(&scheduled.utc_us().to_string());
    s
}

/// The message for one fire of `job` scheduled at `scheduled`, published at `now_us`.
pub fn build(job: &Job, scheduled: &Zdt, now_us: i64, zone: Zone, timing: Timing) -> Message {
    let mut publish_time_format = String::with_capacity(19);
    Zdt::from_utc(now_us, zone).civil().write_seconds(&mut publish_time_format);
    let ours = OurExtra {
        eta: (timing == Timing::Ahead).then(|| scheduled.utc_us() as f64 / 1e6),
        task_id: uuid_v7((now_us / 1000) as u64, crate::random::u64(), crate::random::u64()),
        publish_time: ((now_us as f64) / 100.0).round() / 1e4,
        publish_time_format,
        fire_id: fire_id(job, scheduled, timing),
        scheduled_time: scheduled.py_str(),
    };
    let priority = job.priority.filter(|_| job.broker_kind == BrokerKind::RedisPriority);
    // The usual job has no extra options of its own: serialize ours directly, without a map.
    let extra = if job.extra.is_empty() && priority.is_none() {
        json_text(&ours)
    } else {
        let mut extra: Map<String, Value> = job.extra.clone();
        if let Some(p) = priority {
            // funboost reads the priority from other_extra_params.priroty (sic).
            let other = extra.entry("other_extra_params").or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(other) = other {
                other.insert("priroty".into(), p.into());
            }
        }
        if let Ok(Value::Object(fields)) = serde_json::to_value(&ours) {
            extra.extend(fields);
        }
        json_text(&extra)
    };
    // The payload is the keyword arguments plus `extra`, spliced as text.
    let payload = if job.message_kwargs.contains_key("extra") {
        let mut body = job.message_kwargs.clone();
        body.insert("extra".into(), serde_json::from_str(&extra).unwrap_or(Value::Null));
        json_text(&body)
    } else {
        let mut payload = json_text(&job.message_kwargs);
        payload.pop(); // the closing brace
        if !job.message_kwargs.is_empty() {
            payload.push(',');
        }
        payload.push_str("\"extra\":");
        payload.push_str(&extra);
        payload.push('}');
        payload
    };
    let (push, key) = match job.broker_kind {
        BrokerKind::Redis | BrokerKind::RedisAckAble => (Push::RightPush, job.queue_name.clone()),
        BrokerKind::RedisBrpopLpush => (Push::LeftPush, job.queue_name.clone()),
        BrokerKind::RedisStream => (Push::StreamAdd, job.queue_name.clone()),
        // funboost uses a sub-queue only when the queue has an x-max-priority and the message
        // a non-zero priority.
        BrokerKind::RedisPriority => match (job.priority.filter(|&p| p > 0), job.max_priority.filter(|&m| m > 0)) {
            (Some(p), Some(max)) => (Push::RightPush, format!("{}:{}", job.queue_name, p.min(max))),
            _ => (Push::RightPush, job.queue_name.clone()),
        },
    };
    let dedupe_key = match timing {
        Timing::Manual => format!("{}\u{1f}{}\u{1f}manual\u{1f}{}", job.queue_name, job.job_id, scheduled.utc_us()),
        _ => joined(job, '\u{1f}', scheduled),
    };
    Message { push, key, payload, task_id: ours.task_id, dedupe_key }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::trigger::Zone;
    use serde_json::json;

    fn job(message_kwargs: Value, extra: Value, broker_kind: &str, priority: Option<u8>) -> Job {
        serde_json::from_value(json!({
            "job_id": "j\"1", "queue_name": "q", "store": "redis", "trigger": {"trigger": "interval", "seconds": 60},
            "timezone": "UTC", "created_us": 0, "args": [], "kwargs": {}, "message_kwargs": message_kwargs,
            "misfire_grace_time": 1, "coalesce": true, "broker_kind": broker_kind, "priority": priority,
            "max_priority": 3, "extra": extra, "next_run": null, "paused": false,
        }))
        .expect("a valid stored job")
    }

    /// Key order of a JSON object (serde_json keeps it with `preserve_order`).
    fn keys(value: &Value) -> Vec<&str> {
        value.as_object().expect("an object").keys().map(String::as_str).collect()
    }

    /// name, kwargs, task options, broker kind, priority, published ahead, top-level keys,
    /// `extra` keys.
    type PayloadCase<'a> = (&'a str, Value, Value, &'a str, Option<u8>, bool, Vec<&'a str>, Vec<&'a str>);

    #[test]
    fn payload_is_the_kwargs_then_extra_with_the_jobs_options_first() {
        let ours = ["task_id", "publish_time", "publish_time_format", "fire_id", "scheduled_time"];
        let cases: [PayloadCase; 5] = [
            ("plain job", json!({"x": 1, "y": "a"}), json!({}), "REDIS", None, false, vec!["x", "y", "extra"], ours.to_vec()),
            ("no arguments", json!({}), json!({}), "REDIS", None, false, vec!["extra"], ours.to_vec()),
            ("published ahead", json!({"x": 1}), json!({}), "REDIS", None, true, vec!["x", "extra"], [&["eta"][..], &ours].concat()),
            (
                "task options",
                json!({"x": 1}),
                json!({"msg_expire_seconds": 5, "task_id": "mine"}),
                "REDIS",
                None,
                false,
                vec!["x", "extra"],
                [&["msg_expire_seconds"][..], &ours].concat(),
            ),
            ("priority", json!({"x": 1}), json!({}), "REDIS_PRIORITY", Some(2), false, vec!["x", "extra"], [&["other_extra_params"][..], &ours].concat()),
        ];
        let at = Zdt::from_utc(1_795_841_957_865_862, Zone::Utc);
        for (name, kwargs, extra, kind, priority, ahead, body_keys, extra_keys) in cases {
            let job = job(kwargs.clone(), extra, kind, priority);
            let message = build(&job, &at, 1_795_841_958_000_000, Zone::Utc, if ahead { Timing::Ahead } else { Timing::Due });
            let body: Value = serde_json::from_str(&message.payload).unwrap_or_else(|e| panic!("{name}: {e}: {}", message.payload));
            assert_eq!(keys(&body), body_keys, "{name}");
            assert_eq!(keys(&body["extra"]), extra_keys, "{name}");
            for (k, v) in kwargs.as_object().expect("kwargs") {
                assert_eq!(&body[k], v, "{name}: {k}");
            }
            let extra = &body["extra"];
            assert_eq!(extra["fire_id"], "q:j\"1:1795841957865862", "{name}");
            assert_eq!(extra["scheduled_time"], "2026-11-28 04:59:17.865862+00:00", "{name}");
            assert_eq!(extra["publish_time"], 1795841958.0, "{name}");
            assert_ne!(extra["task_id"], "mine", "{name}: the tick's task_id wins");
            assert_eq!(extra.get("eta").is_some(), ahead, "{name}");
            assert_eq!(extra["task_id"], message.task_id.as_str(), "{name}");
        }
    }

    #[test]
    fn uuid_v7_carries_version_variant_and_time() {
        let id = uuid_v7(0x0194_f0d2_7c1e, u64::MAX, u64::MAX);
        assert_eq!(id, "0194f0d2-7c1e-7fff-bfff-ffffffffffff");
        let id = uuid_v7(1, 0, 0);
        assert_eq!(id, "00000000-0001-7000-8000-000000000000");
    }
}
