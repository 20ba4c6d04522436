"""Peer server for the HTTP benchmarks: funboost 55's own FastAPI router, served by uvicorn.

    python benches/peers/funboost_router.py --port 18080 --redis-port 6390 \
        [--workers 2] [--queues bench_q,bench_list_q] [--balance reuseport|uvicorn]

It serves `funboost.faas.fastapi_router` (funboost/faas/fastapi_adapter.py, mounted with
`include_router`, so every route is /funboost/<name>) on 127.0.0.1:<port>, against Redis
127.0.0.1:<redis-port> DB 7, with <workers> uvicorn server processes. The benchmark scripts in
benches/wrk/ run against this server or ours unchanged.

Worker processes (--balance). Stock `uvicorn.run(workers=N)` (`--balance uvicorn`) has two
transport problems that would be charged to funboost in a benchmark, both measured here:
  * uvicorn issue #3149: its supervisor binds the shared listener with proto 0, so asyncio never
    sets TCP_NODELAY on accepted sockets and every keep-alive request after a connection's first
    waits ~40 ms for the client's delayed ACK (1 connection: 22 req/s instead of ~480). Patched
    in that mode (TCP_NODELAY on the listener, which Linux copies to accepted sockets).
  * all N workers accept from one socket and asyncio accepts a whole burst per wakeup, so wrk's
    32 keep-alive connections (opened at once) typically all land on ONE worker and the others
    idle; throughput then jumps between runs depending on the split.
The default `--balance reuseport` therefore runs N independent single-process uvicorn servers,
each with its own SO_REUSEPORT listener (proto IPPROTO_TCP, so asyncio sets TCP_NODELAY), and
lets the kernel spread connections over them by 4-tuple hash; the parent only supervises (if a
worker dies, everything stops with a non-zero status).

Queue registration. The router never imports consuming functions: every timing route first
checks that the queue is in the Redis set `funboost_all_queue_names` (else QueueNameNotExists,
succ:false), then rebuilds a "fake booster" from the queue's JSON in hash
`funboost_queue__consumer_parmas` (its `auto_generate_info.final_func_input_params_info` drives
the kwargs check of add_timing_job; `broker_kind` picks the publisher) -- see
funboost/core/active_cousumer_info_getter.py, SingleQueueConusmerParamsGetter. A funboost consumer
writes both keys when its consumer object is created (AbstractConsumer._save_consumer_params,
which `boost(...)(func)` triggers at decoration time, before and independently of `.consume()`).
So before serving, a short-lived child process decorates `def add(x, y=5)` with
`BoosterParams(queue_name=q, broker_kind=BrokerEnum.REDIS, log_level=WARNING,
create_logger_file=False)` for every queue -- the registration a real consumer performs (only the
stored log settings differ) -- and exits without ever calling `.consume()`; no process consumes
messages. The web workers themselves only edit the job stores: funboost's router starts
each per-queue APScheduler *paused* (faas_util.IS_AUTO_PAUSED_APSCHEDULER), so no job ever fires.

Configuration follows tests/python/funboost_worker.py (funboost-compat.md section 3):
funboost_config.py + nb_log_config.py are written into a fresh temporary directory that is put at
sys.path[1] (funboost's "project root") and used as working directory and log directory; the
uvicorn workers (spawned processes) inherit sys.path and cwd. Logging is quiet: nb_log and
funboost levels at WARNING, uvicorn at warning without access log. Everything written goes to the
temporary directory, which is removed on exit.

Each worker warms up (builds the fake booster and starts its paused scheduler for every queue)
during startup and then drops a marker file; once all <workers> markers exist and an HTTP request
answers succ:true, the script prints `listening on http://127.0.0.1:<port>` (flushed).
Nothing else is written to stdout (funboost's own prints are sent to stderr).
SIGTERM or SIGINT stops the workers gracefully (SIGTERM, then SIGKILL after 10 s), removes the
directory and exits 0.
"""

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER_HELPERS = os.path.join(os.path.dirname(os.path.dirname(HERE)), 'tests', 'python')

ENV_QUEUES = 'FUNBOOST_BENCH_QUEUES'
ENV_READY_DIR = 'FUNBOOST_BENCH_READY_DIR'

_startup_failed = threading.Event()

# Appended to the helpers' configs: keep funboost/nb_log/APScheduler below per-request chatter.
QUIET_NB_LOG = '''
import logging
LOG_LEVEL_FILTER = logging.WARNING
ROOT_LOGGER_LEVEL = logging.WARNING
'''
QUIET_FUNBOOST = '''
FunboostCommonConfig.FUNBOOST_PROMPT_LOG_LEVEL = 30
FunboostCommonConfig.KEEPALIVETIMETHREAD_LOG_LEVEL = 30
'''


def add(x, y=5):
    """The consuming function every benchmark queue is registered with (never run here)."""
    return x + y


def _quiet_loggers():
    import logging
    for name in ('apscheduler', 'funboost', 'nb_log', 'uvicorn.error'):
        logging.getLogger(name).setLevel(logging.WARNING)


def _register_queues(queues):
    """Child process: register every queue the way a funboost consumer does, then exit."""
    try:
        import logging

        from funboost import BoosterParams, BrokerEnum, boost
        from funboost.constant import RedisKeys
        from funboost.utils.redis_manager import RedisMixin
        _quiet_loggers()
        for q in queues:
            # log_level is stored with the queue's params and reused by the web workers' fake
            # boosters: WARNING keeps them from logging every publisher/consumer construction.
            boost(BoosterParams(queue_name=q, broker_kind=BrokerEnum.REDIS,
                                create_logger_file=False, log_level=logging.WARNING))(add)
        r = RedisMixin().redis_db_frame
        for q in queues:
            params = json.loads(r.hget(RedisKeys.FUNBOOST_QUEUE__CONSUMER_PARAMS, q))
            info = params['auto_generate_info']['final_func_input_params_info']
            ok = (r.sismember(RedisKeys.FUNBOOST_ALL_QUEUE_NAMES, q) and params['broker_kind'] == 'REDIS'
                  and info['all_arg_name_list'] == ['x', 'y'] and info['must_arg_name_list'] == ['x'])
            if not ok:
                print(f'funboost_router: registration of {q} looks wrong: {params}', file=sys.stderr, flush=True)
                os._exit(1)
    except BaseException as e:  # noqa: BLE001 -- report anything, then leave without funboost's atexit hooks
        print(f'funboost_router: registration failed: {e!r}', file=sys.stderr, flush=True)
        os._exit(1)
    sys.stdout.flush()
    os._exit(0)  # the consumer objects must not linger (funboost's threads are not daemons)


def create_app():
    """uvicorn app factory, run in every worker process."""
    from contextlib import asynccontextmanager

    from fastapi import FastAPI
    from funboost.faas import fastapi_router
    from funboost.faas.faas_util import gen_aps_job_adder
    _quiet_loggers()

    queues = [q for q in os.environ[ENV_QUEUES].split(',') if q]
    ready_dir = os.environ[ENV_READY_DIR]

    @asynccontextmanager
    async def lifespan(_app):
        for q in queues:  # what every timing route does first: fake booster + started, paused scheduler
            gen_aps_job_adder(q, 'redis').aps_obj.get_job('__funboost_router_warmup__')
        with open(os.path.join(ready_dir, str(os.getpid())), 'w'):
            pass
        yield
        # Leave the per-queue schedulers alone: they run non-daemon threads, so the process has to
        # end with os._exit (here for --balance uvicorn, right after the server for reuseport).
        # Do NOT shut them down: APScheduler's _process_jobs only skips work while PAUSED, so a
        # paused scheduler that is shut down makes one pass over every *due* job (executor already
        # closed: one "Error submitting job" traceback per job, and each job's next_run_time is
        # advanced in Redis without firing) -- with thousands of overdue bench jobs that took 5 to
        # 30 s and rewrote the job store.
        watchdog = threading.Timer(1.0, os._exit, (0,))
        watchdog.daemon = True
        watchdog.start()

    app = FastAPI(lifespan=lifespan)
    app.include_router(fastapi_router)
    return app


def _announce_when_ready(announce, port, workers, ready_dir, probe_queue, timeout=120.0):
    deadline = time.time() + timeout
    url = f'http://127.0.0.1:{port}/funboost/get_timing_jobs?queue_name={probe_queue}&job_store_kind=redis'
    while time.time() < deadline:
        if len(os.listdir(ready_dir)) >= workers:
            try:
                with urllib.request.urlopen(url, timeout=5) as resp:
                    if resp.status == 200 and json.loads(resp.read()).get('succ') is True:
                        announce.write(f'listening on http://127.0.0.1:{port}\n')
                        announce.flush()
                        return
            except (OSError, ValueError):
                pass
        time.sleep(0.1)
    print(f'funboost_router: not ready after {timeout:.0f} s', file=sys.stderr, flush=True)
    _startup_failed.set()
    os.kill(os.getpid(), signal.SIGTERM)


def _uvicorn_config(uvicorn, port, **extra):
    return uvicorn.Config('funboost_router:create_app', factory=True, host='127.0.0.1', port=port,
                          access_log=False, log_level='warning', **extra)


def _serve_reuseport_worker(port):
    """Child process (--balance reuseport): one single-process uvicorn server on its own
    SO_REUSEPORT listener, so the kernel spreads connections over the workers."""
    import socket
    import traceback

    import uvicorn
    # A signal before or after uvicorn's own handling ends the process with status 0
    # (uvicorn re-raises the signal it shut down for once it has restored this handler).
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    code, server = 3, None
    try:
        # proto IPPROTO_TCP: accepted sockets inherit it, and asyncio sets TCP_NODELAY only then.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(('127.0.0.1', port))
        server = uvicorn.Server(_uvicorn_config(uvicorn, port))
        server.run(sockets=[sock])
        code = 0 if server.started else 3
    except SystemExit:  # our signal handler (or uvicorn giving up on startup)
        code = 0 if server is not None and server.started else 3
    except BaseException:  # noqa: BLE001
        traceback.print_exc()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # funboost's (paused) scheduler threads are not daemons


def _listener_with_nodelay(uvicorn):
    """--balance uvicorn: work around uvicorn issue #3149 (--workers N loses TCP_NODELAY).

    With workers > 1 uvicorn's supervisor binds the listening socket itself (Config.bind_socket)
    with proto 0; accepted sockets inherit proto 0 and asyncio then skips TCP_NODELAY, so on Linux
    every keep-alive request after a connection's first waits ~40 ms for the client's delayed ACK
    (measured: 44 ms per request on one keep-alive connection instead of 2-4 ms). That is a
    transport artifact, not funboost, so the listener gets TCP_NODELAY, which Linux copies to
    every accepted socket.
    """
    import socket

    original = uvicorn.config.Config.bind_socket

    def bind_socket(self):
        sock = original(self)
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    uvicorn.config.Config.bind_socket = bind_socket


def _check_port_free(port):
    """Fail early (before touching Redis) if something listens on the port already -- also one
    with SO_REUSEPORT, which the reuseport workers would otherwise silently share it with."""
    import socket
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(('127.0.0.1', port))
    except OSError as e:
        raise SystemExit(f'funboost_router: cannot bind 127.0.0.1:{port}: {e}')
    finally:
        probe.close()


def _run_reuseport(ctx, port, workers):
    """Supervise <workers> reuseport servers until a signal (SystemExit) or a worker dies."""
    procs = [ctx.Process(target=_serve_reuseport_worker, args=(port,)) for _ in range(workers)]
    try:
        for p in procs:
            p.start()
        while True:
            for p in procs:
                if not p.is_alive():
                    raise SystemExit(f'funboost_router: worker {p.pid} exited with {p.exitcode}')
            time.sleep(0.2)
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()  # SIGTERM: graceful uvicorn shutdown
        deadline = time.time() + 10
        for p in procs:
            p.join(max(0.1, deadline - time.time()))
            if p.is_alive():
                p.kill()
                p.join()


def _on_signal(signum, _frame):
    raise SystemExit(0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--port', type=int, required=True)
    parser.add_argument('--redis-port', type=int, required=True)
    parser.add_argument('--workers', type=int, default=2, help='uvicorn server processes (default 2)')
    parser.add_argument('--queues', default='bench_q,bench_list_q')
    parser.add_argument('--balance', choices=('reuseport', 'uvicorn'), default='reuseport',
                        help='reuseport (default): one uvicorn server per worker, each on its own '
                             'SO_REUSEPORT listener; uvicorn: stock `uvicorn.run(workers=N)`, one '
                             'shared listener (all of wrk\'s connections tend to land on one worker)')
    args = parser.parse_args()
    queues = [q.strip() for q in args.queues.split(',') if q.strip()]
    if not queues or args.workers < 1:
        parser.error('need at least one queue and one worker')

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    # No __pycache__ in the checkout (this file and tests/python/funboost_worker.py are imported),
    # here or in the spawned children.
    sys.dont_write_bytecode = True
    os.environ['PYTHONDONTWRITEBYTECODE'] = '1'

    # stdout carries only the `listening on` line: funboost prints banners and "instantiated
    # here" notes to stdout, so fd 1 becomes a copy of stderr for this process and every child
    # (registration, uvicorn workers), and the announcement goes to a private copy of stdout.
    sys.stdout.flush()
    announce = os.fdopen(os.dup(1), 'w', encoding='utf-8')
    os.dup2(2, 1)

    code = 1
    project = tempfile.mkdtemp(prefix='funboost_edge_router_')
    try:
        _check_port_free(args.port)
        sys.path.insert(0, WORKER_HELPERS)
        from funboost_worker import enter_funboost_project
        sys.path.remove(WORKER_HELPERS)

        ready_dir = os.path.join(project, 'ready')
        os.makedirs(ready_dir)
        os.environ[ENV_QUEUES] = ','.join(queues)
        os.environ[ENV_READY_DIR] = ready_dir
        # sys.path[0] = this directory (absolute: the cwd changes), sys.path[1] = funboost's
        # project root; spawned children get the same sys.path and cwd.
        sys.path[0] = HERE
        enter_funboost_project(project, args.redis_port, QUIET_FUNBOOST, QUIET_NB_LOG)

        import multiprocessing
        ctx = multiprocessing.get_context('spawn')
        reg = ctx.Process(target=_register_queues, args=(queues,))
        reg.start()
        reg.join()
        if reg.exitcode != 0:
            raise SystemExit(f'funboost_router: queue registration failed (exit code {reg.exitcode})')

        threading.Thread(target=_announce_when_ready,
                         args=(announce, args.port, args.workers, ready_dir, queues[0]), daemon=True).start()
        if args.balance == 'reuseport':
            _run_reuseport(ctx, args.port, args.workers)
        else:
            import uvicorn
            _listener_with_nodelay(uvicorn)
            uvicorn.run('funboost_router:create_app', factory=True, host='127.0.0.1', port=args.port,
                        workers=args.workers, access_log=False, log_level='warning')
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        if isinstance(e.code, str):
            print(e.code, file=sys.stderr)
    except BaseException:  # noqa: BLE001
        import traceback
        traceback.print_exc()
    finally:
        os.chdir('/')
        shutil.rmtree(project, ignore_errors=True)
    if _startup_failed.is_set():
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == '__main__':
    main()
