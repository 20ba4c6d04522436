//! Triggers with APScheduler 3.11.3's semantics, exactly: `date`, `interval` and `cron`.
//!
//! A [`TriggerSpec`] is what a request carries; [`Trigger::build`] validates it once into a
//! [`Trigger`], which then answers `get_next_fire_time(previous, now)` and `str(trigger)`.
//! Times are [`Zdt`]s, Python's aware-datetime model, because APScheduler's results depend on
//! it (wall-clock comparisons within one zone, fire times inside DST gaps).

pub mod civil;
pub mod cron;
pub mod date;
pub mod interval;
pub mod misfire;
pub mod offsets;
pub mod zoned;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use cron::{CronTrigger, FieldKind};
pub use date::{parse_datetime, DateTrigger};
pub use interval::IntervalTrigger;
pub use zoned::{Zdt, Zone};

use civil::US_PER_SEC;

/// A rejected trigger: which field, and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TriggerError {
    pub field: String,
    pub message: String,
}

impl TriggerError {
    pub fn new(field: impl Into<String>, message: String) -> TriggerError {
        TriggerError { field: field.into(), message }
    }
}

impl fmt::Display for TriggerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for TriggerError {}

/// A cron field value: JSON strings and integers are both accepted (`"hour": 9` or `"9"`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum CronValue {
    Text(String),
    Number(u64),
}

impl CronValue {
    fn text(&self) -> String {
        match self {
            CronValue::Text(text) => text.clone(),
            CronValue::Number(n) => n.to_string(),
        }
    }
}

/// An interval unit: a JSON integer or a string of one (funboost's pydantic accepts `"7"`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum IntervalValue {
    Number(i64),
    Text(String),
}

// By hand rather than `#[serde(untagged)]`, which buffers every value first: the tick reads
// these back for every due job.
impl<'de> Deserialize<'de> for CronValue {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TextOrNumberVisitor).and_then(|v| match v {
            TextOrNumber::Text(text) => Ok(CronValue::Text(text)),
            TextOrNumber::Number(n) => u64::try_from(n).map(CronValue::Number).map_err(|_| serde::de::Error::custom("a cron field cannot be negative")),
        })
    }
}

impl<'de> Deserialize<'de> for IntervalValue {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TextOrNumberVisitor).and_then(|v| match v {
            TextOrNumber::Text(text) => Ok(IntervalValue::Text(text)),
            TextOrNumber::Number(n) => i64::try_from(n).map(IntervalValue::Number).map_err(|_| serde::de::Error::custom("an interval is out of range")),
        })
    }
}

/// A JSON string or integer.
enum TextOrNumber {
    Text(String),
    Number(i128),
}

struct TextOrNumberVisitor;

impl serde::de::Visitor<'_> for TextOrNumberVisitor {
    type Value = TextOrNumber;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or an integer")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<TextOrNumber, E> {
        Ok(TextOrNumber::Text(v.to_string()))
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<TextOrNumber, E> {
        Ok(TextOrNumber::Text(v))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<TextOrNumber, E> {
        Ok(TextOrNumber::Number(i128::from(v)))
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<TextOrNumber, E> {
        Ok(TextOrNumber::Number(i128::from(v)))
    }
}

/// The trigger part of an add request, as sent.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggerSpec {
    pub trigger: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weeks: Option<IntervalValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<IntervalValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours: Option<IntervalValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minutes: Option<IntervalValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<IntervalValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub year: Option<CronValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub month: Option<CronValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day: Option<CronValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub week: Option<CronValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day_of_week: Option<CronValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hour: Option<CronValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minute: Option<CronValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub second: Option<CronValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter: Option<u32>,
}

/// Longest accepted interval: 100 years. (Python's timedelta overflows near 2.7 million years;
/// anything this long is a mistake, not a schedule.)
const MAX_INTERVAL_SECS: i64 = 100 * 366 * 86_400;

impl TriggerSpec {
    fn cron_fields(&self) -> [(FieldKind, &Option<CronValue>); 8] {
        [
            (FieldKind::Year, &self.year),
            (FieldKind::Month, &self.month),
            (FieldKind::Day, &self.day),
            (FieldKind::Week, &self.week),
            (FieldKind::DayOfWeek, &self.day_of_week),
            (FieldKind::Hour, &self.hour),
            (FieldKind::Minute, &self.minute),
            (FieldKind::Second, &self.second),
        ]
    }

    fn interval_fields(&self) -> [(&'static str, &Option<IntervalValue>, i64); 5] {
        [
            ("weeks", &self.weeks, 7 * 86_400),
            ("days", &self.days, 86_400),
            ("hours", &self.hours, 3600),
            ("minutes", &self.minutes, 60),
            ("seconds", &self.seconds, 1),
        ]
    }

    /// The fields that are set but belong to another trigger kind (a typo such as `minutes`
    /// on a cron job must not silently mean "every second").
    fn foreign_fields(&self, kind: &str) -> Vec<&'static str> {
        let mut foreign = Vec::new();
        if kind != "date" && self.run_date.is_some() {
            foreign.push("run_date");
        }
        if kind != "interval" {
            foreign.extend(self.interval_fields().iter().filter(|(_, v, _)| v.is_some()).map(|(n, _, _)| *n));
        }
        if kind != "cron" {
            foreign.extend(self.cron_fields().iter().filter(|(_, v)| v.is_some()).map(|(k, _)| k.name()));
        }
        if kind == "date" {
            for (name, set) in [("start_date", self.start_date.is_some()), ("end_date", self.end_date.is_some()), ("jitter", self.jitter.is_some())] {
                if set {
                    foreign.push(name);
                }
            }
        }
        foreign
    }
}

#[derive(Clone, Debug)]
pub enum Trigger {
    Date(DateTrigger),
    Interval(IntervalTrigger),
    Cron(CronTrigger),
}

/// A validated trigger together with its options.
#[derive(Clone, Debug)]
pub struct Schedule {
    pub trigger: Trigger,
    /// Maximum random delay added to each fire, in seconds (APScheduler's `jitter`).
    pub jitter: Option<u32>,
}

impl Schedule {
    /// Validates `spec`. `default_zone` applies when the spec names none; `now_utc_us` is the
    /// creation instant (an interval's default start is now + interval, a date's default now).
    pub fn build(spec: &TriggerSpec, default_zone: Zone, now_utc_us: i64) -> Result<Schedule, TriggerError> {
        let kind = spec.trigger.as_str();
        if !matches!(kind, "date" | "interval" | "cron") {
            return Err(TriggerError::new("trigger", format!("No trigger by the name {kind:?} was found (expected \"date\", \"interval\" or \"cron\")")));
        }
        let foreign = spec.foreign_fields(kind);
        if let Some(first) = foreign.first() {
            let message = match foreign.len() {
                1 => format!("is not a field of the {kind} trigger"),
                _ => format!("is not a field of the {kind} trigger (nor are {})", foreign[1..].join(", ")),
            };
            return Err(TriggerError::new(*first, message));
        }
        let zone = match &spec.timezone {
            Some(name) => Zone::parse(name).map_err(|m| TriggerError::new("timezone", m))?,
            None => default_zone,
        };
        let now = Zdt::from_utc(now_utc_us, zone);
        let date = |field: &str, value: &Option<String>| value.as_deref().map(|v| parse_datetime(field, v, zone)).transpose();
        let trigger = match kind {
            "date" => Trigger::Date(DateTrigger { run_date: date("run_date", &spec.run_date)?.unwrap_or(now) }),
            "interval" => {
                let mut total: i64 = 0;
                for (name, value, unit) in spec.interval_fields() {
                    let Some(value) = value else { continue };
                    let n = match value {
                        IntervalValue::Number(n) => *n,
                        IntervalValue::Text(t) => t.trim().parse::<i64>().map_err(|_| TriggerError::new(name, format!("must be a whole number, got {t:?}")))?,
                    };
                    if n < 0 {
                        return Err(TriggerError::new(name, format!("must not be negative, got {n}")));
                    }
                    total = n
                        .checked_mul(unit)
                        .and_then(|s| total.checked_add(s))
                        .filter(|&t| t <= MAX_INTERVAL_SECS)
                        .ok_or_else(|| TriggerError::new(name, "the interval must not exceed 100 years".to_string()))?;
                }
                let interval_secs = total.max(1);
                let start_date = match date("start_date", &spec.start_date)? {
                    Some(start) => start,
                    // `datetime.now(tz) + interval`: wall-clock addition, fold reset.
                    None => Zdt::from_wall(now.wall_us() + interval_secs * US_PER_SEC, zone),
                };
                Trigger::Interval(IntervalTrigger { interval_secs, start_date, end_date: date("end_date", &spec.end_date)?, zone })
            }
            _ => {
                let given: Vec<(FieldKind, String)> = spec.cron_fields().iter().filter_map(|(kind, value)| value.as_ref().map(|v| (*kind, v.text()))).collect();
                let start_date = date("start_date", &spec.start_date)?;
                let end_date = date("end_date", &spec.end_date)?;
                Trigger::Cron(CronTrigger::new(&given, start_date, end_date, zone)?)
            }
        };
        Ok(Schedule { trigger, jitter: spec.jitter.filter(|&j| j > 0) })
    }

    pub fn zone(&self) -> Zone {
        self.trigger.zone()
    }

    /// Next fire time with jitter: `uniform` draws from [0, 1).
    pub fn next_fire_time_jittered(&self, previous: Option<&Zdt>, now: &Zdt, uniform: impl FnOnce() -> f64) -> Option<Zdt> {
        self.jitter(self.trigger.next_fire_time(previous, now), uniform)
    }

    /// APScheduler's `_apply_jitter`: a random delay of up to `jitter` seconds.
    pub fn jitter(&self, fire: Option<Zdt>, uniform: impl FnOnce() -> f64) -> Option<Zdt> {
        let fire = fire?;
        let Some(jitter) = self.jitter else {
            return Some(fire);
        };
        let delay = uniform() * f64::from(jitter);
        match &self.trigger {
            Trigger::Date(_) => Some(fire),
            // Interval: added to the float timestamp, then checked against the end date.
            Trigger::Interval(t) => {
                let ts = fire.timestamp() + delay;
                if t.end_date.is_some_and(|end| ts > end.timestamp()) {
                    return None;
                }
                Zdt::from_timestamp(ts, t.zone)
            }
            // Cron: `fire + timedelta(seconds=delay)` is wall-clock addition, capped at the end.
            Trigger::Cron(t) => {
                let delayed = Zdt::from_wall(fire.wall_us() + (delay * 1e6).round() as i64, fire.zone());
                Some(match t.end_date {
                    Some(end) if end.py_cmp(&delayed).is_lt() => end,
                    _ => delayed,
                })
            }
        }
    }
}

impl Trigger {
    pub fn zone(&self) -> Zone {
        match self {
            Trigger::Date(t) => t.run_date.zone(),
            Trigger::Interval(t) => t.zone,
            Trigger::Cron(t) => t.zone,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Trigger::Date(_) => "date",
            Trigger::Interval(_) => "interval",
            Trigger::Cron(_) => "cron",
        }
    }

    /// APScheduler's `get_next_fire_time(previous_fire_time, now)`, without jitter.
    pub fn next_fire_time(&self, previous: Option<&Zdt>, now: &Zdt) -> Option<Zdt> {
        match self {
            Trigger::Date(t) => t.next_fire_time(previous),
            Trigger::Interval(t) => t.next_fire_time(previous, now),
            Trigger::Cron(t) => t.next_fire_time(previous, now),
        }
    }

    /// The next `count` fire times after `after`: the first is `next_fire_time(None, after)`,
    /// each next one `next_fire_time(previous, previous)`.
    pub fn upcoming(&self, after: &Zdt, count: usize) -> Vec<Zdt> {
        match self.next_fire_time(None, after) {
            Some(first) => self.following(first, count),
            None => Vec::new(),
        }
    }

    /// `first` and the fire times after it, `count` in all, each `next_fire_time(previous,
    /// previous)`; stops at year 9999 (Python's datetime ends there).
    pub fn following(&self, first: Zdt, count: usize) -> Vec<Zdt> {
        let mut fires: Vec<Zdt> = Vec::with_capacity(count.min(1024));
        let mut next = Some(first);
        while let Some(fire) = next.filter(|f| fires.len() < count && f.civil().year <= 9999) {
            fires.push(fire);
            next = self.next_fire_time(Some(&fire), &fire);
        }
        fires
    }
}

impl fmt::Display for Trigger {
    /// APScheduler's `str(trigger)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Trigger::Date(t) => t.fmt(f),
            Trigger::Interval(t) => t.fmt(f),
            Trigger::Cron(t) => t.fmt(f),
        }
    }
}
