//! The `memory` job store, in Spin's key-value store: no Redis needed to keep the jobs, shared
//! by the HTTP and cron processes of one `spin up`, and (like funboost's per-process memory
//! store) meant for one replica. Key: `job\x1f<queue>\x1f<job_id>`; value: the spec, state and
//! history texts of [`super::record`] and [`crate::job::history`], one per line (a key written
//! by a layout-1 build holds that build's JSON and is read as such until it is next written).
//!
//! Spin's key-value store has no compare-and-set, so an update reads the stored version, then
//! writes: a change made by another request or the ticker between that read and that write
//! (the length of one key-value call) is overwritten. The ticker re-reads each job right before
//! writing it, which keeps that window to one call; use the `redis` store where this matters.
//! For the same reason a change's audit record goes to Redis right after the change, not with it.

use super::audit::AuditLog;
use super::record::{self, Unreadable};
use super::{v1, AddOutcome, JobStore, Listed, Stored};
use crate::audit;
use crate::error::{code, ApiError};
use crate::host::KeyValue;
use crate::job::{history, FireRecord, Job, StoreKind};

pub struct KvStore<'a> {
    kv: &'a dyn KeyValue,
    /// Where the API's changes are recorded (the ticker records none).
    audit: Option<AuditLog<'a>>,
}

const PREFIX: &str = "job\u{1f}";

fn key(queue: &str, job_id: &str) -> String {
    format!("{PREFIX}{queue}\u{1f}{job_id}")
}

fn failed(e: anyhow::Error) -> ApiError {
    ApiError::store_unavailable(format!("key-value store: {e:#}"))
}

/// A stored value: the job and its history, or why it cannot be read.
struct Entry {
    found: Result<Stored, Unreadable>,
    history: Vec<FireRecord>,
}

fn decode(queue: &str, job_id: &str, bytes: Vec<u8>) -> Entry {
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(_) => return Entry { found: Err(Unreadable("the stored value is not UTF-8".into())), history: Vec::new() },
    };
    if !text.contains('\n') {
        // Layout 1: one JSON object on one line; its text is its version.
        return match v1::decode(&text) {
            Ok((job, history)) => Entry { found: Ok(Stored { job, version: text }), history },
            Err(e) => Entry { found: Err(e), history: Vec::new() },
        };
    }
    let mut lines = text.splitn(3, '\n');
    let (spec, state, hist) = (lines.next().unwrap_or_default(), lines.next().unwrap_or_default(), lines.next().unwrap_or_default());
    Entry { found: record::decode(queue, job_id, StoreKind::Memory, spec, state).map(|(job, version)| Stored { job, version }), history: history::decode(hist) }
}

fn encode(job: &Job, history: &[FireRecord]) -> (String, String) {
    let version = record::new_version();
    (format!("{}\n{}\n{}", record::encode_spec(job), record::encode_state(job, &version), history::encode(history)), version)
}

impl<'a> KvStore<'a> {
    pub fn new(kv: &'a dyn KeyValue) -> KvStore<'a> {
        KvStore { kv, audit: None }
    }

    /// The store as the API uses it: its changes are recorded in `audit`.
    pub fn audited(kv: &'a dyn KeyValue, audit: AuditLog<'a>) -> KvStore<'a> {
        KvStore { kv, audit: Some(audit) }
    }

    fn record(&self, entry: &audit::Entry, deleted: Option<u64>) -> Result<(), ApiError> {
        self.audit.as_ref().map_or(Ok(()), |log| log.append(entry, deleted))
    }

    fn keys(&self, queue: Option<&str>) -> Result<Vec<String>, ApiError> {
        let prefix = match queue {
            Some(q) => format!("{PREFIX}{q}\u{1f}"),
            None => PREFIX.to_string(),
        };
        Ok(self.kv.get_keys().map_err(failed)?.into_iter().filter(|k| k.starts_with(&prefix)).collect())
    }

    fn read(&self, queue: &str, job_id: &str) -> Result<Option<Entry>, ApiError> {
        Ok(self.kv.get(&key(queue, job_id)).map_err(failed)?.map(|bytes| decode(queue, job_id, bytes)))
    }

    /// Replaces `before` with `after` (or deletes it) if its version is unchanged, appending
    /// `fires` to its history (the ticker's update). False when the job changed or is gone.
    pub fn update(&self, before: &Stored, after: Option<&Job>, fires: &[FireRecord]) -> Result<bool, ApiError> {
        let job = &before.job;
        let Some(Entry { found: Ok(current), mut history }) = self.read(&job.queue_name, &job.job_id)? else {
            return Ok(false);
        };
        if current.version != before.version {
            return Ok(false);
        }
        let Some(after) = after else {
            self.kv.delete(&key(&job.queue_name, &job.job_id)).map_err(failed)?;
            return Ok(true);
        };
        history.extend_from_slice(fires);
        let excess = history.len().saturating_sub(crate::job::HISTORY_LEN);
        let (value, _) = encode(after, &history[excess..]);
        self.kv.set(&key(&job.queue_name, &job.job_id), value.as_bytes()).map_err(failed)?;
        Ok(true)
    }
}

impl JobStore for KvStore<'_> {
    fn add(&self, job: &Job, replace: bool, max_jobs: usize, audit: &audit::Entry) -> Result<AddOutcome, ApiError> {
        let key = key(&job.queue_name, &job.job_id);
        let exists = self.kv.get(&key).map_err(failed)?.is_some();
        if exists && !replace {
            return Err(ApiError::new(
                409,
                code::JOB_EXISTS,
                "ConflictingIdError",
                format!("Job identifier ({}) conflicts with an existing job in queue {}; send replace_existing=true to replace it", job.job_id, job.queue_name),
            ));
        }
        if !exists && self.keys(Some(&job.queue_name))?.len() >= max_jobs {
            return Err(ApiError::new(
                409,
                code::TOO_MANY_JOBS,
                "TooManyJobs",
                format!("queue {} already holds the maximum of {max_jobs} jobs", job.queue_name),
            ));
        }
        self.kv.set(&key, encode(job, &[]).0.as_bytes()).map_err(failed)?;
        self.record(audit, None)?;
        Ok(if exists { AddOutcome::Replaced } else { AddOutcome::Added })
    }

    fn get(&self, queue: &str, job_id: &str) -> Result<Option<Result<Stored, Unreadable>>, ApiError> {
        Ok(self.read(queue, job_id)?.map(|entry| entry.found))
    }

    fn history(&self, queue: &str, job_id: &str) -> Result<Vec<FireRecord>, ApiError> {
        Ok(self.read(queue, job_id)?.map(|entry| entry.history).unwrap_or_default())
    }

    fn list(&self, queue: Option<&str>) -> Result<Vec<Listed>, ApiError> {
        let mut jobs = Vec::new();
        for key in self.keys(queue)? {
            let mut parts = key[PREFIX.len()..].splitn(2, '\u{1f}');
            let (q, id) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
            if let Some(entry) = self.read(q, id)? {
                jobs.push(match entry.found {
                    Ok(stored) => Listed::Job(Box::new(stored)),
                    Err(Unreadable(reason)) => Listed::Unreadable { queue: q.to_string(), job_id: id.to_string(), reason },
                });
            }
        }
        Ok(jobs)
    }

    fn replace(&self, before: &Stored, after: Option<&Job>, audit: &audit::Entry) -> Result<bool, ApiError> {
        let done = self.update(before, after, &[])?;
        if done {
            self.record(audit, None)?;
        }
        Ok(done)
    }

    fn remove(&self, queue: &str, job_id: &str, audit: &audit::Entry) -> Result<bool, ApiError> {
        let key = key(queue, job_id);
        let existed = self.kv.get(&key).map_err(failed)?.is_some();
        self.kv.delete(&key).map_err(failed)?;
        if existed {
            self.record(audit, None)?;
        }
        Ok(existed)
    }

    fn delete_all(&self, queue: Option<&str>, audit: &audit::Entry) -> Result<u64, ApiError> {
        let keys = self.keys(queue)?;
        for key in &keys {
            self.kv.delete(key).map_err(failed)?;
        }
        self.record(audit, Some(keys.len() as u64))?;
        Ok(keys.len() as u64)
    }
}
