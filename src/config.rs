//! Configuration from Spin variables (see spin.toml and the README for each one).

use anyhow::{bail, Context, Result};

use crate::trigger::Zone;

#[derive(Clone, Debug)]
pub struct Config {
    /// `redis://[user:password@]host[:port][/db]`; funboost's default DB is 7.
    pub redis_url: String,
    /// Default time zone of triggers and of `publish_time_format` (funboost's TIMEZONE).
    pub timezone: Zone,
    /// Prefix of every key this product writes (never funboost's `funboost.apscheduler.*`).
    pub key_prefix: String,
    /// When set, every route but `health` needs `Authorization: Bearer <token>`.
    pub api_token: Option<String>,
    /// Token of the HTTP tick route (bearer header or `token` query parameter).
    pub tick_token: Option<String>,
    /// Token of the metrics route, so a Prometheus scraper need not hold the API token (which
    /// the route accepts too).
    pub metrics_token: Option<String>,
    pub max_body_bytes: usize,
    pub max_jobs_per_queue: usize,
    /// Accept queues no funboost consumer has registered (then positional args are refused).
    pub allow_unregistered_queues: bool,
}

impl Config {
    /// Reads the variables through `get` (Spin's `variables::get`; `None` = unset or empty).
    pub fn from_vars(get: &dyn Fn(&str) -> Option<String>) -> Result<Config> {
        let var = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let number = |name: &str, default: usize| -> Result<usize> {
            match var(name) {
                None => Ok(default),
                Some(v) => v.trim().parse().with_context(|| format!("variable {name} must be a whole number, got {v:?}")),
            }
        };
        let timezone_name = var("timezone").unwrap_or_else(|| "Asia/Shanghai".to_string());
        let timezone = Zone::parse(&timezone_name).map_err(|e| anyhow::anyhow!("variable timezone: {e}"))?;
        let allow = match var("allow_unregistered_queues").as_deref().map(str::trim) {
            None | Some("false") | Some("0") => false,
            Some("true") | Some("1") => true,
            Some(other) => bail!("variable allow_unregistered_queues must be true or false, got {other:?}"),
        };
        Ok(Config {
            redis_url: var("redis_url").unwrap_or_else(|| "redis://127.0.0.1:6379/7".to_string()),
            timezone,
            key_prefix: var("key_prefix").unwrap_or_else(|| "funboost_edge".to_string()),
            api_token: var("api_token"),
            tick_token: var("tick_token"),
            metrics_token: var("metrics_token"),
            max_body_bytes: number("max_body_bytes", 64 * 1024)?,
            max_jobs_per_queue: number("max_jobs_per_queue", 100_000)?,
            allow_unregistered_queues: allow,
        })
    }
}
