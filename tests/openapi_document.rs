//! The OpenAPI document (`funboost_edge::api::openapi::document()`, served as
//! `GET /funboost/openapi.json`) is valid OpenAPI 3.1 and true to the API:
//! - `openapi-spec-validator` accepts it;
//! - the web component serves exactly it on `/funboost/openapi.json`, routed as spin.toml does;
//! - schemathesis, driven by the document alone, sends generated requests (examples, boundary
//!   values, valid and invalid data; fixed seed, bounded) to every route of the real API and
//!   HTTP tick `.wasm`, served over TCP by the test host (routed as spin.toml does) in front of a
//!   throwaway redis-server with one registered queue, and finds no 5xx, and every status,
//!   content type, header and body as documented.
//!
//! Needs the API, HTTP tick and web `.wasm` built (`cargo build --target wasm32-wasip2 --profile
//! wasm -p funboost-api -p funboost-http-tick -p funboost-web`) and `openapi-spec-validator` and
//! `schemathesis` in the test venv
//! (tests/python/requirements.txt; `scripts/prepare` installs them).

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

use common::*;
use funboost_test_host::test_support::{spin_variables, wasm_path, RedisServer};
use funboost_test_host::{Host, HostConfig};

const TOKEN: &str = "openapi-test-token-0123456789";

/// The document in a fresh directory of its own under the temp directory.
fn document_file(test: &str) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("funboost-edge-openapi-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("openapi.json");
    let text = serde_json::to_string_pretty(&funboost_edge::api::openapi::document()).expect("serializable");
    std::fs::write(&path, text).expect("write openapi.json");
    (dir, path)
}

fn report(output: &Output) -> String {
    format!("status {}\nstdout:\n{}\nstderr:\n{}", output.status, String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

#[test]
fn the_document_is_valid_openapi_3_1() {
    let (dir, path) = document_file("validator");
    let output = Command::new(python())
        .args(["-m", "openapi_spec_validator", "--schema", "3.1", "--validation-errors", "all"])
        .arg(&path)
        .output()
        .expect("run openapi_spec_validator");
    assert!(output.status.success(), "openapi-spec-validator refused the document:\n{}", report(&output));
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn the_web_component_serves_the_document() {
    let variables = spin_variables("redis://127.0.0.1:1/7", &[]);
    let config = HostConfig {
        api_wasm: wasm_path("funboost_api"),
        ticker_wasm: None,
        web_wasm: Some(wasm_path("funboost_web")),
        http_tick_wasm: Some(wasm_path("funboost_http_tick")),
        variables,
    };
    let host = Host::new(config).expect("Host::new");
    let route = host.route("/funboost/openapi.json").expect("routed");
    assert!(!route.is_api(), "/funboost/openapi.json goes to the web component");
    let reply = host.request("GET", "/funboost/openapi.json", &[], Vec::new()).await.expect("request");
    assert_eq!((reply.status, reply.header("content-type")), (200, Some("application/json")), "{}", reply.text());
    let served: serde_json::Value = serde_json::from_slice(&reply.body).expect("JSON");
    assert_eq!(served, funboost_edge::api::openapi::document());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_every_answer_as_documented() {
    let redis = RedisServer::start().expect("redis-server");
    // The queue of the document's examples, as a funboost consumer of `add(x, y)` registers it.
    register_queue(&mut connect(&redis), "test_queue", &["x", "y"], &["x"]);
    let variables = spin_variables(&redis.url(7), &[("redis_host", &redis.host()), ("api_token", TOKEN), ("metrics_token", TOKEN)]);
    let host = Host::new(HostConfig {
        api_wasm: wasm_path("funboost_api"),
        ticker_wasm: None,
        http_tick_wasm: Some(wasm_path("funboost_http_tick")),
        variables,
        ..HostConfig::default()
    })
    .expect("Host::new");
    let (addr, server) = host.serve("127.0.0.1:0".parse().expect("address")).await.expect("serve");
    let (dir, path) = document_file("schemathesis");

    let mut command = Command::new(python());
    command
        .args(["-m", "schemathesis.cli", "--no-color", "run"])
        .arg(&path)
        .args(["--url", &format!("http://{addr}/funboost")])
        .args(["--header", &format!("Authorization: Bearer {TOKEN}")])
        .args(["--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance"])
        .args(["--phases", "examples,coverage,fuzzing,stateful"])
        // One worker: with two, hypothesis describing its filters from two threads at once now and
        // then trips CPython 3.11's "AST constructor recursion depth mismatch" (a crash in the
        // tool, not a finding).
        .args(["--max-examples", "40", "--seed", "20251203", "--workers", "1", "--request-timeout", "20"])
        .args(["--suppress-health-check", "all", "--continue-on-failure"])
        .current_dir(&dir);
    let output = tokio::task::spawn_blocking(move || command.output()).await.expect("join").expect("run schemathesis");
    server.abort();
    std::fs::remove_dir_all(dir).ok();
    println!("{}", String::from_utf8_lossy(&output.stdout));
    assert!(output.status.success(), "schemathesis found answers that differ from the document:\n{}", report(&output));
}
