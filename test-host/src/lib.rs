//! Runs the real funboost-edge .wasm components the way `spin up` does, without the spin CLI:
//! the HTTP components (`wasi:http/incoming-handler@0.2.0`, spin-sdk 5.2: the API and, when given,
//! the management page, each on its spin.toml routes) in-process or over TCP, and the cron component (either `spin:cron@3.0.0` async or `fermyon:spin-cron@2.0.0`
//! sync). The guests get WASI p2, `wasi:http` (outbound HTTP denied), and Spin's 2.0.0
//! interfaces: Redis against a real redis-server (see [`spin_redis`]), variables from
//! [`HostConfig::variables`], and one in-process key-value store (`default`) shared by every
//! instance of a [`Host`], like Spin's default SQLite store under `spin up`.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use funboost_test_host::{test_support, Host, HostConfig};
//! let redis = test_support::RedisServer::start()?;
//! let host = Host::new(HostConfig {
//!     api_wasm: test_support::wasm_path("funboost_api"),
//!     ticker_wasm: Some(test_support::wasm_path("funboost_ticker")),
//!     web_wasm: Some(test_support::wasm_path("funboost_web")),
//!     http_tick_wasm: Some(test_support::wasm_path("funboost_http_tick")),
//!     variables: [("redis_url".to_string(), redis.url(7))].into(),
//! })?;
//! let response = host.request("GET", "/funboost/health", &[], vec![]).await?;
//! assert_eq!(response.status, 200);
//! host.cron(1_764_000_000).await?.map_err(anyhow::Error::msg)?;
//! # Ok(()) }
//! ```

pub mod spin_redis;
pub mod test_support;

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Body;
use tokio::task::JoinHandle;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, HasSelf, Linker, Resource, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{HostWallClock, WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

pub(crate) mod bindings {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "funboost:test-host/spin-imports",
        imports: { default: async },
        additional_derives: [PartialEq, Eq],
        with: {
            "fermyon:spin/redis.connection": crate::spin_redis::RedisConnection,
            "fermyon:spin/key-value.store": crate::KvStore,
        },
    });
}

/// `fermyon:spin-cron@2.0.0`: sync `handle-cron-event` (trigger-cron 0.3.0 to 0.4.2).
mod cron_v2 {
    wasmtime::component::bindgen!({
        path: "../wit/cron-v2",
        world: "spin-cron",
        exports: { default: async },
    });
}

/// `spin:cron@3.0.0`: `async func handle-cron-event` (trigger-cron 0.5 and later).
mod cron_v3 {
    wasmtime::component::bindgen!({
        path: "../wit/cron-v3",
        world: "spin-cron",
    });
}

use bindings::fermyon::spin::{key_value, variables};

/// The route prefix of the HTTP component in spin.toml (`/funboost/...`).
pub const ROUTE_PREFIX: &str = "/funboost";
/// spin.toml's routes of the web component (`web`): the management page, exact and everything
/// below, and the OpenAPI document.
pub const WEB_ROUTES: [&str; 3] = ["/funboost/ui", "/funboost/ui/...", "/funboost/openapi.json"];
/// spin.toml's route of the HTTP tick component (`http-tick`).
pub const HTTP_TICK_ROUTE: &str = "/funboost/tick";
/// `spin-client-addr` of [`Host::request`] calls that do not pass their own.
pub const DEFAULT_CLIENT_ADDR: &str = "127.0.0.1:50123";
/// `Host` header (and authority of `spin-full-url`) of [`Host::request`] calls without one.
pub const DEFAULT_HOST_HEADER: &str = "127.0.0.1:3000";

/// What to run.
#[derive(Clone, Debug, Default)]
pub struct HostConfig {
    /// The HTTP component (`funboost_api.wasm`).
    pub api_wasm: PathBuf,
    /// The cron component (`funboost_ticker.wasm`), either cron export.
    pub ticker_wasm: Option<PathBuf>,
    /// The management page component (`funboost_web.wasm`), served on [`WEB_ROUTES`]; without
    /// it those paths go to the API component like the rest of `/funboost/...`.
    pub web_wasm: Option<PathBuf>,
    /// The HTTP tick component (`funboost_http_tick.wasm`), served on [`HTTP_TICK_ROUTE`];
    /// without it the API component answers that path with a 404 naming the component.
    pub http_tick_wasm: Option<PathBuf>,
    /// Spin variables (lower_snake_case names) seen by both components; a name not in the map
    /// is `Undefined`, as for a variable the component's manifest section does not map.
    pub variables: HashMap<String, String>,
}

/// A response of the HTTP component.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HostResponse {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body as UTF-8 text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// The compiled components and the state shared by all their instances. Cheap to clone.
#[derive(Clone)]
pub struct Host {
    inner: Arc<Inner>,
    /// Added to the guests' WASI wall clock (see [`Host::with_clock_skew`]).
    clock_skew_ms: i64,
    /// Fault injection (see [`Host::with_crash_chance`]).
    crash: Option<Arc<CrashInjection>>,
    /// The CA trusted for `rediss://` (see [`Host::with_redis_ca`]).
    redis_ca: Option<Arc<redis::TlsCertificates>>,
}

/// [`Host::with_crash_chance`]'s settings.
pub(crate) struct CrashInjection {
    pub(crate) chance: f64,
    pub(crate) only_on: Option<String>,
}

struct Inner {
    api: ProxyPre<State>,
    web: Option<ProxyPre<State>>,
    http_tick: Option<ProxyPre<State>>,
    ticker: Option<Ticker>,
    shared: Arc<Shared>,
}

enum Ticker {
    V3(cron_v3::SpinCronPre<State>),
    V2(cron_v2::SpinCronPre<State>),
}

/// Shared by every instance of one [`Host`].
struct Shared {
    variables: HashMap<String, String>,
    /// The `default` key-value store.
    kv: Mutex<BTreeMap<String, Vec<u8>>>,
    redis_counts: SharedRedisCounts,
}

#[derive(Default)]
struct SharedRedisCounts {
    connections: AtomicU64,
    commands: AtomicU64,
}

/// What the guests of one [`Host`] (and its clones) sent over `fermyon:spin/redis` so far
/// ([`Host::redis_counts`]): each command is one round trip to Redis, each connection one more.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RedisCounts {
    pub connections: u64,
    pub commands: u64,
}

impl std::ops::Sub for RedisCounts {
    type Output = RedisCounts;
    fn sub(self, earlier: RedisCounts) -> RedisCounts {
        RedisCounts { connections: self.connections - earlier.connections, commands: self.commands - earlier.commands }
    }
}

impl Host {
    /// Compiles each component once (or loads it from the compile cache, see
    /// [`load_component`]) and pre-instantiates it. Fails if a component imports something this
    /// host does not provide, or if the ticker exports neither cron world.
    pub fn new(config: HostConfig) -> Result<Host> {
        let engine = shared_engine()?;
        let linker = linker(&engine)?;

        let api = http_component(&engine, &linker, &config.api_wasm)?;
        let web = config.web_wasm.as_deref().map(|path| http_component(&engine, &linker, path)).transpose()?;
        let http_tick = config.http_tick_wasm.as_deref().map(|path| http_component(&engine, &linker, path)).transpose()?;

        let ticker = match &config.ticker_wasm {
            None => None,
            Some(path) => {
                let component = shared_component(&engine, path)?;
                let pre = linker.instantiate_pre(&component).map_err(wasmtime_error).with_context(|| format!("cannot link {}", path.display()))?;
                // The two worlds export the same name with the same parameter and result
                // types; wasmtime's type check accepts either binding for either component, so
                // look at whether the export is an `async func` (3.0.0) or not (2.0.0).
                let export = component.component_type().get_export(&engine, "handle-cron-event").map(|e| e.ty);
                let ticker = match export {
                    Some(ComponentItem::ComponentFunc(f)) if f.async_() => Ticker::V3(
                        cron_v3::SpinCronPre::new(pre).map_err(wasmtime_error).with_context(|| format!("{} does not match spin:cron@3.0.0", path.display()))?,
                    ),
                    Some(ComponentItem::ComponentFunc(_)) => Ticker::V2(
                        cron_v2::SpinCronPre::new(pre)
                            .map_err(wasmtime_error)
                            .with_context(|| format!("{} does not match fermyon:spin-cron@2.0.0", path.display()))?,
                    ),
                    _ => bail!("{} exports no handle-cron-event function", path.display()),
                };
                Some(ticker)
            }
        };

        let shared = Arc::new(Shared { variables: config.variables, kv: Mutex::new(BTreeMap::new()), redis_counts: SharedRedisCounts::default() });
        Ok(Host { inner: Arc::new(Inner { api, web, http_tick, ticker, shared }), clock_skew_ms: 0, crash: None, redis_ca: None })
    }

    /// This host with the guests' wall clock (`wasi:clocks/wall-clock`) moved by `skew_ms`
    /// milliseconds (negative: behind), like a replica whose clock is off. The monotonic clock
    /// is untouched. Clones share the compiled components and the key-value store.
    pub fn with_clock_skew(mut self, skew_ms: i64) -> Host {
        self.clock_skew_ms = skew_ms;
        self
    }

    /// Fault injection for crash tests: before and after each `execute` a guest sends over
    /// `fermyon:spin/redis` (e.g. between the tick's read and commit scripts, or after a commit
    /// was applied but before its reply reached the guest), abort the whole process with
    /// probability `chance` (0 to 1), after printing `funboost-test-host: injected crash
    /// <before|after> <command>` to stderr (for EVAL and EVALSHA, the command and the script's
    /// first argument, which for funboost-edge's scripts is their `name/layout` tag). With
    /// `only_on`, only commands whose name, EVAL script or script tag contains that text. A
    /// chance of 0 (the default) never crashes.
    pub fn with_crash_chance(mut self, chance: f64, only_on: Option<&str>) -> Host {
        self.crash = (chance > 0.0).then(|| Arc::new(CrashInjection { chance, only_on: only_on.map(str::to_string) }));
        self
    }

    /// This host with the guests' `rediss://` connections trusting only the CA certificates in
    /// `pem` (PEM text, one or more certificates) instead of the system's roots, for a Redis
    /// whose certificate a private CA signed (the TLS tests make a throwaway one). The server's
    /// certificate is still verified, chain and host name; `redis://` URLs are unaffected. Fails
    /// if `pem` holds no certificate. Spin has no such option: there, a private CA goes into the
    /// system's trust store or `SSL_CERT_FILE`, which this host reads too when no CA is given.
    pub fn with_redis_ca(mut self, pem: &[u8]) -> Result<Host> {
        self.redis_ca = Some(Arc::new(spin_redis::ca_certificates(pem)?));
        Ok(self)
    }

    /// Redis connections opened and commands sent by this host's guests so far (benchmarks
    /// count round trips with it).
    pub fn redis_counts(&self) -> RedisCounts {
        let counts = &self.inner.shared.redis_counts;
        RedisCounts { connections: counts.connections.load(Ordering::Relaxed), commands: counts.commands.load(Ordering::Relaxed) }
    }

    /// The skew set by [`Host::with_clock_skew`] (0 by default).
    pub fn clock_skew_ms(&self) -> i64 {
        self.clock_skew_ms
    }

    /// The guests' wall clock: the host's, plus the skew, in Unix seconds (what a skewed
    /// trigger would pass as the cron event's `timestamp`).
    pub fn guest_unix_secs(&self) -> u64 {
        SkewedWallClock(self.clock_skew_ms).now().as_secs()
    }

    /// Which cron world the ticker exports: `Some("spin:cron@3.0.0")`,
    /// `Some("fermyon:spin-cron@2.0.0")`, or `None` without a ticker.
    pub fn cron_world(&self) -> Option<&'static str> {
        match self.inner.ticker {
            Some(Ticker::V3(_)) => Some("spin:cron@3.0.0"),
            Some(Ticker::V2(_)) => Some("fermyon:spin-cron@2.0.0"),
            None => None,
        }
    }

    /// One in-process HTTP request (fresh instance, as Spin does per request).
    /// `path_and_query` is the full path, e.g. `/funboost/get_timing_jobs?queue_name=q`; it goes
    /// to the component whose route matches (see [`Host::route`]); a path no route matches gets
    /// Spin's 404 without reaching a component. The `spin-*`
    /// headers are appended as Spin appends them; a `spin-client-addr` passed in `headers` is
    /// taken as the peer's address (what Spin appends; default [`DEFAULT_CLIENT_ADDR`]), a `host`
    /// passed is kept (default [`DEFAULT_HOST_HEADER`]).
    pub async fn request(&self, method: &str, path_and_query: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Result<HostResponse> {
        let mut builder = hyper::Request::builder().method(method).uri(path_and_query);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let has = |name: &str| headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
        if !has("host") {
            builder = builder.header("host", DEFAULT_HOST_HEADER);
        }
        let client_addr = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("spin-client-addr"))
            .map(|(_, v)| v.to_string())
            .unwrap_or_else(|| DEFAULT_CLIENT_ADDR.to_string());
        let body = Full::new(Bytes::from(body)).map_err(|never: Infallible| -> wasmtime_wasi_http::Error { match never {} });
        let request = builder.body(body).context("invalid request")?;
        let response = self.dispatch(request, &client_addr).await?;

        let status = response.status().as_u16();
        let headers = response.headers().iter().map(|(n, v)| (n.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned())).collect();
        let body = response.into_body().collect().await.map_err(|e| anyhow!("reading the component's response body: {e:?}"))?.to_bytes().to_vec();
        Ok(HostResponse { status, headers, body })
    }

    /// Creates and drops one instance of the HTTP component, which Spin does for every request
    /// (benchmarks time it apart from the handler).
    pub async fn instantiate_api(&self) -> Result<()> {
        let mut store = self.store();
        self.inner.api.instantiate_async(&mut store).await.map_err(wasmtime_error)?;
        Ok(())
    }

    /// Runs `handle-cron-event` once in a fresh ticker instance with `metadata.timestamp =
    /// timestamp`. The outer error is a host failure or a trap; the inner one is the
    /// component's `error::other(message)`.
    pub async fn cron(&self, timestamp: u64) -> Result<std::result::Result<(), String>> {
        let ticker = self.inner.ticker.as_ref().context("this Host has no ticker component")?;
        let mut store = self.store();
        match ticker {
            Ticker::V3(pre) => {
                let instance = pre.instantiate_async(&mut store).await.map_err(wasmtime_error)?;
                let metadata = cron_v3::spin::cron::cron_types::Metadata { timestamp };
                let result = store
                    .run_concurrent(async move |accessor| instance.call_handle_cron_event(accessor, metadata).await)
                    .await
                    .map_err(wasmtime_error)?
                    .map_err(wasmtime_error)?;
                Ok(result.map_err(|cron_v3::spin::cron::cron_types::Error::Other(message)| message))
            }
            Ticker::V2(pre) => {
                let instance = pre.instantiate_async(&mut store).await.map_err(wasmtime_error)?;
                let metadata = cron_v2::fermyon::spin_cron::cron_types::Metadata { timestamp };
                let result = instance.call_handle_cron_event(&mut store, metadata).await.map_err(wasmtime_error)?;
                Ok(result.map_err(|cron_v2::fermyon::spin_cron::cron_types::Error::Other(message)| message))
            }
        }
    }

    /// Calls the cron export every `period` as trigger-cron does with `* * * * * *` and a period
    /// of a second. Its scheduler (tokio-cron-scheduler) looks for due jobs every 500 ms from
    /// when it started, so each second's call starts at the first look after the second
    /// begins, up to half a second late, at a phase that stays put; each call runs in a task of
    /// its own, so calls overlap whenever one takes longer than the period (the ticker waits
    /// inside its call to publish fires on their instant). Boundaries are the guests' wall
    /// clock's multiples of `period`; shorter periods are looked for every `period / 2`.
    /// Failures are printed, as the plugin logs them. Runs until the task is dropped.
    pub async fn tick_every(self, period: Duration) {
        let period_us = period.as_micros().max(2);
        let mut looks = tokio::time::interval(period.min(Duration::from_millis(1000)) / 2);
        looks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let wall_us = || SkewedWallClock(self.clock_skew_ms).now().as_micros();
        let mut next_us = (wall_us() / period_us + 1) * period_us;
        loop {
            looks.tick().await;
            let now_us = wall_us();
            if now_us < next_us {
                continue;
            }
            let timestamp = (next_us / 1_000_000) as u64;
            next_us = (now_us / period_us + 1) * period_us;
            let host = self.clone();
            tokio::spawn(async move {
                match host.cron(timestamp).await {
                    Ok(Ok(())) => {}
                    Ok(Err(message)) => eprintln!("funboost-test-host: tick failed: {message}"),
                    Err(e) => eprintln!("funboost-test-host: tick trapped: {e:#}"),
                }
            });
        }
    }

    /// Serves the HTTP components over HTTP/1.1 on `addr` (use port 0 for a free port) until the
    /// returned task is aborted. Requests go to the component whose route matches (see
    /// [`Host::route`]) with `spin-client-addr` = the real peer address; anything else gets 404.
    pub async fn serve(&self, addr: SocketAddr) -> Result<(SocketAddr, JoinHandle<()>)> {
        let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
        let local = listener.local_addr()?;
        let host = self.clone();
        let task = tokio::spawn(async move {
            loop {
                let (stream, peer) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        eprintln!("funboost-test-host: accept failed: {e}");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let host = host.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                        let host = host.clone();
                        async move { Ok::<_, Infallible>(host.serve_one(request, peer).await) }
                    });
                    let io = wasmtime_wasi_http::io::TokioIo::new(stream);
                    if let Err(e) = hyper::server::conn::http1::Builder::new().keep_alive(true).serve_connection(io, service).await {
                        eprintln!("funboost-test-host: connection from {peer}: {e}");
                    }
                });
            }
        });
        Ok((local, task))
    }

    async fn serve_one(&self, request: hyper::Request<hyper::body::Incoming>, peer: SocketAddr) -> hyper::Response<HyperOutgoingBody> {
        // Like Spin, the client's own spin-* headers are kept and Spin's are appended after them.
        match self.dispatch(request, &peer.to_string()).await {
            Ok(response) => response,
            Err(e) => {
                eprintln!("funboost-test-host: request failed: {e:#}");
                let body = Full::new(Bytes::from("Internal Server Error")).map_err(|never: Infallible| -> wasmtime_wasi_http::Error { match never {} });
                let mut response = hyper::Response::new(body.boxed_unsync());
                *response.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
                response
            }
        }
    }

    /// Routes like Spin's HTTP trigger and runs the component in a fresh instance. The guest
    /// runs in its own task so that it can stream the body after the headers.
    async fn dispatch<B>(&self, mut request: hyper::Request<B>, client_addr: &str) -> Result<hyper::Response<HyperOutgoingBody>>
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<wasmtime_wasi_http::Error>,
    {
        let path = request.uri().path().to_string();
        let Some(matched) = self.route(&path) else {
            let body = Full::new(Bytes::new()).map_err(|never: Infallible| -> wasmtime_wasi_http::Error { match never {} });
            let mut response = hyper::Response::new(body.boxed_unsync());
            *response.status_mut() = hyper::StatusCode::NOT_FOUND;
            return Ok(response);
        };
        let host_header = request.headers().get("host").and_then(|v| v.to_str().ok()).unwrap_or("localhost").to_string();
        let path_and_query = request.uri().path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| path.clone());
        let full_url = format!("http://{host_header}{path_and_query}");
        let spin_headers = [
            ("spin-path-info", matched.path_info),
            ("spin-full-url", full_url.clone()),
            ("spin-matched-route", matched.route.to_string()),
            ("spin-base-path", "/".to_string()),
            ("spin-raw-component-route", matched.route.to_string()),
            ("spin-component-route", matched.route.trim_end_matches("/...").to_string()),
            ("spin-client-addr", client_addr.to_string()),
        ];
        // Spin (crates/trigger-http, `prepare_request_headers`) appends these after the
        // client's headers without removing any the client sent, so a guest must read the last.
        for (name, value) in spin_headers {
            let value = hyper::header::HeaderValue::from_str(&value).with_context(|| format!("invalid {name} header"))?;
            request.headers_mut().append(name, value);
        }
        // wasi:http needs an absolute URI (Spin passes the full URL).
        *request.uri_mut() = full_url.parse().with_context(|| format!("invalid URL {full_url}"))?;

        let mut store = self.store();
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let incoming = store.data_mut().http().new_incoming_request(Scheme::Http, request).map_err(wasmtime_error)?;
        let outparam = store.data_mut().http().new_response_outparam(sender).map_err(wasmtime_error)?;
        let pre = matched.component.clone();
        let task = tokio::spawn(async move {
            let proxy = pre.instantiate_async(&mut store).await.map_err(wasmtime_error)?;
            proxy.wasi_http_incoming_handler().call_handle(&mut store, incoming, outparam).await.map_err(wasmtime_error)
        });
        match receiver.await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(code)) => bail!("the component answered with wasi:http error {code:?}"),
            Err(_) => {
                let e = match task.await {
                    Ok(Ok(())) => anyhow!("the component returned without setting a response"),
                    Ok(Err(e)) => e,
                    Err(e) => anyhow!(e),
                };
                Err(e.context("the HTTP component failed"))
            }
        }
    }

    /// The route of spin.toml that serves `path`, as Spin's HTTP trigger picks it: an exact
    /// route (`/funboost/ui`) matches only its own path; a wildcard (`/funboost/...`) matches its
    /// prefix and everything below it; an exact match wins, then the longest wildcard. The
    /// routes are the API's `/funboost/...` and, with a web component, [`WEB_ROUTES`], with an
    /// HTTP tick component, [`HTTP_TICK_ROUTE`].
    pub fn route(&self, path: &str) -> Option<MatchedRoute<'_>> {
        let api_route: (&'static str, &ProxyPre<State>) = ("/funboost/...", &self.inner.api);
        let web_routes = self.inner.web.iter().flat_map(|web| WEB_ROUTES.map(|route| (route, web)));
        let http_tick_route = self.inner.http_tick.iter().map(|http_tick| (HTTP_TICK_ROUTE, http_tick));
        let routes: Vec<(&'static str, &ProxyPre<State>)> = std::iter::once(api_route).chain(web_routes).chain(http_tick_route).collect();
        if let Some(&(route, component)) = routes.iter().find(|(route, _)| !route.ends_with("/...") && *route == path) {
            return Some(MatchedRoute { route, path_info: String::new(), component });
        }
        routes
            .iter()
            .filter_map(|&(route, component)| {
                let prefix = route.strip_suffix("/...")?;
                let rest = path.strip_prefix(prefix)?;
                (rest.is_empty() || rest.starts_with('/')).then(|| (prefix.len(), MatchedRoute { route, path_info: rest.to_string(), component }))
            })
            .max_by_key(|(length, _)| *length)
            .map(|(_, matched)| matched)
    }

    fn store(&self) -> Store<State> {
        let engine = self.inner.api.engine();
        let mut wasi = WasiCtx::builder();
        wasi.inherit_stdout().inherit_stderr();
        if self.clock_skew_ms != 0 {
            wasi.wall_clock(SkewedWallClock(self.clock_skew_ms));
        }
        let wasi = wasi.build();
        Store::new(
            engine,
            State {
                table: ResourceTable::new(),
                wasi,
                http: WasiHttpCtx::new(),
                hooks: DenyOutboundHttp,
                shared: self.inner.shared.clone(),
                crash: self.crash.clone(),
                redis_ca: self.redis_ca.clone(),
            },
        )
    }
}

/// What [`Host::route`] picked for a path.
pub struct MatchedRoute<'a> {
    /// The route as spin.toml writes it (`/funboost/...`, `/funboost/ui`).
    pub route: &'static str,
    /// `spin-path-info`: the path below a wildcard route's prefix (`/app.js`), empty for an
    /// exact match.
    pub path_info: String,
    component: &'a ProxyPre<State>,
}

impl MatchedRoute<'_> {
    /// Whether the API component serves the route (otherwise the web or the HTTP tick component does).
    pub fn is_api(&self) -> bool {
        self.route == "/funboost/..."
    }
}

/// Compiles (or loads) an HTTP component and checks that it exports `wasi:http/incoming-handler`.
fn http_component(engine: &Engine, linker: &Linker<State>, wasm: &Path) -> Result<ProxyPre<State>> {
    let component = shared_component(engine, wasm)?;
    let pre = linker.instantiate_pre(&component).map_err(wasmtime_error).with_context(|| format!("cannot link {}", wasm.display()))?;
    ProxyPre::new(pre).map_err(wasmtime_error).with_context(|| format!("{} does not export wasi:http/incoming-handler", wasm.display()))
}

/// The host's wall clock moved by a number of milliseconds.
struct SkewedWallClock(i64);

impl HostWallClock for SkewedWallClock {
    fn resolution(&self) -> std::time::Duration {
        wasmtime_wasi::clocks::WallClock::new().resolution()
    }

    fn now(&self) -> std::time::Duration {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let skew = std::time::Duration::from_millis(self.0.unsigned_abs());
        if self.0 >= 0 {
            now + skew
        } else {
            now.saturating_sub(skew)
        }
    }
}

/// The linker: WASI p2, wasi:http types (outbound requests denied), Spin's 2.0.0 interfaces.
fn linker(engine: &Engine) -> Result<Linker<State>> {
    let mut linker = Linker::<State>::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(wasmtime_error)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).map_err(wasmtime_error)?;
    bindings::SpinImports::add_to_linker::<State, HasSelf<State>>(&mut linker, |state| state).map_err(wasmtime_error)?;
    Ok(linker)
}

/// The process-wide engine (component-model async on, for the 3.0.0 cron export).
fn shared_engine() -> Result<Engine> {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    if let Some(engine) = ENGINE.get() {
        return Ok(engine.clone());
    }
    let mut config = wasmtime::Config::new();
    config.wasm_component_model_async(true);
    // Spin instantiates with wasmtime's pooling allocator (instance slots and linear memories
    // are reused, so a fresh instance per request is cheap); without it, every instance maps
    // and faults in new memory. Sized for this host's tests and benchmarks: 200 instances at
    // once, 256 MiB of linear memory each.
    let mut pooling = wasmtime::PoolingAllocationConfig::new();
    pooling
        .total_component_instances(200)
        .total_core_instances(2_000)
        .max_core_instances_per_component(20)
        .total_memories(200)
        .total_tables(2_000)
        .total_stacks(200)
        .max_memory_size(256 << 20);
    config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pooling));
    let engine = Engine::new(&config).map_err(wasmtime_error)?;
    Ok(ENGINE.get_or_init(|| engine).clone())
}

/// [`load_component`] once per .wasm content and process: the `Host`s of parallel tests share
/// the compiled component (the lock makes them wait for one compile instead of each compiling).
fn shared_component(engine: &Engine, wasm: &Path) -> Result<Component> {
    static COMPONENTS: Mutex<BTreeMap<(PathBuf, u64), Component>> = Mutex::new(BTreeMap::new());
    let bytes = std::fs::read(wasm).with_context(|| format!("cannot read {}", wasm.display()))?;
    let key = (wasm.to_path_buf(), content_key(engine, &bytes));
    let mut components = COMPONENTS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(component) = components.get(&key) {
        return Ok(component.clone());
    }
    let component = load_component(engine, wasm)?;
    components.insert(key, component.clone());
    Ok(component)
}

fn content_key(engine: &Engine, bytes: &[u8]) -> u64 {
    let mut hasher = DefaultHasher::new();
    bytes.hash(&mut hasher);
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hasher.finish()
}

/// Loads a component, compiling it with Cranelift unless a compiled copy is cached.
///
/// The cache lives next to the .wasm in `funboost-test-host-cache/<stem>-<key>.cwasm`, where the
/// key hashes the .wasm bytes and the engine's compatibility hash (wasmtime version, target and
/// settings), so a rebuilt component or another wasmtime never loads a stale artifact. Set
/// `FUNBOOST_EDGE_NO_COMPILE_CACHE=1` to always compile.
pub fn load_component(engine: &Engine, wasm: &Path) -> Result<Component> {
    let bytes = std::fs::read(wasm).with_context(|| format!("cannot read {}", wasm.display()))?;
    let compile = || Component::new(engine, &bytes).map_err(wasmtime_error).with_context(|| format!("cannot compile {}", wasm.display()));
    if std::env::var_os("FUNBOOST_EDGE_NO_COMPILE_CACHE").is_some_and(|v| !v.is_empty() && v != "0") {
        return compile();
    }
    let key = content_key(engine, &bytes);
    let stem = wasm.file_stem().and_then(|s| s.to_str()).unwrap_or("component");
    let dir = wasm.parent().unwrap_or(Path::new(".")).join("funboost-test-host-cache");
    let cached = dir.join(format!("{stem}-{key:016x}.cwasm"));
    if cached.is_file() {
        // SAFETY: the file was written by `Component::serialize` below for this exact .wasm and
        // engine configuration (both are in the key); wasmtime re-checks the engine compatibility.
        if let Ok(component) = unsafe { Component::deserialize_file(engine, &cached) } {
            return Ok(component);
        }
    }
    let component = compile()?;
    if let Ok(serialized) = component.serialize() {
        // Best effort: write atomically so concurrent test processes never read half a file.
        let _ = std::fs::create_dir_all(&dir);
        let temporary = dir.join(format!(".{stem}-{key:016x}.{}.tmp", std::process::id()));
        if std::fs::write(&temporary, serialized).is_ok() && std::fs::rename(&temporary, &cached).is_err() {
            let _ = std::fs::remove_file(&temporary);
        }
        // Drop stale artifacts of earlier builds of the same component.
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for entry in entries.flatten() {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if name.starts_with(&format!("{stem}-")) && name.ends_with(".cwasm") && entry.path() != cached {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
    }
    Ok(component)
}

/// wasmtime 48 has its own error type; convert it, keeping the message chain.
pub(crate) fn wasmtime_error(e: wasmtime::Error) -> anyhow::Error {
    let boxed: Box<dyn std::error::Error + Send + Sync + 'static> = e.into();
    anyhow::Error::from_boxed(boxed)
}

/// Per-instance state (one `Store` per request or tick).
pub struct State {
    table: ResourceTable,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: DenyOutboundHttp,
    shared: Arc<Shared>,
    crash: Option<Arc<CrashInjection>>,
    redis_ca: Option<Arc<redis::TlsCertificates>>,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.hooks }
    }
}

/// The components make no outbound HTTP requests (spin.toml allows only Redis).
struct DenyOutboundHttp;

impl WasiHttpHooks for DenyOutboundHttp {
    fn send_request(
        &mut self,
        _request: hyper::Request<wasmtime_wasi_http::WasiBody>,
        _options: Option<wasmtime_wasi_http::RequestOptions>,
        _fut: Box<dyn std::future::Future<Output = std::result::Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> Box<
        dyn std::future::Future<
                Output = std::result::Result<
                    (
                        hyper::Response<wasmtime_wasi_http::WasiBody>,
                        Box<dyn std::future::Future<Output = std::result::Result<(), wasmtime_wasi_http::Error>> + Send>,
                    ),
                    wasmtime_wasi_http::Error,
                >,
            > + Send,
    > {
        Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) })
    }
}

// ---- fermyon:spin/variables@2.0.0 ----

impl variables::Host for State {
    async fn get(&mut self, name: String) -> std::result::Result<String, variables::Error> {
        if !valid_variable_name(&name) {
            return Err(variables::Error::InvalidName(format!("invalid variable name {name:?}")));
        }
        self.shared.variables.get(&name).cloned().ok_or_else(|| variables::Error::Undefined(format!("no variable for {name:?}")))
    }
}

/// Spin's rule: lower-case ASCII letters, digits and single underscores, starting with a letter.
fn valid_variable_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.contains("__")
        && !name.ends_with('_')
}

// ---- fermyon:spin/key-value@2.0.0 ----

/// The `store` resource: every open store is the one shared `default` map.
pub struct KvStore;

impl key_value::Host for State {}

impl key_value::HostStore for State {
    async fn open(&mut self, label: String) -> std::result::Result<Resource<KvStore>, key_value::Error> {
        if label != "default" {
            return Err(key_value::Error::NoSuchStore);
        }
        self.table.push(KvStore).map_err(|_| key_value::Error::StoreTableFull)
    }

    async fn get(&mut self, _store: Resource<KvStore>, key: String) -> std::result::Result<Option<Vec<u8>>, key_value::Error> {
        Ok(self.kv()?.get(&key).cloned())
    }

    async fn set(&mut self, _store: Resource<KvStore>, key: String, value: Vec<u8>) -> std::result::Result<(), key_value::Error> {
        self.kv()?.insert(key, value);
        Ok(())
    }

    async fn delete(&mut self, _store: Resource<KvStore>, key: String) -> std::result::Result<(), key_value::Error> {
        self.kv()?.remove(&key);
        Ok(())
    }

    async fn exists(&mut self, _store: Resource<KvStore>, key: String) -> std::result::Result<bool, key_value::Error> {
        Ok(self.kv()?.contains_key(&key))
    }

    async fn get_keys(&mut self, _store: Resource<KvStore>) -> std::result::Result<Vec<String>, key_value::Error> {
        Ok(self.kv()?.keys().cloned().collect())
    }

    async fn drop(&mut self, store: Resource<KvStore>) -> wasmtime::Result<()> {
        self.table.delete(store)?;
        Ok(())
    }
}

impl State {
    fn kv(&self) -> std::result::Result<std::sync::MutexGuard<'_, BTreeMap<String, Vec<u8>>>, key_value::Error> {
        self.shared.kv.lock().map_err(|_| key_value::Error::Other("key-value store lock poisoned".to_string()))
    }
}
