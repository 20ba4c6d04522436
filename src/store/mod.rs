//! Job stores: `redis` (shared by every replica, indexed for the tick; layout in [`layout`])
//! and `memory` (Spin's key-value store, for one replica). Updates are compare-and-set on a
//! version the stored job carries, so a tick and an API call that race never lose or repeat an
//! update. In Redis that compare-and-set is atomic (a script); Spin's key-value store has no
//! such primitive (see [`kv`]).

pub mod audit;
pub mod kv;
pub mod layout;
pub mod record;
pub mod redis;
pub mod registry;
pub mod script;
pub mod upgrade;
pub mod v1;

pub use record::Unreadable;

use crate::error::ApiError;
use crate::job::{FireRecord, Job};

/// A job as read, with the version updates compare against (empty for a job read from layout 1
/// during an upgrade: writing it moves it first).
#[derive(Clone, Debug)]
pub struct Stored {
    pub job: Job,
    pub version: String,
}

/// One job of a listing: readable, or not (listed with status `error` and why, never dropped).
#[derive(Clone, Debug)]
pub enum Listed {
    Job(Box<Stored>),
    Unreadable { queue: String, job_id: String, reason: String },
}

impl Listed {
    pub fn queue(&self) -> &str {
        match self {
            Listed::Job(stored) => &stored.job.queue_name,
            Listed::Unreadable { queue, .. } => queue,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddOutcome {
    Added,
    Replaced,
}

/// Every change takes the audit record to append with it (atomically in Redis; see [`kv`] for
/// the memory store).
pub trait JobStore {
    /// Adds `job` (with an empty history); refuses an existing id unless `replace`, and a queue
    /// already holding `max_jobs` jobs.
    fn add(&self, job: &Job, replace: bool, max_jobs: usize, audit: &crate::audit::Entry) -> Result<AddOutcome, ApiError>;
    /// The job, or why it cannot be read.
    fn get(&self, queue: &str, job_id: &str) -> Result<Option<Result<Stored, Unreadable>>, ApiError>;
    /// The job's recent fires, in the order they were recorded.
    fn history(&self, queue: &str, job_id: &str) -> Result<Vec<FireRecord>, ApiError>;
    /// Jobs of one queue, or of all queues; unreadable ones included.
    fn list(&self, queue: Option<&str>) -> Result<Vec<Listed>, ApiError>;
    /// Replaces `before` with `after` (its history stays), or deletes it (`None`), only if the
    /// stored version is still `before`'s. Returns false when someone else changed the job first.
    fn replace(&self, before: &Stored, after: Option<&Job>, audit: &crate::audit::Entry) -> Result<bool, ApiError>;
    /// Deletes one job, readable or not; false when there was none.
    fn remove(&self, queue: &str, job_id: &str, audit: &crate::audit::Entry) -> Result<bool, ApiError>;
    /// Deletes every job of one queue (or of all queues); returns how many.
    fn delete_all(&self, queue: Option<&str>, audit: &crate::audit::Entry) -> Result<u64, ApiError>;
}
