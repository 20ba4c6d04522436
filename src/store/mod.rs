//! Job stores: `redis` (shared by every replica, with a due index) and `memory` (Spin's
//! key-value store). Both keep [`Job`]s as JSON, and updates compare the stored text first. In
//! Redis that compare-and-set is atomic (a Lua script), so a tick and an API call that race
//! never lose or repeat an update; Spin's key-value store has no such primitive, so the memory
//! store is for one replica.

pub mod kv;
pub mod redis;
pub mod registry;

use crate::error::ApiError;
use crate::job::Job;

/// A job as read, with its stored text (the compare-and-set token).
#[derive(Clone, Debug)]
pub struct Stored {
    pub job: Job,
    pub raw: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddOutcome {
    Added,
    Replaced,
}

pub trait JobStore {
    /// Adds `job`; refuses an existing id unless `replace`, and a queue already holding
    /// `max_jobs` jobs.
    fn add(&self, job: &Job, replace: bool, max_jobs: usize) -> Result<AddOutcome, ApiError>;
    fn get(&self, queue: &str, job_id: &str) -> Result<Option<Stored>, ApiError>;
    /// Jobs of one queue, or of all queues.
    fn list(&self, queue: Option<&str>) -> Result<Vec<Stored>, ApiError>;
    /// Replaces `before` with `after` (or deletes it) only if the stored text is still
    /// `before.raw`. Returns false when someone else changed the job first.
    fn replace(&self, before: &Stored, after: Option<&Job>) -> Result<bool, ApiError>;
    /// Deletes every job of one queue (or of all queues); returns how many.
    fn delete_all(&self, queue: Option<&str>) -> Result<u64, ApiError>;
}

pub(crate) fn decode(raw: String) -> Result<Stored, ApiError> {
    match serde_json::from_str::<Job>(&raw) {
        Ok(job) => Ok(Stored { job, raw }),
        Err(e) => Err(ApiError::new(500, crate::error::code::INTERNAL, "CorruptJob", format!("a stored job could not be read: {e}"))),
    }
}

pub(crate) fn encode(job: &Job) -> Result<String, ApiError> {
    serde_json::to_string(job).map_err(|e| ApiError::new(500, crate::error::code::INTERNAL, "Internal", format!("cannot encode job: {e}")))
}
