"""Peer side of the store bench (benches/service.rs, section `store`): what funboost 55's own
timing-job store, `ApsJobAdder(booster, job_store_kind='redis')` (APScheduler 3.11's
RedisJobStore: one pickle per job in the hash `funboost.apscheduler.jobs:<queue>` and its next
run time in the sorted set `funboost.apscheduler.run_times:<queue>`), takes in Redis per job.

    python aps_store.py added --redis-port P --api 10000 --copies 10000,1000000
    python aps_store.py fired --redis-port P --jobs 1000 --fires 100 --copies 10000,1000000

Bytes per job = the server's `used_memory` (INFO memory: what Redis's allocator holds, not the
process's RSS; no MEMORY PURGE, which would only return pages to the OS) after the jobs are
stored, minus before, less the change of `mem_clients_normal` (connection buffers), divided by
the jobs. Each reading is taken once the server is quiet (no client busy, two readings half a
second apart within 4 KB, each after a SLOWLOG RESET), and with Redis's per-command latency
histograms (latency-tracking) off, which would otherwise count as data the first time each
command is used. Before the "before" reading the scheduler has stored and deleted one job, so
that what a first write creates is not counted per job. Also printed: MEMORY USAGE (SAMPLES 0,
every element) of each of the two keys.

`added`: the same jobs as the Rust side's, a third each of `interval` (seconds=60), `cron`
(hour=9, minute=30) and `date` (run_date 2030-01-01 09:00:00), kwargs {x: i, y: 2i}, ids
job0000000..: first --api of them through `add_push_job`, one by one, as a user adds them; then,
for each size of --copies, the store's two keys emptied and that many copies of the first three
jobs' pickles (its own id and kwargs each, everything else as add_push_job stored it) written
with pipelined HSET/ZADD, the commands RedisJobStore itself sends (adding a million through
add_push_job would take most of an hour).

`fired`: --jobs jobs through add_push_job, half `interval` seconds=1, half `cron` second='*'
(kwargs {x: i, y: 2i}), measured; then --fires passes of funboost's own scheduler
(`FunboostBackgroundSchedulerProcessJobsWithinRedisLock._process_jobs`, run as
benches/peers/aps_tick.py runs it), before each of which every job is made due (its next run
the current whole second, the pass early in it; misfire_grace_time=None and coalesce=False: a
byte either way in the pickle), so that each pass fires every job once and APScheduler rewrites
each job's pickle with its next run time, as in real time (funboost cannot run 1,000 jobs every
second in real time: see BENCHMARKS.md, lateness). When the --jobs x --fires messages are in
the queue, the queue is deleted and the store measured again; then, per size of --copies,
copies of the fired pickles (job i a copy of fired job i mod --jobs, with its own id and
kwargs).

Prints one JSON line per measurement on stdout, progress on stderr. Needs a redis-server on
127.0.0.1:P whose DB 7 it uses (flushed). funboost is configured as tests/python/funboost_worker.py
does.
"""

import argparse
import importlib.util
import json
import logging
import os
import pickle
import shutil
import sys
import tempfile
import time
import traceback
from datetime import datetime, timedelta

HERE = os.path.dirname(os.path.abspath(__file__))
QUEUE = 'store_q'
JOBS_KEY = 'funboost.apscheduler.jobs:' + QUEUE
RUN_TIMES_KEY = 'funboost.apscheduler.run_times:' + QUEUE
CHUNK = 10_000


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # module-level code: imports and definitions only
    return module


def progress(msg):
    print(f'[aps_store {time.strftime("%H:%M:%S")}] {msg}', file=sys.stderr, flush=True)


def job_id(i):
    return f'job{i:07d}'


def kwargs(i):
    return {'x': i, 'y': 2 * i}


def quiet_used_memory(r):
    """INFO memory once two readings of used_memory half a second apart agree within 4 KB, each
    right after a SLOWLOG RESET (the log of commands over 10 ms, with their arguments, is not the
    store): (used_memory, mem_clients_normal, the whole INFO memory)."""
    r.slowlog_reset()
    last = r.info('memory')
    for _ in range(40):
        time.sleep(0.5)
        r.slowlog_reset()
        now = r.info('memory')
        if abs(now['used_memory'] - last['used_memory']) < 4096:
            break
        last = now
    return now['used_memory'], now['mem_clients_normal'], now


def key_usage(r):
    return {k: r.memory_usage(k, samples=0) or 0 for k in (JOBS_KEY, RUN_TIMES_KEY)}


def main(project):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('what', choices=['added', 'fired'])
    ap.add_argument('--redis-port', type=int, required=True)
    ap.add_argument('--api', type=int, default=10_000)
    ap.add_argument('--jobs', type=int, default=1_000)
    ap.add_argument('--fires', type=int, default=100)
    ap.add_argument('--copies', default='10000,1000000')
    ap.add_argument('--timeout', type=float, default=900.0)
    args = ap.parse_args()
    copies = [int(s) for s in args.copies.split(',') if s]

    # funboost prints banners with print(); keep fd 1 for our JSON lines only.
    out = os.fdopen(os.dup(1), 'w')
    os.dup2(2, 1)
    load('funboost_worker', os.path.join(HERE, '..', '..', 'tests', 'python', 'funboost_worker.py')) \
        .enter_funboost_project(project, args.redis_port)

    import redis
    from apscheduler.schedulers.base import STATE_PAUSED, STATE_RUNNING, BaseScheduler
    from apscheduler.util import datetime_to_utc_timestamp
    from funboost import ApsJobAdder, BoosterParams, BrokerEnum, boost

    r = redis.Redis(host='127.0.0.1', port=args.redis_port, db=7)
    r.flushdb()
    # Redis 7 keeps a latency histogram per command name (latency-tracking), allocated the first
    # time the name is used (tens of KB each) and counted in used_memory as if it were data: off,
    # and what exists dropped, before any reading (the Rust side does the same).
    r.config_set('latency-tracking', 'no')
    r.config_resetstat()

    @boost(BoosterParams(queue_name=QUEUE, broker_kind=BrokerEnum.REDIS, create_logger_file=False))
    def add(x, y=5):
        return x + y

    # Started paused, as aps_tick.py does: the executor and the job store run, the scheduler's
    # own thread does not (it would take the Redis lock every 0.5 s and race our pass).
    adder = ApsJobAdder(add, job_store_kind='redis', is_auto_start=False)
    sched = adder.aps_obj
    sched.has_started_flag = True
    BaseScheduler.start(sched, paused=True)
    executor = sched._lookup_executor('default')
    proto = sched._lookup_jobstore('default').pickle_protocol
    # funboost's logs (three records a fire) go to a file, as in aps_tick.py.
    log_file = open(os.path.join(project, 'funboost_console.log'), 'a')
    for h in filter(None, (ref() for ref in logging._handlerList)):
        if h is not logging.lastResort and isinstance(h, logging.StreamHandler) \
                and h.stream in (sys.stderr, sys.stdout):
            h.setStream(log_file)

    def emit(record):
        out.write(json.dumps(record) + '\n')
        out.flush()

    # One job stored and deleted, so that what a first write creates is in the baseline.
    adder.add_push_job(trigger='interval', seconds=60, kwargs=kwargs(0), id='warmup')
    sched.remove_job('warmup')

    def measure(label, jobs, before, extra=None):
        after = quiet_used_memory(r)
        usage = key_usage(r)
        others = sorted(k.decode() for k in r.scan_iter(count=1000) if k not in (JOBS_KEY.encode(), RUN_TIMES_KEY.encode()))
        record = {'bench': 'bytes', 'case': label, 'jobs': jobs, 'used_memory_delta': after[0] - before[0],
                  'clients_delta': after[1] - before[1],
                  'bytes_per_job': round((after[0] - before[0] - (after[1] - before[1])) / jobs, 1),
                  'other_keys': others[:20],
                  'overhead_delta': {k: after[2][k] - before[2][k] for k in
                                     ('used_memory_overhead', 'used_memory_dataset', 'used_memory_scripts',
                                      'mem_aof_buffer', 'used_memory_startup', 'mem_replication_backlog')
                                     if isinstance(after[2].get(k), int) and k in before[2]},
                  'key_bytes_per_job': {k: round(v / jobs, 1) for k, v in usage.items()},
                  'hlen': r.hlen(JOBS_KEY), 'zcard': r.zcard(RUN_TIMES_KEY)}
        record.update(extra or {})
        progress(f'{label}: {record}')
        emit(record)

    def write_copies(templates, n):
        """n copies of `templates` (pickled job states), pipelined HSET + ZADD by CHUNK."""
        t0 = time.perf_counter()
        for start in range(0, n, CHUNK):
            states, scores = {}, {}
            for i in range(start, min(n, start + CHUNK)):
                st = dict(templates[i % len(templates)], id=job_id(i), kwargs=kwargs(i))
                states[job_id(i)] = pickle.dumps(st, proto)
                scores[job_id(i)] = datetime_to_utc_timestamp(st['next_run_time'])
            pipe = r.pipeline(transaction=False)
            pipe.hset(JOBS_KEY, mapping=states)
            pipe.zadd(RUN_TIMES_KEY, scores)
            pipe.execute()
        return time.perf_counter() - t0

    def copies_of(templates, label):
        for n in copies:
            r.delete(JOBS_KEY, RUN_TIMES_KEY)
            before = quiet_used_memory(r)
            seconds = write_copies(templates, n)
            assert r.hlen(JOBS_KEY) == n, r.hlen(JOBS_KEY)
            measure(label, n, before, {'via': 'copies', 'write_seconds': round(seconds, 1)})
        r.delete(JOBS_KEY, RUN_TIMES_KEY)

    if args.what == 'added':
        before = quiet_used_memory(r)
        t0 = time.perf_counter()
        for i in range(args.api):
            kind = i % 3
            if kind == 0:
                adder.add_push_job(trigger='interval', seconds=60, kwargs=kwargs(i), id=job_id(i))
            elif kind == 1:
                adder.add_push_job(trigger='cron', hour=9, minute=30, kwargs=kwargs(i), id=job_id(i))
            else:
                adder.add_push_job(trigger='date', run_date='2030-01-01 09:00:00', kwargs=kwargs(i), id=job_id(i))
        seconds = time.perf_counter() - t0
        measure('just added', args.api, before, {'via': 'api', 'add_seconds': round(seconds, 1)})
        templates = [pickle.loads(r.hget(JOBS_KEY, job_id(i))) for i in range(3)]
        progress(f'templates: {templates}')
        copies_of(templates, 'just added')
    else:
        before = quiet_used_memory(r)
        t0 = time.perf_counter()
        for i in range(args.jobs):
            if i % 2 == 0:
                adder.add_push_job(trigger='interval', seconds=1, kwargs=kwargs(i), id=job_id(i))
            else:
                adder.add_push_job(trigger='cron', second='*', kwargs=kwargs(i), id=job_id(i))
        measure('fired: just added', args.jobs, before, {'via': 'api', 'add_seconds': round(time.perf_counter() - t0, 1)})

        # --fires passes of funboost's own scheduler, each firing every job once: before each,
        # every job is made due (next run this whole second, misfire_grace_time=None and
        # coalesce=False so that a pass slowed by the machine drops nothing), as aps_tick.py
        # re-arms its jobs; the pass then pushes the messages and rewrites each job's pickle
        # with its next run time, as a pass does in real time. (One pass over jobs --fires run
        # times behind would be quicker, but funboost's thread pool stalls on it.)
        tz = pickle.loads(r.hget(JOBS_KEY, job_id(0)))['next_run_time'].tzinfo
        expected = 0
        t0 = time.perf_counter()
        for k in range(args.fires):
            while any(executor._instances.values()):
                time.sleep(0.005)
            # A whole second, the pass early in it: the cron jobs' next grid point after it is
            # still to come, so that each job has exactly one run time due.
            time.sleep(1.02 - time.time() % 1)
            armed = datetime.now(tz).replace(microsecond=0)
            states = {jid: pickle.dumps(dict(pickle.loads(blob), next_run_time=armed, misfire_grace_time=None, coalesce=False), proto)
                      for jid, blob in r.hgetall(JOBS_KEY).items()}
            pipe = r.pipeline(transaction=False)
            pipe.hset(JOBS_KEY, mapping=states)
            pipe.zadd(RUN_TIMES_KEY, {jid: datetime_to_utc_timestamp(armed) for jid in states})
            pipe.execute()
            expected += args.jobs
            sched.state = STATE_RUNNING
            assert time.time() % 1 < 0.5, 'the pass would start late in the second'
            sched._process_jobs()
            while r.llen(QUEUE) < expected:
                if time.perf_counter() - t0 > args.timeout:
                    raise TimeoutError(f'{r.llen(QUEUE)}/{expected} messages after {args.timeout} s')
                time.sleep(0.002)
            sched.state = STATE_PAUSED
        while any(executor._instances.values()):
            time.sleep(0.01)
        seconds = time.perf_counter() - t0
        time.sleep(0.3)  # longer than the publisher's 0.1 s flush: catch any extra fire
        fired = r.llen(QUEUE)
        assert fired == expected, f'{fired} messages for {expected} fires'
        progress(f'{fired} fires in {seconds:.1f} s ({fired / seconds:.0f}/s)')
        r.delete(QUEUE)
        measure(f'fired: after {args.fires} fires', args.jobs, before,
                {'via': 'fired', 'fires_per_job': args.fires, 'fire_seconds': round(seconds, 1)})
        fired_states = [pickle.loads(r.hget(JOBS_KEY, job_id(i))) for i in range(args.jobs)]
        copies_of(fired_states, f'fired: after {args.fires} fires')
    r.flushdb()
    out.close()


if __name__ == '__main__':
    project_dir = tempfile.mkdtemp(prefix='funboost_edge_aps_store_')
    status = 0
    try:
        main(project_dir)
    except BaseException:
        traceback.print_exc()
        status = 1
    shutil.rmtree(project_dir, ignore_errors=True)
    os._exit(status)  # funboost's pool threads are non-daemon: a normal exit would hang
