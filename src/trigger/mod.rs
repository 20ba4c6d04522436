//! Triggers with APScheduler 3.11.3's semantics, exactly: `date`, `interval`, `cron`,
//! `calendarinterval`, and `and`/`or` over any of them (see [`combining`] for the one place
//! where APScheduler defines no answer and what funboost-edge does there).
//!
//! A [`TriggerSpec`] is what a request carries; [`Schedule::build`] validates it once into a
//! [`Trigger`], which then answers `get_next_fire_time(previous, now)` and `str(trigger)`.
//! Times are [`Zdt`]s, Python's aware-datetime model, because APScheduler's results depend on
//! it (wall-clock comparisons within one zone, fire times inside DST gaps).

pub mod body;
pub mod calendar_interval;
pub mod civil;
pub mod combining;
pub mod cron;
pub mod date;
pub mod interval;
pub mod misfire;
pub mod offsets;
pub mod tzdb;
pub mod zoned;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use calendar_interval::CalendarIntervalTrigger;
pub use combining::{CombiningTrigger, MAX_AND_SEARCH_EVALUATIONS, MAX_AND_SEARCH_YEARS, MAX_COMBINED_PARTS, MAX_COMBINING_DEPTH};
pub use cron::{CronTrigger, FieldKind};
pub use date::{parse_datetime, DateTrigger};
pub use interval::IntervalTrigger;
pub use zoned::{Zdt, Zone};

use calendar_interval::{parse_date, Date, MAX_CALENDAR_DAYS, MAX_CALENDAR_MONTHS};
use civil::US_PER_SEC;
use combining::{wall_jitter, Search};

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

/// The trigger part of an add request, as sent. `and`/`or` carry their parts in `triggers`,
/// each a full spec of its own.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggerSpec {
    pub trigger: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub triggers: Option<Vec<TriggerSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub years: Option<IntervalValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub months: Option<IntervalValue>,
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
        const TIMED: &[&str] = &["interval", "cron", "calendarinterval"];
        let interval = |name| -> &'static [&'static str] {
            match name {
                "weeks" | "days" => &["interval", "calendarinterval"],
                _ => &["interval"],
            }
        };
        let cron = |kind: FieldKind| -> &'static [&'static str] {
            match kind {
                FieldKind::Hour | FieldKind::Minute | FieldKind::Second => &["cron", "calendarinterval"],
                _ => &["cron"],
            }
        };
        let mut fields: Vec<(&'static str, bool, &[&str])> = vec![("run_date", self.run_date.is_some(), &["date"])];
        fields.extend(self.interval_fields().iter().map(|(name, value, _)| (*name, value.is_some(), interval(name))));
        fields.extend(self.cron_fields().iter().map(|(kind, value)| (kind.name(), value.is_some(), cron(*kind))));
        fields.extend([
            ("start_date", self.start_date.is_some(), TIMED),
            ("end_date", self.end_date.is_some(), TIMED),
            ("jitter", self.jitter.is_some(), &["interval", "cron", "calendarinterval", "and", "or"]),
            ("years", self.years.is_some(), &["calendarinterval"]),
            ("months", self.months.is_some(), &["calendarinterval"]),
            ("triggers", self.triggers.is_some(), &["and", "or"]),
            ("timezone", self.timezone.is_some(), &["date", "interval", "cron", "calendarinterval"]),
        ]);
        fields.into_iter().filter(|(_, set, kinds)| *set && !kinds.contains(&kind)).map(|(name, _, _)| name).collect()
    }

    /// Whether this spec, or a part of it, takes the default zone (names no `timezone`).
    fn takes_default_zone(&self) -> bool {
        match &self.triggers {
            Some(parts) if matches!(self.trigger.as_str(), "and" | "or") => parts.iter().any(TriggerSpec::takes_default_zone),
            _ => self.timezone.is_none(),
        }
    }
}

/// The trigger kinds, by APScheduler's aliases.
pub const KINDS: [&str; 6] = ["date", "interval", "cron", "calendarinterval", "and", "or"];

/// The message of a missing `trigger`.
pub fn required_kind() -> String {
    let names: Vec<String> = KINDS.iter().map(|k| format!("{k:?}")).collect();
    format!("is required (one of {})", names.join(", "))
}

#[derive(Clone, Debug)]
pub enum Trigger {
    Date(DateTrigger),
    Interval(IntervalTrigger),
    Cron(CronTrigger),
    CalendarInterval(CalendarIntervalTrigger),
    Or(CombiningTrigger),
    And(CombiningTrigger),
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
    /// creation instant (an interval's default start is now + interval, a date's default now,
    /// a calendar interval's default start date today). A trigger holding an `and` whose
    /// parts have no fire time in common within the search bounds ([`combining`]) is refused,
    /// naming `trigger`: APScheduler would search forever.
    pub fn build(spec: &TriggerSpec, default_zone: Zone, now_utc_us: i64) -> Result<Schedule, TriggerError> {
        let schedule = Schedule::build_part(spec, default_zone, now_utc_us, 0)?;
        if schedule.trigger.holds_and() {
            let mut search = Search::default();
            schedule.eval(None, &Zdt::from_utc(now_utc_us, schedule.zone()), &mut search, None);
            if search.exhausted {
                return Err(TriggerError::new(
                    "trigger",
                    format!(
                        "the parts of an and trigger never fire at the same time within {MAX_AND_SEARCH_YEARS} years (or {MAX_AND_SEARCH_EVALUATIONS} part evaluations) of now; APScheduler would search forever"
                    ),
                ));
            }
        }
        Ok(schedule)
    }

    /// One trigger of the tree; `depth` counts the combining triggers around it.
    fn build_part(spec: &TriggerSpec, default_zone: Zone, now_utc_us: i64, depth: usize) -> Result<Schedule, TriggerError> {
        let kind = spec.trigger.as_str();
        if !KINDS.contains(&kind) {
            return Err(TriggerError::new(
                "trigger",
                format!("No trigger by the name {kind:?} was found (expected \"date\", \"interval\", \"cron\", \"calendarinterval\", \"and\" or \"or\")"),
            ));
        }
        let foreign = spec.foreign_fields(kind);
        if let Some(first) = foreign.first() {
            let message = match foreign.len() {
                1 => format!("is not a field of the {kind} trigger"),
                _ => format!("is not a field of the {kind} trigger (nor are {})", foreign[1..].join(", ")),
            };
            return Err(TriggerError::new(*first, message));
        }
        if matches!(kind, "and" | "or") {
            return Schedule::build_combining(spec, default_zone, now_utc_us, depth);
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
            "calendarinterval" => Trigger::CalendarInterval(calendar_interval_trigger(spec, zone, &now)?),
            _ => {
                let given: Vec<(FieldKind, String)> = spec.cron_fields().iter().filter_map(|(kind, value)| value.as_ref().map(|v| (*kind, v.text()))).collect();
                let start_date = date("start_date", &spec.start_date)?;
                let end_date = date("end_date", &spec.end_date)?;
                Trigger::Cron(CronTrigger::new(&given, start_date, end_date, zone)?)
            }
        };
        Ok(Schedule { trigger, jitter: spec.jitter.filter(|&j| j > 0) })
    }

    /// `and`/`or`: parts built as triggers of their own; errors name `triggers` and the part.
    fn build_combining(spec: &TriggerSpec, default_zone: Zone, now_utc_us: i64, depth: usize) -> Result<Schedule, TriggerError> {
        let kind = spec.trigger.as_str();
        let specs = spec.triggers.as_deref().unwrap_or_default();
        if specs.is_empty() {
            return Err(TriggerError::new("triggers", format!("the {kind} trigger needs at least one trigger to combine")));
        }
        if depth >= MAX_COMBINING_DEPTH {
            return Err(TriggerError::new("triggers", format!("and/or triggers nest at most {MAX_COMBINING_DEPTH} levels deep")));
        }
        if specs.len() > MAX_COMBINED_PARTS {
            return Err(TriggerError::new("triggers", format!("an {kind} trigger combines at most {MAX_COMBINED_PARTS} triggers, got {}", specs.len())));
        }
        let mut parts = Vec::with_capacity(specs.len());
        for (i, part_spec) in specs.iter().enumerate() {
            let part = Schedule::build_part(part_spec, default_zone, now_utc_us, depth + 1).map_err(|e| in_part(i, e))?;
            if kind == "and" && part.has_jitter() {
                return Err(TriggerError::new(
                    "triggers",
                    format!("triggers[{i}]: a part of an and trigger cannot have jitter (its fire times would never coincide with the others'); set jitter on the and trigger"),
                ));
            }
            parts.push(part);
        }
        // The parts' common zone when some take it; the job stores this zone and passes it
        // back as the default, so it must be that one.
        let zone = if specs.iter().any(TriggerSpec::takes_default_zone) { default_zone } else { parts[0].zone() };
        let combined = CombiningTrigger { parts, zone };
        let trigger = if kind == "and" { Trigger::And(combined) } else { Trigger::Or(combined) };
        Ok(Schedule { trigger, jitter: spec.jitter.filter(|&j| j > 0) })
    }

    /// Whether this trigger or any part of it draws a jitter.
    fn has_jitter(&self) -> bool {
        self.jitter.is_some()
            || match &self.trigger {
                Trigger::Or(c) | Trigger::And(c) => c.parts.iter().any(Schedule::has_jitter),
                _ => false,
            }
    }

    pub fn zone(&self) -> Zone {
        self.trigger.zone()
    }

    /// Next fire time with jitter: `uniform` draws from [0, 1). For `and`/`or` this is
    /// APScheduler's exactly: each part draws its own jitter as it answers, in order, then
    /// the combined trigger its own.
    pub fn next_fire_time_jittered(&self, previous: Option<&Zdt>, now: &Zdt, mut uniform: impl FnMut() -> f64) -> Option<Zdt> {
        match &self.trigger {
            Trigger::Or(c) | Trigger::And(c) => self.eval(previous, now, &mut Search::default(), Some(&mut uniform)).map(|fire| c.in_zone(fire)),
            _ => self.jitter(self.trigger.next_fire_time(previous, now), uniform),
        }
    }

    /// APScheduler's `_apply_jitter`: a random delay of up to `jitter` seconds. For `and`/`or`
    /// only the combined trigger's own jitter is added to `fire` (on the wall clock of its
    /// zone): the parts' jitters need the parts' own answers, which
    /// [`Schedule::next_fire_time_jittered`] computes.
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
            // The same addition, with no end date to cap it.
            Trigger::CalendarInterval(_) | Trigger::Or(_) | Trigger::And(_) => Some(wall_jitter(fire, delay)),
        }
    }
}

impl Trigger {
    /// The zone its fire times are in (an `and`/`or`: see [`CombiningTrigger`]'s `zone`).
    pub fn zone(&self) -> Zone {
        match self {
            Trigger::Date(t) => t.run_date.zone(),
            Trigger::Interval(t) => t.zone,
            Trigger::Cron(t) => t.zone,
            Trigger::CalendarInterval(t) => t.zone,
            Trigger::Or(c) | Trigger::And(c) => c.zone,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Trigger::Date(_) => "date",
            Trigger::Interval(_) => "interval",
            Trigger::Cron(_) => "cron",
            Trigger::CalendarInterval(_) => "calendarinterval",
            Trigger::Or(_) => "or",
            Trigger::And(_) => "and",
        }
    }

    /// APScheduler's `get_next_fire_time(previous_fire_time, now)`, without jitter, in
    /// [`Trigger::zone`].
    pub fn next_fire_time(&self, previous: Option<&Zdt>, now: &Zdt) -> Option<Zdt> {
        match self {
            Trigger::Date(t) => t.next_fire_time(previous),
            Trigger::Interval(t) => t.next_fire_time(previous, now),
            Trigger::Cron(t) => t.next_fire_time(previous, now),
            Trigger::CalendarInterval(t) => t.next_fire_time(previous),
            Trigger::Or(c) => c.or_next(previous, now, &mut Search::default(), None).map(|fire| c.in_zone(fire)),
            Trigger::And(c) => c.and_next(previous, now, &mut Search::default()).map(|fire| c.in_zone(fire)),
        }
    }

    /// Whether an `and` is part of this trigger.
    fn holds_and(&self) -> bool {
        match self {
            Trigger::And(_) => true,
            Trigger::Or(c) => c.parts.iter().any(|part| part.trigger.holds_and()),
            _ => false,
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
            Trigger::CalendarInterval(t) => t.fmt(f),
            Trigger::Or(c) => write_parts(f, "or", &c.parts),
            Trigger::And(c) => write_parts(f, "and", &c.parts),
        }
    }
}

/// `or[a, b]` / `and[a, b]`.
fn write_parts(f: &mut fmt::Formatter<'_>, name: &str, parts: &[Schedule]) -> fmt::Result {
    write!(f, "{name}[")?;
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        fmt::Display::fmt(&part.trigger, f)?;
    }
    f.write_str("]")
}

/// A part's error, named `triggers` with the part's path: `triggers[1].hour: ...`.
fn in_part(index: usize, e: TriggerError) -> TriggerError {
    let message = match (e.field.as_str(), e.message.starts_with("triggers[")) {
        ("triggers", true) => format!("triggers[{index}].{}", e.message),
        _ => format!("triggers[{index}].{}: {}", e.field, e.message),
    };
    TriggerError::new("triggers", message)
}

/// A calendar-interval trigger from its fields: whole numbers only (APScheduler fails on
/// strings, at once or at its first step), none negative (APScheduler would step backwards),
/// steps of at most 100 years.
fn calendar_interval_trigger(spec: &TriggerSpec, zone: Zone, now: &Zdt) -> Result<CalendarIntervalTrigger, TriggerError> {
    let whole = |name: &str, value: &Option<IntervalValue>| -> Result<i64, TriggerError> {
        match value {
            None => Ok(0),
            Some(IntervalValue::Number(n)) if *n < 0 => Err(TriggerError::new(name, format!("must not be negative, got {n}"))),
            Some(IntervalValue::Number(n)) => Ok(*n),
            Some(IntervalValue::Text(t)) => Err(TriggerError::new(name, format!("must be a whole number, got {t:?}"))),
        }
    };
    let units = [whole("years", &spec.years)?, whole("months", &spec.months)?, whole("weeks", &spec.weeks)?, whole("days", &spec.days)?];
    let [years, months, weeks, days] = units;
    let too_long = |name| TriggerError::new(name, "the interval must not exceed 100 years".to_string());
    if years.checked_mul(12).and_then(|m| m.checked_add(months)).is_none_or(|m| m > MAX_CALENDAR_MONTHS) {
        return Err(too_long(if months > MAX_CALENDAR_MONTHS { "months" } else { "years" }));
    }
    if weeks.checked_mul(7).and_then(|d| d.checked_add(days)).is_none_or(|d| d > MAX_CALENDAR_DAYS) {
        return Err(too_long(if days > MAX_CALENDAR_DAYS { "days" } else { "weeks" }));
    }
    let time_of_day = |name: &str, value: &Option<CronValue>| -> Result<i64, TriggerError> {
        match value {
            None => Ok(0),
            Some(CronValue::Number(n)) => Ok(i64::try_from(*n).unwrap_or(i64::MAX)),
            Some(CronValue::Text(t)) => Err(TriggerError::new(name, format!("must be a whole number, got {t:?}"))),
        }
    };
    let time = [time_of_day("hour", &spec.hour)?, time_of_day("minute", &spec.minute)?, time_of_day("second", &spec.second)?];
    // `date.today()`: funboost-edge takes today in the trigger's zone (APScheduler: the
    // machine's local date).
    let start_date = match &spec.start_date {
        Some(text) => parse_date("start_date", text)?,
        None => Date::of_wall(now),
    };
    let end_date = spec.end_date.as_deref().map(|text| parse_date("end_date", text)).transpose()?;
    CalendarIntervalTrigger::new(units, time, start_date, end_date, zone)
}
