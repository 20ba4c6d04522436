//! How a [`Job`] is written down: what the user set (the spec) and what firing changes (the
//! state) as two small JSON objects with one-letter keys and defaults left out, so that a job
//! just added takes about a hundred bytes and a fire rewrites only its state.
//!
//! Spec: `tr` trigger as given, `tz` zone, `c` created (UTC µs), `a` args, `k` kwargs, `m` the
//! message's kwargs (only when positional args made them differ from `k`), `g` misfire grace
//! (absent: 1 s; null: no limit), `co` coalesce (absent: true), `b` broker kind (absent:
//! `REDIS`), `p` priority, `mp` the queue's max priority, `x` task options.
//!
//! State: `v` version (a random token every write changes; updates compare it), `s` status
//! (`p` paused, `f` finished, `e` error; absent: running), `n` next run `[wall µs, fold]`, `f`
//! fires, `m` missed, `c` coalesced, `l` last fire (UTC µs), `e` the error that stopped the job.
//!
//! Decoding is lenient: unknown keys are ignored and nothing the add request checks is checked
//! again, so that a job accepted once stays readable.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::job::{BrokerKind, Job, Status, StoreKind, StoredTime};
use crate::trigger::{TriggerSpec, Zone};

#[derive(Serialize, Deserialize)]
struct Spec {
    tr: TriggerSpec,
    tz: String,
    c: i64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    a: Vec<Value>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    k: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    m: Option<Map<String, Value>>,
    #[serde(default = "default_grace", skip_serializing_if = "is_default_grace")]
    g: Option<u32>,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    co: bool,
    #[serde(default = "redis_broker", skip_serializing_if = "is_redis_broker")]
    b: BrokerKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    p: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mp: Option<u8>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    x: Map<String, Value>,
}

fn default_grace() -> Option<u32> {
    Some(1)
}

fn is_default_grace(g: &Option<u32>) -> bool {
    *g == Some(1)
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

fn redis_broker() -> BrokerKind {
    BrokerKind::Redis
}

fn is_redis_broker(b: &BrokerKind) -> bool {
    *b == BrokerKind::Redis
}

#[derive(Serialize, Deserialize)]
struct State {
    v: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    s: Option<char>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    n: Option<(i64, u8)>,
    #[serde(default, skip_serializing_if = "is_zero")]
    f: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    m: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    c: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    l: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    e: Option<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The spec text of `job`.
pub fn encode_spec(job: &Job) -> String {
    let spec = Spec {
        tr: job.trigger.clone(),
        tz: job.timezone.clone(),
        c: job.created_us,
        a: job.args.clone(),
        k: job.kwargs.clone(),
        m: (job.message_kwargs != job.kwargs).then(|| job.message_kwargs.clone()),
        g: job.misfire_grace_time,
        co: job.coalesce,
        b: job.broker_kind,
        p: job.priority,
        mp: job.max_priority,
        x: job.extra.clone(),
    };
    // Plain maps and strings: serialization cannot fail.
    serde_json::to_string(&spec).unwrap_or_default()
}

/// The state text of `job` with version `version`.
pub fn encode_state(job: &Job, version: &str) -> String {
    let state = State {
        v: version.to_string(),
        s: match job.status() {
            Status::Running => None,
            Status::Paused => Some('p'),
            Status::Finished => Some('f'),
            Status::Error => Some('e'),
        },
        n: job.next_run.map(|t| (t.wall_us, u8::from(t.fold))),
        f: job.fires,
        m: job.missed,
        c: job.coalesced,
        l: job.last_fire_us,
        e: job.error.clone(),
    };
    serde_json::to_string(&state).unwrap_or_default()
}

/// A fresh version token.
pub fn new_version() -> String {
    format!("{:x}", crate::random::u64())
}

/// The version of a state text, read as the scripts read it (the text starts `{"v":"<version>"`),
/// without decoding the rest.
pub fn version_of(state: &str) -> Option<String> {
    let rest = state.strip_prefix("{\"v\":\"")?;
    Some(rest[..rest.find('"')?].to_string())
}

/// The state text of a job stopped by `reason`: its counts kept when the old state can be read,
/// a new version, status `error`.
pub fn error_state(old_state: &str, reason: &str) -> String {
    let mut state = match serde_json::from_str::<Value>(old_state) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    state.remove("v");
    let mut out = Map::new();
    out.insert("v".into(), new_version().into());
    out.extend(state);
    out.insert("s".into(), "e".into());
    out.insert("e".into(), reason.into());
    out.remove("n");
    Value::Object(out).to_string()
}

/// A stored job that could not be decoded: its spec or state is not what this build reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unreadable(pub String);

/// The job `job_id` of `queue` from its spec and state texts; the state's version beside it.
pub fn decode(queue: &str, job_id: &str, store: StoreKind, spec: &str, state: &str) -> Result<(Job, String), Unreadable> {
    let spec: Spec = serde_json::from_str(spec).map_err(|e| Unreadable(format!("its stored spec cannot be read: {e}")))?;
    let state: State = serde_json::from_str(state).map_err(|e| Unreadable(format!("its stored state cannot be read: {e}")))?;
    let mut error = state.e;
    // A zone this build does not know (renamed in a later tz database, say) stops the job with
    // that error instead of losing it; its next run is then kept in UTC.
    let zone = match Zone::from_name(&spec.tz) {
        Ok(zone) => zone,
        Err(e) => {
            error.get_or_insert(format!("timezone: {e}"));
            Zone::Utc
        }
    };
    let status = state.s;
    let job = Job {
        job_id: job_id.to_string(),
        queue_name: queue.to_string(),
        store,
        message_kwargs: spec.m.unwrap_or_else(|| spec.k.clone()),
        trigger: spec.tr,
        timezone: spec.tz,
        created_us: spec.c,
        args: spec.a,
        kwargs: spec.k,
        misfire_grace_time: spec.g,
        coalesce: spec.co,
        broker_kind: spec.b,
        priority: spec.p,
        max_priority: spec.mp,
        extra: spec.x,
        next_run: state.n.map(|(wall_us, fold)| StoredTime::from_wall(wall_us, fold != 0, zone)),
        paused: status == Some('p'),
        fires: state.f,
        missed: state.m,
        coalesced: state.c,
        last_fire_us: state.l,
        error: error.or_else(|| (status == Some('e')).then(|| "stopped by an error".to_string())),
    };
    Ok((job, state.v))
}

/// The score of `job` in its queue's `next` index: its next run (UTC µs) while it runs, else
/// its status's (`layout::Stopped`).
pub fn score(job: &Job) -> i64 {
    use super::layout::Stopped;
    match job.status() {
        Status::Running => job.next_run.map_or(Stopped::FINISHED, |t| t.utc_us),
        Status::Paused => Stopped::PAUSED,
        Status::Finished => Stopped::FINISHED,
        Status::Error => Stopped::ERROR,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::AddRequest;
    use serde_json::json;

    fn job(body: Value) -> Job {
        let add = AddRequest::parse(body.to_string().as_bytes()).expect("a valid add request");
        Job {
            job_id: "job_00001".into(),
            queue_name: add.queue_name,
            store: StoreKind::Redis,
            trigger: add.trigger,
            timezone: "Asia/Shanghai".into(),
            created_us: 1_795_841_958_123_456,
            message_kwargs: add.kwargs.clone(),
            args: add.args,
            kwargs: add.kwargs,
            misfire_grace_time: add.misfire_grace_time,
            coalesce: add.coalesce,
            broker_kind: add.broker_kind.unwrap_or(BrokerKind::Redis),
            priority: add.priority,
            max_priority: None,
            extra: add.extra,
            next_run: Some(StoredTime::from_wall(1_795_870_768_123_456, false, Zone::parse("Asia/Shanghai").expect("zone"))),
            paused: false,
            fires: 0,
            missed: 0,
            coalesced: 0,
            last_fire_us: None,
            error: None,
        }
    }

    #[test]
    fn a_job_survives_its_spec_and_state() {
        let cases = [
            json!({"queue_name": "q", "trigger": "interval", "seconds": 10, "kwargs": {"x": 1, "y": 2}}),
            json!({"queue_name": "q", "trigger": "cron", "hour": "9", "misfire_grace_time": null, "coalesce": false, "broker_kind": "REDIS_STREAM"}),
            json!({"queue_name": "q", "trigger": "date", "run_date": "2030-01-01 00:00:00", "msg_expire_seconds": 5, "priority": 2, "broker_kind": "REDIS_PRIORITY"}),
        ];
        for body in cases {
            let mut original = job(body.clone());
            original.fires = 7;
            original.last_fire_us = Some(1_795_841_000_000_000);
            for paused in [false, true] {
                original.paused = paused;
                let (spec, state) = (encode_spec(&original), encode_state(&original, "abc"));
                let (decoded, version) = decode("q", "job_00001", StoreKind::Redis, &spec, &state).expect("decodes");
                assert_eq!(decoded, original, "{body}");
                assert_eq!(version, "abc");
                assert_eq!(version_of(&state).as_deref(), Some("abc"));
                assert!(state.starts_with("{\"v\":\"abc\""), "the scripts read the version from the start: {state}");
            }
        }
    }

    #[test]
    fn a_just_added_interval_job_takes_about_a_hundred_bytes() {
        let job = job(json!({"queue_name": "q", "trigger": "interval", "seconds": 10, "kwargs": {"x": 1, "y": 2}}));
        let (spec, state) = (encode_spec(&job), encode_state(&job, &new_version()));
        assert!(spec.len() <= 110, "{} bytes: {spec}", spec.len());
        assert!(state.len() <= 50, "{} bytes: {state}", state.len());
    }

    #[test]
    fn decoding_ignores_unknown_keys_and_keeps_a_job_whose_zone_is_gone() {
        let spec = r#"{"tr":{"trigger":"interval","seconds":5},"tz":"Mars/Olympus_Mons","c":0,"later":1}"#;
        let (job, _) = decode("q", "j", StoreKind::Redis, spec, r#"{"v":"1","n":[5000000,0],"new":true}"#).expect("decodes");
        assert_eq!(job.status(), Status::Error);
        assert!(job.error.as_deref().is_some_and(|e| e.contains("timezone")), "{:?}", job.error);
        assert!(decode("q", "j", StoreKind::Redis, "{", "{}").is_err());
        let stopped = error_state(r#"{"v":"1","n":[5,0],"f":3}"#, "no zone");
        let (job, version) = decode("q", "j", StoreKind::Redis, spec, &stopped).expect("decodes");
        assert_ne!(version, "1");
        assert_eq!((job.status(), job.fires, job.error.as_deref()), (Status::Error, 3, Some("no zone")));
    }
}
