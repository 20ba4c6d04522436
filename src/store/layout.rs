//! Where the `redis` store keeps things: the key names of layout 2, the scores that stand for a
//! job's status in a queue's `next` index, and the format version.
//!
//! Every key carries the hash tag `{<prefix>}`, so all of them live in one Redis Cluster slot
//! and every script sees them together. Per queue `Q` (its name as given):
//!
//! | key | type | content |
//! |---|---|---|
//! | `{P}:format` | string | the layout version, `2` (absent while a layout-1 store is being upgraded, or before the first write) |
//! | `{P}:job_queues` | set | queues that hold jobs |
//! | `{P}:spec:Q` | hash | job id → what the user set: trigger, arguments, options ([`super::record`]) |
//! | `{P}:state:Q` | hash | job id → what firing changes: version, status, next run, counts, last fire |
//! | `{P}:hist:Q` | hash | job id → the last [`crate::job::HISTORY_LEN`] fires, compact |
//! | `{P}:next:Q` | sorted set | job id → next run (UTC µs) while running, else its status's score ([`STOPPED`]) |
//! | `{P}:ids:Q` | sorted set | job id, score 0: the queue's jobs in id order |
//! | `{P}:heads` | sorted set | queue → its earliest next run, for queues whose scheduler runs and which have a running job |
//! | `{P}:paused_queues` | set | queues whose scheduler is paused (`pause_scheduler`) |
//! | `{P}:last_tick` | string | when the last tick ran (server clock, µs) |
//! | `{P}:waiting_ticks` | sorted set | ticks waiting to publish fires on their instant, score = when they stop (µs) |
//! | `{P}:metrics` | hash | Prometheus counters and histograms (`crate::metrics`) |
//! | `{P}:audit` | stream | the audit trail ([`crate::audit`]): field `a`, a record's JSON; capped |
//! | `{P}:audit_counts` | hash | `<route>\x1f<token name>` → changes made |
//! | `{P}:upgrade_cursor` | string | while a layout-1 store is upgraded: where the scan of it stands |
//!
//! A tick finds due jobs through `heads` (which queues have something due) and then each
//! queue's `next` index, so it reads only what is due; pausing a queue's scheduler takes the
//! queue out of `heads` and touches none of its jobs.
//!
//! Layout 1 (up to the commit before this one) kept each job as one JSON text in `{P}:jobs`
//! (field `Q\x1fid`) with `{P}:due`, `{P}:queue:Q`, `{P}:queues` and `{P}:held:Q`; see
//! [`super::upgrade`], which moves such a store into layout 2 while it keeps firing.

/// The layout this build reads and writes.
pub const FORMAT: u32 = 2;

/// Scores of the `next` index for jobs that are not due to run: far beyond any fire time (year
/// 9999 is 2.5e17 µs), one per status, so that each status is a score range of its own (counted
/// with ZCOUNT, listed with ZRANGEBYSCORE) and stopped jobs list after running ones.
pub struct Stopped;

impl Stopped {
    pub const PAUSED: i64 = 1_000_000_000_000_000_000;
    pub const FINISHED: i64 = 2_000_000_000_000_000_000;
    pub const ERROR: i64 = 3_000_000_000_000_000_000;
    /// The lowest stopped score: running jobs score below it.
    pub const MIN: i64 = Stopped::PAUSED;
}

/// [`Stopped`]'s scores, for the Lua side.
#[macro_export]
#[doc(hidden)]
macro_rules! stopped_lua {
    () => {
        "local STOPPED, PAUSED, FINISHED, ERROR = 1e18, 1e18, 2e18, 3e18\n"
    };
}

/// The key names of one store (one prefix).
#[derive(Clone, Debug)]
pub struct Keys {
    tag: String,
}

impl Keys {
    pub fn new(prefix: &str) -> Keys {
        Keys { tag: format!("{{{prefix}}}") }
    }

    fn key(&self, name: &str) -> String {
        format!("{}:{name}", self.tag)
    }

    /// `{P}:<kind>:` — the scripts append a queue name to it.
    pub fn queue_prefix(&self, kind: &str) -> String {
        format!("{}:{kind}:", self.tag)
    }

    pub fn format(&self) -> String {
        self.key("format")
    }

    pub fn job_queues(&self) -> String {
        self.key("job_queues")
    }

    pub fn spec(&self, queue: &str) -> String {
        self.queue_prefix("spec") + queue
    }

    pub fn state(&self, queue: &str) -> String {
        self.queue_prefix("state") + queue
    }

    pub fn hist(&self, queue: &str) -> String {
        self.queue_prefix("hist") + queue
    }

    pub fn next(&self, queue: &str) -> String {
        self.queue_prefix("next") + queue
    }

    pub fn ids(&self, queue: &str) -> String {
        self.queue_prefix("ids") + queue
    }

    pub fn heads(&self) -> String {
        self.key("heads")
    }

    pub fn paused_queues(&self) -> String {
        self.key("paused_queues")
    }

    pub fn last_tick(&self) -> String {
        self.key("last_tick")
    }

    pub fn waiting_ticks(&self) -> String {
        self.key("waiting_ticks")
    }

    pub fn metrics(&self) -> String {
        self.key("metrics")
    }

    pub fn audit(&self) -> String {
        self.key("audit")
    }

    pub fn audit_counts(&self) -> String {
        self.key("audit_counts")
    }

    /// Markers of the memory store's published fires (`{P}:fired:<fire>`).
    pub fn fired(&self, dedupe_key: &str) -> String {
        self.key("fired:") + dedupe_key
    }

    /// Where the upgrade's scan of layout 1 stands (an HSCAN cursor).
    pub fn upgrade_cursor(&self) -> String {
        self.key("upgrade_cursor")
    }

    /// Layout 1's keys, read and emptied by the upgrade.
    pub fn v1(&self) -> V1Keys {
        V1Keys {
            jobs: self.key("jobs"),
            due: self.key("due"),
            queues: self.key("queues"),
            queue_prefix: self.queue_prefix("queue"),
            held_prefix: self.queue_prefix("held"),
        }
    }
}

/// Layout 1's keys (see the module docs).
#[derive(Clone, Debug)]
pub struct V1Keys {
    pub jobs: String,
    pub due: String,
    pub queues: String,
    pub queue_prefix: String,
    pub held_prefix: String,
}

/// Layout 1's hash field and due-index member of a job: queue and id joined with the unit
/// separator.
pub fn v1_member(queue: &str, job_id: &str) -> String {
    format!("{queue}\u{1f}{job_id}")
}

/// Lua: the format check every script starts with. `check_format(key)` returns an error reply
/// (`FORMAT <n>`) when the store was written by a newer layout than this build's.
#[macro_export]
#[doc(hidden)]
macro_rules! format_lua {
    () => {
        r#"
local function newer_format(key)
  local f = tonumber(redis.call('GET', key) or '0') or 99
  if f > 2 then return redis.error_reply('FORMAT ' .. f) end
  return nil
end
"#
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_carries_the_prefix_hash_tag_whatever_the_queue_name() {
        let keys = Keys::new("edge");
        for queue in ["orders", "a:b", "x}y", "{other}"] {
            for key in [keys.spec(queue), keys.state(queue), keys.hist(queue), keys.next(queue), keys.ids(queue)] {
                assert!(key.starts_with("{edge}:"), "{key}");
            }
        }
        assert_eq!(keys.format(), "{edge}:format");
        assert_eq!(keys.v1().jobs, "{edge}:jobs");
    }

    #[test]
    fn stopped_scores_are_past_year_9999_and_ordered_by_status() {
        let year_9999_us = 253_402_300_799_000_000_i64;
        const { assert!(Stopped::PAUSED < Stopped::FINISHED && Stopped::FINISHED < Stopped::ERROR) };
        assert!(Stopped::MIN > year_9999_us);
        // Exact as doubles, which is what a sorted set keeps.
        for s in [Stopped::PAUSED, Stopped::FINISHED, Stopped::ERROR] {
            assert_eq!(s as f64 as i64, s);
        }
        assert!(stopped_lua!().contains("1e18") && stopped_lua!().contains("3e18"));
    }
}
