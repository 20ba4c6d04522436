//! The audit trail: one record per change made through the API (who, which route, which queue
//! and job, what changed, an optional note), appended by the store in the same atomic step as
//! the change, so a change without its record (or a record without its change) cannot happen.
//! Ticks are not recorded: their fires are in each job's history.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::job::{Job, DECLARED};

/// The longest note a change may carry.
pub const MAX_NOTE_CHARS: usize = 500;

/// A record to append with a change: its text and the counter it bumps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The record, as JSON text.
    pub text: String,
    /// The changes counter's field: `<route>\x1f<token name>`.
    pub tally: String,
    /// How many records the trail keeps (the store trims the oldest).
    pub keep: usize,
}

/// One record as stored (the time is the stream entry's).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The token's name (`loopback` without tokens), never the token.
    pub token: String,
    /// The route's path, without `/funboost`.
    pub route: String,
    /// The queue, `*` for a change of every queue.
    pub queue: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// What changed: `{field: {"from": .., "to": ..}}` for an edit, the job's declared fields
    /// for an add or delete, counts for a bulk change.
    pub changes: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Record {
    pub fn entry(&self, keep: usize) -> Entry {
        Entry { text: serde_json::to_string(self).unwrap_or_default(), tally: format!("{}\u{1f}{}", self.route, self.token), keep }
    }
}

/// Every declared field of a job, as an add or a delete records it.
pub fn settings(job: &Job) -> Value {
    Value::Object(DECLARED.into_iter().map(|field| (field.to_string(), job.declared(field))).collect())
}

/// The declared fields that changed, each `{"from": .., "to": ..}`.
pub fn diff(before: &Job, after: &Job) -> Value {
    let mut changes = Map::new();
    for field in before.declared_changes(after) {
        let mut pair = Map::new();
        pair.insert("from".into(), before.declared(field));
        pair.insert("to".into(), after.declared(field));
        changes.insert(field.to_string(), Value::Object(pair));
    }
    Value::Object(changes)
}

/// A stream entry id (`<ms>-<seq>`, each a u64): the id just before it, so that a newest-first
/// read can start strictly before a cursor on every Redis (the `(` prefix needs 6.2). `None`
/// for an id that is not one, or for `0-0`, which nothing precedes.
pub fn id_before(id: &str) -> Option<String> {
    let (ms, seq) = id.split_once('-')?;
    if [ms, seq].iter().any(|part| part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    let (ms, seq): (u64, u64) = (ms.parse().ok()?, seq.parse().ok()?);
    match (ms, seq) {
        (0, 0) => None,
        (ms, 0) => Some(format!("{}-{}", ms - 1, u64::MAX)),
        (ms, seq) => Some(format!("{ms}-{}", seq - 1)),
    }
}

/// The Unix ms of a stream entry id.
pub fn id_ms(id: &str) -> Option<i64> {
    id.split_once('-')?.0.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_steps_back_one_entry() {
        let cases = [
            ("5-3", Some("5-2")),
            ("5-0", Some("4-18446744073709551615")),
            ("1-18446744073709551615", Some("1-18446744073709551614")),
            ("0-0", None),
            ("x", None),
            ("1-y", None),
            ("-1", None),
            ("+1-2", None),
            ("18446744073709551616-0", None),
        ];
        for (id, want) in cases {
            assert_eq!(id_before(id).as_deref(), want, "{id}");
        }
    }

    #[test]
    fn an_entry_id_tells_its_time() {
        let cases = [("1700000000123-4", Some(1_700_000_000_123)), ("0-0", Some(0)), ("x", None), ("12", None)];
        for (id, want) in cases {
            assert_eq!(id_ms(id), want, "{id}");
        }
    }

    #[test]
    fn a_record_tallies_by_route_and_token_and_never_holds_an_empty_option() {
        let record =
            Record { token: "ci".into(), route: "/pause_timing_job".into(), queue: "q".into(), job_id: Some("j".into()), changes: Value::Null, note: None };
        let entry = record.entry(10);
        assert_eq!(entry.tally, "/pause_timing_job\u{1f}ci");
        assert!(!entry.text.contains("note"), "{}", entry.text);
        assert_eq!(serde_json::from_str::<Record>(&entry.text).expect("reads back"), record);
    }
}
