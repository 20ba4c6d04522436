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

/// One scheduled fire of one job (or one run-now), which every attempt to publish it shares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FireId<'a> {
    queue: &'a str,
    job_id: &'a str,
    scheduled_us: i64,
    manual: bool,
}

impl<'a> FireId<'a> {
    pub fn new(queue: &'a str, job_id: &'a str, scheduled_us: i64, timing: Timing) -> FireId<'a> {
        FireId { queue, job_id, scheduled_us, manual: timing == Timing::Manual }
    }

    pub fn of(job: &'a Job, scheduled: &Zdt, timing: Timing) -> FireId<'a> {
        FireId::new(&job.queue_name, &job.job_id, scheduled.utc_us(), timing)
    }

    /// `<queue>:<job_id>:<scheduled instant in UTC µs>` (a run-now's:
    /// `<queue>:<job_id>:manual:<UTC µs>`, never equal to a scheduled fire's), the message's
    /// `extra.fire_id`, so consumers can de-duplicate.
    pub fn text(&self) -> String {
        self.joined(':')
    }

    /// The same, joined with the unit separator, which names cannot contain (the memory
    /// store's publish-once markers).
    pub fn dedupe_key(&self) -> String {
        self.joined('\u{1f}')
    }

    fn joined(&self, separator: char) -> String {
        // Without `format!`: one or two per fire.
        let mut s = String::with_capacity(self.queue.len() + self.job_id.len() + 28);
        s.push_str(self.queue);
        s.push(separator);
        s.push_str(self.job_id);
        s.push(separator);
        if self.manual {
            s.push_str("manual");
            s.push(separator);
        }
        s.push_str(&self.scheduled_us.to_string());
        s
    }

    /// The `task_id` of this fire published at `published_us`: a UUIDv7 whose time is the
    /// publish millisecond and whose 74 other bits are a hash of the fire and the publish
    /// instant. Unique per message like a random one, and derivable again from a history record,
    /// which therefore need not store it.
    pub fn task_id(&self, published_us: i64) -> String {
        let mut seed = stable_hash(self.queue.as_bytes(), 0x6a09_e667_f3bc_c908);
        seed = stable_hash(self.job_id.as_bytes(), seed);
        seed = mix(seed ^ self.scheduled_us as u64 ^ u64::from(self.manual) << 63);
        seed = mix(seed ^ published_us as u64);
        uuid_v7((published_us.max(0) / 1000) as u64, mix(seed ^ 0x243f_6a88_85a3_08d3), mix(seed ^ 0x1319_8a2e_0370_7344))
    }
}

/// SplitMix64's finalizer: a stable, well-spread 64-bit mix (the same in every build, which
/// std's hashers do not promise).
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn stable_hash(bytes: &[u8], seed: u64) -> u64 {
    let mut h = seed;
    for chunk in bytes.chunks(8) {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        h = mix(h ^ u64::from_le_bytes(word));
    }
    mix(h ^ bytes.len() as u64)
}

/// The message for one fire of `job` scheduled at `scheduled`, published at `now_us`.
pub fn build(job: &Job, scheduled: &Zdt, now_us: i64, zone: Zone, timing: Timing) -> Message {
    let mut publish_time_format = String::with_capacity(19);
    Zdt::from_utc(now_us, zone).civil().write_seconds(&mut publish_time_format);
    let fire = FireId::of(job, scheduled, timing);
    let ours = OurExtra {
        eta: (timing == Timing::Ahead).then(|| scheduled.utc_us() as f64 / 1e6),
        task_id: fire.task_id(now_us),
        publish_time: ((now_us as f64) / 100.0).round() / 1e4,
        publish_time_format,
        fire_id: fire.text(),
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
    Message { push, key, payload, task_id: ours.task_id, dedupe_key: fire.dedupe_key() }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::job::StoreKind;
    use crate::trigger::Zone;
    use serde_json::json;

    fn job(message_kwargs: Value, extra: Value, broker_kind: &str, priority: Option<u8>) -> Job {
        let object = |v: Value| v.as_object().cloned().expect("an object");
        Job {
            job_id: "j\"1".into(),
            queue_name: "q".into(),
            store: StoreKind::Redis,
            trigger: serde_json::from_value(json!({"trigger": "interval", "seconds": 60})).expect("a trigger"),
            timezone: "UTC".into(),
            created_us: 0,
            args: Vec::new(),
            kwargs: Map::new(),
            message_kwargs: object(message_kwargs),
            misfire_grace_time: Some(1),
            coalesce: true,
            broker_kind: BrokerKind::parse(broker_kind).expect("a broker kind"),
            priority,
            max_priority: Some(3),
            extra: object(extra),
            next_run: None,
            paused: false,
            fires: 0,
            missed: 0,
            coalesced: 0,
            last_fire_us: None,
            error: None,
        }
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
    fn a_task_id_is_a_uuid_v7_of_the_publish_time_and_differs_per_fire_and_attempt() {
        let fire = FireId::new("q", "j", 1_000_000, Timing::Due);
        let id = fire.task_id(1_795_841_958_123_456);
        assert_eq!(fire.task_id(1_795_841_958_123_456), id, "derivable again from the record");
        assert_eq!(&id[14..15], "7", "version 7: {id}");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"), "RFC 9562 variant: {id}");
        assert_eq!(u64::from_str_radix(&id[..8], 16).expect("hex") << 16 | u64::from_str_radix(&id[9..13], 16).expect("hex"), 1_795_841_958_123);
        let others = [
            FireId::new("q", "j", 1_000_000, Timing::Due).task_id(1_795_841_958_123_457),
            FireId::new("q", "j", 2_000_000, Timing::Due).task_id(1_795_841_958_123_456),
            FireId::new("q", "j", 1_000_000, Timing::Manual).task_id(1_795_841_958_123_456),
            FireId::new("q", "k", 1_000_000, Timing::Due).task_id(1_795_841_958_123_456),
            FireId::new("qj", "", 1_000_000, Timing::Due).task_id(1_795_841_958_123_456),
        ];
        assert!(others.iter().all(|o| *o != id), "{others:?}");
        assert_eq!(fire.text(), "q:j:1000000");
        assert_eq!(FireId::new("q", "j", 5, Timing::Manual).text(), "q:j:manual:5");
    }

    #[test]
    fn uuid_v7_carries_version_variant_and_time() {
        let id = uuid_v7(0x0194_f0d2_7c1e, u64::MAX, u64::MAX);
        assert_eq!(id, "0194f0d2-7c1e-7fff-bfff-ffffffffffff");
        let id = uuid_v7(1, 0, 0);
        assert_eq!(id, "00000000-0001-7000-8000-000000000000");
    }
}
