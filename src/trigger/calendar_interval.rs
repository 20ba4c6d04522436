//! APScheduler 3.11's `CalendarIntervalTrigger`: dates step from `start_date` by years and
//! months (keeping the day of the month; a date that does not exist skips that step), then
//! by weeks and days, and each date fires at one wall-clock time. A wall time inside a DST
//! gap skips that date; one inside a fold fires at its first occurrence. Without a previous
//! fire it answers `start_date` at that time, even in the past: it ignores `now`.

use std::fmt;

use super::civil::{days_from_civil, is_leap, month_len, Civil, US_PER_SEC};
use super::zoned::{format_offset, Zdt, Zone};
use super::TriggerError;

/// A calendar date (Python's `date`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

impl Date {
    fn new(year: i64, month: u32, day: u32) -> Option<Date> {
        let year = i32::try_from(year).ok().filter(|y| (1..=9999).contains(y))?;
        (day >= 1 && day <= month_len(year, month)).then_some(Date { year, month, day })
    }

    /// `date + timedelta(days)`; `None` past year 9999 (Python raises `OverflowError`).
    fn plus_days(self, days: i64) -> Option<Date> {
        let (year, month, day) = super::civil::civil_from_days(days_from_civil(self.year, self.month, self.day) + days);
        Date::new(i64::from(year), month, day)
    }

    pub(super) fn of_wall(t: &Zdt) -> Date {
        let c = t.civil();
        Date { year: c.year, month: c.month, day: c.day }
    }
}

impl fmt::Display for Date {
    /// `str(date)`: `YYYY-MM-DD`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// Python 3.11's `date.fromisoformat`: `YYYY-MM-DD`, `YYYYMMDD`, `YYYY-Www[-D]` and
/// `YYYYWww[D]`, ASCII digits only. Python also accepts trailing characters after a complete
/// 10-character `YYYYMMDD` or `YYYYWwwD` (`20260131xx`); those are refused here.
pub fn parse_date(field: &str, text: &str) -> Result<Date, TriggerError> {
    let invalid = || TriggerError::new(field, format!("Invalid isoformat string: {text:?} (expected \"YYYY-MM-DD\")"));
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = b.get(range)?;
        part.iter().all(u8::is_ascii_digit).then(|| part.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
    };
    let year = digits(0..4).ok_or_else(invalid)?;
    let separated = b.get(4) == Some(&b'-');
    let rest = if separated { 5 } else { 4 };
    let (year, month, day) = if b.get(rest) == Some(&b'W') {
        let week = digits(rest + 1..rest + 3).ok_or_else(invalid)?;
        let after_week = rest + 3;
        let weekday = match b.len() - after_week.min(b.len()) {
            0 => 1,
            n => {
                let day_at = if separated {
                    if b.get(after_week) != Some(&b'-') || n != 2 {
                        return Err(invalid());
                    }
                    after_week + 1
                } else if n == 1 {
                    after_week
                } else {
                    return Err(invalid());
                };
                digits(day_at..day_at + 1).ok_or_else(invalid)?
            }
        };
        iso_week_date(year as i32, week, weekday).ok_or_else(invalid)?
    } else {
        let month = digits(rest..rest + 2).ok_or_else(invalid)?;
        let day_at = if separated {
            if b.get(rest + 2) != Some(&b'-') {
                return Err(invalid());
            }
            rest + 3
        } else {
            rest + 2
        };
        let day = digits(day_at..day_at + 2).ok_or_else(invalid)?;
        if b.len() != day_at + 2 {
            return Err(invalid());
        }
        (i64::from(year), month, day)
    };
    if !(1..=9999).contains(&year) {
        return Err(TriggerError::new(field, format!("year {year} is out of range")));
    }
    if !(1..=12).contains(&month) {
        return Err(TriggerError::new(field, "month must be in 1..12".to_string()));
    }
    Date::new(year, month, day).ok_or_else(|| TriggerError::new(field, "day is out of range for month".to_string()))
}

/// CPython's `iso_to_ymd`: week 53 only in years that have one; the result may fall outside
/// 1..=9999 (checked by the caller, as Python does).
fn iso_week_date(year: i32, week: u32, weekday: u32) -> Option<(i64, u32, u32)> {
    let jan1 = days_from_civil(year, 1, 1);
    let jan1_weekday = super::civil::weekday(jan1);
    if week == 0 || week > 53 || (week == 53 && !(jan1_weekday == 3 || (jan1_weekday == 2 && is_leap(year)))) {
        return None;
    }
    if !(1..=7).contains(&weekday) {
        return None;
    }
    // Monday of week 1: the week holding January 4th.
    let week1_monday = jan1 - i64::from(jan1_weekday) + if jan1_weekday > 3 { 7 } else { 0 };
    let (y, m, d) = super::civil::civil_from_days(week1_monday + i64::from((week - 1) * 7 + weekday - 1));
    Some((i64::from(y), m, d))
}

/// Longest accepted step: 100 years (1,200 months), and 36,600 days of weeks and days.
pub const MAX_CALENDAR_MONTHS: i64 = 1_200;
pub const MAX_CALENDAR_DAYS: i64 = 36_600;

#[derive(Clone, Copy, Debug)]
pub struct CalendarIntervalTrigger {
    pub(super) years: i64,
    pub(super) months: i64,
    pub(super) weeks: i64,
    pub(super) days: i64,
    pub(super) hour: u32,
    pub(super) minute: u32,
    pub(super) second: u32,
    pub(super) start_date: Date,
    pub(super) end_date: Option<Date>,
    pub(super) zone: Zone,
}

impl CalendarIntervalTrigger {
    /// APScheduler's checks, in its order; `units` are years, months, weeks and days.
    pub fn new(units: [i64; 4], time: [i64; 3], start_date: Date, end_date: Option<Date>, zone: Zone) -> Result<CalendarIntervalTrigger, TriggerError> {
        let [years, months, weeks, days] = units;
        for (name, value, max) in [("hour", time[0], 23), ("minute", time[1], 59), ("second", time[2], 59)] {
            if !(0..=max).contains(&value) {
                return Err(TriggerError::new(name, format!("{name} must be in 0..{max}")));
            }
        }
        if units.iter().all(|&u| u == 0) {
            return Err(TriggerError::new("days", "interval must be at least 1 day long".to_string()));
        }
        if end_date.is_some_and(|end| start_date > end) {
            return Err(TriggerError::new("end_date", "end_date cannot be earlier than start_date".to_string()));
        }
        Ok(CalendarIntervalTrigger {
            years,
            months,
            weeks,
            days,
            hour: time[0] as u32,
            minute: time[1] as u32,
            second: time[2] as u32,
            start_date,
            end_date,
            zone,
        })
    }

    /// `get_next_fire_time(previous, now)` without jitter; `now` is not used (as there).
    /// Stops at year 9999, where APScheduler would loop forever or raise.
    pub fn next_fire_time(&self, previous: Option<&Zdt>) -> Option<Zdt> {
        let mut previous_date = previous.map(Date::of_wall);
        loop {
            let next_date = match previous_date {
                None => self.start_date,
                Some(prev) => self.step(prev)?,
            };
            if self.end_date.is_some_and(|end| next_date > end) {
                return None;
            }
            // `datetime.combine(date, time).timestamp()` (fold=0), then back to the zone.
            let wall =
                Civil { year: next_date.year, month: next_date.month, day: next_date.day, hour: self.hour, minute: self.minute, second: self.second, micro: 0 };
            let fire = Zdt::from_utc(Zdt::from_wall(wall.to_us(), self.zone).utc_us(), self.zone);
            let c = fire.civil();
            if (c.hour, c.minute, c.second, c.micro) == (self.hour, self.minute, self.second, 0) {
                return Some(fire);
            }
            // A wall time in a gap came out shifted: step again from the date it landed on.
            previous_date = Some(Date::of_wall(&fire));
        }
    }

    /// The next date after `prev`: years and months first (skipping dates that do not
    /// exist), then weeks and days.
    fn step(&self, prev: Date) -> Option<Date> {
        let (mut year, mut month) = (i64::from(prev.year), i64::from(prev.month));
        loop {
            month += self.months;
            year += self.years + (month - 1).div_euclid(12);
            month = (month - 1).rem_euclid(12) + 1;
            if year > 9999 {
                return None;
            }
            if let Some(date) = Date::new(year, month as u32, prev.day) {
                return date.plus_days(self.days + self.weeks * 7);
            }
        }
    }

    /// Whether `time.isoformat()` shows an offset: only for zones with a single, fixed
    /// offset (zoneinfo answers `utcoffset(None)` for those alone).
    fn fixed_offset(&self) -> Option<i32> {
        match self.zone {
            Zone::Utc => Some(0),
            Zone::Fixed(offset) => Some(offset),
            Zone::Iana(tz) => {
                let name = tz.name();
                let fixed = name.starts_with("Etc/")
                    || matches!(name, "GMT" | "GMT+0" | "GMT-0" | "GMT0" | "Greenwich" | "UCT" | "UTC" | "Universal" | "Zulu" | "Factory");
                fixed.then(|| self.zone.offset_at(0))
            }
        }
    }
}

impl fmt::Display for CalendarIntervalTrigger {
    /// `str(trigger)`, which is its `repr` (the class defines no `__str__`):
    /// `CalendarIntervalTrigger(months=1, time='09:00:00', start_date='2026-01-31', timezone='Asia/Shanghai')`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CalendarIntervalTrigger(")?;
        for (name, value) in [("years", self.years), ("months", self.months), ("weeks", self.weeks), ("days", self.days)] {
            if value > 0 {
                write!(f, "{name}={value}, ")?;
            }
        }
        write!(f, "time='{:02}:{:02}:{:02}", self.hour, self.minute, self.second)?;
        if let Some(offset) = self.fixed_offset() {
            f.write_str(&format_offset(offset, ":"))?;
        }
        write!(f, "', start_date='{}'", self.start_date)?;
        if let Some(end) = self.end_date {
            write!(f, ", end_date='{end}'")?;
        }
        match self.zone {
            Zone::Utc => f.write_str(", timezone='datetime.timezone.utc')"),
            zone => write!(f, ", timezone='{}')", zone.name()),
        }
    }
}

/// `timedelta(seconds=s)` in microseconds, rounded as CPython does (whole seconds exactly,
/// then the fraction, half to even on what is left).
pub(super) fn py_timedelta_us(seconds: f64) -> i64 {
    let whole = seconds.trunc();
    let scaled = (seconds - whole) * 1e6;
    let micros = scaled.trunc();
    let left = scaled - micros;
    let so_far = whole as i64 * US_PER_SEC + micros as i64;
    let mut rounded = left.round();
    if (rounded - left).abs() == 0.5 {
        let odd = so_far.rem_euclid(2) as f64;
        rounded = 2.0 * ((left + odd) * 0.5).round() - odd;
    }
    so_far + rounded as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(name: &str) -> Zone {
        Zone::parse(name).expect("zone")
    }

    fn trigger(units: [i64; 4], time: [i64; 3], start: &str, zone_name: &str) -> CalendarIntervalTrigger {
        CalendarIntervalTrigger::new(units, time, parse_date("start_date", start).expect("date"), None, zone(zone_name)).expect("valid")
    }

    fn fires(t: &CalendarIntervalTrigger, count: usize) -> Vec<String> {
        let mut out = Vec::new();
        let mut previous = None;
        while out.len() < count {
            let Some(fire) = t.next_fire_time(previous.as_ref()) else { break };
            out.push(fire.py_str());
            previous = Some(fire);
        }
        out
    }

    #[test]
    fn dates_parse_as_python_311_fromisoformat_reads_them() {
        let cases = [
            ("2026-01-31", Some("2026-01-31")),
            ("20260131", Some("2026-01-31")),
            ("2026-W05", Some("2026-01-26")),
            ("2026W053", Some("2026-01-28")),
            ("2026-W05-3", Some("2026-01-28")),
            ("2026-W53-1", Some("2026-12-28")),
            ("2020-W53-7", Some("2021-01-03")),
            ("0001-01-01", Some("0001-01-01")),
            ("2025-W53-1", None),
            ("2026-W00-1", None),
            ("2026-W05-8", None),
            ("2026-1-31", None),
            ("2026-02-29", None),
            ("0000-01-01", None),
            ("9999-W52-7", None),
            ("2026-01-31 ", None),
            ("2026-01-31T00", None),
            ("20260131xx", None),
            ("2026W053xx", None),
            ("2026W05-3", None),
        ];
        for (text, expected) in cases {
            let parsed = parse_date("start_date", text).map(|d| d.to_string()).ok();
            assert_eq!(parsed.as_deref(), expected, "{text:?}");
        }
    }

    #[test]
    fn a_missing_month_day_skips_the_month_and_keeps_the_day() {
        let t = trigger([0, 1, 0, 0], [9, 0, 0], "2026-01-31", "Asia/Shanghai");
        assert_eq!(fires(&t, 4), ["2026-01-31 09:00:00+08:00", "2026-03-31 09:00:00+08:00", "2026-05-31 09:00:00+08:00", "2026-07-31 09:00:00+08:00"]);
    }

    #[test]
    fn a_wall_time_in_a_gap_moves_to_the_next_step_and_a_fold_fires_once() {
        // New York springs forward on 2026-03-08 at 02:00 and falls back on 2026-11-01.
        let gap = trigger([0, 0, 0, 1], [2, 30, 0], "2026-03-07", "America/New_York");
        assert_eq!(fires(&gap, 3), ["2026-03-07 02:30:00-05:00", "2026-03-09 02:30:00-04:00", "2026-03-10 02:30:00-04:00"]);
        let fold = trigger([0, 0, 0, 1], [1, 30, 0], "2026-10-31", "America/New_York");
        assert_eq!(fires(&fold, 3), ["2026-10-31 01:30:00-04:00", "2026-11-01 01:30:00-04:00", "2026-11-02 01:30:00-05:00"]);
    }

    #[test]
    fn str_is_the_repr_with_its_offset_only_for_fixed_zones() {
        let cases = [
            (trigger([0, 1, 0, 0], [9, 0, 0], "2026-01-31", "Asia/Shanghai"), "CalendarIntervalTrigger(months=1, time='09:00:00', start_date='2026-01-31', timezone='Asia/Shanghai')"),
            (trigger([2, 13, 1, 3], [23, 5, 7], "2026-01-31", "UTC"), "CalendarIntervalTrigger(years=2, months=13, weeks=1, days=3, time='23:05:07+00:00', start_date='2026-01-31', timezone='datetime.timezone.utc')"),
            (trigger([0, 0, 0, 1], [0, 0, 0], "2026-12-06", "Etc/GMT+5"), "CalendarIntervalTrigger(days=1, time='00:00:00-05:00', start_date='2026-12-06', timezone='Etc/GMT+5')"),
        ];
        for (t, expected) in cases {
            assert_eq!(t.to_string(), expected);
        }
    }

    #[test]
    fn refusals_name_the_field_with_apschedulers_words() {
        let date = |s| parse_date("start_date", s).expect("date");
        let utc = Zone::Utc;
        let cases = [
            (CalendarIntervalTrigger::new([0, 0, 0, 0], [0, 0, 0], date("2026-01-01"), None, utc), "days", "interval must be at least 1 day long"),
            (CalendarIntervalTrigger::new([0, 0, 0, 1], [24, 0, 0], date("2026-01-01"), None, utc), "hour", "hour must be in 0..23"),
            (CalendarIntervalTrigger::new([0, 0, 0, 1], [0, 60, 0], date("2026-01-01"), None, utc), "minute", "minute must be in 0..59"),
            (
                CalendarIntervalTrigger::new([0, 0, 0, 1], [0, 0, 0], date("2026-01-02"), Some(date("2026-01-01")), utc),
                "end_date",
                "end_date cannot be earlier than start_date",
            ),
        ];
        for (result, field, message) in cases {
            let err = result.expect_err(message);
            assert_eq!((err.field.as_str(), err.message.as_str()), (field, message));
        }
    }

    #[test]
    fn timedelta_seconds_round_like_cpython() {
        // Expected values printed by CPython 3.11.
        let cases = [
            (0.0, 0),
            (1.5, 1_500_000),
            (2.0000005, 2_000_001),
            (2.0000015, 2_000_002),
            (0.1, 100_000),
            (86_399.999_999_5, 86_399_999_999),
            (5e-7, 0),
            (2.5e-6, 2),
            (3.0000005, 3_000_001),
        ];
        for (seconds, micros) in cases {
            assert_eq!(py_timedelta_us(seconds), micros, "{seconds}");
        }
    }
}
