//! A job's recent fires: what became of each scheduled time (or run-now), kept compact because
//! it is written at every fire. A record is the scheduled instant, the outcome and, for what
//! was published, how long after the scheduled instant it went out; the message's `task_id`
//! and `fire_id` follow from those (`crate::message::task_id`), so they are not stored.
//!
//! Text form (what the `redis` store keeps and its commit script appends to): records in the
//! order they were written, each `<scheduled µs><outcome letter>[<delay µs>]` followed by `,`, the
//! numbers in base 36 with upper-case digits and the outcome a lower-case letter (`f` fired, `x`
//! missed, `c` coalesced, `m` run-now): about 15 bytes a fire.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::message::{self, Timing};
use crate::trigger::{Zdt, Zone};

/// Fires a job remembers.
pub const HISTORY_LEN: usize = 20;

/// What became of one scheduled time (or one run-now).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Fired,
    Missed,
    Coalesced,
    /// Published by `run_timing_job_now`.
    Manual,
}

impl Outcome {
    fn letter(self) -> char {
        match self {
            Outcome::Fired => 'f',
            Outcome::Missed => 'x',
            Outcome::Coalesced => 'c',
            Outcome::Manual => 'm',
        }
    }

    fn from_letter(letter: char) -> Option<Outcome> {
        match letter {
            'f' => Some(Outcome::Fired),
            'x' => Some(Outcome::Missed),
            'c' => Some(Outcome::Coalesced),
            'm' => Some(Outcome::Manual),
            _ => None,
        }
    }
}

/// One fire: its scheduled instant and, when it was published, when (both UTC µs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FireRecord {
    pub scheduled_us: i64,
    pub published_us: Option<i64>,
    pub outcome: Outcome,
}

/// `records` in the text form, in order.
pub fn encode(records: &[FireRecord]) -> String {
    let mut out = String::with_capacity(records.len() * 16);
    for r in records {
        push_base36(&mut out, r.scheduled_us);
        out.push(r.outcome.letter());
        if let Some(published) = r.published_us {
            push_base36(&mut out, published - r.scheduled_us);
        }
        out.push(',');
    }
    out
}

/// The records of `text`, oldest first; a record that cannot be read is left out.
pub fn decode(text: &str) -> Vec<FireRecord> {
    text.split(',').filter_map(decode_one).collect()
}

fn decode_one(record: &str) -> Option<FireRecord> {
    // Digits are 0-9 and upper-case letters, so the outcome is the one lower-case letter.
    let at = record.find(|c: char| c.is_ascii_lowercase())?;
    let outcome = Outcome::from_letter(record[at..].chars().next()?)?;
    let scheduled_us = parse_base36(&record[..at])?;
    let delay = &record[at + 1..];
    let published_us = if delay.is_empty() { None } else { Some(scheduled_us + parse_base36(delay)?) };
    Some(FireRecord { scheduled_us, published_us, outcome })
}

fn push_base36(out: &mut String, value: i64) {
    if value < 0 {
        out.push('-');
    }
    let mut n = value.unsigned_abs();
    let mut digits = [0u8; 13];
    let mut len = 0;
    loop {
        digits[len] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[(n % 36) as usize];
        len += 1;
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.extend(digits[..len].iter().rev().map(|&d| char::from(d)));
}

fn parse_base36(text: &str) -> Option<i64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()) {
        return None;
    }
    let n = i64::from_str_radix(digits, 36).ok()?;
    Some(if negative { -n } else { n })
}

/// Appends `new` to the text form `old`, keeping the last [`HISTORY_LEN`] records (what the
/// commit script does in Lua, for the stores that run no script).
pub fn append(old: &str, new: &[FireRecord]) -> String {
    let mut records = decode(old);
    records.extend_from_slice(new);
    let excess = records.len().saturating_sub(HISTORY_LEN);
    encode(&records[excess..])
}

/// The history as the API returns it, newest first, with each message's `task_id` and
/// `fire_id`.
pub fn view(records: &[FireRecord], queue: &str, job_id: &str, zone: Zone) -> Value {
    let mut ordered = records.to_vec();
    ordered.sort_by_key(|r| (r.scheduled_us, r.published_us));
    let entries = ordered.iter().rev().map(|r| {
        let timing = if r.outcome == Outcome::Manual { Timing::Manual } else { Timing::Due };
        let fire = r.published_us.map(|published| {
            let id = message::FireId::new(queue, job_id, r.scheduled_us, timing);
            (id.text(), id.task_id(published))
        });
        serde_json::json!({
            "scheduled_time": Zdt::from_utc(r.scheduled_us, zone).py_str(),
            "published_time": r.published_us.map(|us| Zdt::from_utc(us, zone).py_str()),
            "lateness_ms": r.published_us.map(|us| (us - r.scheduled_us) as f64 / 1000.0),
            "task_id": fire.as_ref().map(|f| f.1.clone()),
            "fire_id": fire.map(|f| f.0),
            "outcome": r.outcome,
        })
    });
    Value::Array(entries.collect())
}

/// The Lua twin of [`append`]: `history_append(old, new)` keeps the last [`HISTORY_LEN`]
/// records of `old .. new`.
#[macro_export]
#[doc(hidden)]
macro_rules! history_lua {
    () => {
        r#"
local function history_append(old, new)
  local h = (old or '') .. new
  local n = 0
  for _ in string.gmatch(h, ',') do n = n + 1 end
  local drop = n - 20
  local at = 0
  while drop > 0 do
    at = string.find(h, ',', at + 1, true)
    drop = drop - 1
  end
  if at > 0 then h = string.sub(h, at + 1) end
  return h
end
"#
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(scheduled_us: i64, published: Option<i64>, outcome: Outcome) -> FireRecord {
        FireRecord { scheduled_us, published_us: published, outcome }
    }

    #[test]
    fn records_survive_the_text_form() {
        let records = [
            record(1_795_841_957_865_862, Some(1_795_841_957_869_000), Outcome::Fired),
            record(1_795_841_967_865_862, None, Outcome::Missed),
            record(1_795_841_977_865_862, None, Outcome::Coalesced),
            record(1_795_841_990_000_000, Some(1_795_841_990_000_000), Outcome::Manual),
            // Published ahead (the HTTP tick's look-ahead): a negative delay.
            record(1_795_842_000_000_000, Some(1_795_841_999_500_000), Outcome::Fired),
            record(0, Some(5), Outcome::Fired),
        ];
        let text = encode(&records);
        assert_eq!(decode(&text), records, "{text}");
        assert!(text.len() <= records.len() * 18, "compact: {} bytes for {} records", text.len(), records.len());
        assert_eq!(
            decode("garbage,,1A2f3,9q,"),
            vec![record(36 * 36 + 10 * 36 + 2, Some(36 * 36 + 10 * 36 + 5), Outcome::Fired)],
            "unreadable records are left out"
        );
    }

    #[test]
    fn appending_keeps_the_last_twenty_in_written_order() {
        let mut text = String::new();
        for k in 0..25 {
            text = append(&text, &[record(k * 1_000_000, Some(k * 1_000_000 + 3_000), Outcome::Fired)]);
        }
        let kept = decode(&text);
        assert_eq!(kept.len(), HISTORY_LEN);
        assert_eq!(kept[0].scheduled_us, 5_000_000, "the oldest fall out");
        assert_eq!(kept[19].scheduled_us, 24_000_000);
    }

    #[test]
    fn the_view_is_newest_first_with_task_and_fire_ids() {
        let records =
            [record(1_000_000, Some(1_004_000), Outcome::Fired), record(2_000_000, None, Outcome::Missed), record(3_000_000, Some(3_000_000), Outcome::Manual)];
        let view = view(&records, "q", "j", Zone::Utc);
        let view = view.as_array().expect("array");
        assert_eq!(view[0]["outcome"], "manual");
        assert_eq!(view[0]["fire_id"], "q:j:manual:3000000");
        assert_eq!(view[1]["outcome"], "missed");
        assert_eq!((view[1]["fire_id"].clone(), view[1]["task_id"].clone()), (Value::Null, Value::Null));
        assert_eq!(view[2]["fire_id"], "q:j:1000000");
        assert_eq!(view[2]["lateness_ms"], 4.0);
        assert_eq!(view[2]["task_id"].as_str().map(str::len), Some(36));
    }
}
