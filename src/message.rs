//! funboost's message wire format: the consuming function's keyword arguments, then `extra`
//! with the task options, `task_id` (UUIDv7), `publish_time`, `publish_time_format`, and our
//! deterministic `fire_id`; one compact JSON object, pushed with the broker kind's command.

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
    /// One scheduled fire of one job, unambiguously (names may contain `:`, not `\x1f`).
    pub dedupe_key: String,
}

/// A UUIDv7 (RFC 9562) from a Unix millisecond time and 74 random bits.
pub fn uuid_v7(unix_ms: u64, random_a: u64, random_b: u64) -> String {
    let time = unix_ms & 0xffff_ffff_ffff;
    let rand_a = random_a & 0x0fff;
    let rand_b = random_b & 0x3fff_ffff_ffff_ffff;
    let hi = (time << 16) | 0x7000 | rand_a;
    let lo = 0x8000_0000_0000_0000 | rand_b;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xffff,
        hi & 0xffff,
        lo >> 48,
        lo & 0xffff_ffff_ffff
    )
}

/// `<queue>:<job_id>:<scheduled instant in UTC µs>`: the same for every attempt to publish
/// one scheduled fire, so consumers can de-duplicate.
pub fn fire_id(job: &Job, scheduled: &Zdt) -> String {
    format!("{}:{}:{}", job.queue_name, job.job_id, scheduled.utc_us())
}

/// The message for one fire of `job` scheduled at `scheduled`, published at `now_us`.
/// `eta` is set when the fire is published ahead of its time (the HTTP tick's look-ahead).
pub fn build(job: &Job, scheduled: &Zdt, now_us: i64, zone: Zone, ahead: bool) -> Message {
    let mut extra: Map<String, Value> = job.extra.clone();
    if let (BrokerKind::RedisPriority, Some(p)) = (job.broker_kind, job.priority) {
        // funboost reads the priority from other_extra_params.priroty (sic).
        let other = extra.entry("other_extra_params").or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(other) = other {
            other.insert("priroty".into(), p.into());
        }
    }
    if ahead {
        extra.insert("eta".into(), Value::from(scheduled.utc_us() as f64 / 1e6));
    }
    extra.insert("task_id".into(), uuid_v7((now_us / 1000) as u64, crate::random::u64(), crate::random::u64()).into());
    extra.insert("publish_time".into(), Value::from(((now_us as f64) / 100.0).round() / 1e4));
    let now = Zdt::from_utc(now_us, zone).civil();
    extra.insert(
        "publish_time_format".into(),
        format!("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", now.year, now.month, now.day, now.hour, now.minute, now.second).into(),
    );
    extra.insert("fire_id".into(), fire_id(job, scheduled).into());
    extra.insert("scheduled_time".into(), scheduled.py_str().into());

    let mut body = job.message_kwargs.clone();
    body.insert("extra".into(), Value::Object(extra));
    let payload = Value::Object(body).to_string();
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
    let dedupe_key = format!("{}\u{1f}{}\u{1f}{}", job.queue_name, job.job_id, scheduled.utc_us());
    Message { push, key, payload, dedupe_key }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_v7_carries_version_variant_and_time() {
        let id = uuid_v7(0x0194_f0d2_7c1e, u64::MAX, u64::MAX);
        assert_eq!(id, "0194f0d2-7c1e-7fff-bfff-ffffffffffff");
        let id = uuid_v7(1, 0, 0);
        assert_eq!(id, "00000000-0001-7000-8000-000000000000");
    }
}
