//! `fermyon:spin/redis@2.0.0` over a real redis-server, mirroring Spin's host
//! (`crates/factor-outbound-redis/src/host.rs`, same in Spin v3.5.0 and v4.0.2):
//!
//! * `open(address)` parses the URL with redis-rs (`redis://[user:password@]host[:port][/db]`,
//!   or `rediss://` for TLS; a bad URL is `invalid-address`) and makes a fresh multiplexed
//!   connection per call (a refused connection, a failed TLS handshake or a wrong password is
//!   `other(message)`). Unlike Spin, `allowed_outbound_hosts` is not enforced.
//! * TLS: Spin builds redis-rs with native-tls (OpenSSL on Linux, the system's trust store);
//!   this host uses rustls with the system's roots (rustls-native-certs, which also reads
//!   `SSL_CERT_FILE`/`SSL_CERT_DIR` as OpenSSL does), or only the CA certificates given to
//!   [`crate::Host::with_redis_ca`]. Certificates are always verified (chain and host name);
//!   there is no insecure mode, and a `#insecure` URL fragment is refused. TLS error texts are
//!   rustls's, not OpenSSL's.
//! * `execute` sends the command and flattens the reply with [`flatten`]: nested arrays and
//!   sets are appended depth-first into one list, Double and BigNumber become binary text,
//!   Boolean becomes int64 0/1, and Map, Attribute, VerbatimString and Push are refused.
//!   Every failure, including a server error anywhere in the reply (redis-rs turns a nested
//!   one, e.g. inside EXEC, into an error too) and an unsupported type, is
//!   `other(<redis-rs error text>)`, exactly as Spin reports it.
//! * `get`/`set`/`incr`/`del`/`sadd`/`smembers`/`srem`/`publish` use the same redis-rs calls as
//!   Spin; `sadd` maps a redis-rs type error to `type-error`.

use std::sync::atomic::Ordering;

use redis::aio::MultiplexedConnection;
use redis::{AsyncCommands, Value};
use wasmtime::component::Resource;

use crate::bindings::fermyon::spin::redis as wit;
pub use crate::bindings::fermyon::spin::redis::{Error, RedisParameter, RedisResult};
use crate::{CrashInjection, State};

/// The `connection` resource.
pub struct RedisConnection {
    connection: MultiplexedConnection,
}

/// Opens a connection the way Spin's `connection.open` does (`rediss://` trusting the system's
/// roots).
pub async fn open(address: &str) -> Result<MultiplexedConnection, Error> {
    open_with_ca(address, None).await
}

/// [`open`], with `rediss://` URLs trusting only the CA certificates in `ca` (PEM) when given.
pub async fn open_with_ca(address: &str, ca: Option<&redis::TlsCertificates>) -> Result<MultiplexedConnection, Error> {
    client(address, ca).map_err(|_| Error::InvalidAddress)?.get_multiplexed_async_connection().await.map_err(other)
}

/// A redis-rs client for `address`; with `ca`, a `rediss://` address trusts only those CA
/// certificates (a plain `redis://` address ignores `ca`).
pub fn client(address: &str, ca: Option<&redis::TlsCertificates>) -> redis::RedisResult<redis::Client> {
    install_crypto_provider();
    match ca {
        Some(ca) if address.starts_with("rediss://") => redis::Client::build_with_tls(address, ca.clone()),
        _ => redis::Client::open(address),
    }
}

/// rustls's process-wide crypto provider: ring, the only one this crate compiles in. Installing
/// it explicitly keeps TLS working if another crate in a build ever enables aws-lc-rs too (rustls
/// panics when it has to choose between two).
pub(crate) fn install_crypto_provider() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// `TlsCertificates` trusting only the CA certificates in `pem`; an error if `pem` holds none
/// or one does not parse.
pub fn ca_certificates(pem: &[u8]) -> anyhow::Result<redis::TlsCertificates> {
    use rustls::pki_types::pem::PemObject;
    let mut count = 0;
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(pem) {
        cert.map_err(|e| anyhow::anyhow!("the Redis CA is not valid PEM: {e}"))?;
        count += 1;
    }
    anyhow::ensure!(count > 0, "the Redis CA holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
    Ok(redis::TlsCertificates { client_tls: None, root_cert: Some(pem.to_vec()) })
}

/// Spin's `connection.execute`: run `command` with `arguments` and flatten the reply.
pub async fn execute(connection: &mut MultiplexedConnection, command: &str, arguments: Vec<RedisParameter>) -> Result<Vec<RedisResult>, Error> {
    let mut cmd = redis::cmd(command);
    for argument in arguments {
        match argument {
            RedisParameter::Int64(v) => cmd.arg(v),
            RedisParameter::Binary(v) => cmd.arg(v),
        };
    }
    // `query_async` turns a server error anywhere in the reply into `Err` (redis-rs
    // `Value::extract_error`) before the conversion, as in Spin.
    let value: Value = cmd.query_async(connection).await.map_err(other)?;
    flatten(&value).map_err(other)
}

/// Spin's reply conversion (`RedisResults::from_redis_value`), as a function.
pub fn flatten(value: &Value) -> redis::RedisResult<Vec<RedisResult>> {
    let mut values = Vec::new();
    append(&mut values, value)?;
    Ok(values)
}

fn append(values: &mut Vec<RedisResult>, value: &Value) -> redis::RedisResult<()> {
    let unsupported = |what: &str| Err(redis::RedisError::from((redis::ErrorKind::TypeError, "Could not convert Redis response", what.to_string())));
    match value {
        Value::Nil => values.push(RedisResult::Nil),
        Value::Int(v) => values.push(RedisResult::Int64(*v)),
        Value::BulkString(bytes) => values.push(RedisResult::Binary(bytes.to_owned())),
        Value::SimpleString(s) => values.push(RedisResult::Status(s.to_owned())),
        Value::Okay => values.push(RedisResult::Status("OK".to_string())),
        Value::Map(_) => return unsupported("Redis Map type is not supported"),
        Value::Attribute { .. } => return unsupported("Redis Attribute type is not supported"),
        Value::Array(items) | Value::Set(items) => {
            for item in items {
                append(values, item)?;
            }
        }
        Value::Double(v) => values.push(RedisResult::Binary(v.to_string().into_bytes())),
        Value::VerbatimString { .. } => return unsupported("Redis string with format attribute is not supported"),
        Value::Boolean(v) => values.push(RedisResult::Int64(i64::from(*v))),
        Value::BigNumber(v) => values.push(RedisResult::Binary(v.to_string().into_bytes())),
        Value::Push { .. } => return unsupported("Redis Pub/Sub types are not supported"),
        Value::ServerError(err) => return Err(redis::RedisError::from((redis::ErrorKind::ResponseError, "Server error", format!("{err:?}")))),
    }
    Ok(())
}

fn other(e: impl std::fmt::Display) -> Error {
    Error::Other(e.to_string())
}

impl State {
    /// The connection behind `connection`; every command goes through here, which counts it.
    fn redis(&self, connection: &Resource<RedisConnection>) -> Result<MultiplexedConnection, Error> {
        self.shared.redis_counts.commands.fetch_add(1, Ordering::Relaxed);
        self.table.get(connection).map(|c| c.connection.clone()).map_err(|_| Error::Other("could not find connection for resource".to_string()))
    }
}

/// [`crate::Host::with_crash_chance`]: abort (no unwinding, no cleanup, like SIGKILL).
fn maybe_crash(crash: &CrashInjection, when: &str, what: &str) {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64));
    let draw = (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64;
    if draw < crash.chance {
        eprintln!("funboost-test-host: injected crash {when} {what}");
        std::process::abort();
    }
}

/// Whether the injection applies to this command (see `only_on`): its name, an EVAL's script
/// text, or an EVAL's or EVALSHA's first argument contains the text (funboost-edge's scripts
/// take their `name/layout` tag as the first argument).
fn targeted(crash: &CrashInjection, command: &str, arguments: &[RedisParameter]) -> bool {
    let Some(text) = crash.only_on.as_deref() else { return true };
    command.contains(text)
        || matches!(arguments.first(), Some(RedisParameter::Binary(first)) if command.eq_ignore_ascii_case("EVAL") && String::from_utf8_lossy(first).contains(text))
        || script_tag(command, arguments).is_some_and(|tag| tag.contains(text))
}

/// The first argument (after the keys) of an EVAL or EVALSHA.
fn script_tag(command: &str, arguments: &[RedisParameter]) -> Option<String> {
    if !command.eq_ignore_ascii_case("EVAL") && !command.eq_ignore_ascii_case("EVALSHA") {
        return None;
    }
    let keys = match arguments.get(1)? {
        RedisParameter::Int64(n) => usize::try_from(*n).ok()?,
        RedisParameter::Binary(n) => String::from_utf8_lossy(n).parse().ok()?,
    };
    match arguments.get(2 + keys)? {
        RedisParameter::Binary(tag) => Some(String::from_utf8_lossy(tag).chars().take(60).collect()),
        RedisParameter::Int64(n) => Some(n.to_string()),
    }
}

/// The command name, and for a script its first argument (to tell the scripts apart).
fn describe(command: &str, arguments: &[RedisParameter]) -> String {
    match script_tag(command, arguments) {
        Some(tag) => format!("{command} {tag}"),
        None => command.to_string(),
    }
}

impl wit::Host for State {}

impl wit::HostConnection for State {
    async fn open(&mut self, address: String) -> Result<Resource<RedisConnection>, Error> {
        let connection = open_with_ca(&address, self.redis_ca.as_deref()).await?;
        self.shared.redis_counts.connections.fetch_add(1, Ordering::Relaxed);
        self.table.push(RedisConnection { connection }).map_err(|_| Error::TooManyConnections)
    }

    async fn publish(&mut self, connection: Resource<RedisConnection>, channel: String, payload: Vec<u8>) -> Result<(), Error> {
        let mut c = self.redis(&connection)?;
        let () = c.publish(&channel, &payload).await.map_err(other)?;
        Ok(())
    }

    async fn get(&mut self, connection: Resource<RedisConnection>, key: String) -> Result<Option<Vec<u8>>, Error> {
        let mut c = self.redis(&connection)?;
        c.get::<_, Option<Vec<u8>>>(&key).await.map_err(other)
    }

    async fn set(&mut self, connection: Resource<RedisConnection>, key: String, value: Vec<u8>) -> Result<(), Error> {
        let mut c = self.redis(&connection)?;
        let () = c.set(&key, &value).await.map_err(other)?;
        Ok(())
    }

    async fn incr(&mut self, connection: Resource<RedisConnection>, key: String) -> Result<i64, Error> {
        let mut c = self.redis(&connection)?;
        c.incr(&key, 1).await.map_err(other)
    }

    async fn del(&mut self, connection: Resource<RedisConnection>, keys: Vec<String>) -> Result<u32, Error> {
        let mut c = self.redis(&connection)?;
        c.del(&keys).await.map_err(other)
    }

    async fn sadd(&mut self, connection: Resource<RedisConnection>, key: String, values: Vec<String>) -> Result<u32, Error> {
        let mut c = self.redis(&connection)?;
        c.sadd(&key, &values).await.map_err(|e| if e.kind() == redis::ErrorKind::TypeError { Error::TypeError } else { Error::Other(e.to_string()) })
    }

    async fn smembers(&mut self, connection: Resource<RedisConnection>, key: String) -> Result<Vec<String>, Error> {
        let mut c = self.redis(&connection)?;
        c.smembers(&key).await.map_err(other)
    }

    async fn srem(&mut self, connection: Resource<RedisConnection>, key: String, values: Vec<String>) -> Result<u32, Error> {
        let mut c = self.redis(&connection)?;
        c.srem(&key, &values).await.map_err(other)
    }

    async fn execute(&mut self, connection: Resource<RedisConnection>, command: String, arguments: Vec<RedisParameter>) -> Result<Vec<RedisResult>, Error> {
        let mut c = self.redis(&connection)?;
        let Some(crash) = self.crash.clone().filter(|crash| targeted(crash, &command, &arguments)) else {
            return execute(&mut c, &command, arguments).await;
        };
        let what = describe(&command, &arguments);
        maybe_crash(&crash, "before", &what);
        let result = execute(&mut c, &command, arguments).await;
        maybe_crash(&crash, "after", &what);
        result
    }

    async fn drop(&mut self, connection: Resource<RedisConnection>) -> wasmtime::Result<()> {
        self.table.delete(connection)?;
        Ok(())
    }
}
