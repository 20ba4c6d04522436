//! End to end: the real release .wasm components in the test host against a real redis-server.
//! Build the components first: cargo build --target wasm32-wasip2 --profile wasm -p funboost-api -p funboost-ticker

use std::collections::HashMap;
use std::time::Instant;

use funboost_test_host::test_support::{spin_variables, wasm_dir, wasm_path, RedisServer};
use funboost_test_host::{Host, HostConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn variables(redis: &RedisServer) -> HashMap<String, String> {
    spin_variables(&redis.url(7), &[("redis_host", &redis.host())])
}

fn host(redis: &RedisServer, ticker: Option<std::path::PathBuf>) -> Host {
    let started = Instant::now();
    let host = Host::new(HostConfig { api_wasm: wasm_path("funboost_api"), ticker_wasm: ticker, variables: variables(redis), ..HostConfig::default() })
        .expect("Host::new");
    eprintln!("Host::new took {:?}", started.elapsed());
    host
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_requests_reach_the_core_with_spins_headers() {
    let redis = RedisServer::start().expect("redis-server");
    let host = host(&redis, None);

    // Routed on spin-path-info (the part after /funboost), query string parsed by the core.
    let response = host.request("GET", "/funboost/health?x=1", &[], vec![]).await.expect("request");
    assert_eq!(response.status, 400, "{}", response.text());
    assert!(response.text().contains("x: unknown query parameter"), "{}", response.text());

    // Outside the component's route, Spin's router answers 404 without running the component.
    let response = host.request("GET", "/other", &[], vec![]).await.expect("request");
    assert_eq!(response.status, 404);

    // Rough per-request cost of an in-process call (fresh Store + instantiate + handle).
    let n = 50;
    let started = Instant::now();
    for _ in 0..n {
        let response = host.request("GET", "/funboost/health", &[], vec![]).await.expect("request");
        assert_eq!(response.status, 200, "{}", response.text());
    }
    eprintln!("in-process request: {:?} per call (debug host, {n} calls)", started.elapsed() / n);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configuration_error_is_a_500_envelope() {
    let redis = RedisServer::start().expect("redis-server");
    let mut variables = variables(&redis);
    variables.insert("timezone".to_string(), "Mars/Olympus_Mons".to_string());
    let host = Host::new(HostConfig { api_wasm: wasm_path("funboost_api"), ticker_wasm: None, variables, ..HostConfig::default() }).expect("Host::new");
    let response = host.request("GET", "/funboost/health", &[], vec![]).await.expect("request");
    assert_eq!(response.status, 500);
    assert_eq!(response.header("content-type"), Some("application/json"));
    let text = response.text();
    assert!(text.starts_with(r#"{"succ":false,"msg":"configuration error: variable timezone"#), "{text}");
    assert!(text.ends_with(r#","data":null,"code":5000,"error":"ConfigError","error_data":null,"traceback":null,"trace_id":null}"#), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cron_tick_runs() {
    let redis = RedisServer::start().expect("redis-server");
    let host = host(&redis, Some(wasm_path("funboost_ticker")));
    assert!(host.cron_world().is_some());
    eprintln!("ticker exports {:?}", host.cron_world());
    let started = Instant::now();
    assert_eq!(host.cron(1_764_300_000).await.expect("cron"), Ok(()));
    eprintln!("cron call took {:?}", started.elapsed());

    // A configuration error becomes the WIT error's other(message).
    let mut variables = variables(&redis);
    variables.insert("max_body_bytes".to_string(), "lots".to_string());
    let bad =
        Host::new(HostConfig { api_wasm: wasm_path("funboost_api"), ticker_wasm: Some(wasm_path("funboost_ticker")), variables, ..HostConfig::default() })
            .expect("Host::new");
    let message = bad.cron(1_764_300_000).await.expect("cron").expect_err("bad config must fail the tick");
    assert!(message.starts_with("configuration error: variable max_body_bytes"), "{message}");
}

/// The other cron export (`--features cron-v2`; scripts/test builds it):
/// `$FUNBOOST_EDGE_TICKER_V2_WASM` or `<wasm dir>/funboost_ticker_cron_v2.wasm`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cron_tick_runs_with_the_v2_export_too() {
    let path =
        std::env::var_os("FUNBOOST_EDGE_TICKER_V2_WASM").map(std::path::PathBuf::from).unwrap_or_else(|| wasm_dir().join("funboost_ticker_cron_v2.wasm"));
    assert!(path.is_file(), "no {}: build it as scripts/test does (see test-host/README.md)", path.display());
    let redis = RedisServer::start().expect("redis-server");
    let host = host(&redis, Some(path));
    assert_eq!(host.cron_world(), Some("fermyon:spin-cron@2.0.0"));
    assert_eq!(host.cron(1_764_300_000).await.expect("cron"), Ok(()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_over_tcp() {
    let redis = RedisServer::start().expect("redis-server");
    let host = host(&redis, None);
    let (addr, server) = host.serve("127.0.0.1:0".parse().unwrap()).await.expect("serve");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(b"GET /funboost/health HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n").await.expect("write");
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).await.expect("read");
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.contains("\"store\":\"reachable\""), "{reply}");
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clock_skew_moves_the_guests_wall_clock() {
    let redis = RedisServer::start().expect("redis-server");
    let plain = host(&redis, None);
    for skew in [-5000i64, 3000] {
        let skewed = plain.clone().with_clock_skew(skew);
        assert_eq!(skewed.clock_skew_ms(), skew);
        let response = skewed.request("GET", "/funboost/health", &[], vec![]).await.expect("request");
        assert_eq!(response.status, 200, "{}", response.text());
        // The health route compares the guest's wall clock with Redis TIME (same machine).
        let text = response.text();
        let field = text.split_once(r#""clock_skew_ms":"#).map(|(_, rest)| rest).unwrap_or_else(|| panic!("{text}"));
        let end = field.find(|c: char| c != '-' && !c.is_ascii_digit()).unwrap_or(field.len());
        let measured: i64 = field[..end].parse().unwrap_or_else(|_| panic!("{text}"));
        assert!((measured - skew).abs() < 2000, "skew {skew} ms, guest reports {measured} ms");
    }
    assert_eq!(plain.clock_skew_ms(), 0, "clones keep their own skew");
}
