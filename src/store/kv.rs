//! The `memory` job store, in Spin's key-value store: no Redis needed to keep the jobs, shared
//! by the HTTP and cron processes of one `spin up`, and (like funboost's per-process memory
//! store) meant for one replica. Key: `job\x1f<queue>\x1f<job_id>`.

use super::{decode, encode, AddOutcome, JobStore, Stored};
use crate::error::{code, ApiError};
use crate::host::KeyValue;
use crate::job::Job;

pub struct KvStore<'a> {
    kv: &'a dyn KeyValue,
}

const PREFIX: &str = "job\u{1f}";

fn key(queue: &str, job_id: &str) -> String {
    format!("{PREFIX}{queue}\u{1f}{job_id}")
}

fn failed(e: anyhow::Error) -> ApiError {
    ApiError::store_unavailable(format!("key-value store: {e:#}"))
}

impl<'a> KvStore<'a> {
    pub fn new(kv: &'a dyn KeyValue) -> KvStore<'a> {
        KvStore { kv }
    }

    fn keys(&self, queue: Option<&str>) -> Result<Vec<String>, ApiError> {
        let prefix = match queue {
            Some(q) => format!("{PREFIX}{q}\u{1f}"),
            None => PREFIX.to_string(),
        };
        Ok(self.kv.get_keys().map_err(failed)?.into_iter().filter(|k| k.starts_with(&prefix)).collect())
    }

    fn read(&self, key: &str) -> Result<Option<Stored>, ApiError> {
        match self.kv.get(key).map_err(failed)? {
            None => Ok(None),
            Some(bytes) => {
                String::from_utf8(bytes).map_err(|_| ApiError::new(500, code::INTERNAL, "CorruptJob", "a stored job is not UTF-8")).and_then(decode).map(Some)
            }
        }
    }
}

impl JobStore for KvStore<'_> {
    fn add(&self, job: &Job, replace: bool, max_jobs: usize) -> Result<AddOutcome, ApiError> {
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
        self.kv.set(&key, encode(job)?.as_bytes()).map_err(failed)?;
        Ok(if exists { AddOutcome::Replaced } else { AddOutcome::Added })
    }

    fn get(&self, queue: &str, job_id: &str) -> Result<Option<Stored>, ApiError> {
        self.read(&key(queue, job_id))
    }

    fn list(&self, queue: Option<&str>) -> Result<Vec<Stored>, ApiError> {
        let mut jobs = Vec::new();
        for key in self.keys(queue)? {
            // A job that cannot be read is left out rather than failing the listing (and ticks).
            match self.read(&key) {
                Ok(job) => jobs.extend(job),
                Err(e) if e.kind == "CorruptJob" => {}
                Err(e) => return Err(e),
            }
        }
        Ok(jobs)
    }

    fn replace(&self, before: &Stored, after: Option<&Job>) -> Result<bool, ApiError> {
        let key = key(&before.job.queue_name, &before.job.job_id);
        match self.kv.get(&key).map_err(failed)? {
            Some(current) if current == before.raw.as_bytes() => {}
            _ => return Ok(false),
        }
        match after {
            Some(job) => self.kv.set(&key, encode(job)?.as_bytes()).map_err(failed)?,
            None => self.kv.delete(&key).map_err(failed)?,
        }
        Ok(true)
    }

    fn delete_all(&self, queue: Option<&str>) -> Result<u64, ApiError> {
        let keys = self.keys(queue)?;
        for key in &keys {
            self.kv.delete(key).map_err(failed)?;
        }
        Ok(keys.len() as u64)
    }
}
