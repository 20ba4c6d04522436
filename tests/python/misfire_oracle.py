"""What APScheduler 3.11.3 does with a due job at a given instant: the oracle of the misfire test
in tests/firing_e2e.rs.

Reads a JSON list of cases on stdin and prints a JSON list of outcomes, one per case:

    case    = {"id", "trigger": "date"|"interval"|"cron", "fields": {trigger fields as stored},
               "timezone", "start_date_us": int|null (interval), "next_run_time_us": int,
               "now_us": int, "misfire_grace_time": int|null, "coalesce": bool,
               "summary": bool (optional)}
    outcome = {"id", "run_times": [str], "fired": [[str, utc_us]], "missed": [[str, utc_us]],
               "coalesced": int, "next_run_time": [str, utc_us] | null}
    With "summary" (long outages: many thousand run times), "run_times" is their count and
    "missed" the count of missed run times instead of their list.

Nothing is re-implemented: each case runs APScheduler's own scheduler loop
(`BaseScheduler._process_jobs`: `Job._get_run_times(now)`, the coalesce cut, the executor's
`run_job` with its misfire_grace_time check, then `trigger.get_next_fire_time(last, now)` or
removal) on a job with the given trigger and stored next_run_time, with the clock of both
modules frozen at `now` (the tick's Redis TIME). The executor is APScheduler's DebugExecutor,
which runs the job in the calling thread; fired and missed run times are read from the
scheduler's own EVENT_JOB_EXECUTED / EVENT_JOB_MISSED events.
"""

import json
import sys
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import apscheduler
import apscheduler.executors.base as executors_base
import apscheduler.schedulers.base as schedulers_base
from apscheduler.events import EVENT_JOB_EXECUTED, EVENT_JOB_MISSED
from apscheduler.executors.debug import DebugExecutor
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

assert apscheduler.__version__ == '3.11.3', apscheduler.__version__

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
FROZEN = {'now': None}


class FrozenDatetime(datetime):
    """`datetime` whose now() is the case's instant (the rest is the real class)."""

    @classmethod
    def now(cls, tz=None):
        now = FROZEN['now']
        return now.astimezone(tz) if tz is not None else now.astimezone().replace(tzinfo=None)


schedulers_base.datetime = FrozenDatetime
executors_base.datetime = FrozenDatetime


class OracleScheduler(BaseScheduler):
    """A scheduler without a thread: _process_jobs is called by hand."""

    def wakeup(self):
        pass

    def shutdown(self, wait=True):
        super().shutdown(wait)


def at(utc_us, tz):
    return (EPOCH + timedelta(microseconds=utc_us)).astimezone(tz)


def us(dt):
    delta = dt - EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def trigger_of(case, tz):
    fields = {k: v for k, v in case['fields'].items() if v is not None}
    kind = case['trigger']
    if kind == 'interval':
        start = at(case['start_date_us'], tz)
        return IntervalTrigger(**{k: int(v) for k, v in fields.items()}, start_date=start, timezone=tz)
    if kind == 'cron':
        return CronTrigger(**{k: str(v) for k, v in fields.items()}, timezone=tz)
    if kind == 'date':
        return DateTrigger(run_date=fields['run_date'], timezone=tz)
    raise ValueError(kind)


def noop():
    pass


def run(case):
    tz = ZoneInfo(case['timezone'])
    FROZEN['now'] = at(case['now_us'], timezone.utc)
    scheduler = OracleScheduler(timezone=tz, executors={'default': DebugExecutor()})
    events = []
    scheduler.add_listener(events.append, EVENT_JOB_EXECUTED | EVENT_JOB_MISSED)
    scheduler.start()
    try:
        scheduler.add_job(
            noop,
            trigger_of(case, tz),
            id='job',
            misfire_grace_time=case['misfire_grace_time'],
            coalesce=case['coalesce'],
            max_instances=1,
            next_run_time=at(case['next_run_time_us'], tz),
        )
        job = scheduler.get_job('job')
        run_times = job._get_run_times(FROZEN['now'].astimezone(tz))
        scheduler._process_jobs()
        after = scheduler.get_job('job')
    finally:
        scheduler.shutdown(wait=False)
    fired = [[str(e.scheduled_run_time), us(e.scheduled_run_time)] for e in events if e.code == EVENT_JOB_EXECUTED]
    missed = [[str(e.scheduled_run_time), us(e.scheduled_run_time)] for e in events if e.code == EVENT_JOB_MISSED]
    kept = len(run_times[-1:]) if case['coalesce'] else len(run_times)
    next_run = after.next_run_time if after is not None else None
    summary = case.get('summary', False)
    return {
        'id': case['id'],
        'run_times': len(run_times) if summary else [str(t) for t in run_times],
        'fired': fired,
        'missed': len(missed) if summary else missed,
        'coalesced': len(run_times) - kept,
        'next_run_time': [str(next_run), us(next_run)] if next_run is not None else None,
    }


def main():
    cases = json.load(sys.stdin)
    json.dump([run(case) for case in cases], sys.stdout)


if __name__ == '__main__':
    main()
