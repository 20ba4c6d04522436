//! The add request as sent, taken apart field by field and validated once: the body parser
//! ([`Body`]), the publishing options, the names that may become Redis keys, and [`AddRequest`].

use serde_json::{Map, Value};

use super::{BrokerKind, StoreKind};
use crate::error::ApiError;
use crate::trigger::TriggerSpec;

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

/// Keys funboost keeps in Redis beside the queues (its registry, heartbeats, switches): a queue
/// by such a name would push messages into them.
const FUNBOOST_KEY_STEMS: [&str; 10] = [
    "funboost.",
    "funboost_pause_flag",
    "funboost_stop_flag",
    "funboost_queue__",
    "funboost_all_",
    "funboost_last_get_",
    "funboost_hearbeat_",
    "funboost_unack_registry",
    "funboost_kill_task",
    "funboost_queue_time_series_data",
];

/// A queue name is the Redis key its messages are pushed to, so beyond [`validate_name`] it
/// must not reach keys that are not the queue's own: no hash-tag braces (every key of ours
/// starts with `{<prefix>}`, and a brace would also move the queue to another Cluster slot
/// than the one funboost expects), no whitespace, none of funboost's own keys
/// ([`FUNBOOST_KEY_STEMS`]) and none of the unacknowledged-message structures funboost keeps
/// per consumer of another queue (`unack_<queue>_<id>`, `<queue>__unack_id_<id>`).
pub fn validate_queue_name(field: &str, value: &str) -> Result<(), ApiError> {
    validate_name(field, value)?;
    if value.contains(['{', '}']) {
        return Err(ApiError::invalid(field, "must not contain { or }: they would make the queue's key a hash tag"));
    }
    if value.chars().any(char::is_whitespace) {
        return Err(ApiError::invalid(field, "must not contain whitespace"));
    }
    if let Some(stem) = FUNBOOST_KEY_STEMS.iter().find(|stem| value.starts_with(*stem)) {
        return Err(ApiError::invalid(field, format!("{value:?} names one of funboost's own Redis keys ({stem}...), not a queue")));
    }
    if value.starts_with("unack_") || value.contains("__unack_id_") {
        return Err(ApiError::invalid(field, format!("{value:?} names funboost's unacknowledged messages of a queue, not a queue")));
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

    pub fn array(&mut self, name: &str) -> Result<Option<Vec<Value>>, ApiError> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(other) => Err(ApiError::invalid(name, format!("must be an array, got {}", json_type(&other)))),
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

    /// The trigger fields (all optional here; the trigger kind decides which may be set).
    pub fn trigger_spec(&mut self, kind: String) -> Result<TriggerSpec, ApiError> {
        Ok(crate::trigger::body::take_spec(kind, &mut self.fields, MAX_JITTER_SECS)?)
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
    /// The first run, when given (APScheduler's `add_job(next_run_time=...)`): a date string
    /// as `run_date` takes it; the trigger goes on from there.
    pub next_run_time: Option<String>,
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
        validate_queue_name("queue_name", &queue_name)?;
        let kind = body.string("trigger")?.ok_or_else(|| ApiError::invalid("trigger", crate::trigger::required_kind()))?;
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
        let next_run_time = body.string("next_run_time")?;
        if paused && next_run_time.is_some() {
            return Err(ApiError::invalid("next_run_time", "cannot be given with paused: true (a paused job has no next run)"));
        }
        let options = body.job_options()?;
        let trigger = body.trigger_spec(kind)?;
        body.finish()?;
        Ok(AddRequest {
            job_id,
            queue_name,
            store,
            replace_existing,
            paused,
            next_run_time,
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
