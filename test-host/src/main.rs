//! A stand-in for `spin up`:
//!
//! ```text
//! funboost-test-host serve --api <funboost_api.wasm> [--ticker <funboost_ticker.wasm>]
//!     [--web <funboost_web.wasm>] [--http-tick <funboost_http_tick.wasm>]
//!     [--listen 127.0.0.1:3000] [--var name=value ...]
//!     [--tick-every-ms N] [--clock-skew-ms N]
//!     [--crash-chance P [--crash-only-on TEXT]] [--redis-ca <ca.pem>]
//! ```
//!
//! Serves the HTTP component under `/funboost/...` (and, with `--web`, the management page
//! component on `/funboost/ui` and `/funboost/ui/...`, with `--http-tick`, the HTTP tick
//! component on `/funboost/tick`: the routes spin.toml gives them) and,
//! with `--ticker` and `--tick-every-ms`, calls the cron export every N ms as the trigger-cron
//! plugin does with `* * * * * *` and N = 1000: on the wall clock's multiples of N, each call
//! in a fresh instance, started whether or not the previous one has returned (see `Host::tick_every`). `--clock-skew-ms` (may be negative) moves the guests' wall clock and the cron
//! event's timestamp, like a replica whose clock is off. `--crash-chance P` aborts the process
//! with probability P before and after each Redis command of a guest, or only those whose name
//! or script (an EVAL's text, a script's first argument) contains `--crash-only-on` TEXT (crash tests; see
//! `Host::with_crash_chance`). `--redis-ca` makes `rediss://` connections trust only the CA
//! certificates in that PEM file instead of the system's roots (`Host::with_redis_ca`). Prints
//! `listening on http://<addr>` once ready; runs until killed.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use funboost_test_host::{Host, HostConfig};

const USAGE: &str = "usage: funboost-test-host serve --api <wasm> [--ticker <wasm>] [--web <wasm>] [--http-tick <wasm>] [--listen 127.0.0.1:3000] [--var name=value ...] [--tick-every-ms N] [--clock-skew-ms N] [--crash-chance P [--crash-only-on TEXT]] [--redis-ca <ca.pem>]";

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("funboost-test-host: {e:#}");
        std::process::exit(2);
    }
}

async fn run() -> Result<()> {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("serve") => {}
        Some("-h") | Some("--help") => {
            println!("{USAGE}");
            return Ok(());
        }
        _ => bail!("{USAGE}"),
    }
    let mut api = None;
    let mut ticker = None;
    let mut web = None;
    let mut http_tick = None;
    let mut listen: SocketAddr = "127.0.0.1:3000".parse()?;
    let mut variables = HashMap::new();
    let mut tick_every_ms = None;
    let mut clock_skew_ms: i64 = 0;
    let mut crash_chance = 0.0;
    let mut crash_only_on = None;
    let mut redis_ca = None;
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value\n{USAGE}"));
        match flag.as_str() {
            "--api" => api = Some(PathBuf::from(value()?)),
            "--ticker" => ticker = Some(PathBuf::from(value()?)),
            "--web" => web = Some(PathBuf::from(value()?)),
            "--http-tick" => http_tick = Some(PathBuf::from(value()?)),
            "--listen" => listen = value()?.parse().context("--listen needs host:port")?,
            "--var" => {
                let pair = value()?;
                let (name, val) = pair.split_once('=').with_context(|| format!("--var needs name=value, got {pair:?}"))?;
                variables.insert(name.to_string(), val.to_string());
            }
            "--tick-every-ms" => {
                let ms: u64 = value()?.parse().context("--tick-every-ms needs a whole number")?;
                if ms == 0 {
                    bail!("--tick-every-ms must be positive");
                }
                tick_every_ms = Some(ms);
            }
            "--clock-skew-ms" => clock_skew_ms = value()?.parse().context("--clock-skew-ms needs a whole number")?,
            "--crash-chance" => {
                crash_chance = value()?.parse().context("--crash-chance needs a number")?;
                if !(0.0..=1.0).contains(&crash_chance) {
                    bail!("--crash-chance must be between 0 and 1");
                }
            }
            "--crash-only-on" => crash_only_on = Some(value()?),
            "--redis-ca" => redis_ca = Some(PathBuf::from(value()?)),
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    let api = api.with_context(|| format!("--api is required\n{USAGE}"))?;
    if tick_every_ms.is_some() && ticker.is_none() {
        bail!("--tick-every-ms needs --ticker");
    }

    let mut host = Host::new(HostConfig { api_wasm: api, ticker_wasm: ticker, web_wasm: web, http_tick_wasm: http_tick, variables })?
        .with_clock_skew(clock_skew_ms)
        .with_crash_chance(crash_chance, crash_only_on.as_deref());
    if let Some(path) = redis_ca {
        let pem = std::fs::read(&path).with_context(|| format!("cannot read --redis-ca {}", path.display()))?;
        host = host.with_redis_ca(&pem).with_context(|| format!("--redis-ca {}", path.display()))?;
    }
    let (addr, server) = host.serve(listen).await?;
    println!("listening on http://{addr}");
    if let Some(world) = host.cron_world() {
        println!("ticker exports {world}");
    }

    if let Some(ms) = tick_every_ms {
        tokio::spawn(host.clone().tick_every(Duration::from_millis(ms)));
    }
    server.await.context("server task failed")?;
    Ok(())
}
