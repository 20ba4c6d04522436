//! APScheduler 3.11's `CronTrigger`: field grammar, defaulting rule and its exact search
//! algorithm (field by field, with its increment-in-UTC arithmetic across DST changes).

use std::fmt;
use std::sync::OnceLock;

use super::civil::{civil_from_days, days_from_civil, iso_week, month_len, weekday, Civil, US_PER_DAY, US_PER_SEC};
use super::zoned::{Zdt, Zone};
use super::TriggerError;

const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const MONTHS: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const POSITIONS: [&str; 6] = ["1st", "2nd", "3rd", "4th", "5th", "last"];

/// The eight cron fields, most significant first (APScheduler's order).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    Year,
    Month,
    Day,
    Week,
    DayOfWeek,
    Hour,
    Minute,
    Second,
}

impl FieldKind {
    pub const ALL: [FieldKind; 8] =
        [FieldKind::Year, FieldKind::Month, FieldKind::Day, FieldKind::Week, FieldKind::DayOfWeek, FieldKind::Hour, FieldKind::Minute, FieldKind::Second];

    pub fn name(self) -> &'static str {
        match self {
            FieldKind::Year => "year",
            FieldKind::Month => "month",
            FieldKind::Day => "day",
            FieldKind::Week => "week",
            FieldKind::DayOfWeek => "day_of_week",
            FieldKind::Hour => "hour",
            FieldKind::Minute => "minute",
            FieldKind::Second => "second",
        }
    }

    /// Week and weekday are not datetime components: matching them moves the day.
    fn is_real(self) -> bool {
        !matches!(self, FieldKind::Week | FieldKind::DayOfWeek)
    }

    fn min(self) -> i32 {
        match self {
            FieldKind::Year => 1970,
            FieldKind::Month | FieldKind::Day | FieldKind::Week => 1,
            _ => 0,
        }
    }

    /// The static maximum; the day field's real maximum is the month's length.
    fn max(self) -> i32 {
        match self {
            FieldKind::Year => 9999,
            FieldKind::Month => 12,
            FieldKind::Day => 31,
            FieldKind::Week => 53,
            FieldKind::DayOfWeek => 6,
            FieldKind::Hour => 23,
            FieldKind::Minute | FieldKind::Second => 59,
        }
    }

    /// Value used for unspecified fields less significant than the last given one.
    fn default_expr(self) -> &'static str {
        match self {
            FieldKind::Year | FieldKind::Week | FieldKind::DayOfWeek => "*",
            FieldKind::Month | FieldKind::Day => "1",
            _ => "0",
        }
    }
}

/// One comma-separated item of a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expr {
    /// `*` or `*/step`.
    All { step: Option<i32> },
    /// `a`, `a-b`, `a/step`, `a-b/step`, or a month/weekday name range (`named`).
    Range { first: i32, last: Option<i32>, step: Option<i32>, named: bool },
    /// `last` (day field).
    LastDayOfMonth,
    /// `1st`..`5th`/`last` + weekday name (day field); position 5 is `last`.
    WeekdayPosition { position: u8, weekday: u8 },
}

/// The parts of a date/time the fields read, computed once per search step.
#[derive(Clone, Copy)]
struct View {
    civil: Civil,
    month_len: i32,
}

impl View {
    fn of(civil: Civil) -> View {
        View { civil, month_len: month_len(civil.year, civil.month) as i32 }
    }

    fn value(&self, kind: FieldKind) -> i32 {
        let c = &self.civil;
        match kind {
            FieldKind::Year => c.year,
            FieldKind::Month => c.month as i32,
            FieldKind::Day => c.day as i32,
            FieldKind::Week => iso_week(c.year, c.month, c.day) as i32,
            FieldKind::DayOfWeek => weekday(c.days()) as i32,
            FieldKind::Hour => c.hour as i32,
            FieldKind::Minute => c.minute as i32,
            FieldKind::Second => c.second as i32,
        }
    }

    fn max(&self, kind: FieldKind) -> i32 {
        if kind == FieldKind::Day {
            self.month_len
        } else {
            kind.max()
        }
    }
}

impl Expr {
    fn next_value(&self, kind: FieldKind, view: &View, current: i32) -> Option<i32> {
        let (min, max) = (kind.min(), view.max(kind));
        let next = match *self {
            Expr::All { step } => {
                let start = current.max(min);
                match step {
                    Some(step) => start + (step - (start - min)).rem_euclid(step),
                    None => start,
                }
            }
            Expr::Range { first, last, step, .. } => {
                let low = min.max(first);
                let high = last.map_or(max, |last| max.min(last));
                let mut next = low.max(current);
                if let Some(step) = step {
                    next += (step - (next - low)).rem_euclid(step);
                }
                return (next <= high).then_some(next);
            }
            Expr::LastDayOfMonth => return Some(view.month_len),
            Expr::WeekdayPosition { position, weekday: target } => {
                let c = &view.civil;
                let first_weekday = weekday(days_from_civil(c.year, c.month, 1)) as i32;
                let mut first_hit = i32::from(target) - first_weekday + 1;
                if first_hit <= 0 {
                    first_hit += 7;
                }
                let day = if position < 5 { first_hit + i32::from(position) * 7 } else { first_hit + (view.month_len - first_hit) / 7 * 7 };
                return (day <= view.month_len && day >= current).then_some(day);
            }
        };
        (next <= max).then_some(next)
    }

    fn fmt(&self, kind: FieldKind, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Expr::All { step: None } => f.write_str("*"),
            Expr::All { step: Some(step) } => write!(f, "*/{step}"),
            Expr::Range { first, last, named: true, .. } => {
                let name = |v: i32| match kind {
                    FieldKind::Month => MONTHS[(v - 1) as usize],
                    _ => WEEKDAYS[v as usize],
                };
                match last {
                    Some(last) if last != first => write!(f, "{}-{}", name(first), name(last)),
                    _ => f.write_str(name(first)),
                }
            }
            Expr::Range { first, last, step, named: false } => {
                match last {
                    Some(last) if last != first => write!(f, "{first}-{last}")?,
                    _ => write!(f, "{first}")?,
                }
                match step {
                    Some(step) => write!(f, "/{step}"),
                    None => Ok(()),
                }
            }
            Expr::LastDayOfMonth => f.write_str("last"),
            Expr::WeekdayPosition { position, weekday } => {
                write!(f, "{} {}", POSITIONS[position as usize], WEEKDAYS[weekday as usize])
            }
        }
    }
}

/// A parsed field: its expressions and whether it was given or defaulted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    kind: FieldKind,
    exprs: Vec<Expr>,
    is_default: bool,
    /// `*`: every value matches, nothing to compute.
    wildcard: bool,
    /// Bit v set when value v matches, for fields whose values do not depend on the month
    /// (all but year and the day field's `last`/`2nd fri` forms).
    mask: Option<u64>,
}

impl Field {
    pub fn parse(kind: FieldKind, text: &str, is_default: bool) -> Result<Field, TriggerError> {
        // Python's str.strip() strips Unicode white space too.
        let items = text.trim().split(',').map(|item| item.trim_matches(' '));
        let exprs = items.map(|item| parse_expr(kind, item)).collect::<Result<Vec<_>, _>>()?;
        let wildcard = exprs == [Expr::All { step: None }];
        let mask = (kind != FieldKind::Year).then(|| value_mask(kind, &exprs)).flatten();
        Ok(Field { kind, exprs, is_default, wildcard, mask })
    }

    fn next_value(&self, view: &View, current: i32) -> Option<i32> {
        match self.mask {
            Some(mask) => {
                let above = mask.checked_shr(current as u32).unwrap_or(0);
                let next = current + above.trailing_zeros() as i32;
                (above != 0 && next <= view.max(self.kind)).then_some(next)
            }
            None => self.exprs.iter().filter_map(|e| e.next_value(self.kind, view, current)).min(),
        }
    }

    fn matches(&self, view: &View) -> bool {
        let current = view.value(self.kind);
        self.next_value(view, current) == Some(current)
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, expr) in self.exprs.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            expr.fmt(self.kind, f)?;
        }
        Ok(())
    }
}

/// The set of values a field's expressions allow, when it does not depend on the date.
fn value_mask(kind: FieldKind, exprs: &[Expr]) -> Option<u64> {
    let mut mask = 0u64;
    for expr in exprs {
        let (first, last, step) = match *expr {
            Expr::All { step } => (kind.min(), kind.max(), step),
            Expr::Range { first, last, step, .. } => (first.max(kind.min()), last.map_or(kind.max(), |l| l.min(kind.max())), step),
            Expr::LastDayOfMonth | Expr::WeekdayPosition { .. } => return None,
        };
        let mut value = first;
        while value <= last {
            mask |= 1u64 << value;
            value += step.unwrap_or(1);
        }
    }
    Some(mask)
}

fn field_error(kind: FieldKind, message: String) -> TriggerError {
    TriggerError::new(kind.name(), message)
}

fn parse_number(kind: FieldKind, expr: &str, text: &str) -> Result<i32, TriggerError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(field_error(kind, format!("Unrecognized expression \"{expr}\" for field \"{}\"", kind.name())));
    }
    text.parse::<i32>().map_err(|_| field_error(kind, format!("Error validating expression '{expr}': the value {text} is out of range")))
}

fn parse_expr(kind: FieldKind, expr: &str) -> Result<Expr, TriggerError> {
    let unrecognized = || field_error(kind, format!("Unrecognized expression \"{expr}\" for field \"{}\"", kind.name()));
    let invalid = |why: String| field_error(kind, format!("Error validating expression '{expr}': {why}"));
    let lower = expr.to_ascii_lowercase();

    if let Some(rest) = expr.strip_prefix('*') {
        let step = match rest.strip_prefix('/') {
            None if rest.is_empty() => None,
            Some(step) => Some(parse_number(kind, expr, step)?),
            None => return Err(unrecognized()),
        };
        if step == Some(0) {
            return Err(field_error(kind, "Increment must be higher than 0".to_string()));
        }
        let range = kind.max() - kind.min();
        if let Some(step) = step.filter(|&s| s > range) {
            return Err(invalid(format!("the step value ({step}) is higher than the total range of the expression ({range})")));
        }
        return Ok(Expr::All { step });
    }

    if expr.starts_with(|c: char| c.is_ascii_digit()) && expr.bytes().all(|b| b.is_ascii_digit() || b == b'-' || b == b'/') {
        let (range, step) = match expr.split_once('/') {
            Some((range, step)) => (range, Some(parse_number(kind, expr, step)?)),
            None => (expr, None),
        };
        let (first, last) = match range.split_once('-') {
            Some((first, last)) => (parse_number(kind, expr, first)?, Some(parse_number(kind, expr, last)?)),
            None => (parse_number(kind, expr, range)?, None),
        };
        if step == Some(0) {
            return Err(field_error(kind, "Increment must be higher than 0".to_string()));
        }
        let last = if last.is_none() && step.is_none() { Some(first) } else { last };
        if matches!(last, Some(last) if first > last) {
            return Err(field_error(kind, "The minimum value in a range must not be higher than the maximum".to_string()));
        }
        if first < kind.min() {
            return Err(invalid(format!("the first value ({first}) is lower than the minimum value ({})", kind.min())));
        }
        if let Some(last) = last.filter(|&l| l > kind.max()) {
            return Err(invalid(format!("the last value ({last}) is higher than the maximum value ({})", kind.max())));
        }
        // APScheduler measures the range with `last or max`, so a last value of 0 counts as max.
        let range = last.filter(|&l| l != 0).unwrap_or(kind.max()) - first;
        if let Some(step) = step.filter(|&s| s > range) {
            return Err(invalid(format!("the step value ({step}) is higher than the total range of the expression ({range})")));
        }
        return Ok(Expr::Range { first, last, step, named: false });
    }

    match kind {
        FieldKind::Month | FieldKind::DayOfWeek => {
            let names: &[&str] = if kind == FieldKind::Month { &MONTHS } else { &WEEKDAYS };
            let offset = if kind == FieldKind::Month { 1 } else { 0 };
            let lookup = |name: &str| {
                names.iter().position(|n| *n == name).map(|i| i as i32 + offset).ok_or_else(|| {
                    let what = if kind == FieldKind::Month { "month" } else { "weekday" };
                    field_error(kind, format!("Invalid {what} name \"{name}\""))
                })
            };
            if !lower.bytes().all(|b| b.is_ascii_lowercase() || b == b'-') || lower.is_empty() {
                // APScheduler silently truncates `mon-fri/2` to `mon-fri` and `mon-5` to `mon`;
                // a step or a number mixed with names is refused here instead.
                return Err(field_error(
                    kind,
                    format!("Unrecognized expression \"{expr}\" for field \"{}\" (names take no step and do not mix with numbers)", kind.name()),
                ));
            }
            let (first, last) = match lower.split_once('-') {
                Some((first, last)) => (lookup(first)?, Some(lookup(last)?)),
                None => (lookup(&lower)?, None),
            };
            let last = last.or(Some(first));
            if matches!(last, Some(last) if first > last) {
                return Err(field_error(kind, "The minimum value in a range must not be higher than the maximum".to_string()));
            }
            Ok(Expr::Range { first, last, step: None, named: true })
        }
        FieldKind::Day => {
            if lower == "last" {
                return Ok(Expr::LastDayOfMonth);
            }
            let mut words = lower.split(' ').filter(|w| !w.is_empty());
            let (Some(position), Some(day_name), None) = (words.next(), words.next(), words.next()) else {
                return Err(unrecognized());
            };
            let Some(position) = POSITIONS.iter().position(|p| *p == position) else {
                return Err(unrecognized());
            };
            let weekday = WEEKDAYS.iter().position(|w| *w == day_name).ok_or_else(|| field_error(kind, format!("Invalid weekday name \"{day_name}\"")))?;
            Ok(Expr::WeekdayPosition { position: position as u8, weekday: weekday as u8 })
        }
        _ => Err(unrecognized()),
    }
}

/// A validated cron trigger. Laid out hot data first: one next-fire computation touches the
/// first two cache lines only.
#[derive(Debug)]
#[repr(C)]
pub struct CronTrigger {
    /// The fields' value masks side by side (0 where values depend on the date): all the
    /// wall-clock search reads.
    masks: [u64; 8],
    wildcards: [bool; 8],
    pub(super) zone: Zone,
    pub(super) start_date: Option<Zdt>,
    pub(super) end_date: Option<Zdt>,
    fields: Box<[Field; 8]>,
    /// For each year modulo 400 (the Gregorian cycle, weekdays included): does any date of
    /// that year match month, day, week and day_of_week? Built on first need, so a schedule
    /// that can never fire is known as such at once.
    feasible_years: OnceLock<Box<[bool; 400]>>,
}

impl Clone for CronTrigger {
    fn clone(&self) -> Self {
        CronTrigger {
            fields: self.fields.clone(),
            masks: self.masks,
            wildcards: self.wildcards,
            start_date: self.start_date,
            end_date: self.end_date,
            zone: self.zone,
            feasible_years: OnceLock::new(),
        }
    }
}

impl CronTrigger {
    /// `given` holds the fields the user set, as text, in any order.
    pub fn new(given: &[(FieldKind, String)], start_date: Option<Zdt>, end_date: Option<Zdt>, zone: Zone) -> Result<CronTrigger, TriggerError> {
        let least_significant_given = FieldKind::ALL.iter().rposition(|k| given.iter().any(|(g, _)| g == k));
        let mut fields = Vec::with_capacity(8);
        for (index, kind) in FieldKind::ALL.into_iter().enumerate() {
            let field = match given.iter().find(|(g, _)| *g == kind) {
                Some((_, text)) => Field::parse(kind, text, false)?,
                None if least_significant_given.is_some_and(|l| index > l) => Field::parse(kind, kind.default_expr(), true)?,
                None => Field::parse(kind, "*", true)?,
            };
            fields.push(field);
        }
        let fields: Box<[Field; 8]> = fields.into_boxed_slice().try_into().map_err(|_| TriggerError::new("trigger", "internal field count".into()))?;
        let masks = fields.each_ref().map(|f| f.mask.unwrap_or(0));
        let wildcards = fields.each_ref().map(|f| f.wildcard);
        Ok(CronTrigger { fields, masks, wildcards, start_date, end_date, zone, feasible_years: OnceLock::new() })
    }

    /// APScheduler's `get_next_fire_time(previous, now)`.
    pub fn next_fire_time(&self, previous: Option<&Zdt>, now: &Zdt) -> Option<Zdt> {
        let start = match (previous, self.start_date) {
            (Some(prev), _) => {
                let start = Zdt::from_utc(now.utc_us().min(prev.utc_us() + 1), self.zone);
                if start.py_eq(prev) {
                    Zdt::from_utc(start.utc_us() + 1, self.zone)
                } else {
                    start
                }
            }
            (None, Some(start_date)) => Zdt::from_utc(now.utc_us().max(start_date.utc_us()), self.zone),
            (None, None) => *now,
        };
        // datetime_ceil: offsets are whole seconds, so rounding the instant rounds the wall time.
        let start_us = start.utc_us();
        let ceil_us = start_us + (US_PER_SEC - start_us.rem_euclid(US_PER_SEC)) % US_PER_SEC;
        // `datetime_ceil(now).astimezone(zone)` keeps a whole-second `now` of this zone as it is,
        // even a wall time inside a DST gap (an and trigger passes its parts such times).
        let own_wall = start.zone() == self.zone && start_us == ceil_us;

        // Fast path: while the zone's offset stays constant, APScheduler's search is a plain
        // wall-clock search. Use it when the answer lies before the next offset change.
        if let Some(span) = self.zone.span_at(ceil_us.div_euclid(US_PER_SEC)) {
            let offset_us = i64::from(span.offset) * US_PER_SEC;
            // Not for a wall time inside a gap (its offset is the one before), nor before 1970.
            let plain = !own_wall || start.wall_us() - start_us == offset_us;
            if plain && ceil_us + offset_us >= 0 {
                // No match at all means none in any zone (an end date only makes that truer).
                let fire = self.next_wall_match(Civil::from_us(ceil_us + offset_us))?;
                let fire_us = fire.to_us() - offset_us;
                let clear_of_end = self.end_date.is_none_or(|end| fire_us + US_PER_DAY < end.utc_us());
                if fire_us < span.end.saturating_mul(US_PER_SEC) && clear_of_end {
                    let fold = fire_us < span.fold_until.saturating_mul(US_PER_SEC);
                    return Some(Zdt::from_parts(fire_us + offset_us, fire_us, fold, self.zone));
                }
            }
        }
        let mut from = if own_wall { start } else { Zdt::from_utc(ceil_us, self.zone) };
        if from.wall_us() < 0 {
            // The year field starts at 1970: APScheduler sets an earlier start to 1970-01-01
            // 00:00 (an or trigger can pass its parts such a time, from a date or calendar part).
            from = Zdt::from_wall_fold(0, from.fold(), self.zone);
        }
        self.search(from).map(|fire| match &self.end_date {
            Some(end) if end.py_cmp(&fire).is_lt() => *end,
            _ => fire,
        })
    }

    /// The first wall time at or after `start` that matches every field. At a constant
    /// offset this is what APScheduler's search finds; computed directly, day by day.
    fn next_wall_match(&self, start: Civil) -> Option<Civil> {
        let [_, month, day, week, day_of_week, hour, minute, second] = self.masks;
        let wild = self.wildcards;
        let has = |mask: u64, value: u32| mask >> value & 1 == 1;
        // The candidate date as plain integers (kept in registers), and the earliest time of
        // day still allowed on it.
        let (mut y, mut mo, mut d) = (start.year, start.month, start.day);
        let mut floor = Some((start.hour, start.minute, start.second));
        loop {
            if y > start.year + 1 {
                // Scanning years one by one: jump straight to the next year that can match.
                let next_year = self.next_feasible_year(y)?;
                if next_year != y {
                    (y, mo, d, floor) = (next_year, 1, 1, None);
                    continue;
                }
            }
            let len = month_len(y, mo);
            let next_month = if mo == 12 { (y + 1, 1, 1) } else { (y, mo + 1, 1) };
            let next_day = if d < len { (y, mo, d + 1) } else { next_month };
            let year_value = match wild[0] {
                true => Some(y),
                false => self.fields[0].next_value(&View::of(midnight(y, mo, d)), y),
            };
            let day_value = match day {
                0 => self.fields[2].next_value(&View::of(midnight(y, mo, d)), d as i32).map(|v| v as u32),
                mask => next_bit(mask, d).filter(|&v| v <= len),
            };
            (y, mo, d) = match year_value {
                None => return None,
                Some(next) if next > y => (next, 1, 1),
                Some(_) => match next_bit(month, mo) {
                    None => (y + 1, 1, 1),
                    Some(m) if m > mo => (y, m, 1),
                    Some(_) => match day_value {
                        None => next_month,
                        Some(next) if next > d => (y, mo, next),
                        // Every day up to next Monday shares this ISO week; skip them together.
                        Some(_) if !(wild[3] || has(week, iso_week(y, mo, d))) => days_later(y, mo, d, 7 - weekday(days_from_civil(y, mo, d))),
                        Some(_) if !(wild[4] || has(day_of_week, weekday(days_from_civil(y, mo, d)))) => {
                            let today = weekday(days_from_civil(y, mo, d));
                            let next = next_bit(day_of_week, today).unwrap_or(day_of_week.trailing_zeros() + 7);
                            days_later(y, mo, d, next - today)
                        }
                        Some(_) => match next_time(hour, minute, second, floor) {
                            Some((hour, minute, second)) => return Some(Civil { year: y, month: mo, day: d, hour, minute, second, micro: 0 }),
                            None => next_day,
                        },
                    },
                },
            };
            if y > 9999 {
                return None;
            }
            floor = None;
        }
    }

    /// APScheduler's field-by-field search from `date`, moving the date exactly as it does
    /// (increments added in UTC, set fields taken as wall times), so DST changes come out
    /// the same.
    fn search(&self, mut date: Zdt) -> Option<Zdt> {
        let start_year = date.civil().year;
        // APScheduler checks the end date after every step; the date only moves forward, so
        // checking the start and each move is the same.
        if self.is_past_end(&date) {
            return None;
        }
        let mut view = View::of(date.civil());
        let mut fieldnum: i32 = 0;
        while (0..8).contains(&fieldnum) {
            let field = &self.fields[fieldnum as usize];
            if fieldnum == 1 && view.civil.year > start_year + 1 {
                // Scanning years one by one: jump straight to the next year that can match.
                let year = self.next_feasible_year(view.civil.year)?;
                if year != view.civil.year {
                    date = self.set(&date, Civil { year, month: 1, day: 1, hour: 0, minute: 0, second: 0, micro: 0 });
                    if self.is_past_end(&date) {
                        return None;
                    }
                    view = View::of(date.civil());
                    continue;
                }
            }
            if field.wildcard {
                fieldnum += 1;
                continue;
            }
            let current = view.value(field.kind);
            match field.next_value(&view, current) {
                None => (date, fieldnum) = self.increment_field_value(&date, &view, fieldnum - 1)?,
                Some(next) if next > current => {
                    if field.kind.is_real() {
                        date = self.set(&date, set_field_value(&view, fieldnum as usize, next));
                        fieldnum += 1;
                    } else {
                        (date, fieldnum) = self.increment_field_value(&date, &view, fieldnum)?;
                    }
                }
                Some(_) => {
                    fieldnum += 1;
                    continue;
                }
            }
            if self.is_past_end(&date) {
                return None;
            }
            view = View::of(date.civil());
        }
        (fieldnum >= 0).then_some(date)
    }

    /// `_increment_field_value`'s move: the wall-clock difference added in UTC.
    fn increment(&self, date: &Zdt, target: Civil) -> Zdt {
        Zdt::from_utc(date.utc_us() + (target.to_us() - date.wall_us()), self.zone)
    }

    /// `_set_field_value`'s move: the wall time taken as is, fold kept.
    fn set(&self, date: &Zdt, target: Civil) -> Zdt {
        Zdt::from_wall_fold(target.to_us(), date.fold(), self.zone)
    }

    fn is_past_end(&self, date: &Zdt) -> bool {
        self.end_date.is_some_and(|end| date.py_cmp(&end).is_gt())
    }

    /// `_increment_field_value`: bump one field (carrying), reset the less significant ones.
    fn increment_field_value(&self, date: &Zdt, view: &View, fieldnum: i32) -> Option<(Zdt, i32)> {
        let mut values = [0i32; 8];
        let mut fieldnum = fieldnum;
        let mut i: i32 = 0;
        while i < 8 {
            // Python would index from the end here; it only happens when the year overflows.
            let index = usize::try_from(i).ok()?;
            let kind = FieldKind::ALL[index];
            if !kind.is_real() {
                if i == fieldnum {
                    fieldnum -= 1;
                    i -= 1;
                } else {
                    i += 1;
                }
                continue;
            }
            if i < fieldnum {
                values[index] = view.value(kind);
                i += 1;
            } else if i > fieldnum {
                values[index] = kind.min();
                i += 1;
            } else {
                let value = view.value(kind);
                if value == view.max(kind) {
                    fieldnum -= 1;
                    i -= 1;
                } else {
                    values[index] = value + 1;
                    i += 1;
                }
            }
        }
        if fieldnum < 0 {
            return None;
        }
        let target = civil_of(&values, 0);
        target.is_valid().then(|| (self.increment(date, target), fieldnum))
    }

    fn next_feasible_year(&self, from: i32) -> Option<i32> {
        let table = self.feasible_years.get_or_init(|| Box::new(self.feasible_year_table()));
        if !table.contains(&true) {
            return None;
        }
        let year_field = &self.fields[0];
        let mut year = from;
        while year <= 9999 {
            year = year_field.next_value(&View::of(midnight(year, 1, 1)), year)?;
            if table[year.rem_euclid(400) as usize] {
                return Some(year);
            }
            year += 1;
        }
        None
    }

    fn feasible_year_table(&self) -> [bool; 400] {
        let [_, months, days, week, day_of_week, ..] = self.masks;
        let (week_wild, dow_wild) = (self.wildcards[3], self.wildcards[4]);
        let day_field = &self.fields[2];
        let mut table = [false; 400];
        // 2000..2399 covers every year class modulo 400.
        for year in 2000..2400 {
            table[(year % 400) as usize] = (1..=12u32).filter(|m| months >> m & 1 == 1).any(|month| {
                let len = month_len(year, month);
                if week_wild && dow_wild && days != 0 {
                    // Any allowed day within the month's length.
                    return days & ((2u64 << len) - 1) != 0;
                }
                (1..=len).any(|day| {
                    let day_ok = match days {
                        0 => day_field.matches(&View::of(midnight(year, month, day))),
                        mask => mask >> day & 1 == 1,
                    };
                    day_ok
                        && (week_wild || week >> iso_week(year, month, day) & 1 == 1)
                        && (dow_wild || day_of_week >> weekday(days_from_civil(year, month, day)) & 1 == 1)
                })
            });
        }
        table
    }
}

/// `_set_field_value`: earlier fields kept, this one set, later ones at their minimum.
fn set_field_value(view: &View, fieldnum: usize, new_value: i32) -> Civil {
    let mut values = [0i32; 8];
    for (i, kind) in FieldKind::ALL.into_iter().enumerate() {
        values[i] = match i.cmp(&fieldnum) {
            std::cmp::Ordering::Less => view.value(kind),
            std::cmp::Ordering::Greater => kind.min(),
            std::cmp::Ordering::Equal => new_value,
        };
    }
    civil_of(&values, 0)
}

/// The first (hour, minute, second) allowed by the masks at or after `floor` (or the
/// earliest, without one).
fn next_time(hour: u64, minute: u64, second: u64, floor: Option<(u32, u32, u32)>) -> Option<(u32, u32, u32)> {
    let first = |mask: u64| mask.trailing_zeros();
    let Some((fh, fm, fs)) = floor else {
        return Some((first(hour), first(minute), first(second)));
    };
    let h = next_bit(hour, fh)?;
    if h > fh {
        return Some((h, first(minute), first(second)));
    }
    if let Some(m) = next_bit(minute, fm) {
        if m > fm {
            return Some((h, m, first(second)));
        }
        if let Some(s) = next_bit(second, fs) {
            return Some((h, m, s));
        }
        if let Some(m) = next_bit(minute, fm + 1) {
            return Some((h, m, first(second)));
        }
    }
    let h = next_bit(hour, fh + 1)?;
    Some((h, first(minute), first(second)))
}

fn days_later(year: i32, month: u32, day: u32, days: u32) -> (i32, u32, u32) {
    civil_from_days(days_from_civil(year, month, day) + i64::from(days))
}

fn midnight(year: i32, month: u32, day: u32) -> Civil {
    Civil { year, month, day, hour: 0, minute: 0, second: 0, micro: 0 }
}

fn next_bit(mask: u64, from: u32) -> Option<u32> {
    let above = mask.checked_shr(from).unwrap_or(0);
    (above != 0).then(|| from + above.trailing_zeros())
}

fn civil_of(values: &[i32; 8], micro: u32) -> Civil {
    Civil { year: values[0], month: values[1] as u32, day: values[2] as u32, hour: values[5] as u32, minute: values[6] as u32, second: values[7] as u32, micro }
}

impl fmt::Display for CronTrigger {
    /// `str(trigger)`: `cron[hour='15', minute='30']`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cron[")?;
        let mut first = true;
        for field in self.fields.iter().filter(|f| !f.is_default) {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            write!(f, "{}='{}'", field.kind.name(), field)?;
        }
        f.write_str("]")
    }
}
