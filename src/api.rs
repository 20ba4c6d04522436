//! The `/funboost/...` HTTP API: funboost's timing-job routes (same paths, query-string
//! arguments for pause/resume/delete/get, the same response envelope) plus preview and health.

use std::net::IpAddr;

use serde_json::{json, Map, Value};

use crate::config::Config;
use crate::error::{code, ApiError};
use crate::host::{HttpRequest, HttpResponse};
use crate::job::{validate_name, AddRequest, Body, Job, StoreKind, StoredTime};
use crate::store::{registry, AddOutcome, Stored};
use crate::services::Services;
use crate::trigger::{parse_datetime, Schedule, Zdt};

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Serves one request. Never panics; every failure is an envelope with a 4xx/5xx status.
pub fn handle(request: &HttpRequest, services: &Services) -> HttpResponse {
    match route(request, services) {
        Ok((msg, data)) => json_response(200, envelope(true, &msg, data, code::OK, None)),
        Err(e) => error_response(&e),
    }
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

fn route(request: &HttpRequest, services: &Services) -> Outcome {
    let path = request.path.trim_end_matches('/');
    let method = request.method.to_ascii_uppercase();
    let allowed: &[&str] = match path {
        "/add_timing_job" | "/pause_timing_job" | "/resume_timing_job" | "/preview_timing_job" => &["POST"],
        "/get_timing_jobs" | "/get_timing_job" | "/health" => &["GET"],
        "/tick" => &["GET", "POST"],
        "/delete_timing_job" | "/delete_all_timing_jobs" => &["DELETE"],
        _ => return Err(ApiError::new(404, code::ROUTE_NOT_FOUND, "NotFound", format!("no route {} (see the README for the routes)", request.path))),
    };
    if !allowed.contains(&method.as_str()) {
        return Err(ApiError::new(405, code::METHOD_NOT_ALLOWED, "MethodNotAllowed", format!("{} takes {}, not {method}", request.path, allowed.join(", "))));
    }
    match path {
        "/health" => {}
        "/tick" => authorize_tick(request, services.config)?,
        _ => authorize(request, services.config)?,
    }
    if request.body.len() > services.config.max_body_bytes {
        return Err(ApiError::new(
            413,
            code::BODY_TOO_LARGE,
            "BodyTooLarge",
            format!("the body has {} bytes; the limit is {} (variable max_body_bytes)", request.body.len(), services.config.max_body_bytes),
        ));
    }
    let query = Query::parse(&request.query)?;
    match path {
        "/add_timing_job" => add(request, services, query),
        "/get_timing_jobs" => list(services, query),
        "/get_timing_job" => get(services, query),
        "/delete_timing_job" => delete(services, query),
        "/delete_all_timing_jobs" => delete_all(services, query),
        "/pause_timing_job" => pause_or_resume(services, query, true),
        "/resume_timing_job" => pause_or_resume(services, query, false),
        "/preview_timing_job" => preview(request, services, query),
        "/tick" => tick(services, query),
        _ => health(services, query),
    }
}

/// With an API token, a matching `Authorization: Bearer` header; without one, loopback only.
fn authorize(request: &HttpRequest, config: &Config) -> Result<(), ApiError> {
    let unauthorized = |msg: String| ApiError::new(401, code::UNAUTHORIZED, "Unauthorized", msg);
    match &config.api_token {
        Some(token) => {
            match bearer_token(request) {
                Some(given) if constant_time_eq(given.as_bytes(), token.as_bytes()) => Ok(()),
                Some(_) => Err(unauthorized("the bearer token is wrong".into())),
                None => Err(unauthorized("send the API token as `Authorization: Bearer <token>`".into())),
            }
        }
        None => {
            let loopback = request.client_addr.as_deref().and_then(client_ip).is_some_and(|ip| ip.to_canonical().is_loopback());
            if loopback {
                Ok(())
            } else {
                Err(unauthorized(
                    "no API token is configured, so only loopback clients are served; set the Spin variable api_token (SPIN_VARIABLE_API_TOKEN) and send `Authorization: Bearer <token>`".into(),
                ))
            }
        }
    }
}

/// The tick route has its own token, as a bearer header or a `token` query parameter (hosted
/// cron services can set only a path and query); without one, loopback only.
fn authorize_tick(request: &HttpRequest, config: &Config) -> Result<(), ApiError> {
    let Some(token) = &config.tick_token else {
        let tick_config = Config { api_token: None, ..config.clone() };
        return authorize(request, &tick_config);
    };
    // Only the token is looked for here: a malformed query gets 401 before it gets 400.
    let from_query = request
        .query
        .split('&')
        .find_map(|part| part.strip_prefix("token="))
        .and_then(percent_decode);
    match from_query.or_else(|| bearer_token(request).map(String::from)) {
        Some(given) if constant_time_eq(given.as_bytes(), token.as_bytes()) => Ok(()),
        _ => Err(ApiError::new(401, code::UNAUTHORIZED, "Unauthorized", "the tick route needs the tick token (variable tick_token) as `Authorization: Bearer <token>` or `?token=<token>`")),
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

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    for (i, x) in a.iter().enumerate() {
        diff |= x ^ b.get(i % b.len().max(1)).copied().unwrap_or(0);
    }
    diff == 0
}

/// Query-string arguments, percent-decoded; each known name may appear once.
struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    fn parse(raw: &str) -> Result<Query, ApiError> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for part in raw.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = part.split_once('=').unwrap_or((part, ""));
            let name = percent_decode(name).ok_or_else(|| ApiError::invalid("query", format!("{part:?} is not valid percent-encoded UTF-8")))?;
            if name.is_empty() {
                return Err(ApiError::invalid("query", format!("{part:?} has no parameter name")));
            }
            let value = percent_decode(value).ok_or_else(|| ApiError::invalid(name.as_str(), "is not valid percent-encoded UTF-8"))?;
            if pairs.iter().any(|(n, _)| *n == name) {
                return Err(ApiError::invalid(name.as_str(), "is given more than once"));
            }
            pairs.push((name, value));
        }
        Ok(Query { pairs })
    }

    fn take(&mut self, name: &str) -> Option<String> {
        let index = self.pairs.iter().position(|(n, _)| n == name)?;
        Some(self.pairs.remove(index).1)
    }

    fn required_name(&mut self, name: &str) -> Result<String, ApiError> {
        let value = self.take(name).ok_or_else(|| ApiError::invalid(name, "is required (as a query parameter)"))?;
        validate_name(name, &value)?;
        Ok(value)
    }

    fn store(&mut self) -> Result<StoreKind, ApiError> {
        match self.take("job_store_kind") {
            None => Ok(StoreKind::Redis),
            Some(kind) => StoreKind::parse("job_store_kind", &kind),
        }
    }

    fn count(&mut self, default: usize) -> Result<usize, ApiError> {
        match self.take("count") {
            None => Ok(default),
            Some(text) => match text.parse::<usize>() {
                Ok(n) if (1..=1000).contains(&n) => Ok(n),
                _ => Err(ApiError::invalid("count", format!("must be a whole number from 1 to 1000, got {text:?}"))),
            },
        }
    }

    fn finish(self) -> Result<(), ApiError> {
        match self.pairs.first() {
            None => Ok(()),
            Some((name, _)) => Err(ApiError::invalid(name.as_str(), "unknown query parameter")),
        }
    }
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                // Exactly two hex digits (from_str_radix alone would also take "+F").
                let hex = bytes.get(i + 1..i + 3).filter(|h| h.iter().all(u8::is_ascii_hexdigit))?;
                out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn queue_not_found(queue: &str) -> ApiError {
    ApiError::new(
        404,
        code::QUEUE_NOT_FOUND,
        "QueueNameNotExists",
        format!("queue {queue} is not registered by any funboost consumer (start its consumer once, or set the variable allow_unregistered_queues=true)"),
    )
}

fn job_not_found(queue: &str, job_id: &str) -> ApiError {
    ApiError::new(404, code::JOB_NOT_FOUND, "JobLookupError", format!("No job by the id of {job_id} was found in queue {queue}"))
}

/// A job that is not stored: funboost answers QueueNameNotExists (4001) first when no consumer
/// registered the queue, so do the same (unless unregistered queues are allowed).
fn missing_job(services: &Services, queue: &str, job_id: &str) -> ApiError {
    if !services.config.allow_unregistered_queues && matches!(registry::lookup(services.redis, queue), Ok(registry::Lookup { params: None, .. })) {
        return queue_not_found(queue);
    }
    job_not_found(queue, job_id)
}

/// A random 32-hex-digit id, as APScheduler's `uuid4().hex`.
fn new_job_id() -> String {
    let (a, b) = (crate::random::u64(), crate::random::u64());
    format!("{a:016x}{b:016x}")
}

fn add(request: &HttpRequest, services: &Services, query: Query) -> Outcome {
    query.finish()?;
    let add = AddRequest::parse(&request.body)?;
    let config = services.config;
    let job_id = add.job_id.clone().unwrap_or_else(new_job_id);
    let registry::Lookup { params: registered, server_now_us: now_us } = registry::lookup(services.redis, &add.queue_name)?;
    let max_priority = registered.as_ref().and_then(|p| p.max_priority);
    let broker_kind = add.resolve_broker_kind(registered.as_ref().and_then(|p| p.broker_kind.as_deref()))?;
    let message_kwargs = match registered {
        Some(params) => registry::message_kwargs(&add.queue_name, &params, &add.args, &add.kwargs)?,
        None if config.allow_unregistered_queues => registry::unmapped(&add.queue_name, &add.args, &add.kwargs, "no consumer registered it")?,
        None => return Err(queue_not_found(&add.queue_name)),
    };
    let schedule = Schedule::build(&add.trigger, config.timezone, now_us)?;
    let now = Zdt::from_utc(now_us, schedule.zone());
    let next_run = schedule.next_fire_time_jittered(None, &now, crate::random::unit);
    let job = Job {
        job_id,
        queue_name: add.queue_name,
        store: add.store,
        timezone: schedule.zone().name(),
        trigger: add.trigger,
        created_us: now_us,
        args: add.args,
        kwargs: add.kwargs,
        message_kwargs,
        misfire_grace_time: add.misfire_grace_time,
        coalesce: add.coalesce,
        broker_kind,
        priority: add.priority,
        max_priority,
        extra: add.extra,
        next_run: next_run.as_ref().map(StoredTime::of),
        paused: false,
        fires: 0,
        missed: 0,
        coalesced: 0,
        last_fire: None,
    };
    let outcome = services.store(job.store)?.add(&job, add.replace_existing, config.max_jobs_per_queue)?;
    let msg = match outcome {
        AddOutcome::Added => format!("timing job {} added to queue {}", job.job_id, job.queue_name),
        AddOutcome::Replaced => format!("timing job {} in queue {} replaced", job.job_id, job.queue_name),
    };
    Ok((msg, job.view(&schedule)))
}

fn load(services: &Services, store: StoreKind, queue: &str, job_id: &str) -> Result<(Stored, Schedule), ApiError> {
    let stored = services.store(store)?.get(queue, job_id)?.ok_or_else(|| missing_job(services, queue, job_id))?;
    let schedule = stored.job.schedule()?;
    Ok((stored, schedule))
}

fn list(services: &Services, mut query: Query) -> Outcome {
    let queue = query.take("queue_name");
    if let Some(q) = &queue {
        validate_name("queue_name", q)?;
    }
    let store = query.store()?;
    query.finish()?;
    let mut jobs: Vec<(Job, Schedule)> = Vec::new();
    for stored in services.store(store)?.list(queue.as_deref())? {
        let schedule = stored.job.schedule()?;
        jobs.push((stored.job, schedule));
    }
    // APScheduler's get_jobs order: by next run time, paused (no next run) last.
    jobs.sort_by(|(a, _), (b, _)| {
        let key = |j: &Job| (j.next_run.is_none() || j.paused, j.next_run.map(|t| t.utc_us), j.job_id.clone());
        key(a).cmp(&key(b))
    });
    let views: Vec<Value> = jobs.iter().map(|(job, schedule)| job.view(schedule)).collect();
    let mut by_queue: Map<String, Value> = Map::new();
    if let Some(q) = &queue {
        by_queue.insert(q.clone(), Value::Array(Vec::new()));
    }
    for (view, (job, _)) in views.iter().zip(&jobs) {
        if let Value::Array(list) = by_queue.entry(job.queue_name.clone()).or_insert_with(|| Value::Array(Vec::new())) {
            list.push(view.clone());
        }
    }
    let count = views.len();
    Ok(("ok".to_string(), json!({"jobs": views, "count": count, "jobs_by_queue": by_queue, "total_count": count})))
}

fn get(services: &Services, mut query: Query) -> Outcome {
    let job_id = query.required_name("job_id")?;
    let queue = query.required_name("queue_name")?;
    let store = query.store()?;
    let count = query.count(5)?;
    query.finish()?;
    let (stored, schedule) = load(services, store, &queue, &job_id)?;
    let job = &stored.job;
    let upcoming: Vec<String> = match (job.paused, job.next_run_time(&schedule)) {
        (false, Some(next)) => schedule.trigger.following(next, count).iter().map(Zdt::py_str).collect(),
        _ => Vec::new(),
    };
    let mut view = job.view(&schedule);
    if let Value::Object(map) = &mut view {
        map.insert("next_run_times".into(), json!(upcoming));
    }
    Ok(("ok".to_string(), view))
}

fn delete(services: &Services, mut query: Query) -> Outcome {
    let job_id = query.required_name("job_id")?;
    let queue = query.required_name("queue_name")?;
    let store = query.store()?;
    query.finish()?;
    update_job(services, store, &queue, &job_id, |_| Ok(None))?;
    Ok((format!("timing job {job_id} deleted from queue {queue}"), Value::Null))
}

/// Replaces a stored job with `change(job)` (`None` deletes it) by compare-and-set, reading it
/// again when a tick or another call changed it in between. Returns the new job.
fn update_job(
    services: &Services,
    store: StoreKind,
    queue: &str,
    job_id: &str,
    change: impl Fn(&Job) -> Result<Option<Job>, ApiError>,
) -> Result<Option<Job>, ApiError> {
    let jobs = services.store(store)?;
    for _ in 0..5 {
        let stored = jobs.get(queue, job_id)?.ok_or_else(|| missing_job(services, queue, job_id))?;
        let after = change(&stored.job)?;
        if jobs.replace(&stored, after.as_ref())? {
            return Ok(after);
        }
    }
    Err(ApiError::new(409, code::JOB_EXISTS, "Conflict", format!("timing job {job_id} kept changing; try again")))
}

fn delete_all(services: &Services, mut query: Query) -> Outcome {
    let queue = query.take("queue_name");
    if let Some(q) = &queue {
        validate_name("queue_name", q)?;
    }
    let store = query.store()?;
    query.finish()?;
    let deleted = services.store(store)?.delete_all(queue.as_deref())?;
    let scope = queue.map_or_else(|| "all queues".to_string(), |q| format!("queue {q}"));
    Ok((format!("deleted {deleted} timing jobs from {scope}"), json!({"deleted_count": deleted, "failed_jobs": []})))
}

fn pause_or_resume(services: &Services, mut query: Query, pause: bool) -> Outcome {
    let job_id = query.required_name("job_id")?;
    let queue = query.required_name("queue_name")?;
    let store = query.store()?;
    query.finish()?;
    let job = update_job(services, store, &queue, &job_id, |job| {
        let mut job = job.clone();
        job.paused = pause;
        if !pause {
            // APScheduler's resume: the next run is recomputed from now.
            let schedule = job.schedule()?;
            let now = Zdt::from_utc(services.now_us()?, schedule.zone());
            job.next_run = schedule.next_fire_time_jittered(None, &now, crate::random::unit).as_ref().map(StoredTime::of);
        }
        Ok(Some(job))
    })?;
    let verb = if pause { "paused" } else { "resumed" };
    let view = match job {
        Some(job) => job.view(&job.schedule()?),
        None => Value::Null,
    };
    Ok((format!("timing job {job_id} in queue {queue} {verb}"), view))
}

fn preview(request: &HttpRequest, services: &Services, query: Query) -> Outcome {
    query.finish()?;
    let mut body = Body::parse(&request.body)?;
    if let Some(queue) = body.string("queue_name")? {
        validate_name("queue_name", &queue)?;
    }
    let count = body.unsigned("count", 1000)?.unwrap_or(10) as usize;
    if count == 0 {
        return Err(ApiError::invalid("count", "must be a whole number from 1 to 1000, got 0"));
    }
    let after = body.string("after")?;
    let kind = body.string("trigger")?.ok_or_else(|| ApiError::invalid("trigger", "is required (\"date\", \"interval\" or \"cron\")"))?;
    let spec = body.trigger_spec(kind)?;
    body.finish()?;
    let now_us = match &after {
        Some(_) => services.wall_clock_us,
        None => services.now_us().unwrap_or(services.wall_clock_us),
    };
    let schedule = Schedule::build(&spec, services.config.timezone, now_us)?;
    let after = match after {
        Some(text) => parse_datetime("after", &text, schedule.zone())?,
        None => Zdt::from_utc(now_us, schedule.zone()),
    };
    let fires: Vec<String> = schedule.trigger.upcoming(&after, count).iter().map(Zdt::py_str).collect();
    Ok((
        "ok".to_string(),
        json!({"trigger": schedule.trigger.kind(), "trigger_str": schedule.trigger.to_string(), "timezone": schedule.zone().name(), "after": after.py_str(), "next_run_times": fires}),
    ))
}

fn tick(services: &Services, mut query: Query) -> Outcome {
    query.take("token");
    let lookahead_secs = match query.take("lookahead") {
        None => 0,
        Some(text) => match text.parse::<u32>() {
            Ok(n) if n <= 300 => n,
            _ => return Err(ApiError::invalid("lookahead", format!("must be a whole number of seconds from 0 to 300, got {text:?}"))),
        },
    };
    query.finish()?;
    let options = crate::tick::TickOptions { lookahead_secs, ..Default::default() };
    let report = crate::tick::run_with(services, options).map_err(|e| ApiError::store_unavailable(format!("{e:#}")))?;
    let msg = format!("tick published {} fires ({} ahead), {} missed, {} coalesced", report.fired + report.fired_ahead, report.fired_ahead, report.missed, report.coalesced);
    Ok((msg, serde_json::to_value(&report).unwrap_or(Value::Null)))
}

fn health(services: &Services, query: Query) -> Outcome {
    query.finish()?;
    let server_us = services.now_us()?;
    let zone = services.config.timezone;
    Ok((
        "ok".to_string(),
        json!({
            "version": VERSION,
            "store": "reachable",
            "redis_time": Zdt::from_utc(server_us, zone).py_str(),
            "host_time": Zdt::from_utc(services.wall_clock_us, zone).py_str(),
            "clock_skew_ms": (services.wall_clock_us - server_us) / 1000,
            "timezone": zone.name(),
        }),
    ))
}
