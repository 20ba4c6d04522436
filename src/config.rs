//! Configuration from Spin variables (see spin.toml and the README for each one).

use anyhow::{bail, Context, Result};

use crate::access::{parse_tokens, NamedToken, Role};
use crate::trigger::Zone;

#[derive(Clone, Debug)]
pub struct Config {
    /// `redis://[user:password@]host[:port][/db]`; funboost's default DB is 7.
    pub redis_url: String,
    /// Default time zone of triggers and of `publish_time_format` (funboost's TIMEZONE).
    pub timezone: Zone,
    /// Prefix of every key this product writes (never funboost's `funboost.apscheduler.*`).
    pub key_prefix: String,
    /// The named tokens (`tokens`, and `api_token` as an admin token named `api_token`). With
    /// any, every route but `health` needs one (`crate::access`); with none, loopback clients
    /// that are not a web page of another site are served.
    pub tokens: Vec<NamedToken>,
    /// Token of the HTTP tick route (bearer header or `token` query parameter), besides admin
    /// tokens.
    pub tick_token: Option<NamedToken>,
    /// Token of the metrics route, so a Prometheus scraper need not hold an API token (which
    /// the route accepts too).
    pub metrics_token: Option<NamedToken>,
    /// How many records the audit trail keeps (the oldest go first).
    pub audit_max_records: usize,
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
        let mut tokens = match var("tokens") {
            Some(text) => parse_tokens(&text)?,
            None => Vec::new(),
        };
        if let Some(secret) = var("api_token") {
            let api_token = NamedToken::from_secret("api_token", &secret, Role::Admin);
            if let Some(same) = tokens.iter().find(|t| t.same_secret(&api_token)) {
                bail!("variable api_token is the same token as {:?} of variable tokens: give each caller its own token", same.name);
            }
            tokens.push(api_token);
        }
        let audit_max_records = number("audit_max_records", 100_000)?;
        if !(1..=10_000_000).contains(&audit_max_records) {
            bail!("variable audit_max_records must be from 1 to 10000000, got {audit_max_records}");
        }
        Ok(Config {
            redis_url: var("redis_url").unwrap_or_else(|| "redis://127.0.0.1:6379/7".to_string()),
            timezone,
            key_prefix: var("key_prefix").unwrap_or_else(|| "funboost_edge".to_string()),
            tokens,
            tick_token: var("tick_token").map(|t| NamedToken::from_secret("tick_token", &t, Role::Admin)),
            metrics_token: var("metrics_token").map(|t| NamedToken::from_secret("metrics_token", &t, Role::Read)),
            audit_max_records,
            max_body_bytes: number("max_body_bytes", 64 * 1024)?,
            max_jobs_per_queue: number("max_jobs_per_queue", 100_000)?,
            allow_unregistered_queues: allow,
        })
    }
}
