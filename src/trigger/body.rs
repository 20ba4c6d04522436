//! A [`TriggerSpec`] read from the fields of a request body (add, reschedule, preview), with
//! errors that name the field: what the API's body parser calls for the trigger fields.
//! `and`/`or` parts are JSON objects in `triggers`, read the same way; an error inside one
//! names `triggers` and the part (`triggers[1].hour: ...`).

use serde_json::{Map, Value};

use super::combining::MAX_COMBINING_DEPTH;
use super::{CronValue, IntervalValue, TriggerError, TriggerSpec};

/// Takes the trigger fields out of `fields` (JSON `null` counts as absent) and leaves the
/// others for the caller. `kind` is the `trigger` value; `max_jitter_secs` bounds `jitter`.
///
/// # Errors
/// A field of the wrong JSON type, a `jitter` over the bound, a part that is not an object
/// or names no `trigger`, a field a part does not know, or parts nested too deep.
pub fn take_spec(kind: String, fields: &mut Map<String, Value>, max_jitter_secs: u64) -> Result<TriggerSpec, TriggerError> {
    take(kind, fields, max_jitter_secs, 0)
}

fn take(kind: String, fields: &mut Map<String, Value>, max_jitter: u64, depth: usize) -> Result<TriggerSpec, TriggerError> {
    let mut f = Fields(fields);
    Ok(TriggerSpec {
        triggers: f.parts(max_jitter, depth)?,
        run_date: f.string("run_date")?,
        years: f.interval("years")?,
        months: f.interval("months")?,
        weeks: f.interval("weeks")?,
        days: f.interval("days")?,
        hours: f.interval("hours")?,
        minutes: f.interval("minutes")?,
        seconds: f.interval("seconds")?,
        year: f.cron("year")?,
        month: f.cron("month")?,
        day: f.cron("day")?,
        week: f.cron("week")?,
        day_of_week: f.cron("day_of_week")?,
        hour: f.cron("hour")?,
        minute: f.cron("minute")?,
        second: f.cron("second")?,
        start_date: f.string("start_date")?,
        end_date: f.string("end_date")?,
        timezone: f.string("timezone")?,
        jitter: f.jitter(max_jitter)?,
        trigger: kind,
    })
}

struct Fields<'a>(&'a mut Map<String, Value>);

impl Fields<'_> {
    fn take(&mut self, name: &str) -> Option<Value> {
        self.0.remove(name).filter(|v| !v.is_null())
    }

    fn string(&mut self, name: &str) -> Result<Option<String>, TriggerError> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(TriggerError::new(name, format!("must be a string, got {}", json_type(&other)))),
        }
    }

    fn cron(&mut self, name: &str) -> Result<Option<CronValue>, TriggerError> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(CronValue::Text(s))),
            Some(v) => match v.as_u64() {
                Some(n) => Ok(Some(CronValue::Number(n))),
                None => Err(TriggerError::new(name, format!("must be a cron expression string or a non-negative integer, got {}", short(&v)))),
            },
        }
    }

    fn interval(&mut self, name: &str) -> Result<Option<IntervalValue>, TriggerError> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(IntervalValue::Text(s))),
            Some(v) => match v.as_i64() {
                Some(n) => Ok(Some(IntervalValue::Number(n))),
                None => Err(TriggerError::new(name, format!("must be a whole number, got {}", short(&v)))),
            },
        }
    }

    fn jitter(&mut self, max: u64) -> Result<Option<u32>, TriggerError> {
        let max = max.min(u64::from(u32::MAX));
        match self.take("jitter") {
            None => Ok(None),
            Some(v) => match v.as_u64() {
                Some(n) if n <= max => Ok(Some(n as u32)),
                Some(n) => Err(TriggerError::new("jitter", format!("must be at most {max}, got {n}"))),
                None => Err(TriggerError::new("jitter", format!("must be a whole number from 0 to {max}, got {}", short(&v)))),
            },
        }
    }

    /// `triggers`: a list of objects, each a trigger of its own.
    fn parts(&mut self, max_jitter: u64, depth: usize) -> Result<Option<Vec<TriggerSpec>>, TriggerError> {
        let list = match self.take("triggers") {
            None => return Ok(None),
            Some(Value::Array(list)) => list,
            Some(other) => return Err(TriggerError::new("triggers", format!("must be a list of triggers, got {}", json_type(&other)))),
        };
        // Deeper than any trigger may nest: refuse before reading on (the build says why).
        if depth >= MAX_COMBINING_DEPTH {
            return Err(TriggerError::new("triggers", format!("and/or triggers nest at most {MAX_COMBINING_DEPTH} levels deep")));
        }
        let mut parts = Vec::with_capacity(list.len());
        for (i, item) in list.into_iter().enumerate() {
            let in_part = |e: TriggerError| match (e.field.as_str(), e.message.starts_with("triggers[")) {
                ("triggers", true) => TriggerError::new("triggers", format!("triggers[{i}].{}", e.message)),
                _ => TriggerError::new("triggers", format!("triggers[{i}].{}: {}", e.field, e.message)),
            };
            let Value::Object(mut part) = item else {
                return Err(TriggerError::new("triggers", format!("triggers[{i}]: must be an object, got {}", json_type(&item))));
            };
            let kind = match part.remove("trigger") {
                Some(Value::String(kind)) => kind,
                Some(other) => return Err(in_part(TriggerError::new("trigger", format!("must be a string, got {}", json_type(&other))))),
                None => return Err(in_part(TriggerError::new("trigger", "is required".to_string()))),
            };
            let spec = take(kind, &mut part, max_jitter, depth + 1).map_err(in_part)?;
            if let Some(name) = part.keys().next() {
                return Err(in_part(TriggerError::new(name.as_str(), "unknown field".to_string())));
            }
            parts.push(spec);
        }
        Ok(Some(parts))
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A value for an error message, cut short.
fn short(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(40) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(body: Value) -> Result<(TriggerSpec, Vec<String>), TriggerError> {
        let Value::Object(mut fields) = body else { panic!("an object") };
        let kind = fields.remove("trigger").and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        let spec = take_spec(kind, &mut fields, 86_400)?;
        Ok((spec, fields.keys().cloned().collect()))
    }

    #[test]
    fn parts_read_as_the_serde_shape_does_and_other_fields_stay() {
        let body = json!({"trigger": "or", "queue_name": "q", "jitter": 5, "triggers": [
            {"trigger": "cron", "hour": "9", "timezone": "UTC"},
            {"trigger": "calendarinterval", "months": 1, "hour": 9, "start_date": "2026-01-31"},
            {"trigger": "and", "triggers": [{"trigger": "interval", "seconds": 10}]},
        ]});
        let (spec, left) = read(body.clone()).expect("valid");
        let mut expected = body;
        expected.as_object_mut().map(|o| o.remove("queue_name"));
        assert_eq!(spec, serde_json::from_value::<TriggerSpec>(expected).expect("serde reads it too"));
        assert_eq!(left, ["queue_name"]);
    }

    #[test]
    fn mistakes_inside_parts_name_triggers_and_the_part() {
        let cases = [
            (json!({"trigger": "or", "triggers": {"trigger": "cron"}}), "must be a list of triggers, got an object"),
            (json!({"trigger": "or", "triggers": [5]}), "triggers[0]: must be an object, got a number"),
            (json!({"trigger": "or", "triggers": [{"hour": "9"}]}), "triggers[0].trigger: is required"),
            (json!({"trigger": "or", "triggers": [{"trigger": "cron", "hour": [9]}]}), "triggers[0].hour: must be a cron expression string"),
            (json!({"trigger": "or", "triggers": [{"trigger": "cron"}, {"trigger": "cron", "minuts": 5}]}), "triggers[1].minuts: unknown field"),
            (
                json!({"trigger": "or", "triggers": [{"trigger": "and", "triggers": [{"trigger": "or", "triggers": [{"trigger": "and", "triggers": []}]}]}]}),
                "triggers[0].triggers[0].triggers[0].triggers: and/or triggers nest at most 3 levels deep",
            ),
        ];
        for (body, message) in cases {
            let err = read(body.clone()).expect_err(&body.to_string());
            assert_eq!(err.field, "triggers", "{body}");
            assert!(err.message.starts_with(message), "{body}: {}", err.message);
        }
    }
}
