//! A per-zone, per-year table of UTC offset changes, built once from the zone's changes
//! ([`tzdb`](super::tzdb)) and cached per thread, so offset lookups in the trigger search are a
//! few array reads instead of a binary search plus local-time resolution each time.
//!
//! A year's table covers UTC instants from two days before New Year to two days after the
//! next one: the changes of the total offset in that stretch (a change of the abbreviation
//! alone is not one). The tables equal those found by probing the offset every 3 days and
//! bisecting each change to the second, as they were built before (tested below for every
//! zone and year): no zone changes its offset twice within 3 days (the closest pair in tzdb is
//! about 7 days apart, Asia/Gaza; build.rs checks it). The build is per fresh instance, i.e.
//! per request under Spin, and is a walk over the year's changes (it was ~160 lookups). Tables
//! exist for 1900 to 2200, and chrono-tz tabulates changes through 2099.

use std::cell::RefCell;

use super::civil::{civil_from_days, days_from_civil};
use super::tzdb::{self, Tz};

const FIRST_YEAR: i32 = 1900;
const LAST_YEAR: i32 = 2200;
const MARGIN_SECS: i64 = 2 * 86_400;

/// An offset change at `at` (UTC seconds): `before` applies until `at`, `after` from it.
#[derive(Clone, Copy, Debug)]
pub struct Transition {
    pub at: i64,
    pub before: i32,
    pub after: i32,
}

#[derive(Debug)]
pub struct YearTable {
    pub cover_start: i64,
    pub cover_end: i64,
    pub first_offset: i32,
    pub transitions: Vec<Transition>,
}

/// The stretch of UTC time around an instant during which the offset does not change.
#[derive(Clone, Copy, Debug)]
pub struct Span {
    pub start: i64,
    pub end: i64,
    /// Instants before this repeat the wall times of the previous span (Python's fold=1).
    pub fold_until: i64,
    pub offset: i32,
}

/// The offset at a UTC instant, as chrono-tz answered it (0 outside chrono's range).
pub(super) fn chrono_offset(tz: Tz, utc_secs: i64) -> i32 {
    if tzdb::in_chrono_range(utc_secs) {
        tz.offset_at(utc_secs).seconds
    } else {
        0
    }
}

impl YearTable {
    fn build(tz: Tz, year: i32) -> YearTable {
        let cover_start = days_from_civil(year, 1, 1) * 86_400 - MARGIN_SECS;
        let cover_end = days_from_civil(year + 1, 1, 1) * 86_400 + MARGIN_SECS;
        let (first, changes) = tz.changes_after(cover_start);
        let first_offset = first.seconds;
        let mut transitions = Vec::new();
        let mut offset = first_offset;
        for (at, after) in changes.iter().take_while(|(at, _)| *at <= cover_end) {
            if after.seconds != offset {
                transitions.push(Transition { at: *at, before: offset, after: after.seconds });
                offset = after.seconds;
            }
        }
        YearTable { cover_start, cover_end, first_offset, transitions }
    }

    /// The table as it was built before: probing the offset every `probe_secs` and bisecting
    /// each change to the second.
    #[cfg(test)]
    fn probed(tz: Tz, year: i32, probe_secs: i64) -> YearTable {
        let cover_start = days_from_civil(year, 1, 1) * 86_400 - MARGIN_SECS;
        let cover_end = days_from_civil(year + 1, 1, 1) * 86_400 + MARGIN_SECS;
        let first_offset = chrono_offset(tz, cover_start);
        let mut transitions = Vec::new();
        let (mut t, mut offset) = (cover_start, first_offset);
        while t < cover_end {
            let next = (t + probe_secs).min(cover_end);
            let next_offset = chrono_offset(tz, next);
            if next_offset != offset {
                // The first second in (t, next] with the new offset.
                let (mut lo, mut hi) = (t, next);
                while hi - lo > 1 {
                    let mid = lo + (hi - lo) / 2;
                    if chrono_offset(tz, mid) == offset {
                        lo = mid;
                    } else {
                        hi = mid;
                    }
                }
                transitions.push(Transition { at: hi, before: offset, after: next_offset });
            }
            t = next;
            offset = next_offset;
        }
        YearTable { cover_start, cover_end, first_offset, transitions }
    }

    pub fn offset_at(&self, utc_secs: i64) -> i32 {
        self.transitions.iter().take_while(|t| t.at <= utc_secs).last().map_or(self.first_offset, |t| t.after)
    }

    pub fn span_at(&self, utc_secs: i64) -> Span {
        let mut span = Span { start: self.cover_start, end: self.cover_end, fold_until: self.cover_start, offset: self.first_offset };
        for t in &self.transitions {
            if t.at <= utc_secs {
                let fold_until = t.at + i64::from((t.before - t.after).max(0));
                span = Span { start: t.at, end: self.cover_end, fold_until, offset: t.after };
            } else {
                span.end = t.at;
                break;
            }
        }
        span
    }

    /// zoneinfo's (fold=0, fold=1) offsets for a wall time, in seconds since 1970 (local).
    pub fn local_offsets(&self, wall_secs: i64) -> (i32, i32) {
        for t in &self.transitions {
            let (low, high) = (t.before.min(t.after), t.before.max(t.after));
            if wall_secs >= t.at + i64::from(low) && wall_secs < t.at + i64::from(high) {
                return (t.before, t.after);
            }
        }
        let offset = self.offset_at(wall_secs - i64::from(self.offset_at(wall_secs - i64::from(self.first_offset))));
        (offset, offset)
    }
}

/// Per zone (indexed by `Tz::index`), per year since FIRST_YEAR.
type ZoneTables = Vec<Option<Box<[Option<Box<YearTable>>]>>>;

thread_local! {
    /// The last span looked up per zone slot: most lookups land in the same stretch.
    static RECENT_SPANS: RefCell<[Option<(Tz, Span)>; 16]> = const { RefCell::new([None; 16]) };
    static TABLES: RefCell<ZoneTables> = const { RefCell::new(Vec::new()) };
}

/// The span of constant offset containing `utc_secs`.
pub fn span_at(tz: Tz, utc_secs: i64) -> Option<Span> {
    let slot = tz.index() % 16;
    let recent = RECENT_SPANS.with(|spans| spans.borrow()[slot]);
    if let Some((zone, span)) = recent {
        if zone == tz && span.start <= utc_secs && utc_secs < span.end {
            return Some(span);
        }
    }
    let span = with_year_table(tz, utc_secs, |t| t.span_at(utc_secs))?;
    RECENT_SPANS.with(|spans| spans.borrow_mut()[slot] = Some((tz, span)));
    Some(span)
}

/// Runs `f` on the table of `tz` for the year containing `secs` (a UTC instant, or a wall
/// time: the two-day margins cover any offset). `None` outside 1900..=2200.
pub fn with_year_table<R>(tz: Tz, secs: i64, f: impl FnOnce(&YearTable) -> R) -> Option<R> {
    let (year, _, _) = civil_from_days(secs.div_euclid(86_400));
    if !(FIRST_YEAR..=LAST_YEAR).contains(&year) {
        return None;
    }
    TABLES.with(|tables| {
        let mut tables = tables.borrow_mut();
        let zone_index = tz.index();
        if tables.len() <= zone_index {
            tables.resize_with(zone_index + 1, || None);
        }
        let years = tables[zone_index].get_or_insert_with(|| (FIRST_YEAR..=LAST_YEAR).map(|_| None).collect());
        let table = years[(year - FIRST_YEAR) as usize].get_or_insert_with(|| Box::new(YearTable::build(tz, year)));
        Some(f(table))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_agree_with_chrono_tz_every_hour_of_a_dst_year() {
        use chrono::{DateTime, Offset as _, TimeZone as _};
        for name in ["America/New_York", "Australia/Lord_Howe", "Europe/Dublin", "Africa/Casablanca", "Asia/Shanghai"] {
            let tz = Tz::parse(name).unwrap();
            let theirs: chrono_tz::Tz = name.parse().unwrap();
            let start = days_from_civil(2024, 1, 1) * 86_400;
            for hour in 0..(366 * 24) {
                let t = start + hour * 3600 + 1234;
                let expected = theirs.offset_from_utc_datetime(&DateTime::from_timestamp(t, 0).unwrap().naive_utc()).fix().local_minus_utc();
                assert_eq!(with_year_table(tz, t, |table| table.offset_at(t)), Some(expected), "{name} at {t}");
            }
        }
    }

    fn changes(table: YearTable) -> Vec<(i64, i32, i32)> {
        table.transitions.iter().map(|t| (t.at, t.before, t.after)).collect()
    }

    #[test]
    fn tables_from_the_changes_equal_the_3_day_probes_of_before_for_every_zone_and_year() {
        // One name per zone data (links share it); the probes are what the tables were.
        let mut seen = std::collections::HashSet::new();
        for tz in Tz::all() {
            if !seen.insert(tz.data_index()) {
                continue;
            }
            for year in FIRST_YEAR..=LAST_YEAR {
                assert_eq!(changes(YearTable::build(tz, year)), changes(YearTable::probed(tz, year, 3 * 86_400)), "{} {year}", tz.name());
            }
        }
    }

    #[test]
    fn tables_equal_6_hour_probes_in_the_zones_with_the_closest_changes() {
        // The zones with the closest pairs of changes in tzdb (about 7 to 25 days apart).
        for name in ["Asia/Gaza", "Asia/Hebron", "Brazil/DeNoronha", "America/Argentina/Tucuman", "Europe/Tirane", "Africa/Casablanca"] {
            let tz = Tz::parse(name).unwrap();
            for year in FIRST_YEAR..=LAST_YEAR {
                assert_eq!(changes(YearTable::build(tz, year)), changes(YearTable::probed(tz, year, 6 * 3600)), "{name} {year}");
            }
        }
    }

    #[test]
    fn new_york_2024_has_two_transitions() {
        let tz = Tz::parse("America/New_York").unwrap();
        let at =
            with_year_table(tz, days_from_civil(2024, 6, 1) * 86_400, |table| table.transitions.iter().map(|t| (t.at, t.before, t.after)).collect::<Vec<_>>())
                .unwrap();
        assert_eq!(at, vec![(1_710_054_000, -18_000, -14_400), (1_730_613_600, -14_400, -18_000)]);
    }
}
