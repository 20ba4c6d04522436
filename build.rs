//! Builds the IANA time-zone table of `src/trigger/tzdb.rs` from chrono-tz.
//!
//! chrono-tz keeps every zone's offset changes as a static array of 24-byte entries (an `i64`
//! instant, two `i32` offsets and an abbreviation pointer), ~785 KB of the .wasm components.
//! This script reads the same data through chrono-tz's public API and writes it compactly:
//! zones that share their data (tzdb's links) share one entry, and each change is a
//! variable-length time delta plus an index into the zone's few (offset, abbreviation) pairs,
//! about 4 bytes each. chrono-tz stays the source (a `cargo update` of it updates the zones as
//! before); it is only a build (and test) dependency.
//!
//! chrono-tz does not expose its arrays, so the changes are found by probing each zone every
//! 3 days from 1800 to 2110 and bisecting each change to the second, which finds all of them
//! as long as no zone changes twice within 3 days (`src/trigger/offsets.rs` relies on the same;
//! the closest changes in chrono-tz 0.10.4 are 6.9 days apart, and its own arrays, read from
//! its source, equal this table for all 597 zones). The script fails rather than guess when
//! two changes come closer than 6 days or a zone changes outside the probed years.
//!
//! Output in `OUT_DIR`: `tzdb.rs` (names, the name-to-data index, abbreviations, chrono's
//! timestamp range) and `tzdb.bin` (the encoded zones). The format is described in
//! `src/trigger/tzdb.rs`, which decodes it.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::{OffsetComponents, OffsetName, Tz, TzOffset, TZ_VARIANTS};

/// 1800-01-01 and 2110-01-01 (UTC): chrono-tz's changes run from 1845 to 2099.
const FIRST_PROBE: i64 = -5_364_662_400;
const LAST_PROBE: i64 = 4_417_977_600;
const PROBE_SECS: i64 = 3 * 86_400;

/// What chrono-tz answers for an instant: the total UTC offset and the abbreviation.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
struct Offset {
    seconds: i32,
    abbreviation: Option<String>,
    /// The base/DST split of `seconds`: a change of the split alone is a change in chrono-tz's
    /// data too, so it is found and kept (it never changes an answer).
    base: i32,
}

/// chrono-tz's offset at an instant: `TzOffset` compares all three of its fields.
fn tz_offset(tz: Tz, utc_secs: i64) -> TzOffset {
    let utc = DateTime::from_timestamp(utc_secs, 0).expect("probe inside chrono's range").naive_utc();
    tz.offset_from_utc_datetime(&utc)
}

fn offset_of(o: &TzOffset) -> Offset {
    let base = o.base_utc_offset().num_seconds() as i32;
    Offset { seconds: base + o.dst_offset().num_seconds() as i32, abbreviation: o.abbreviation().map(str::to_string), base }
}

/// A zone's data: its offset before the first change, and each change (instant, new offset).
#[derive(PartialEq, Eq, Hash, Clone)]
struct ZoneData {
    first: Offset,
    changes: Vec<(i64, Offset)>,
}

fn probe(tz: Tz) -> ZoneData {
    let first = tz_offset(tz, FIRST_PROBE);
    let far_past = DateTime::<Utc>::MIN_UTC.timestamp();
    let far_future = DateTime::<Utc>::MAX_UTC.timestamp();
    assert!(tz_offset(tz, far_past) == first, "{}: chrono-tz changes its offset before 1800; move FIRST_PROBE earlier", tz.name());
    let mut changes: Vec<(i64, Offset)> = Vec::new();
    let (mut t, mut current) = (FIRST_PROBE, first);
    while t < LAST_PROBE {
        let next = (t + PROBE_SECS).min(LAST_PROBE);
        if tz_offset(tz, next) == current {
            t = next;
            continue;
        }
        // The first second in (t, next] whose offset is not `current`; probing goes on from
        // there, so several changes between two probes are all found unless one undoes another.
        let (mut lo, mut hi) = (t, next);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if tz_offset(tz, mid) == current {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        current = tz_offset(tz, hi);
        if let Some((previous, _)) = changes.last() {
            assert!(hi - previous >= 2 * PROBE_SECS, "{}: changes at {previous} and {hi} are under 6 days apart; probe more finely", tz.name());
        }
        changes.push((hi, offset_of(&current)));
        t = hi;
    }
    assert!(tz_offset(tz, far_future) == current, "{}: chrono-tz changes its offset after 2110; move LAST_PROBE later", tz.name());
    ZoneData { first: offset_of(&first), changes }
}

fn push_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn zigzag(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

/// One zone's bytes (see `src/trigger/tzdb.rs`).
fn encode(zone: &ZoneData, abbreviations: &mut Vec<String>, out: &mut Vec<u8>) {
    let mut kinds: Vec<(i32, Option<String>)> = Vec::new();
    let mut kind_of = |o: &Offset| -> u64 {
        let key = (o.seconds, o.abbreviation.clone());
        let index = kinds.iter().position(|k| *k == key).unwrap_or_else(|| {
            kinds.push(key);
            kinds.len() - 1
        });
        index as u64
    };
    let first = kind_of(&zone.first);
    let changes: Vec<(i64, u64)> = zone.changes.iter().map(|(at, o)| (*at, kind_of(o))).collect();
    push_varint(out, kinds.len() as u64);
    for (seconds, abbreviation) in &kinds {
        push_varint(out, zigzag(i64::from(*seconds)));
        let index = match abbreviation {
            None => 0,
            Some(a) => {
                1 + abbreviations.iter().position(|x| x == a).unwrap_or_else(|| {
                    abbreviations.push(a.clone());
                    abbreviations.len() - 1
                })
            }
        };
        push_varint(out, index as u64);
    }
    push_varint(out, first);
    push_varint(out, changes.len() as u64);
    let mut previous = 0;
    for (at, kind) in changes {
        let delta = at - previous;
        previous = at;
        // Most changes fall on whole minutes: their delta is stored in minutes.
        let code = if delta % 60 == 0 { zigzag(delta / 60) << 1 } else { zigzag(delta) << 1 | 1 };
        push_varint(out, code);
        push_varint(out, kind);
    }
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));

    let mut zones: Vec<(&'static str, ZoneData)> = TZ_VARIANTS.iter().map(|tz| (tz.name(), probe(*tz))).collect();
    zones.sort_by(|a, b| a.0.cmp(b.0));

    let mut data_index: HashMap<ZoneData, usize> = HashMap::new();
    let mut data_of = Vec::new();
    let mut starts = vec![0u32];
    let mut blob = Vec::new();
    let mut abbreviations = Vec::new();
    for (_, data) in &zones {
        let next = data_index.len();
        let index = *data_index.entry(data.clone()).or_insert_with(|| {
            encode(data, &mut abbreviations, &mut blob);
            starts.push(blob.len() as u32);
            next
        });
        data_of.push(index);
    }

    let mut rs = String::new();
    let list = |items: Vec<String>| items.join(", ");
    writeln!(rs, "// Generated by build.rs from chrono-tz; see src/trigger/tzdb.rs.").unwrap();
    writeln!(rs, "const MIN_SECS: i64 = {};", DateTime::<Utc>::MIN_UTC.timestamp()).unwrap();
    writeln!(rs, "const MAX_SECS: i64 = {};", DateTime::<Utc>::MAX_UTC.timestamp()).unwrap();
    writeln!(rs, "static NAMES: [&str; {}] = [{}];", zones.len(), list(zones.iter().map(|(n, _)| format!("{n:?}")).collect())).unwrap();
    writeln!(rs, "static DATA_OF: [u16; {}] = [{}];", data_of.len(), list(data_of.iter().map(|i| i.to_string()).collect())).unwrap();
    writeln!(rs, "const DATA_COUNT: usize = {};", starts.len() - 1).unwrap();
    writeln!(rs, "static DATA_STARTS: [u32; {}] = [{}];", starts.len(), list(starts.iter().map(|i| i.to_string()).collect())).unwrap();
    writeln!(rs, "static ABBREVIATIONS: [&str; {}] = [{}];", abbreviations.len(), list(abbreviations.iter().map(|a| format!("{a:?}")).collect())).unwrap();
    writeln!(rs, "static DATA: &[u8; {}] = include_bytes!(concat!(env!(\"OUT_DIR\"), \"/tzdb.bin\"));", blob.len()).unwrap();
    std::fs::write(out_dir.join("tzdb.bin"), &blob).expect("write tzdb.bin");
    std::fs::write(out_dir.join("tzdb.rs"), rs).expect("write tzdb.rs");
}
