"""funboost's own timing jobs in Redis, for tests/import_funboost_jobs.rs.

    python funboost_aps_jobs.py create        --project DIR --port P
    python funboost_aps_jobs.py create-firing --project DIR --port P
    python funboost_aps_jobs.py expected      --project DIR --port P --count N

`create` makes DIR a funboost project (funboost_config.py for Redis 127.0.0.1:P DB 7, as
funboost_worker.py's enter_funboost_project writes it), starts the consumers of queues
`orders` (def orders(x, y=5)) and `reports` (def reports(name, when='daily')) so that they
register themselves, and stores timing jobs with funboost 55's ApsJobAdder(job_store_kind='redis')
(its schedulers started paused, so nothing fires and nothing moves): date, interval and cron
jobs in several zones, with start/end dates, jitter, misfire options and one paused job;
OrTrigger / AndTrigger / CalendarIntervalTrigger jobs, passed to add_push_job as trigger objects
(APScheduler 3.11.3 cannot make them by name), nested, with parts in DST zones, each part with
its own zone, start/end dates and jitter, a calendar interval on the 31st, across a DST gap and
fold, on February 29th, from a start date long past; plus jobs that cannot move to funboost-edge
(a part with a sub-second interval, an and whose parts never agree, an or stepping a calendar
interval from fires in another zone, a function that is not funboost's push, arguments the
consumer does not take, a queue no consumer registered).
It prints {"jobs": {job_id: {"queue", "movable", "why"}}} as JSON on its last line.

`create-firing` makes DIR a funboost project the same way (queue `orders` only) and stores three
jobs that fire within seconds (fire_or, fire_and, fire_calendar: the calendar interval's time of
day is 20 s from now), with misfire_grace_time 60, for a real fire through funboost-edge's tick.

`expected` reads the pickles back (pickle.loads, as APScheduler's RedisJobStore does) and has
APScheduler compute each trigger's fire times, as `str(datetime)` (the way funboost prints
next_run_time) in "fires" and as Unix microseconds in "fires_us":
- date, interval and cron jobs, and paused jobs (resumed, APScheduler starts afresh): from now,
  get_next_fire_time(None, now), then get_next_fire_time(previous, previous), up to N;
- running calendarinterval / or / and jobs: APScheduler's scheduler goes on from the next run
  time it stored, so their fire times are that one and get_next_fire_time(previous, previous)
  after it: the ones from 2 minutes ago on, up to N (the test finds where funboost-edge's
  next_run_times start among them).
An AndTrigger whose parts never agree makes APScheduler 3 loop forever: after 10,000 rounds the
list stops there and "endless" is true. It prints {job_id: {"queue", "paused", "next_run_time",
"next_run_time_us", "fires", "fires_us", "one_zone", "endless", "str"}} as JSON on its last
line ("one_zone": every fire is in the same zone, so funboost-edge prints them the same;
"str": str(trigger)).
"""

import argparse
import datetime
import json
import os
import pickle
import sys
import zoneinfo

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from funboost_worker import enter_funboost_project  # noqa: E402

MOVABLE = {
    # job_id: (queue, what it exercises)
    'date_shanghai': ('orders', 'date, naive run_date in the scheduler zone (Asia/Shanghai)'),
    'date_offset': ('orders', 'date, run_date with a +05:30 offset'),
    'interval_new_york': ('orders', 'interval 1h30m in America/New_York across the 2030 spring-forward, its last fire exactly on its end date'),
    'interval_default_start': ('reports', 'interval 45 min, start_date defaulted by APScheduler to now + interval (microseconds)'),
    'cron_london': ('reports', 'cron mon-fri 09:30 Europe/London, start and end dates across the 2030 fall-back (12 fires, the last on the inclusive end), no grace limit, no coalesce'),
    'cron_kolkata': ('reports', 'cron last day of the month every 6 hours at :15, Asia/Kolkata, grace 30 s'),
    'cron_sydney': ('orders', 'cron first Monday of jan-mar at 02:00, Australia/Sydney'),
    'cron_utc_years': ('orders', 'cron 12:00 in 2031-2032, UTC'),
    'cron_jitter': ('orders', 'cron every 10 minutes with 5 s jitter'),
    'paused_cron': ('reports', 'cron 03:00 America/Los_Angeles, paused'),
    'or_trigger': ('orders', 'or of two crons in the local zone (Etc/UTC here)'),
    'or_zones': ('reports', 'or: weekdays 09:00 Europe/Berlin and weekends 11:30 America/New_York, each with its own start/end dates, across both 2031 spring-forwards (20 fires, the last on both inclusive ends)'),
    'or_interval_cron': ('orders', 'or of an interval (5 h, restarting from whichever part fired) and a cron, Australia/Sydney across its 2031 fall-back'),
    'or_nested': ('orders', 'or[and[cron Asia/Kolkata, cron UTC agreeing], or[date America/Chicago, interval Europe/London with end date], cron last day UTC with start/end]'),
    'or_jitter': ('reports', 'or with jitter 10 over a cron with its own jitter 20 and a cron without'),
    'and_zones': ('reports', 'and of mon-fri 14:00 Europe/London and mon-fri 15:00 Europe/Paris (the same instants, across the 2031 spring-forward)'),
    'and_or_calendar': ('reports', 'and[or[calendarinterval daily 09:00, cron saturdays 09:00], cron 09:00], Europe/Paris across its 2031 spring-forward'),
    'and_friday13': ('orders', 'and of day 13 and Fridays at noon, Europe/Rome, paused: resumed, APScheduler searches for the first Friday the 13th (and loops forever after it)'),
    'calendar_monthly': ('orders', 'calendarinterval months=1 09:00 Asia/Shanghai, start date defaulted by APScheduler to today'),
    'calendar_31st': ('reports', 'calendarinterval months=1 on the 31st at 23:30 America/New_York, skipping the short months, to an inclusive end date (9 fires)'),
    'calendar_dst': ('reports', 'calendarinterval days=1 at 02:30 America/New_York: the spring-forward day is skipped'),
    'calendar_fold': ('orders', 'calendarinterval weeks=1 at 01:30 Europe/London: the fall-back day fires at the first 01:30'),
    'calendar_leap': ('orders', 'calendarinterval years=1 from 2028-02-29 at 08:00 Australia/Sydney: only leap years, not 2100'),
    'calendar_past_start': ('reports', 'calendarinterval months=1 from 2024-01-31 09:00 Asia/Shanghai: funboost stored its first run, long past'),
    'calendar_jitter': ('orders', 'calendarinterval weeks=2 at 06:00 UTC with jitter 30: the first run is funboost\'s jittered one'),
}
# Added paused (add_push_job(next_run_time=None)): funboost computes no run time for them.
PAUSED = {'paused_cron', 'and_friday13', 'and_impossible'}
UNMOVABLE = {
    'or_subsecond': ('orders', 'or with a 0.5 s interval part'),
    'and_impossible': ('orders', 'and whose parts never fire together (funboost-edge refuses it)'),
    'or_calendar_zones': ('orders', 'or stepping a calendarinterval part (Asia/Tokyo) from a cron part\'s fires (UTC)'),
    'not_a_push': ('orders', 'function is not funboost push'),
    'bad_params': ('orders', 'arguments do not fit (5001)'),
    'ghost_job': ('ghost_queue', 'queue no consumer registered (4001)'),
}


def consumers(*names):
    """The funboost consumers of `names` (orders, reports), started: starting a consumer
    registers its queue (funboost_all_queue_names) and its parameters."""
    from funboost import BoosterParams, BrokerEnum, boost

    @boost(BoosterParams(queue_name='orders', broker_kind=BrokerEnum.REDIS, create_logger_file=False))
    def orders(x, y=5):
        return x + y

    @boost(BoosterParams(queue_name='reports', broker_kind=BrokerEnum.REDIS, create_logger_file=False))
    def reports(name, when='daily'):
        return name, when

    boosters = {'orders': orders, 'reports': reports}
    for name in names:
        boosters[name].consume()
    return [boosters[name] for name in names]


def create():
    from apscheduler.triggers.calendarinterval import CalendarIntervalTrigger as Calendar
    from apscheduler.triggers.combining import AndTrigger, OrTrigger
    from apscheduler.triggers.cron import CronTrigger as Cron
    from apscheduler.triggers.date import DateTrigger
    from apscheduler.triggers.interval import IntervalTrigger
    from funboost import ApsJobAdder
    from funboost.timing_job.timing_job_base import push_fun_params_to_broker

    orders, reports = consumers('orders', 'reports')

    # Each queue's scheduler over its own Redis keys, started paused: it stores, never fires.
    o = ApsJobAdder(orders, job_store_kind='redis', is_auto_start=True, is_auto_paused=True)
    r = ApsJobAdder(reports, job_store_kind='redis', is_auto_start=True, is_auto_paused=True)

    o.add_push_job(trigger='date', run_date='2031-05-04 10:20:30', args=(1, 2), id='date_shanghai')
    o.add_push_job(trigger='date', run_date='2031-06-01 08:00:00+05:30', kwargs={'x': 3}, id='date_offset')
    o.add_push_job(trigger='interval', hours=1, minutes=30, timezone='America/New_York',
                   start_date='2030-03-09 23:00:00', end_date='2030-03-10 12:00:00',
                   args=(4,), kwargs={'y': 6}, id='interval_new_york')
    r.add_push_job(trigger='interval', minutes=45, kwargs={'name': 'hourly-ish'}, id='interval_default_start')
    r.add_push_job(trigger='cron', day_of_week='mon-fri', hour=9, minute=30, timezone='Europe/London',
                   start_date='2030-10-20', end_date='2030-11-05 09:30:00',
                   misfire_grace_time=None, coalesce=False, args=('london',), id='cron_london')
    r.add_push_job(trigger='cron', day='last', hour='*/6', minute=15, timezone='Asia/Kolkata',
                   misfire_grace_time=30, kwargs={'name': 'kolkata', 'when': 'monthly'}, id='cron_kolkata')
    o.add_push_job(trigger='cron', month='jan-mar', day='1st mon', hour=2, timezone='Australia/Sydney',
                   kwargs={'x': {'nested': [1, 2, {'deep': True}]}, 'y': None}, id='cron_sydney')
    o.add_push_job(trigger='cron', year='2031-2032', hour=12, minute=0, timezone='UTC', args=(7, 8), id='cron_utc_years')
    o.add_push_job(trigger='cron', minute='*/10', jitter=5, args=(9,), id='cron_jitter')
    r.add_push_job(trigger='cron', hour=3, timezone='America/Los_Angeles', kwargs={'name': 'nightly'}, id='paused_cron')
    r.aps_obj.pause_job('paused_cron')

    # or / and / calendarinterval: trigger objects (add_job takes no such names in 3.11.3).
    o.add_push_job(trigger=OrTrigger([Cron(hour=1), Cron(hour=13)]), args=(1,), id='or_trigger')
    r.add_push_job(trigger=OrTrigger([
        Cron(day_of_week='mon-fri', hour=9, timezone='Europe/Berlin', start_date='2031-03-24', end_date='2031-04-04 09:00:00'),
        Cron(day_of_week='sat,sun', hour=11, minute=30, timezone='America/New_York', start_date='2031-03-08', end_date='2031-04-06 11:30:00'),
    ]), args=('weekly',), id='or_zones')
    o.add_push_job(trigger=OrTrigger([
        IntervalTrigger(hours=5, start_date='2031-04-05 00:00:00', timezone='Australia/Sydney'),
        Cron(hour=12, minute=30, timezone='Australia/Sydney'),
    ]), kwargs={'x': 5}, misfire_grace_time=120, id='or_interval_cron')
    o.add_push_job(trigger=OrTrigger([
        AndTrigger([Cron(month='2,5,8,11', day=15, hour=6, timezone='Asia/Kolkata'),
                    Cron(month='2,5,8,11', day=15, hour=0, minute=30, timezone='UTC')]),
        OrTrigger([DateTrigger('2031-07-04 12:00:00', timezone='America/Chicago'),
                   IntervalTrigger(weeks=7, start_date='2031-03-29 01:30:00', end_date='2031-12-31 00:00:00', timezone='Europe/London')]),
        Cron(day='last', hour=23, minute=59, timezone='UTC', start_date='2031-01-01', end_date='2031-12-31'),
    ]), args=(6, 7), coalesce=False, id='or_nested')
    r.add_push_job(trigger=OrTrigger([Cron(hour=8, timezone='Asia/Shanghai', jitter=20), Cron(hour=20, timezone='Asia/Shanghai')], jitter=10),
                   args=('jittery',), id='or_jitter')
    r.add_push_job(trigger=AndTrigger([
        Cron(day_of_week='mon-fri', hour=14, timezone='Europe/London', start_date='2031-03-20'),
        Cron(day_of_week='mon-fri', hour=15, timezone='Europe/Paris'),
    ]), args=('tea',), id='and_zones')
    r.add_push_job(trigger=AndTrigger([
        OrTrigger([Calendar(days=1, hour=9, start_date='2031-03-27', timezone='Europe/Paris'),
                   Cron(day_of_week='sat', hour=9, timezone='Europe/Paris')]),
        Cron(hour=9, timezone='Europe/Paris'),
    ]), args=('paris',), id='and_or_calendar')
    # Paused from the start: funboost (APScheduler's add_job) computes no run time for it.
    o.add_push_job(trigger=AndTrigger([Cron(day=13, hour=12, timezone='Europe/Rome'), Cron(day_of_week='fri', hour=12, timezone='Europe/Rome')]),
                   args=(13,), next_run_time=None, id='and_friday13')
    o.add_push_job(trigger=Calendar(months=1, hour=9, timezone='Asia/Shanghai'), args=(1,), id='calendar_monthly')
    r.add_push_job(trigger=Calendar(months=1, hour=23, minute=30, start_date='2031-01-31', end_date='2032-03-31', timezone='America/New_York'),
                   args=('month-end',), id='calendar_31st')
    r.add_push_job(trigger=Calendar(days=1, hour=2, minute=30, start_date='2031-03-07', end_date='2031-03-12', timezone='America/New_York'),
                   args=('gap',), id='calendar_dst')
    o.add_push_job(trigger=Calendar(weeks=1, hour=1, minute=30, start_date='2031-10-12', end_date='2031-11-09', timezone='Europe/London'),
                   args=(10,), id='calendar_fold')
    o.add_push_job(trigger=Calendar(years=1, hour=8, start_date='2028-02-29', timezone='Australia/Sydney'), args=(29,), id='calendar_leap')
    r.add_push_job(trigger=Calendar(months=1, hour=9, start_date='2024-01-31', timezone='Asia/Shanghai'), args=('late',), id='calendar_past_start')
    o.add_push_job(trigger=Calendar(weeks=2, hour=6, start_date='2031-01-06', timezone='UTC', jitter=30), args=(2,), id='calendar_jitter')

    # What cannot move.
    o.add_push_job(trigger=OrTrigger([Cron(hour=3), IntervalTrigger(seconds=0.5)]), args=(1,), id='or_subsecond')
    o.add_push_job(trigger=AndTrigger([DateTrigger('2031-01-01 09:00:00', timezone='UTC'), Cron(hour=10, timezone='UTC')]),
                   args=(1,), next_run_time=None, id='and_impossible')
    o.add_push_job(trigger=OrTrigger([Calendar(days=2, hour=1, start_date='2031-01-01', timezone='Asia/Tokyo'),
                                      Cron(hour=23, timezone='UTC', start_date='2031-01-01')]), args=(1,), id='or_calendar_zones')
    o.aps_obj.add_job('time:sleep', 'interval', hours=1, args=(0,), id='not_a_push')
    # APScheduler's own add_job skips funboost's argument check (funboost documents this use).
    o.aps_obj.add_job(push_fun_params_to_broker, 'cron', hour=4, args=('orders', 1, 2, 3), id='bad_params')
    ghost = ApsJobAdder.get_aps_obj('ghost_queue', 'redis')
    ghost.has_started_flag = True
    ghost.start(paused=True)
    ghost.add_job(push_fun_params_to_broker, 'interval', hours=2, args=('ghost_queue',), kwargs={'x': 1}, id='ghost_job')

    jobs = {job_id: {'queue': q, 'movable': True, 'why': why} for job_id, (q, why) in MOVABLE.items()}
    jobs.update({job_id: {'queue': q, 'movable': False, 'why': why} for job_id, (q, why) in UNMOVABLE.items()})
    return {'jobs': jobs}


def create_firing():
    """Three jobs of queue orders that fire within seconds of now."""
    from apscheduler.triggers.calendarinterval import CalendarIntervalTrigger as Calendar
    from apscheduler.triggers.combining import AndTrigger, OrTrigger
    from apscheduler.triggers.cron import CronTrigger as Cron
    from apscheduler.triggers.interval import IntervalTrigger
    from funboost import ApsJobAdder

    (orders,) = consumers('orders')
    o = ApsJobAdder(orders, job_store_kind='redis', is_auto_start=True, is_auto_paused=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    o.add_push_job(trigger=OrTrigger([Cron(second='*/10', timezone='America/New_York'), Cron(second=5, timezone='Asia/Kolkata')]),
                   args=(1,), misfire_grace_time=60, id='fire_or')
    # Agreeing parts: every 15 s on the wall clock, and every 15 s from a whole minute.
    minute = now.replace(second=0, microsecond=0)
    o.add_push_job(trigger=AndTrigger([Cron(second='*/15', timezone='Europe/London'), IntervalTrigger(seconds=15, start_date=minute, timezone='UTC')]),
                   args=(2,), misfire_grace_time=60, id='fire_and')
    at = (now + datetime.timedelta(seconds=20)).replace(microsecond=0).astimezone(zoneinfo.ZoneInfo('America/New_York'))
    o.add_push_job(trigger=Calendar(days=1, hour=at.hour, minute=at.minute, second=at.second, start_date=at.date(), timezone='America/New_York'),
                   args=(3,), misfire_grace_time=60, id='fire_calendar')
    return {'jobs': {job_id: {'queue': 'orders', 'movable': True, 'why': 'fires within seconds'} for job_id in ('fire_or', 'fire_and', 'fire_calendar')}}


class Endless(Exception):
    """APScheduler's AndTrigger would loop forever here."""


def next_fire(trigger, previous, now, rounds):
    """`trigger.get_next_fire_time(previous, now)`, APScheduler's own code, except that an
    AndTrigger stops after 10,000 rounds (Endless) where APScheduler 3 loops forever."""
    from apscheduler.triggers.combining import AndTrigger, OrTrigger

    if type(trigger) is OrTrigger:
        fire_times = [f for f in (next_fire(t, previous, now, rounds) for t in trigger.triggers) if f is not None]
        return trigger._apply_jitter(min(fire_times), trigger.jitter, now) if fire_times else None
    if type(trigger) is AndTrigger:
        while True:
            rounds[0] += 1
            if rounds[0] > 10_000:
                raise Endless()
            fire_times = [next_fire(t, previous, now, rounds) for t in trigger.triggers]
            if None in fire_times:
                return None
            if min(fire_times) == max(fire_times):
                return trigger._apply_jitter(fire_times[0], trigger.jitter, now)
            now = max(fire_times)
    return trigger.get_next_fire_time(previous, now)


def micros(t):
    return (t - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)) // datetime.timedelta(microseconds=1)


def zone_key(t):
    tz = t.tzinfo
    return 'UTC' if tz is datetime.timezone.utc else getattr(tz, 'key', None) or repr(tz)


def expected(count):
    import redis
    from apscheduler.triggers.calendarinterval import CalendarIntervalTrigger
    from apscheduler.triggers.combining import BaseCombiningTrigger
    from funboost.utils.redis_manager import get_redis_conn_kwargs_safe

    conn = redis.Redis(**get_redis_conn_kwargs_safe())
    out = {}
    for key in conn.scan_iter(match='funboost.apscheduler.jobs:*'):
        for job_id, blob in conn.hgetall(key).items():
            state = pickle.loads(blob)
            trigger = state['trigger']
            stored = state['next_run_time']
            now = datetime.datetime.now(datetime.timezone.utc)
            fires = []
            endless = False
            try:
                if stored is not None and isinstance(trigger, (CalendarIntervalTrigger, BaseCombiningTrigger)):
                    # As APScheduler's scheduler: on from the run time it stored.
                    t = stored
                    while t is not None and t < now - datetime.timedelta(minutes=2):
                        t = next_fire(trigger, t, t, [0])
                else:
                    t = next_fire(trigger, None, now, [0])
                while t is not None and len(fires) < count:
                    fires.append(t)
                    t = next_fire(trigger, t, t, [0])
            except Endless:
                endless = True
            out[job_id.decode()] = {
                'queue': key.decode().split(':', 1)[1],
                'paused': stored is None,
                'next_run_time': None if stored is None else str(stored),
                'next_run_time_us': None if stored is None else micros(stored),
                'fires': [str(f) for f in fires],
                'fires_us': [micros(f) for f in fires],
                'one_zone': len({zone_key(f) for f in fires}) <= 1,
                'endless': endless,
                'str': str(trigger),
            }
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('command', choices=['create', 'create-firing', 'expected'])
    parser.add_argument('--project', required=True)
    parser.add_argument('--port', type=int, required=True)
    parser.add_argument('--count', type=int, default=10)
    args = parser.parse_args()
    if args.command in ('create', 'create-firing'):
        enter_funboost_project(args.project, args.port)
        result = create() if args.command == 'create' else create_firing()
    else:
        # The project exists already: only its directory on sys.path, as funboost expects.
        sys.path.insert(1, args.project)
        os.chdir(args.project)
        os.environ['LOG_PATH'] = os.path.join(args.project, 'logs')
        import funboost  # noqa: F401  (reads funboost_config.py)
        result = expected(args.count)
    print(json.dumps(result), flush=True)
    # funboost's consumer and scheduler threads are not daemons.
    os._exit(0)


if __name__ == '__main__':
    main()
