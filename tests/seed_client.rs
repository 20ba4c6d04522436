//! The seed's Python client example (tests/python/seed_client.py, `requests`) against the real
//! `.wasm` served over TCP on a loopback port, as `spin up` would serve it. The Python is
//! `$FUNBOOST_EDGE_PYTHON` (scripts/test sets it to its venv), else
//! `~/.cache/funboost-edge/venv/bin/python`; a missing interpreter or `requests` fails the test.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::*;
use funboost_test_host::test_support::RedisServer;
use serde_json::json;

/// The test venv's Python, which must have `requests` (the seed client's only dependency).
fn python_with_requests() -> PathBuf {
    let python = python();
    let check = Command::new(&python).args(["-c", "import requests"]).output().expect("run python");
    assert!(
        check.status.success(),
        "{} cannot import requests (pip install -r tests/python/requirements.txt): {}",
        python.display(),
        String::from_utf8_lossy(&check.stderr)
    );
    python
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seeds_python_client_example_runs_against_the_component() {
    let python = python_with_requests();
    let redis = RedisServer::start().expect("redis-server");
    let mut conn = connect(&redis);
    // As test_queue's funboost consumer registers it: def consume(x, y).
    register_queue(&mut conn, "test_queue", &["x", "y"], &["x", "y"]);
    let host = host_with(variables(&redis));
    let (addr, server) = host.serve("127.0.0.1:0".parse().unwrap()).await.expect("serve");

    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/seed_client.py");
    let base_url = format!("http://{addr}");
    let output = tokio::task::spawn_blocking(move || {
        Command::new(&python).arg(&script).arg(&base_url).env("FUNBOOST_EDGE_QUEUE", "test_queue").env_remove("FUNBOOST_EDGE_API_TOKEN").output()
    })
    .await
    .expect("join")
    .expect("run the seed client");
    server.abort();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "seed_client.py failed ({}):\n{stdout}\n{stderr}", output.status);
    assert!(stdout.contains("seed client: all calls succeeded"), "{stdout}");

    // What the calls left in Redis: the cron job, its positional args mapped to x and y.
    let cron = stored_job(&mut conn, "test_queue", "daily_3pm_job").expect("the cron job is stored");
    assert_eq!(cron["args"], json!([100, 200]));
    assert_eq!(cron["message_kwargs"], json!({"x": 100, "y": 200}));
    assert!(due_score(&mut conn, "test_queue", "daily_3pm_job").is_some());
    assert!(stored_job(&mut conn, "test_queue", "interval_job_10s").is_none(), "the interval job was deleted");
}
