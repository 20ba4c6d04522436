//! The `/funboost/...` HTTP API: funboost's timing-job routes (same paths, query-string
//! arguments for pause/resume/delete/get, the same response envelope) plus preview, apply,
//! the audit trail, tick and health. One route table ([`ROUTES`]) gives each route its
//! methods, the role it needs and its handler; 404, 405 and authorization are decided from it.
//! Handlers live by route group: `jobs`, `apply`, `scheduler`, `trail`, `ops`, `metrics`.

mod apply;
mod auth;
mod jobs;
mod metrics;
pub mod openapi;
mod ops;
mod query;
mod scheduler;
mod trail;

use serde_json::{json, Value};

use crate::access::{Caller, Role};
use crate::audit;
use crate::error::{code, ApiError};
use crate::host::{HttpRequest, HttpResponse};
use crate::services::Services;
use query::Query;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Serves one request. Never panics; every failure is an envelope with a 4xx/5xx status.
pub fn handle(request: &HttpRequest, services: &Services) -> HttpResponse {
    route(ROUTES, request, services).unwrap_or_else(|e| error_response(&e))
}

/// Serves `/tick` alone: the `http-tick` component's handler (see [`TICK`]).
pub fn handle_tick(request: &HttpRequest, services: &Services) -> HttpResponse {
    route(&[TICK], request, services).unwrap_or_else(|e| error_response(&e))
}

/// The envelope of a failure, for the adapters too (a configuration error never reaches
/// [`handle`]).
pub fn error_response(e: &ApiError) -> HttpResponse {
    let mut response = json_response(e.status, envelope(false, &e.message, Value::Null, e.code, Some(e)));
    if e.status == 401 {
        response.headers.push(("www-authenticate".to_string(), "Bearer".to_string()));
    }
    response
}

fn json_response(status: u16, body: Value) -> HttpResponse {
    // to_vec, not to_string: Value's Display goes through fmt, several times slower.
    let body = serde_json::to_vec(&body).unwrap_or_default();
    HttpResponse { status, headers: vec![("content-type".to_string(), "application/json".to_string())], body }
}

/// funboost's `BaseResponse`: every key always present.
fn envelope(succ: bool, msg: &str, data: Value, code: i32, error: Option<&ApiError>) -> Value {
    json!({
        "succ": succ,
        "msg": msg,
        "data": data,
        "code": code,
        "error": error.map(|e| e.kind),
        "error_data": error.and_then(ApiError::error_data),
        "traceback": Value::Null,
        "trace_id": Value::Null,
    })
}

type Outcome = Result<(String, Value), ApiError>;

/// What a handler works with: the request, the services, who calls and through which route.
pub(super) struct Ctx<'a> {
    pub request: &'a HttpRequest,
    pub services: &'a Services<'a>,
    pub caller: Caller,
    /// The route's path, as the audit trail names it.
    pub route: &'static str,
}

impl Ctx<'_> {
    /// 403 unless the caller's token may touch `queue`.
    pub fn check_queue(&self, queue: &str) -> Result<(), ApiError> {
        if self.caller.scope.allows(queue) {
            return Ok(());
        }
        let mut error = ApiError::new(
            403,
            code::FORBIDDEN,
            "Forbidden",
            format!("the token {} may not touch queue {queue} (its queues: {})", self.caller.name, self.caller.scope.patterns().join(", ")),
        );
        error.field = Some("queue_name".to_string());
        Err(error)
    }

    /// 403 for a change of every queue by a token limited to some.
    pub fn check_every_queue(&self, field: &str) -> Result<(), ApiError> {
        if self.caller.scope.is_all() {
            return Ok(());
        }
        Err(ApiError::new(
            403,
            code::FORBIDDEN,
            "Forbidden",
            format!("the token {} may touch only some queues ({}): give {field}", self.caller.name, self.caller.scope.patterns().join(", ")),
        ))
    }

    /// The audit record of a change of `queue` (`*`: every queue) by this call.
    pub fn audit(&self, queue: &str, job_id: Option<&str>, changes: Value, note: Option<&str>) -> audit::Entry {
        let record = audit::Record {
            token: self.caller.name.clone(),
            route: self.route.to_string(),
            queue: queue.to_string(),
            job_id: job_id.map(String::from),
            changes,
            note: note.map(String::from),
        };
        record.entry(self.services.config.audit_max_records)
    }
}

/// A route's handler: most answer in funboost's envelope; metrics answers in its own format.
#[derive(Clone, Copy)]
enum Handler {
    Envelope(fn(&Ctx, Query) -> Outcome),
    Raw(fn(&Ctx, Query) -> Result<HttpResponse, ApiError>),
    /// Served by another component of spin.toml (named here), which routes the path to it.
    Component(&'static str),
}
use Handler::{Component, Envelope, Raw};

/// Who may call a route (with no token configured for it: loopback clients, see `auth`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone (health).
    Open,
    /// A token of at least this role.
    Api(Role),
    /// The tick token (header or `token` query parameter) or an admin token.
    Tick,
    /// The metrics token or any API token.
    Metrics,
}

impl Access {
    /// The role the route needs, as the OpenAPI document states it.
    pub fn role(self) -> Option<Role> {
        match self {
            Access::Open => None,
            Access::Api(role) => Some(role),
            Access::Tick => Some(Role::Admin),
            Access::Metrics => Some(Role::Read),
        }
    }
}

const READ: Access = Access::Api(Role::Read);
const WRITE: Access = Access::Api(Role::Write);
const ADMIN: Access = Access::Api(Role::Admin);

/// One route: its path under `/funboost`, methods, access, whether it takes a JSON body, a
/// one-line summary and handler.
pub struct Route {
    pub path: &'static str,
    pub methods: &'static [&'static str],
    pub access: Access,
    /// The route reads a JSON body (`content-type: application/json` required).
    pub body: bool,
    pub summary: &'static str,
    handler: Handler,
}

/// Every route, in the README's order.
pub const ROUTES: &[Route] = &[
    Route {
        path: "/add_timing_job",
        methods: &["POST"],
        body: true,
        access: WRITE,
        summary: "add a job (or replace one with replace_existing)",
        handler: Envelope(jobs::add),
    },
    Route { path: "/get_timing_jobs", methods: &["GET"], body: false, access: READ, summary: "list jobs by queue", handler: Envelope(jobs::list) },
    Route { path: "/get_timing_job", methods: &["GET"], body: false, access: READ, summary: "one job and its next fire times", handler: Envelope(jobs::get) },
    Route { path: "/delete_timing_job", methods: &["DELETE"], body: false, access: WRITE, summary: "delete one job", handler: Envelope(jobs::delete) },
    Route {
        path: "/delete_all_timing_jobs",
        methods: &["DELETE"],
        body: false,
        access: ADMIN,
        summary: "delete the jobs of one queue, or all",
        handler: Envelope(jobs::delete_all),
    },
    Route { path: "/pause_timing_job", methods: &["POST"], body: false, access: WRITE, summary: "pause a job", handler: Envelope(jobs::pause) },
    Route {
        path: "/resume_timing_job",
        methods: &["POST"],
        body: false,
        access: WRITE,
        summary: "resume a job (next run recomputed from now)",
        handler: Envelope(jobs::resume),
    },
    Route {
        path: "/modify_timing_job",
        methods: &["POST"],
        body: true,
        access: WRITE,
        summary: "change a job's arguments and options; the schedule stays",
        handler: Envelope(jobs::modify),
    },
    Route {
        path: "/reschedule_timing_job",
        methods: &["POST"],
        body: true,
        access: WRITE,
        summary: "give a job a new trigger; next run from now",
        handler: Envelope(jobs::reschedule),
    },
    Route {
        path: "/run_timing_job_now",
        methods: &["POST"],
        body: false,
        access: WRITE,
        summary: "publish one message of a job now; the schedule stays",
        handler: Envelope(jobs::run_now),
    },
    Route {
        path: "/apply_timing_jobs",
        methods: &["POST"],
        body: true,
        access: WRITE,
        summary: "jobs as code: make the stored jobs the given set (plan, dry run, prune)",
        handler: Envelope(apply::apply),
    },
    Route {
        path: "/get_scheduler_status",
        methods: &["GET"],
        body: false,
        access: READ,
        summary: "a queue's scheduler: running, paused or stopped",
        handler: Envelope(scheduler::status),
    },
    Route {
        path: "/pause_scheduler",
        methods: &["POST"],
        body: false,
        access: ADMIN,
        summary: "pause firing for a whole queue",
        handler: Envelope(scheduler::pause),
    },
    Route {
        path: "/resume_scheduler",
        methods: &["POST"],
        body: false,
        access: ADMIN,
        summary: "resume firing for a whole queue",
        handler: Envelope(scheduler::resume),
    },
    Route {
        path: "/get_one_queue_config",
        methods: &["GET"],
        body: false,
        access: READ,
        summary: "the queue's consumer registration (parameters, broker kind)",
        handler: Envelope(scheduler::queue_config),
    },
    Route {
        path: "/get_audit_records",
        methods: &["GET"],
        body: false,
        access: READ,
        summary: "the audit trail: who changed what, newest first (filter by queue, job, token)",
        handler: Envelope(trail::records),
    },
    Route {
        path: "/whoami",
        methods: &["GET"],
        body: false,
        access: READ,
        summary: "the calling token's name, role and queues, and the routes it may call",
        handler: Envelope(trail::whoami),
    },
    Route {
        path: "/preview_timing_job",
        methods: &["POST"],
        body: true,
        access: READ,
        summary: "dry run: a trigger's next fire times",
        handler: Envelope(ops::preview),
    },
    Route {
        path: "/health",
        methods: &["GET"],
        body: false,
        access: Access::Open,
        summary: "the store is reachable; version and clocks",
        handler: Envelope(ops::health),
    },
    // Only described here: a reference to the handler would link the tick into the API.
    Route { handler: Component("http-tick"), ..TICK },
    Route {
        path: "/metrics",
        methods: &["GET"],
        body: false,
        access: Access::Metrics,
        summary: "Prometheus metrics: jobs, fires, misses, lateness, ticks",
        handler: Raw(metrics::serve),
    },
];

/// The HTTP tick, served by the `http-tick` component: the tick's code (claims, commits, the
/// memory store's tick) is ~60 KB of .wasm the API component has no room for.
const TICK: Route = Route {
    path: "/tick",
    methods: &["GET", "POST"],
    body: false,
    access: Access::Tick,
    summary: "run one tick now (hosts without the cron trigger)",
    handler: Envelope(ops::tick),
};

/// Decides, before the body is read, whether the request may go on: its route and method, who
/// sends it, and (for a route with a body) its content type. Returns how many body bytes the
/// route reads at most (`None`: it reads no body, so the adapter need not read it).
pub fn admit(request: &HttpRequest, services: &Services) -> Result<Option<usize>, ApiError> {
    admit_in(ROUTES, request, services).map(|(route, _)| route.body.then_some(services.config.max_body_bytes))
}

/// [`admit`] for the `http-tick` component.
pub fn admit_tick(request: &HttpRequest, services: &Services) -> Result<Option<usize>, ApiError> {
    admit_in(&[TICK], request, services).map(|(route, _)| route.body.then_some(services.config.max_body_bytes))
}

fn admit_in<'r>(routes: &'r [Route], request: &HttpRequest, services: &Services) -> Result<(&'r Route, Caller), ApiError> {
    let path = request.path.trim_end_matches('/');
    let method = request.method.to_ascii_uppercase();
    let route = routes
        .iter()
        .find(|r| r.path == path)
        .ok_or_else(|| ApiError::new(404, code::ROUTE_NOT_FOUND, "NotFound", format!("no route {} (see the README for the routes)", request.path)))?;
    if !route.methods.contains(&method.as_str()) {
        return Err(ApiError::new(
            405,
            code::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            format!("{} takes {}, not {method}", request.path, route.methods.join(", ")),
        ));
    }
    let caller = auth::caller(request, services.config, route.path, route.access)?;
    if route.body && !is_json(request) {
        // A browser can send a cross-site POST without asking first only with a form's content
        // types; a JSON API has no use for them.
        return Err(ApiError::new(
            415,
            code::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            format!("{} takes a JSON body: send the header `content-type: application/json`", request.path),
        ));
    }
    Ok((route, caller))
}

/// `content-type: application/json`, with or without parameters (`; charset=utf-8`).
fn is_json(request: &HttpRequest) -> bool {
    request
        .headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        .is_some_and(|(_, value)| value.split(';').next().is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json")))
}

/// The error of a body longer than the limit (also answered by the adapters, which stop reading
/// at the limit).
pub fn body_too_large(limit: usize) -> ApiError {
    ApiError::new(413, code::BODY_TOO_LARGE, "BodyTooLarge", format!("the body is longer than the limit of {limit} bytes (variable max_body_bytes)"))
}

fn route(routes: &[Route], request: &HttpRequest, services: &Services) -> Result<HttpResponse, ApiError> {
    let (route, caller) = admit_in(routes, request, services)?;
    if request.body.len() > services.config.max_body_bytes {
        return Err(body_too_large(services.config.max_body_bytes));
    }
    let query = Query::parse(&request.query)?;
    let ctx = Ctx { request, services, caller, route: route.path };
    match route.handler {
        Envelope(handler) => handler(&ctx, query).map(|(msg, data)| json_response(200, envelope(true, &msg, data, code::OK, None))),
        Raw(handler) => handler(&ctx, query),
        Component(name) => Err(ApiError::new(
            404,
            code::ROUTE_NOT_FOUND,
            "NotFound",
            format!("{} is served by the {name} component; route it there (spin.toml does)", request.path),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_unique_and_every_route_has_a_method() {
        let mut paths: Vec<&str> = ROUTES.iter().map(|r| r.path).collect();
        paths.sort();
        paths.dedup();
        assert_eq!(paths.len(), ROUTES.len());
        assert!(ROUTES.iter().all(|r| !r.methods.is_empty() && r.path.starts_with('/')));
    }

    #[test]
    fn the_routes_that_take_a_json_body_are_the_ones_with_a_body() {
        let with_body: Vec<&str> = ROUTES.iter().filter(|r| r.body).map(|r| r.path).collect();
        assert_eq!(with_body, ["/add_timing_job", "/modify_timing_job", "/reschedule_timing_job", "/apply_timing_jobs", "/preview_timing_job"]);
        assert!(ROUTES.iter().filter(|r| r.body).all(|r| r.methods == ["POST"]));
    }

    #[test]
    fn reads_need_read_changes_need_write_and_whole_queue_switches_need_admin() {
        for route in ROUTES {
            let want = match route.path {
                "/health" => Access::Open,
                "/tick" => Access::Tick,
                "/metrics" => Access::Metrics,
                "/delete_all_timing_jobs" | "/pause_scheduler" | "/resume_scheduler" => ADMIN,
                path if path.starts_with("/get_") || matches!(path, "/whoami" | "/preview_timing_job") => READ,
                _ => WRITE,
            };
            assert_eq!(route.access, want, "{}", route.path);
        }
    }
}
