//! APScheduler's handling of due jobs (`_process_jobs` + `run_job`) as a pure function:
//! which scheduled times fire, which are skipped (and why), and the job's new next run time.
//!
//! With `until` later than `now` it also returns the fires of the coming moments, to be
//! published ahead of time (they are never late, so grace and coalescing do not touch them).
//!
//! Catch-up after an outage costs the same however long the outage was: an interval trigger's
//! missed times are counted arithmetically, not visited one by one, and any other trigger
//! visits at most [`MAX_CATCH_UP_STEPS`] scheduled times per call. A call that stops there
//! returns the first time it did not visit as the next run (still due), and the next call goes
//! on from it: applied again at the same `now` until nothing is due, the calls give exactly
//! APScheduler's outcome.

use super::civil::US_PER_SEC;
use super::{Trigger, Zdt};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fire {
    pub at: Zdt,
    /// Scheduled after `now`: published ahead of its time.
    pub ahead: bool,
}

/// What a scheduler does with one due job.
#[derive(Clone, Debug, Default)]
pub struct Due {
    /// Scheduled times to publish, oldest first.
    pub fire: Vec<Fire>,
    /// Scheduled times dropped because coalescing kept only the latest.
    pub coalesced: u64,
    /// Scheduled times dropped because they were later than `misfire_grace_time`.
    pub missed: u64,
    /// The latest [`MAX_DROPPED_TIMES`] coalesced and missed times, oldest first (for a job's
    /// history).
    pub dropped: Vec<(Zdt, Dropped)>,
    /// The job's next run time; `None` means the trigger is finished (remove the job).
    pub next_run_time: Option<Zdt>,
    /// The catch-up stopped at [`MAX_CATCH_UP_STEPS`]: `next_run_time` is the first scheduled
    /// time not visited yet (due already, so no jitter is added to it).
    pub catching_up: bool,
}

/// Why a scheduled time was not published.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dropped {
    Coalesced,
    Missed,
}

/// How many dropped times [`Due::dropped`] keeps.
pub const MAX_DROPPED_TIMES: usize = 20;

/// Scheduled times one call visits at most; it bounds the work and the messages of one job in
/// one tick (the tick carries on with the rest in its next batch).
pub const MAX_CATCH_UP_STEPS: usize = 1000;

/// Interval arithmetic on whole microseconds equals APScheduler's float seconds (`prev +
/// interval`, rounded to the microsecond) while timestamps stay below 2^31 s (2038-01-19): the
/// float error is then under half a microsecond. Later, the times are visited one by one.
const EXACT_INTERVAL_LIMIT_US: i64 = (1 << 31) * US_PER_SEC;

/// `next_run_time` is the job's stored next run time; returns `None` when nothing is due by
/// `until` (use `until == now` for APScheduler's exact behaviour). `grace_secs = None` means
/// unlimited lateness.
///
/// `previous_tick_us` is the previous tick's time when ticks have been running without a
/// gap: a scheduled time after it is late only by the ticks' granularity (APScheduler, always
/// awake, would have fired it on the dot), so it is on time whatever its grace. After a gap
/// (`None`), lateness is APScheduler's.
pub fn process_due(
    trigger: &Trigger,
    next_run_time: &Zdt,
    now: &Zdt,
    until: &Zdt,
    grace_secs: Option<u32>,
    coalesce: bool,
    previous_tick_us: Option<i64>,
) -> Option<Due> {
    let (now_us, until_us) = (now.utc_us(), until.utc_us().max(now.utc_us()));
    if next_run_time.utc_us() > until_us {
        return None;
    }
    let on_time = |run_us: i64| {
        grace_secs.is_none_or(|grace| now_us - run_us <= i64::from(grace) * US_PER_SEC) || previous_tick_us.is_some_and(|previous| run_us > previous)
    };
    let mut due = Due::default();
    let mut dropped = std::collections::VecDeque::new();
    let mut current = Some(*next_run_time);
    // Skip, by arithmetic, the leading late times of an interval trigger that would be dropped
    // anyway (all but the last with coalesce; those past their grace without).
    if let (Trigger::Interval(t), Some(first)) = (trigger, current) {
        if let Some((skipped, next)) = interval_skip(t, &first, now_us, coalesce, &on_time) {
            let why = if coalesce { Dropped::Coalesced } else { Dropped::Missed };
            let step = t.interval_secs * US_PER_SEC;
            let keep = skipped.min(MAX_DROPPED_TIMES as i64);
            for k in (skipped - keep)..skipped {
                remember(Zdt::from_utc(first.utc_us() + k * step, t.zone), why, &mut dropped);
            }
            match why {
                Dropped::Coalesced => due.coalesced += skipped as u64,
                Dropped::Missed => due.missed += skipped as u64,
            }
            current = next;
        }
    }
    let mut late: std::collections::VecDeque<Zdt> = std::collections::VecDeque::new();
    let mut last = None;
    let mut steps = 0;
    while let Some(run) = current.filter(|r| r.utc_us() <= until_us) {
        if steps == MAX_CATCH_UP_STEPS && run.utc_us() <= now_us {
            // Resumed by the next call: none of what is late so far is the last late time.
            due.catching_up = true;
            break;
        }
        steps += 1;
        if run.utc_us() <= now_us {
            if coalesce {
                due.coalesced += late.len() as u64;
                late.drain(..).for_each(|at| remember(at, Dropped::Coalesced, &mut dropped));
            }
            late.push_back(run);
        } else {
            due.fire.push(Fire { at: run, ahead: true });
        }
        last = Some(run);
        // `until` is APScheduler's `now` when it equals now; later, it keeps the search
        // moving past fires already published ahead.
        current = trigger.next_fire_time(Some(&run), until);
    }
    if due.catching_up && coalesce {
        due.coalesced += late.len() as u64;
        late.drain(..).for_each(|at| remember(at, Dropped::Coalesced, &mut dropped));
    }
    let mut on_time_late = Vec::with_capacity(late.len());
    for run in late {
        if on_time(run.utc_us()) {
            on_time_late.push(Fire { at: run, ahead: false });
        } else {
            due.missed += 1;
            remember(run, Dropped::Missed, &mut dropped);
        }
    }
    // Coalesced times come before the missed one they were folded into: keep time order.
    due.dropped = dropped.into();
    due.dropped.sort_by_key(|(at, _)| at.utc_us());
    on_time_late.append(&mut due.fire);
    due.fire = on_time_late;
    due.next_run_time = match last {
        Some(last) if !due.catching_up => trigger.next_fire_time(Some(&last), until),
        // Stopped at the bound, or everything due was skipped by arithmetic: the first time not
        // visited is the next run.
        _ => current,
    };
    Some(due)
}

/// Keeps the latest [`MAX_DROPPED_TIMES`] dropped times.
fn remember(at: Zdt, why: Dropped, dropped: &mut std::collections::VecDeque<(Zdt, Dropped)>) {
    if dropped.len() == MAX_DROPPED_TIMES {
        dropped.pop_front();
    }
    dropped.push_back((at, why));
}

/// For an interval trigger whose time `first` is due: how many of its leading late times would
/// be dropped (coalesced: all but the last one due; else: those `on_time` refuses, which are
/// the oldest), and the first time not skipped (`None` past the end date). `None` when fewer
/// than two would be skipped or the arithmetic would not be exact.
fn interval_skip(t: &super::IntervalTrigger, first: &Zdt, now_us: i64, coalesce: bool, on_time: &impl Fn(i64) -> bool) -> Option<(i64, Option<Zdt>)> {
    let step = t.interval_secs * US_PER_SEC;
    let first_us = first.utc_us();
    if now_us < first_us || now_us >= EXACT_INTERVAL_LIMIT_US || t.end_date.is_some_and(|end| end.utc_us() >= EXACT_INTERVAL_LIMIT_US) {
        return None;
    }
    // Times first + k·step for k in 0..due are at or before now (and the end date).
    let mut due = (now_us - first_us) / step + 1;
    if let Some(end) = t.end_date {
        due = due.min(((end.utc_us() - first_us).max(-1) / step + 1).max(0));
    }
    let skipped = if coalesce {
        due - 1
    } else {
        // on_time is monotonic in the time: find the first on-time index by bisection.
        let (mut lo, mut hi) = (0, due);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if on_time(first_us + mid * step) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        lo
    };
    if skipped < 2 {
        return None;
    }
    let next_us = first_us + skipped * step;
    let next = (t.end_date.is_none_or(|end| next_us <= end.utc_us())).then(|| Zdt::from_utc(next_us, t.zone));
    Some((skipped, next))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trigger::{Schedule, TriggerSpec, Zone};

    /// APScheduler's loop, visiting every time (the reference the bounded one must match).
    fn reference(trigger: &Trigger, first: &Zdt, now: &Zdt, grace: Option<u32>, coalesce: bool) -> (Vec<i64>, u64, u64, Option<i64>) {
        let mut runs = Vec::new();
        let mut current = Some(*first);
        while let Some(run) = current.filter(|r| r.utc_us() <= now.utc_us()) {
            runs.push(run);
            current = trigger.next_fire_time(Some(&run), now);
        }
        let next = runs.last().and_then(|last| trigger.next_fire_time(Some(last), now)).map(|t| t.utc_us());
        let coalesced = if coalesce { runs.len().saturating_sub(1) as u64 } else { 0 };
        let kept: Vec<&Zdt> = if coalesce { runs.iter().rev().take(1).collect() } else { runs.iter().collect() };
        let on_time = |r: &Zdt| grace.is_none_or(|g| now.utc_us() - r.utc_us() <= i64::from(g) * US_PER_SEC);
        let fired: Vec<i64> = kept.iter().filter(|r| on_time(r)).map(|r| r.utc_us()).collect();
        let missed = kept.len() as u64 - fired.len() as u64;
        (fired, coalesced, missed, next)
    }

    /// `process_due` applied at the same `now` until nothing is due, as the tick's batches do.
    fn bounded(trigger: &Trigger, first: &Zdt, now: &Zdt, grace: Option<u32>, coalesce: bool) -> (Vec<i64>, u64, u64, Option<i64>, usize) {
        let (mut fired, mut coalesced, mut missed, mut calls) = (Vec::new(), 0, 0, 0);
        let mut next = Some(*first);
        while let Some(run) = next.filter(|r| r.utc_us() <= now.utc_us()) {
            let due = process_due(trigger, &run, now, now, grace, coalesce, None).expect("due");
            fired.extend(due.fire.iter().map(|f| f.at.utc_us()));
            coalesced += due.coalesced;
            missed += due.missed;
            next = due.next_run_time;
            calls += 1;
        }
        (fired, coalesced, missed, next.map(|t| t.utc_us()), calls)
    }

    fn schedule(fields: serde_json::Value, created_us: i64) -> Schedule {
        let spec: TriggerSpec = serde_json::from_value(fields).expect("a trigger");
        Schedule::build(&spec, Zone::parse("America/New_York").expect("zone"), created_us).expect("builds")
    }

    #[test]
    fn long_outages_cost_bounded_work_and_match_visiting_every_time() {
        let day = 86_400 * US_PER_SEC;
        let start = 1_772_000_000_123_456; // 2026-02-25, microseconds from "now"
                                           // (trigger, outage)
        let cases = [
            (serde_json::json!({"trigger": "interval", "seconds": 1}), 30 * day),
            (serde_json::json!({"trigger": "interval", "seconds": 7}), 3 * day + 5),
            (serde_json::json!({"trigger": "interval", "hours": 1, "end_date": "2026-03-20 00:00:00"}), 40 * day),
            (serde_json::json!({"trigger": "cron", "minute": "*"}), 2 * day),
            (serde_json::json!({"trigger": "cron", "second": "*/10"}), day / 2),
            (serde_json::json!({"trigger": "cron", "hour": "2", "minute": "30"}), 400 * day),
        ];
        for (fields, outage) in cases {
            let s = schedule(fields.clone(), start);
            let first = s.trigger.next_fire_time(None, &Zdt::from_utc(start, s.zone())).expect("a first time");
            let now = Zdt::from_utc(first.utc_us() + outage, s.zone());
            for (grace, coalesce) in [(Some(1), true), (Some(1), false), (Some(3600), false), (None, true), (None, false)] {
                let want = reference(&s.trigger, &first, &now, grace, coalesce);
                let (fired, coalesced, missed, next, calls) = bounded(&s.trigger, &first, &now, grace, coalesce);
                assert_eq!((fired, coalesced, missed, next), want, "{fields} grace={grace:?} coalesce={coalesce}");
                let times = want.0.len() + (want.1 + want.2) as usize;
                assert!(calls <= times / MAX_CATCH_UP_STEPS + 2, "{fields}: {calls} calls for {times} scheduled times");
                if fields["trigger"] == "interval" {
                    assert!(calls <= want.0.len() / MAX_CATCH_UP_STEPS + 2, "{fields}: an interval's dropped times cost nothing ({calls} calls)");
                }
            }
        }
    }

    #[test]
    fn the_dropped_times_kept_are_the_latest_in_time_order() {
        let s = schedule(serde_json::json!({"trigger": "interval", "seconds": 1}), 1_772_000_000_000_000);
        let first = s.trigger.next_fire_time(None, &Zdt::from_utc(1_772_000_000_000_000, s.zone())).expect("first");
        let now = Zdt::from_utc(first.utc_us() + 10_000 * US_PER_SEC, s.zone());
        let due = process_due(&s.trigger, &first, &now, &now, Some(1), true, None).expect("due");
        assert_eq!((due.coalesced, due.dropped.len()), (10_000, MAX_DROPPED_TIMES));
        assert!(due.dropped.windows(2).all(|w| w[0].0.utc_us() < w[1].0.utc_us()));
        assert_eq!(due.dropped.last().map(|d| d.0.utc_us()), Some(first.utc_us() + 9_999 * US_PER_SEC));
        assert_eq!(due.fire.len(), 1);
    }
}
