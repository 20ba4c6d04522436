//! APScheduler's handling of due jobs (`_process_jobs` + `run_job`) as a pure function:
//! which scheduled times fire, which are skipped (and why), and the job's new next run time.
//!
//! With `until` later than `now` it also returns the fires of the coming moments, to be
//! published ahead of time (they are never late, so grace and coalescing do not touch them).

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
}

/// Why a scheduled time was not published.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dropped {
    Coalesced,
    Missed,
}

/// How many dropped times [`Due::dropped`] keeps.
pub const MAX_DROPPED_TIMES: usize = 20;

/// Cap on scheduled times published for one job in one tick when not coalescing; older
/// ones count as missed. (APScheduler has no cap and would publish millions after an outage.)
pub const MAX_CATCH_UP_FIRES: usize = 1000;

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
    let on_time = |run: &Zdt| {
        grace_secs.is_none_or(|grace| now_us - run.utc_us() <= i64::from(grace) * US_PER_SEC)
            || previous_tick_us.is_some_and(|previous| run.utc_us() > previous)
    };
    let mut due = Due::default();
    let mut dropped = std::collections::VecDeque::new();
    let mut remember = |at: Zdt, why: Dropped| {
        if dropped.len() == MAX_DROPPED_TIMES {
            dropped.pop_front();
        }
        dropped.push_back((at, why));
    };
    let mut late: std::collections::VecDeque<Zdt> = std::collections::VecDeque::new();
    let mut last = *next_run_time;
    let mut current = Some(*next_run_time);
    while let Some(run) = current.filter(|r| r.utc_us() <= until_us) {
        if run.utc_us() <= now_us {
            if coalesce {
                due.coalesced += late.len() as u64;
                late.drain(..).for_each(|at| remember(at, Dropped::Coalesced));
            } else if late.len() == MAX_CATCH_UP_FIRES {
                late.pop_front().into_iter().for_each(|at| remember(at, Dropped::Missed));
                due.missed += 1;
            }
            late.push_back(run);
        } else {
            due.fire.push(Fire { at: run, ahead: true });
        }
        last = run;
        // `until` is APScheduler's `now` when it equals now; later, it keeps the search
        // moving past fires already published ahead.
        current = trigger.next_fire_time(Some(&run), until);
    }
    let mut on_time_late = Vec::with_capacity(late.len());
    for run in late {
        if on_time(&run) {
            on_time_late.push(Fire { at: run, ahead: false });
        } else {
            due.missed += 1;
            remember(run, Dropped::Missed);
        }
    }
    // Coalesced times come before the missed one they were folded into: keep time order.
    due.dropped = dropped.into();
    due.dropped.sort_by_key(|(at, _)| at.utc_us());
    on_time_late.append(&mut due.fire);
    due.fire = on_time_late;
    due.next_run_time = trigger.next_fire_time(Some(&last), until);
    Some(due)
}
