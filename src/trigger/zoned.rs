//! Python's aware-datetime model, reproduced exactly: a wall-clock reading plus `fold` in a
//! zone, with zoneinfo's rules for gaps and folds and Python's comparison rules. APScheduler's
//! answers depend on these details (a fire in a DST gap is the non-existent wall time itself),
//! so the triggers compute on this type, not on UTC instants.

use std::cmp::Ordering;
use std::fmt;

use super::civil::{push_padded, Civil, US_PER_SEC};
use super::offsets;
use super::tzdb::{self, Local, Tz};

/// A time zone as APScheduler builds it: `"UTC"` is `datetime.timezone.utc`, other names are
/// IANA zones, and `±HH:MM` suffixes on date strings give fixed offsets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Zone {
    Utc,
    Fixed(i32),
    Iana(Tz),
}

/// The offsets zoneinfo uses for a wall time: `before` with fold=0, `after` with fold=1.
/// They differ only in a gap or a fold.
#[derive(Clone, Copy, Debug)]
struct LocalOffsets {
    before: i32,
    after: i32,
}

impl Zone {
    pub fn parse(name: &str) -> Result<Zone, String> {
        if name == "UTC" {
            return Ok(Zone::Utc);
        }
        Tz::parse(name).map(Zone::Iana).ok_or_else(|| format!("unknown time zone {name:?} (expected an IANA name such as \"Asia/Shanghai\" or \"UTC\")"))
    }

    /// A fixed offset in seconds (`UTC` for zero), if less than a day, as Python's `timezone`.
    pub fn fixed(seconds: i32) -> Option<Zone> {
        match seconds {
            0 => Some(Zone::Utc),
            s if s.abs() < 86_400 => Some(Zone::Fixed(s)),
            _ => None,
        }
    }

    /// The inverse of [`Zone::name`]: an IANA name, `UTC`, or a fixed offset `±HH:MM[:SS]`.
    pub fn from_name(name: &str) -> Result<Zone, String> {
        let fixed = || -> Option<Zone> {
            let sign = match name.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let parts: Vec<&str> = name[1..].split(':').collect();
            if !(2..=3).contains(&parts.len()) || parts.iter().any(|p| p.len() != 2 || !p.bytes().all(|b| b.is_ascii_digit())) {
                return None;
            }
            let seconds = parts.iter().zip([3600, 60, 1]).map(|(p, unit)| p.parse::<i32>().unwrap_or(0) * unit).sum::<i32>();
            Zone::fixed(sign * seconds)
        };
        Zone::parse(name).or_else(|e| fixed().ok_or(e))
    }

    pub fn name(&self) -> String {
        match self {
            Zone::Utc => "UTC".to_string(),
            Zone::Fixed(offset) => format_offset(*offset, ":"),
            Zone::Iana(tz) => tz.name().to_string(),
        }
    }

    /// Offset in seconds at a UTC instant given in seconds.
    pub fn offset_at(&self, utc_secs: i64) -> i32 {
        match self {
            Zone::Utc => 0,
            Zone::Fixed(offset) => *offset,
            Zone::Iana(tz) => offsets::with_year_table(*tz, utc_secs, |t| t.offset_at(utc_secs)).unwrap_or_else(|| offsets::chrono_offset(*tz, utc_secs)),
        }
    }

    /// Offset at a UTC instant and whether its wall time is the second of two (fold=1).
    pub fn resolve_utc(&self, utc_secs: i64) -> (i32, bool) {
        match self {
            Zone::Utc => (0, false),
            Zone::Fixed(offset) => (*offset, false),
            Zone::Iana(tz) => offsets::span_at(*tz, utc_secs).map(|span| (span.offset, utc_secs < span.fold_until)).unwrap_or_else(|| {
                let offset = offsets::chrono_offset(*tz, utc_secs);
                let before = self.local_offsets(utc_secs + i64::from(offset)).before;
                (offset, before != offset)
            }),
        }
    }

    /// The stretch of UTC time around `utc_secs` with one constant offset.
    pub fn span_at(&self, utc_secs: i64) -> Option<offsets::Span> {
        match self {
            Zone::Utc => Some(offsets::Span { start: i64::MIN, end: i64::MAX, fold_until: i64::MIN, offset: 0 }),
            Zone::Fixed(offset) => Some(offsets::Span { start: i64::MIN, end: i64::MAX, fold_until: i64::MIN, offset: *offset }),
            Zone::Iana(tz) => offsets::span_at(*tz, utc_secs),
        }
    }

    fn local_offsets(&self, wall_secs: i64) -> LocalOffsets {
        let fixed = |offset| LocalOffsets { before: offset, after: offset };
        let tz = match self {
            Zone::Utc => return fixed(0),
            Zone::Fixed(offset) => return fixed(*offset),
            Zone::Iana(tz) => tz,
        };
        if let Some((before, after)) = offsets::with_year_table(*tz, wall_secs, |t| t.local_offsets(wall_secs)) {
            return LocalOffsets { before, after };
        }
        if !tzdb::in_chrono_range(wall_secs) {
            return fixed(0);
        }
        match tz.local(wall_secs) {
            Local::Single(o) => fixed(o.seconds),
            Local::Ambiguous(a, b) => {
                // fold=0 is the earlier instant, i.e. the larger offset.
                LocalOffsets { before: a.seconds.max(b.seconds), after: a.seconds.min(b.seconds) }
            }
            Local::None => {
                // In a gap: the offsets in force a day either side of it.
                LocalOffsets { before: self.offset_at(wall_secs - 86_400), after: self.offset_at(wall_secs + 86_400) }
            }
        }
    }

    /// `%Z` of a wall time: the abbreviation zoneinfo picks for it (by fold in gaps and folds).
    fn abbreviation(&self, wall_secs: i64, fold: bool) -> String {
        match self {
            Zone::Utc => "UTC".to_string(),
            Zone::Fixed(0) => "UTC".to_string(),
            Zone::Fixed(offset) => format!("UTC{}", format_offset(*offset, ":")),
            Zone::Iana(tz) => {
                let offsets = self.local_offsets(wall_secs);
                let offset = if fold { offsets.after } else { offsets.before };
                // The instant whose span carries that offset: for a gap, probe from the side
                // the offset belongs to.
                let probe = if offsets.before == offsets.after {
                    wall_secs - i64::from(offset)
                } else if offset == offsets.before {
                    wall_secs - i64::from(offsets.before.max(offsets.after)) - 1
                } else {
                    wall_secs - i64::from(offsets.before.min(offsets.after))
                };
                // chrono's `from_timestamp(..).unwrap_or_default()`: 1970 outside its range.
                let probe = if tzdb::in_chrono_range(probe) { probe } else { 0 };
                tz.offset_at(probe).abbreviation().map(str::to_string).unwrap_or_else(|| numeric_abbreviation(offset))
            }
        }
    }

    fn same_tzinfo(&self, other: &Zone) -> bool {
        matches!((self, other), (Zone::Iana(a), Zone::Iana(b)) if a == b)
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// tzdata's name for zones without a letter abbreviation: `+11`, `-03`, `+0530`.
fn numeric_abbreviation(offset: i32) -> String {
    let sign = if offset < 0 { '-' } else { '+' };
    let abs = offset.unsigned_abs();
    match abs / 60 % 60 {
        0 => format!("{sign}{:02}", abs / 3600),
        minutes => format!("{sign}{:02}{minutes:02}", abs / 3600),
    }
}

/// `+HH:MM` (and `:SS` when needed), Python's offset notation.
pub fn format_offset(offset: i32, separator: &str) -> String {
    let mut s = String::with_capacity(9);
    s.push(if offset < 0 { '-' } else { '+' });
    let abs = offset.unsigned_abs();
    push_padded(&mut s, abs / 3600, 2);
    s.push_str(separator);
    push_padded(&mut s, abs / 60 % 60, 2);
    if abs % 60 != 0 {
        s.push_str(separator);
        push_padded(&mut s, abs % 60, 2);
    }
    s
}

/// An aware datetime as Python has it: wall time (µs since 1970-01-01 on the local clock),
/// `fold`, zone. A wall time inside a DST gap is representable, as in Python. The UTC
/// instant is resolved once, at construction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Zdt {
    wall_us: i64,
    utc_us: i64,
    fold: bool,
    zone: Zone,
}

impl Zdt {
    /// `datetime.fromtimestamp(us / 1e6, zone)` for an exact microsecond instant.
    pub fn from_utc(utc_us: i64, zone: Zone) -> Zdt {
        let (offset, fold) = zone.resolve_utc(utc_us.div_euclid(US_PER_SEC));
        Zdt { wall_us: utc_us + i64::from(offset) * US_PER_SEC, utc_us, fold, zone }
    }

    /// A datetime whose offset the caller has already resolved.
    pub(crate) fn from_parts(wall_us: i64, utc_us: i64, fold: bool, zone: Zone) -> Zdt {
        Zdt { wall_us, utc_us, fold, zone }
    }

    /// A wall time taken as given, as `datetime(..., tzinfo=zone, fold=fold)`.
    pub fn from_wall_fold(wall_us: i64, fold: bool, zone: Zone) -> Zdt {
        let offsets = zone.local_offsets(wall_us.div_euclid(US_PER_SEC));
        let offset = if fold { offsets.after } else { offsets.before };
        Zdt { wall_us, utc_us: wall_us - i64::from(offset) * US_PER_SEC, fold, zone }
    }

    /// A wall time taken as given, fold=0, as `datetime(..., tzinfo=zone)`.
    pub fn from_wall(wall_us: i64, zone: Zone) -> Zdt {
        Zdt::from_wall_fold(wall_us, false, zone)
    }

    pub fn wall_us(&self) -> i64 {
        self.wall_us
    }

    pub fn fold(&self) -> bool {
        self.fold
    }

    pub fn zone(&self) -> Zone {
        self.zone
    }

    /// `normalize(dt.replace(tzinfo=zone))`: APScheduler's `localize` for naive strings.
    pub fn localize(wall_us: i64, zone: Zone) -> Zdt {
        Zdt::from_utc(Zdt::from_wall(wall_us, zone).utc_us(), zone)
    }

    pub fn utcoffset(&self) -> i32 {
        ((self.wall_us - self.utc_us) / US_PER_SEC) as i32
    }

    pub fn utc_us(&self) -> i64 {
        self.utc_us
    }

    pub fn civil(&self) -> Civil {
        Civil::from_us(self.wall_us)
    }

    /// Python's ordering of aware datetimes: wall times when both share one tzinfo object
    /// (fold ignored), UTC instants otherwise.
    pub fn py_cmp(&self, other: &Zdt) -> Ordering {
        if self.zone.same_tzinfo(&other.zone) {
            self.wall_us.cmp(&other.wall_us)
        } else {
            self.utc_us().cmp(&other.utc_us())
        }
    }

    /// Python's `==` for aware datetimes: wall times when both share one tzinfo object (fold
    /// ignored); otherwise never equal when either wall time is in a gap or a fold (PEP 495's
    /// inter-zone rule), else the same instant. APScheduler's `AndTrigger` and `CronTrigger`
    /// compare fire times from different zones this way.
    pub fn py_eq(&self, other: &Zdt) -> bool {
        if self.zone.same_tzinfo(&other.zone) {
            return self.wall_us == other.wall_us;
        }
        !self.depends_on_fold() && !other.depends_on_fold() && self.utc_us == other.utc_us
    }

    /// Whether `replace(fold=not fold)` would change the UTC offset (a gap or a fold).
    fn depends_on_fold(&self) -> bool {
        let offsets = self.zone.local_offsets(self.wall_us.div_euclid(US_PER_SEC));
        offsets.before != offsets.after
    }

    /// `dt.timestamp()` as the float Python computes.
    pub fn timestamp(&self) -> f64 {
        self.utc_us() as f64 / 1e6
    }

    /// `datetime.fromtimestamp(ts, zone)`, including CPython's half-even rounding to µs.
    pub fn from_timestamp(ts: f64, zone: Zone) -> Option<Zdt> {
        if !ts.is_finite() || ts.abs() > 253_402_300_800.0 {
            return None;
        }
        let mut int_part = ts.trunc();
        let mut frac = round_half_even((ts - int_part) * 1e6);
        if frac >= 1e6 {
            frac -= 1e6;
            int_part += 1.0;
        } else if frac < 0.0 {
            frac += 1e6;
            int_part -= 1.0;
        }
        Some(Zdt::from_utc(int_part as i64 * US_PER_SEC + frac as i64, zone))
    }

    /// `str(datetime)`: `YYYY-MM-DD HH:MM:SS[.ffffff]+HH:MM`, the `next_run_time` format.
    pub fn py_str(&self) -> String {
        let mut s = self.civil().py_str();
        s.push_str(&format_offset(self.utcoffset(), ":"));
        s
    }

    /// `strftime("%Y-%m-%d %H:%M:%S %Z")`, APScheduler's `datetime_repr`.
    pub fn repr(&self) -> String {
        let c = self.civil();
        // glibc's %Y does not pad years below 1000.
        format!(
            "{}-{:02}-{:02} {:02}:{:02}:{:02} {}",
            c.year,
            c.month,
            c.day,
            c.hour,
            c.minute,
            c.second,
            self.zone.abbreviation(self.wall_us.div_euclid(US_PER_SEC), self.fold)
        )
    }
}

fn round_half_even(x: f64) -> f64 {
    let rounded = x.round();
    if (x - rounded).abs() == 0.5 {
        2.0 * (x / 2.0).round()
    } else {
        rounded
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trigger::civil::Civil;

    fn wall(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
        Civil { year: y, month: mo, day: d, hour: h, minute: mi, second: 0, micro: 0 }.to_us()
    }

    #[test]
    fn gap_and_fold_offsets_follow_zoneinfo() {
        let ny = Zone::parse("America/New_York").unwrap();
        let cases = [
            // (wall, fold, expected str)
            (wall(2024, 3, 10, 2, 30), false, "2024-03-10 02:30:00-05:00"),
            (wall(2024, 3, 10, 2, 30), true, "2024-03-10 02:30:00-04:00"),
            (wall(2024, 11, 3, 1, 30), false, "2024-11-03 01:30:00-04:00"),
            (wall(2024, 11, 3, 1, 30), true, "2024-11-03 01:30:00-05:00"),
            (wall(2024, 7, 1, 12, 0), true, "2024-07-01 12:00:00-04:00"),
        ];
        for (w, fold, expected) in cases {
            assert_eq!(Zdt::from_wall_fold(w, fold, ny).py_str(), expected);
        }
    }

    #[test]
    fn from_utc_sets_fold_on_the_second_pass_through_a_fold() {
        let ny = Zone::parse("America/New_York").unwrap();
        let first = Zdt::from_utc(Zdt::from_wall(wall(2024, 11, 3, 1, 30), ny).utc_us(), ny);
        let second = Zdt::from_utc(first.utc_us() + 3600 * US_PER_SEC, ny);
        assert!(!first.fold);
        assert!(second.fold);
        assert_eq!(first.wall_us, second.wall_us);
        assert_eq!(first.py_cmp(&second), Ordering::Equal, "same tzinfo compares wall times");
        assert_eq!(first.repr(), "2024-11-03 01:30:00 EDT");
        assert_eq!(second.repr(), "2024-11-03 01:30:00 EST");
    }

    #[test]
    fn localize_moves_gap_times_forward_like_apscheduler() {
        let ny = Zone::parse("America/New_York").unwrap();
        let z = Zdt::localize(wall(2024, 3, 10, 2, 30), ny);
        assert_eq!(z.py_str(), "2024-03-10 03:30:00-04:00");
    }

    #[test]
    fn zone_names_read_back() {
        for zone in [Zone::Utc, Zone::Fixed(19_800), Zone::Fixed(-12_600), Zone::Fixed(3_601), Zone::parse("Asia/Shanghai").unwrap()] {
            assert_eq!(Zone::from_name(&zone.name()), Ok(zone));
        }
        assert!(Zone::from_name("+24:00").is_err());
        assert!(Zone::from_name("Mars/Olympus").is_err());
    }

    #[test]
    fn equality_follows_python_within_and_across_zones() {
        let ny = Zone::parse("America/New_York").unwrap();
        let tokyo = Zone::parse("Asia/Tokyo").unwrap();
        let first = Zdt::from_wall_fold(wall(2024, 11, 3, 1, 30), false, ny);
        let second = Zdt::from_wall_fold(wall(2024, 11, 3, 1, 30), true, ny);
        let noon = Zdt::from_wall(wall(2024, 7, 1, 12, 0), ny);
        let cases = [
            // (a, b, equal): same zone compares wall times, fold ignored
            (first, second, true),
            // across zones: the same instant, unless one side is ambiguous
            (noon, Zdt::from_utc(noon.utc_us(), tokyo), true),
            (first, Zdt::from_utc(first.utc_us(), tokyo), false),
            (noon, Zdt::from_utc(noon.utc_us() + 1, tokyo), false),
            (Zdt::from_utc(0, Zone::Utc), Zdt::from_utc(0, Zone::Fixed(3600)), true),
        ];
        for (a, b, equal) in cases {
            assert_eq!(a.py_eq(&b), equal, "{} == {}", a.py_str(), b.py_str());
            assert_eq!(b.py_eq(&a), equal, "{} == {}", b.py_str(), a.py_str());
        }
    }

    #[test]
    fn fixed_offsets_print_like_python_timezones() {
        let z = Zdt::from_utc(0, Zone::Fixed(5 * 3600 + 1800));
        assert_eq!(z.py_str(), "1970-01-01 05:30:00+05:30");
        assert_eq!(z.repr(), "1970-01-01 05:30:00 UTC+05:30");
        assert_eq!(Zdt::from_utc(0, Zone::Utc).repr(), "1970-01-01 00:00:00 UTC");
    }

    #[test]
    fn from_timestamp_rounds_half_even_like_cpython() {
        let utc = Zone::Utc;
        // Expected values printed by CPython 3.11's datetime.fromtimestamp.
        assert_eq!(Zdt::from_timestamp(1.0000005, utc).unwrap().utc_us(), 1_000_001);
        assert_eq!(Zdt::from_timestamp(-0.5e-6, utc).unwrap().utc_us(), 0);
        assert_eq!(Zdt::from_timestamp(2.5e-6, utc).unwrap().utc_us(), 2);
        assert_eq!(Zdt::from_timestamp(1.5e-6, utc).unwrap().utc_us(), 2);
        assert_eq!(Zdt::from_timestamp(1700000000.123456, utc).unwrap().utc_us(), 1_700_000_000_123_456);
    }
}
