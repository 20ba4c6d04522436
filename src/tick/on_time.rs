//! Publishing each fire on its instant. A tick that may wait (see `claim`) has read the fires
//! due within its window; it sleeps on the monotonic clock until each one's instant, then
//! computes and commits the fires due by then with the usual compare-and-set. A job paused,
//! edited, replaced or deleted meanwhile no longer has the text the tick read, so its fire is
//! skipped (the commit reports a conflict); a tick that dies while waiting leaves the fire
//! due, and the next tick publishes it. Ticks overlap (the cron trigger starts one every
//! second, each waits up to its window), so the same fire may be waited for twice: the first
//! commit wins, the second finds the text changed.

use std::time::Duration;

use anyhow::Result;

use super::claim::{ClaimedJob, ServerClock};
use super::commit::{commit, Entry, Status};
use super::{advance, TickOptions, TickReport, TickTime, BATCH};
use crate::services::Services;
use crate::store::redis::RedisStore;

/// Waits for each of `upcoming` and publishes it at its instant, until the window that
/// started at `clock`'s reading ends. A job that is due again within the window (an interval
/// of a second) is waited for again, from the text this tick wrote (see [`due_again`]).
pub(super) fn publish(
    services: &Services,
    store: &RedisStore,
    clock: ServerClock,
    mut upcoming: Vec<ClaimedJob>,
    gapless_since: Option<i64>,
    options: TickOptions,
    report: &mut TickReport,
) -> Result<()> {
    let window_end_us = window_end_us(clock, options);
    // Latest first, so the next one due is at the end.
    upcoming.sort_by_key(|u| std::cmp::Reverse(u.due_us));
    while let Some(next_due_us) = upcoming.last().map(|u| u.due_us) {
        if next_due_us > window_end_us {
            break;
        }
        let now_us = clock.now_us();
        if next_due_us > now_us {
            std::thread::sleep(Duration::from_micros((next_due_us - now_us) as u64));
            continue;
        }
        let first_not_due = upcoming.partition_point(|u| u.due_us > now_us);
        let mut due = upcoming.split_off(first_not_due);
        due.reverse();
        let at = TickTime { now_us, gapless_since };
        for group in due.chunks(BATCH) {
            let entries: Vec<_> = group.iter().map(|u| advance(services, u.clone(), at, options, report)).collect();
            for (entries, _) in super::by_message_count(entries) {
                let statuses = commit(services.redis, store, &entries, now_us, None, None, report)?;
                for again in due_again(entries, &statuses, window_end_us) {
                    let position = upcoming.partition_point(|u| u.due_us > again.due_us);
                    upcoming.insert(position, again);
                }
            }
        }
    }
    Ok(())
}

/// When the window of a tick whose claim read `clock` ends (server clock, µs).
pub(super) fn window_end_us(clock: ServerClock, options: TickOptions) -> i64 {
    clock.read_us() + i64::from(options.on_time_window_ms) * 1000
}

/// The jobs this tick just fired that are due again before `window_end_us`, with the texts the
/// commit wrote: the tick waits for them too, so the next tick starting late (the cron
/// trigger starts a call up to half a second into its second) does not make them late.
pub(super) fn due_again(entries: Vec<Entry>, statuses: &[Status], window_end_us: i64) -> impl Iterator<Item = ClaimedJob> + '_ {
    entries.into_iter().zip(statuses).filter_map(move |(entry, status)| match entry.due_us() {
        Some(due_us) if *status == Status::Applied && due_us <= window_end_us => {
            Some(ClaimedJob { due_us, state: entry.state.unwrap_or_default(), spec: entry.spec, queue: entry.queue, job_id: entry.job_id })
        }
        _ => None,
    })
}
