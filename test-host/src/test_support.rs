//! Helpers for tests: a throwaway redis-server (plain, or TLS-only with a password and a
//! throwaway CA) and the paths of the built components.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// A redis-server on a free loopback port, without persistence, killed on drop.
/// The binary is `$FUNBOOST_EDGE_REDIS_SERVER` or `redis-server` from `PATH`.
pub struct RedisServer {
    child: Child,
    port: u16,
    tls: Option<TlsServer>,
}

/// What [`RedisServer::start_tls`] made: the password and the throwaway CA (files in `dir`,
/// removed on drop).
struct TlsServer {
    password: String,
    dir: PathBuf,
    ca_pem: Vec<u8>,
}

impl RedisServer {
    /// Starts the server and waits (up to 10 s) until it answers PING.
    pub fn start() -> Result<RedisServer> {
        Self::start_with(None)
    }

    /// Starts a TLS-only server (`--port 0 --tls-port <free>`) that needs `password`
    /// (`requirepass`, user `default`) and waits until it answers PING over TLS. Its certificate
    /// (for `127.0.0.1` and `localhost`) is signed by a throwaway CA made with the `openssl` CLI
    /// ([`RedisServer::ca_pem`], [`RedisServer::ca_file`]); clients need no certificate.
    /// [`RedisServer::url`] is then `rediss://default:<password>@127.0.0.1:<port>/<db>`.
    pub fn start_tls(password: &str) -> Result<RedisServer> {
        anyhow::ensure!(
            !password.is_empty() && password.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "use a password that needs no escaping in a URL"
        );
        let dir = std::env::temp_dir().join(format!("funboost_edge_tls_{}_{}", std::process::id(), free_port()?));
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let made = make_tls_files(&dir);
        let tls = TlsServer {
            password: password.to_string(),
            ca_pem: made.and_then(|()| std::fs::read(dir.join("ca.crt")).context("reading ca.crt")).inspect_err(|_| {
                let _ = std::fs::remove_dir_all(&dir);
            })?,
            dir,
        };
        Self::start_with(Some(tls))
    }

    fn start_with(mut tls: Option<TlsServer>) -> Result<RedisServer> {
        let binary = std::env::var("FUNBOOST_EDGE_REDIS_SERVER").unwrap_or_else(|_| "redis-server".to_string());
        let mut last_error = None;
        // The port is free when chosen but another process may take it before redis binds it.
        for _ in 0..5 {
            let port = free_port()?;
            let mut command = Command::new(&binary);
            match &tls {
                None => command.args(["--port", &port.to_string()]),
                Some(tls) => {
                    let file = |name: &str| tls.dir.join(name).to_string_lossy().into_owned();
                    command
                        .args(["--port", "0", "--tls-port", &port.to_string()])
                        .args(["--tls-cert-file", &file("server.crt"), "--tls-key-file", &file("server.key")])
                        .args(["--tls-ca-cert-file", &file("ca.crt"), "--tls-auth-clients", "no"])
                        .args(["--requirepass", &tls.password])
                }
            };
            let child = command
                .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
                .args(["--dir", &std::env::temp_dir().to_string_lossy()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .with_context(|| format!("cannot run {binary} (install redis-server or set FUNBOOST_EDGE_REDIS_SERVER)"))?;
            let mut server = RedisServer { child, port, tls: tls.take() };
            match server.wait_ready(Duration::from_secs(10)) {
                Ok(()) => return Ok(server),
                Err(e) => {
                    last_error = Some(e);
                    // Keep the TLS files for the next try; `server`'s drop must not delete them.
                    tls = server.tls.take();
                }
            }
        }
        if let Some(tls) = tls {
            let _ = std::fs::remove_dir_all(&tls.dir);
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
        if self.tls.is_some() {
            let mut connection = self.client(0)?.get_connection_with_timeout(Duration::from_secs(1))?;
            let reply: String = redis::cmd("PING").query(&mut connection)?;
            anyhow::ensure!(reply == "PONG", "unexpected PING reply {reply:?}");
            return Ok(());
        }
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

    /// `redis://127.0.0.1:<port>/<db>` (the `redis_url` variable); for a [`RedisServer::start_tls`]
    /// server `rediss://default:<password>@127.0.0.1:<port>/<db>`.
    pub fn url(&self, db: u32) -> String {
        match &self.tls {
            None => format!("redis://127.0.0.1:{}/{db}", self.port),
            Some(tls) => format!("rediss://default:{}@127.0.0.1:{}/{db}", tls.password, self.port),
        }
    }

    /// A redis-rs client for DB `db` of this server (over TLS, trusting the throwaway CA, with the
    /// password, for a [`RedisServer::start_tls`] server).
    pub fn client(&self, db: u32) -> Result<redis::Client> {
        let ca = self.tls.as_ref().map(|tls| crate::spin_redis::ca_certificates(&tls.ca_pem)).transpose()?;
        Ok(crate::spin_redis::client(&self.url(db), ca.as_ref())?)
    }

    /// The throwaway CA's certificate (PEM) of a [`RedisServer::start_tls`] server.
    pub fn ca_pem(&self) -> Option<&[u8]> {
        self.tls.as_ref().map(|tls| tls.ca_pem.as_slice())
    }

    /// The file holding [`RedisServer::ca_pem`] (e.g. for `SSL_CERT_FILE` of a Python client).
    pub fn ca_file(&self) -> Option<PathBuf> {
        self.tls.as_ref().map(|tls| tls.dir.join("ca.crt"))
    }

    /// The `requirepass` password of a [`RedisServer::start_tls`] server.
    pub fn password(&self) -> Option<&str> {
        self.tls.as_ref().map(|tls| tls.password.as_str())
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(tls) = &self.tls {
            let _ = std::fs::remove_dir_all(&tls.dir);
        }
    }
}

/// Writes `ca.crt` (a throwaway CA, P-256, valid 2 days), `server.crt` (signed by it, for
/// `IP:127.0.0.1` and `DNS:localhost`) and `server.key` into `dir` with the `openssl` CLI.
fn make_tls_files(dir: &Path) -> Result<()> {
    let openssl = |args: &[&str]| -> Result<()> {
        let output =
            Command::new("openssl").args(args).current_dir(dir).stdin(Stdio::null()).output().context("cannot run openssl (install the openssl package)")?;
        anyhow::ensure!(output.status.success(), "openssl {} failed: {}", args.join(" "), String::from_utf8_lossy(&output.stderr));
        Ok(())
    };
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    openssl(&[&["req", "-x509"][..], &ec, &["-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=funboost-edge throwaway test CA"]].concat())?;
    openssl(&[&["req"][..], &ec, &["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"]].concat())?;
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName = IP:127.0.0.1, DNS:localhost\nbasicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\nextendedKeyUsage = serverAuth\n",
    )?;
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ])?;
    Ok(())
}

fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("cannot find a free port")?;
    Ok(listener.local_addr()?.port())
}

/// The build command the components need (printed when a .wasm is missing).
pub const BUILD_COMPONENTS: &str =
    "cargo build --target wasm32-wasip2 --profile wasm -p funboost-api -p funboost-http-tick -p funboost-web && cargo build --target wasm32-wasip2 --profile wasm -p funboost-ticker --config profile.wasm.opt-level=3";

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
        ("tokens", ""),
        ("api_token", ""),
        ("tick_token", ""),
        ("metrics_token", ""),
        ("audit_max_records", "100000"),
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
