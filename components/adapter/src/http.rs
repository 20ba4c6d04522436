//! The HTTP components' glue: Spin's request into the core's `HttpRequest`, a core handler run
//! with Spin's services, its `HttpResponse` back into Spin's. The body is read only after the
//! core admitted the request (route, method, caller, content type), and only up to the limit,
//! so an unauthorized or oversized request costs no more than its headers.

use funboost_edge::api;
use funboost_edge::error::{code, ApiError};
use funboost_edge::host::{HttpRequest, HttpResponse};
use funboost_edge::services::Services;
use futures::StreamExt;
use spin_sdk::http::{IncomingRequest, Response};

/// The route prefix in spin.toml (`/funboost/...`).
const PREFIX: &str = "/funboost";

/// A core function deciding whether to read the body (`api::admit`, `api::admit_tick`).
pub type Admit = fn(&HttpRequest, &Services) -> Result<Option<usize>, ApiError>;
/// A core handler (`api::handle`, `api::handle_tick`).
pub type Handle = fn(&HttpRequest, &Services) -> HttpResponse;

/// Serves `request`: `admit` first, then the body (up to the limit it gives), then `handle`.
pub async fn serve(request: IncomingRequest, admit: Admit, handle: Handle) -> Response {
    let mut core = head(&request);
    let runtime = match crate::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => return configuration_error(e),
    };
    let limit = match admit(&core, &runtime.services()) {
        Ok(limit) => limit,
        Err(e) => return from_core(api::error_response(&e)),
    };
    if let Some(limit) = limit {
        match read_body(request, limit).await {
            Ok(body) => core.body = body,
            Err(e) => return from_core(api::error_response(&e)),
        }
    }
    from_core(handle(&core, &runtime.services()))
}

fn configuration_error(e: anyhow::Error) -> Response {
    let error = ApiError::new(500, code::INTERNAL, "ConfigError", format!("configuration error: {e:#}"));
    from_core(api::error_response(&error))
}

/// The request without its body.
fn head(request: &IncomingRequest) -> HttpRequest {
    let mut headers: Vec<(String, String)> =
        request.headers().entries().into_iter().map(|(name, value)| (name, String::from_utf8_lossy(&value).into_owned())).collect();
    // wasi-http keeps the `Host` header out of the headers and gives it as the authority.
    if let Some(authority) = request.authority() {
        if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
            headers.push(("host".to_string(), authority));
        }
    }
    // Spin appends its own spin-* headers after any a client sent: the last one is Spin's.
    let header = |name: &str| headers.iter().rev().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone());
    let path_and_query = request.path_with_query().unwrap_or_default();
    let (full_path, query) = path_and_query.split_once('?').unwrap_or((path_and_query.as_str(), ""));
    // An exact route (`/funboost/tick`) has an empty path-info: the path below the prefix is it.
    let path = header("spin-path-info").filter(|info| !info.is_empty()).unwrap_or_else(|| full_path.strip_prefix(PREFIX).unwrap_or(full_path).to_string());
    let client_addr = header("spin-client-addr");
    HttpRequest { method: request.method().to_string(), path, query: query.to_string(), client_addr, body: Vec::new(), headers }
}

/// The body, or 413 as soon as it passes `limit` bytes (the rest is not read).
async fn read_body(request: IncomingRequest, limit: usize) -> Result<Vec<u8>, ApiError> {
    let mut stream = request.into_body_stream();
    let mut body = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::invalid("body", format!("could not be read: {e:?}")))?;
        if body.len() + chunk.len() > limit {
            return Err(api::body_too_large(limit));
        }
        body.extend(chunk);
    }
    Ok(body)
}

fn from_core(response: HttpResponse) -> Response {
    let mut builder = Response::builder();
    builder.status(response.status);
    for (name, value) in response.headers {
        builder.header(name, value);
    }
    builder.body(response.body).build()
}
