//! The IANA time zones, with chrono-tz's data and answers, in a compact table.
//!
//! chrono-tz's own tables took ~785 KB of each .wasm component (24 bytes per offset change);
//! `build.rs` writes the same changes in ~150 KB, and this module answers the two questions
//! the triggers ask chrono-tz, exactly as chrono-tz 0.10 does: the offset (and abbreviation)
//! at a UTC instant, and the offsets of a wall time (`offset_from_local_datetime`, ported
//! with its search and its gap and fold rules). A zone is decoded on first use, once per
//! process (per instance under Spin): a few hundred bytes.
//!
//! The encoded zone (`DATA[DATA_STARTS[d]..DATA_STARTS[d + 1]]`), all integers LEB128, signed
//! ones zigzagged:
//! - the number of kinds, then per kind its UTC offset in seconds (signed) and its
//!   abbreviation (0: none, else `ABBREVIATIONS[i - 1]`);
//! - the kind in force before the first change;
//! - the number of changes, then per change the time since the previous one (since 1970 for
//!   the first; signed, shifted left one bit, with the low bit set when in seconds and clear
//!   when in minutes) and the kind in force from that instant.

use std::cmp::Ordering;
use std::sync::OnceLock;

include!(concat!(env!("OUT_DIR"), "/tzdb.rs"));

/// An IANA zone name chrono-tz knows (aliases included), by its index in the sorted names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tz(u16);

/// A zone's offset from UTC over a stretch of time, and its abbreviation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Offset {
    pub seconds: i32,
    abbreviation: u16,
}

impl Offset {
    /// tzdata's abbreviation (`EST`, `CEST`), or `None` where chrono-tz has none.
    pub fn abbreviation(self) -> Option<&'static str> {
        self.abbreviation.checked_sub(1).map(|i| ABBREVIATIONS[usize::from(i)])
    }
}

/// chrono's `LocalResult` for a wall time: one offset, two (a fold), or none (a gap).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Local {
    None,
    Single(Offset),
    Ambiguous(Offset, Offset),
}

/// Whether chrono's `DateTime::from_timestamp(secs, 0)` has an answer.
pub fn in_chrono_range(secs: i64) -> bool {
    (MIN_SECS..=MAX_SECS).contains(&secs)
}

/// One zone: the offset before its first change, then each change and the offset from it on.
struct Changes {
    first: Offset,
    changes: Box<[(i64, Offset)]>,
}

static DECODED: [OnceLock<Changes>; DATA_COUNT] = [const { OnceLock::new() }; DATA_COUNT];

impl Tz {
    /// The zone of an exact IANA name (case matters), as chrono-tz's `FromStr`.
    pub fn parse(name: &str) -> Option<Tz> {
        NAMES.binary_search(&name).ok().map(|i| Tz(i as u16))
    }

    pub fn name(self) -> &'static str {
        NAMES[usize::from(self.0)]
    }

    /// A dense index, below [`Tz::COUNT`].
    pub fn index(self) -> usize {
        usize::from(self.0)
    }

    pub const COUNT: usize = NAMES.len();

    fn data(self) -> &'static Changes {
        let d = usize::from(DATA_OF[usize::from(self.0)]);
        DECODED[d].get_or_init(|| decode(&DATA[DATA_STARTS[d] as usize..DATA_STARTS[d + 1] as usize]))
    }

    /// The offset at a UTC instant (seconds), as chrono-tz's `offset_from_utc_datetime`.
    pub fn offset_at(self, utc_secs: i64) -> Offset {
        let data = self.data();
        match data.changes.partition_point(|(at, _)| *at <= utc_secs) {
            0 => data.first,
            i => data.changes[i - 1].1,
        }
    }

    /// The offset in force at `after` and the changes after it, in order.
    pub fn changes_after(self, after: i64) -> (Offset, &'static [(i64, Offset)]) {
        let data = self.data();
        match data.changes.partition_point(|(at, _)| *at <= after) {
            0 => (data.first, &data.changes[..]),
            i => (data.changes[i - 1].1, &data.changes[i..]),
        }
    }

    /// The offsets of a wall time (seconds since 1970 on the local clock), as chrono-tz's
    /// `offset_from_local_datetime`: its binary search over the local spans, then the same
    /// checks of the neighbouring spans.
    pub fn local(self, wall_secs: i64) -> Local {
        let data = self.data();
        let len = data.changes.len() + 1;
        let index = binary_search(0, len, |i| data.local_span(i).cmp(wall_secs));
        match index {
            Ok(0) if len == 1 => Local::Single(data.get(0)),
            Ok(0) if data.local_span(1).contains(wall_secs) => Local::Ambiguous(data.get(0), data.get(1)),
            Ok(0) => Local::Single(data.get(0)),
            Ok(i) if data.local_span(i - 1).contains(wall_secs) => Local::Ambiguous(data.get(i - 1), data.get(i)),
            Ok(i) if i == len - 1 => Local::Single(data.get(i)),
            Ok(i) if data.local_span(i + 1).contains(wall_secs) => Local::Ambiguous(data.get(i), data.get(i + 1)),
            Ok(i) => Local::Single(data.get(i)),
            Err(_) => Local::None,
        }
    }
}

#[cfg(test)]
impl Tz {
    /// Every zone, in name order.
    pub(super) fn all() -> impl Iterator<Item = Tz> {
        (0..NAMES.len()).map(|i| Tz(i as u16))
    }

    /// Which zone data the name uses (links share one).
    pub(super) fn data_index(self) -> usize {
        usize::from(DATA_OF[self.index()])
    }
}

impl Changes {
    fn get(&self, index: usize) -> Offset {
        match index {
            0 => self.first,
            i => self.changes[i - 1].1,
        }
    }

    /// The wall times of span `index` (0: before the first change), as chrono-tz computes them.
    fn local_span(&self, index: usize) -> Span {
        let rest = &self.changes;
        Span {
            begin: (index > 0).then(|| rest[index - 1].0 + i64::from(rest[index - 1].1.seconds)),
            end: match index {
                i if i == rest.len() => None,
                0 => Some(rest[0].0 + i64::from(self.first.seconds)),
                i => Some(rest[i].0 + i64::from(rest[i - 1].1.seconds)),
            },
        }
    }
}

/// chrono-tz's half-open span, with its comparison against an instant.
struct Span {
    begin: Option<i64>,
    end: Option<i64>,
}

impl Span {
    fn contains(&self, x: i64) -> bool {
        match (self.begin, self.end) {
            (Some(a), Some(b)) => a <= x && x < b,
            (Some(a), None) => a <= x,
            (None, Some(b)) => b > x,
            (None, None) => true,
        }
    }

    fn cmp(&self, x: i64) -> Ordering {
        match (self.begin, self.end) {
            (Some(a), Some(b)) if a <= x && x < b => Ordering::Equal,
            (Some(a), Some(b)) if a <= x && b <= x => Ordering::Less,
            (Some(_), Some(_)) => Ordering::Greater,
            (Some(a), None) if a <= x => Ordering::Equal,
            (Some(_), None) => Ordering::Greater,
            (None, Some(b)) if b <= x => Ordering::Less,
            (None, Some(_)) => Ordering::Equal,
            (None, None) => Ordering::Equal,
        }
    }
}

/// chrono-tz's binary search over indices (`binary_search_by`'s semantics).
fn binary_search(mut start: usize, mut end: usize, mut f: impl FnMut(usize) -> Ordering) -> Result<usize, usize> {
    loop {
        let mid = start + (end - start) / 2;
        if mid == end {
            return Err(start);
        }
        match f(mid) {
            Ordering::Less => start = mid + 1,
            Ordering::Greater => end = mid,
            Ordering::Equal => return Ok(mid),
        }
    }
}

fn decode(mut bytes: &[u8]) -> Changes {
    let mut next = || {
        let mut value = 0u64;
        let mut shift = 0;
        while let Some((&byte, rest)) = bytes.split_first() {
            bytes = rest;
            value |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                break;
            }
            shift += 7;
        }
        value
    };
    let unzigzag = |v: u64| (v >> 1) as i64 ^ -((v & 1) as i64);
    let kinds: Vec<Offset> = (0..next()).map(|_| Offset { seconds: unzigzag(next()) as i32, abbreviation: next() as u16 }).collect();
    let first = kinds[next() as usize];
    let mut at = 0i64;
    let changes = (0..next())
        .map(|_| {
            let code = next();
            at += if code & 1 == 0 { unzigzag(code >> 1) * 60 } else { unzigzag(code >> 1) };
            (at, kinds[next() as usize])
        })
        .collect();
    Changes { first, changes }
}

#[cfg(test)]
mod tests {
    //! The table against chrono-tz itself (a dev-dependency): every zone, around every change
    //! and every 61 days from 1800 to 2110, at UTC instants and at wall times.

    use super::*;
    use chrono::{DateTime, Offset as _, TimeZone};
    use chrono_tz::OffsetName;

    fn chrono_at(tz: chrono_tz::Tz, utc_secs: i64) -> (i32, Option<String>) {
        let o = tz.offset_from_utc_datetime(&DateTime::from_timestamp(utc_secs, 0).unwrap().naive_utc());
        (o.fix().local_minus_utc(), o.abbreviation().map(str::to_string))
    }

    fn chrono_local(tz: chrono_tz::Tz, wall_secs: i64) -> Vec<(i32, Option<String>)> {
        let wall = DateTime::from_timestamp(wall_secs, 0).unwrap().naive_utc();
        let pair = |o: chrono_tz::TzOffset| (o.fix().local_minus_utc(), o.abbreviation().map(str::to_string));
        match tz.offset_from_local_datetime(&wall) {
            chrono::LocalResult::None => vec![],
            chrono::LocalResult::Single(o) => vec![pair(o)],
            chrono::LocalResult::Ambiguous(a, b) => vec![pair(a), pair(b)],
        }
    }

    fn ours(o: Offset) -> (i32, Option<String>) {
        (o.seconds, o.abbreviation().map(str::to_string))
    }

    fn our_local(tz: Tz, wall_secs: i64) -> Vec<(i32, Option<String>)> {
        match tz.local(wall_secs) {
            Local::None => vec![],
            Local::Single(o) => vec![ours(o)],
            Local::Ambiguous(a, b) => vec![ours(a), ours(b)],
        }
    }

    #[test]
    fn every_chrono_tz_name_parses_to_itself_and_nothing_else_does() {
        assert_eq!(Tz::COUNT, chrono_tz::TZ_VARIANTS.len());
        for theirs in chrono_tz::TZ_VARIANTS {
            let tz = Tz::parse(theirs.name()).unwrap_or_else(|| panic!("{} is missing", theirs.name()));
            assert_eq!(tz.name(), theirs.name());
        }
        for name in ["", "utc", "america/new_york", "America/New_York ", "Mars/Olympus", "Europe"] {
            assert_eq!(Tz::parse(name).map(Tz::name), name.parse::<chrono_tz::Tz>().ok().map(|t| t.name()), "{name:?}");
        }
    }

    #[test]
    fn every_zone_answers_as_chrono_tz_does() {
        for theirs in chrono_tz::TZ_VARIANTS {
            let tz = Tz::parse(theirs.name()).unwrap();
            let (_, changes) = tz.changes_after(i64::MIN);
            let mut instants: Vec<i64> = (-5_364_662_400..4_417_977_600).step_by(61 * 86_400).collect();
            instants.extend([i64::from(i32::MIN) * 4, MIN_SECS, MAX_SECS, 0]);
            for (at, _) in changes {
                instants.extend([at - 1, *at, at + 1]);
            }
            for &t in &instants {
                assert_eq!(ours(tz.offset_at(t)), chrono_at(theirs, t), "{} at {t}", tz.name());
            }
            // Wall times: around each change's gap or fold, and the same spread as above.
            let mut walls: Vec<i64> = (-5_364_662_400..4_417_977_600).step_by(61 * 86_400 + 3_601).collect();
            for (at, after) in changes {
                let before = tz.offset_at(at - 1).seconds;
                for offset in [before, after.seconds] {
                    let wall = at + i64::from(offset);
                    walls.extend([wall - 3_600, wall - 1, wall, wall + 1, wall + 3_600]);
                }
            }
            for &w in &walls {
                assert_eq!(our_local(tz, w), chrono_local(theirs, w), "{} at wall {w}", tz.name());
            }
        }
    }

    #[test]
    fn the_chrono_range_is_chronos() {
        for secs in [MIN_SECS - 1, MIN_SECS, 0, MAX_SECS, MAX_SECS + 1, i64::MIN, i64::MAX] {
            assert_eq!(in_chrono_range(secs), DateTime::from_timestamp(secs, 0).is_some(), "{secs}");
        }
    }
}
