//! funboost-edge management page: `GET /funboost/ui` serves one HTML page, one script and one
//! stylesheet, embedded with `include_str!` (README: "Management page"), and
//! `GET /funboost/openapi.json` the API's OpenAPI document. The page talks to the JSON API
//! under `/funboost/` from the browser; of the core this component links only
//! `api::openapi::document()` (plain data), so it stays small and needs no Redis, variables or
//! key-value store.
//!
//! [`respond`] is the whole component: a match on the full path (not `spin-path-info`, so one
//! component can serve routes under several spin.toml routes). Natively only it is compiled,
//! for its unit tests; the Spin export is the `spin` module, built for wasm32 only.

use std::borrow::Cow;
use std::sync::OnceLock;

/// The page's Content-Security-Policy: its own script, style and API only; no inline script or
/// style, no framing, no form posts, no `<base>`. Inline event handlers a value might smuggle
/// in (`<img onerror=...>`) are blocked too, on top of the page never parsing data as HTML.
pub const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const PAGE_HTML: &str = include_str!("../page/index.html");
const APP_JS: &str = include_str!("../page/app.js");
const APP_CSS: &str = include_str!("../page/app.css");

/// An answer: status, headers and body (empty for HEAD).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, &'static str)>,
    pub body: Cow<'static, [u8]>,
}

impl Reply {
    fn asset(content_type: &'static str, body: &'static str) -> Reply {
        // no-cache: the browser revalidates, so a redeployed page is picked up at once.
        let headers = vec![("content-type", content_type), ("x-content-type-options", "nosniff"), ("cache-control", "no-cache")];
        Reply { status: 200, headers, body: Cow::Borrowed(body.as_bytes()) }
    }

    fn text(status: u16, body: &'static str) -> Reply {
        let headers = vec![("content-type", "text/plain; charset=utf-8"), ("x-content-type-options", "nosniff")];
        Reply { status, headers, body: Cow::Borrowed(body.as_bytes()) }
    }
}

/// The answer to `method path` (the full path, e.g. `/funboost/ui/app.js`, no query). Unknown
/// paths are 404 whatever the method; known ones take GET and HEAD only (405 otherwise).
pub fn respond(method: &str, path: &str) -> Reply {
    let mut reply = match path {
        "/funboost/ui" | "/funboost/ui/" => {
            let mut page = Reply::asset("text/html; charset=utf-8", PAGE_HTML);
            page.headers.extend([("content-security-policy", PAGE_CSP), ("referrer-policy", "no-referrer"), ("x-frame-options", "DENY")]);
            page
        }
        "/funboost/ui/app.js" => Reply::asset("text/javascript; charset=utf-8", APP_JS),
        "/funboost/ui/app.css" => Reply::asset("text/css; charset=utf-8", APP_CSS),
        "/funboost/openapi.json" => {
            let mut document = Reply::asset("application/json", openapi_json());
            // Public and read-only: Swagger UI or Redoc served elsewhere may load it.
            document.headers.push(("access-control-allow-origin", "*"));
            document
        }
        _ => return Reply::text(404, "not found\n"),
    };
    match method {
        "GET" => {}
        "HEAD" => reply.body = Cow::Borrowed(&[]),
        _ => {
            reply = Reply::text(405, "method not allowed: use GET\n");
            reply.headers.push(("allow", "GET, HEAD"));
        }
    }
    reply
}

/// The API's OpenAPI document, serialized once per instance.
fn openapi_json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| serde_json::to_string(&funboost_edge::api::openapi::document()).unwrap_or_default())
}

#[cfg(target_arch = "wasm32")]
mod spin {
    use spin_sdk::http::{Request, Response};
    use spin_sdk::http_component;

    #[http_component]
    fn handle(request: Request) -> Response {
        let reply = super::respond(&request.method().to_string(), request.path());
        let mut builder = Response::builder();
        builder.status(reply.status);
        for (name, value) in reply.headers {
            builder.header(name, value);
        }
        builder.body(reply.body.into_owned()).build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header<'a>(reply: &'a Reply, name: &str) -> Option<&'a str> {
        reply.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }

    #[test]
    fn the_page_has_a_strict_csp_and_both_spellings_serve_it() {
        for path in ["/funboost/ui", "/funboost/ui/"] {
            let reply = respond("GET", path);
            assert_eq!(reply.status, 200);
            assert_eq!(header(&reply, "content-type"), Some("text/html; charset=utf-8"));
            assert_eq!(header(&reply, "content-security-policy"), Some(PAGE_CSP));
            assert_eq!(header(&reply, "x-content-type-options"), Some("nosniff"));
            assert!(std::str::from_utf8(&reply.body).is_ok_and(|html| html.contains("/funboost/ui/app.js")));
        }
    }

    #[test]
    fn script_and_style_have_their_content_types() {
        assert_eq!(header(&respond("GET", "/funboost/ui/app.js"), "content-type"), Some("text/javascript; charset=utf-8"));
        assert_eq!(header(&respond("GET", "/funboost/ui/app.css"), "content-type"), Some("text/css; charset=utf-8"));
    }

    #[test]
    fn other_paths_are_404_and_other_methods_405() {
        for path in ["/funboost/ui/x", "/funboost/ui/app.js/", "/funboost/uix", "/funboost/ui/index.html"] {
            assert_eq!(respond("GET", path).status, 404, "{path}");
        }
        assert_eq!(respond("POST", "/funboost/ui/nope").status, 404);
        let post = respond("POST", "/funboost/ui");
        assert_eq!((post.status, header(&post, "allow")), (405, Some("GET, HEAD")));
        let head = respond("HEAD", "/funboost/ui/app.css");
        assert_eq!((head.status, head.body.len()), (200, 0));
    }

    #[test]
    fn the_openapi_document_is_served_as_json() {
        let reply = respond("GET", "/funboost/openapi.json");
        assert_eq!((reply.status, header(&reply, "content-type")), (200, Some("application/json")));
        let served: serde_json::Value = serde_json::from_slice(&reply.body).expect("JSON");
        assert_eq!(served, funboost_edge::api::openapi::document());
        assert_eq!(respond("POST", "/funboost/openapi.json").status, 405);
    }

    #[test]
    fn the_script_never_parses_data_as_html() {
        for sink in ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"] {
            assert!(!APP_JS.contains(sink), "app.js uses {sink}");
        }
        assert!(!PAGE_HTML.contains("<script>") && !PAGE_HTML.contains("style="), "no inline script or style (the CSP blocks them)");
    }
}
