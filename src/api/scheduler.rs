//! funboost 55's scheduler routes: a per-queue firing switch (`pause_scheduler`,
//! `resume_scheduler`, `get_scheduler_status`) and the consumer's registered configuration
//! (`get_one_queue_config`). README: "Queues and their schedulers".

use serde_json::{json, Value};

use super::jobs::queue_not_found;
use super::query::Query;
use super::{Ctx, Outcome};
use crate::error::ApiError;
use crate::job::StoreKind;
use crate::services::Services;
use crate::store::redis::RedisStore;
use crate::store::registry;

/// A scheduler that has not ticked for this long is reported stopped (`status_code` 0): more
/// than the once-a-minute HTTP tick of hosts without the cron trigger.
const STOPPED_AFTER_US: i64 = 90_000_000;

/// The queue and store of a scheduler route. Only the `redis` store has a per-queue switch;
/// a queue is known when a consumer registered it or it holds jobs.
fn queue_of(ctx: &Ctx, query: &mut Query) -> Result<String, ApiError> {
    let services = ctx.services;
    let queue = query.required_name("queue_name")?;
    ctx.check_queue(&queue)?;
    if query.store()? != StoreKind::Redis {
        return Err(ApiError::invalid("job_store_kind", "only the redis store has a per-queue scheduler switch"));
    }
    let registered = registry::lookup(services.redis, &queue)?.params.is_some();
    if !registered && !services.config.allow_unregistered_queues && services.store(StoreKind::Redis)?.list(Some(&queue))?.is_empty() {
        let mut error = queue_not_found(&queue);
        error.data = json!({"queue_name": queue}).as_object().cloned();
        return Err(error);
    }
    Ok(queue)
}

fn store<'a>(services: &'a Services) -> RedisStore<'a> {
    RedisStore::new(services.redis, &services.config.key_prefix)
}

/// GET get_scheduler_status: `{queue_name, status_code, status_str}`, 1 running, 2 paused,
/// 0 stopped (no tick for 90 s).
pub(super) fn status(ctx: &Ctx, mut query: Query) -> Outcome {
    let queue = queue_of(ctx, &mut query)?;
    query.finish()?;
    let state = store(ctx.services).scheduler_state(&queue)?;
    let ticking = state.last_tick_us.is_some_and(|last| state.now_us - last <= STOPPED_AFTER_US);
    let (code, name) = match (state.paused, ticking) {
        (true, _) => (2, "paused"),
        (false, true) => (1, "running"),
        (false, false) => (0, "stopped"),
    };
    Ok(("ok".to_string(), json!({"queue_name": queue, "status_code": code, "status_str": name})))
}

/// POST pause_scheduler: none of the queue's jobs fires until `resume_scheduler`; they stay
/// listed and editable.
pub(super) fn pause(ctx: &Ctx, query: Query) -> Outcome {
    switch(ctx, query, true)
}

/// POST resume_scheduler: what came due meanwhile follows each job's misfire_grace_time and
/// coalesce, as after APScheduler's `scheduler.resume()`.
pub(super) fn resume(ctx: &Ctx, query: Query) -> Outcome {
    switch(ctx, query, false)
}

/// Both take an optional `note`, kept in the audit record.
fn switch(ctx: &Ctx, mut query: Query, paused: bool) -> Outcome {
    let queue = queue_of(ctx, &mut query)?;
    let note = query.note()?;
    query.finish()?;
    let status = if paused { "paused" } else { "running" };
    let audit = ctx.audit(&queue, None, json!({"scheduler": status}), note.as_deref());
    store(ctx.services).set_queue_paused(&queue, paused, &audit)?;
    Ok((format!("the scheduler of queue {queue} is {status}"), json!({"queue_name": queue, "status_str": status})))
}

/// GET get_one_queue_config: the consumer's registered parameters
/// (`funboost_queue__consumer_parmas`), as funboost returns them.
pub(super) fn queue_config(ctx: &Ctx, mut query: Query) -> Outcome {
    let queue = query.required_name("queue_name")?;
    ctx.check_queue(&queue)?;
    query.finish()?;
    let lookup = registry::lookup(ctx.services.redis, &queue)?;
    let raw = lookup.raw.filter(|_| lookup.params.is_some()).ok_or_else(|| queue_not_found(&queue))?;
    let config: Value =
        serde_json::from_str(&raw).map_err(|e| ApiError::invalid("queue_name", format!("the registration of queue {queue} is not JSON: {e}")))?;
    Ok(("ok".to_string(), config))
}
