//! APScheduler 3.11's `IntervalTrigger`, including its float timestamp arithmetic (fire times
//! are `start + n * interval` computed in `float` seconds and rounded back to microseconds).

use super::zoned::{Zdt, Zone};

#[derive(Clone, Copy, Debug)]
pub struct IntervalTrigger {
    /// Whole seconds; never zero (APScheduler turns a zero interval into one second).
    pub(super) interval_secs: i64,
    pub(super) start_date: Zdt,
    pub(super) end_date: Option<Zdt>,
    pub(super) zone: Zone,
}

impl IntervalTrigger {
    /// `get_next_fire_time(previous, now)` without jitter ([`super::Schedule::jitter`] adds it).
    pub fn next_fire_time(&self, previous: Option<&Zdt>, now: &Zdt) -> Option<Zdt> {
        let length = self.interval_secs as f64;
        let next = match previous {
            Some(prev) => prev.timestamp() + length,
            None if self.start_date.py_cmp(now).is_gt() => self.start_date.timestamp(),
            None => {
                let start = self.start_date.timestamp();
                start + length * ((now.timestamp() - start) / length).ceil()
            }
        };
        if self.end_date.is_some_and(|end| next > end.timestamp()) {
            return None;
        }
        Zdt::from_timestamp(next, self.zone)
    }
}

impl std::fmt::Display for IntervalTrigger {
    /// `interval[<Python timedelta str>]`: `0:00:10`, `1 day, 12:00:00`, `9 days, 3:04:05`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let days = self.interval_secs / 86_400;
        let rest = self.interval_secs % 86_400;
        f.write_str("interval[")?;
        if days != 0 {
            write!(f, "{days} day{}, ", if days == 1 { "" } else { "s" })?;
        }
        write!(f, "{}:{:02}:{:02}]", rest / 3600, rest / 60 % 60, rest % 60)
    }
}
