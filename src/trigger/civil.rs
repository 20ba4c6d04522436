//! Proleptic Gregorian calendar arithmetic on plain integers (Howard Hinnant's algorithms).
//! The trigger search runs millions of times, so it avoids building chrono values in loops.

pub const US_PER_SEC: i64 = 1_000_000;
pub const US_PER_DAY: i64 = 86_400 * US_PER_SEC;

/// Days since 1970-01-01 of a civil date.
pub fn days_from_civil(year: i32, month: u32, day: u32) -> i64 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Civil date of a day count since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i32, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
    (year, month, day)
}

pub fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

pub fn month_len(year: i32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Monday = 0, as Python's `date.weekday()`.
pub fn weekday(days: i64) -> u32 {
    (days + 3).rem_euclid(7) as u32
}

/// ISO 8601 week number, as `date.isocalendar()[1]`.
pub fn iso_week(year: i32, month: u32, day: u32) -> u32 {
    let days = days_from_civil(year, month, day);
    // The ISO week belongs to the year of its Thursday.
    let thursday = days - i64::from(weekday(days)) + 3;
    let (thursday_year, _, _) = civil_from_days(thursday);
    ((thursday - days_from_civil(thursday_year, 1, 1)) / 7 + 1) as u32
}

/// A wall-clock reading split into its fields (microsecond precision, like Python's datetime).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Civil {
    pub year: i32,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub micro: u32,
}

impl Civil {
    pub fn from_us(us: i64) -> Civil {
        let days = us.div_euclid(US_PER_DAY);
        let rem = us.rem_euclid(US_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        let secs = rem / US_PER_SEC;
        Civil { year, month, day, hour: (secs / 3600) as u32, minute: (secs / 60 % 60) as u32, second: (secs % 60) as u32, micro: (rem % US_PER_SEC) as u32 }
    }

    pub fn to_us(self) -> i64 {
        days_from_civil(self.year, self.month, self.day) * US_PER_DAY
            + (i64::from(self.hour) * 3600 + i64::from(self.minute) * 60 + i64::from(self.second)) * US_PER_SEC
            + i64::from(self.micro)
    }

    pub fn days(self) -> i64 {
        days_from_civil(self.year, self.month, self.day)
    }

    pub fn is_valid(self) -> bool {
        (1..=9999).contains(&self.year)
            && (1..=12).contains(&self.month)
            && self.day >= 1
            && self.day <= month_len(self.year, self.month)
            && self.hour < 24
            && self.minute < 60
            && self.second < 60
            && self.micro < 1_000_000
    }

    /// `YYYY-MM-DD HH:MM:SS[.ffffff]`, Python's `str(naive datetime)`.
    pub fn py_str(self) -> String {
        let mut s = String::with_capacity(32);
        self.write_seconds(&mut s);
        if self.micro != 0 {
            s.push('.');
            push_padded(&mut s, self.micro, 6);
        }
        s
    }

    /// Appends `YYYY-MM-DD HH:MM:SS` (the tick formats several per fire; `format!` is slow).
    pub fn write_seconds(self, out: &mut String) {
        push_padded(out, self.year.unsigned_abs(), 4);
        for (separator, value) in [('-', self.month), ('-', self.day), (' ', self.hour), (':', self.minute), (':', self.second)] {
            out.push(separator);
            push_padded(out, value, 2);
        }
    }
}

/// Appends `value` in decimal, zero-padded to `width` digits.
pub fn push_padded(out: &mut String, value: u32, width: usize) {
    let mut digits = [b'0'; 10];
    let mut rest = value;
    let mut start = digits.len();
    while rest > 0 || start == digits.len() {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    start = start.min(digits.len().saturating_sub(width));
    out.extend(digits[start..].iter().map(|&d| char::from(d)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trips_every_day_from_1600_to_2500() {
        let start = days_from_civil(1600, 1, 1);
        let end = days_from_civil(2500, 12, 31);
        let mut expected = (1600, 1, 1);
        for days in start..=end {
            assert_eq!(civil_from_days(days), expected);
            assert_eq!(days_from_civil(expected.0, expected.1, expected.2), days);
            expected = if expected.2 < month_len(expected.0, expected.1) {
                (expected.0, expected.1, expected.2 + 1)
            } else if expected.1 < 12 {
                (expected.0, expected.1 + 1, 1)
            } else {
                (expected.0 + 1, 1, 1)
            };
        }
    }

    #[test]
    fn iso_weeks_match_known_dates() {
        let cases = [((2020, 12, 31), 53), ((2021, 1, 3), 53), ((2021, 1, 4), 1), ((2024, 12, 30), 1), ((2026, 11, 28), 48), ((1970, 1, 1), 1)];
        for ((y, m, d), week) in cases {
            assert_eq!(iso_week(y, m, d), week, "{y}-{m}-{d}");
        }
    }

    #[test]
    fn weekday_counts_monday_as_zero() {
        assert_eq!(weekday(days_from_civil(2026, 11, 30)), 0);
        assert_eq!(weekday(days_from_civil(1970, 1, 1)), 3);
    }
}
