//! What the API handlers and the tick may use: the configuration, Spin's Redis and key-value
//! store, and the host's clock. The adapters build one per request or tick.

use crate::config::Config;
use crate::error::ApiError;
use crate::host::{KeyValue, Redis};
use crate::job::StoreKind;
use crate::store::audit::AuditLog;
use crate::store::kv::KvStore;
use crate::store::redis::{server_time_us, RedisStore};
use crate::store::JobStore;

/// The adapter opens Redis lazily, on first `execute`.
pub struct Services<'a> {
    pub config: &'a Config,
    pub redis: &'a dyn Redis,
    pub kv: Option<&'a dyn KeyValue>,
    /// The host's wall clock, Unix microseconds (the Redis server's clock is preferred).
    pub wall_clock_us: i64,
}

impl Services<'_> {
    pub fn store(&self, kind: StoreKind) -> Result<Box<dyn JobStore + '_>, ApiError> {
        match kind {
            StoreKind::Redis => Ok(Box::new(RedisStore::new(self.redis, &self.config.key_prefix))),
            StoreKind::Memory => match self.kv {
                Some(kv) => Ok(Box::new(KvStore::audited(kv, AuditLog::new(self.redis, &self.config.key_prefix)))),
                None => Err(ApiError::store_unavailable("this host has no key-value store for job_store_kind=memory")),
            },
        }
    }

    /// "Now" for schedules: the Redis server's clock, so every replica agrees.
    pub fn now_us(&self) -> Result<i64, ApiError> {
        server_time_us(self.redis)
    }
}
