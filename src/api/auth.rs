//! Who calls a route, and whether they may: a named token (`crate::access`) sent as
//! `Authorization: Bearer <token>` (the tick's also as a `token` query parameter), compared in
//! constant time against every configured token's hash; or, with no token configured for the
//! route, a loopback client that is not a web page of another site: a browser on the machine is
//! a loopback client too, so without a token a request with a foreign `Origin`, with
//! `Sec-Fetch-Site: cross-site`, or with a `Host` that is not a loopback name (DNS rebinding) is
//! refused.

use std::net::IpAddr;

use super::query::percent_decode;
use super::Access;
use crate::access::{find, Caller, NamedToken, Role};
use crate::config::Config;
use crate::error::{code, ApiError};
use crate::host::HttpRequest;

fn unauthorized(message: impl Into<String>) -> ApiError {
    ApiError::new(401, code::UNAUTHORIZED, "Unauthorized", message)
}

/// Who sends `request` to the route at `path`, if they may call it (401: no or an unknown
/// token; 403: a known token without the route's role, or a web page without a token).
pub(super) fn caller(request: &HttpRequest, config: &Config, path: &str, access: Access) -> Result<Caller, ApiError> {
    let (accepted, needs, hint): (Vec<&NamedToken>, Role, &str) = match access {
        Access::Open => return Ok(Caller { name: "anonymous".to_string(), role: Role::Read, scope: crate::access::Scope::all() }),
        Access::Api(role) => (config.tokens.iter().collect(), role, "a token of the variable tokens (or api_token)"),
        Access::Tick => (config.tick_token.iter().chain(&config.tokens).collect(), Role::Admin, "the tick token (variable tick_token) or an admin token"),
        Access::Metrics => {
            (config.metrics_token.iter().chain(&config.tokens).collect(), Role::Read, "the metrics token (variable metrics_token) or any API token")
        }
    };
    if accepted.is_empty() {
        if !is_loopback_client(request) {
            return Err(unauthorized(
                "no token is configured, so only loopback clients are served; set the Spin variable tokens or api_token (SPIN_VARIABLE_TOKENS, SPIN_VARIABLE_API_TOKEN) and send `Authorization: Bearer <token>`",
            ));
        }
        not_from_a_web_page(request)?;
        return Ok(Caller::loopback());
    }
    let given = match access {
        // Hosted cron services can set only a path and query.
        Access::Tick => query_token(request).or_else(|| bearer_token(request).map(String::from)),
        _ => bearer_token(request).map(String::from),
    };
    let Some(given) = given else {
        return Err(unauthorized(format!("{path} needs {hint}, sent as `Authorization: Bearer <token>`")));
    };
    let token = find(accepted, &given).ok_or_else(|| unauthorized(format!("the token is not one of the configured tokens; {path} needs {hint}")))?;
    if token.role < needs {
        return Err(ApiError::new(
            403,
            code::FORBIDDEN,
            "Forbidden",
            format!("{path} needs role {}; the token {} has role {}", needs.name(), token.name, token.role.name()),
        ));
    }
    Ok(token.caller())
}

fn is_loopback_client(request: &HttpRequest) -> bool {
    request.client_addr.as_deref().and_then(client_ip).is_some_and(|ip| ip.to_canonical().is_loopback())
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
            format!("{msg}; without an API token only requests from this machine that are not made by a web page of another site are served (set the Spin variable tokens or api_token to call the API from elsewhere)"),
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

/// The `token` query parameter (only the token is looked for here: a malformed query gets 401
/// before it gets 400).
fn query_token(request: &HttpRequest) -> Option<String> {
    request.query.split('&').find_map(|part| part.strip_prefix("token=")).and_then(percent_decode)
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

    const READ_HASH: &str = "3d0941964aa3ebdcb00ccef58b1bb399f9f898465e9886d5aec7f31090a0fb30";

    fn config_with(vars: &[(&str, &str)]) -> Config {
        Config::from_vars(&|name: &str| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string())).expect("config")
    }

    fn config(api_token: Option<&str>, tick_token: Option<&str>) -> Config {
        config_with(&[("api_token", api_token.unwrap_or("")), ("tick_token", tick_token.unwrap_or(""))])
    }

    fn status(result: Result<Caller, ApiError>) -> Result<String, u16> {
        result.map(|c| c.name).map_err(|e| e.status)
    }

    #[test]
    fn bearer_tokens_are_read_case_insensitively_and_trimmed() {
        let cases = [("Bearer abc", Some("abc")), ("bearer  abc ", Some("abc")), ("Basic abc", None), ("Bearer", None)];
        for (header, want) in cases {
            assert_eq!(bearer_token(&request(&[("Authorization", header)], "", "127.0.0.1:1")), want, "{header:?}");
        }
    }

    #[test]
    fn without_a_token_only_loopback_clients_are_served() {
        let open = config(None, None);
        for (client, ok) in [("127.0.0.1:5000", true), ("[::1]:5000", true), ("[::ffff:127.0.0.1]:1", true), ("10.0.0.2:5000", false), ("nonsense", false)] {
            let result = caller(&request(&[], "", client), &open, "/x", Access::Api(Role::Admin));
            assert_eq!(result.as_ref().map(|c| c.name.as_str()).ok(), ok.then_some("loopback"), "{client}");
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
            let result = caller(&request(headers, "", "127.0.0.1:5000"), &open, "/x", Access::Api(Role::Read));
            assert_eq!(result.is_ok(), served, "{headers:?}: {result:?}");
            if let Err(e) = result {
                assert_eq!((e.status, e.kind), (403, "Forbidden"));
            }
        }
        // A token makes the API callable from anywhere that sends it, browsers included.
        let with_token = config(Some("t"), None);
        let from_a_page = request(&[("authorization", "Bearer t"), ("origin", "https://dashboard.example")], "", "10.0.0.2:1");
        assert_eq!(status(caller(&from_a_page, &with_token, "/x", Access::Api(Role::Admin))), Ok("api_token".to_string()));
    }

    #[test]
    fn a_token_is_served_up_to_its_role_and_an_unknown_one_never() {
        // sha256("reader") is READ_HASH.
        let tokens = format!(r#"[{{"name": "dash", "sha256": "{READ_HASH}", "role": "read"}}]"#);
        let config = config_with(&[("tokens", &tokens), ("api_token", "root")]);
        let call = |token: &str, access: Access| {
            let header = format!("Bearer {token}");
            status(caller(&request(&[("authorization", &header)], "", "10.0.0.2:1"), &config, "/x", access))
        };
        let cases = [
            ("reader", Access::Api(Role::Read), Ok("dash")),
            ("reader", Access::Api(Role::Write), Err(403)),
            ("reader", Access::Tick, Err(403)),
            ("reader", Access::Metrics, Ok("dash")),
            ("root", Access::Api(Role::Admin), Ok("api_token")),
            ("root", Access::Tick, Ok("api_token")),
            ("reade", Access::Api(Role::Read), Err(401)),
            (READ_HASH, Access::Api(Role::Read), Err(401)),
        ];
        for (token, access, want) in cases {
            assert_eq!(call(token, access), want.map(String::from), "{token} on {access:?}");
        }
        assert_eq!(status(caller(&request(&[], "", "127.0.0.1:1"), &config, "/x", Access::Api(Role::Read))), Err(401), "tokens set: loopback is not enough");
    }

    #[test]
    fn the_tick_token_may_come_in_the_query_and_serves_only_the_tick() {
        let config = config(Some("api"), Some("t%k"));
        let remote = |headers: &[(&str, &str)], query: &str, access: Access| status(caller(&request(headers, query, "10.0.0.2:1"), &config, "/tick", access));
        assert_eq!(remote(&[], "token=t%25k", Access::Tick), Ok("tick_token".to_string()));
        assert_eq!(remote(&[("authorization", "Bearer t%k")], "", Access::Tick), Ok("tick_token".to_string()));
        assert_eq!(remote(&[("authorization", "Bearer api")], "", Access::Tick), Ok("api_token".to_string()), "an admin token may tick");
        assert_eq!(remote(&[("authorization", "Bearer t%k")], "", Access::Api(Role::Read)), Err(401), "the tick token is no API token");
    }

    #[test]
    fn the_metrics_route_takes_its_token_or_an_api_token() {
        let remote = |token: Option<&str>, config: &Config| {
            let header = token.map(|t| format!("Bearer {t}"));
            let headers: Vec<(&str, &str)> = header.iter().map(|h| ("authorization", h.as_str())).collect();
            status(caller(&request(&headers, "", "10.0.0.2:1"), config, "/metrics", Access::Metrics))
        };
        let both = config_with(&[("api_token", "api"), ("metrics_token", "m")]);
        assert_eq!(remote(Some("m"), &both), Ok("metrics_token".to_string()));
        assert_eq!(remote(Some("api"), &both), Ok("api_token".to_string()));
        assert_eq!(remote(Some("x"), &both), Err(401));
        assert_eq!(remote(None, &both), Err(401));
        let metrics_only = config_with(&[("metrics_token", "m")]);
        assert_eq!(remote(Some("m"), &metrics_only), Ok("metrics_token".to_string()));
        assert_eq!(
            status(caller(&request(&[], "", "127.0.0.1:1"), &metrics_only, "/metrics", Access::Metrics)),
            Err(401),
            "a token set: loopback is not enough"
        );
        let neither = config_with(&[]);
        assert_eq!(status(caller(&request(&[], "", "127.0.0.1:1"), &neither, "/metrics", Access::Metrics)), Ok("loopback".to_string()));
        assert_eq!(remote(None, &neither), Err(401));
    }
}
