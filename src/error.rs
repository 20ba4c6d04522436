//! API errors: an HTTP status, a funboost-style `code`, and a sentence for `msg`.

use std::fmt;

/// `code` values, documented in the README. funboost's own: 4001 unknown queue, 5001 bad
/// function parameters.
pub mod code {
    pub const OK: i32 = 200;
    pub const INVALID_INPUT: i32 = 4000;
    pub const QUEUE_NOT_FOUND: i32 = 4001;
    pub const UNAUTHORIZED: i32 = 4010;
    pub const FORBIDDEN: i32 = 4030;
    pub const JOB_NOT_FOUND: i32 = 4040;
    pub const ROUTE_NOT_FOUND: i32 = 4041;
    pub const METHOD_NOT_ALLOWED: i32 = 4050;
    pub const JOB_EXISTS: i32 = 4090;
    pub const TOO_MANY_JOBS: i32 = 4091;
    /// The stored job cannot be read (delete it, or add it again with replace_existing).
    pub const JOB_UNREADABLE: i32 = 4092;
    pub const BODY_TOO_LARGE: i32 = 4130;
    pub const UNSUPPORTED_MEDIA_TYPE: i32 = 4150;
    pub const INTERNAL: i32 = 5000;
    pub const FUNC_PARAMS: i32 = 5001;
    /// A key of ours holds another type than it should (someone wrote it by hand).
    pub const STORE_CORRUPT: i32 = 5002;
    pub const STORE_UNAVAILABLE: i32 = 5030;
    /// The store was written by a newer layout than this build reads.
    pub const STORE_FORMAT: i32 = 5031;
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: i32,
    /// Machine-readable kind, e.g. `InvalidField`, `QueueNameNotExists` (the envelope's `error`).
    pub kind: &'static str,
    pub message: String,
    /// The offending field, when there is one (the envelope's `error_data.field`).
    pub field: Option<String>,
    /// More detail for `error_data` (an object; `field` is added to it when set).
    pub data: Option<serde_json::Map<String, serde_json::Value>>,
}

impl ApiError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        let field = field.into();
        let message = message.into();
        ApiError { status: 400, code: code::INVALID_INPUT, kind: "InvalidField", message: format!("{field}: {message}"), field: Some(field), data: None }
    }

    pub fn new(status: u16, code: i32, kind: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, kind, message: message.into(), field: None, data: None }
    }

    /// The envelope's `error_data`: `{"field": ..., <data>...}`, or null when there is neither.
    pub fn error_data(&self) -> Option<serde_json::Value> {
        if self.field.is_none() && self.data.is_none() {
            return None;
        }
        let mut object = serde_json::Map::new();
        if let Some(field) = &self.field {
            object.insert("field".to_string(), field.clone().into());
        }
        for (name, value) in self.data.iter().flatten() {
            object.entry(name.clone()).or_insert_with(|| value.clone());
        }
        Some(serde_json::Value::Object(object))
    }

    pub fn store_unavailable(detail: impl fmt::Display) -> ApiError {
        ApiError::new(503, code::STORE_UNAVAILABLE, "StoreUnavailable", format!("the job store is unreachable: {detail}"))
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiError {}

impl From<crate::trigger::TriggerError> for ApiError {
    fn from(e: crate::trigger::TriggerError) -> ApiError {
        ApiError::invalid(e.field, e.message)
    }
}
