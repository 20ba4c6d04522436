//! Routes around the jobs: preview, tick and health.

use serde_json::{json, Value};

use super::query::{Query, MAX_COUNT};
use super::{Ctx, Outcome, VERSION};
use crate::error::ApiError;
use crate::job::{validate_name, Body};
use crate::trigger::{parse_datetime, Schedule, Zdt};

/// POST preview_timing_job: validate a trigger and list its next fire times; stores nothing.
pub(super) fn preview(ctx: &Ctx, query: Query) -> Outcome {
    let services = ctx.services;
    query.finish()?;
    let mut body = Body::parse(&ctx.request.body)?;
    if let Some(queue) = body.string("queue_name")? {
        validate_name("queue_name", &queue)?;
    }
    let count = body.unsigned("count", MAX_COUNT as u64)?.unwrap_or(10) as usize;
    if count == 0 {
        return Err(ApiError::invalid("count", format!("must be a whole number from 1 to {MAX_COUNT}, got 0")));
    }
    let after = body.string("after")?;
    let kind = body.string("trigger")?.ok_or_else(|| ApiError::invalid("trigger", crate::trigger::required_kind()))?;
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

/// Longest `lookahead` of the HTTP tick.
pub(super) const MAX_LOOKAHEAD_SECS: u32 = 300;

/// GET/POST tick: one tick now, for hosts without the cron trigger.
pub(super) fn tick(ctx: &Ctx, mut query: Query) -> Outcome {
    let services = ctx.services;
    query.take("token");
    let lookahead_secs = match query.take("lookahead") {
        None => 0,
        Some(text) => match text.parse::<u32>() {
            Ok(n) if n <= MAX_LOOKAHEAD_SECS => n,
            _ => return Err(ApiError::invalid("lookahead", format!("must be a whole number of seconds from 0 to {MAX_LOOKAHEAD_SECS}, got {text:?}"))),
        },
    };
    query.finish()?;
    let options = crate::tick::TickOptions { lookahead_secs, ..Default::default() };
    let report = crate::tick::run_with(services, options).map_err(|e| match e.downcast_ref::<ApiError>() {
        // A store of a newer layout, or damaged: said as such, not as unreachable.
        Some(error) if error.status != 503 || error.code != crate::error::code::STORE_UNAVAILABLE => error.clone(),
        _ => ApiError::store_unavailable(format!("{e:#}")),
    })?;
    let msg = format!(
        "tick published {} fires ({} ahead), {} missed, {} coalesced",
        report.fired + report.fired_ahead,
        report.fired_ahead,
        report.missed,
        report.coalesced
    );
    Ok((msg, serde_json::to_value(&report).unwrap_or(Value::Null)))
}

/// GET health: the store is reachable; version and clocks. Open to anyone, so a failure names
/// neither the store's address nor its error (the authorized routes do).
pub(super) fn health(ctx: &Ctx, query: Query) -> Outcome {
    let services = ctx.services;
    query.finish()?;
    let server_us = services.now_us().map_err(|_| ApiError::store_unavailable("(details on the authorized routes and in the app's log)"))?;
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
