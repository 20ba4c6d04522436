"""A real, unmodified funboost 55.0 consumer for tests/firing_e2e.rs.

It consumes the queues given on the command line (one booster per queue, each with its own broker
kind), runs `add(x, y=5)` for every message, and appends what the function received to a Redis list
(RPUSH <results_key> <json>), so the Rust test can check the arguments and count executions.

    python funboost_worker.py --port 6390 --results-key fe:results --stop-key fe:stop \
        --queues '[{"queue": "q1", "broker_kind": "REDIS"}, ...]' [--timeout 120] \
        [--password PW] [--ssl]

--password and --ssl set funboost's REDIS_PASSWORD and REDIS_SSL (TLS, verifying the server's
certificate against the default trust store, which SSL_CERT_FILE replaces), and the worker's own
connection uses them too.

Setup, as funboost-compat.md section 3 records it: funboost reads `funboost_config.py` from
sys.path (BrokerConnConfig: Redis host/port/DB 7; FunboostCommonConfig: TIMEZONE Asia/Shanghai),
and nb_log reads `nb_log_config.py`; both are written into a fresh temporary directory put at
sys.path[1] (funboost's "project root"), which is also the working directory and the log
directory, so nothing is written into the checkout.

Starting the consumers registers the queues (funboost_all_queue_names and
funboost_queue__consumer_parmas, with the function's parameter lists), which the API needs
before it accepts a timing job. The worker exits (os._exit, funboost's threads are not daemons)
when the stop key exists, or with status 3 after --timeout seconds, and removes its directory.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time

FUNBOOST_CONFIG = '''
from funboost.utils.simple_data_class import DataClassBase


class BrokerConnConfig(DataClassBase):
    REDIS_HOST = '127.0.0.1'
    REDIS_PORT = {port}
    REDIS_DB = 7
    REDIS_PASSWORD = {password!r}
    REDIS_USERNAME = ''
    REDIS_DB_FILTER_AND_RPC_RESULT = 8
    REDIS_SSL = {ssl!r}
    REDIS_URL = {url!r}


class FunboostCommonConfig(DataClassBase):
    TIMEZONE = 'Asia/Shanghai'
    SHOW_HOW_FUNBOOST_CONFIG_SETTINGS = False
'''

NB_LOG_CONFIG = '''
LOG_PATH = {log_path!r}
PRINT_WRTIE_FILE_NAME = None
SYS_STD_FILE_NAME = None
AUTO_PATCH_PRINT = False
SHOW_PYCHARM_COLOR_SETINGS = False
SHOW_NB_LOG_LOGO = False
SHOW_IMPORT_NB_LOG_CONFIG_PATH = False
DEFAULUT_USE_COLOR_HANDLER = False
DEFAULT_ADD_MULTIPROCESSING_SAFE_ROATING_FILE_HANDLER = False
AUTO_WRITE_ERROR_LEVEL_TO_SEPARATE_FILE = False
ROOT_LOGGER_FILENAME = None
ROOT_LOGGER_FILENAME_ERROR = None
'''


def enter_funboost_project(project, redis_port, extra_funboost_config='', extra_nb_log_config='', password='', ssl=False):
    """Makes `project` funboost's project root (its configs for Redis 127.0.0.1:<redis_port>
    DB 7, with `password` and over TLS if `ssl`; logs in <project>/logs) at sys.path[1] and the
    working directory. Import funboost after this. Also used by the benchmark peers
    (benches/peers)."""
    logs = os.path.join(project, 'logs')
    from urllib.parse import quote_plus
    url = '%s://:%s@127.0.0.1:%d/7' % ('rediss' if ssl else 'redis', quote_plus(password), redis_port) if password else \
        '%s://127.0.0.1:%d/7' % ('rediss' if ssl else 'redis', redis_port)
    with open(os.path.join(project, 'funboost_config.py'), 'w') as f:
        f.write(FUNBOOST_CONFIG.format(port=redis_port, password=password, ssl=ssl, url=url) + extra_funboost_config)
    with open(os.path.join(project, 'nb_log_config.py'), 'w') as f:
        f.write(NB_LOG_CONFIG.format(log_path=logs) + extra_nb_log_config)
    os.environ['LOG_PATH'] = logs
    sys.path.insert(1, project)
    os.chdir(project)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--port', type=int, required=True)
    parser.add_argument('--queues', required=True, help='JSON list of {queue, broker_kind, broker_exclusive_config?}')
    parser.add_argument('--results-key', required=True)
    parser.add_argument('--stop-key', required=True)
    parser.add_argument('--timeout', type=float, default=120.0)
    parser.add_argument('--password', default='')
    parser.add_argument('--ssl', action='store_true')
    args = parser.parse_args()
    queues = json.loads(args.queues)

    project = tempfile.mkdtemp(prefix='funboost_edge_worker_')
    enter_funboost_project(project, args.port, password=args.password, ssl=args.ssl)

    import redis
    from funboost import BoosterParams, BrokerEnum, boost, fct  # noqa: F401  (imported after the config exists)

    results = redis.Redis(host='127.0.0.1', port=args.port, db=7, password=args.password or None, ssl=args.ssl)

    def make_add(queue):
        def add(x, y=5):
            msg = fct.full_msg
            extra = msg.get('extra', {}) if isinstance(msg, dict) else {}
            record = {
                'queue': queue,
                'kwargs': {'x': x, 'y': y},
                'msg_kwargs': {k: v for k, v in msg.items() if k != 'extra'} if isinstance(msg, dict) else None,
                'task_id': fct.task_id,
                'fire_id': extra.get('fire_id'),
                'scheduled_time': extra.get('scheduled_time'),
                'publish_time': extra.get('publish_time'),
                'eta': extra.get('eta'),
                'ran_at': time.time(),
            }
            results.rpush(args.results_key, json.dumps(record))
            return x + y

        add.__qualname__ = add.__name__ = 'add'
        return add

    boosters = []
    for spec in queues:
        kind = spec['broker_kind']
        kind = BrokerEnum.REDIS_BRPOP_LPUSH if kind in ('REDIS_BRPOP_LPUSH', 'RedisBrpopLpush') else kind
        params = BoosterParams(
            queue_name=spec['queue'],
            broker_kind=kind,
            broker_exclusive_config=spec.get('broker_exclusive_config') or {},
            concurrent_num=8,
            max_retry_times=0,
            create_logger_file=False,
        )
        boosters.append(boost(params)(make_add(spec['queue'])))
    for booster in boosters:
        booster.consume()
    print('funboost_worker: consuming ' + ', '.join(s['queue'] for s in queues), flush=True)

    deadline = time.time() + args.timeout
    while True:
        if results.exists(args.stop_key):
            print('funboost_worker: stop key seen, exiting', flush=True)
            shutil.rmtree(project, ignore_errors=True)
            os._exit(0)
        if time.time() > deadline:
            print('funboost_worker: timeout, exiting', flush=True)
            shutil.rmtree(project, ignore_errors=True)
            os._exit(3)
        time.sleep(0.05)


if __name__ == '__main__':
    threading.current_thread().name = 'funboost_worker_main'
    main()
