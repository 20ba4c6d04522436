//! The test host routes like Spin's HTTP trigger with spin.toml's routes: the management page
//! component (`web`) gets `/funboost/ui` (exact) and `/funboost/ui/...`, the HTTP tick
//! component (`http-tick`) `/funboost/tick`, the API everything else under `/funboost/...`, with
//! `spin-path-info` relative to the matched route. Needs the built components: cargo build
//! --target wasm32-wasip2 --profile wasm -p funboost-api -p funboost-web -p funboost-http-tick

use funboost_test_host::test_support::{spin_variables, wasm_path, RedisServer};
use funboost_test_host::{Host, HostConfig};

/// The API alone, or with the web and HTTP tick components (`all`).
fn host(redis: &RedisServer, all: bool) -> Host {
    Host::new(HostConfig {
        api_wasm: wasm_path("funboost_api"),
        ticker_wasm: None,
        web_wasm: all.then(|| wasm_path("funboost_web")),
        http_tick_wasm: all.then(|| wasm_path("funboost_http_tick")),
        variables: spin_variables(&redis.url(7), &[("redis_host", &redis.host())]),
    })
    .expect("Host::new")
}

#[tokio::test]
async fn the_longest_matching_route_wins_and_path_info_is_relative_to_it() {
    let redis = RedisServer::start().expect("redis-server");
    let with_web = host(&redis, true);
    let cases = [
        ("/funboost/ui", "/funboost/ui", ""),
        ("/funboost/ui/", "/funboost/ui/...", "/"),
        ("/funboost/ui/app.js", "/funboost/ui/...", "/app.js"),
        ("/funboost/ui/a/b", "/funboost/ui/...", "/a/b"),
        ("/funboost/uix", "/funboost/...", "/uix"),
        ("/funboost/health", "/funboost/...", "/health"),
        ("/funboost", "/funboost/...", ""),
        ("/funboost/tick", "/funboost/tick", ""),
        ("/funboost/tick/x", "/funboost/...", "/tick/x"),
    ];
    for (path, route, path_info) in cases {
        let matched = with_web.route(path).unwrap_or_else(|| panic!("{path} matched no route"));
        assert_eq!((matched.route, matched.path_info.as_str()), (route, path_info), "{path}");
        assert_eq!(matched.is_api(), route == "/funboost/...", "{path}");
    }
    for path in ["/", "/funboostx", "/ui"] {
        assert!(with_web.route(path).is_none(), "{path}");
    }
    // Without a web component the API keeps all of /funboost/..., as before.
    let api_only = host(&redis, false);
    let matched = api_only.route("/funboost/ui/app.js").expect("api route");
    assert_eq!((matched.route, matched.path_info.as_str()), ("/funboost/...", "/ui/app.js"));
}

#[tokio::test]
async fn the_tick_is_served_by_its_own_component_and_the_api_names_it() {
    let redis = RedisServer::start().expect("redis-server");
    let all = host(&redis, true);
    for method in ["GET", "POST"] {
        let tick = all.request(method, "/funboost/tick", &[], Vec::new()).await.expect("tick");
        assert_eq!(tick.status, 200, "{method}: {}", tick.text());
        assert!(tick.text().contains(r#""succ":true"#) && tick.text().contains(r#""msg":"tick published"#), "{method}: {}", tick.text());
    }
    // The tick component serves the tick alone; a wrong method is refused as by the API.
    let put = all.request("PUT", "/funboost/tick", &[], Vec::new()).await.expect("PUT");
    assert_eq!(put.status, 405, "{}", put.text());
    // Without it (a host that routes all of /funboost/... to the API), the API names it.
    let api_only = host(&redis, false);
    let tick = api_only.request("GET", "/funboost/tick", &[], Vec::new()).await.expect("tick");
    assert_eq!(tick.status, 404, "{}", tick.text());
    assert!(tick.text().contains("http-tick component"), "{}", tick.text());
}

#[tokio::test]
async fn the_page_and_the_api_answer_side_by_side() {
    let redis = RedisServer::start().expect("redis-server");
    let host = host(&redis, true);
    for path in ["/funboost/ui", "/funboost/ui/"] {
        let page = host.request("GET", path, &[], Vec::new()).await.expect("page");
        assert_eq!(page.status, 200, "{path}");
        assert_eq!(page.header("content-type"), Some("text/html; charset=utf-8"), "{path}");
        let csp = page.header("content-security-policy").unwrap_or_default();
        assert!(csp.contains("default-src 'none'") && csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(page.text().contains("/funboost/ui/app.js"), "{path}");
    }
    let script = host.request("GET", "/funboost/ui/app.js", &[], Vec::new()).await.expect("app.js");
    assert_eq!((script.status, script.header("content-type")), (200, Some("text/javascript; charset=utf-8")));
    assert_eq!(script.header("x-content-type-options"), Some("nosniff"));
    let missing = host.request("GET", "/funboost/ui/nope", &[], Vec::new()).await.expect("404");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.header("content-type"), Some("text/plain; charset=utf-8"), "the page's 404, not the API's envelope");
    let health = host.request("GET", "/funboost/health", &[], Vec::new()).await.expect("health");
    assert_eq!((health.status, health.header("content-type")), (200, Some("application/json")), "{}", health.text());
    let outside = host.request("GET", "/other", &[], Vec::new()).await.expect("outside");
    assert_eq!(outside.status, 404);
}
