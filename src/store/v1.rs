//! Layout 1's job text: one JSON object per job with everything in it (the last 20 fires
//! included), as builds up to the layout change wrote it. Read only, by the upgrade
//! ([`super::upgrade`]) and by listings while an upgrade is under way.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::record::Unreadable;
use crate::job::{BrokerKind, FireRecord, Job, Outcome, StoreKind, StoredTime};
use crate::trigger::TriggerSpec;

#[derive(Deserialize)]
struct V1Time {
    wall_us: i64,
    fold: bool,
    utc_us: i64,
}

impl From<V1Time> for StoredTime {
    fn from(t: V1Time) -> StoredTime {
        StoredTime { wall_us: t.wall_us, fold: t.fold, utc_us: t.utc_us }
    }
}

#[derive(Deserialize)]
struct V1Job {
    job_id: String,
    queue_name: String,
    store: StoreKind,
    trigger: TriggerSpec,
    timezone: String,
    created_us: i64,
    #[serde(default)]
    args: Vec<Value>,
    #[serde(default)]
    kwargs: Map<String, Value>,
    #[serde(default)]
    message_kwargs: Map<String, Value>,
    misfire_grace_time: Option<u32>,
    coalesce: bool,
    broker_kind: BrokerKind,
    #[serde(default)]
    priority: Option<u8>,
    #[serde(default)]
    max_priority: Option<u8>,
    #[serde(default)]
    extra: Map<String, Value>,
    next_run: Option<V1Time>,
    paused: bool,
    #[serde(default)]
    fires: u64,
    #[serde(default)]
    missed: u64,
    #[serde(default)]
    coalesced: u64,
    #[serde(default)]
    last_fire: Option<V1Time>,
    /// `[scheduled µs, published µs, task_id, outcome]`, oldest first.
    #[serde(default)]
    history: Vec<(i64, Option<i64>, Option<String>, Outcome)>,
}

/// A layout-1 job and its history.
pub fn decode(text: &str) -> Result<(Job, Vec<FireRecord>), Unreadable> {
    let v1: V1Job = serde_json::from_str(text).map_err(|e| Unreadable(format!("its layout-1 text cannot be read: {e}")))?;
    let history = v1.history.iter().map(|&(scheduled_us, published_us, _, outcome)| FireRecord { scheduled_us, published_us, outcome }).collect();
    let job = Job {
        job_id: v1.job_id,
        queue_name: v1.queue_name,
        store: v1.store,
        trigger: v1.trigger,
        timezone: v1.timezone,
        created_us: v1.created_us,
        args: v1.args,
        kwargs: v1.kwargs,
        message_kwargs: v1.message_kwargs,
        misfire_grace_time: v1.misfire_grace_time,
        coalesce: v1.coalesce,
        broker_kind: v1.broker_kind,
        priority: v1.priority,
        max_priority: v1.max_priority,
        extra: v1.extra,
        // Layout 1 kept a paused job's next run; pausing means none (APScheduler).
        next_run: v1.next_run.filter(|_| !v1.paused).map(StoredTime::from),
        paused: v1.paused,
        fires: v1.fires,
        missed: v1.missed,
        coalesced: v1.coalesced,
        last_fire_us: v1.last_fire.map(|t| t.utc_us),
        error: None,
    };
    Ok((job, history))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A job as the last layout-1 build stored it (copied from Redis after a few fires).
    const STORED: &str = r#"{"job_id":"every_second","queue_name":"q","store":"redis","trigger":{"trigger":"interval","seconds":1},"timezone":"Asia/Shanghai","created_us":1795841950000000,"args":[1],"kwargs":{"y":2},"message_kwargs":{"x":1,"y":2},"misfire_grace_time":1,"coalesce":true,"broker_kind":"REDIS","next_run":{"wall_us":1795870753000000,"fold":false,"utc_us":1795841953000000},"paused":false,"fires":2,"missed":0,"coalesced":0,"last_fire":{"wall_us":1795870752000000,"fold":false,"utc_us":1795841952000000},"history":[[1795841951000000,1795841951004000,"019ac5f1-0000-7000-8000-000000000000","fired"],[1795841952000000,1795841952003000,"019ac5f1-0001-7000-8000-000000000000","fired"]]}"#;

    #[test]
    fn a_layout_1_job_reads_with_its_counts_and_history() {
        let (job, history) = decode(STORED).expect("decodes");
        assert_eq!((job.job_id.as_str(), job.fires, job.last_fire_us), ("every_second", 2, Some(1_795_841_952_000_000)));
        assert_eq!(job.message_kwargs.get("x"), Some(&Value::from(1)));
        assert_eq!(job.next_run.map(|t| t.utc_us), Some(1_795_841_953_000_000));
        assert_eq!(history.len(), 2);
        assert_eq!(history[1], FireRecord { scheduled_us: 1_795_841_952_000_000, published_us: Some(1_795_841_952_003_000), outcome: Outcome::Fired });
        assert!(decode("{\"job_id\":1}").is_err());
    }
}
