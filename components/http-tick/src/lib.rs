//! funboost-edge HTTP tick component: `GET`/`POST /funboost/tick` for hosts without the cron
//! trigger. A component of its own so that the API component does not carry the tick's code
//! (about 60 KB of its 1.5 MB budget); the behaviour lives in `funboost_edge::api::handle_tick`.

// Spin-only: natively (cargo build --workspace) this crate is empty.
#![cfg(target_arch = "wasm32")]

use spin_sdk::http::{IncomingRequest, Response};
use spin_sdk::http_component;

#[http_component]
async fn handle(request: IncomingRequest) -> Response {
    funboost_spin_adapter::http::serve(request, funboost_edge::api::admit_tick, funboost_edge::api::handle_tick).await
}
