//! What a host gives the core: Spin's outbound Redis, Spin's key-value store, a clock and
//! configuration. The Spin components and the test host implement these; the core never
//! sees a Spin type.

use anyhow::Result;

/// An argument of a Redis command (Spin's `redis-parameter`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RedisArg {
    Int(i64),
    Bytes(Vec<u8>),
}

/// One element of a Redis reply (Spin's `redis-result`). Spin flattens nested arrays into
/// one list, depth first, so a reply is always a flat `Vec<RedisValue>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RedisValue {
    Nil,
    Status(String),
    Int(i64),
    Bytes(Vec<u8>),
}

/// Spin's `connection.execute(command, args)`.
pub trait Redis {
    fn execute(&self, command: &str, args: &[RedisArg]) -> Result<Vec<RedisValue>>;
}

/// Spin's key-value store (the `memory` job store lives there).
pub trait KeyValue {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>>;
    fn set(&self, key: &str, value: &[u8]) -> Result<()>;
    fn delete(&self, key: &str) -> Result<()>;
    fn get_keys(&self) -> Result<Vec<String>>;
}

/// An HTTP request as the core sees it; `path` is the part after `/funboost`.
#[derive(Clone, Debug, Default)]
pub struct HttpRequest {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The client's address (Spin's `spin-client-addr` header), when known.
    pub client_addr: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}
