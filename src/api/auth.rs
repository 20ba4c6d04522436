//! Who may call a route: the API token (a bearer header, compared in constant time), the tick
//! token (also as a `token` query parameter), or, with no token configured, loopback clients
//! that are not a web page of another site: a browser on the machine is a loopback client too,
//! so without a token a request with a foreign `Origin`, with `Sec-Fetch-Site: cross-site`, or
//! with a `Host` that is not a loopback name (DNS rebinding) is refused.

use std::net::IpAddr;

use super::query::percent_decode;
use crate::config::Config;
use crate::error::{code, ApiError};
use crate::host::HttpRequest;

/// With an API token, a matching `Authorization: Bearer` header; without one, loopback only.
pub(super) fn authorize(request: &HttpRequest, config: &Config) -> Result<(), ApiError> {
    let unauthorized = |msg: String| ApiError::new(401, code::UNAUTHORIZED, "Unauthorized", msg);
    match &config.api_token {
        Some(token) => match bearer_token(request) {
            Some(given) if constant_time_eq(given.as_bytes(), token.as_bytes()) => Ok(()),
            Some(_) => Err(unauthorized("the bearer token is wrong".into())),
            None => Err(unauthorized("send the API token as `Authorization: Bearer <token>`".into())),
        },
        None => {
            let loopback = request.client_addr.as_deref().and_then(client_ip).is_some_and(|ip| ip.to_canonical().is_loopback());
            if loopback {
                not_from_a_web_page(request)
            } else {
                Err(unauthorized(
                    "no API token is configured, so only loopback clients are served; set the Spin variable api_token (SPIN_VARIABLE_API_TOKEN) and send `Authorization: Bearer <token>`".into(),
                ))
            }
        }
    }
}

/// Without a token, a loopback client is trusted only if it is not a browser acting for a page
/// of another site: the `Origin` (sent by browsers on every cross-origin request and on POSTs)
/// must be a loopback origin, `Sec-Fetch-Site` must not be `cross-site`, and the `Host` must be
/// a loopback name (a rebound DNS name resolving to 127.0.0.1 still carries its own name).
fn not_from_a_web_page(request: &HttpRequest) -> Result<(), ApiError> {
    let forbidden = |msg: String| {
        ApiError::new(
            403,
            code::FORBIDDEN,
            "Forbidden",
            format!("{msg}; without an API token only requests from this machine that are not made by a web page of another site are served (set the Spin variable api_token to call the API from elsewhere)"),
        )
    };
    // Every value counts: a header given twice must not hide one behind the other.
    for origin in values(request, "origin") {
        let host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
        if !is_loopback_host(host) {
            return Err(forbidden(format!("the request comes from the web page origin {origin:?}")));
        }
    }
    if values(request, "sec-fetch-site").any(|site| site.eq_ignore_ascii_case("cross-site")) {
        return Err(forbidden("the browser marked the request Sec-Fetch-Site: cross-site".into()));
    }
    for host in values(request, "host") {
        if !is_loopback_host(host) {
            return Err(forbidden(format!("the Host {host:?} is not a loopback name")));
        }
    }
    Ok(())
}

fn values<'a>(request: &'a HttpRequest, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    request.headers.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim())
}

/// `localhost`, `*.localhost`, a 127.0.0.0/8 address or `[::1]`, with or without a port.
fn is_loopback_host(authority: &str) -> bool {
    let host = match authority.strip_prefix('[') {
        Some(rest) => rest.split_once(']').map_or(rest, |(h, _)| h),
        None => authority.rsplit_once(':').filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit())).map_or(authority, |(h, _)| h),
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "localhost" || host.ends_with(".localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.to_canonical().is_loopback())
}

/// The tick route has its own token, as a bearer header or a `token` query parameter (hosted
/// cron services can set only a path and query); without one, loopback only.
pub(super) fn authorize_tick(request: &HttpRequest, config: &Config) -> Result<(), ApiError> {
    let Some(token) = &config.tick_token else {
        let tick_config = Config { api_token: None, ..config.clone() };
        return authorize(request, &tick_config);
    };
    // Only the token is looked for here: a malformed query gets 401 before it gets 400.
    let from_query = request.query.split('&').find_map(|part| part.strip_prefix("token=")).and_then(percent_decode);
    match from_query.or_else(|| bearer_token(request).map(String::from)) {
        Some(given) if constant_time_eq(given.as_bytes(), token.as_bytes()) => Ok(()),
        _ => Err(ApiError::new(
            401,
            code::UNAUTHORIZED,
            "Unauthorized",
            "the tick route needs the tick token (variable tick_token) as `Authorization: Bearer <token>` or `?token=<token>`",
        )),
    }
}

/// The metrics route takes its own token or the API token, as a bearer header; with neither
/// configured, loopback only.
pub(super) fn authorize_metrics(request: &HttpRequest, config: &Config) -> Result<(), ApiError> {
    let Some(token) = &config.metrics_token else {
        return authorize(request, config);
    };
    let accepted = |given: &str| [Some(token), config.api_token.as_ref()].into_iter().flatten().any(|t| constant_time_eq(given.as_bytes(), t.as_bytes()));
    match bearer_token(request) {
        Some(given) if accepted(given) => Ok(()),
        _ => Err(ApiError::new(
            401,
            code::UNAUTHORIZED,
            "Unauthorized",
            "the metrics route needs the metrics token (variable metrics_token) or the API token as `Authorization: Bearer <token>`",
        )),
    }
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive).
fn bearer_token(request: &HttpRequest) -> Option<&str> {
    let (_, value) = request.headers.iter().find(|(name, _)| name.eq_ignore_ascii_case("authorization"))?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// `127.0.0.1:5000`, `[::1]:5000` or a bare address.
fn client_ip(addr: &str) -> Option<IpAddr> {
    addr.parse::<std::net::SocketAddr>().map(|a| a.ip()).ok().or_else(|| addr.parse().ok())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    for (i, x) in a.iter().enumerate() {
        diff |= x ^ b.get(i % b.len().max(1)).copied().unwrap_or(0);
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&str, &str)], query: &str, client: &str) -> HttpRequest {
        HttpRequest {
            headers: headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
            query: query.to_string(),
            client_addr: Some(client.to_string()),
            ..HttpRequest::default()
        }
    }

    fn config(api_token: Option<&str>, tick_token: Option<&str>) -> Config {
        config_with(api_token, tick_token, None)
    }

    fn config_with(api_token: Option<&str>, tick_token: Option<&str>, metrics_token: Option<&str>) -> Config {
        let vars = [("api_token", api_token.unwrap_or("")), ("tick_token", tick_token.unwrap_or("")), ("metrics_token", metrics_token.unwrap_or(""))];
        Config::from_vars(&|name: &str| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string())).expect("config")
    }

    #[test]
    fn bearer_tokens_are_read_case_insensitively_and_trimmed() {
        let cases = [("Bearer abc", Some("abc")), ("bearer  abc ", Some("abc")), ("Basic abc", None), ("Bearer", None)];
        for (header, want) in cases {
            assert_eq!(bearer_token(&request(&[("Authorization", header)], "", "127.0.0.1:1")), want, "{header:?}");
        }
    }

    #[test]
    fn constant_time_eq_compares_whole_values() {
        let cases = [("abc", "abc", true), ("abc", "abd", false), ("abc", "ab", false), ("", "", true), ("", "a", false)];
        for (a, b, want) in cases {
            assert_eq!(constant_time_eq(a.as_bytes(), b.as_bytes()), want, "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn without_a_token_only_loopback_clients_are_served() {
        let open = config(None, None);
        for (client, ok) in [("127.0.0.1:5000", true), ("[::1]:5000", true), ("[::ffff:127.0.0.1]:1", true), ("10.0.0.2:5000", false), ("nonsense", false)] {
            assert_eq!(authorize(&request(&[], "", client), &open).is_ok(), ok, "{client}");
        }
    }

    #[test]
    fn without_a_token_a_web_page_of_another_site_is_refused() {
        let open = config(None, None);
        // (headers, served)
        let cases: [(&[(&str, &str)], bool); 12] = [
            (&[], true),
            (&[("origin", "http://127.0.0.1:3000"), ("sec-fetch-site", "same-origin"), ("host", "127.0.0.1:3000")], true),
            (&[("origin", "http://localhost:3000"), ("host", "localhost:3000")], true),
            (&[("origin", "http://[::1]:3000"), ("host", "[::1]:3000")], true),
            (&[("host", "app.localhost:3000")], true),
            (&[("origin", "https://evil.example"), ("sec-fetch-site", "cross-site")], false),
            (&[("origin", "https://evil.example")], false),
            (&[("origin", "null")], false),
            (&[("sec-fetch-site", "cross-site")], false),
            (&[("host", "evil.example:3996")], false),
            (&[("host", "127.0.0.1.evil.example")], false),
            (&[("origin", "http://127.0.0.1:8888"), ("sec-fetch-site", "same-site"), ("host", "127.0.0.1:3000")], true),
        ];
        for (headers, served) in cases {
            let result = authorize(&request(headers, "", "127.0.0.1:5000"), &open);
            assert_eq!(result.is_ok(), served, "{headers:?}: {result:?}");
            if let Err(e) = result {
                assert_eq!((e.status, e.kind), (403, "Forbidden"));
            }
        }
        // A token makes the API callable from anywhere that sends it, browsers included.
        let with_token = config(Some("t"), None);
        assert!(authorize(&request(&[("authorization", "Bearer t"), ("origin", "https://dashboard.example")], "", "10.0.0.2:1"), &with_token).is_ok());
    }

    #[test]
    fn the_tick_token_may_come_in_the_query() {
        let config = config(Some("api"), Some("t%k"));
        assert!(authorize_tick(&request(&[], "token=t%25k", "10.0.0.2:1"), &config).is_ok());
        assert!(authorize_tick(&request(&[("authorization", "Bearer t%k")], "", "10.0.0.2:1"), &config).is_ok());
        assert_eq!(authorize_tick(&request(&[("authorization", "Bearer api")], "", "10.0.0.2:1"), &config).map_err(|e| e.status), Err(401));
    }

    #[test]
    fn the_metrics_route_takes_its_token_or_the_api_token() {
        let bearer = |t: &str| format!("Bearer {t}");
        let remote = |token: Option<&str>, config: &Config| {
            let header = token.map(bearer);
            let headers: Vec<(&str, &str)> = header.iter().map(|h| ("authorization", h.as_str())).collect();
            authorize_metrics(&request(&headers, "", "10.0.0.2:1"), config).map_err(|e| e.status)
        };
        let both = config_with(Some("api"), None, Some("m"));
        assert_eq!(remote(Some("m"), &both), Ok(()));
        assert_eq!(remote(Some("api"), &both), Ok(()));
        assert_eq!(remote(Some("x"), &both), Err(401));
        assert_eq!(remote(None, &both), Err(401));
        let metrics_only = config_with(None, None, Some("m"));
        assert_eq!(remote(Some("m"), &metrics_only), Ok(()));
        assert_eq!(authorize_metrics(&request(&[], "", "127.0.0.1:1"), &metrics_only).map_err(|e| e.status), Err(401), "a token set: loopback is not enough");
        let api_only = config_with(Some("api"), None, None);
        assert_eq!(remote(Some("api"), &api_only), Ok(()));
        assert_eq!(remote(Some("m"), &api_only), Err(401));
        let neither = config_with(None, None, None);
        assert_eq!(authorize_metrics(&request(&[], "", "127.0.0.1:1"), &neither), Ok(()));
        assert_eq!(remote(None, &neither), Err(401));
    }
}
