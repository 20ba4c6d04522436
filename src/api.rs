//! The `/funboost/...` HTTP API over the stores (work in progress).

use crate::config::Config;
use crate::host::{HttpRequest, HttpResponse, KeyValue, Redis};

/// What a request handler may use. The adapter opens Redis lazily, on first `execute`.
pub struct Services<'a> {
    pub config: &'a Config,
    pub redis: &'a dyn Redis,
    pub kv: Option<&'a dyn KeyValue>,
    /// The host's wall clock, Unix microseconds (the Redis server's clock is preferred).
    pub wall_clock_us: i64,
}

pub fn handle(request: &HttpRequest, services: &Services) -> HttpResponse {
    let _ = (request, services);
    HttpResponse { status: 501, headers: vec![], body: b"{}".to_vec() }
}
