//! GET metrics: Prometheus's text format (see `crate::metrics`), with its own token. A token
//! limited to some queues sees only their samples.

use super::query::Query;
use super::Ctx;
use crate::error::ApiError;
use crate::host::HttpResponse;
use crate::metrics::{read, render, CONTENT_TYPE};
use crate::store::redis::RedisStore;

pub(super) fn serve(ctx: &Ctx, query: Query) -> Result<HttpResponse, ApiError> {
    query.finish()?;
    let services = ctx.services;
    let mut snapshot = read(services.redis, &RedisStore::new(services.redis, &services.config.key_prefix))?;
    snapshot.queues.retain(|(queue, _)| ctx.caller.scope.allows(queue));
    Ok(HttpResponse { status: 200, headers: vec![("content-type".to_string(), CONTENT_TYPE.to_string())], body: render(&snapshot).into_bytes() })
}
