//! TLS Redis with a password (Upstash, Redis Cloud, ElastiCache with in-transit encryption), end
//! to end. Each test starts a redis-server that speaks TLS only (`--port 0 --tls-port <free>`)
//! with `requirepass`, its certificate signed by a throwaway CA the test makes with the `openssl`
//! CLI (test_support::RedisServer::start_tls), and runs the real .wasm components in the test
//! host with `redis_url = rediss://default:<password>@127.0.0.1:<port>/7`; the host verifies the
//! server's certificate against that CA (chain and host name), as Spin verifies against the
//! system's trust store. It proves:
//!
//! 1. add → fire → run works over TLS with a password: a job added through the API is published
//!    by the cron component and run once, with its arguments, by a real funboost 55.0 consumer
//!    that itself connects over TLS with the password (funboost's `REDIS_SSL` and
//!    `REDIS_PASSWORD`, trusting the CA through `SSL_CERT_FILE`).
//! 2. What a tick costs in Redis commands, the figures docs-pending/tls-upstash.md prices: the
//!    commands the guests send (the host's `redis_counts()`) and what the server received,
//!    connection handshake included (`INFO commandstats`), for an idle tick and for a tick that
//!    fires one job and three jobs due at the same instant.
//! 3. Misconfiguration fails cleanly: a wrong password, a plain `redis://` URL to the TLS port
//!    and a `rediss://` URL whose CA the host does not trust each make the API answer 503
//!    `StoreUnavailable` naming the Redis address (password redacted) and the tick return an
//!    error, with no trap; the right settings on the same server answer 200.
//!
//! Needs the components, redis-server built with TLS (Debian's is), the `openssl` CLI and the
//! test venv with funboost 55.0 (scripts/test; or FUNBOOST_EDGE_PYTHON).

mod firing;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use firing::*;
use funboost_test_host::test_support::{spin_variables, wasm_path, RedisServer};
use funboost_test_host::{Host, HostConfig, RedisCounts};
use serde_json::{json, Value};

const PASSWORD: &str = "tls-test-s3cret";

/// The server's per-command call counts (`INFO commandstats`), without the test's own `INFO`
/// and `CONFIG RESETSTAT`. Commands run inside scripts are counted too (under their own names).
fn server_commands(env: &mut Env) -> BTreeMap<String, u64> {
    let info: String = redis::cmd("INFO").arg("commandstats").query(&mut env.conn).expect("INFO commandstats");
    info.lines()
        .filter_map(|line| {
            let (name, stats) = line.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = stats.split(',').find_map(|kv| kv.strip_prefix("calls="))?.parse().ok()?;
            (name != "info" && !name.starts_with("config")).then(|| (name.to_string(), calls))
        })
        .collect()
}

fn reset_server_commands(env: &mut Env) {
    redis::cmd("CONFIG").arg("RESETSTAT").exec(&mut env.conn).expect("CONFIG RESETSTAT");
}

/// What one cron tick cost: the guests' connections and commands, and the server's counts.
struct TickCost {
    guest: RedisCounts,
    server: BTreeMap<String, u64>,
}

/// What redis-rs 0.32 (Spin's and this host's client) sends when it opens a connection to a
/// `rediss://user:password@host:port/7` URL, before the guest's first command: AUTH, SELECT 7
/// and two CLIENT SETINFO (library name and version; Redis before 7.2 refuses them, and they are
/// not in its command stats, but they are sent). With DB 0 (Upstash) there is no SELECT.
const HANDSHAKE_COMMANDS: u64 = 4;

impl TickCost {
    /// Commands the client sent on the wire: each connection's handshake plus the guests'
    /// commands (a script's own calls run inside the server and are not sent).
    fn sent(&self) -> u64 {
        self.guest.connections * HANDSHAKE_COMMANDS + self.guest.commands
    }

    /// Checks the server's stats against the guest's counts: one AUTH and one SELECT per
    /// connection, CLIENT SETINFO twice or refused, and the scripts the guests ran (EVALSHA; an
    /// EVAL only the first time a script runs on a server).
    fn check_server(&self, scripts: u64, what: &str) {
        let calls = |command: &str| self.server.get(command).copied().unwrap_or(0);
        let connections = self.guest.connections;
        assert_eq!((calls("auth"), calls("select"), calls("evalsha") + calls("eval")), (connections, connections, scripts), "{what}: {:?}", self.server);
        assert!([0, 2 * connections].contains(&calls("client|setinfo")), "{what}: {:?}", self.server);
    }
}

async fn measured_tick(env: &mut Env) -> TickCost {
    reset_server_commands(env);
    let before = env.host.redis_counts();
    env.cron_tick().await;
    let guest = env.host.redis_counts() - before;
    TickCost { guest, server: server_commands(env) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_fire_and_run_over_tls_with_a_password() {
    let started = Instant::now();
    let redis = RedisServer::start_tls(PASSWORD).expect("a TLS-only redis-server (is it built with TLS? is openssl installed?)");
    assert!(redis.url(DB).starts_with("rediss://default:"), "{}", redis.url(DB));
    let mut env = Env::start_on(redis, &[]);

    // ---- 2. what ticks cost (before the worker connects: its polling would show in the stats) ----
    // The first tick on a fresh server loads its script (EVALSHA answers NOSCRIPT, then EVAL).
    let first = measured_tick(&mut env).await;
    assert_eq!(first.guest, RedisCounts { connections: 1, commands: 2 }, "the first idle tick loads the claim script");
    let idle = measured_tick(&mut env).await;
    eprintln!("idle tick: guest {:?}; server {:?}", idle.guest, idle.server);
    assert_eq!(idle.guest, RedisCounts { connections: 1, commands: 1 }, "an idle tick is one connection and one EVALSHA");
    idle.check_server(1, "an idle tick");
    // The HTTP tick of hosts without the cron trigger (once a minute, lookahead=60), idle.
    let before = env.host.redis_counts();
    env.http_tick("lookahead=60").await;
    let http_idle = env.host.redis_counts() - before;
    eprintln!("idle HTTP tick with lookahead=60: guest {http_idle:?}");
    assert_eq!(http_idle.connections, 1, "{http_idle:?}");

    env.register_queue("tls_measure", "REDIS");
    let mut fire_ticks = Vec::new();
    // A first fire loads the commit script; the measured ones find it loaded.
    for jobs in [0, 1, 3] {
        let run_at = (env.now_us() / S + 3) * S;
        for n in 0..jobs.max(1) {
            let before = env.host.redis_counts();
            env.add(json!({"queue_name": "tls_measure", "job_id": format!("m{jobs}_{n}"), "trigger": "date", "run_date": shanghai_wall(run_at), "kwargs": {"x": n}}))
                .await;
            let add = env.host.redis_counts() - before;
            assert_eq!(add.connections, 1, "one connection per request: {add:?}");
            if n == 0 && jobs == 1 {
                eprintln!("an add through the API: guest {add:?}");
            }
        }
        let before = env.list_len("tls_measure");
        // Tick until the fire (15 s only detects a hang).
        let deadline = Instant::now() + Duration::from_secs(15);
        let cost = loop {
            assert!(Instant::now() < deadline, "{jobs} job(s) due at {run_at} did not fire");
            let cost = measured_tick(&mut env).await;
            let fired = env.list_len("tls_measure") - before;
            if fired > 0 {
                assert_eq!(fired, jobs.max(1), "all {jobs} fires in one tick");
                break cost;
            }
            assert_eq!(cost.guest.commands, 1, "a tick before the fire is idle: {:?}", cost.guest);
            tokio::time::sleep(Duration::from_millis(500)).await;
        };
        if jobs == 0 {
            continue;
        }
        eprintln!("tick firing {jobs} job(s) due at one instant: guest {:?}; server {:?}", cost.guest, cost.server);
        assert_eq!(cost.guest, RedisCounts { connections: 1, commands: 2 }, "the claim and the commit, one EVALSHA each, for {jobs} fire(s)");
        cost.check_server(2, &format!("a tick firing {jobs} job(s)"));
        fire_ticks.push((jobs, cost));
    }
    eprintln!(
        "measured: an idle tick sends {} guest command(s), {} on the wire with the handshake; a tick that fires 1 or 3 jobs due at one instant {} / {}",
        idle.guest.commands,
        idle.sent(),
        fire_ticks[0].1.guest.commands,
        fire_ticks[0].1.sent()
    );

    // ---- 1. add → fire → a real funboost consumer over TLS with the password ----
    let worker = Worker::start(&mut env, &json!([{"queue": "tls_q", "broker_kind": "REDIS"}])).await;
    let run_at = (env.now_us() / S + 3) * S;
    let added = env.add(json!({"queue_name": "tls_q", "job_id": "over_tls", "trigger": "date", "run_date": shanghai_wall(run_at), "args": [20, 22]})).await;
    assert_eq!(added["job_id"], json!("over_tls"), "{added}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let results = loop {
        let results = worker.results(&mut env);
        if !results.is_empty() {
            break results;
        }
        assert!(Instant::now() < deadline, "funboost did not run the job within 30 s:\n{}", worker.log_tail());
        env.cron_tick().await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    // A few more ticks: the date job must not fire again. The metrics count what the ticks
    // published, so no wait for a second run that would not come is needed.
    for _ in 0..3 {
        env.cron_tick().await;
    }
    assert_eq!(env.metric("funboost_edge_fires_total{queue=\"tls_q\"}").await, Some(1.0), "published once");
    let results = if results.len() == 1 { worker.results(&mut env) } else { results };
    assert_eq!(results.len(), 1, "exactly one run: {results:?}");
    let run = &results[0];
    assert_eq!((&run["queue"], &run["kwargs"]), (&json!("tls_q"), &json!({"x": 20, "y": 22})), "{run}");
    assert_eq!(run["fire_id"], json!(format!("tls_q:over_tls:{run_at}")), "{run}");
    assert!(env.get_job("tls_q", "over_tls", "redis").await.is_none(), "a date job is gone after its fire");
    worker.stop(&mut env).await;
    eprintln!("add → fire → run over TLS with a password: {:?}", started.elapsed());
}

/// A failing Redis setting: the API answers 503 naming the store and the address, without the
/// password; the tick fails with an error, not a trap; neither hangs.
async fn assert_fails_cleanly(host: &Host, what: &str, port: u16) {
    for (method, path, body) in [
        ("GET", "get_timing_jobs?queue_name=q", Vec::new()),
        ("POST", "add_timing_job", json!({"queue_name": "q", "trigger": "interval", "seconds": 5, "kwargs": {"x": 1}}).to_string().into_bytes()),
        ("GET", "health", Vec::new()),
    ] {
        let started = Instant::now();
        let headers: &[(&str, &str)] = if body.is_empty() { &[] } else { &[("content-type", "application/json")] };
        let response = host.request(method, &format!("/funboost/{path}"), headers, body).await.unwrap_or_else(|e| panic!("{what}: {method} {path}: {e:#}"));
        let envelope: Value = serde_json::from_slice(&response.body).unwrap_or_else(|e| panic!("{what}: {method} {path}: not JSON ({e}): {}", response.text()));
        assert_eq!(
            (response.status, &envelope["code"], &envelope["error"]),
            (503, &json!(5030), &json!("StoreUnavailable")),
            "{what}: {method} {path}: {envelope}"
        );
        let message = envelope["msg"].as_str().unwrap_or_default();
        assert!(message.starts_with("the job store is unreachable: "), "{what}: {envelope}");
        // The open route says only that the store is unreachable; the others say where.
        assert_eq!(message.contains(&format!("127.0.0.1:{port}")), path != "health", "{what}: names the address on authorized routes only: {envelope}");
        assert!(!message.contains(PASSWORD) && !message.contains("wrong-password"), "{what}: leaks the password: {envelope}");
        // Only detects a hang (a connection left waiting instead of failing): how long a
        // failing request takes is not this test's business.
        assert!(started.elapsed() < Duration::from_secs(20), "{what}: {method} {path} hung for {:?}", started.elapsed());
        eprintln!("{what}: {method} {path}: {message}");
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let tick = host.cron(now).await.unwrap_or_else(|e| panic!("{what}: the tick trapped: {e:#}"));
    let error = tick.expect_err(&format!("{what}: the tick succeeded"));
    assert!(!error.contains(PASSWORD) && !error.contains("wrong-password"), "{what}: the tick's error leaks the password: {error}");
    eprintln!("{what}: tick: {error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_plain_redis_or_an_untrusted_ca_fail_cleanly() {
    let redis = RedisServer::start_tls(PASSWORD).expect("a TLS-only redis-server");
    let port = redis.port();
    let ca = redis.ca_pem().expect("the test CA").to_vec();
    let host = |url: String, trust_ca: bool| {
        let host = Host::new(HostConfig {
            api_wasm: wasm_path("funboost_api"),
            ticker_wasm: Some(wasm_path("funboost_ticker")),
            variables: spin_variables(&url, &[]),
            ..HostConfig::default()
        })
        .expect("Host::new");
        if trust_ca {
            host.with_redis_ca(&ca).expect("the test CA")
        } else {
            host
        }
    };

    // The right settings on the same server: 200.
    let good = host(redis.url(DB), true);
    let response = good.request("GET", "/funboost/health", &[], Vec::new()).await.expect("health");
    assert_eq!(response.status, 200, "{}", response.text());
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    assert_eq!(good.cron(now).await.expect("tick"), Ok(()));

    let cases = [
        ("wrong password", format!("rediss://default:wrong-password@127.0.0.1:{port}/{DB}"), true),
        ("plain redis:// to the TLS port", format!("redis://default:{PASSWORD}@127.0.0.1:{port}/{DB}"), true),
        ("rediss:// with a CA the host does not trust", redis.url(DB), false),
    ];
    for (what, url, trust_ca) in cases {
        assert_fails_cleanly(&host(url, trust_ca), what, port).await;
    }

    // `with_redis_ca` refuses what is not a PEM certificate.
    let not_pem = Host::new(HostConfig {
        api_wasm: wasm_path("funboost_api"),
        ticker_wasm: None,
        variables: spin_variables(&redis.url(DB), &[]),
        ..HostConfig::default()
    })
    .expect("Host::new")
    .with_redis_ca(b"not a certificate");
    assert!(not_pem.is_err(), "a CA without a certificate is refused");
}
