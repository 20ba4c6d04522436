//! Who did what: the audit trail (`get_audit_records`) and the caller's own rights (`whoami`).
//! README: "Security".

use serde_json::{json, Map, Value};

use super::query::Query;
use super::{Ctx, Outcome, ROUTES};
use crate::error::ApiError;
use crate::job::validate_name;
use crate::store::audit::{AuditLog, Query as Filter, Read};
use crate::trigger::Zdt;

/// Most records one read returns.
const MAX_LIMIT: usize = 1000;

/// GET get_audit_records: records newest first, of the caller's queues, filtered by
/// `queue_name`, `job_id` (with `queue_name`, also the records of the whole queue, such as a
/// scheduler pause) and `token`; `limit` (default 50) and `before` (the `next_before` of the previous
/// page) page through them.
pub(super) fn records(ctx: &Ctx, mut query: Query) -> Outcome {
    let queue = query.take("queue_name");
    if let Some(q) = &queue {
        validate_name("queue_name", q)?;
        ctx.check_queue(q)?;
    }
    let job_id = query.take("job_id");
    if let Some(id) = &job_id {
        validate_name("job_id", id)?;
    }
    let token = query.take("token");
    let limit = match query.take("limit") {
        None => 50,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => return Err(ApiError::invalid("limit", format!("must be a whole number from 1 to {MAX_LIMIT}, got {text:?}"))),
        },
    };
    let before = query.take("before");
    if let Some(id) = &before {
        if crate::audit::id_before(id).is_none() && id != "0-0" {
            return Err(ApiError::invalid("before", format!("must be a record id such as 1733456789012-0 (a page's next_before), got {id:?}")));
        }
    }
    query.finish()?;
    let services = ctx.services;
    let filter = Filter {
        queue: queue.as_deref().unwrap_or(""),
        job_id: job_id.as_deref().unwrap_or(""),
        token: token.as_deref().unwrap_or(""),
        scope: ctx.caller.scope.patterns(),
        before: before.as_deref().unwrap_or(""),
        limit,
    };
    let (records, next) = AuditLog::new(services.redis, &services.config.key_prefix).read(&filter)?;
    let zone = services.config.timezone;
    let views: Vec<Value> = records.into_iter().map(|read| view(read, zone)).collect();
    let count = views.len();
    Ok(("ok".to_string(), json!({"records": views, "count": count, "next_before": next})))
}

fn view(read: Read, zone: crate::trigger::Zone) -> Value {
    let Read { id, time_ms, record, deleted } = read;
    let mut changes = record.changes;
    if let (Some(n), Value::Object(map)) = (deleted, &mut changes) {
        map.insert("deleted_count".into(), n.into());
    }
    let mut view = Map::new();
    view.insert("id".into(), id.into());
    view.insert("time".into(), Zdt::from_utc(time_ms.saturating_mul(1000), zone).py_str().into());
    view.insert("token".into(), record.token.into());
    view.insert("route".into(), record.route.into());
    view.insert("queue_name".into(), record.queue.into());
    view.insert("job_id".into(), record.job_id.into());
    view.insert("changes".into(), changes);
    view.insert("note".into(), record.note.into());
    Value::Object(view)
}

/// GET whoami: the calling token's name, role and queues (`null`: every queue), and the routes
/// it may call, so a client (the management page) can offer only what will work.
pub(super) fn whoami(ctx: &Ctx, query: Query) -> Outcome {
    query.finish()?;
    let caller = &ctx.caller;
    let routes: Vec<&str> = ROUTES.iter().filter(|r| r.access.role().is_none_or(|role| role <= caller.role)).map(|r| r.path).collect();
    let queues = (!caller.scope.is_all()).then(|| caller.scope.patterns().to_vec());
    Ok(("ok".to_string(), json!({"token": caller.name, "role": caller.role.name(), "queues": queues, "routes": routes})))
}
