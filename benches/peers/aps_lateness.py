"""Peer side of the lateness bench (benches/service.rs, section `lateness`): funboost 55's own
timing scheduler, and a real funboost 55 consumer (used for both sides).

Two roles, each a process of its own with funboost configured as tests/python/funboost_worker.py
does (its funboost_config.py + nb_log_config.py, in a fresh temp dir that is also the cwd):

    python aps_lateness.py consume --redis-port P --queues q1,q2 --results-key K

  Consumes the queues (BrokerEnum.REDIS, funboost's defaults otherwise) with `def add(x, y=5)`,
  whose first statement takes `time.time()`; it then RPUSHes {queue, x, ran_at, publish_time,
  fire_id, eta} to the list K. Prints {"ready": true} on stdout once consuming and exits
  (os._exit) when its stdin closes.

    python aps_lateness.py schedule --redis-port P --queues q1,q2 --seconds S
        (--offsets-us o0,o1,... | --cron) [--far-jobs N] [--cost-after W]

  funboost's scheduler: `ApsJobAdder(booster, job_store_kind='redis')` for each queue (one
  FunboostBackgroundSchedulerProcessJobsWithinRedisLock each, started as ApsJobAdder starts it,
  polling at most every 0.5 s), then `add_push_job(trigger='interval', seconds=1,
  start_date='2026-01-01 00:00:00.<o_i>', kwargs={'x': i}, id=...)` for job i into queue
  i % len(queues) (or, with --cron, one `trigger='cron', second='*'` job per queue, x = its
  index). --far-jobs N adds N jobs to the first queue that are not due for a day: one through
  add_push_job (interval, days=1), the rest pickled copies of its state written straight into
  the job store (the same HSET/ZADD the store makes; adding 100,000 through add_push_job one
  by one would take minutes). Prints {"ready": <unix time>} once every job is added, runs S
  more seconds, then prints {"cost": ...}: from W seconds after ready to the end, the process's
  CPU seconds (getrusage, every thread), its Redis round trips (calls of redis-py's
  send_packed_command in funboost/APScheduler, a pipeline counts once; as aps_tick.py counts
  them), the server's commands (INFO total_commands_processed, minus our own INFO calls) and
  the server's CPU seconds (INFO used_cpu_sys + used_cpu_user).

funboost logs as it does by default (its console handlers are pointed at a file in the temp
dir); funboost's own prints go to stderr so that stdout carries only our JSON lines.
"""

import argparse
import importlib.util
import json
import logging
import os
import pickle
import resource
import shutil
import sys
import tempfile
import threading
import time
import traceback
from datetime import datetime, timedelta

HERE = os.path.dirname(os.path.abspath(__file__))
START_DATE = '2026-01-01 00:00:00'


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # module-level code: imports and definitions only
    return module


def progress(msg):
    print(f'[aps_lateness {time.strftime("%H:%M:%S")}] {msg}', file=sys.stderr, flush=True)


def console_logs_to_file(project):
    """Points every console log handler (nb_log's included) at a file in the project dir."""
    log_file = open(os.path.join(project, 'funboost_console.log'), 'a')
    for h in filter(None, (ref() for ref in logging._handlerList)):
        if h is not logging.lastResort and isinstance(h, logging.StreamHandler) \
                and h.stream in (sys.stderr, sys.stdout):
            h.setStream(log_file)


def consume(args, out, project):
    import redis
    from funboost import BoosterParams, BrokerEnum, boost, fct

    results = redis.Redis(host='127.0.0.1', port=args.redis_port, db=7)

    def make_add(queue):
        def add(x, y=5):
            ran_at = time.time()
            extra = fct.full_msg.get('extra', {})
            results.rpush(args.results_key, json.dumps({
                'queue': queue, 'x': x, 'ran_at': ran_at, 'publish_time': extra.get('publish_time'),
                'fire_id': extra.get('fire_id'), 'eta': extra.get('eta')}))
            return x + y
        add.__qualname__ = add.__name__ = 'add'
        return add

    boosters = [boost(BoosterParams(queue_name=q, broker_kind=BrokerEnum.REDIS, max_retry_times=0,
                                    create_logger_file=False))(make_add(q)) for q in args.queues]
    for booster in boosters:
        booster.consume()
    console_logs_to_file(project)
    out.write(json.dumps({'ready': True}) + '\n')
    out.flush()
    sys.stdin.read()  # until the bench closes our stdin


def schedule(args, out, project):
    import redis
    import redis5
    from apscheduler.util import datetime_to_utc_timestamp
    from funboost import ApsJobAdder, BoosterParams, BrokerEnum, boost

    aps_tick = load('aps_tick', os.path.join(HERE, 'aps_tick.py'))
    tally, PlainConnection = aps_tick.count_round_trips(redis, redis5)
    r = redis.Redis(connection_pool=redis.ConnectionPool(  # ours: not counted
        host='127.0.0.1', port=args.redis_port, db=7, connection_class=PlainConnection))

    def make_add():
        def add(x, y=5):
            return x + y
        return add

    boosters = [boost(BoosterParams(queue_name=q, broker_kind=BrokerEnum.REDIS,
                                    create_logger_file=False))(make_add()) for q in args.queues]
    adders = [ApsJobAdder(b, job_store_kind='redis') for b in boosters]  # starts each scheduler
    console_logs_to_file(project)

    t0 = time.time()
    if args.far_jobs:
        queue = args.queues[0]
        jobs_key, run_times_key = f'funboost.apscheduler.jobs:{queue}', f'funboost.apscheduler.run_times:{queue}'
        adders[0].add_push_job(trigger='interval', days=1, kwargs={'x': -1}, id='far-0000000')
        template = pickle.loads(r.hget(jobs_key, 'far-0000000'))
        base = template['next_run_time']
        for start in range(1, args.far_jobs, 10_000):
            pipe = r.pipeline(transaction=False)
            states, scores = {}, {}
            for i in range(start, min(start + 10_000, args.far_jobs)):
                jid = f'far-{i:07d}'
                at = base + timedelta(milliseconds=i)
                states[jid] = pickle.dumps(dict(template, id=jid, next_run_time=at), pickle.HIGHEST_PROTOCOL)
                scores[jid] = datetime_to_utc_timestamp(at)
            pipe.hset(jobs_key, mapping=states)
            pipe.zadd(run_times_key, scores)
            pipe.execute()
        progress(f'{args.far_jobs} far jobs stored in {time.time() - t0:.1f} s')
    t1 = time.time()
    if args.cron:
        for k, adder in enumerate(adders):
            adder.add_push_job(trigger='cron', second='*', kwargs={'x': k}, id=f'cron-{k}')
    else:
        for i, offset_us in enumerate(args.offsets_us):
            adders[i % len(adders)].add_push_job(
                trigger='interval', seconds=1, start_date=f'{START_DATE}.{offset_us:06d}',
                kwargs={'x': i}, id=f'job-{i:07d}')
    progress(f'{len(args.offsets_us) if not args.cron else len(adders)} firing jobs added in {time.time() - t1:.1f} s')
    ready = time.time()
    out.write(json.dumps({'ready': ready, 'add_seconds': round(ready - t1, 3)}) + '\n')
    out.flush()

    def sample():
        usage = resource.getrusage(resource.RUSAGE_SELF)
        stats, cpu = r.info('stats'), r.info('cpu')
        return (time.time(), usage.ru_utime + usage.ru_stime, len(tally), stats['total_commands_processed'],
                cpu['used_cpu_sys'] + cpu['used_cpu_user'])

    time.sleep(args.cost_after)
    before = sample()
    time.sleep(max(0.0, ready + args.seconds - time.time()))
    after = sample()
    seconds = after[0] - before[0]
    out.write(json.dumps({'cost': {
        'seconds': round(seconds, 3),
        'cpu_s_per_s': (after[1] - before[1]) / seconds,
        'round_trips_per_s': (after[2] - before[2]) / seconds,
        # the second sample's INFO calls were counted in it: two of ours
        'redis_commands_per_s': (after[3] - before[3] - 2) / seconds,
        'redis_cpu_s_per_s': (after[4] - before[4]) / seconds,
        'jobs_stored': sum(r.hlen(f'funboost.apscheduler.jobs:{q}') for q in args.queues),
    }}) + '\n')
    out.flush()


def main(project):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('role', choices=['consume', 'schedule'])
    ap.add_argument('--redis-port', type=int, required=True)
    ap.add_argument('--queues', required=True, type=lambda s: s.split(','))
    ap.add_argument('--results-key', default='lateness:results')
    ap.add_argument('--offsets-us', default=[], type=lambda s: [int(o) for o in s.split(',') if o])
    ap.add_argument('--cron', action='store_true')
    ap.add_argument('--far-jobs', type=int, default=0)
    ap.add_argument('--seconds', type=float, default=60.0)
    ap.add_argument('--cost-after', type=float, default=2.0)
    args = ap.parse_args()

    # funboost prints banners with print(); keep fd 1 for our JSON lines only.
    out = os.fdopen(os.dup(1), 'w')
    os.dup2(2, 1)
    load('funboost_worker', os.path.join(HERE, '..', '..', 'tests', 'python', 'funboost_worker.py')) \
        .enter_funboost_project(project, args.redis_port)
    (consume if args.role == 'consume' else schedule)(args, out, project)


if __name__ == '__main__':
    threading.current_thread().name = 'aps_lateness_main'
    project_dir = tempfile.mkdtemp(prefix='funboost_edge_lateness_')
    status = 0
    try:
        main(project_dir)
    except BaseException:
        traceback.print_exc()
        status = 1
    shutil.rmtree(project_dir, ignore_errors=True)
    os._exit(status)  # funboost's threads are non-daemon: a normal exit would hang
