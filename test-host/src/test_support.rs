//! Helpers for tests: a throwaway redis-server and the paths of the built components.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// A redis-server on a free loopback port, without persistence, killed on drop.
/// The binary is `$FUNBOOST_EDGE_REDIS_SERVER` or `redis-server` from `PATH`.
pub struct RedisServer {
    child: Child,
    port: u16,
}

impl RedisServer {
    /// Starts the server and waits (up to 10 s) until it answers PING.
    pub fn start() -> Result<RedisServer> {
        let binary = std::env::var("FUNBOOST_EDGE_REDIS_SERVER").unwrap_or_else(|_| "redis-server".to_string());
        let mut last_error = None;
        // The port is free when chosen but another process may take it before redis binds it.
        for _ in 0..5 {
            let port = free_port()?;
            let child = Command::new(&binary)
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
                .args(["--dir", &std::env::temp_dir().to_string_lossy()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .with_context(|| format!("cannot run {binary} (install redis-server or set FUNBOOST_EDGE_REDIS_SERVER)"))?;
            let mut server = RedisServer { child, port };
            match server.wait_ready(Duration::from_secs(10)) {
                Ok(()) => return Ok(server),
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow::anyhow!("redis-server did not start")))
    }

    fn wait_ready(&mut self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("redis-server on port {} exited: {status}", self.port);
            }
            if self.ping().is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("redis-server on port {} did not answer PING within {timeout:?}", self.port);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn ping(&self) -> Result<()> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(1)))?;
        stream.write_all(b"PING\r\n")?;
        let mut reply = [0u8; 7];
        stream.read_exact(&mut reply)?;
        let _ = stream.shutdown(Shutdown::Both);
        if &reply != b"+PONG\r\n" {
            bail!("unexpected PING reply {:?}", String::from_utf8_lossy(&reply));
        }
        Ok(())
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:<port>` (the `redis_host` variable).
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `redis://127.0.0.1:<port>/<db>` (the `redis_url` variable).
    pub fn url(&self, db: u32) -> String {
        format!("redis://127.0.0.1:{}/{db}", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("cannot find a free port")?;
    Ok(listener.local_addr()?.port())
}

/// The build command the components need (printed when a .wasm is missing).
pub const BUILD_COMPONENTS: &str = "cargo build --target wasm32-wasip2 --profile wasm -p funboost-api -p funboost-ticker";

/// The directory holding the .wasm files (profile `wasm`): `$FUNBOOST_EDGE_WASM_DIR`, else
/// `$CARGO_TARGET_DIR/wasm32-wasip2/wasm`, else `<workspace>/target/wasm32-wasip2/wasm`.
pub fn wasm_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("FUNBOOST_EDGE_WASM_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let target = match std::env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            // A relative CARGO_TARGET_DIR is relative to the workspace root.
            if dir.is_absolute() {
                dir
            } else {
                workspace_root().join(dir)
            }
        }
        None => workspace_root().join("target"),
    };
    target.join("wasm32-wasip2").join("wasm")
}

/// The path of a built component, e.g. `wasm_path("funboost_api")`. Panics with the build command
/// when the file is missing.
pub fn wasm_path(name: &str) -> PathBuf {
    let file = if name.ends_with(".wasm") { name.to_string() } else { format!("{name}.wasm") };
    let path = wasm_dir().join(file);
    if !path.is_file() {
        panic!("{} not found: build the components first: {BUILD_COMPONENTS}", path.display());
    }
    path
}

fn workspace_root() -> PathBuf {
    // test-host/ sits directly under the workspace root.
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

/// spin.toml's variables with their defaults, pointed at `redis_url` (DB 7, funboost's), with
/// `overrides` applied.
pub fn spin_variables(redis_url: &str, overrides: &[(&str, &str)]) -> std::collections::HashMap<String, String> {
    let mut variables: std::collections::HashMap<String, String> = [
        ("redis_url", redis_url),
        ("timezone", "Asia/Shanghai"),
        ("key_prefix", "funboost_edge"),
        ("api_token", ""),
        ("tick_token", ""),
        ("max_body_bytes", "65536"),
        ("max_jobs_per_queue", "100000"),
        ("allow_unregistered_queues", "false"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (name, value) in overrides {
        variables.insert(name.to_string(), value.to_string());
    }
    variables
}
