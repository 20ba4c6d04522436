//! APScheduler's handling of due jobs (`_process_jobs` + `run_job`) as a pure function:
//! which scheduled times fire, which are skipped (and why), and the job's new next run time.

use super::{Trigger, Zdt};
use super::civil::US_PER_SEC;

/// What a scheduler does with one due job at `now`.
#[derive(Clone, Debug, Default)]
pub struct Due {
    /// Scheduled times to publish now, oldest first.
    pub fire: Vec<Zdt>,
    /// Scheduled times dropped because coalescing kept only the latest.
    pub coalesced: u64,
    /// Scheduled times dropped because they were later than `misfire_grace_time`.
    pub missed: u64,
    /// The job's next run time; `None` means the trigger is finished (remove the job).
    pub next_run_time: Option<Zdt>,
}

/// Cap on scheduled times published for one job in one tick when not coalescing; older
/// ones count as missed. (APScheduler has no cap and would publish millions after an outage.)
pub const MAX_CATCH_UP_FIRES: usize = 1000;

/// `next_run_time` is the job's stored next run time; returns `None` when it is not due.
/// `grace_secs = None` means unlimited lateness.
pub fn process_due(trigger: &Trigger, next_run_time: &Zdt, now: &Zdt, grace_secs: Option<u32>, coalesce: bool) -> Option<Due> {
    let now_us = now.utc_us();
    if next_run_time.utc_us() > now_us {
        return None;
    }
    let on_time = |run: &Zdt| match grace_secs {
        Some(grace) => now_us - run.utc_us() <= i64::from(grace) * US_PER_SEC,
        None => true,
    };
    let mut due = Due::default();
    let mut last = *next_run_time;
    let mut scheduled: u64 = 0;
    let mut current = Some(*next_run_time);
    while let Some(run) = current.filter(|r| r.utc_us() <= now_us) {
        scheduled += 1;
        if !coalesce {
            if on_time(&run) {
                due.fire.push(run);
            } else {
                due.missed += 1;
            }
            if due.fire.len() > MAX_CATCH_UP_FIRES {
                due.fire.remove(0);
                due.missed += 1;
            }
        }
        last = run;
        current = trigger.next_fire_time(Some(&run), now);
    }
    if coalesce {
        due.coalesced = scheduled - 1;
        if on_time(&last) {
            due.fire.push(last);
        } else {
            due.missed += 1;
        }
    }
    due.next_run_time = trigger.next_fire_time(Some(&last), now);
    Some(due)
}
