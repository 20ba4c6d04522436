//! funboost-edge core: funboost's timing-job model and APScheduler-exact triggers, in plain
//! Rust with no Spin types, so it builds natively for tests and for `wasm32-wasip2`.

// `ApiError` is large, but it only travels on the error path of a request, once.
#![allow(clippy::result_large_err)]

pub mod access;
pub mod api;
pub mod audit;
pub mod config;
pub mod error;
pub mod host;
pub mod job;
pub mod message;
pub mod metrics;
pub mod random;
pub mod services;
pub mod store;
pub mod tick;
pub mod trigger;
