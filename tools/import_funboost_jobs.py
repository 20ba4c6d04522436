#!/usr/bin/env python3
"""Moves the timing jobs funboost stored in Redis into funboost-edge.

funboost's `ApsJobAdder(booster, job_store_kind='redis')` keeps each queue's jobs as APScheduler
pickles in the hash `funboost.apscheduler.jobs:<queue>` (field = job id) and their next run
times in the sorted set `funboost.apscheduler.run_times:<queue>` (paused jobs are not in it).
This command reads them, turns each into an `add_timing_job` request (trigger and its fields,
time zone, start/end dates, jitter, args, kwargs, misfire_grace_time, coalesce) and, with
--apply, adds it through funboost-edge's HTTP API; a paused job is added paused.

Every APScheduler 3 trigger moves (see TRIGGERS below): DateTrigger, IntervalTrigger and
CronTrigger as `date` / `interval` / `cron` fields, funboost-edge computing the first run from
now; CalendarIntervalTrigger, OrTrigger and AndTrigger as `calendarinterval` / `or` / `and`,
starting from the next run time funboost stored, because their fire times depend on the
previous one (a calendar interval steps on from its last date; an or's interval part restarts
from whichever part fired; an and searches on from the previous fire), so the imported job
fires on the instants funboost's scheduler would have.

Run it where your funboost project runs, from the project's directory (the one holding
funboost_config.py), with the Python that runs funboost:

    python /path/to/funboost-edge/tools/import_funboost_jobs.py --base-url http://127.0.0.1:3000 \
        [--token T] [--queue Q ...] [--apply] [--remove-source] [--json-report FILE]

The Redis connection is funboost's own: funboost reads funboost_config.py (BrokerConnConfig)
as it always does, and the jobs are read with the connection arguments funboost's ApsJobAdder
uses. The default is a dry run: nothing is written anywhere, and each job gets a line saying
whether it would be imported, is already imported, or cannot move and why. --apply imports;
running it again imports nothing twice (a job already in funboost-edge with the same id,
trigger and arguments counts as imported). --remove-source deletes a funboost original only
after its import succeeded (or it was already imported), and only if it did not change since
it was read. Exit status: 0 when every job was (or would be) converted, 1 when some could not
be, 2 when the command itself could not run or had to stop (no funboost_config.py, Redis or the
API unreachable, a refused token, bad options); a run that stops midway still prints what it did.

How each trigger is converted, and what cannot move: TRIGGERS below (--help prints it).
"""

TRIGGERS = """\
How each APScheduler trigger is moved:
  DateTrigger         date: run_date with its zone (timezone), or with its UTC offset.
  IntervalTrigger     interval: days/hours/minutes/seconds, timezone, start_date (APScheduler
                      always sets one), end_date, jitter; start/end as wall time in the
                      trigger's zone, or with their UTC offset when in another zone.
  CronTrigger         cron: the fields that are not default, as APScheduler prints them,
                      timezone, start_date, end_date, jitter.
  CalendarIntervalTrigger
                      calendarinterval: years/months/weeks/days, hour/minute/second (its time
                      of day), start_date and end_date as the dates APScheduler holds (a start
                      date not given is the day the job was made), timezone, jitter.
  OrTrigger, AndTrigger
                      or / and: {"triggers": [part, ...], "jitter": n}, each part converted as
                      above, nested and/or parts too, each with its own timezone, start/end
                      dates and jitter.
calendarinterval, or and and jobs start from the next run time funboost stored (sent as
next_run_time, in the job's zone); when that one is past (funboost's scheduler has not run
since), from the first of APScheduler's fire times after it that is not past: missed runs are
not fired, as for date/interval/cron jobs, whose first run funboost-edge computes from now.
A paused job is added paused and, resumed, starts afresh as APScheduler's resume does.

What cannot move is reported with why and what to do, and stays in funboost: a function that
is not funboost's push; arguments that are not JSON or do not fit the consumer (5001); a queue
no consumer registered (4001); a trigger (or part) of another class, with a sub-second
interval, a fractional jitter or a zone without an IANA name; an or/and holding a
calendarinterval part and parts in other zones than the job's (funboost-edge would step the
calendar part from another date than APScheduler); an and whose parts never agree (APScheduler
would search forever; funboost-edge refuses it); a next run in the repeated hour of a DST
change (run the import again after it); a job with no fire time left.
"""

import argparse
import contextlib
import datetime
import json
import os
import pickle
import sys
import urllib.error
import urllib.parse
import urllib.request

JOBS_KEY_PREFIX = 'funboost.apscheduler.jobs:'
RUN_TIMES_KEY_PREFIX = 'funboost.apscheduler.run_times:'
PUSH_FUNC_REF = 'funboost.timing_job.timing_job_base:push_fun_params_to_broker'
REGISTRY_QUEUES = 'funboost_all_queue_names'
REGISTRY_PARAMS = 'funboost_queue__consumer_parmas'

class UsageError(Exception):
    """The command cannot run at all (exit status 2)."""


# ---------------------------------------------------------------------------------------------
# funboost's project and Redis


def load_funboost(project_dir):
    """Imports funboost as the project does: its funboost_config.py from the project directory
    (or anywhere on PYTHONPATH). Returns a redis.Redis client built from funboost's
    BrokerConnConfig with the arguments ApsJobAdder's RedisJobStore uses."""
    import importlib.util

    project_dir = os.path.abspath(project_dir)
    # funboost reads sys.path[1] as the project root and imports `funboost_config` from
    # sys.path; this script's own directory is sys.path[0].
    if project_dir not in sys.path:
        sys.path.insert(1, project_dir)
    if importlib.util.find_spec('funboost_config') is None:
        # Without this check funboost would write a default funboost_config.py (localhost Redis)
        # into sys.path[1] and read the wrong Redis.
        raise UsageError(
            f'no funboost_config.py in {project_dir} or on PYTHONPATH: run this from your funboost '
            'project directory (or pass --project DIR), so that it reads the Redis your funboost uses'
        )
    try:
        # funboost announces its configuration when imported: keep stdout for the report.
        with contextlib.redirect_stdout(sys.stderr):
            import funboost  # noqa: F401  (reads funboost_config.py into BrokerConnConfig)
            from funboost.utils.redis_manager import get_redis_conn_kwargs_safe
    except ImportError as e:
        raise UsageError(f'cannot import funboost ({e}): run this with the Python that runs your funboost project')
    import redis

    kwargs = get_redis_conn_kwargs_safe()
    client = redis.Redis(**kwargs)
    try:
        client.ping()
    except redis.RedisError as e:
        raise UsageError(f"cannot reach funboost's Redis at {kwargs.get('host')}:{kwargs.get('port')} db {kwargs.get('db')}: {e}")
    return client


def stored_queues(r, wanted):
    """The queues with a funboost job store: `funboost.apscheduler.jobs:<queue>` keys."""
    found = set()
    for key in r.scan_iter(match=JOBS_KEY_PREFIX.replace('[', '\\[') + '*', count=1000):
        found.add(key.decode('utf-8', 'surrogateescape')[len(JOBS_KEY_PREFIX):])
    if wanted:
        return sorted(q for q in found if q in wanted), sorted(q for q in wanted if q not in found)
    return sorted(found), []


def read_jobs(r, queue):
    """(job_id, raw pickle, score in run_times or None) of every job stored for `queue`."""
    jobs_key = JOBS_KEY_PREFIX + queue
    run_times_key = RUN_TIMES_KEY_PREFIX + queue
    raw = r.hgetall(jobs_key)
    scores = dict(r.zrange(run_times_key, 0, -1, withscores=True))
    rows = []
    for job_id, blob in raw.items():
        rows.append((job_id.decode('utf-8', 'surrogateescape'), blob, scores.get(job_id)))
    # APScheduler's order: by next run time, paused (no score) last, then by id.
    rows.sort(key=lambda row: (row[2] is None, row[2] or 0, row[0]))
    return rows


def job_identity(state):
    """What must not have changed for a source job to be deleted: everything but the next run
    time, which a running funboost scheduler moves forward at every fire. Triggers have no
    __eq__, so the states are compared pickled again (the same objects pickle the same)."""
    return pickle.dumps({k: v for k, v in state.items() if k != 'next_run_time'}, protocol=5)


def remove_source(r, queue, job_id, read_state):
    """Deletes one funboost job (HDEL + ZREM, as APScheduler's RedisJobStore.remove_job) if it
    is still the job that was imported. Returns None on success, else why not."""
    import redis

    jobs_key = JOBS_KEY_PREFIX + queue
    run_times_key = RUN_TIMES_KEY_PREFIX + queue
    with r.pipeline() as pipe:
        for _ in range(5):
            try:
                pipe.watch(jobs_key)
                blob = pipe.hget(jobs_key, job_id)
                if blob is None:
                    pipe.unwatch()
                    return None  # already gone
                try:
                    now_state = pickle.loads(blob)
                except Exception as e:  # noqa: BLE001  (any unpickling error)
                    pipe.unwatch()
                    return f'it can no longer be read ({type(e).__name__}: {e})'
                if job_identity(now_state) != job_identity(read_state):
                    pipe.unwatch()
                    return 'it changed in funboost since it was read; run the import again'
                pipe.multi()
                pipe.hdel(jobs_key, job_id)
                pipe.zrem(run_times_key, job_id)
                pipe.execute()
                return None
            except redis.WatchError:
                continue
    return 'it kept changing while being deleted; run the import again'


def registry_check(r, queue, args, kwargs):
    """funboost's own rule for a queue and a job's arguments (timing_job_base.add_push_job ->
    publisher.check_func_input_params): the queue must be registered by a consumer, positional
    args are zipped onto the parameter names, the names must be parameters and the required
    ones present. The dry run's prediction of the API's 4001 / 5001; --apply lets the API decide.
    Returns None or (code, why)."""
    if not r.sismember(REGISTRY_QUEUES, queue):
        return 4001, f'no funboost consumer registered queue {queue} ({REGISTRY_QUEUES})'
    raw = r.hget(REGISTRY_PARAMS, queue)
    if raw is None:
        return 4001, f'queue {queue} has no registered consumer parameters ({REGISTRY_PARAMS})'
    try:
        info = json.loads(raw)['auto_generate_info']['final_func_input_params_info']
        all_names = list(info['all_arg_name_list'])
        must = list(info['must_arg_name_list'])
    except (ValueError, KeyError, TypeError) as e:
        return 4001, f'the registered parameters of queue {queue} cannot be read ({e})'
    if len(args) > len(all_names):
        return 5001, f'{len(args)} positional args but the consumer of {queue} takes {len(all_names)} ({", ".join(all_names)})'
    given = dict(zip(all_names, args))
    twice = sorted(k for k in kwargs if k in given)
    if twice:
        return 5001, f'{", ".join(twice)} given both positionally and by name'
    given.update(kwargs)
    unknown = sorted(k for k in given if k not in all_names)
    if unknown:
        return 5001, f'{", ".join(unknown)} not a parameter of the consumer of {queue} ({", ".join(all_names)})'
    missing = [k for k in must if k not in given]
    if missing:
        return 5001, f'required parameter {", ".join(missing)} of the consumer of {queue} not given'
    return None


# ---------------------------------------------------------------------------------------------
# Converting one APScheduler job


class Skip(Exception):
    """The job cannot be expressed as a funboost-edge job: (why, what to do)."""

    def __init__(self, why, todo):
        super().__init__(why)
        self.why = why
        self.todo = todo


def zone_name(tz):
    """The IANA name (or UTC) funboost-edge takes for a trigger's tzinfo."""
    if tz is None:
        raise Skip('the trigger has no time zone', 'add it by hand with a timezone')
    if tz is datetime.timezone.utc:
        return 'UTC'
    key = getattr(tz, 'key', None) or getattr(tz, 'zone', None)  # zoneinfo / pytz
    if key:
        return key
    if isinstance(tz, datetime.timezone):
        offset = tz.utcoffset(None)
        seconds = int(offset.total_seconds())
        if seconds == 0:
            return 'UTC'
        if seconds % 3600 == 0 and abs(seconds) <= 14 * 3600:
            # IANA's fixed-offset zones have the sign inverted: UTC+05:00 is Etc/GMT-5.
            hours = seconds // 3600
            return f'Etc/GMT{-hours:+d}'
    raise Skip(
        f'its time zone {tz!r} has no IANA name',
        'add it by hand with an IANA timezone (funboost-edge takes IANA names or UTC)',
    )


def fmt_wall(dt):
    """`YYYY-MM-DD HH:MM:SS[.ffffff]`: wall time, no offset (funboost-edge's date format)."""
    text = dt.strftime('%Y-%m-%d %H:%M:%S')
    if dt.microsecond:
        text += f'.{dt.microsecond:06d}'
    return text


def fmt_offset(dt):
    """Wall time plus the UTC offset of `dt` (`Z` for UTC): a fixed-offset date."""
    offset = dt.utcoffset()
    seconds = int(offset.total_seconds())
    if seconds == 0 and dt.tzinfo is datetime.timezone.utc:
        return fmt_wall(dt) + 'Z'
    if seconds % 60 or offset.microseconds:
        raise Skip(f'{dt} has a UTC offset of {offset}, not whole minutes', 'add it by hand')
    sign = '+' if seconds >= 0 else '-'
    seconds = abs(seconds)
    return f'{fmt_wall(dt)}{sign}{seconds // 3600:02d}:{seconds // 60 % 60:02d}'


def bound(dt, trigger_tz):
    """A start/end date as funboost-edge reads it like APScheduler: naive wall time in the
    trigger's zone when it carries the trigger's own zone (then APScheduler compares it by wall
    time, and funboost-edge too), else with its UTC offset (compared as an instant)."""
    if dt is None:
        return None
    if dt.tzinfo is trigger_tz and not (dt.fold and dt.replace(fold=0).utcoffset() != dt.utcoffset()):
        return fmt_wall(dt)
    return fmt_offset(dt)


def jitter_value(jitter):
    if jitter is None:
        return None
    if float(jitter) != int(jitter) or not 0 <= jitter <= 86400:
        raise Skip(f'jitter {jitter} s is not a whole number of seconds from 0 to 86400', 'add it by hand with a whole-second jitter')
    return int(jitter) or None


def convert_trigger(trigger):
    """The trigger fields of the add request: for a combined trigger, its parts converted the
    same way (recursively), each a full trigger with its own zone, start/end dates and jitter."""
    from apscheduler.triggers.calendarinterval import CalendarIntervalTrigger
    from apscheduler.triggers.combining import AndTrigger, OrTrigger
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.date import DateTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    if isinstance(trigger, (AndTrigger, OrTrigger)):
        kind = 'and' if isinstance(trigger, AndTrigger) else 'or'
        parts = []
        for i, part in enumerate(trigger.triggers):
            try:
                parts.append(convert_trigger(part))
            except Skip as skip:
                # Name the part, outermost first: "part 2 of or[...]: part 1 of and[...]: ...".
                raise Skip(f'part {i + 1} of {trigger}: {skip.why}', skip.todo)
        body = {'trigger': kind, 'triggers': parts}
        jitter = jitter_value(trigger.jitter)
        if jitter:
            body['jitter'] = jitter
        return body
    if isinstance(trigger, CalendarIntervalTrigger):
        body = {'trigger': 'calendarinterval'}
        for unit in ('years', 'months', 'weeks', 'days'):
            value = getattr(trigger, unit)
            if isinstance(value, bool) or not isinstance(value, int):
                raise Skip(f'calendar interval trigger {trigger!r} has {unit}={value!r}, not a whole number', 'add it by hand with whole numbers')
            if value:
                body[unit] = value
        # APScheduler keeps the time of day as a `time` in the trigger's zone (whole seconds),
        # and the start/end dates as `date`s: the date the schedule starts on (date.today()
        # when it was made, if none was given) and the last date it may fire on.
        time_of_day = trigger._time
        body.update(hour=time_of_day.hour, minute=time_of_day.minute, second=time_of_day.second)
        body['start_date'] = trigger.start_date.isoformat()
        if trigger.end_date is not None:
            body['end_date'] = trigger.end_date.isoformat()
        body['timezone'] = zone_name(trigger.timezone)
        jitter = jitter_value(trigger.jitter)
        if jitter:
            body['jitter'] = jitter
        return body
    if isinstance(trigger, DateTrigger):
        run_date = trigger.run_date
        tz = run_date.tzinfo
        named = tz is not None and not isinstance(tz, datetime.timezone) and getattr(tz, 'key', None)
        ambiguous_fold = run_date.fold and run_date.replace(fold=0).utcoffset() != run_date.utcoffset()
        if named and not ambiguous_fold:
            return {'trigger': 'date', 'run_date': fmt_wall(run_date), 'timezone': zone_name(tz)}
        if tz is datetime.timezone.utc:
            return {'trigger': 'date', 'run_date': fmt_wall(run_date), 'timezone': 'UTC'}
        return {'trigger': 'date', 'run_date': fmt_offset(run_date)}
    if isinstance(trigger, IntervalTrigger):
        interval = trigger.interval
        if interval.microseconds:
            raise Skip(f'interval {interval} is not a whole number of seconds', 'add it by hand with a whole-second interval')
        body = {'trigger': 'interval'}
        # A timedelta is days + seconds (< 1 day); split as a person would write it.
        units = {'days': interval.days, 'hours': interval.seconds // 3600,
                 'minutes': interval.seconds // 60 % 60, 'seconds': interval.seconds % 60}
        for name, value in units.items():
            if value:
                body[name] = value
        tz = trigger.timezone
        body['timezone'] = zone_name(tz)
        body['start_date'] = bound(trigger.start_date, tz)
        if trigger.end_date is not None:
            body['end_date'] = bound(trigger.end_date, tz)
        jitter = jitter_value(trigger.jitter)
        if jitter:
            body['jitter'] = jitter
        return body
    if isinstance(trigger, CronTrigger):
        body = {'trigger': 'cron'}
        for field in trigger.fields:
            if not field.is_default:
                body[field.name] = str(field)
        tz = trigger.timezone
        body['timezone'] = zone_name(tz)
        if trigger.start_date is not None:
            body['start_date'] = bound(trigger.start_date, tz)
        if trigger.end_date is not None:
            body['end_date'] = bound(trigger.end_date, tz)
        jitter = jitter_value(trigger.jitter)
        if jitter:
            body['jitter'] = jitter
        return body
    raise Skip(
        f'trigger {type(trigger).__module__}.{type(trigger).__qualname__} ({trigger}) is not one of APScheduler\'s triggers '
        '(date, interval, cron, calendarinterval, and, or)',
        'add it by hand',
    )


class CatchUpNote(str):
    """A note about where an imported job starts: said only when it is (or would be) added."""


# The triggers whose imported job starts from the next run time funboost stored (see first_run).
CONTINUED_KINDS = ('calendarinterval', 'or', 'and')

# How many of APScheduler's fire times first_run steps through to catch up with now, and how
# many rounds an AndTrigger gets to make its parts agree on one of them.
MAX_CATCH_UP_STEPS = 100_000
MAX_AND_ROUNDS = 10_000


def takes_default_zone(body):
    """Whether funboost-edge gives this trigger (or a part of it) its default zone: a part
    without `timezone` (a date part whose run_date has only a UTC offset)."""
    if body['trigger'] in ('and', 'or'):
        return any(takes_default_zone(part) for part in body['triggers'])
    return 'timezone' not in body


def app_zone(body, default_zone):
    """The zone funboost-edge keeps the job's times in: the trigger's own; for and/or, the
    default zone when a part takes it, else the first part's (as src/trigger/mod.rs does)."""
    if body['trigger'] in ('and', 'or'):
        if takes_default_zone(body):
            return default_zone
        return app_zone(body['triggers'][0], default_zone)
    return body.get('timezone') or default_zone


def next_fire(trigger, previous, now, rounds):
    """APScheduler's `trigger.get_next_fire_time(previous, now)`, except that an AndTrigger
    whose parts never agree (APScheduler loops forever there) raises Skip after
    MAX_AND_ROUNDS rounds instead of hanging. `rounds` is a one-element budget list."""
    from apscheduler.triggers.combining import AndTrigger, OrTrigger

    if type(trigger) is OrTrigger:
        fire_times = [f for f in (next_fire(t, previous, now, rounds) for t in trigger.triggers) if f is not None]
        return trigger._apply_jitter(min(fire_times), trigger.jitter, now) if fire_times else None
    if type(trigger) is AndTrigger:
        while True:
            rounds[0] += 1
            if rounds[0] > MAX_AND_ROUNDS:
                raise Skip(
                    f'APScheduler cannot compute its fire time after {previous}: the parts of {trigger} never agree '
                    '(APScheduler 3 searches forever there, so funboost would hang on this job)',
                    'add it by hand with a trigger whose parts agree, then delete this job in funboost',
                )
            fire_times = [next_fire(t, previous, now, rounds) for t in trigger.triggers]
            if None in fire_times:
                return None
            if min(fire_times) == max(fire_times):
                return trigger._apply_jitter(fire_times[0], trigger.jitter, now)
            now = max(fire_times)
    return trigger.get_next_fire_time(previous, now)


def first_run(trigger, stored, now):
    """The first run of an imported calendarinterval/or/and job: the next run time funboost
    stored, and from there the trigger goes on as in APScheduler. Its fire times depend on the
    previous one (a calendar interval steps from its last date and ignores now; an interval part
    of an or restarts from whichever part fired; an and searches from the previous fire), so
    funboost-edge must start where funboost's scheduler is, not compute them afresh from now.
    When that run is past (funboost's scheduler has not run since), it steps through
    APScheduler's fire times (get_next_fire_time(previous, now), as APScheduler's scheduler
    catches up) to the first one not before now: the missed ones are not fired, as for the
    other triggers, whose first run funboost-edge computes from now.
    Returns (first run, whether it moved on); raises Skip when no fire time is left."""
    run = stored
    steps = 0
    while run is not None and run < now:
        steps += 1
        if steps > MAX_CATCH_UP_STEPS:
            raise Skip(
                f'its next run {stored} is more than {MAX_CATCH_UP_STEPS} fire times behind now (funboost\'s scheduler has not run since)',
                'start funboost\'s scheduler once so that it catches up, then run the import again',
            )
        run = next_fire(trigger, run, now, [0])
    if run is None:
        raise Skip(
            f'it has no fire time left: its next run {stored} and every one APScheduler gives after it are past '
            '(funboost deletes it when its scheduler next runs)',
            'nothing to move: delete it in funboost',
        )
    return run, steps > 0


def leaf_zones(body):
    """The zones of the parts that are not and/or (None: a date part with only a UTC offset)."""
    if body['trigger'] in ('and', 'or'):
        return [zone for part in body['triggers'] for zone in leaf_zones(part)]
    return [body.get('timezone')]


def has_calendar_part(body):
    if body['trigger'] in ('and', 'or'):
        return any(part['trigger'] == 'calendarinterval' or has_calendar_part(part) for part in body['triggers'])
    return False


def check_calendar_parts(body, default_zone):
    """An and/or passes its previous fire time to every part, and a calendarinterval part steps
    from that time's date. APScheduler passes the datetime of the part that fired, in that
    part's zone; funboost-edge passes the same instant in the job's zone. When a part's zone is
    not the job's, the two dates can differ at the same instant, and then the imported job
    would fire on other days than funboost's (funboost-edge's difference, not APScheduler's):
    such a job is not moved."""
    if body['trigger'] not in ('and', 'or') or not has_calendar_part(body):
        return
    zone = app_zone(body, default_zone)
    others = sorted({z or 'a UTC offset' for z in leaf_zones(body) if z != zone})
    if others:
        raise Skip(
            f'it has a calendarinterval part, and parts in other zones ({", ".join(others)}) than the one funboost-edge keeps the job in ({zone}): '
            'APScheduler steps a calendarinterval part from the date of the previous fire in the zone of the part that fired, '
            'funboost-edge from its date in the job\'s zone, so the imported job could fire on other days than funboost\'s',
            'add it by hand (for example one job per part, or all parts in one zone), then delete this job in funboost',
        )


def next_run_text(run, zone):
    """`run` as the wall time funboost-edge reads `next_run_time` in: the job's zone, no
    offset (funboost-edge keeps the wall time of a next_run_time given with a UTC offset but
    reads it in the job's zone, which would change the instant when the offsets differ).
    Returns (that text, `run` printed in the job's zone as funboost-edge prints it)."""
    import zoneinfo

    try:
        tz = datetime.timezone.utc if zone == 'UTC' else zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as e:
        raise Skip(f'funboost-edge keeps it in zone {zone}, which this Python does not know ({e})', 'install tzdata, then run the import again')
    local = run.astimezone(tz)
    if local.fold and local.replace(fold=0).utcoffset() != local.utcoffset():
        raise Skip(
            f'its next run {run} is the second {fmt_wall(local)} of {zone} (the repeated hour of a DST change), '
            'which funboost-edge\'s next_run_time reads as the first',
            f'run the import again after {run}',
        )
    return fmt_wall(local), str(local)


def convert(queue_key, job_id, state, now, default_zone):
    """The add request for one pickled job state (APScheduler's Job.__getstate__). `now` is
    the run's start (aware); `default_zone` is funboost-edge's default zone (its health)."""
    func = state.get('func')
    if func != PUSH_FUNC_REF:
        raise Skip(
            f"its function {func!r} is not funboost's push ({PUSH_FUNC_REF}): funboost-edge only publishes to funboost queues",
            'keep it in APScheduler, or make it a funboost consumer and add a timing job that pushes to it',
        )
    args = list(state.get('args') or ())
    if not args or not isinstance(args[0], str):
        raise Skip('its first argument is not a queue name', 'add it by hand')
    queue = args[0]
    body = {'queue_name': queue, 'job_id': job_id}
    body.update(convert_trigger(state['trigger']))
    body['args'] = args[1:]
    body['kwargs'] = dict(state.get('kwargs') or {})
    try:
        # As funboost's message would carry them (tuples become lists): also what
        # funboost-edge echoes back, for comparing with an already imported job.
        body['args'] = json.loads(json.dumps(body['args'], allow_nan=False))
        body['kwargs'] = json.loads(json.dumps(body['kwargs'], allow_nan=False))
    except (TypeError, ValueError) as e:
        raise Skip(f'its arguments are not JSON ({e}); funboost messages are JSON', 'add it by hand with JSON arguments')
    grace = state.get('misfire_grace_time', 1)
    if grace is not None and (int(grace) != grace or grace < 1):
        raise Skip(f'misfire_grace_time {grace} is not a whole number of seconds ≥ 1', 'add it by hand')
    body['misfire_grace_time'] = None if grace is None else int(grace)
    body['coalesce'] = bool(state.get('coalesce', True))
    notes = []
    check_calendar_parts(body, default_zone)
    stored = state.get('next_run_time')
    if body['trigger'] in CONTINUED_KINDS and stored is not None:
        run, moved_on = first_run(state['trigger'], stored, now)
        body['next_run_time'], shown = next_run_text(run, app_zone(body, default_zone))
        if moved_on:
            notes.append(CatchUpNote(f"funboost's next run {stored} is past (its scheduler has not run since): "
                                     f"funboost-edge starts at {shown}, the first of APScheduler's fire times after it that is not past"))
    if queue != queue_key:
        notes.append(f'stored under queue {queue_key} but pushes to queue {queue}: imported into {queue}')
    if state.get('max_instances', 1) != 1:
        notes.append(f"max_instances {state['max_instances']} not carried (a push takes no time)")
    return body, notes


# ---------------------------------------------------------------------------------------------
# funboost-edge's HTTP API


class Api:
    def __init__(self, base_url, token):
        base = base_url.rstrip('/')
        self.base = base if base.endswith('/funboost') else base + '/funboost'
        self.token = token

    def call(self, method, route, query=None, body=None):
        """(HTTP status, envelope). Raises UsageError when the API cannot be reached or does not
        answer with funboost's envelope."""
        url = f'{self.base}/{route}'
        if query:
            url += '?' + urllib.parse.urlencode(query)
        data = None
        headers = {'accept': 'application/json'}
        if body is not None:
            data = json.dumps(body).encode()
            headers['content-type'] = 'application/json'
        if self.token:
            headers['authorization'] = f'Bearer {self.token}'
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, text = response.status, response.read()
        except urllib.error.HTTPError as e:
            status, text = e.code, e.read()
        except (urllib.error.URLError, OSError) as e:
            raise UsageError(f'cannot reach funboost-edge at {self.base}: {e}')
        try:
            envelope = json.loads(text)
            envelope['code']
        except (ValueError, KeyError, TypeError):
            raise UsageError(f'{method} {url} did not answer with funboost-edge JSON (HTTP {status}): {text[:200]!r}')
        if status == 401:
            raise UsageError(f"funboost-edge refused the token (HTTP 401): {envelope.get('msg')}; pass --token")
        return status, envelope

    def get_job(self, queue, job_id):
        status, envelope = self.call('GET', 'get_timing_job', {'job_id': job_id, 'queue_name': queue, 'count': 1})
        if status == 200:
            return envelope['data']
        if status == 404:
            return None
        raise ApiRefused(envelope)


class ApiRefused(Exception):
    def __init__(self, envelope):
        super().__init__(envelope.get('msg'))
        self.envelope = envelope
        self.code = envelope.get('code')


def advice(code):
    return {
        4001: "start the queue's funboost consumer once (it registers the queue and its parameters), or set funboost-edge's allow_unregistered_queues, then run the import again",
        5001: "the job's args/kwargs do not fit the consumer's registered parameters: fix the job in funboost (or the consumer) and run the import again, or add it by hand",
        4091: 'raise max_jobs_per_queue, then run the import again',
        4000: 'add it by hand with a corrected field',
    }.get(code, 'see the message; the job stays in funboost')


def same_job(body, existing):
    """Whether the funboost-edge job `existing` (a get_timing_job view) is `body` imported."""
    for name, value in body.items():
        # next_run_time: funboost's scheduler moves it on at every fire, and so does funboost-edge.
        if name in ('job_id', 'replace_existing', 'paused', 'next_run_time'):
            continue
        if name == 'timezone':
            if existing.get('timezone') != value:
                return False
            continue
        if existing.get(name) != value:
            return False
    # Trigger fields set on the existing job that the request does not have.
    trigger_fields = {'run_date', 'years', 'months', 'weeks', 'days', 'hours', 'minutes', 'seconds', 'year', 'month', 'day',
                      'week', 'day_of_week', 'hour', 'minute', 'second', 'start_date', 'end_date', 'jitter', 'triggers'}
    for name in trigger_fields:
        if existing.get(name) is not None and name not in body:
            return False
    return True


def parse_wall(text, zone):
    """A wall time in `zone` (funboost-edge's reading of a next_run_time without offset)."""
    import zoneinfo

    tz = datetime.timezone.utc if zone == 'UTC' else zoneinfo.ZoneInfo(zone)
    return datetime.datetime.fromisoformat(text).replace(tzinfo=tz)


def parse_py_time(text):
    return datetime.datetime.fromisoformat(text) if text else None


# ---------------------------------------------------------------------------------------------
# The import


def import_job(api, r, source_queue, job_id, blob, score, apply, remove, now, default_zone):
    """One job: a report entry {queue, job_id, status, ok, why?, todo?, notes, ...}."""
    entry = {'source_queue': source_queue, 'job_id': job_id, 'notes': []}
    try:
        state = pickle.loads(blob)
    except Exception as e:  # noqa: BLE001  (any unpickling error: missing class, old protocol)
        entry.update(status='skipped', ok=False, why=f'its pickle cannot be read here ({type(e).__name__}: {e})',
                     todo='run this with the funboost project importable (the classes in its args), or add it by hand')
        return entry
    paused = state.get('next_run_time') is None
    entry['paused'] = paused
    entry['source_next_run_time'] = None if paused else str(state['next_run_time'])
    try:
        body, notes = convert(source_queue, job_id, state, now, default_zone)
    except Skip as skip:
        entry.update(status='skipped', ok=False, why=skip.why, todo=skip.todo)
        return entry
    entry['notes'].extend(notes)
    entry['queue'] = body['queue_name']
    entry['request'] = body
    if score is None and not paused:
        entry['notes'].append('it has a next run time but is missing from the run_times index (funboost would not fire it): imported as running')

    try:
        existing = api.get_job(body['queue_name'], job_id)
    except ApiRefused as e:
        entry.update(status='failed', ok=False, why=f"get_timing_job failed: {e.envelope.get('msg')}", todo=advice(e.code))
        return entry
    if existing is not None:
        if not same_job(body, existing):
            entry.update(status='conflict', ok=False,
                         why=f"funboost-edge already has a different job {job_id} in queue {body['queue_name']} (trigger {existing.get('trigger_str')})",
                         todo='delete or rename one of them, then run the import again')
            return entry
        entry['status'] = 'already imported'
        entry['notes'] = [note for note in entry['notes'] if not isinstance(note, CatchUpNote)]
        if paused and existing.get('status') == 'running':
            # Its pause after the add failed, or someone resumed it since: either way, not
            # something to change behind the user's back, nor a reason to delete the original.
            entry.update(ok=False, why='it is paused in funboost but running in funboost-edge',
                         todo=f"pause it (POST pause_timing_job?job_id={job_id}&queue_name={body['queue_name']}) if it should not run, "
                              'or resume it in funboost; then run the import again')
            return entry
        if not paused and existing.get('status') == 'paused':
            entry['notes'].append('it is paused in funboost-edge (running in funboost)')
        entry['ok'] = True
    elif not apply:
        # Validate the trigger (preview stores nothing) and predict the queue checks.
        preview = {k: v for k, v in body.items()
                   if k not in ('queue_name', 'job_id', 'args', 'kwargs', 'misfire_grace_time', 'coalesce', 'paused', 'next_run_time')}
        preview['count'] = 1
        status, envelope = api.call('POST', 'preview_timing_job', body=preview)
        if status != 200:
            entry.update(status='skipped', ok=False, why=f"funboost-edge refuses its trigger: {envelope.get('msg')}", todo=advice(envelope.get('code')))
            return entry
        refused = registry_check(r, body['queue_name'], body['args'], body['kwargs'])
        if refused:
            code, why = refused
            entry.update(status='would be refused', ok=False, why=f'{why} (funboost-edge answers {code})', todo=advice(code))
            return entry
        entry['status'] = 'would import'
        entry['ok'] = True
        fires = envelope['data']['next_run_times']
        entry['next_run_time'] = fires[0] if fires else None
        if 'next_run_time' in body:
            # It would start where funboost's scheduler is, not at the preview's first fire.
            entry['next_run_time'] = next_run_text(parse_wall(body['next_run_time'], envelope['data']['timezone']), envelope['data']['timezone'])[1]
        if paused:
            entry['notes'].append('paused: would be added paused')
        return entry
    else:
        status, envelope = api.call('POST', 'add_timing_job', body={**body, 'paused': True} if paused else body)
        if status != 200:
            code = envelope.get('code')
            if code == 4090:  # added by someone else between the get and the add: look again
                existing = api.get_job(body['queue_name'], job_id)
                if existing is not None and same_job(body, existing):
                    entry.update(status='already imported', ok=True)
                    return finish_remove(entry, r, source_queue, job_id, state, remove)
            entry.update(status='refused', ok=False, why=f"funboost-edge refused it ({code} {envelope.get('error')}): {envelope.get('msg')}",
                         todo=advice(code))
            return entry
        added = envelope['data']
        entry['status'] = 'imported'
        entry['next_run_time'] = added.get('next_run_time')
        if paused:
            entry['next_run_time'] = None
        else:
            check_next_run(entry, state, added, now)
        entry['ok'] = True
    return finish_remove(entry, r, source_queue, job_id, state, remove)


def check_next_run(entry, state, added, now):
    """Compares funboost-edge's next run with the one funboost stored."""
    source = state.get('next_run_time')
    ours = parse_py_time(added.get('next_run_time'))
    request = entry['request']
    if source is None or (request.get('jitter') and 'next_run_time' not in request):
        return
    if 'next_run_time' in request:
        # Given as funboost's own (or the first not past after it: convert noted that).
        if source >= now and (ours is None or ours != source):
            entry['notes'].append(f"funboost-edge's next run {added.get('next_run_time')} differs from funboost's {source}")
        return
    if source < now:
        entry['notes'].append(f"funboost's next run {source} is past (its scheduler has not run since): "
                              f"funboost-edge's next run is {added.get('next_run_time')}")
    elif ours is None or ours != source:
        entry['notes'].append(f"funboost-edge's next run {added.get('next_run_time')} differs from funboost's {source}")


def finish_remove(entry, r, source_queue, job_id, state, remove):
    if remove and entry.get('ok'):
        why_not = remove_source(r, source_queue, job_id, state)
        if why_not:
            entry['ok'] = False
            entry['why'] = f'imported, but the funboost original was not deleted: {why_not}'
            entry['todo'] = 'run the import again with --remove-source'
        else:
            entry['source_removed'] = True
    return entry


def render(spec):
    """A trigger request as one line: `kind[field=value, ...]`, parts of and/or the same way."""
    fields = []
    for k, v in spec.items():
        if k in ('queue_name', 'job_id', 'args', 'kwargs', 'misfire_grace_time', 'coalesce', 'trigger', 'next_run_time'):
            continue
        fields.append(f"triggers=[{', '.join(render(part) for part in v)}]" if k == 'triggers' else f'{k}={v!r}')
    return f"{spec['trigger']}[{', '.join(fields)}]"


def line(entry):
    where = f"{entry.get('queue') or entry['source_queue']}/{entry['job_id']}"
    status = entry['status']
    text = f"{status:<17} {where}"
    request = entry.get('request')
    if request is not None:
        text += f'  {render(request)}'
        if entry.get('paused'):
            text += '  paused'
        elif entry.get('next_run_time'):
            text += f"  next run {entry['next_run_time']}"
    if entry.get('source_removed'):
        text += '  (funboost original deleted)'
    if not entry['ok']:
        text += f"\n    why: {entry['why']}\n    to do: {entry['todo']}"
    for note in entry['notes']:
        text += f'\n    note: {note}'
    return text


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Import the timing jobs funboost's ApsJobAdder(job_store_kind='redis') stored in Redis into\n"
                    'funboost-edge: date, interval, cron, calendarinterval, and/or (nested) triggers. Dry run unless\n'
                    '--apply. Run it from your funboost project directory with the Python that runs funboost.',
        epilog=TRIGGERS + '\nExit status: 0 every job was (or would be) moved, 1 some cannot move, 2 the command could not run.',
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--base-url', required=True, help='funboost-edge, e.g. http://127.0.0.1:3000')
    parser.add_argument('--token', default=os.environ.get('FUNBOOST_EDGE_API_TOKEN'), help='the API token (default: $FUNBOOST_EDGE_API_TOKEN)')
    parser.add_argument('--queue', action='append', default=[], help='only this queue (repeatable); default: every queue with stored jobs')
    parser.add_argument('--apply', action='store_true', help='import (default: dry run, nothing is written)')
    parser.add_argument('--remove-source', action='store_true', help='with --apply: delete each funboost original once its import succeeded')
    parser.add_argument('--project', default='.', help='the funboost project directory holding funboost_config.py (default: the current one)')
    parser.add_argument('--json-report', metavar='FILE', help='also write the report as JSON to FILE')
    args = parser.parse_args(argv)
    if args.remove_source and not args.apply:
        parser.error('--remove-source needs --apply (a dry run deletes nothing)')

    try:
        r = load_funboost(args.project)
        api = Api(args.base_url, args.token)
        status, envelope = api.call('GET', 'health')
        if status != 200:
            raise UsageError(f"funboost-edge at {api.base} is not healthy (HTTP {status}): {envelope.get('msg')}")
        default_zone = (envelope.get('data') or {}).get('timezone') or 'UTC'
        queues, absent = stored_queues(r, set(args.queue))
    except UsageError as e:
        print(f'import_funboost_jobs: {e}', file=sys.stderr)
        return 2

    entries = []
    aborted = None
    now = datetime.datetime.now(datetime.timezone.utc)
    import redis

    for queue in queues:
        try:
            rows = read_jobs(r, queue)
        except redis.RedisError as e:
            aborted = f"reading queue {queue}'s jobs from funboost's Redis failed: {e}"
            break
        for job_id, blob, score in rows:
            try:
                entry = import_job(api, r, queue, job_id, blob, score, args.apply, args.remove_source, now, default_zone)
            except ApiRefused as e:
                entry = {'source_queue': queue, 'job_id': job_id, 'notes': [], 'status': 'failed', 'ok': False,
                         'why': f"funboost-edge answered {e.code}: {e.envelope.get('msg')}", 'todo': advice(e.code)}
            except (UsageError, redis.RedisError) as e:
                # The API or Redis went away mid-run: report what was done so far, then stop.
                aborted = str(e) if isinstance(e, UsageError) else f"funboost's Redis failed: {e}"
                entries.append({'source_queue': queue, 'job_id': job_id, 'notes': [], 'status': 'failed', 'ok': False,
                                'why': aborted, 'todo': 'run the import again once funboost-edge answers (it imports nothing twice)'})
                break
            entries.append(entry)
        if aborted:
            break

    mode = 'apply' if args.apply else 'dry run'
    out = [f"funboost jobs -> {api.base} ({mode}{', removing imported originals' if args.remove_source else ''})"]
    for queue in absent:
        out.append(f'no jobs         {queue}  (no {JOBS_KEY_PREFIX}{queue} in Redis)')
    out.extend(line(e) for e in entries)
    counts = {}
    for e in entries:
        counts[e['status']] = counts.get(e['status'], 0) + 1
    failed = [e for e in entries if not e['ok']]
    summary = ', '.join(f'{n} {s}' for s, n in sorted(counts.items())) or 'no jobs found'
    out.append(f'{len(entries)} jobs: {summary}; {len(failed)} cannot move (left in funboost)')
    if not args.apply and entries:
        out.append('dry run: nothing was written; run again with --apply to import')
    if aborted:
        out.append(f'stopped early: {aborted}; the jobs after this one were not looked at')
    print('\n'.join(out), flush=True)
    if args.json_report:
        with open(args.json_report, 'w') as f:
            json.dump({'mode': mode, 'queues_without_jobs': absent, 'jobs': entries, 'counts': counts, 'aborted': aborted},
                      f, indent=2, default=str)
    if aborted:
        print(f'import_funboost_jobs: {aborted}', file=sys.stderr)
        return 2
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
