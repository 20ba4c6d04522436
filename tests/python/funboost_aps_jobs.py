"""funboost's own timing jobs in Redis, for tests/import_funboost_jobs.rs.

    python funboost_aps_jobs.py create   --project DIR --port P
    python funboost_aps_jobs.py expected --project DIR --port P --count N

`create` makes DIR a funboost project (funboost_config.py for Redis 127.0.0.1:P DB 7, as
funboost_worker.py's enter_funboost_project writes it), starts the consumers of queues
`orders` (def orders(x, y=5)) and `reports` (def reports(name, when='daily')) so that they
register themselves, and stores timing jobs with funboost 55's ApsJobAdder(job_store_kind='redis')
(its schedulers started paused, so nothing fires and nothing moves): date, interval and cron
jobs in several zones, with start/end dates, jitter, misfire options and one paused job, plus
jobs that cannot move to funboost-edge (an OrTrigger, a CalendarIntervalTrigger, a function that
is not funboost's push, arguments the consumer does not take, a queue no consumer registered).
It prints {"jobs": {job_id: {"queue", "movable", "why"}}} as JSON on its last line.

`expected` reads the pickles back (pickle.loads, as APScheduler's RedisJobStore does) and has
APScheduler compute each trigger's fire times from now: get_next_fire_time(None, now), then
get_next_fire_time(previous, previous), up to N, as `str(datetime)`, the way funboost prints
next_run_time. It prints {job_id: {"queue", "paused", "next_run_time", "fires"}} as JSON on its
last line.
"""

import argparse
import datetime
import json
import os
import pickle
import sys

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
}
UNMOVABLE = {
    'or_trigger': ('orders', 'combined trigger'),
    'calendar_monthly': ('orders', 'calendar interval'),
    'not_a_push': ('orders', 'function is not funboost push'),
    'bad_params': ('orders', 'arguments do not fit (5001)'),
    'ghost_job': ('ghost_queue', 'queue no consumer registered (4001)'),
}


def create():
    from apscheduler.triggers.calendarinterval import CalendarIntervalTrigger
    from apscheduler.triggers.combining import OrTrigger
    from apscheduler.triggers.cron import CronTrigger
    from funboost import ApsJobAdder, BoosterParams, BrokerEnum, boost
    from funboost.timing_job.timing_job_base import push_fun_params_to_broker

    @boost(BoosterParams(queue_name='orders', broker_kind=BrokerEnum.REDIS, create_logger_file=False))
    def orders(x, y=5):
        return x + y

    @boost(BoosterParams(queue_name='reports', broker_kind=BrokerEnum.REDIS, create_logger_file=False))
    def reports(name, when='daily'):
        return name, when

    # Starting a consumer registers its queue (funboost_all_queue_names) and its parameters.
    orders.consume()
    reports.consume()

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

    # What cannot move.
    o.add_push_job(trigger=OrTrigger([CronTrigger(hour=1), CronTrigger(hour=13)]), args=(1,), id='or_trigger')
    o.add_push_job(trigger=CalendarIntervalTrigger(months=1, hour=9, timezone='Asia/Shanghai'), args=(1,), id='calendar_monthly')
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


def expected(count):
    import redis
    from funboost.utils.redis_manager import get_redis_conn_kwargs_safe

    conn = redis.Redis(**get_redis_conn_kwargs_safe())
    out = {}
    for key in conn.scan_iter(match='funboost.apscheduler.jobs:*'):
        for job_id, blob in conn.hgetall(key).items():
            state = pickle.loads(blob)
            trigger = state['trigger']
            now = datetime.datetime.now(datetime.timezone.utc)
            fires = []
            t = trigger.get_next_fire_time(None, now)
            while t is not None and len(fires) < count:
                fires.append(str(t))
                t = trigger.get_next_fire_time(t, t)
            out[job_id.decode()] = {
                'queue': key.decode().split(':', 1)[1],
                'paused': state['next_run_time'] is None,
                'next_run_time': None if state['next_run_time'] is None else str(state['next_run_time']),
                'fires': fires,
            }
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('command', choices=['create', 'expected'])
    parser.add_argument('--project', required=True)
    parser.add_argument('--port', type=int, required=True)
    parser.add_argument('--count', type=int, default=10)
    args = parser.parse_args()
    if args.command == 'create':
        enter_funboost_project(args.project, args.port)
        result = create()
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
