//! The OpenAPI 3.1 document of the `/funboost/...` API, served as `GET /funboost/openapi.json`
//! by the small web component.
//!
//! The routes are described in [`DOCS`], a table of plain data beside [`super::ROUTES`] rather
//! than read from it: `ROUTES` holds the handlers, and referring to it would link the whole API
//! (stores, triggers, time zones) into the web component. A unit test keeps the two tables in
//! step: every route, method and access class of `ROUTES` is documented, and nothing else.

use serde_json::{json, Map, Value};

use super::Access;
use crate::error::code;
use crate::job::MAX_NAME_LEN;

/// A query parameter.
#[derive(Clone, Copy)]
enum Param {
    JobId,
    Queue,
    /// `queue_name` where absent means every queue.
    QueueOptional,
    Store,
    Count,
    Lookahead,
}

/// A request body.
#[derive(Clone, Copy, PartialEq)]
enum Body {
    None,
    Add,
    Modify,
    Reschedule,
    Preview,
}

/// The `data` of a success.
#[derive(Clone, Copy)]
enum Data {
    Null,
    Job,
    JobDetail,
    List,
    DeleteAll,
    RunNow,
    SchedulerStatus,
    SchedulerSwitch,
    QueueConfig,
    Preview,
    Health,
    Tick,
    /// Prometheus text, not an envelope.
    Metrics,
}

/// One documented route.
struct Doc {
    path: &'static str,
    methods: &'static [&'static str],
    access: Access,
    summary: &'static str,
    params: &'static [Param],
    body: Body,
    data: Data,
    /// Statuses beyond the ones every route may answer (400, 401 unless open, 413, 500, 503).
    extra_statuses: &'static [u16],
}

const JOB_KEY: &[Param] = &[Param::JobId, Param::Queue, Param::Store];

/// Every route of [`super::ROUTES`], in its order.
const DOCS: &[Doc] = &[
    Doc {
        path: "/add_timing_job",
        methods: &["POST"],
        access: Access::Api,
        summary: "add a job (or replace one with replace_existing)",
        params: &[],
        body: Body::Add,
        data: Data::Job,
        extra_statuses: &[404, 409],
    },
    Doc {
        path: "/get_timing_jobs",
        methods: &["GET"],
        access: Access::Api,
        summary: "list jobs by queue, by next run time, paused jobs last",
        params: &[Param::QueueOptional, Param::Store],
        body: Body::None,
        data: Data::List,
        extra_statuses: &[],
    },
    Doc {
        path: "/get_timing_job",
        methods: &["GET"],
        access: Access::Api,
        summary: "one job, its next fire times and its last fires",
        params: &[Param::JobId, Param::Queue, Param::Store, Param::Count],
        body: Body::None,
        data: Data::JobDetail,
        extra_statuses: &[404],
    },
    Doc {
        path: "/delete_timing_job",
        methods: &["DELETE"],
        access: Access::Api,
        summary: "delete one job",
        params: JOB_KEY,
        body: Body::None,
        data: Data::Null,
        extra_statuses: &[404, 409],
    },
    Doc {
        path: "/delete_all_timing_jobs",
        methods: &["DELETE"],
        access: Access::Api,
        summary: "delete the jobs of one queue, or all",
        params: &[Param::QueueOptional, Param::Store],
        body: Body::None,
        data: Data::DeleteAll,
        extra_statuses: &[],
    },
    Doc {
        path: "/pause_timing_job",
        methods: &["POST"],
        access: Access::Api,
        summary: "pause a job: it stays stored and does not fire",
        params: JOB_KEY,
        body: Body::None,
        data: Data::Job,
        extra_statuses: &[404, 409],
    },
    Doc {
        path: "/resume_timing_job",
        methods: &["POST"],
        access: Access::Api,
        summary: "resume a job (next run recomputed from now)",
        params: JOB_KEY,
        body: Body::None,
        data: Data::Job,
        extra_statuses: &[404, 409],
    },
    Doc {
        path: "/modify_timing_job",
        methods: &["POST"],
        access: Access::Api,
        summary: "change a job's arguments and options; the schedule stays",
        params: JOB_KEY,
        body: Body::Modify,
        data: Data::Job,
        extra_statuses: &[404, 409],
    },
    Doc {
        path: "/reschedule_timing_job",
        methods: &["POST"],
        access: Access::Api,
        summary: "give a job a new trigger; next run from now",
        params: JOB_KEY,
        body: Body::Reschedule,
        data: Data::Job,
        extra_statuses: &[404, 409],
    },
    Doc {
        path: "/run_timing_job_now",
        methods: &["POST"],
        access: Access::Api,
        summary: "publish one message of a job now; the schedule stays",
        params: JOB_KEY,
        body: Body::None,
        data: Data::RunNow,
        extra_statuses: &[404, 409],
    },
    Doc {
        path: "/get_scheduler_status",
        methods: &["GET"],
        access: Access::Api,
        summary: "a queue's scheduler: 1 running, 2 paused, 0 stopped (no tick for 90 s)",
        params: &[Param::Queue, Param::Store],
        body: Body::None,
        data: Data::SchedulerStatus,
        extra_statuses: &[404],
    },
    Doc {
        path: "/pause_scheduler",
        methods: &["POST"],
        access: Access::Api,
        summary: "pause firing for a whole queue",
        params: &[Param::Queue, Param::Store],
        body: Body::None,
        data: Data::SchedulerSwitch,
        extra_statuses: &[404],
    },
    Doc {
        path: "/resume_scheduler",
        methods: &["POST"],
        access: Access::Api,
        summary: "resume firing for a whole queue",
        params: &[Param::Queue, Param::Store],
        body: Body::None,
        data: Data::SchedulerSwitch,
        extra_statuses: &[404],
    },
    Doc {
        path: "/get_one_queue_config",
        methods: &["GET"],
        access: Access::Api,
        summary: "the queue's consumer registration (parameters, broker kind), as funboost returns it",
        params: &[Param::Queue],
        body: Body::None,
        data: Data::QueueConfig,
        extra_statuses: &[404],
    },
    Doc {
        path: "/preview_timing_job",
        methods: &["POST"],
        access: Access::Api,
        summary: "dry run: a trigger's next fire times; stores nothing",
        params: &[],
        body: Body::Preview,
        data: Data::Preview,
        extra_statuses: &[],
    },
    Doc {
        path: "/health",
        methods: &["GET"],
        access: Access::Open,
        summary: "the store is reachable; version and clocks",
        params: &[],
        body: Body::None,
        data: Data::Health,
        extra_statuses: &[],
    },
    Doc {
        path: "/tick",
        methods: &["GET", "POST"],
        access: Access::Tick,
        summary: "run one tick now (hosts without the cron trigger)",
        params: &[Param::Lookahead],
        body: Body::None,
        data: Data::Tick,
        extra_statuses: &[],
    },
    Doc {
        path: "/metrics",
        methods: &["GET"],
        access: Access::Metrics,
        summary: "Prometheus metrics: jobs, fires, misses, lateness, ticks",
        params: &[],
        body: Body::None,
        data: Data::Metrics,
        extra_statuses: &[],
    },
];

/// Every failure: HTTP status, `code` and `error` (the kind).
const ERRORS: &[(u16, i32, &str)] = &[
    (400, code::INVALID_INPUT, "InvalidField"),
    (400, code::FUNC_PARAMS, "FuncParamsError"),
    (401, code::UNAUTHORIZED, "Unauthorized"),
    (404, code::QUEUE_NOT_FOUND, "QueueNameNotExists"),
    (404, code::JOB_NOT_FOUND, "JobLookupError"),
    (404, code::ROUTE_NOT_FOUND, "NotFound"),
    (405, code::METHOD_NOT_ALLOWED, "MethodNotAllowed"),
    (409, code::JOB_EXISTS, "ConflictingIdError"),
    (409, code::JOB_EXISTS, "Conflict"),
    (409, code::TOO_MANY_JOBS, "TooManyJobs"),
    (413, code::BODY_TOO_LARGE, "BodyTooLarge"),
    (500, code::INTERNAL, "ConfigError"),
    (500, code::INTERNAL, "CorruptJob"),
    (500, code::INTERNAL, "Internal"),
    (503, code::STORE_UNAVAILABLE, "StoreUnavailable"),
];

/// The OpenAPI 3.1 document of every route.
pub fn document() -> Value {
    let mut paths = Map::new();
    for doc in DOCS {
        let mut item = Map::new();
        for method in doc.methods {
            item.insert(method.to_ascii_lowercase(), operation(doc, method));
        }
        paths.insert(doc.path.to_string(), Value::Object(item));
    }
    let mut responses = Map::new();
    let mut statuses: Vec<u16> = ERRORS.iter().map(|e| e.0).collect();
    statuses.dedup();
    for status in statuses {
        responses.insert(status.to_string(), error_response(status));
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "funboost-edge",
            "version": super::VERSION,
            "description": "funboost's timing-job HTTP API (APScheduler's date, interval and cron triggers) on Spin. \
                Every response is funboost's envelope; the HTTP status and `code` tell failures apart. \
                A path that is not a route answers 404 (code 4041), a method a route does not take 405 (code 4050).",
        },
        "servers": [{"url": "/funboost"}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "apiToken": {"type": "http", "scheme": "bearer", "description": "the variable api_token; when none is set, only loopback clients are served"},
                "tickToken": {"type": "http", "scheme": "bearer", "description": "the variable tick_token; when none is set, only loopback clients are served"},
                "metricsToken": {"type": "http", "scheme": "bearer", "description": "the variable metrics_token (the API token is accepted too)"},
                "tickTokenQuery": {"type": "apiKey", "in": "query", "name": "token", "description": "the tick token as a query parameter, for hosted cron services"},
            },
            "responses": responses,
        },
    })
}

fn operation(doc: &Doc, method: &str) -> Value {
    let mut op = Map::new();
    let id = doc.path.trim_start_matches('/');
    let id = if doc.methods.len() > 1 { format!("{id}_{}", method.to_ascii_lowercase()) } else { id.to_string() };
    op.insert("operationId".into(), id.into());
    op.insert("summary".into(), doc.summary.into());
    op.insert("parameters".into(), Value::Array(doc.params.iter().map(|p| parameter(*p)).collect()));
    if let Some(body) = request_body(doc.body) {
        op.insert("requestBody".into(), body);
    }
    let security = match doc.access {
        Access::Open => json!([]),
        Access::Tick => json!([{"tickToken": []}, {"tickTokenQuery": []}]),
        Access::Api => json!([{"apiToken": []}]),
        Access::Metrics => json!([{"metricsToken": []}, {"apiToken": []}]),
    };
    op.insert("security".into(), security);
    let mut responses = Map::new();
    let content = match doc.data {
        Data::Metrics => json!({crate::metrics::CONTENT_TYPE: {"schema": {"type": "string"}}}),
        data => json_content(envelope_ok(data_schema(data))),
    };
    responses.insert("200".into(), json!({"description": "success", "content": content}));
    let mut statuses = vec![400, 413, 500, 503];
    if doc.access != Access::Open {
        statuses.push(401);
    }
    statuses.extend(doc.extra_statuses);
    statuses.sort_unstable();
    for status in statuses {
        responses.insert(status.to_string(), json!({"$ref": format!("#/components/responses/{status}")}));
    }
    op.insert("responses".into(), Value::Object(responses));
    Value::Object(op)
}

fn json_content(schema: Value) -> Value {
    json!({"application/json": {"schema": schema}})
}

/// funboost's `BaseResponse` on success: every key present.
fn envelope_ok(data: Value) -> Value {
    envelope(json!({"const": true}), data, json!({"const": code::OK}), json!({"type": "null"}), json!({"type": "null"}))
}

fn envelope(succ: Value, data: Value, code: Value, error: Value, error_data: Value) -> Value {
    json!({
        "type": "object",
        "required": ["succ", "msg", "data", "code", "error", "error_data", "traceback", "trace_id"],
        "additionalProperties": false,
        "properties": {
            "succ": succ,
            "msg": {"type": "string"},
            "data": data,
            "code": code,
            "error": error,
            "error_data": error_data,
            "traceback": {"type": "null", "description": "always null: no response carries a stack trace"},
            "trace_id": {"type": "null"},
        },
    })
}

/// The failure envelope of one status, with the codes and kinds it may carry.
fn error_response(status: u16) -> Value {
    let errors: Vec<&(u16, i32, &str)> = ERRORS.iter().filter(|e| e.0 == status).collect();
    let mut codes: Vec<i32> = errors.iter().map(|e| e.1).collect();
    codes.dedup();
    let kinds: Vec<&str> = errors.iter().map(|e| e.2).collect();
    let error_data = json!({
        "type": ["object", "null"],
        "description": "{\"field\": <the offending field>} for an input error, plus funboost-style detail for 5001",
        "properties": {"field": {"type": "string"}},
    });
    let schema = envelope(
        json!({"const": false}),
        json!({"type": "null"}),
        json!({"type": "integer", "enum": codes}),
        json!({"type": "string", "enum": kinds}),
        error_data,
    );
    let description = kinds.join(", ");
    let mut response = json!({"description": description, "content": json_content(schema)});
    if status == 401 {
        response["headers"] = json!({"WWW-Authenticate": {"required": true, "schema": {"type": "string", "const": "Bearer"}}});
    }
    response
}

/// A queue name or job id: 1 to [`MAX_NAME_LEN`] bytes, no control characters.
fn name_schema() -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": MAX_NAME_LEN, "pattern": "^[^\\x00-\\x1f\\x7f-\\x9f]+$"})
}

fn store_schema() -> Value {
    json!({"type": "string", "enum": ["redis", "memory"], "default": "redis"})
}

fn parameter(param: Param) -> Value {
    let (name, required, schema, description) = match param {
        Param::JobId => ("job_id", true, name_schema(), "the job"),
        Param::Queue => ("queue_name", true, name_schema(), "the funboost queue"),
        Param::QueueOptional => ("queue_name", false, name_schema(), "the funboost queue; every queue when absent"),
        Param::Store => ("job_store_kind", false, store_schema(), "where the job is kept"),
        Param::Count => ("count", false, json!({"type": "integer", "minimum": 1, "maximum": 1000, "default": 5}), "how many next fire times to list"),
        Param::Lookahead => (
            "lookahead",
            false,
            json!({"type": "integer", "minimum": 0, "maximum": 300, "default": 0}),
            "also publish fires due within this many seconds, each on its instant",
        ),
    };
    json!({"name": name, "in": "query", "required": required, "schema": schema, "description": description})
}

fn request_body(body: Body) -> Option<Value> {
    let schema = match body {
        Body::None => return None,
        _ => json!({"type": "object"}),
    };
    Some(json!({"required": true, "content": json_content(schema)}))
}

fn data_schema(data: Data) -> Value {
    match data {
        Data::Null => json!({"type": "null"}),
        Data::Job | Data::JobDetail => json!({"type": "object", "required": ["job_id", "queue_name"]}),
        Data::List => json!({"type": "object", "required": ["jobs", "count", "jobs_by_queue", "total_count"]}),
        Data::DeleteAll => json!({"type": "object", "required": ["deleted_count", "failed_jobs"]}),
        Data::RunNow => json!({"type": "object"}),
        Data::SchedulerStatus | Data::SchedulerSwitch => json!({"type": "object", "required": ["queue_name", "status_str"]}),
        Data::QueueConfig => json!({"type": "object", "description": "funboost's registration of the queue's consumer"}),
        Data::Preview | Data::Health | Data::Tick => json!({"type": "object"}),
        Data::Metrics => json!({"type": "string"}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn every_route_is_documented_and_nothing_else() {
        let routes: BTreeSet<(&str, &str, String)> =
            super::super::ROUTES.iter().flat_map(|r| r.methods.iter().map(move |m| (r.path, *m, format!("{:?}", r.access)))).collect();
        let docs: BTreeSet<(&str, &str, String)> = DOCS.iter().flat_map(|d| d.methods.iter().map(move |m| (d.path, *m, format!("{:?}", d.access)))).collect();
        assert_eq!(docs, routes);
    }

    #[test]
    fn every_operation_has_a_success_and_its_error_statuses() {
        let doc = document();
        let add = &doc["paths"]["/add_timing_job"]["post"];
        assert_eq!(add["responses"]["409"]["$ref"], "#/components/responses/409");
        assert_eq!(doc["paths"]["/health"]["get"]["security"], json!([]));
        assert!(doc["paths"]["/health"]["get"]["responses"].get("401").is_none());
        assert_eq!(doc["components"]["responses"]["404"]["content"]["application/json"]["schema"]["properties"]["code"]["enum"], json!([4001, 4040, 4041]));
    }
}
