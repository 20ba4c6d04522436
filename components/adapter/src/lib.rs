//! Spin glue shared by the funboost-edge components: the core's host traits over Spin's
//! outbound Redis and key-value store, the configuration from Spin variables, the clock, and
//! the HTTP request and response conversions. Nothing here knows about routes or ticks; the
//! components stay a few lines each.
//!
//! The Spin parts exist only on wasm32 (spin-sdk is a wasm32-only dependency), so a native
//! `cargo build --workspace` never compiles spin-sdk; the pure helpers are tested natively.

#[cfg(target_arch = "wasm32")]
pub mod http;
#[cfg(target_arch = "wasm32")]
mod spin;
#[cfg(target_arch = "wasm32")]
pub use spin::*;

/// `redis://user:secret@host:6379/7` → `redis://***@host:6379/7`, so that error messages never
/// carry the Redis password.
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, url),
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let redacted = match rest[..authority_end].rfind('@') {
        Some(at) => format!("***{}", &rest[at..]),
        None => rest.to_string(),
    };
    match scheme {
        Some(scheme) => format!("{scheme}://{redacted}"),
        None => redacted,
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn redacts_credentials_only() {
        assert_eq!(redact_url("redis://127.0.0.1:6379/7"), "redis://127.0.0.1:6379/7");
        assert_eq!(redact_url("redis://:pw@h:1/7"), "redis://***@h:1/7");
        assert_eq!(redact_url("rediss://u:p@ss@h:1"), "rediss://***@h:1");
        assert_eq!(redact_url("u:p@h/x@y"), "***@h/x@y");
    }
}
