//! Firing `memory`-store jobs (Spin's key-value store). It has no compare-and-set, so each
//! fire is published at most once through a marker per fire id instead.

use anyhow::{Context, Result};

use super::{fire, TickOptions, TickReport, TickTime};
use crate::host::RedisArg;
use crate::message::Message;
use crate::services::Services;
use crate::store::kv::KvStore;
use crate::store::redis::{bytes, text};
use crate::store::JobStore;

/// Publishes a message unless its fire was already published (a marker per fire id, kept a
/// week): the memory store cannot publish and advance in one atomic step, so a retry after a
/// crash between the two must not publish again.
const PUBLISH_ONCE: &str = r#"
for k = 0, tonumber(ARGV[1]) - 1 do
  local marker, code, key, payload = ARGV[2 + 4 * k], ARGV[3 + 4 * k], ARGV[4 + 4 * k], ARGV[5 + 4 * k]
  if redis.call('EXISTS', marker) == 0 then
    local r
    if code == 'R' then r = redis.pcall('RPUSH', key, payload)
    elseif code == 'L' then r = redis.pcall('LPUSH', key, payload)
    else r = redis.pcall('XADD', key, '*', '', payload) end
    if type(r) == 'table' and r.err then return r.err end
    redis.call('SET', marker, '1', 'EX', 604800)
  end
end
return ''
"#;

/// Publishes `messages`, each unless its fire was published before; `Some(error)` when a push
/// failed (the fires before it are out and marked).
pub(super) fn publish_once(services: &Services, messages: &[Message]) -> Result<Option<String>> {
    let mut args = vec![bytes(PUBLISH_ONCE), RedisArg::Int(0), RedisArg::Int(messages.len() as i64)];
    for m in messages {
        let marker = format!("{{{}}}:fired:{}", services.config.key_prefix, m.dedupe_key);
        args.extend([bytes(marker), bytes(m.push.code()), bytes(m.key.as_str()), bytes(m.payload.as_str())]);
    }
    let reply = services.redis.execute("EVAL", &args).context("publishing memory-store fires")?;
    Ok(reply.first().and_then(text).filter(|e| !e.is_empty()))
}

pub(super) fn tick(services: &Services, store: &KvStore, at: TickTime, options: TickOptions, report: &mut TickReport) -> Result<()> {
    let until_us = at.now_us + i64::from(options.lookahead_secs) * 1_000_000;
    let jobs = match store.list(None) {
        Ok(jobs) => jobs,
        Err(e) => {
            report.errors.push(format!("memory store: {}", e.message));
            return Ok(());
        }
    };
    for stored in jobs {
        let job = &stored.job;
        if job.paused || job.next_run.is_none_or(|t| t.utc_us > until_us) {
            continue;
        }
        let (after, (messages, counts, _)) = match fire(services, job.clone(), at, options) {
            Ok(result) => result,
            Err(e) => {
                report.errors.push(format!("{}/{}: {e:#}", job.queue_name, job.job_id));
                continue;
            }
        };
        if !messages.is_empty() {
            report.round_trips += 1;
            if let Some(error) = publish_once(services, &messages)? {
                // Not advanced: the next tick tries again (fires already out stay marked).
                report.errors.push(format!("publishing {}/{}: {error}", job.queue_name, job.job_id));
                continue;
            }
        }
        if store.replace(&stored, after.as_ref()).map_err(|e| anyhow::anyhow!(e.message))? {
            counts.add_to(report);
        } else {
            report.conflicts += 1;
        }
    }
    Ok(())
}
