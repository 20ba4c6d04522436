//! The OpenAPI 3.1 document of the `/funboost/...` API, served as `GET /funboost/openapi.json`
//! by the small web component.
//!
//! The routes are described in [`DOCS`], a table of plain data beside [`super::ROUTES`] rather
//! than read from it: `ROUTES` holds the handlers, and referring to it would link the whole API
//! (stores, triggers, time zones) into the web component. A unit test keeps the two tables in
//! step: every route, method and access class of `ROUTES` is documented, and nothing else.

use serde_json::{json, Map, Value};

use super::ops::MAX_LOOKAHEAD_SECS;
use super::query::MAX_COUNT;
use super::{Access, ADMIN, READ, WRITE};
use crate::access::Role;
use crate::error::code;
use crate::job::request::{JsonKind, TASK_OPTIONS};
use crate::job::{BrokerKind, HISTORY_LEN, MAX_JITTER_SECS, MAX_NAME_LEN};
use crate::trigger::FieldKind;

/// A query parameter.
#[derive(Clone, Copy, PartialEq)]
enum Param {
    JobId,
    Queue,
    /// `queue_name` where absent means every queue.
    QueueOptional,
    Store,
    /// `job_store_kind` where only `redis` has the feature (the per-queue scheduler switch).
    RedisStore,
    Count,
    Lookahead,
    /// The optional `note` of a change, kept in its audit record.
    Note,
    /// The audit trail's filters and paging.
    JobIdFilter,
    TokenFilter,
    Limit,
    Before,
}

/// A request body.
#[derive(Clone, Copy, PartialEq)]
enum Body {
    None,
    Add,
    Modify,
    Reschedule,
    Apply,
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
    Apply,
    Preview,
    Health,
    Tick,
    AuditRecords,
    Whoami,
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
const JOB_KEY_NOTE: &[Param] = &[Param::JobId, Param::Queue, Param::Store, Param::Note];
const SWITCH: &[Param] = &[Param::Queue, Param::RedisStore, Param::Note];

/// The README quick start's queue (a consumer of `add(x, y)`) and job, used in examples.
const EXAMPLE_QUEUE: &str = "test_queue";
const EXAMPLE_JOB: &str = "hello";

/// Every route of [`super::ROUTES`], in its order.
const DOCS: &[Doc] = &[
    Doc {
        path: "/add_timing_job",
        methods: &["POST"],
        access: WRITE,
        summary: "add a job (or replace one with replace_existing)",
        params: &[],
        body: Body::Add,
        data: Data::Job,
        extra_statuses: &[404, 409],
    },
    Doc {
        path: "/get_timing_jobs",
        methods: &["GET"],
        access: READ,
        summary: "list jobs by queue, by next run time, paused jobs last",
        params: &[Param::QueueOptional, Param::Store],
        body: Body::None,
        data: Data::List,
        extra_statuses: &[],
    },
    Doc {
        path: "/get_timing_job",
        methods: &["GET"],
        access: READ,
        summary: "one job, its next fire times and its last fires",
        params: &[Param::JobId, Param::Queue, Param::Store, Param::Count],
        body: Body::None,
        data: Data::JobDetail,
        extra_statuses: &[404],
    },
    Doc {
        path: "/delete_timing_job",
        methods: &["DELETE"],
        access: WRITE,
        summary: "delete one job",
        params: JOB_KEY_NOTE,
        body: Body::None,
        data: Data::Null,
        extra_statuses: &[404, 409],
    },
    Doc {
        path: "/delete_all_timing_jobs",
        methods: &["DELETE"],
        access: ADMIN,
        summary: "delete the jobs of one queue, or all",
        params: &[Param::QueueOptional, Param::Store, Param::Note],
        body: Body::None,
        data: Data::DeleteAll,
        extra_statuses: &[],
    },
    Doc {
        path: "/pause_timing_job",
        methods: &["POST"],
        access: WRITE,
        summary: "pause a job: it stays stored and does not fire",
        params: JOB_KEY_NOTE,
        body: Body::None,
        data: Data::Job,
        extra_statuses: &[404, 409],
    },
    Doc {
        path: "/resume_timing_job",
        methods: &["POST"],
        access: WRITE,
        summary: "resume a job (next run recomputed from now)",
        params: JOB_KEY_NOTE,
        body: Body::None,
        data: Data::Job,
        extra_statuses: &[404, 409],
    },
    Doc {
        path: "/modify_timing_job",
        methods: &["POST"],
        access: WRITE,
        summary: "change a job's arguments and options; the schedule stays",
        params: JOB_KEY,
        body: Body::Modify,
        data: Data::Job,
        extra_statuses: &[404, 409],
    },
    Doc {
        path: "/reschedule_timing_job",
        methods: &["POST"],
        access: WRITE,
        summary: "give a job a new trigger; next run from now",
        params: JOB_KEY,
        body: Body::Reschedule,
        data: Data::Job,
        extra_statuses: &[404, 409],
    },
    Doc {
        path: "/run_timing_job_now",
        methods: &["POST"],
        access: WRITE,
        summary: "publish one message of a job now; the schedule stays",
        params: JOB_KEY,
        body: Body::None,
        data: Data::RunNow,
        extra_statuses: &[404, 409],
    },
    Doc {
        path: "/apply_timing_jobs",
        methods: &["POST"],
        access: WRITE,
        summary: "jobs as code: make the stored jobs the given set (a plan; dry run; prune)",
        params: &[],
        body: Body::Apply,
        data: Data::Apply,
        extra_statuses: &[404, 409],
    },
    Doc {
        path: "/get_scheduler_status",
        methods: &["GET"],
        access: READ,
        summary: "a queue's scheduler: 1 running, 2 paused, 0 stopped (no tick for 90 s)",
        params: &[Param::Queue, Param::RedisStore],
        body: Body::None,
        data: Data::SchedulerStatus,
        extra_statuses: &[404],
    },
    Doc {
        path: "/pause_scheduler",
        methods: &["POST"],
        access: ADMIN,
        summary: "pause firing for a whole queue",
        params: SWITCH,
        body: Body::None,
        data: Data::SchedulerSwitch,
        extra_statuses: &[404],
    },
    Doc {
        path: "/resume_scheduler",
        methods: &["POST"],
        access: ADMIN,
        summary: "resume firing for a whole queue",
        params: SWITCH,
        body: Body::None,
        data: Data::SchedulerSwitch,
        extra_statuses: &[404],
    },
    Doc {
        path: "/get_one_queue_config",
        methods: &["GET"],
        access: READ,
        summary: "the queue's consumer registration (parameters, broker kind), as funboost returns it",
        params: &[Param::Queue],
        body: Body::None,
        data: Data::QueueConfig,
        extra_statuses: &[404],
    },
    Doc {
        path: "/get_audit_records",
        methods: &["GET"],
        access: READ,
        summary: "the audit trail: who changed what, newest first (filter by queue, job, token; page with before)",
        params: &[Param::QueueOptional, Param::JobIdFilter, Param::TokenFilter, Param::Limit, Param::Before],
        body: Body::None,
        data: Data::AuditRecords,
        extra_statuses: &[],
    },
    Doc {
        path: "/whoami",
        methods: &["GET"],
        access: READ,
        summary: "the calling token's name, role and queues, and the routes it may call",
        params: &[],
        body: Body::None,
        data: Data::Whoami,
        extra_statuses: &[],
    },
    Doc {
        path: "/preview_timing_job",
        methods: &["POST"],
        access: READ,
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
    (403, code::FORBIDDEN, "Forbidden"),
    (404, code::QUEUE_NOT_FOUND, "QueueNameNotExists"),
    (404, code::JOB_NOT_FOUND, "JobLookupError"),
    (404, code::ROUTE_NOT_FOUND, "NotFound"),
    (405, code::METHOD_NOT_ALLOWED, "MethodNotAllowed"),
    (409, code::JOB_EXISTS, "ConflictingIdError"),
    (409, code::JOB_EXISTS, "Conflict"),
    (409, code::TOO_MANY_JOBS, "TooManyJobs"),
    (409, code::JOB_UNREADABLE, "JobUnreadable"),
    (413, code::BODY_TOO_LARGE, "BodyTooLarge"),
    (415, code::UNSUPPORTED_MEDIA_TYPE, "UnsupportedMediaType"),
    (500, code::INTERNAL, "ConfigError"),
    (500, code::STORE_CORRUPT, "StoreCorrupt"),
    (503, code::STORE_UNAVAILABLE, "StoreUnavailable"),
    (503, code::STORE_UNAVAILABLE, "StoreUpgrading"),
    (503, code::STORE_FORMAT, "StoreFormatNewer"),
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
                "apiToken": {"type": "http", "scheme": "bearer", "description": "a token of the variable tokens (or api_token, an admin token), with the role the route states (x-role); when none is set, only loopback clients are served"},
                "tickToken": {"type": "http", "scheme": "bearer", "description": "the variable tick_token (admin tokens are accepted too); when none is set, only loopback clients are served"},
                "metricsToken": {"type": "http", "scheme": "bearer", "description": "the variable metrics_token (every API token is accepted too)"},
                "tickTokenQuery": {"type": "apiKey", "in": "query", "name": "token", "description": "the tick token as a query parameter, for hosted cron services"},
            },
            "responses": responses,
            "schemas": schemas(),
        },
    })
}

fn operation(doc: &Doc, method: &str) -> Value {
    let mut op = Map::new();
    op.insert("operationId".into(), operation_id(doc, method).into());
    op.insert("summary".into(), doc.summary.into());
    if let Some(role) = doc.access.role() {
        op.insert("x-role".into(), role.name().into());
        op.insert("description".into(), format!("Needs a token with role {} or above (roles: read < write < admin).", role.name()).into());
    }
    op.insert("parameters".into(), Value::Array(doc.params.iter().map(|p| parameter(*p)).collect()));
    if let Some(body) = request_body(doc.body) {
        op.insert("requestBody".into(), body);
    }
    let security = match doc.access {
        Access::Open => json!([]),
        Access::Tick => json!([{"tickToken": []}, {"tickTokenQuery": []}]),
        Access::Api(_) => json!([{"apiToken": []}]),
        Access::Metrics => json!([{"metricsToken": []}, {"apiToken": []}]),
    };
    op.insert("security".into(), security);
    let mut responses = Map::new();
    let content = match doc.data {
        Data::Metrics => json!({crate::metrics::CONTENT_TYPE: {"schema": {"type": "string"}}}),
        data => json_content(envelope_ok(data_schema(data))),
    };
    let mut success = json!({"description": "success", "content": content});
    if doc.body == Body::Add {
        success["links"] = job_links();
    }
    responses.insert("200".into(), success);
    let mut statuses = vec![400, 413, 500, 503];
    if doc.access != Access::Open {
        // 403: a token without the route's role or the queue in its scope; without a token, a
        // browser request made by a page of another site.
        statuses.extend([401, 403]);
    }
    if doc.body != Body::None {
        statuses.push(415);
    }
    statuses.extend(doc.extra_statuses);
    statuses.sort_unstable();
    for status in statuses {
        responses.insert(status.to_string(), json!({"$ref": format!("#/components/responses/{status}")}));
    }
    op.insert("responses".into(), Value::Object(responses));
    Value::Object(op)
}

/// From an added job to every route on one job (`job_id`, `queue_name` from the answer).
fn job_links() -> Value {
    let links: Map<String, Value> = DOCS
        .iter()
        .filter(|d| d.params.starts_with(&[Param::JobId, Param::Queue]))
        .flat_map(|d| d.methods.iter().map(move |m| (d, m)))
        .map(|(d, m)| {
            let parameters = json!({"job_id": "$response.body#/data/job_id", "queue_name": "$response.body#/data/queue_name"});
            (operation_id(d, m), json!({"operationId": operation_id(d, m), "parameters": parameters}))
        })
        .collect();
    Value::Object(links)
}

fn operation_id(doc: &Doc, method: &str) -> String {
    let id = doc.path.trim_start_matches('/');
    if doc.methods.len() > 1 {
        format!("{id}_{}", method.to_ascii_lowercase())
    } else {
        id.to_string()
    }
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

/// A queue name a job may be added to: also no braces or whitespace, and none of funboost's
/// own keys (`crate::job::validate_queue_name`).
fn new_queue_schema() -> Value {
    json!({
        "type": "string", "minLength": 1, "maxLength": MAX_NAME_LEN, "pattern": "^[^\\s{}\\x00-\\x1f\\x7f-\\x9f]+$",
        "description": "the funboost queue: also not one of funboost's own Redis keys (funboost.*, funboost_all_*, funboost_queue__*, ...), nor unack_* or *__unack_id_* (another queue's unacknowledged messages)",
    })
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
        Param::RedisStore => {
            ("job_store_kind", false, json!({"type": "string", "enum": ["redis"], "default": "redis"}), "only the redis store has a per-queue scheduler")
        }
        Param::Count => ("count", false, json!({"type": "integer", "minimum": 1, "maximum": MAX_COUNT, "default": 5}), "how many next fire times to list"),
        Param::Lookahead => (
            "lookahead",
            false,
            json!({"type": "integer", "minimum": 0, "maximum": MAX_LOOKAHEAD_SECS, "default": 0}),
            "also publish fires due within this many seconds, each on its instant",
        ),
        Param::Note => ("note", false, json!({"type": "string", "maxLength": crate::audit::MAX_NOTE_CHARS}), "why: kept in the change's audit record"),
        Param::JobIdFilter => {
            ("job_id", false, name_schema(), "records of this job (with queue_name, also those of its whole queue, such as a scheduler pause)")
        }
        Param::TokenFilter => ("token", false, json!({"type": "string"}), "records of this token name"),
        Param::Limit => ("limit", false, json!({"type": "integer", "minimum": 1, "maximum": 1000, "default": 50}), "how many records at most"),
        Param::Before => {
            ("before", false, json!({"type": "string", "pattern": "^[0-9]{1,20}-[0-9]{1,20}$"}), "records older than this id (the previous page's next_before)")
        }
    };
    let mut parameter = json!({"name": name, "in": "query", "required": required, "schema": schema, "description": description});
    // The quick start's job, so that a client (or a fuzzer) reaches a stored job.
    match name {
        "job_id" => parameter["example"] = EXAMPLE_JOB.into(),
        "queue_name" => parameter["example"] = EXAMPLE_QUEUE.into(),
        _ => {}
    }
    parameter
}

/// A schema in `components/schemas`.
fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn object(properties: Map<String, Value>, required: &[&str]) -> Value {
    json!({"type": "object", "properties": properties, "required": required, "additionalProperties": false})
}

/// `(name, schema)` pairs into a property map.
fn props<const N: usize>(pairs: [(&str, Value); N]) -> Map<String, Value> {
    pairs.into_iter().map(|(n, v)| (n.to_string(), v)).collect()
}

fn string(description: &str) -> Value {
    json!({"type": "string", "description": description})
}

fn count(description: &str) -> Value {
    json!({"type": "integer", "minimum": 0, "description": description})
}

/// Python's `str(datetime)` of an aware time: `YYYY-MM-DD HH:MM:SS[.ffffff]+HH:MM`.
fn py_time(nullable: bool) -> Value {
    let kind = if nullable { json!(["string", "null"]) } else { json!("string") };
    json!({"type": kind, "description": "YYYY-MM-DD HH:MM:SS[.ffffff]+HH:MM, in the job's zone"})
}

/// What `run_date`, `start_date`, `end_date` and preview's `after` accept (APScheduler's
/// `convert_to_datetime`); a naive time is in the trigger's zone.
fn datetime_input(description: &str) -> Value {
    json!({
        "type": "string",
        "pattern": "^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([ T][0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(\\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})?)?$",
        "description": description,
    })
}

const INTERVAL_FIELDS: [&str; 5] = ["weeks", "days", "hours", "minutes", "seconds"];

/// The fields of one trigger kind, as a request sends them and a job echoes them.
fn trigger_fields(kind: &str) -> Map<String, Value> {
    let mut fields = Map::new();
    let whole = |description: &str| json!({"type": "integer", "minimum": 0, "description": description});
    match kind {
        "date" => {
            fields.insert("run_date".into(), datetime_input("when it fires; default now"));
        }
        "interval" => {
            for name in INTERVAL_FIELDS {
                let description = "a whole number (or a string of one); no unit at all means 1 second; at most 100 years in total";
                fields.insert(name.into(), json!({"type": ["integer", "string"], "minimum": 0, "pattern": "^\\s*[+]?[0-9]+\\s*$", "description": description}));
            }
        }
        "cron" => {
            for field in FieldKind::ALL {
                let description = "APScheduler's cron expression (*, */n, a-b, a-b/n, lists, names, last, 1st fri) or a non-negative integer";
                fields.insert(field.name().into(), json!({"type": ["string", "integer"], "minimum": 0, "description": description}));
            }
        }
        "calendarinterval" => {
            for name in ["years", "months", "weeks", "days"] {
                fields.insert(
                    name.into(),
                    whole("calendar steps between fires (a month keeps the day of the month; a step to a day that does not exist is skipped)"),
                );
            }
            for name in ["hour", "minute", "second"] {
                fields.insert(name.into(), whole("the wall-clock time of each fire (default 0)"));
            }
        }
        _ => {
            fields.insert(
                "triggers".into(),
                json!({"type": "array", "minItems": 1, "maxItems": crate::trigger::combining::MAX_COMBINED_PARTS, "items": schema_ref("Trigger"),
                       "description": format!("the combined triggers (or: the earliest of their times; and: a time all give), nested at most {} levels", crate::trigger::combining::MAX_COMBINING_DEPTH)}),
            );
        }
    }
    if kind != "date" {
        if !matches!(kind, "and" | "or") {
            fields
                .insert("start_date".into(), datetime_input("first possible fire (interval: default now + interval; calendarinterval: a date, default today)"));
            fields.insert("end_date".into(), datetime_input("last possible fire"));
        }
        fields.insert(
            "jitter".into(),
            json!({"type": "integer", "minimum": 0, "maximum": MAX_JITTER_SECS, "description": "up to this many seconds of random delay per fire"}),
        );
    }
    if !matches!(kind, "and" | "or") {
        fields.insert("timezone".into(), string("IANA name or UTC; default the variable timezone"));
    }
    fields
}

/// The publishing fields of add and modify: args, kwargs, options and funboost task options.
fn job_options() -> Map<String, Value> {
    let mut brokers: Vec<&str> = BrokerKind::ALL.iter().map(|k| k.name()).collect();
    brokers.push("RedisBrpopLpush");
    let mut fields = props([
        ("args", json!({"type": "array", "description": "positional arguments, mapped to the consumer's parameter names"})),
        ("kwargs", json!({"type": "object", "description": "keyword arguments of the consuming function"})),
        (
            "misfire_grace_time",
            json!({"type": ["integer", "null"], "minimum": 1, "maximum": u32::MAX, "default": 1, "description": "seconds a fire may be late and still run; null: no limit"}),
        ),
        ("coalesce", json!({"type": "boolean", "default": true, "description": "after downtime, run missed fires once"})),
        ("broker_kind", json!({"type": "string", "enum": brokers, "description": "default: the consumer's registered kind, else REDIS"})),
        ("priority", json!({"type": "integer", "minimum": 0, "maximum": u8::MAX, "description": "REDIS_PRIORITY only"})),
    ]);
    for (name, kind) in TASK_OPTIONS {
        let schema = match kind {
            JsonKind::Number => json!({"type": "number", "minimum": 0}),
            JsonKind::Integer => json!({"type": "integer", "minimum": 0}),
            JsonKind::Bool => json!({"type": "boolean"}),
            JsonKind::Object => json!({"type": "object"}),
            JsonKind::String => json!({"type": "string"}),
        };
        fields.insert(name.into(), schema);
    }
    fields
}

/// One request schema per trigger kind, `trigger` telling them apart; `with` adds the
/// route's own fields.
fn per_trigger(with: &Map<String, Value>, required: &[&str]) -> Value {
    let variants: Vec<Value> = crate::trigger::KINDS
        .into_iter()
        .map(|kind| {
            let mut fields = with.clone();
            fields.insert("trigger".into(), json!({"type": "string", "const": kind}));
            fields.extend(trigger_fields(kind));
            let mut schema = object(fields, required);
            schema["title"] = format!("{kind} trigger").into();
            schema
        })
        .collect();
    json!({"oneOf": variants})
}

fn request_body(body: Body) -> Option<Value> {
    let schema = match body {
        Body::None => return None,
        Body::Add | Body::Modify | Body::Reschedule | Body::Apply | Body::Preview => schema_ref(body_name(body)),
    };
    let example = match body {
        Body::Add => json!({"queue_name": EXAMPLE_QUEUE, "trigger": "interval", "seconds": 10, "job_id": EXAMPLE_JOB, "kwargs": {"x": 1, "y": 2}}),
        Body::Modify => json!({"kwargs": {"x": 5, "y": 6}, "misfire_grace_time": 30}),
        Body::Reschedule => json!({"trigger": "interval", "seconds": 30}),
        Body::Apply => json!({"queue_name": EXAMPLE_QUEUE, "prune": true, "dry_run": true, "jobs": [
            {"queue_name": EXAMPLE_QUEUE, "job_id": EXAMPLE_JOB, "trigger": "interval", "seconds": 10, "kwargs": {"x": 1, "y": 2}},
            {"queue_name": EXAMPLE_QUEUE, "job_id": "weekday_morning", "trigger": "cron", "day_of_week": "mon-fri", "hour": "9", "kwargs": {"x": 3, "y": 4}},
        ]}),
        _ => json!({"trigger": "cron", "day_of_week": "mon-fri", "hour": "9", "after": "2025-12-05 10:00:00", "count": 2}),
    };
    Some(json!({"required": true, "content": {"application/json": {"schema": schema, "example": example}}}))
}

fn body_name(body: Body) -> &'static str {
    match body {
        Body::Add => "AddRequest",
        Body::Modify => "ModifyRequest",
        Body::Reschedule => "RescheduleRequest",
        Body::Apply => "ApplyRequest",
        _ => "PreviewRequest",
    }
}

/// The shared schemas: the request bodies and the job as returned.
fn schemas() -> Value {
    let add = {
        let mut fields = props([
            ("queue_name", new_queue_schema()),
            ("job_id", json!({"allOf": [name_schema()], "description": "default: 32 random hex digits"})),
            ("job_store_kind", store_schema()),
            ("replace_existing", json!({"type": "boolean", "default": false, "description": "replace a job with the same id instead of answering 409"})),
            ("paused", json!({"type": "boolean", "default": false, "description": "store the job paused"})),
            ("next_run_time", datetime_input("the first run (APScheduler's add_job(next_run_time=...)); the trigger goes on from it; not with paused")),
        ]);
        fields.extend(job_options());
        per_trigger(&fields, &["queue_name", "trigger"])
    };
    let apply = object(
        props([
            (
                "queue_name",
                json!({"allOf": [new_queue_schema()], "description": "apply the set to this queue only (every job must be of it); default: the set's queues, or every queue with prune"}),
            ),
            (
                "jobs",
                json!({"type": "array", "maxItems": super::apply::MAX_APPLY_JOBS, "items": schema_ref("AddRequest"), "description": "the whole desired set, each job as add takes it, with its job_id"}),
            ),
            ("prune", json!({"type": "boolean", "default": false, "description": "delete the stored jobs the set leaves out"})),
            ("dry_run", json!({"type": "boolean", "default": false, "description": "answer the plan, store nothing"})),
        ]),
        &["jobs"],
    );
    let mut modify = object(job_options(), &[]);
    modify["minProperties"] = 1.into();
    let preview = props([
        ("queue_name", name_schema()),
        ("count", json!({"type": "integer", "minimum": 1, "maximum": MAX_COUNT, "default": 10})),
        ("after", datetime_input("list fire times after this; default now")),
    ]);
    json!({
        "AddRequest": add,
        "ModifyRequest": modify,
        "RescheduleRequest": per_trigger(&Map::new(), &["trigger"]),
        "Trigger": per_trigger(&Map::new(), &["trigger"]),
        "ApplyRequest": apply,
        "UnreadableJob": object(
            props([
                ("job_id", json!({"type": "string"})),
                ("queue_name", json!({"type": "string"})),
                ("trigger", json!({"type": "null"})),
                ("trigger_str", json!({"type": "null"})),
                ("next_run_time", json!({"type": "null"})),
                ("status", json!({"const": "error"})),
                ("error", string("why the stored job cannot be read")),
                ("job_store_kind", json!({"type": "string", "enum": ["redis", "memory"]})),
            ]),
            &["job_id", "queue_name", "status", "error"],
        ),
        "PreviewRequest": per_trigger(&preview, &["trigger"]),
        "Job": job_schema(false),
        "JobDetail": job_schema(true),
        "FireRecord": object(
            props([
                ("scheduled_time", py_time(false)),
                ("published_time", py_time(true)),
                ("lateness_ms", json!({"type": ["number", "null"]})),
                ("task_id", json!({"type": ["string", "null"]})),
                ("fire_id", json!({"type": ["string", "null"]})),
                ("outcome", json!({"type": "string", "enum": ["fired", "missed", "coalesced", "manual"]})),
            ]),
            &["scheduled_time", "published_time", "lateness_ms", "task_id", "fire_id", "outcome"],
        ),
    })
}

/// A job as the API returns it; `detail` adds get_timing_job's next fire times and history.
fn job_schema(detail: bool) -> Value {
    let mut fields = props([
        ("job_id", json!({"type": "string"})),
        ("queue_name", json!({"type": "string"})),
        ("trigger", json!({"type": "string", "enum": crate::trigger::KINDS})),
        (
            "trigger_str",
            json!({"type": ["string", "null"], "description": "APScheduler's str(trigger): date[2030-12-03 15:00:00 CST], interval[0:00:10], cron[hour='15']; null for a job in error"}),
        ),
    ]);
    // A field two kinds share keeps the first kind's (wider) type: cron's hour takes strings.
    for kind in crate::trigger::KINDS {
        for (name, schema) in trigger_fields(kind) {
            fields.entry(name).or_insert(schema);
        }
    }
    let brokers: Vec<&str> = BrokerKind::ALL.iter().map(|k| k.name()).collect();
    fields.extend(props([
        ("next_run_time", py_time(true)),
        ("status", json!({"type": "string", "enum": ["running", "paused", "finished", "error"]})),
        ("error", string("why the job was stopped (status error): it cannot be read or scheduled")),
        ("args", json!({"type": "array"})),
        ("kwargs", json!({"type": "object"})),
        ("job_store_kind", json!({"type": "string", "enum": ["redis", "memory"]})),
        ("timezone", string("the trigger's zone: an IANA name, UTC or a fixed offset such as +05:30")),
        ("misfire_grace_time", json!({"type": ["integer", "null"], "minimum": 1})),
        ("coalesce", json!({"type": "boolean"})),
        ("broker_kind", json!({"type": "string", "enum": brokers})),
        ("priority", json!({"type": "integer", "minimum": 0, "maximum": u8::MAX})),
        ("task_options", json!({"type": "object"})),
        ("fire_count", count("messages published")),
        ("missed_count", count("fires skipped past misfire_grace_time")),
        ("coalesced_count", count("fires merged by coalesce")),
        ("last_fire_time", py_time(true)),
    ]));
    let mut required = vec![
        "job_id",
        "queue_name",
        "trigger",
        "trigger_str",
        "next_run_time",
        "status",
        "args",
        "kwargs",
        "job_store_kind",
        "timezone",
        "misfire_grace_time",
        "coalesce",
        "broker_kind",
        "fire_count",
        "missed_count",
        "coalesced_count",
        "last_fire_time",
    ];
    if detail {
        fields.insert("next_run_times".into(), json!({"type": "array", "items": py_time(false), "maxItems": MAX_COUNT}));
        fields.insert(
            "history".into(),
            json!({"type": "array", "items": schema_ref("FireRecord"), "maxItems": HISTORY_LEN, "description": "the last fires, newest first"}),
        );
        required.extend(["next_run_times", "history"]);
    }
    object(fields, &required)
}

fn data_schema(data: Data) -> Value {
    let queue = || json!({"type": "string"});
    match data {
        Data::Null => json!({"type": "null"}),
        Data::Job => schema_ref("Job"),
        Data::JobDetail => json!({"anyOf": [schema_ref("JobDetail"), schema_ref("UnreadableJob")]}),
        Data::List => object(
            props([
                ("jobs", json!({"type": "array", "items": {"anyOf": [schema_ref("Job"), schema_ref("UnreadableJob")]}})),
                ("count", count("jobs listed")),
                (
                    "jobs_by_queue",
                    json!({"type": "object", "additionalProperties": {"type": "array", "items": {"anyOf": [schema_ref("Job"), schema_ref("UnreadableJob")]}}}),
                ),
                ("total_count", count("jobs listed")),
            ]),
            &["jobs", "count", "jobs_by_queue", "total_count"],
        ),
        Data::DeleteAll => object(
            props([("deleted_count", count("jobs deleted")), ("failed_jobs", json!({"type": "array", "items": {"type": "string"}, "maxItems": 0}))]),
            &["deleted_count", "failed_jobs"],
        ),
        Data::RunNow => object(
            props([
                ("job_id", json!({"type": "string"})),
                ("queue_name", queue()),
                ("task_id", string("the message's extra.task_id (a UUIDv7)")),
                ("fire_id", string("<queue>:<job_id>:manual:<µs>")),
                ("published_time", py_time(false)),
            ]),
            &["job_id", "queue_name", "task_id", "fire_id", "published_time"],
        ),
        Data::SchedulerStatus => object(
            props([
                ("queue_name", queue()),
                ("status_code", json!({"type": "integer", "enum": [0, 1, 2], "description": "1 running, 2 paused, 0 stopped (no tick for 90 s)"})),
                ("status_str", json!({"type": "string", "enum": ["stopped", "running", "paused"]})),
            ]),
            &["queue_name", "status_code", "status_str"],
        ),
        Data::SchedulerSwitch => {
            object(props([("queue_name", queue()), ("status_str", json!({"type": "string", "enum": ["paused", "running"]}))]), &["queue_name", "status_str"])
        }
        Data::QueueConfig => json!({"type": "object", "description": "funboost's registration of the queue's consumer (funboost_queue__consumer_parmas)"}),
        Data::Apply => {
            let key = object(props([("queue_name", queue()), ("job_id", json!({"type": "string"}))]), &["queue_name", "job_id"]);
            let update = object(
                props([("queue_name", queue()), ("job_id", json!({"type": "string"})), ("changes", json!({"type": "array", "items": {"type": "string"}}))]),
                &["queue_name", "job_id", "changes"],
            );
            object(
                props([
                    ("dry_run", json!({"type": "boolean"})),
                    ("applied", json!({"type": "boolean", "description": "false on a dry run"})),
                    ("create", json!({"type": "array", "items": key})),
                    ("update", json!({"type": "array", "items": update})),
                    ("unchanged", json!({"type": "array", "items": key})),
                    ("delete", json!({"type": "array", "items": key})),
                ]),
                &["dry_run", "applied", "create", "update", "unchanged", "delete"],
            )
        }
        Data::Preview => object(
            props([
                ("trigger", json!({"type": "string", "enum": crate::trigger::KINDS})),
                ("trigger_str", json!({"type": "string"})),
                ("timezone", json!({"type": "string"})),
                ("after", py_time(false)),
                ("next_run_times", json!({"type": "array", "items": py_time(false), "maxItems": MAX_COUNT})),
            ]),
            &["trigger", "trigger_str", "timezone", "after", "next_run_times"],
        ),
        Data::Health => object(
            props([
                ("version", json!({"type": "string"})),
                ("store", json!({"const": "reachable"})),
                ("redis_time", py_time(false)),
                ("host_time", py_time(false)),
                ("clock_skew_ms", json!({"type": "integer", "description": "host clock minus Redis clock"})),
                ("timezone", json!({"type": "string"})),
            ]),
            &["version", "store", "redis_time", "host_time", "clock_skew_ms", "timezone"],
        ),
        Data::Tick => {
            let counters = ["jobs", "fired", "fired_ahead", "missed", "coalesced", "finished", "conflicts", "batches", "round_trips", "held", "waited_for"];
            let mut fields: Map<String, Value> = counters.iter().map(|c| (c.to_string(), count(""))).collect();
            fields.insert("now_us".into(), json!({"type": "integer", "description": "the Redis clock, Unix µs"}));
            fields.insert("errors".into(), json!({"type": "array", "items": {"type": "string"}}));
            // The tick's report grows with the tick; only what callers rely on is fixed.
            json!({"type": "object", "properties": fields, "required": ["fired", "missed", "coalesced", "errors"]})
        }
        Data::AuditRecords => {
            let nullable_string = || json!({"type": ["string", "null"]});
            let record = object(
                props([
                    ("id", string("the record's id (a Redis stream id, <ms>-<n>)")),
                    ("time", py_time(false)),
                    ("token", string("the token's name (loopback without tokens), never the token")),
                    ("route", string("the route's path")),
                    ("queue_name", string("the queue, * for a change of every queue")),
                    ("job_id", nullable_string()),
                    (
                        "changes",
                        json!({"type": "object", "description": "an edit: {field: {from, to}}; an add: the job's declared fields; a delete: {deleted: fields}; a delete-all: {deleted_count}; run-now: {fire_id, task_id}; a scheduler switch: {scheduler}"}),
                    ),
                    ("note", nullable_string()),
                ]),
                &["id", "time", "token", "route", "queue_name", "job_id", "changes", "note"],
            );
            object(
                props([
                    ("records", json!({"type": "array", "items": record})),
                    ("count", count("records returned")),
                    ("next_before", json!({"type": ["string", "null"], "description": "pass as before for older records; null at the trail's end"})),
                ]),
                &["records", "count", "next_before"],
            )
        }
        Data::Whoami => object(
            props([
                ("token", string("the token's name; loopback without tokens")),
                ("role", json!({"type": "string", "enum": [Role::Read.name(), Role::Write.name(), Role::Admin.name()]})),
                ("queues", json!({"type": ["array", "null"], "items": {"type": "string"}, "description": "queue names and * patterns; null: every queue"})),
                ("routes", json!({"type": "array", "items": {"type": "string"}, "description": "the routes the token may call"})),
            ]),
            &["token", "role", "queues", "routes"],
        ),
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
