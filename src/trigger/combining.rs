//! APScheduler 3.11's `OrTrigger` and `AndTrigger`, over full trigger parts (each with its
//! own zone, dates and jitter, as APScheduler allows).
//!
//! `or`: the earliest of the parts' next fire times, each part given the combined trigger's
//! previous fire time; finished when every part is.
//!
//! `and`, first fire (no previous fire time): APScheduler's own loop. Every part answers for
//! `now`; while they disagree (Python's `==` between the earliest and the latest answer),
//! `now` moves to the latest answer. The result is the first part's answer. When `now` would
//! not move (asked again, the parts would answer the same), they never agree.
//!
//! `and`, later fires: APScheduler's loop cannot move on (a cron part given a previous fire
//! time ignores `now`), so it repeats forever unless the parts agree at once. funboost-edge
//! fires instead at **the earliest instant after the previous fire `p` that every part gives**,
//! where a part gives the times it would fire as a job's trigger after `p`:
//! `x1 = part.get_next_fire_time(p, now)`, then `x(k+1) = part.get_next_fire_time(xk, xk)`.
//! Parts agree when they give the same instant; the result is the first part's time.
//!
//! Both searches are bounded: [`MAX_AND_SEARCH_YEARS`] past where they start and
//! [`MAX_AND_SEARCH_EVALUATIONS`] part evaluations per next-fire-time computation. A search
//! that runs out counts as "no common fire time": a new job with such a trigger is refused
//! ([`super::Schedule::build`]); a running job's trigger is then finished.
//!
//! Fire times come back in the combined trigger's zone (see [`CombiningTrigger`]): APScheduler
//! returns the winning part's own datetime; the instant is the same.

use super::calendar_interval::py_timedelta_us;
use super::civil::US_PER_SEC;
use super::interval::IntervalTrigger;
use super::zoned::{Zdt, Zone};
use super::{Schedule, Trigger};

/// Combining triggers nest at most this deep (`or[and[or[...]]]` is the limit).
pub const MAX_COMBINING_DEPTH: usize = 3;

/// At most this many parts per combining trigger.
pub const MAX_COMBINED_PARTS: usize = 16;

/// An `and` search moves at most this far (36,525 days) past where it started: the `now` it
/// was asked about for a first fire, the previous fire after that.
pub const MAX_AND_SEARCH_YEARS: i64 = 100;

/// At most this many part evaluations (a part's next fire time, or one step through its
/// fire times) per next-fire-time computation of a trigger holding an `and`.
pub const MAX_AND_SEARCH_EVALUATIONS: u32 = 10_000;

const HORIZON_US: i64 = MAX_AND_SEARCH_YEARS * 36_525 / 100 * 86_400 * US_PER_SEC;

/// How far before an offset change a search for a part's last fire before it starts
/// (doubled until one is found).
const FIRST_LOOK_BACK_US: i64 = US_PER_SEC;

/// `or` or `and` over parts.
#[derive(Clone, Debug)]
pub struct CombiningTrigger {
    pub(super) parts: Vec<Schedule>,
    /// The zone its fire times are given in: the zone parts without their own `timezone`
    /// take (the job's) when there are such parts, else the first part's.
    pub(super) zone: Zone,
}

/// The budget of one next-fire-time computation.
#[derive(Debug, Default)]
pub(super) struct Search {
    evaluations: u32,
    /// Set when an `and` search ran out of its bounds.
    pub(super) exhausted: bool,
}

impl Search {
    fn count(&mut self) {
        self.evaluations += 1;
    }

    /// Whether the budget is spent (and marks the search as exhausted if so). A nested
    /// search that gave up for another reason does not stop the others.
    fn spent(&mut self) -> bool {
        let spent = self.evaluations >= MAX_AND_SEARCH_EVALUATIONS;
        self.exhausted |= spent;
        spent
    }
}

impl CombiningTrigger {
    /// A fire time of a part, in this trigger's zone (`astimezone`: kept as is in the same zone).
    pub(super) fn in_zone(&self, fire: Zdt) -> Zdt {
        match fire.zone() == self.zone {
            true => fire,
            false => Zdt::from_utc(fire.utc_us(), self.zone),
        }
    }

    /// `OrTrigger.get_next_fire_time`: Python's `min` of the parts' answers.
    pub(super) fn or_next<'u>(
        &self,
        previous: Option<&Zdt>,
        now: &Zdt,
        search: &mut Search,
        mut uniform: Option<&mut (dyn FnMut() -> f64 + 'u)>,
    ) -> Option<Zdt> {
        let mut earliest: Option<Zdt> = None;
        for part in &self.parts {
            if let Some(fire) = part.eval(previous, now, search, uniform.as_deref_mut()) {
                if earliest.is_none_or(|e| fire.py_cmp(&e).is_lt()) {
                    earliest = Some(fire);
                }
            }
        }
        earliest
    }

    /// `AndTrigger.get_next_fire_time`, bounded (see the module documentation).
    pub(super) fn and_next(&self, previous: Option<&Zdt>, now: &Zdt, search: &mut Search) -> Option<Zdt> {
        match previous {
            None => self.and_first(now, search),
            Some(previous) => self.and_after(previous, now, search),
        }
    }

    /// APScheduler's loop: ask every part about `now`; until they agree, move `now` to the
    /// latest answer.
    fn and_first(&self, now: &Zdt, search: &mut Search) -> Option<Zdt> {
        let origin_us = now.utc_us();
        let mut now = *now;
        loop {
            if search.spent() {
                return None;
            }
            // Every part answers before any `None` counts, as in APScheduler's list.
            let answers: Vec<Option<Zdt>> = self.parts.iter().map(|part| part.eval(None, &now, search, None)).collect();
            let fires: Vec<Zdt> = answers.into_iter().collect::<Option<_>>()?;
            if fires.is_empty() {
                return None;
            }
            let (earliest, latest) = (py_min(&fires), py_max(&fires));
            if earliest.py_eq(&latest) {
                return Some(fires[0]);
            }
            // Asked the same again, the parts would answer the same: APScheduler loops forever.
            if latest == now || latest.utc_us() - origin_us > HORIZON_US {
                search.exhausted = true;
                return None;
            }
            now = latest;
        }
    }

    /// The earliest instant after `previous` that every part gives: each part proposes its
    /// next fire time; while they differ, the parts behind move to their first fire time at
    /// or after the latest proposal.
    fn and_after(&self, previous: &Zdt, now: &Zdt, search: &mut Search) -> Option<Zdt> {
        let answers: Vec<Option<Zdt>> = self.parts.iter().map(|part| part.eval(Some(previous), now, search, None)).collect();
        let mut proposals: Vec<Zdt> = answers.into_iter().collect::<Option<_>>()?;
        loop {
            let latest_us = proposals.iter().map(Zdt::utc_us).max()?;
            if proposals.iter().all(|p| p.utc_us() == latest_us) {
                return Some(proposals[0]);
            }
            // Each round counts too, so that no round can repeat for free.
            search.count();
            if latest_us - previous.utc_us() > HORIZON_US || search.spent() {
                search.exhausted = true;
                return None;
            }
            let latest = *proposals.iter().find(|p| p.utc_us() == latest_us)?;
            for (part, proposal) in self.parts.iter().zip(proposals.iter_mut()) {
                if proposal.utc_us() < latest_us {
                    *proposal = part.seek(previous, proposal, &latest, search)?;
                }
            }
        }
    }

    /// Whether the parts' fire times depend only on where a search starts (cron and date
    /// parts, and `or`s of them), not on the previous fire time.
    fn memoryless(&self) -> bool {
        self.parts.iter().all(|part| match &part.trigger {
            Trigger::Cron(_) | Trigger::Date(_) => true,
            Trigger::Or(c) => c.memoryless(),
            _ => false,
        })
    }

    /// The first offset change (UTC µs) after `at_us` in the zone of any cron part.
    fn next_offset_change(&self, at_us: i64) -> Option<i64> {
        self.parts
            .iter()
            .filter_map(|part| match &part.trigger {
                Trigger::Cron(t) => next_offset_change(t.zone, at_us),
                Trigger::Or(c) => c.next_offset_change(at_us),
                _ => None,
            })
            .min()
    }
}

impl Schedule {
    /// APScheduler's `get_next_fire_time` of this part, its jitter drawn from `uniform` when
    /// given. The answer is in the zone APScheduler gives it (a combining trigger: its
    /// winning part's), not yet in the combined trigger's.
    pub(super) fn eval<'u>(&self, previous: Option<&Zdt>, now: &Zdt, search: &mut Search, mut uniform: Option<&mut (dyn FnMut() -> f64 + 'u)>) -> Option<Zdt> {
        let fire = match &self.trigger {
            Trigger::Or(c) => c.or_next(previous, now, search, uniform.as_deref_mut()),
            Trigger::And(c) => c.and_next(previous, now, search),
            leaf => {
                search.count();
                leaf.next_fire_time(previous, now)
            }
        };
        match uniform {
            Some(uniform) => self.jitter(fire, uniform),
            None => fire,
        }
    }

    /// The first of this part's fire times after `previous` (see the module documentation)
    /// at or after `target`'s instant; `cursor` is one of them, before it. `None` when the
    /// part has none (or the search ran out).
    fn seek(&self, previous: &Zdt, cursor: &Zdt, target: &Zdt, search: &mut Search) -> Option<Zdt> {
        match &self.trigger {
            Trigger::Date(_) => None,
            Trigger::Interval(t) => {
                search.count();
                interval_seek(t, previous, target)
            }
            Trigger::Cron(t) => self.seek_memoryless(cursor, target, |at_us| next_offset_change(t.zone, at_us), search),
            Trigger::Or(c) if c.memoryless() => self.seek_memoryless(cursor, target, |at_us| c.next_offset_change(at_us), search),
            // An interval or calendar part inside an `or` restarts from whichever part fired
            // last, and an `and`'s next time depends on its previous: step through them.
            _ => walk(self, *cursor, target.utc_us(), search),
        }
    }

    /// A cron part's (or an `or` of them) first fire at or after `target`. Between offset
    /// changes its fires are all its matches in order, and a search from `target` finds the
    /// next one. Across an offset change they are not: APScheduler's search moves by
    /// wall-clock differences added in UTC, so a step across a change can skip a match (a
    /// daily 00:15 in Moscow went from 1997-03-30 to 04-01) or land on a wall time inside the
    /// gap. So it steps across each change as APScheduler does, from the last fire before it.
    fn seek_memoryless(&self, cursor: &Zdt, target: &Zdt, next_change: impl Fn(i64) -> Option<i64>, search: &mut Search) -> Option<Zdt> {
        let mut fire = *cursor;
        loop {
            if fire.utc_us() >= target.utc_us() {
                return Some(fire);
            }
            let change_us = match next_change(fire.utc_us()) {
                Some(change_us) if change_us <= target.utc_us() => change_us,
                _ => return jump(self, target.utc_us(), search),
            };
            fire = walk(self, self.last_fire_before(fire, change_us, search)?, change_us, search)?;
        }
    }

    /// A fire of this memoryless part before `change_us` with none between it and the change
    /// other than what a few steps cover: `fire` itself, or a search from shortly before.
    fn last_fire_before(&self, fire: Zdt, change_us: i64, search: &mut Search) -> Option<Zdt> {
        let mut back = FIRST_LOOK_BACK_US;
        loop {
            let from_us = change_us - back;
            if from_us <= fire.utc_us() {
                return Some(fire);
            }
            let found = jump(self, from_us, search)?;
            if found.utc_us() < change_us {
                return Some(found);
            }
            back = back.saturating_mul(2);
        }
    }
}

/// The part's first fire at or after `at_us`, by its own search: `get_next_fire_time(t, t)`
/// for `t` one microsecond earlier.
fn jump(part: &Schedule, at_us: i64, search: &mut Search) -> Option<Zdt> {
    let just_before = Zdt::from_utc(at_us - 1, part.trigger.zone());
    part.eval(Some(&just_before), &just_before, search, None)
}

/// Steps through a part's fire times from `from` until one is at or after `target_us`.
fn walk(part: &Schedule, from: Zdt, target_us: i64, search: &mut Search) -> Option<Zdt> {
    let mut fire = from;
    while fire.utc_us() < target_us {
        if search.spent() {
            return None;
        }
        fire = part.eval(Some(&fire), &fire, search, None)?;
    }
    Some(fire)
}

/// An interval part's fire times after `previous` are `previous + k * interval`: the first at
/// or after `target`, by APScheduler's own last step (so its end date and float rounding apply).
fn interval_seek(t: &IntervalTrigger, previous: &Zdt, target: &Zdt) -> Option<Zdt> {
    let step_us = t.interval_secs * US_PER_SEC;
    let steps = (target.utc_us() - previous.utc_us() + step_us - 1).div_euclid(step_us).max(1);
    let before = Zdt::from_utc(previous.utc_us() + (steps - 1) * step_us, t.zone);
    t.next_fire_time(Some(&before), target)
}

/// The first offset change (UTC µs) of `zone` after `at_us`; `None` for fixed zones (and
/// outside the years the offset tables cover).
fn next_offset_change(zone: Zone, at_us: i64) -> Option<i64> {
    let span = zone.span_at(at_us.div_euclid(US_PER_SEC))?;
    (span.end != i64::MAX).then(|| span.end.saturating_mul(US_PER_SEC))
}

/// Python's `min(list)`: the first of the smallest.
fn py_min(fires: &[Zdt]) -> Zdt {
    fires.iter().skip(1).fold(fires[0], |best, f| if f.py_cmp(&best).is_lt() { *f } else { best })
}

/// Python's `max(list)`: the first of the largest.
fn py_max(fires: &[Zdt]) -> Zdt {
    fires.iter().skip(1).fold(fires[0], |best, f| if f.py_cmp(&best).is_gt() { *f } else { best })
}

/// APScheduler's `_apply_jitter` for calendar-interval and combining triggers:
/// `fire + timedelta(seconds=delay)`, on the wall clock.
pub(super) fn wall_jitter(fire: Zdt, delay_secs: f64) -> Zdt {
    Zdt::from_wall(fire.wall_us() + py_timedelta_us(delay_secs), fire.zone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trigger::TriggerSpec;

    fn ny() -> Zone {
        Zone::parse("America/New_York").expect("zone")
    }

    /// UTC µs of a UTC wall time.
    fn utc(text: &str) -> i64 {
        crate::trigger::parse_datetime("t", text, Zone::Utc).expect("time").utc_us()
    }

    fn build(body: serde_json::Value, now_us: i64) -> Schedule {
        let spec: TriggerSpec = serde_json::from_value(body).expect("spec");
        Schedule::build(&spec, ny(), now_us).expect("valid")
    }

    #[test]
    fn offset_changes_are_found_after_any_instant() {
        // New York: 2026-03-08 07:00 UTC (02:00 EST becomes 03:00 EDT), 2026-11-01 06:00 UTC.
        let cases = [
            ("2026-01-15 00:00:00", Some("2026-03-08 07:00:00")),
            ("2026-03-08 06:59:59", Some("2026-03-08 07:00:00")),
            ("2026-03-08 07:00:00", Some("2026-11-01 06:00:00")),
        ];
        for (at, change) in cases {
            assert_eq!(next_offset_change(ny(), utc(at)), change.map(utc), "{at}");
        }
        assert_eq!(next_offset_change(Zone::Utc, utc("2026-03-08 07:30:00")), None);
    }

    #[test]
    fn an_interval_part_steps_from_the_previous_fire_not_from_its_start() {
        let body = serde_json::json!({"trigger": "interval", "hours": 7, "start_date": "2026-01-01 00:00:00", "timezone": "UTC"});
        let Trigger::Interval(t) = build(body, 0).trigger else { panic!("an interval") };
        let previous = Zdt::from_utc(utc("2026-01-10 00:00:30"), Zone::Utc);
        let cases = [
            ("2026-01-10 00:00:31", "2026-01-10 07:00:30"),
            ("2026-01-10 07:00:30", "2026-01-10 07:00:30"),
            ("2026-01-10 07:00:31", "2026-01-10 14:00:30"),
            ("2026-01-09 00:00:00", "2026-01-10 07:00:30"),
        ];
        for (target, expected) in cases {
            let target = Zdt::from_utc(utc(target), Zone::Utc);
            assert_eq!(interval_seek(&t, &previous, &target).map(|f| f.utc_us()), Some(utc(expected)), "{}", target.py_str());
        }
    }

    #[test]
    fn python_min_and_max_keep_the_first_of_equal_wall_times() {
        // 01:30 EDT and 01:30 EST: the same wall time in one zone, so Python calls them equal.
        let wall = crate::trigger::civil::Civil { year: 2026, month: 11, day: 1, hour: 1, minute: 30, second: 0, micro: 0 }.to_us();
        let (first, second) = (Zdt::from_wall_fold(wall, false, ny()), Zdt::from_wall_fold(wall, true, ny()));
        assert_eq!(py_min(&[first, second]), first);
        assert_eq!(py_max(&[first, second]), first);
        assert_eq!(py_max(&[second, first]), second);
        assert!(first.py_eq(&second));
    }

    #[test]
    fn and_follows_apschedulers_steps_across_an_offset_change() {
        // APScheduler's daily 00:15 in Moscow steps from 1997-03-30 to 04-01 (the spring
        // forward at 02:00 on the 30th pushes its search past the 31st): so does the and, though
        // its other parts give 03-31 00:15.
        let body = serde_json::json!({"trigger": "and", "triggers": [
            {"trigger": "cron", "day": "last", "hour": 0, "minute": 15, "timezone": "Europe/Moscow"},
            {"trigger": "cron", "hour": 0, "minute": 15, "timezone": "Europe/Moscow"},
        ]});
        let now = utc("1997-01-01 00:00:00");
        let schedule = build(body, now);
        let fires: Vec<String> = schedule.trigger.upcoming(&Zdt::from_utc(now, schedule.zone()), 4).iter().map(Zdt::py_str).collect();
        assert_eq!(fires, ["1997-01-31 00:15:00+03:00", "1997-02-28 00:15:00+03:00", "1997-04-30 00:15:00+04:00", "1997-05-31 00:15:00+04:00"]);
    }

    #[test]
    fn and_fires_inside_a_spring_forward_gap_as_its_parts_do() {
        // A daily 02:30 fires at the non-existent 02:30-05:00 on 2026-03-08 (found by walking
        // its fires, not by a search from 03:00). An hourly :30 gives the same instant as
        // 03:30-04:00: the parts agree, and the first part's wall time is the answer.
        let cases = [
            (
                serde_json::json!({"trigger": "and", "triggers": [{"trigger": "cron", "hour": 2, "minute": 30}, {"trigger": "cron", "day": "1-31", "hour": 2, "minute": 30}]}),
                "2026-03-08 02:30:00-05:00",
            ),
            (
                serde_json::json!({"trigger": "and", "triggers": [{"trigger": "cron", "hour": 2, "minute": 30}, {"trigger": "cron", "minute": 30}]}),
                "2026-03-08 02:30:00-05:00",
            ),
            (
                serde_json::json!({"trigger": "and", "triggers": [{"trigger": "cron", "minute": 30}, {"trigger": "cron", "hour": 2, "minute": 30}]}),
                "2026-03-08 03:30:00-04:00",
            ),
        ];
        for (body, expected) in cases {
            let schedule = build(body.clone(), utc("2026-03-06 12:00:00"));
            let fires: Vec<String> = schedule.trigger.upcoming(&Zdt::from_utc(utc("2026-03-06 12:00:00"), ny()), 4).iter().map(Zdt::py_str).collect();
            assert!(fires.iter().any(|f| f == expected), "{body}: {fires:?}");
        }
    }
}
