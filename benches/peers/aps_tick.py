"""Peer side of the tick-cost and fires-per-second benches: funboost 55's own timing-job scheduler.

What is timed is one pass of `FunboostBackgroundSchedulerProcessJobsWithinRedisLock._process_jobs`
(the per-queue scheduler that `ApsJobAdder(booster, job_store_kind='redis')` builds): it takes the
Redis lock `funboost.BackgroundSchedulerProcessJobsWithinRedisLock:<queue>` (SET NX EX 30), runs
APScheduler 3.11's `_process_jobs` (ZRANGEBYSCORE + HMGET of the due jobs, then for each job:
submit to funboost's 100-thread pool, HEXISTS + MULTI/HSET/ZADD/EXEC for the new next_run_time),
and releases the lock (Lua). The pool threads run `push_fun_params_to_broker`, i.e. `add.push(x=1)`,
which funboost's REDIS publisher buffers and RPUSHes in batches (at 1000 messages or every 0.1 s).
So the clock runs from the start of the pass until LLEN of the queue reaches the number of due jobs.
(funboost's pool has a work queue of only 10 items, so submit blocks and the pass itself runs at
the pace of the pushes: `pass_seconds`, the return of _process_jobs, is close to `seconds`.)

    python aps_tick.py --redis-port P --sizes 1000,10000,100000,1000000 --due 1000 --repeat 5 --fires 10000

Prints one JSON line per measurement on stdout, progress on stderr. `redis_roundtrips`: calls of
redis-py's send_packed_command by funboost/APScheduler in the window (a pipeline counts once);
`redis_commands`: INFO commandstats delta (commands inside MULTI and Lua count), minus our LLEN/INFO;
`redis_usec` (fires only): the µs Redis spent executing the commands funboost sent, from INFO
commandstats (EXEC's and EVAL's time include the commands they ran, which are not added again);
`redis_cpu_s`: redis-server's CPU seconds in the window (INFO used_cpu_sys + used_cpu_user).
Needs a redis-server on 127.0.0.1:P whose DB 7 it flushes. funboost is configured as
tests/python/funboost_worker.py does (its funboost_config.py + nb_log_config.py templates, written
into a fresh temp dir put at sys.path[1], also the cwd).
"""

import argparse
import importlib.util
import json
import logging
import os
import pickle
import resource
import shutil
import statistics
import sys
import tempfile
import time
import traceback
from datetime import datetime, timedelta

QUEUE = 'bench_q'
JOBS_KEY = 'funboost.apscheduler.jobs:' + QUEUE
RUN_TIMES_KEY = 'funboost.apscheduler.run_times:' + QUEUE
CHUNK = 10_000


def funboost_worker_module():
    """tests/python/funboost_worker.py, whose project setup (configs, sys.path, cwd) we share."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'tests', 'python',
                        'funboost_worker.py')
    spec = importlib.util.spec_from_file_location('funboost_worker', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # stdlib imports only; its main() is not run
    return module


def progress(msg):
    print(f'[aps_tick {time.strftime("%H:%M:%S")}] {msg}', file=sys.stderr, flush=True)


def count_round_trips(*redis_modules):
    """Wrap send_packed_command (one call = one socket write = one round trip; a pipeline is one)
    in every redis-py copy funboost uses: `redis` (APScheduler's RedisJobStore) and `redis5`
    (funboost's lock and publisher). Returns the tally list and an uncounted connection class."""
    tally = []
    for mod in redis_modules:
        owner = next(k for k in mod.connection.Connection.__mro__ if 'send_packed_command' in vars(k))
        original = owner.send_packed_command

        def counted(self, *a, _original=original, **kw):
            tally.append(1)  # list.append is atomic under the GIL; pool threads push too
            return _original(self, *a, **kw)
        owner.send_packed_command = counted
        if mod.__name__ == 'redis':
            plain = type('PlainConnection', (mod.connection.Connection,), {'send_packed_command': original})
    return tally, plain


def command_calls(r):
    """Server-side command total from INFO commandstats, minus our own LLEN polling and INFO."""
    stats = r.info('commandstats')
    return sum(v['calls'] for k, v in stats.items() if k not in ('cmdstat_info', 'cmdstat_llen'))


# Commands a pass runs only inside MULTI/EXEC (APScheduler's update_job: HSET + ZADD) or inside
# the Lua script that releases funboost's lock (GET + DEL): Redis counts them under their own
# names and again inside EXEC's or EVAL's time. Ours: LLEN polling and INFO.
NOT_TOP_LEVEL = {'hset', 'zadd', 'get', 'del', 'llen', 'info'}


def server_time(r):
    """(µs Redis spent executing the commands funboost sent at the top level, per INFO
    commandstats; the server's CPU seconds, INFO used_cpu_sys + used_cpu_user; per-command usec)."""
    stats = r.info('commandstats')
    usec = {k[len('cmdstat_'):]: v['usec'] for k, v in stats.items()}
    cpu = r.info('cpu')
    return sum(v for k, v in usec.items() if k not in NOT_TOP_LEVEL), cpu['used_cpu_sys'] + cpu['used_cpu_user'], usec


def main(project):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--redis-port', type=int, required=True)
    ap.add_argument('--sizes', default='1000,10000,100000,1000000')
    ap.add_argument('--due', type=int, default=1000)
    ap.add_argument('--repeat', type=int, default=5)
    ap.add_argument('--fires', type=int, default=10000, help='due jobs for the fires/s bench (0 = skip)')
    ap.add_argument('--fires-repeat', type=int, default=3)
    ap.add_argument('--logs', choices=['file', 'off'], default='file',
                    help="file: funboost's default log levels (3 records per fire), console handlers "
                         "sent to a file in the temp dir; off: logging disabled")
    ap.add_argument('--timeout', type=float, default=300.0, help='per pass')
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(',') if s]

    # funboost prints banners with print(); keep fd 1 for our JSON lines only.
    out = os.fdopen(os.dup(1), 'w')
    os.dup2(2, 1)

    funboost_worker_module().enter_funboost_project(project, args.redis_port)

    import redis
    import redis5
    from apscheduler.schedulers.base import STATE_PAUSED, STATE_RUNNING, BaseScheduler
    from apscheduler.util import datetime_to_utc_timestamp
    from funboost import ApsJobAdder, BoosterParams, BrokerEnum, boost

    tally, PlainConnection = count_round_trips(redis, redis5)
    r = redis.Redis(connection_pool=redis.ConnectionPool(  # our own client: not counted
        host='127.0.0.1', port=args.redis_port, db=7, connection_class=PlainConnection))
    r.flushdb()

    @boost(BoosterParams(queue_name=QUEUE, broker_kind=BrokerEnum.REDIS, create_logger_file=False))
    def add(x, y=5):
        return x + y

    # is_auto_start=False + BaseScheduler.start: starts the executor (funboost's 100-thread pool)
    # and the job store but not BackgroundScheduler's thread, whose _main_loop would take the
    # Redis lock every 0.5 s (even when paused) and race our timed pass.
    adder = ApsJobAdder(add, job_store_kind='redis', is_auto_start=False)
    sched = adder.aps_obj
    sched.has_started_flag = True
    BaseScheduler.start(sched, paused=True)
    executor = sched._lookup_executor('default')
    proto = sched._lookup_jobstore('default').pickle_protocol

    # One real job through funboost's API; its pickled state is the template for every copy.
    adder.add_push_job(trigger='interval', seconds=60, kwargs={'x': 1}, id='template')
    template = pickle.loads(r.hget(JOBS_KEY, 'template'))
    tz = template['next_run_time'].tzinfo
    progress(f'template job state: {template}')

    if args.logs == 'off':
        logging.disable(logging.CRITICAL)
    else:
        log_file = open(os.path.join(project, 'funboost_console.log'), 'a')
        # Every handler ever created (nb_log's TaskIdLoggers are not in loggerDict).
        for h in filter(None, (ref() for ref in logging._handlerList)):
            if h is not logging.lastResort and isinstance(h, logging.StreamHandler) \
                    and h.stream in (sys.stderr, sys.stdout):
                h.setStream(log_file)

    def job_id(i):
        return f'job-{i:07d}'

    def state(jid, next_run_time, due):
        # Due copies get misfire_grace_time=None: with funboost's default 1 s, jobs still queued
        # in the pool more than 1 s after their run time would be skipped ("missed"), not fired.
        st = dict(template, id=jid, next_run_time=next_run_time,
                  misfire_grace_time=None if due else template['misfire_grace_time'])
        return pickle.dumps(st, proto)

    def write(entries):
        """entries: [(id, next_run_time, due)] -> pipelined HSET/ZADD in CHUNK-sized batches."""
        for start in range(0, len(entries), CHUNK):
            chunk = entries[start:start + CHUNK]
            pipe = r.pipeline(transaction=False)
            pipe.hset(JOBS_KEY, mapping={jid: state(jid, t, due) for jid, t, due in chunk})
            pipe.zadd(RUN_TIMES_KEY, {jid: datetime_to_utc_timestamp(t) for jid, t, _ in chunk})
            pipe.execute()

    def populate(n, due):
        r.flushdb()  # also drops the template job, so nothing but our copies can fire
        t0 = time.perf_counter()
        far = datetime.now(tz) + timedelta(days=1)
        for start in range(due, n, CHUNK):  # chunk by chunk, so 1M entries never sit in memory
            stop = min(n, start + CHUNK)
            write([(job_id(i), far + timedelta(milliseconds=i), False) for i in range(start, stop)])
        progress(f'populated {n} jobs ({n - due} far-future) in {time.perf_counter() - t0:.1f} s')

    def one_pass(n, due):
        """Re-arm the due jobs (run time 0.5 s ago), then time one _process_jobs pass until the
        last message is in the queue. Returns (seconds, pass_seconds, round_trips, commands)."""
        # Wait for the previous pass's done-callbacks. Values, not keys: when a job finishes before
        # add_done_callback, APScheduler decrements before incrementing and leaves a 0 entry.
        while any(executor._instances.values()):
            time.sleep(0.01)
        r.delete(QUEUE)
        ids = [job_id(i) for i in range(due)]
        armed = datetime.now(tz) - timedelta(seconds=0.5)
        write([(jid, armed, True) for jid in ids])
        sched.state = STATE_RUNNING  # APScheduler's _process_jobs returns at once when paused
        cmds0 = command_calls(r)
        server0 = server_time(r)
        tally.clear()
        t0 = time.perf_counter()
        sched._process_jobs()
        t_pass = time.perf_counter() - t0
        while r.llen(QUEUE) < due:
            if time.perf_counter() - t0 > args.timeout:
                raise TimeoutError(f'{r.llen(QUEUE)}/{due} messages after {args.timeout} s')
            time.sleep(0.001)
        seconds = time.perf_counter() - t0
        trips, cmds = len(tally), command_calls(r) - cmds0
        server1 = server_time(r)
        sched.state = STATE_PAUSED  # so nothing else can run a pass between ours
        verify(n, ids, datetime_to_utc_timestamp(armed) + 60)
        # Publishes still in the pool threads after LLEN reached `due`: none (verify checked the
        # count), so the window holds the whole pass.
        by_command = {k: v - server0[2].get(k, 0) for k, v in server1[2].items() if v != server0[2].get(k, 0)}
        return seconds, t_pass, trips, cmds, server1[0] - server0[0], server1[1] - server0[1], by_command

    def verify(n, ids, expected_next):
        """Untimed checks: exactly the due jobs fired, messages are funboost-format, every due
        job's next_run_time moved one interval (60 s) forward and no job was removed."""
        time.sleep(0.25)  # longer than the publisher's 0.1 s flush: catch any extra fire
        count = r.llen(QUEUE)
        assert count == len(ids), f'{count} messages for {len(ids)} due jobs'
        msg = json.loads(r.lindex(QUEUE, 0))
        assert msg['x'] == 1 and {'task_id', 'publish_time', 'publish_time_format'} <= set(msg['extra']), msg
        scores = r.zmscore(RUN_TIMES_KEY, ids)
        assert all(s is not None and abs(s - expected_next) < 1e-3 for s in scores), 'due jobs not advanced'
        st = pickle.loads(r.hget(JOBS_KEY, ids[-1]))
        assert abs(st['next_run_time'].timestamp() - expected_next) < 1e-3, st
        assert r.hlen(JOBS_KEY) == n and r.zcard(RUN_TIMES_KEY) == n

    def peak_rss_mb():
        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)

    def emit(record):
        out.write(json.dumps(record) + '\n')
        out.flush()

    for n in sizes:
        due = min(args.due, n)
        populate(n, due)
        one_pass(n, due)  # warm-up: pool threads, lazily imported modules
        runs = [one_pass(n, due) for _ in range(args.repeat)]
        progress(f'tick jobs={n} due={due}: {[round(s[0], 4) for s in runs]} s; sample message '
                 f'{r.lindex(QUEUE, 0).decode()}')
        emit({'bench': 'tick', 'jobs': n, 'due': due, 'seconds': [round(s[0], 6) for s in runs],
              'pass_seconds': [round(s[1], 6) for s in runs], 'redis_roundtrips': [s[2] for s in runs],
              'redis_commands': [s[3] for s in runs], 'logs': args.logs, 'peak_rss_mb': peak_rss_mb()})

    if args.fires:
        populate(args.fires, args.fires)
        one_pass(args.fires, args.fires)  # warm-up
        runs = [one_pass(args.fires, args.fires) for _ in range(args.fires_repeat)]
        med = statistics.median(s[0] for s in runs)
        progress(f'fires due={args.fires}: {[round(s[0], 3) for s in runs]} s')
        progress(f'fires: Redis usec by command in the last pass: {runs[-1][6]}')
        emit({'bench': 'fires', 'jobs': args.fires, 'due': args.fires, 'seconds': round(med, 6),
              'fires_per_s': round(args.fires / med, 1), 'all_seconds': [round(s[0], 6) for s in runs],
              'redis_roundtrips': [s[2] for s in runs], 'redis_commands': [s[3] for s in runs],
              'redis_usec': [s[4] for s in runs], 'redis_cpu_s': [round(s[5], 4) for s in runs],
              'logs': args.logs, 'peak_rss_mb': peak_rss_mb()})

    r.flushdb()
    out.close()


if __name__ == '__main__':
    project_dir = tempfile.mkdtemp(prefix='funboost_edge_aps_tick_')
    status = 0
    try:
        main(project_dir)
    except BaseException:
        traceback.print_exc()
        status = 1
    shutil.rmtree(project_dir, ignore_errors=True)
    os._exit(status)  # funboost's pool threads are non-daemon: a normal exit would hang
