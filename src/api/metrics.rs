//! GET metrics: Prometheus's text format (see `crate::metrics`), with its own token.

use super::query::Query;
use crate::error::ApiError;
use crate::host::{HttpRequest, HttpResponse};
use crate::metrics::{read, render, CONTENT_TYPE};
use crate::services::Services;
use crate::store::redis::RedisStore;

pub(super) fn serve(_: &HttpRequest, services: &Services, query: Query) -> Result<HttpResponse, ApiError> {
    query.finish()?;
    let snapshot = read(services.redis, &RedisStore::new(services.redis, &services.config.key_prefix))?;
    Ok(HttpResponse { status: 200, headers: vec![("content-type".to_string(), CONTENT_TYPE.to_string())], body: render(&snapshot).into_bytes() })
}
