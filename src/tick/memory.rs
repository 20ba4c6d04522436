//! Firing `memory`-store jobs (Spin's key-value store). It has no compare-and-set, so each
//! fire is published at most once through a marker per fire id instead.

use anyhow::{Context, Result};

use super::{fire, Fired, TickOptions, TickReport, TickTime};
use crate::message::Message;
use crate::services::Services;
use crate::store::kv::KvStore;
use crate::store::layout::Keys;
use crate::store::redis::text;
use crate::store::{JobStore, Listed};

crate::lua_script!(
    /// Publishes each message unless its fire was already published (a marker per fire id,
    /// kept a week): the memory store cannot publish and advance in one atomic step, so a retry
    /// after a crash between the two must not publish again. Replies '' or the first push
    /// error (the fires before it are out and marked).
    PUBLISH_ONCE = "publish_once", 1,
    keys [],
    args [],
    entry [marker, push, key, payload],
    r#"
for e = 1, N do
  local marker, code, key, payload = field(e, E.marker), field(e, E.push), field(e, E.key), field(e, E.payload)
  if redis.call('EXISTS', marker) == 0 then
    local r
    if code == 'R' then r = redis.pcall('RPUSH', key, payload)
    elseif code == 'L' then r = redis.pcall('LPUSH', key, payload)
    else r = redis.pcall('XADD', key, '*', '', payload) end
    if type(r) == 'table' and r.err then return {TAG, r.err} end
    redis.call('SET', marker, '1', 'EX', 604800)
  end
end
return {TAG, ''}
"#
);

/// Publishes `messages`, each unless its fire was published before; `Some(error)` when a push
/// failed (the fires before it are out and marked).
pub(super) fn publish_once(services: &Services, messages: &[Message]) -> Result<Option<String>> {
    let keys = Keys::new(&services.config.key_prefix);
    let mut call = PUBLISH_ONCE.call();
    for m in messages {
        call.field("marker", keys.fired(&m.dedupe_key)).field("push", m.push.code()).field("key", m.key.as_str()).field("payload", m.payload.as_str());
    }
    let reply = call.run(services.redis).context("publishing memory-store fires")?;
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
    for listed in jobs {
        let Listed::Job(stored) = listed else { continue };
        let stored = *stored;
        let job = &stored.job;
        if job.error.is_some() || job.paused || job.next_run.is_none_or(|t| t.utc_us > until_us) {
            continue;
        }
        let (after, Fired { messages, counts, records, .. }) = match fire(services, job.clone(), at, options) {
            Ok(result) => result,
            Err(e) => {
                // Stopped with status error, kept (the same as the redis store's quarantine).
                report.errors.push(format!("{}/{}: stopped with status error: {e:#}", job.queue_name, job.job_id));
                let mut stopped = job.clone();
                stopped.error = Some(format!("{e:#}"));
                if store.update(&stored, Some(&stopped), &[]).map_err(|e| anyhow::anyhow!(e.message))? {
                    report.quarantined += 1;
                }
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
        let applied = store.update(&stored, after.as_ref(), &records);
        if applied.map_err(|e| anyhow::anyhow!(e.message))? {
            counts.add_to(report);
        } else {
            report.conflicts += 1;
        }
    }
    Ok(())
}
