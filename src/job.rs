//! The timing job: the add request as sent, validated once into a [`Job`], and the job as
//! stored and returned.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::trigger::{CronValue, IntervalValue, Schedule, TriggerSpec, Zdt, Zone};

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

/// funboost task options copied into each message's `extra`, with the JSON type each takes.
pub(crate) const TASK_OPTIONS: [(&str, JsonKind); 9] = [
    ("function_timeout", JsonKind::Number),
    ("max_retry_times", JsonKind::Integer),
    ("is_print_detail_exception", JsonKind::Bool),
    ("msg_expire_seconds", JsonKind::Number),
    ("is_using_rpc_mode", JsonKind::Bool),
    ("user_extra_info", JsonKind::Object),
    ("other_extra_params", JsonKind::Object),
    ("filter_str", JsonKind::String),
    ("do_task_filtering", JsonKind::Bool),
];

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum JsonKind {
    Number,
    Integer,
    Bool,
    Object,
    String,
}

impl JsonKind {
    fn accepts(self, value: &Value) -> bool {
        match self {
            JsonKind::Number => value.as_f64().is_some_and(|n| n >= 0.0),
            JsonKind::Integer => value.as_u64().is_some(),
            JsonKind::Bool => value.is_boolean(),
            JsonKind::Object => value.is_object(),
            JsonKind::String => value.is_string(),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            JsonKind::Number => "a non-negative number",
            JsonKind::Integer => "a non-negative integer",
            JsonKind::Bool => "true or false",
            JsonKind::Object => "an object",
            JsonKind::String => "a string",
        }
    }
}

/// Deepest nesting of arrays and objects accepted in `args`, `kwargs` and task options (the
/// `args` array or `kwargs` object itself is level 1). Stored jobs, responses and messages wrap
/// these values in a few more levels, and JSON readers stop at some depth (serde_json at 128):
/// a deeper value would be accepted once and then make the job unreadable.
pub const MAX_VALUE_DEPTH: usize = 32;

fn depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn check_depth(field: &str, depth: usize) -> Result<(), ApiError> {
    match depth {
        d if d > MAX_VALUE_DEPTH => Err(ApiError::invalid(field, format!("nests arrays and objects {d} levels deep; at most {MAX_VALUE_DEPTH} are accepted"))),
        _ => Ok(()),
    }
}

/// Largest `jitter`, in seconds (a day).
pub const MAX_JITTER_SECS: u64 = 86_400;

/// Longest accepted queue name or job id.
pub const MAX_NAME_LEN: usize = 256;

pub fn validate_name(field: &str, value: &str) -> Result<(), ApiError> {
    if value.is_empty() {
        return Err(ApiError::invalid(field, "must not be empty"));
    }
    if value.len() > MAX_NAME_LEN {
        return Err(ApiError::invalid(field, format!("must be at most {MAX_NAME_LEN} bytes, got {}", value.len())));
    }
    if value.chars().any(char::is_control) {
        return Err(ApiError::invalid(field, "must not contain control characters"));
    }
    Ok(())
}

/// A JSON object being taken apart field by field; what is left at the end is unknown.
pub struct Body {
    fields: Map<String, Value>,
}

impl Body {
    pub fn parse(bytes: &[u8]) -> Result<Body, ApiError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::invalid("body", "a JSON object is required"));
        }
        match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(fields)) => Ok(Body { fields }),
            Ok(other) => Err(ApiError::invalid("body", format!("must be a JSON object, got {}", json_type(&other)))),
            Err(e) => Err(ApiError::invalid("body", format!("is not valid JSON: {e}"))),
        }
    }

    /// Removes a field; JSON `null` counts as absent.
    fn take(&mut self, name: &str) -> Option<Value> {
        self.fields.remove(name).filter(|v| !v.is_null())
    }

    pub fn string(&mut self, name: &str) -> Result<Option<String>, ApiError> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(ApiError::invalid(name, format!("must be a string, got {}", json_type(&other)))),
        }
    }

    pub fn boolean(&mut self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(other) => Err(ApiError::invalid(name, format!("must be true or false, got {}", json_type(&other)))),
        }
    }

    pub fn unsigned(&mut self, name: &str, max: u64) -> Result<Option<u64>, ApiError> {
        match self.take(name) {
            None => Ok(None),
            Some(v) => match v.as_u64() {
                Some(n) if n <= max => Ok(Some(n)),
                Some(n) => Err(ApiError::invalid(name, format!("must be at most {max}, got {n}"))),
                None => Err(ApiError::invalid(name, format!("must be a whole number from 0 to {max}, got {}", short(&v)))),
            },
        }
    }

    fn cron_value(&mut self, name: &str) -> Result<Option<CronValue>, ApiError> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(CronValue::Text(s))),
            Some(v) => match v.as_u64() {
                Some(n) => Ok(Some(CronValue::Number(n))),
                None => Err(ApiError::invalid(name, format!("must be a cron expression string or a non-negative integer, got {}", short(&v)))),
            },
        }
    }

    fn interval_value(&mut self, name: &str) -> Result<Option<IntervalValue>, ApiError> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(IntervalValue::Text(s))),
            Some(v) => match v.as_i64() {
                Some(n) => Ok(Some(IntervalValue::Number(n))),
                None => Err(ApiError::invalid(name, format!("must be a whole number, got {}", short(&v)))),
            },
        }
    }

    /// The trigger fields (all optional here; the trigger kind decides which may be set).
    pub fn trigger_spec(&mut self, kind: String) -> Result<TriggerSpec, ApiError> {
        Ok(TriggerSpec {
            trigger: kind,
            run_date: self.string("run_date")?,
            weeks: self.interval_value("weeks")?,
            days: self.interval_value("days")?,
            hours: self.interval_value("hours")?,
            minutes: self.interval_value("minutes")?,
            seconds: self.interval_value("seconds")?,
            year: self.cron_value("year")?,
            month: self.cron_value("month")?,
            day: self.cron_value("day")?,
            week: self.cron_value("week")?,
            day_of_week: self.cron_value("day_of_week")?,
            hour: self.cron_value("hour")?,
            minute: self.cron_value("minute")?,
            second: self.cron_value("second")?,
            start_date: self.string("start_date")?,
            end_date: self.string("end_date")?,
            timezone: self.string("timezone")?,
            jitter: self.unsigned("jitter", MAX_JITTER_SECS)?.map(|j| j as u32),
        })
    }

    /// Fails on the first field nobody took.
    pub fn finish(self) -> Result<(), ApiError> {
        match self.fields.keys().next() {
            None => Ok(()),
            Some(name) if name.is_empty() => Err(ApiError::invalid("body", "has a field with an empty name")),
            Some(name) => Err(ApiError::invalid(name.as_str(), "unknown field")),
        }
    }
}

pub fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(40) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// The publishing fields of an add or modify request, each `None` when not given.
#[derive(Clone, Debug, Default)]
pub struct JobOptions {
    pub args: Option<Vec<Value>>,
    pub kwargs: Option<Map<String, Value>>,
    /// `Some(None)`: null, no limit.
    pub misfire_grace_time: Option<Option<u32>>,
    pub coalesce: Option<bool>,
    pub broker_kind: Option<BrokerKind>,
    pub priority: Option<u8>,
    /// The task options given (copied into each message's `extra`).
    pub extra: Map<String, Value>,
}

impl JobOptions {
    pub fn is_empty(&self) -> bool {
        self.args.is_none()
            && self.kwargs.is_none()
            && self.misfire_grace_time.is_none()
            && self.coalesce.is_none()
            && self.broker_kind.is_none()
            && self.priority.is_none()
            && self.extra.is_empty()
    }
}

impl Body {
    /// Takes the publishing fields: args, kwargs, misfire_grace_time, coalesce, broker_kind,
    /// priority and the task options.
    pub fn job_options(&mut self) -> Result<JobOptions, ApiError> {
        let args = match self.take("args") {
            None => None,
            Some(Value::Array(args)) => {
                check_depth("args", 1 + args.iter().map(depth).max().unwrap_or(0))?;
                Some(args)
            }
            Some(other) => return Err(ApiError::invalid("args", format!("must be an array of positional arguments, got {}", json_type(&other)))),
        };
        let kwargs = match self.take("kwargs") {
            None => None,
            Some(Value::Object(kwargs)) => {
                check_depth("kwargs", 1 + kwargs.values().map(depth).max().unwrap_or(0))?;
                Some(kwargs)
            }
            Some(other) => return Err(ApiError::invalid("kwargs", format!("must be an object of keyword arguments, got {}", json_type(&other)))),
        };
        // null: no limit (APScheduler's None).
        let misfire_grace_time = match self.fields.remove("misfire_grace_time") {
            None => None,
            Some(Value::Null) => Some(None),
            Some(v) => match v.as_u64() {
                Some(n) if (1..=u64::from(u32::MAX)).contains(&n) => Some(Some(n as u32)),
                _ => {
                    return Err(ApiError::invalid(
                        "misfire_grace_time",
                        format!("must be a whole number of seconds ≥ 1, or null for no limit, got {}", short(&v)),
                    ))
                }
            },
        };
        let coalesce = self.boolean("coalesce")?;
        let broker_kind = match self.string("broker_kind")? {
            Some(kind) => Some(BrokerKind::parse(&kind)?),
            None => None,
        };
        let priority = self.unsigned("priority", 255)?.map(|p| p as u8);
        if priority.is_some() && broker_kind.is_some_and(|k| k != BrokerKind::RedisPriority) {
            return Err(ApiError::invalid("priority", "only applies with broker_kind \"REDIS_PRIORITY\""));
        }
        let mut extra = Map::new();
        for (name, kind) in TASK_OPTIONS {
            if let Some(value) = self.take(name) {
                if !kind.accepts(&value) {
                    return Err(ApiError::invalid(name, format!("must be {}, got {}", kind.describe(), short(&value))));
                }
                check_depth(name, depth(&value))?;
                extra.insert(name.to_string(), value);
            }
        }
        Ok(JobOptions { args, kwargs, misfire_grace_time, coalesce, broker_kind, priority, extra })
    }
}

/// The broker kind to publish with: the one the queue's consumer registered (funboost
/// publishes with it), else the one given, else `REDIS`. A given kind that contradicts the
/// consumer's, or a consumer on a non-Redis broker, is refused: such messages would never
/// be consumed. `priority` needs `REDIS_PRIORITY`.
pub fn resolve_broker_kind(queue: &str, given: Option<BrokerKind>, priority: Option<u8>, registered: Option<&str>) -> Result<BrokerKind, ApiError> {
    let registered = match registered {
        None => None,
        Some(name) => Some(BrokerKind::parse(name).map_err(|_| {
            ApiError::invalid("queue_name", format!("the consumer of queue {queue} uses broker kind {name}; funboost-edge publishes to Redis brokers only"))
        })?),
    };
    let kind = match (given, registered) {
        (Some(given), Some(consumer)) if given != consumer => {
            return Err(ApiError::invalid(
                "broker_kind",
                format!(
                    "{} differs from {}, the kind the consumer of queue {queue} registered: its messages would never be consumed",
                    given.name(),
                    consumer.name()
                ),
            ))
        }
        (given, consumer) => given.or(consumer).unwrap_or(BrokerKind::Redis),
    };
    if priority.is_some() && kind != BrokerKind::RedisPriority {
        return Err(ApiError::invalid("priority", "only applies with broker_kind \"REDIS_PRIORITY\""));
    }
    Ok(kind)
}

/// An add request, validated: everything but what needs the store (the queue's registered
/// parameters and the clock).
#[derive(Clone, Debug)]
pub struct AddRequest {
    pub job_id: Option<String>,
    pub queue_name: String,
    pub store: StoreKind,
    pub replace_existing: bool,
    /// Store the job paused (APScheduler's `add_job(next_run_time=None)`).
    pub paused: bool,
    pub trigger: TriggerSpec,
    pub args: Vec<Value>,
    pub kwargs: Map<String, Value>,
    pub misfire_grace_time: Option<u32>,
    pub coalesce: bool,
    /// `None` when not given: the queue's registered broker kind, else `REDIS`
    /// ([`resolve_broker_kind`]).
    pub broker_kind: Option<BrokerKind>,
    pub priority: Option<u8>,
    pub extra: Map<String, Value>,
}

impl AddRequest {
    pub fn parse(bytes: &[u8]) -> Result<AddRequest, ApiError> {
        let mut body = Body::parse(bytes)?;
        let queue_name = body.string("queue_name")?.ok_or_else(|| ApiError::invalid("queue_name", "is required"))?;
        validate_name("queue_name", &queue_name)?;
        let kind = body.string("trigger")?.ok_or_else(|| ApiError::invalid("trigger", "is required (\"date\", \"interval\" or \"cron\")"))?;
        let job_id = body.string("job_id")?;
        if let Some(id) = &job_id {
            validate_name("job_id", id)?;
        }
        let store = match body.string("job_store_kind")? {
            Some(kind) => StoreKind::parse("job_store_kind", &kind)?,
            None => StoreKind::Redis,
        };
        let replace_existing = body.boolean("replace_existing")?.unwrap_or(false);
        let paused = body.boolean("paused")?.unwrap_or(false);
        let options = body.job_options()?;
        let trigger = body.trigger_spec(kind)?;
        body.finish()?;
        Ok(AddRequest {
            job_id,
            queue_name,
            store,
            replace_existing,
            paused,
            trigger,
            args: options.args.unwrap_or_default(),
            kwargs: options.kwargs.unwrap_or_default(),
            // Absent: APScheduler's default of 1 s.
            misfire_grace_time: options.misfire_grace_time.unwrap_or(Some(1)),
            coalesce: options.coalesce.unwrap_or(true),
            broker_kind: options.broker_kind,
            priority: options.priority,
            extra: options.extra,
        })
    }
}

/// A stored timing job. The trigger is kept as given (plus the creation instant that its
/// defaults derive from) and rebuilt on load, so a stored job is always a valid one.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Job {
    pub job_id: String,
    pub queue_name: String,
    pub store: StoreKind,
    pub trigger: TriggerSpec,
    /// The resolved time zone name.
    pub timezone: String,
    pub created_us: i64,
    pub args: Vec<Value>,
    pub kwargs: Map<String, Value>,
    /// The message's keyword arguments: positional args mapped to parameter names + kwargs.
    pub message_kwargs: Map<String, Value>,
    pub misfire_grace_time: Option<u32>,
    pub coalesce: bool,
    pub broker_kind: BrokerKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u8>,
    /// The queue's `x-max-priority` as its consumer registered it (REDIS_PRIORITY).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_priority: Option<u8>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
    /// `None` when the trigger has no more fire times (a paused job keeps it; `paused` rules).
    pub next_run: Option<StoredTime>,
    pub paused: bool,
    #[serde(default)]
    pub fires: u64,
    #[serde(default)]
    pub missed: u64,
    #[serde(default)]
    pub coalesced: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_fire: Option<StoredTime>,
    /// The last [`HISTORY_LEN`] fires, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<FireRecord>,
}

/// Fires a job remembers.
pub const HISTORY_LEN: usize = 20;

/// What became of one scheduled time (or one run-now).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Fired,
    Missed,
    Coalesced,
    /// Published by `run_timing_job_now`.
    Manual,
}

/// One fire as stored, compact (it is rewritten with the job at every fire): scheduled UTC µs,
/// published UTC µs and `task_id` (none for missed and coalesced times), outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FireRecord(pub i64, pub Option<i64>, pub Option<String>, pub Outcome);

/// A [`Zdt`] in storage: wall time, fold and zone name (a plain UTC instant would lose
/// Python's wall-time semantics).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredTime {
    pub wall_us: i64,
    pub fold: bool,
    pub utc_us: i64,
}

impl StoredTime {
    pub fn of(t: &Zdt) -> StoredTime {
        StoredTime { wall_us: t.wall_us(), fold: t.fold(), utc_us: t.utc_us() }
    }

    pub fn in_zone(&self, zone: Zone) -> Zdt {
        Zdt::from_wall_fold(self.wall_us, self.fold, zone)
    }
}

impl Job {
    /// Appends fires to the history, keeping the last [`HISTORY_LEN`] in scheduled order.
    pub fn record(&mut self, fires: impl IntoIterator<Item = FireRecord>) {
        self.history.extend(fires);
        self.history.sort_by_key(|r| r.0);
        let excess = self.history.len().saturating_sub(HISTORY_LEN);
        self.history.drain(..excess);
    }

    /// The history as the API returns it, newest first.
    pub fn history_view(&self, zone: Zone) -> Value {
        let fire_id = |r: &FireRecord| match r.3 {
            Outcome::Manual => format!("{}:{}:manual:{}", self.queue_name, self.job_id, r.0),
            _ => format!("{}:{}:{}", self.queue_name, self.job_id, r.0),
        };
        let records = self.history.iter().rev().map(|r| {
            serde_json::json!({
                "scheduled_time": Zdt::from_utc(r.0, zone).py_str(),
                "published_time": r.1.map(|us| Zdt::from_utc(us, zone).py_str()),
                "lateness_ms": r.1.map(|us| (us - r.0) as f64 / 1000.0),
                "task_id": r.2,
                "fire_id": r.1.map(|_| fire_id(r)),
                "outcome": r.3,
            })
        });
        Value::Array(records.collect())
    }

    /// When the job is next due (UTC µs): its next run, unless paused or finished.
    pub fn due_us(&self) -> Option<i64> {
        self.next_run.filter(|_| !self.paused).map(|t| t.utc_us)
    }

    pub fn schedule(&self) -> Result<Schedule, ApiError> {
        let zone = Zone::from_name(&self.timezone).map_err(|e| ApiError::invalid("timezone", e))?;
        Ok(Schedule::build(&self.trigger, zone, self.created_us)?)
    }

    /// The job's next run time in the zone of its trigger (a date trigger's is its run_date's,
    /// possibly a fixed offset).
    pub fn next_run_time(&self, schedule: &Schedule) -> Option<Zdt> {
        self.next_run.map(|t| t.in_zone(schedule.zone()))
    }

    /// The job as the API returns it.
    pub fn view(&self, schedule: &Schedule) -> Value {
        let mut view = Map::new();
        view.insert("job_id".into(), self.job_id.clone().into());
        view.insert("queue_name".into(), self.queue_name.clone().into());
        view.insert("trigger".into(), self.trigger.trigger.clone().into());
        view.insert("trigger_str".into(), schedule.trigger.to_string().into());
        if let Ok(Value::Object(fields)) = serde_json::to_value(&self.trigger) {
            for (name, value) in fields {
                if name != "trigger" && name != "timezone" {
                    view.insert(name, value);
                }
            }
        }
        let next_run_time = if self.paused { None } else { self.next_run_time(schedule) };
        view.insert("next_run_time".into(), next_run_time.map(|t| t.py_str()).into());
        view.insert(
            "status".into(),
            if self.paused {
                "paused"
            } else if self.next_run.is_none() {
                "finished"
            } else {
                "running"
            }
            .into(),
        );
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
        view.insert("last_fire_time".into(), self.last_fire.map(|t| t.in_zone(schedule.zone()).py_str()).into());
        Value::Object(view)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(broker_kind: Option<&str>, priority: Option<u8>) -> AddRequest {
        let mut body = serde_json::json!({"queue_name": "q", "trigger": "interval", "seconds": 1});
        if let Some(kind) = broker_kind {
            body["broker_kind"] = kind.into();
        }
        if let Some(p) = priority {
            body["priority"] = p.into();
        }
        AddRequest::parse(body.to_string().as_bytes()).expect("valid request")
    }

    #[test]
    fn history_keeps_the_latest_fires_in_scheduled_order() {
        let mut job: Job = serde_json::from_value(serde_json::json!({
            "job_id": "j", "queue_name": "q", "store": "redis", "trigger": {"trigger": "interval", "seconds": 1},
            "timezone": "UTC", "created_us": 0, "args": [], "kwargs": {}, "message_kwargs": {},
            "misfire_grace_time": 1, "coalesce": true, "broker_kind": "REDIS", "next_run": null, "paused": false,
        }))
        .expect("a stored job");
        job.record((0..15).map(|k| FireRecord(k * 1_000_000, Some(k * 1_000_000 + 3_000), Some(format!("t{k}")), Outcome::Fired)));
        job.record([FireRecord(20_000_000, Some(20_004_000), None, Outcome::Manual), FireRecord(16_000_000, None, None, Outcome::Missed)]);
        job.record((17..25).map(|k| FireRecord(k * 1_000_000, None, None, Outcome::Coalesced)));
        assert_eq!(job.history.len(), HISTORY_LEN);
        assert!(job.history.windows(2).all(|w| w[0].0 <= w[1].0), "in scheduled order");
        assert_eq!(job.history[0].0, 5_000_000, "the oldest fall out");
        let view = job.history_view(Zone::Utc);
        assert_eq!(view[0]["scheduled_time"], "1970-01-01 00:00:24+00:00", "newest first");
        let manual = view.as_array().expect("array").iter().find(|r| r["outcome"] == "manual").expect("the manual fire");
        assert_eq!((manual["fire_id"].as_str(), manual["lateness_ms"].as_f64()), (Some("q:j:manual:20000000"), Some(4.0)));
        let missed = view.as_array().expect("array").iter().find(|r| r["outcome"] == "missed").expect("the missed time");
        assert_eq!((missed["fire_id"].clone(), missed["task_id"].clone()), (Value::Null, Value::Null));
    }

    #[test]
    fn the_broker_kind_follows_the_consumer_and_contradictions_are_refused() {
        // (given, priority, registered by the consumer, expected kind or the field refused)
        type Case<'a> = (Option<&'a str>, Option<u8>, Option<&'a str>, Result<BrokerKind, &'a str>);
        let cases: [Case; 7] = [
            (None, None, None, Ok(BrokerKind::Redis)),
            (None, None, Some("REDIS_STREAM"), Ok(BrokerKind::RedisStream)),
            (Some("REDIS_STREAM"), None, Some("REDIS_STREAM"), Ok(BrokerKind::RedisStream)),
            (Some("REDIS_ACK_ABLE"), None, None, Ok(BrokerKind::RedisAckAble)),
            (Some("REDIS"), None, Some("REDIS_STREAM"), Err("broker_kind")),
            (None, None, Some("RABBITMQ_AMQPSTORM"), Err("queue_name")),
            (None, Some(2), Some("REDIS"), Err("priority")),
        ];
        for (given, priority, registered, expected) in cases {
            let add = request(given, priority);
            let got = resolve_broker_kind(&add.queue_name, add.broker_kind, add.priority, registered);
            match (got, expected) {
                (Ok(kind), Ok(want)) => assert_eq!(kind, want),
                (Err(e), Err(field)) => assert_eq!(e.field.as_deref(), Some(field), "{}", e.message),
                (got, want) => panic!("{given:?}/{registered:?}: got {got:?}, want {want:?}"),
            }
        }
    }
}
