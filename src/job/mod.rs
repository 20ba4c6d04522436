//! The timing job: the add request as sent, validated once ([`request`]), the [`Job`] as the
//! stores keep it and the API returns it, and its fire [`history`].

pub mod history;
pub mod request;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use history::{FireRecord, Outcome, HISTORY_LEN};
pub use request::{resolve_broker_kind, validate_name, validate_queue_name, AddRequest, Body, JobOptions, MAX_JITTER_SECS, MAX_NAME_LEN, MAX_VALUE_DEPTH};

use crate::error::ApiError;
use crate::trigger::{Schedule, TriggerSpec, Zdt, Zone};

/// Where a job is kept (`job_store_kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    Redis,
    Memory,
}

impl StoreKind {
    pub fn parse(field: &str, value: &str) -> Result<StoreKind, ApiError> {
        match value {
            "redis" => Ok(StoreKind::Redis),
            "memory" => Ok(StoreKind::Memory),
            other => Err(ApiError::invalid(field, format!("Unsupported job_store_kind {other:?} (expected \"redis\" or \"memory\")"))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            StoreKind::Redis => "redis",
            StoreKind::Memory => "memory",
        }
    }
}

/// funboost's Redis broker kinds, each with its own publish command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BrokerKind {
    #[serde(rename = "REDIS")]
    Redis,
    #[serde(rename = "REDIS_ACK_ABLE")]
    RedisAckAble,
    #[serde(rename = "REDIS_STREAM")]
    RedisStream,
    #[serde(rename = "REDIS_PRIORITY")]
    RedisPriority,
    #[serde(rename = "REDIS_BRPOP_LPUSH")]
    RedisBrpopLpush,
}

impl BrokerKind {
    pub const ALL: [BrokerKind; 5] =
        [BrokerKind::Redis, BrokerKind::RedisAckAble, BrokerKind::RedisStream, BrokerKind::RedisPriority, BrokerKind::RedisBrpopLpush];

    pub fn name(self) -> &'static str {
        match self {
            BrokerKind::Redis => "REDIS",
            BrokerKind::RedisAckAble => "REDIS_ACK_ABLE",
            BrokerKind::RedisStream => "REDIS_STREAM",
            BrokerKind::RedisPriority => "REDIS_PRIORITY",
            BrokerKind::RedisBrpopLpush => "REDIS_BRPOP_LPUSH",
        }
    }

    /// Also accepts funboost's enum value `RedisBrpopLpush`.
    pub fn parse(value: &str) -> Result<BrokerKind, ApiError> {
        if value == "RedisBrpopLpush" {
            return Ok(BrokerKind::RedisBrpopLpush);
        }
        BrokerKind::ALL.into_iter().find(|k| k.name() == value).ok_or_else(|| {
            let names: Vec<&str> = BrokerKind::ALL.iter().map(|k| k.name()).collect();
            ApiError::invalid("broker_kind", format!("unsupported broker kind {value:?} (expected one of {})", names.join(", ")))
        })
    }
}

/// A timing job: what the user set (trigger, arguments, options) and what firing changes (next
/// run, counts, last fire). The stores keep the two apart (`crate::store::record`), and the
/// history apart from both.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    pub job_id: String,
    pub queue_name: String,
    pub store: StoreKind,
    // What the user set.
    pub trigger: TriggerSpec,
    /// The resolved time zone name.
    pub timezone: String,
    /// When the job was added (or rescheduled): an interval's default start derives from it.
    pub created_us: i64,
    pub args: Vec<Value>,
    pub kwargs: Map<String, Value>,
    /// The message's keyword arguments: positional args mapped to parameter names + kwargs.
    pub message_kwargs: Map<String, Value>,
    /// `None`: no limit (APScheduler's `misfire_grace_time=None`).
    pub misfire_grace_time: Option<u32>,
    pub coalesce: bool,
    pub broker_kind: BrokerKind,
    pub priority: Option<u8>,
    /// The queue's `x-max-priority` as its consumer registered it (REDIS_PRIORITY).
    pub max_priority: Option<u8>,
    /// funboost task options copied into each message's `extra`.
    pub extra: Map<String, Value>,
    // What firing changes.
    /// `None` when the trigger has no more fire times (or the job is paused).
    pub next_run: Option<StoredTime>,
    pub paused: bool,
    pub fires: u64,
    pub missed: u64,
    pub coalesced: u64,
    /// The scheduled instant of the last fire, UTC µs.
    pub last_fire_us: Option<i64>,
    /// Why the job cannot be scheduled: it is kept, not fired, and listed with status `error`
    /// until it is rescheduled or deleted.
    pub error: Option<String>,
}

/// What a job is doing, as the API reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Running,
    Paused,
    /// The trigger has no (more) fire times.
    Finished,
    /// The stored job cannot be read or scheduled (see [`Job::error`]).
    Error,
}

impl Status {
    pub const ALL: [Status; 4] = [Status::Running, Status::Paused, Status::Finished, Status::Error];

    pub fn name(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Finished => "finished",
            Status::Error => "error",
        }
    }
}

/// A [`Zdt`] in storage: wall time and fold (a plain UTC instant would lose Python's wall-time
/// semantics inside DST gaps), and the instant it stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoredTime {
    pub wall_us: i64,
    pub fold: bool,
    pub utc_us: i64,
}

impl StoredTime {
    pub fn of(t: &Zdt) -> StoredTime {
        StoredTime { wall_us: t.wall_us(), fold: t.fold(), utc_us: t.utc_us() }
    }

    pub fn from_wall(wall_us: i64, fold: bool, zone: Zone) -> StoredTime {
        StoredTime::of(&Zdt::from_wall_fold(wall_us, fold, zone))
    }

    pub fn in_zone(&self, zone: Zone) -> Zdt {
        Zdt::from_wall_fold(self.wall_us, self.fold, zone)
    }
}

/// The fields a user declares (what apply compares and the audit trail records), by the names
/// the API gives them.
pub const DECLARED: [&str; 10] =
    ["trigger", "timezone", "args", "kwargs", "misfire_grace_time", "coalesce", "broker_kind", "priority", "task_options", "paused"];

impl Job {
    /// A declared field's value, as the audit trail shows it.
    pub fn declared(&self, field: &str) -> Value {
        match field {
            "trigger" => serde_json::to_value(&self.trigger).unwrap_or(Value::Null),
            "timezone" => self.timezone.clone().into(),
            "args" => Value::Array(self.args.clone()),
            "kwargs" => Value::Object(self.kwargs.clone()),
            "misfire_grace_time" => self.misfire_grace_time.into(),
            "coalesce" => self.coalesce.into(),
            "broker_kind" => self.broker_kind.name().into(),
            "priority" => self.priority.into(),
            "task_options" => Value::Object(self.extra.clone()),
            "paused" => self.paused.into(),
            _ => Value::Null,
        }
    }

    /// The declared fields that differ between `self` and `other` (what the consumer would
    /// receive counts: kwargs differ when the mapped arguments do, priority when the queue's
    /// maximum does).
    pub fn declared_changes(&self, other: &Job) -> Vec<&'static str> {
        DECLARED
            .into_iter()
            .filter(|field| match *field {
                "kwargs" => self.kwargs != other.kwargs || self.message_kwargs != other.message_kwargs,
                "priority" => self.priority != other.priority || self.max_priority != other.max_priority,
                _ => self.declared(field) != other.declared(field),
            })
            .collect()
    }

    pub fn status(&self) -> Status {
        if self.error.is_some() {
            Status::Error
        } else if self.paused {
            Status::Paused
        } else if self.next_run.is_none() {
            Status::Finished
        } else {
            Status::Running
        }
    }

    /// When the job is next due (UTC µs): its next run, while it runs.
    pub fn due_us(&self) -> Option<i64> {
        self.next_run.filter(|_| self.status() == Status::Running).map(|t| t.utc_us)
    }

    /// The job's zone (the one its trigger was built with).
    pub fn zone(&self) -> Result<Zone, ApiError> {
        Zone::from_name(&self.timezone).map_err(|e| ApiError::invalid("timezone", e))
    }

    /// The trigger rebuilt from what was accepted before.
    pub fn schedule(&self) -> Result<Schedule, ApiError> {
        Ok(Schedule::build(&self.trigger, self.zone()?, self.created_us)?)
    }

    /// The job's next run time in the zone of its trigger (a date trigger's is its run_date's,
    /// possibly a fixed offset).
    pub fn next_run_time(&self, schedule: &Schedule) -> Option<Zdt> {
        self.next_run.map(|t| t.in_zone(schedule.zone()))
    }

    /// The job as the API returns it. `schedule` is `None` for a job that cannot be scheduled
    /// (status `error`; its trigger is shown as given).
    pub fn view(&self, schedule: Option<&Schedule>) -> Value {
        let mut view = Map::new();
        view.insert("job_id".into(), self.job_id.clone().into());
        view.insert("queue_name".into(), self.queue_name.clone().into());
        view.insert("trigger".into(), self.trigger.trigger.clone().into());
        view.insert("trigger_str".into(), schedule.map(|s| s.trigger.to_string()).into());
        if let Ok(Value::Object(fields)) = serde_json::to_value(&self.trigger) {
            for (name, value) in fields {
                if name != "trigger" && name != "timezone" {
                    view.insert(name, value);
                }
            }
        }
        let status = self.status();
        let next_run_time = match (status, schedule) {
            (Status::Running, Some(schedule)) => self.next_run_time(schedule).map(|t| t.py_str()),
            _ => None,
        };
        view.insert("next_run_time".into(), next_run_time.into());
        view.insert("status".into(), status.name().into());
        if let Some(error) = &self.error {
            view.insert("error".into(), error.clone().into());
        }
        view.insert("args".into(), Value::Array(self.args.clone()));
        view.insert("kwargs".into(), Value::Object(self.kwargs.clone()));
        view.insert("job_store_kind".into(), self.store.name().into());
        view.insert("timezone".into(), self.timezone.clone().into());
        view.insert("misfire_grace_time".into(), self.misfire_grace_time.into());
        view.insert("coalesce".into(), self.coalesce.into());
        view.insert("broker_kind".into(), self.broker_kind.name().into());
        if let Some(p) = self.priority {
            view.insert("priority".into(), p.into());
        }
        if !self.extra.is_empty() {
            view.insert("task_options".into(), Value::Object(self.extra.clone()));
        }
        view.insert("fire_count".into(), self.fires.into());
        view.insert("missed_count".into(), self.missed.into());
        view.insert("coalesced_count".into(), self.coalesced.into());
        let zone = schedule.map(Schedule::zone).or_else(|| self.zone().ok()).unwrap_or(Zone::Utc);
        view.insert("last_fire_time".into(), self.last_fire_us.map(|us| Zdt::from_utc(us, zone).py_str()).into());
        Value::Object(view)
    }
}

/// A stored job that cannot be read at all, as the API lists it: its queue, id, status
/// `error` and why.
pub fn unreadable_view(queue: &str, job_id: &str, store: StoreKind, reason: &str) -> Value {
    serde_json::json!({
        "job_id": job_id,
        "queue_name": queue,
        "trigger": null,
        "trigger_str": null,
        "next_run_time": null,
        "status": Status::Error.name(),
        "error": reason,
        "job_store_kind": store.name(),
    })
}
