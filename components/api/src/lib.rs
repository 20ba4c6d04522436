//! funboost-edge HTTP component: converts Spin's request into the core's `HttpRequest`, runs
//! `funboost_edge::api::handle` with Spin's Redis, key-value store and variables, and converts
//! the response back. All behaviour lives in the core; this file only adapts types.

// Spin-only: natively (cargo build --workspace) this crate is empty.
#![cfg(target_arch = "wasm32")]

use funboost_edge::api;
use funboost_edge::error::{code, ApiError};
use funboost_edge::host::{HttpRequest, HttpResponse};
use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;

/// The route prefix in spin.toml (`/funboost/...`).
const PREFIX: &str = "/funboost";

#[http_component]
fn handle(request: Request) -> Response {
    let request = to_core(request);
    match funboost_spin_adapter::with_services(|services| api::handle(&request, services)) {
        Ok(response) => from_core(response),
        Err(e) => configuration_error(&e),
    }
}

fn to_core(request: Request) -> HttpRequest {
    let header = |name: &str| request.header(name).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let path = header("spin-path-info").unwrap_or_else(|| {
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

fn configuration_error(e: &anyhow::Error) -> Response {
    let error = ApiError::new(500, code::INTERNAL, "ConfigError", format!("configuration error: {e:#}"));
    from_core(api::error_response(&error))
}
