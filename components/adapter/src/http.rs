//! The HTTP components' glue: Spin's request into the core's `HttpRequest`, a core handler run
//! with Spin's services, its `HttpResponse` back into Spin's.

use funboost_edge::api;
use funboost_edge::error::{code, ApiError};
use funboost_edge::host::{HttpRequest, HttpResponse};
use funboost_edge::services::Services;
use spin_sdk::http::{Request, Response};

/// The route prefix in spin.toml (`/funboost/...`).
const PREFIX: &str = "/funboost";

/// Serves `request` with `handle` (`api::handle`, `api::handle_tick`).
pub fn serve(request: Request, handle: fn(&HttpRequest, &Services) -> HttpResponse) -> Response {
    let request = to_core(request);
    match crate::with_services(|services| handle(&request, services)) {
        Ok(response) => from_core(response),
        Err(e) => {
            let error = ApiError::new(500, code::INTERNAL, "ConfigError", format!("configuration error: {e:#}"));
            from_core(api::error_response(&error))
        }
    }
}

fn to_core(request: Request) -> HttpRequest {
    let header = |name: &str| request.header(name).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    // An exact route (`/funboost/tick`) has an empty path-info: the path below the prefix is it.
    let path = header("spin-path-info").filter(|info| !info.is_empty()).unwrap_or_else(|| {
        let full = request.path();
        full.strip_prefix(PREFIX).unwrap_or(full).to_string()
    });
    let client_addr = header("spin-client-addr");
    let headers = request.headers().map(|(name, value)| (name.to_string(), String::from_utf8_lossy(value.as_bytes()).into_owned())).collect();
    HttpRequest { method: request.method().to_string(), path, query: request.query().to_string(), headers, client_addr, body: request.into_body() }
}

fn from_core(response: HttpResponse) -> Response {
    let mut builder = Response::builder();
    builder.status(response.status);
    for (name, value) in response.headers {
        builder.header(name, value);
    }
    builder.body(response.body).build()
}
