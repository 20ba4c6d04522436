//! The Spin side (wasm32 only): the core's host traits over spin-sdk 5.2.

use std::cell::{OnceCell, RefCell};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use funboost_edge::config::Config;
use funboost_edge::host::{KeyValue, Redis, RedisArg, RedisValue};
use funboost_edge::services::Services;
use spin_sdk::{key_value, redis, variables};

use crate::redact_url;

/// What one request or tick runs with: the configuration, Redis and the key-value store (each
/// opened only when first used).
pub struct Runtime {
    config: Config,
    redis: SpinRedis,
    kv: SpinKeyValue,
}

impl Runtime {
    /// An error is a configuration error (a bad or unreadable Spin variable).
    pub fn new() -> Result<Runtime> {
        let config = config()?;
        let redis = SpinRedis::new(&config.redis_url);
        Ok(Runtime { config, redis, kv: SpinKeyValue::new("default") })
    }

    /// The [`Services`], with the host's clock now.
    pub fn services(&self) -> Services<'_> {
        Services { config: &self.config, redis: &self.redis, kv: Some(&self.kv), wall_clock_us: wall_clock_us() }
    }
}

/// Builds the [`Services`] for one request or tick and runs `f` with them. The outer `Err` is a
/// configuration error; `f`'s own result is returned untouched.
pub fn with_services<R>(f: impl FnOnce(&Services) -> R) -> Result<R> {
    let runtime = Runtime::new()?;
    Ok(f(&runtime.services()))
}

/// The configuration from the component's Spin variables. A variable the component does not
/// map (`Undefined`) counts as unset; any other variables error (for example an unreachable
/// secrets provider) fails the configuration instead of silently falling back to a default,
/// so an unreadable `api_token` can never leave the API open.
pub fn config() -> Result<Config> {
    let failure: RefCell<Option<String>> = RefCell::new(None);
    let get = |name: &str| match variables::get(name) {
        Ok(value) => Some(value),
        Err(variables::Error::Undefined(_)) => None,
        Err(e) => {
            failure.borrow_mut().get_or_insert_with(|| format!("cannot read variable {name}: {}", variables_error(&e)));
            None
        }
    };
    let config = Config::from_vars(&get);
    if let Some(message) = failure.into_inner() {
        bail!(message);
    }
    config
}

/// The host's wall clock in Unix microseconds (0 if the clock is before 1970).
pub fn wall_clock_us() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX)).unwrap_or(0)
}

/// Spin outbound Redis, connected on the first `execute` (one connection per request/tick,
/// as Spin has no pooling across instances).
pub struct SpinRedis {
    url: String,
    connection: OnceCell<redis::Connection>,
}

impl SpinRedis {
    pub fn new(url: &str) -> SpinRedis {
        SpinRedis { url: url.to_string(), connection: OnceCell::new() }
    }

    fn connection(&self) -> Result<&redis::Connection> {
        if let Some(connection) = self.connection.get() {
            return Ok(connection);
        }
        let connection = redis::Connection::open(&self.url)
            .map_err(|e| anyhow!(redis_error(e)))
            .with_context(|| format!("cannot connect to Redis at {}", redact_url(&self.url)))?;
        Ok(self.connection.get_or_init(|| connection))
    }
}

impl Redis for SpinRedis {
    fn execute(&self, command: &str, args: &[RedisArg]) -> Result<Vec<RedisValue>> {
        let connection = self.connection()?;
        let params: Vec<redis::RedisParameter> = args
            .iter()
            .map(|arg| match arg {
                RedisArg::Int(i) => redis::RedisParameter::Int64(*i),
                RedisArg::Bytes(b) => redis::RedisParameter::Binary(b.clone()),
            })
            .collect();
        let results = connection.execute(command, &params).map_err(|e| anyhow!(redis_error(e))).with_context(|| format!("Redis command {command} failed"))?;
        Ok(results
            .into_iter()
            .map(|r| match r {
                redis::RedisResult::Nil => RedisValue::Nil,
                redis::RedisResult::Status(s) => RedisValue::Status(s),
                redis::RedisResult::Int64(i) => RedisValue::Int(i),
                redis::RedisResult::Binary(b) => RedisValue::Bytes(b),
            })
            .collect())
    }
}

/// A Spin key-value store, opened on first use. If opening fails, every method returns the
/// error (and the next call tries again).
pub struct SpinKeyValue {
    label: String,
    store: OnceCell<key_value::Store>,
}

impl SpinKeyValue {
    pub fn new(label: &str) -> SpinKeyValue {
        SpinKeyValue { label: label.to_string(), store: OnceCell::new() }
    }

    fn store(&self) -> Result<&key_value::Store> {
        if let Some(store) = self.store.get() {
            return Ok(store);
        }
        let store = key_value::Store::open(&self.label)
            .map_err(|e| anyhow!(kv_error(e)))
            .with_context(|| format!("cannot open the Spin key-value store {:?}", self.label))?;
        Ok(self.store.get_or_init(|| store))
    }
}

impl KeyValue for SpinKeyValue {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.store()?.get(key).map_err(|e| anyhow!(kv_error(e))).context("key-value get failed")
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<()> {
        self.store()?.set(key, value).map_err(|e| anyhow!(kv_error(e))).context("key-value set failed")
    }

    fn delete(&self, key: &str) -> Result<()> {
        self.store()?.delete(key).map_err(|e| anyhow!(kv_error(e))).context("key-value delete failed")
    }

    fn get_keys(&self) -> Result<Vec<String>> {
        self.store()?.get_keys().map_err(|e| anyhow!(kv_error(e))).context("key-value get_keys failed")
    }
}

fn redis_error(e: redis::Error) -> String {
    match e {
        redis::Error::InvalidAddress => "invalid Redis address".to_string(),
        redis::Error::TooManyConnections => "too many Redis connections".to_string(),
        redis::Error::TypeError => "Redis returned a reply Spin cannot pass on (a map, verbatim string or push)".to_string(),
        redis::Error::Other(message) => message,
    }
}

fn kv_error(e: key_value::Error) -> String {
    match e {
        key_value::Error::StoreTableFull => "too many key-value stores open".to_string(),
        key_value::Error::NoSuchStore => "no such key-value store (add it to key_value_stores in spin.toml)".to_string(),
        key_value::Error::AccessDenied => "access to the key-value store denied (add it to key_value_stores in spin.toml)".to_string(),
        key_value::Error::Other(message) => message,
    }
}

fn variables_error(e: &variables::Error) -> String {
    match e {
        variables::Error::InvalidName(m) => format!("invalid name: {m}"),
        variables::Error::Undefined(m) => format!("undefined: {m}"),
        variables::Error::Provider(m) => format!("provider error: {m}"),
        variables::Error::Other(m) => m.clone(),
    }
}
