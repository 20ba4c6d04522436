//! funboost-edge HTTP component: Spin's request into `funboost_edge::api::handle` with Spin's
//! Redis, key-value store and variables. All behaviour lives in the core.

// Spin-only: natively (cargo build --workspace) this crate is empty.
#![cfg(target_arch = "wasm32")]

use spin_sdk::http::{IncomingRequest, Response};
use spin_sdk::http_component;

#[http_component]
async fn handle(request: IncomingRequest) -> Response {
    funboost_spin_adapter::http::serve(request, funboost_edge::api::admit, funboost_edge::api::handle).await
}
