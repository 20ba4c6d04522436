"""funboost 55's ApsJobAdder and funboost_edge.EdgeJobAdder, call for call
(tests/python_client_matches_funboost.rs).

    python client_differential.py --redis-port P --base-url URL --clock-file F \
        [--seed S] [--calls N] [--start-us US]

1. The frozen phase. The Redis server runs with a frozen clock (the Rust test preloads a shim
   that reads the time from --clock-file, 8 bytes, little-endian Unix µs; 0 = the real clock),
   so funboost-edge's "now" (Redis TIME) is that instant; this process is frozen at the same
   instant with time-machine, so APScheduler's datetime.now() is too. The clock moves only
   when this driver moves both. Then one seeded sequence of random calls goes through
   funboost's own ApsJobAdder(booster, job_store_kind='redis', is_auto_start=True,
   is_auto_paused=True) (its scheduler started paused: it stores, never fires) and through
   EdgeJobAdder(booster, job_store_kind='redis') against the real .wasm: adds of every trigger
   kind and value form (OrTrigger, AndTrigger and CalendarIntervalTrigger as objects, the only
   way APScheduler 3.11.3 takes them), replaces, duplicate ids, modify_job, reschedule_job, pause, resume,
   remove, unknown ids, bad values. Each call's outcome is compared: the returned job
   (str(job): name, str(trigger), next run time with its zone's abbreviation; next_run_time;
   args; kwargs; misfire_grace_time; coalesce) or the exception raised, and the job lists
   (get_jobs()) every few calls and at the end.
2. The firing phase, on the real clock: the same few jobs on each side (queue fire_fb through
   funboost, fire_edge through funboost-edge), both schedulers resumed, funboost's own
   scheduler thread and funboost-edge's ticker fire them, and a real funboost consumer
   (funboost_worker.py, run by the Rust test) records what its function receives. The
   arguments received per job are compared.

Prints progress on stderr, then `PHASE firing` on stdout and waits for a line on stdin (the Rust
test starts the ticker), then `RESULT <json>` on stdout.
"""

import argparse
import datetime as dt
import json
import os
import random
import struct
import sys
import tempfile
import time
import traceback
from zoneinfo import ZoneInfo

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from funboost_worker import enter_funboost_project  # noqa: E402

UTC = dt.timezone.utc
SCHEDULER_ZONE = 'Asia/Shanghai'  # funboost's TIMEZONE and funboost-edge's `timezone` variable
ZONES = ['Asia/Shanghai', 'UTC', 'America/New_York', 'Europe/London', 'Asia/Kolkata', 'Australia/Sydney']
QUEUE = 'cmp_q'
FIRE_FB, FIRE_EDGE = 'fire_fb', 'fire_edge'


def log(*parts):
    print(*parts, file=sys.stderr, flush=True)


def emit(line):
    """A line for the Rust test, on the real stdout (funboost's own output goes to stderr)."""
    sys.__stdout__.write(line + '\n')
    sys.__stdout__.flush()


# ---------------------------------------------------------------------------------------------
# The frozen clock: the Redis server's (through the shim's file) and this process's (time-machine)


class Clock:
    def __init__(self, path, start_us):
        import time_machine

        self.fd = os.open(path, os.O_WRONLY)
        self.us = start_us
        self._write(start_us)
        self.traveller = time_machine.travel(self.now(), tick=False)
        self.coordinates = self.traveller.start()

    def _write(self, us):
        os.pwrite(self.fd, struct.pack('<q', us), 0)

    def now(self):
        return dt.datetime.fromtimestamp(self.us // 1_000_000, UTC).replace(microsecond=self.us % 1_000_000)

    def advance(self, us):
        self.us += us
        self._write(self.us)
        self.coordinates.move_to(self.now())

    def release(self):
        """Back to the real clock, on both sides."""
        self._write(0)
        self.traveller.stop()


# ---------------------------------------------------------------------------------------------
# Random calls


class Gen:
    def __init__(self, rng, clock):
        self.rng = rng
        self.clock = clock

    def chance(self, p):
        return self.rng.random() < p

    def instant(self, past=True):
        """An instant near now: seconds to a year ahead, or (past) up to 3 days back."""
        r = self.rng
        span = r.choice([5, 90, 3600, 86400, 7 * 86400, 200 * 86400])
        secs = r.uniform(-3 * 86400 if past and r.random() < 0.3 else 1, span)
        t = self.clock.now() + dt.timedelta(seconds=secs)
        if r.random() < 0.6:
            t = t.replace(microsecond=0)
        return t

    def date_form(self, t, zone, allow_date=True):
        """(value, form) of instant `t` for a trigger whose zone is `zone` (naive values are read there)."""
        r = self.rng
        local = t.astimezone(ZoneInfo(zone) if zone != 'UTC' else UTC)
        forms = ['str', 'str_micro', 'str_offset', 'str_z', 'naive', 'aware_zone', 'aware_same', 'aware_fixed', 'aware_utc', 'str_t']
        if allow_date:
            forms += ['date', 'str_date']
        form = r.choice(forms)
        wall = local.replace(tzinfo=None)
        if form == 'str':
            return wall.strftime('%Y-%m-%d %H:%M:%S'), form
        if form == 'str_t':
            return wall.strftime('%Y-%m-%dT%H:%M:%S'), form
        if form == 'str_micro':
            # APScheduler reads the digits as a count of microseconds: '.25' is 25 µs.
            digits = r.choice(['%06d' % wall.microsecond, str(r.randint(1, 99)), '5'])
            return wall.strftime('%Y-%m-%d %H:%M:%S') + '.' + digits, form
        if form == 'str_offset':
            offset = r.choice([dt.timedelta(hours=5, minutes=30), dt.timedelta(hours=-4), dt.timedelta(0), dt.timedelta(hours=9)])
            other = t.astimezone(dt.timezone(offset))
            sign = '+' if offset >= dt.timedelta(0) else '-'
            mins = abs(int(offset.total_seconds())) // 60
            return other.replace(tzinfo=None).strftime('%Y-%m-%d %H:%M:%S') + '%s%02d:%02d' % (sign, mins // 60, mins % 60), form
        if form == 'str_z':
            return t.astimezone(UTC).replace(tzinfo=None).strftime('%Y-%m-%d %H:%M:%S') + 'Z', form
        if form == 'naive':
            return wall, form
        if form == 'aware_zone':
            return t.astimezone(ZoneInfo(r.choice(ZONES[2:]))), form
        if form == 'aware_same':
            return local, form
        if form == 'aware_fixed':
            return t.astimezone(dt.timezone(dt.timedelta(hours=r.choice([-7, 3, 10]), minutes=r.choice([0, 30])))), form
        if form == 'aware_utc':
            return t.astimezone(UTC), form
        if form == 'date':
            return wall.date(), form
        return wall.strftime('%Y-%m-%d'), form  # str_date

    def zone_arg(self):
        """(timezone argument or None, the zone it makes)."""
        r = self.rng
        if r.random() < 0.5:
            return None, SCHEDULER_ZONE
        zone = r.choice(ZONES)
        if r.random() < 0.3:
            return (UTC if zone == 'UTC' else ZoneInfo(zone)), zone
        return zone, zone

    CRON_VALUES = {
        'year': ['2030-2035', '2031', '*', '2030,2032', 2031],
        'month': ['jan-mar', '6', '*/3', 'nov,dec', 2, '*'],
        'day': ['1', 'last', '15', '1st mon', 'last fri', '*/10', 31, '29', '2nd wed'],
        'week': ['10', '*/2', '1-20', 40],
        'day_of_week': ['mon-fri', 'sat,sun', '0', 'tue', 'MON', '*', 6, 'wed-fri'],
        'hour': ['9', '*/6', '0-23/5', 23, '2', '1', '*'],
        'minute': ['*/5', '0', '15-45/10', 7, '30', '*'],
        'second': ['0', '*/15', '5,35', 30, '*', '59'],
    }
    BAD = {
        'cron': [('minute', '61'), ('hour', '25'), ('day_of_week', 'monday'), ('day', '1st 0'), ('month', 'foo'), ('second', '*/0')],
        'date': [('run_date', '12/03/2030'), ('run_date', '2030-12-03 15:00'), ('run_date', '2030-12-03 15:00:00 +08:00')],
        'interval': [('start_date', 'soon')],
    }

    # Wall times at 2030's DST changes: (zone, wall time); gaps do not exist, folds exist twice.
    DST_WALLS = [
        ('America/New_York', '2030-03-10 02:30:00'),  # gap
        ('America/New_York', '2030-11-03 01:30:00'),  # fold
        ('Europe/London', '2030-03-31 01:15:00'),  # gap
        ('Europe/London', '2030-10-27 01:45:00'),  # fold
        ('Australia/Sydney', '2030-04-07 02:30:00'),  # fold
        ('Australia/Sydney', '2030-10-06 02:30:00'),  # gap
    ]

    def dst_trigger(self):
        """A trigger built on a wall time at a DST change."""
        r = self.rng
        zone, wall = r.choice(self.DST_WALLS)
        naive = dt.datetime.fromisoformat(wall)
        value = r.choice([wall, naive, naive.replace(tzinfo=ZoneInfo(zone), fold=r.choice([0, 1]))])
        kind = r.choice(['date', 'interval', 'cron'])
        if kind == 'date':
            return 'date', {'run_date': value, 'timezone': zone}, f'date at DST {zone} {value!r}', None
        if kind == 'interval':
            return 'interval', {'hours': r.choice([1, 24]), 'minutes': r.choice([0, 30]), 'start_date': value, 'timezone': zone}, f'interval from DST {zone} {value!r}', None
        start = r.choice([None, value])
        return 'cron', {'hour': naive.hour, 'minute': r.choice([naive.minute, '*/20']), 'timezone': zone, 'start_date': start}, f'cron at DST {zone} {wall} from {start!r}', None

    # -- APScheduler's other triggers, as objects: APScheduler 3.11.3 cannot create them by name
    # ('calendarinterval', 'and', 'or' are not among its trigger plugins), so funboost's
    # ApsJobAdder takes them only as objects, and so are they sent through both sides.

    def tz_arg(self, zone):
        """A zone as a trigger constructor takes it: its name, or a ZoneInfo / timezone.utc."""
        if self.rng.random() < 0.3:
            return UTC if zone == 'UTC' else ZoneInfo(zone)
        return zone

    def calendar(self, zone=None, start=None, time_of_day=None):
        """(CalendarIntervalTrigger, description). Its start date (a date: APScheduler's first
        answer, even when past) near now, at a month's end, or on a DST change day."""
        from apscheduler.triggers.calendarinterval import CalendarIntervalTrigger

        r = self.rng
        units = {}
        for unit, top in (('years', 2), ('months', 14), ('weeks', 3), ('days', 10)):
            if r.random() < 0.35:
                units[unit] = r.randint(0, top)
        if not any(units.values()):
            units[r.choice(['months', 'weeks', 'days'])] = r.randint(1, 3)
        args = dict(units)
        if time_of_day is None:
            time_of_day = {k: v for k, v in (('hour', r.randint(0, 23)), ('minute', r.choice([0, 30, 59])), ('second', r.choice([0, 15]))) if r.random() < 0.6}
        args.update(time_of_day)
        today = self.clock.now().date()
        if start is None:
            c = r.random()
            if c < 0.15:
                start = None  # date.today(): the frozen machine's date
            elif c < 0.6:
                start = today + dt.timedelta(days=r.randint(-40, 120))
            elif c < 0.8:
                start = r.choice([dt.date(2030, 1, 31), dt.date(2030, 3, 31), dt.date(2032, 2, 29), dt.date(2030, 8, 31)])
            elif zone is None:
                # the spring-forward / fall-back days of 2030: 02:30 is skipped or repeated there
                zone, start = r.choice([('America/New_York', dt.date(2030, 3, 10)), ('America/New_York', dt.date(2030, 11, 3)), ('Europe/London', dt.date(2030, 3, 31)), ('Europe/London', dt.date(2030, 10, 27))])
                args.update({'hour': r.choice([1, 2]), 'minute': 30})
            else:
                start = today + dt.timedelta(days=r.randint(-40, 120))
        if start is not None:
            args['start_date'] = r.choice([start, start.isoformat()])
        if r.random() < 0.25:
            first = start or today
            args['end_date'] = first + dt.timedelta(days=r.choice([0, 20, 45, 400]))
        if zone is None:
            zone = r.choice(ZONES)
            if r.random() < 0.15:
                zone = None  # no timezone: the machine's (tzlocal), as APScheduler takes it
        if zone is not None:
            args['timezone'] = self.tz_arg(zone)
        return CalendarIntervalTrigger(**args), f'calendarinterval{args}'

    def part(self, zone):
        """(a trigger object of any kind, description), for an `or`."""
        from apscheduler.triggers.cron import CronTrigger
        from apscheduler.triggers.date import DateTrigger
        from apscheduler.triggers.interval import IntervalTrigger

        r = self.rng
        if r.random() < 0.3:
            zone = r.choice(ZONES)  # parts of other zones: APScheduler answers in the winner's
        c = r.random()
        if c < 0.4:
            names = r.sample(list(self.CRON_VALUES), r.choice([1, 1, 2, 3]))
            args = {name: r.choice(self.CRON_VALUES[name]) for name in names}
            if r.random() < 0.2:
                args['end_date'] = self.instant(past=False) + dt.timedelta(days=r.choice([-5, 30, 400]))
            return CronTrigger(**args, timezone=self.tz_arg(zone)), f'cron{args}@{zone}'
        if c < 0.6:
            units = {r.choice(['hours', 'minutes', 'days']): r.randint(1, 40)}
            start = self.instant() if r.random() < 0.6 else None
            if start is not None:
                start = start.astimezone(ZoneInfo(zone) if zone != 'UTC' else UTC).replace(tzinfo=None)
            return IntervalTrigger(**units, start_date=start, timezone=self.tz_arg(zone)), f'interval{units} from {start}@{zone}'
        if c < 0.8:
            when = self.instant().astimezone(ZoneInfo(zone) if zone != 'UTC' else UTC).replace(tzinfo=None)
            return DateTrigger(run_date=when, timezone=self.tz_arg(zone)), f'date {when}@{zone}'
        trigger, desc = self.calendar(zone)
        return trigger, desc

    def combined_trigger(self, depth=0):
        """(OrTrigger / AndTrigger / CalendarIntervalTrigger object, {}, description, None).
        `and` parts are chosen to agree (APScheduler 3.11.3 loops forever on parts that never
        fire together): crons at one time of day in one zone with day rules that meet within a
        month, or a calendar interval starting far ahead at a cron's time of day."""
        from apscheduler.triggers.combining import AndTrigger, OrTrigger
        from apscheduler.triggers.cron import CronTrigger

        r = self.rng
        kind = r.choice(['calendarinterval', 'calendarinterval', 'or', 'or', 'or', 'and', 'and'])
        zone = r.choice(ZONES)
        if kind == 'calendarinterval':
            trigger, desc = self.calendar()
            return trigger, {}, f'CalendarIntervalTrigger {desc}', None
        if kind == 'or':
            parts = [self.part(zone) for _ in range(r.choice([1, 2, 2, 3]))]
            if depth == 0 and r.random() < 0.15:
                nested, _, ndesc, _ = self.combined_trigger(depth + 1)
                parts.append((nested, ndesc))
            return OrTrigger([p for p, _ in parts]), {}, f'OrTrigger [{"; ".join(d for _, d in parts)}]', None
        time_of_day = {'hour': r.choice([9, 12, 18]), 'minute': r.choice([0, 30])}
        tz = self.tz_arg(zone)
        if r.random() < 0.6:
            rules = [
                {'day_of_week': r.choice(['mon', 'fri', 'sat,sun', 'mon-fri', 'tue-thu'])},
                {'day': r.choice(['1-7', '8-14', '15-21', '22-28'])},
                {'month': r.choice(['*', '*/2', 'jan-jun', 'jul-dec'])},
            ]
            chosen = r.sample(rules, r.choice([2, 2, 3]))
            parts = [CronTrigger(**rule, **time_of_day, timezone=tz) for rule in chosen]
            desc = f'crons {chosen} at {time_of_day}@{zone}'
        else:
            start = self.clock.now().date() + dt.timedelta(days=r.randint(400, 900))
            calendar, cdesc = self.calendar(zone, start, time_of_day)
            cron = CronTrigger(**time_of_day, timezone=tz)
            parts = [calendar, cron] if r.random() < 0.5 else [cron, calendar]
            desc = f'{cdesc} with a daily cron'
        return AndTrigger(parts), {}, f'AndTrigger [{desc}]', None

    def trigger(self, allow_bad=True):
        """(trigger, trigger_kwargs, description, expected error kind or None)."""
        r = self.rng
        if r.random() < 0.1:
            return self.dst_trigger()
        if r.random() < 0.12:
            return self.combined_trigger()
        if r.random() < 0.03:
            return None, {}, 'None (date now)', None
        kind = r.choice(['date', 'interval', 'cron', 'cron', 'interval', 'date'])
        bad = None
        if allow_bad and r.random() < 0.06:
            choice = r.random()
            if choice < 0.25:
                return 'sometimes', {}, 'unknown trigger name', 'LookupError'
            if choice < 0.45:
                typo = {'date': ('run_time', '2031-01-01'), 'interval': ('second', 5), 'cron': ('minutes', 5)}[kind]
                return kind, {typo[0]: typo[1]}, f'{kind} with a typo {typo[0]}', 'TypeError'
            bad = r.choice(self.BAD[kind])
        zone_arg, zone = self.zone_arg()
        kwargs = {}
        if zone_arg is not None:
            kwargs['timezone'] = zone_arg
        as_object = r.random() < 0.3
        if kind == 'date':
            if r.random() < 0.9:
                kwargs['run_date'], form = self.date_form(self.instant(), zone)
            else:
                form = 'now'
            desc = f'date {form}'
        elif kind == 'interval':
            units = {}
            for unit, top in (('weeks', 3), ('days', 9), ('hours', 30), ('minutes', 90), ('seconds', 90)):
                if r.random() < 0.35:
                    units[unit] = r.randint(0, top)
            if r.random() < 0.08:
                units['minutes'] = r.choice([1.5, 0.25, 2.0])
            kwargs.update(units)
            form = ''
            if r.random() < 0.4:
                kwargs['start_date'], form = self.date_form(self.instant(), zone)
            if r.random() < 0.2:
                kwargs['end_date'], form2 = self.date_form(self.instant(past=False) + dt.timedelta(days=r.choice([-5, 0, 30, 400])), zone)
                form += '/' + form2
            desc = f'interval {units} {form}'
        else:
            names = r.sample(list(self.CRON_VALUES), r.choice([0, 1, 1, 2, 2, 3, 4]))
            for name in names:
                kwargs[name] = r.choice(self.CRON_VALUES[name])
            form = ''
            if r.random() < 0.25:
                kwargs['start_date'], form = self.date_form(self.instant(), zone)
            if r.random() < 0.15:
                kwargs['end_date'], form2 = self.date_form(self.instant(past=False) + dt.timedelta(days=r.choice([-5, 0, 30, 400])), zone)
                form += '/' + form2
            desc = f'cron {names} {form}'
            if as_object and r.random() < 0.5 and bad is None:
                crontab = ' '.join([r.choice(['0', '*/10', '30']), r.choice(['9', '*', '*/4']), r.choice(['*', '1', 'last']), r.choice(['*', '1-6']), r.choice(['*', 'mon-fri', '5'])])
                from apscheduler.triggers.cron import CronTrigger

                return CronTrigger.from_crontab(crontab, timezone=zone_arg or SCHEDULER_ZONE), {}, f'from_crontab {crontab!r}', None
        if bad is not None:
            kwargs[bad[0]] = bad[1]
            return kind, kwargs, f'{desc} bad {bad}', 'ValueError'
        if as_object:
            from apscheduler.triggers.cron import CronTrigger
            from apscheduler.triggers.date import DateTrigger
            from apscheduler.triggers.interval import IntervalTrigger

            cls = {'date': DateTrigger, 'interval': IntervalTrigger, 'cron': CronTrigger}[kind]
            # A trigger object built without a zone takes the machine's zone (tzlocal), as in APScheduler.
            return cls(**kwargs), {}, f'{cls.__name__}({desc})', None
        return kind, kwargs, desc, None

    def params(self):
        """(args, kwargs, expected) for add(x, y=5): expected is None (valid), 'FuncParamsError',
        or a known-difference tag (funboost accepts, funboost-edge refuses)."""
        r = self.rng

        def value():
            return r.choice([1, -7, 2.5, 'héllo', None, True, [1, 'two', None], {'k': [1, {'deep': 'x'}]}, '', 10 ** 15])

        c = r.random()
        if c < 0.3:
            return (value(),), None, None
        if c < 0.5:
            return (value(), value()), None, None
        if c < 0.65:
            return None, {'x': value()}, None
        if c < 0.8:
            return [value()], {'y': value()}, None
        if c < 0.88:
            return None, {'x': value(), 'y': value()}, None
        if c < 0.92:
            return None, {'x': 1, 'z': 2}, 'FuncParamsError'
        if c < 0.95:
            return None, {'y': 3}, 'FuncParamsError'
        if c < 0.975:
            return (1, 2, 3), None, 'known:extra_positional_args'
        return (1,), {'x': 2}, 'known:param_given_twice'


# ---------------------------------------------------------------------------------------------
# Outcomes


def norm(value):
    """JSON-like: tuples as lists."""
    if isinstance(value, (list, tuple)):
        return [norm(v) for v in value]
    if isinstance(value, dict):
        return {k: norm(v) for k, v in value.items()}
    return value


def job_view(job, ids=None):
    if job is None:
        return None
    nrt = job.next_run_time
    return {
        'id': (ids or {}).get(job.id, job.id),
        'str': str(job),
        'repr_ok': repr(job).startswith('<Job (id='),
        'name': job.name,
        'trigger': str(job.trigger),
        'next_run_time': None if nrt is None else str(nrt),
        'tzname': None if nrt is None else nrt.strftime('%Z'),
        'utcoffset': None if nrt is None else str(nrt.utcoffset()),
        'args': norm(job.args),
        'kwargs': norm(job.kwargs),
        'misfire_grace_time': job.misfire_grace_time,
        'coalesce': job.coalesce,
        'max_instances': job.max_instances,
        'executor': job.executor,
    }


def error_kind(exc):
    """What an exception means, for both sides."""
    from apscheduler.jobstores.base import ConflictingIdError, JobLookupError

    if isinstance(exc, ConflictingIdError):
        return 'ConflictingIdError'
    if isinstance(exc, JobLookupError):
        return 'JobLookupError'
    if type(exc).__name__ == 'FuncParamsError' or getattr(exc, 'error', None) == 'FuncParamsError':
        return 'FuncParamsError'
    for cls in (TypeError, AttributeError, LookupError, ValueError):
        if isinstance(exc, cls):
            return cls.__name__
    return type(exc).__name__


def outcome(fn, ids=None):
    try:
        result = fn()
    except Exception as e:  # noqa: BLE001
        return {'error': error_kind(e), 'type': type(e).__name__, 'text': str(e)[:300], 'exc': e}
    if isinstance(result, list):
        return {'jobs': [job_view(j, ids) for j in result]}
    if result is None or hasattr(result, 'next_run_time'):
        return {'job': job_view(result, ids)}
    return {'value': result}


def public(o):
    return {k: v for k, v in o.items() if k != 'exc'}


def same(a, b):
    return public(a) == public(b) if ('error' not in a and 'error' not in b) else a.get('error') == b.get('error')


def known_difference(a, b, desc=''):
    """The differences this test knows and the README of the client documents."""
    if 'job' in a and b.get('error') == 'FuncParamsError':
        # funboost checks the arguments in add_push_job only; modify_job takes anything (the
        # job then fails at each fire); funboost-edge checks them on every change.
        return 'known:modify_job_checks_arguments'
    if b.get('type') == 'EdgeUnsupported' and 'has no IANA name' in b.get('text', ''):
        # A trigger object whose zone is a fixed offset that is not whole hours (it took the
        # zone of an aware start_date): funboost-edge's `timezone` takes IANA names only, so
        # the client refuses it before anything else (funboost takes it, or fails later on a
        # duplicate or unknown id).
        return 'known:fixed_offset_trigger_zone'
    if a.get('error') == 'FuncParamsError' and b.get('type') == 'EdgeUnsupported':
        # Two errors in one call: funboost checks the arguments first; EdgeJobAdder refuses
        # what the app cannot honour before the app checks the arguments.
        return 'known:first_of_two_errors'
    ja, jb = a.get('job'), b.get('job')
    if ja and jb and 'CalendarIntervalTrigger(' in ja['trigger'] and "timezone='UTC'" in ja['trigger']:
        # A CalendarIntervalTrigger whose zone is zoneinfo.ZoneInfo('UTC') (the machine's zone,
        # taken when none is given): APScheduler's repr prints 'UTC'; the app has one UTC,
        # APScheduler's for the name 'UTC' (datetime.timezone.utc), and prints that.
        utc = {k: jb[k].replace("timezone='datetime.timezone.utc'", "timezone='UTC'") for k in ('trigger', 'str')}
        if utc != {k: jb[k] for k in utc}:
            jb = dict(jb, **utc)
            if ja == jb:
                return 'known:calendarinterval_zoneinfo_utc'
    if ja and jb and ja['trigger'].startswith('or[') and ja['next_run_time'] and jb['next_run_time']:
        times = {'str': None, 'next_run_time': None, 'tzname': None, 'utcoffset': None}
        same_instant = dt.datetime.fromisoformat(ja['next_run_time']) == dt.datetime.fromisoformat(jb['next_run_time'])
        if same_instant and dict(ja, **times) == dict(jb, **times) and ja['str'].split(', next run at: ')[0] == jb['str'].split(', next run at: ')[0]:
            # An `or` of parts in different zones: APScheduler answers with the datetime of the
            # part that fires next, in that part's zone; funboost-edge gives every fire time in
            # the `or`'s zone (the first part's, when every part names its own): the same
            # instant, another wall time and %Z. (With the difference above, too.)
            return 'known:or_trigger_zone'
    blind = {'tzname': None, 'str': None, 'trigger': None}
    if ja and jb and dict(ja, **blind) == dict(jb, **blind):
        # The same job but for a zone abbreviation (%Z): in next_run_time or in a date trigger.
        fb_zone = ja['tzname'] or ja['trigger'].rstrip(']').rsplit(' ', 1)[-1]
        edge_zone = jb['tzname'] or jb['trigger'].rstrip(']').rsplit(' ', 1)[-1]
        same_wall = ja['trigger'].rsplit(' ', 1)[0] == jb['trigger'].rsplit(' ', 1)[0]
        if fb_zone != edge_zone and same_wall:
            if fb_zone.startswith('UTC') and fb_zone != 'UTC':
                # A whole-hour fixed-offset trigger zone goes as Etc/GMT-N: same instants, but
                # %Z prints '+03' where APScheduler prints 'UTC+03:00'.
                return 'known:fixed_offset_zone_abbreviation'
            if edge_zone.startswith('UTC') and (' DST ' in desc or 'aware' in desc or 'fold=' in desc):
                # An aware run_date at a DST edge (a fold=1 time, or a wall time in a gap) goes
                # as its UTC offset: same wall time, offset and instant, but %Z prints
                # 'UTC-05:00' where APScheduler prints the zone's 'EST'.
                return 'known:aware_run_date_at_dst_edge'
    return None


def known_order_difference(fb_jobs, edge_jobs):
    """APScheduler sorts next run times as Python compares them: by wall time when two share a
    zone, so a DST-edge time (a fold, or a wall time in a gap) can sort against its instant;
    funboost-edge sorts by instant."""
    if in_order(edge_jobs) and sorted(fb_jobs, key=jobs_key) == sorted(edge_jobs, key=jobs_key):
        return 'known:get_jobs_order_at_dst_edges'
    return None


def jobs_key(view):
    """Sort key for a job list: by next run time (paused last), then id (the order of equal
    next run times is the job store's hash order in APScheduler, the id in funboost-edge)."""
    nrt = view['next_run_time']
    return (nrt is None, dt.datetime.fromisoformat(nrt).timestamp() if nrt else 0, view['id'])


def in_order(jobs):
    keys = [(j['next_run_time'] is None, dt.datetime.fromisoformat(j['next_run_time']).timestamp() if j['next_run_time'] else 0) for j in jobs]
    return keys == sorted(keys)


# ---------------------------------------------------------------------------------------------
# The frozen phase


class Frozen:
    def __init__(self, rng, clock, fb, edge):
        self.rng = rng
        self.gen = Gen(rng, clock)
        self.clock = clock
        self.fb = fb
        self.edge = edge
        self.ids = {}  # funboost's generated id -> funboost-edge's (for adds without an id)
        self.edge_of = {}  # funboost id -> funboost-edge id
        self.known_ids = {}  # funboost ids that may exist (a dict: insertion order keeps runs reproducible)
        self.counts = {}
        self.known_differences = {}
        self.mismatches = []
        self.calls = 0
        self.error_kinds = {}
        self.trigger_forms = {}

    def count(self, key):
        self.counts[key] = self.counts.get(key, 0) + 1

    def edge_id(self, fb_id):
        return self.edge_of.get(fb_id, fb_id)

    def view_ids(self):
        return {v: k for k, v in self.edge_of.items()}

    def pick_id(self, existing=0.75):
        if self.known_ids and self.rng.random() < existing:
            return self.rng.choice(list(self.known_ids))
        return self.rng.choice([f'job{n}' for n in range(40)] + ['nope', 'missing-job', 'job-x'])

    def compare(self, op, desc, a, b, expected=None):
        self.calls += 1
        key = a.get('error') or b.get('error')
        if key:
            self.error_kinds[f"{a.get('error')} / {b.get('error')}"] = self.error_kinds.get(f"{a.get('error')} / {b.get('error')}", 0) + 1
        if same(a, b):
            return True
        if not (expected and expected.startswith('known:')):
            expected = known_difference(a, b, desc)
        if expected and expected.startswith('known:'):
            tag = expected[6:]
            self.known_differences.setdefault(tag, {'count': 0, 'example': None})
            entry = self.known_differences[tag]
            entry['count'] += 1
            if entry['example'] is None:
                entry['example'] = {'op': op, 'call': desc, 'funboost': public(a), 'edge': public(b)}
            return False
        self.mismatches.append({'n': self.calls, 'op': op, 'call': desc, 'now': str(self.clock.now()), 'funboost': public(a), 'edge': public(b)})
        log(f'  at {self.clock.now()} ({self.clock.us} µs)')
        if op == 'get_jobs':
            log(f'MISMATCH #{self.calls} {op} {desc}')
        else:
            log(f'MISMATCH #{self.calls} {op} {desc}\n  funboost: {public(a)}\n  edge:     {public(b)}')
        return False

    def resync(self, job_id):
        """After a difference, drop the job on both sides so that the next calls start equal."""
        for call in (lambda: self.fb.aps_obj.remove_job(job_id), lambda: self.edge.aps_obj.remove_job(self.edge_id(job_id))):
            try:
                call()
            except Exception:  # noqa: BLE001  (JobLookupError: not there)
                pass
        self.known_ids.pop(job_id, None)

    def step(self):
        r = self.rng
        if r.random() < 0.25:
            self.clock.advance(r.choice([1, 999_999, 1_000_000, 1_500_000, 59 * 1_000_000, 3_600_000_000, 86_400_000_000, 2 * 86_400_000_000]) + r.randint(0, 999_999))
        op = r.choices(
            ['add', 'add_paused', 'add_noid', 'get_job', 'remove_job', 'pause_job', 'resume_job', 'modify_job', 'reschedule_job', 'get_jobs', 'remove_all', 'refused_option', 'resume_finished'],
            weights=[30, 4, 3, 6, 6, 7, 8, 8, 9, 5, 0.4, 2, 0.6],
        )[0]
        self.count(op)
        getattr(self, 'op_' + op)()
        if self.calls % 7 == 0:
            self.op_get_jobs()

    def add_args(self):
        trigger, targs, tdesc, terr = self.gen.trigger()
        form_key = ' '.join(tdesc.split(' ')[:3]) if ' DST ' in tdesc else tdesc.split(' ')[0]
        self.trigger_forms[form_key] = self.trigger_forms.get(form_key, 0) + 1
        args, kwargs, perr = self.gen.params()
        if terr and perr:
            args, kwargs, perr = (1,), None, None  # one error per call (funboost checks the arguments first)
        self.params_invalid = bool(perr)
        return trigger, targs, tdesc, terr, args, kwargs, perr

    def op_add(self, paused=False, with_id=True):
        r = self.rng
        trigger, targs, tdesc, terr, args, kwargs, perr = self.add_args()
        job_id = self.pick_id(existing=0.35) if with_id else None
        replace = r.random() < 0.3
        opts = {}
        if r.random() < 0.2:
            # An invalid grace time only with valid arguments: funboost checks the arguments
            # first, EdgeJobAdder its options first (the app checks the arguments).
            opts['misfire_grace_time'] = r.choice([None, 1, 30, 3600] + ([] if self.params_invalid else [0, 2.5]))
        if r.random() < 0.15:
            opts['coalesce'] = r.choice([True, False, 0, 1])
        if r.random() < 0.05:
            opts['max_instances'] = 1
        if r.random() < 0.05:
            opts['name'] = None
        if paused:
            opts['next_run_time'] = None
        desc = f'add_push_job({tdesc}, args={args!r}, kwargs={kwargs!r}, id={job_id!r}, replace_existing={replace}, {opts})'
        a = outcome(lambda: self.fb.add_push_job(trigger, args, kwargs, job_id, replace_existing=replace, **opts, **targs))
        edge_job_id = self.edge_id(job_id) if job_id else None
        b = outcome(lambda: self.edge.add_push_job(trigger, args, kwargs, edge_job_id, replace_existing=replace, **opts, **targs), self.view_ids())
        if job_id is None and 'job' in a and 'job' in b:
            # APScheduler and funboost-edge each make up an id: pair them.
            self.edge_of[a['job']['id']] = b['job']['id']
            b['job'] = dict(b['job'], id=a['job']['id'])
        expected = perr or None
        if not self.compare('add', desc, a, b, expected):
            for o in (a, b):
                if o.get('job'):
                    self.resync(o['job']['id'])
            if job_id:
                self.resync(job_id)
        if a.get('job'):
            self.known_ids[a['job']['id']] = True

    def op_add_paused(self):
        self.op_add(paused=True)

    def op_add_noid(self):
        self.op_add(with_id=False)

    def on_both(self, op, job_id, desc, fb_call, edge_call, expected=None):
        ids = self.view_ids()
        a = outcome(fb_call)
        b = outcome(edge_call, ids)
        if not self.compare(op, desc, a, b, expected):
            self.resync(job_id)
        return a, b

    def op_get_job(self):
        job_id = self.pick_id()
        self.on_both('get_job', job_id, f'get_job({job_id!r})', lambda: self.fb.aps_obj.get_job(job_id), lambda: self.edge.aps_obj.get_job(self.edge_id(job_id)))

    def op_remove_job(self):
        job_id = self.pick_id()
        a, b = self.on_both('remove_job', job_id, f'remove_job({job_id!r})', lambda: self.fb.aps_obj.remove_job(job_id), lambda: self.edge.aps_obj.remove_job(self.edge_id(job_id)))
        if 'error' not in a:
            self.known_ids.pop(job_id, None)

    def op_pause_job(self):
        job_id = self.pick_id()
        self.on_both('pause_job', job_id, f'pause_job({job_id!r})', lambda: self.fb.aps_obj.pause_job(job_id), lambda: self.edge.aps_obj.pause_job(self.edge_id(job_id)))

    def op_resume_job(self, job_id=None):
        job_id = job_id or self.pick_id()
        a, b = self.on_both('resume_job', job_id, f'resume_job({job_id!r})', lambda: self.fb.aps_obj.resume_job(job_id), lambda: self.edge.aps_obj.resume_job(self.edge_id(job_id)))
        if a == {'job': None} and b == {'job': None}:
            # No fire time left: both removed the job (the app itself, in the one call).
            self.count('resume_job_removed')
            self.known_ids.pop(job_id, None)

    def op_resume_finished(self):
        """A paused job whose trigger has no fire time left (its end_date passed), resumed:
        APScheduler removes it and returns None; so does the app, in the one call."""
        r = self.rng
        job_id = f'finished{self.calls}'
        end = self.clock.now() - dt.timedelta(minutes=r.choice([1, 90, 3000]))
        trigger, targs = r.choice([
            ('interval', {'minutes': 10, 'start_date': end - dt.timedelta(days=1), 'end_date': end, 'timezone': 'UTC'}),
            ('cron', {'minute': '*/5', 'end_date': end, 'timezone': 'UTC'}),
        ])
        desc = f'add_push_job({trigger} {targs}, id={job_id!r}, next_run_time=None)'
        a = outcome(lambda: self.fb.add_push_job(trigger, (1,), None, job_id, next_run_time=None, **targs))
        b = outcome(lambda: self.edge.add_push_job(trigger, (1,), None, job_id, next_run_time=None, **targs))
        self.compare('add', desc, a, b)
        self.known_ids[job_id] = True
        self.op_resume_job(job_id)

    def op_modify_job(self):
        r = self.rng
        job_id = self.pick_id(existing=0.85)
        changes = {}
        expected = None
        c = r.random()
        if c < 0.35:
            args, kwargs, perr = self.gen.params()
            if args is not None:
                changes['args'] = (QUEUE, *args)
            if kwargs is not None:
                changes['kwargs'] = kwargs
            if perr:
                # funboost checks arguments when adding only; modify_job takes anything.
                expected = 'known:modify_job_checks_arguments'
        elif c < 0.5:
            changes['misfire_grace_time'] = r.choice([None, 5, 60])
        elif c < 0.6:
            changes['coalesce'] = r.choice([True, False])
        elif c < 0.72:
            changes['next_run_time'] = None
        elif c < 0.8:
            changes['kwargs'] = {'x': r.randint(0, 9)}
            changes['misfire_grace_time'] = 10
            changes['coalesce'] = False
        elif c < 0.86:
            changes['misfire_grace_time'] = r.choice([0, 1.5, -3])  # TypeError on both
        elif c < 0.9:
            changes['nonsense'] = 1  # AttributeError on both
        elif c < 0.94:
            changes['id'] = 'other'  # ValueError on both
        else:
            changes['args'] = 'x'  # TypeError on both
        desc = f'modify_job({job_id!r}, **{changes!r})'
        self.on_both('modify_job', job_id, desc, lambda: self.fb.aps_obj.modify_job(job_id, **changes), lambda: self.edge.aps_obj.modify_job(self.edge_id(job_id), **changes), expected)

    def op_reschedule_job(self):
        job_id = self.pick_id(existing=0.85)
        trigger, targs, tdesc, terr = self.gen.trigger()
        desc = f'reschedule_job({job_id!r}, {tdesc})'
        before = self.fb.aps_obj.get_job(job_id)
        if before is not None and before.next_run_time is None:
            self.count('reschedule_paused_job')  # APScheduler resumes it; so does the app
        self.on_both(
            'reschedule_job',
            job_id,
            desc,
            lambda: self.fb.aps_obj.reschedule_job(job_id, trigger=trigger, **targs),
            lambda: self.edge.aps_obj.reschedule_job(self.edge_id(job_id), trigger=trigger, **targs),
        )

    def op_get_jobs(self):
        ids = self.view_ids()
        a = outcome(lambda: self.fb.aps_obj.get_jobs())
        b = outcome(lambda: self.edge.aps_obj.get_jobs(), ids)
        self.count('get_jobs_checked')
        if 'jobs' in a and 'jobs' in b:
            # Both in next-run order; equal next run times may come in any order.
            if not in_order(a['jobs']) or not in_order(b['jobs']):
                order = lambda jobs: [(j['id'], j['next_run_time'], j['tzname']) for j in jobs]  # noqa: E731
                self.compare('get_jobs order', 'get_jobs()', {'value': order(a['jobs'])}, {'value': order(b['jobs'])}, known_order_difference(a['jobs'], b['jobs']))
            a = {'jobs': sorted(a['jobs'], key=jobs_key)}
            b = {'jobs': sorted(b['jobs'], key=jobs_key)}
        if not self.compare('get_jobs', f'get_jobs() ({len(a.get("jobs", []))} jobs)', a, b) and 'jobs' in a and 'jobs' in b:
            fb_jobs = {j['id']: j for j in a['jobs']}
            edge_jobs = {j['id']: j for j in b['jobs']}
            for job_id in set(fb_jobs) | set(edge_jobs):
                if fb_jobs.get(job_id) != edge_jobs.get(job_id):
                    log(f'  differs: {job_id}\n    funboost: {fb_jobs.get(job_id)}\n    edge:     {edge_jobs.get(job_id)}')
                    self.resync(job_id)

    def op_remove_all(self):
        self.on_both('remove_all_jobs', None, 'remove_all_jobs()', lambda: self.fb.aps_obj.remove_all_jobs(), lambda: self.edge.aps_obj.remove_all_jobs())
        self.known_ids.clear()

    def op_refused_option(self):
        """Options funboost-edge cannot honour: APScheduler takes them, funboost-edge refuses."""
        r = self.rng
        opt = r.choice([
            {'max_instances': 3},
            {'executor': 'processpool'},
            {'name': 'my job'},
            {'next_run_time': self.clock.now() + dt.timedelta(minutes=5)},
        ])
        job_id = f'refused{self.calls}'
        desc = f'add_push_job(interval seconds=30, id={job_id!r}, {opt})'
        a = outcome(lambda: self.fb.add_push_job('interval', (1,), None, job_id, seconds=30, **opt))
        b = outcome(lambda: self.edge.add_push_job('interval', (1,), None, job_id, seconds=30, **opt))
        tag = 'refused_option:' + next(iter(opt))
        ok = 'job' in a and b.get('type') == 'EdgeUnsupported'
        self.known_differences.setdefault(tag, {'count': 0, 'example': None})
        self.known_differences[tag]['count'] += 1
        if self.known_differences[tag]['example'] is None:
            self.known_differences[tag]['example'] = {'call': desc, 'funboost': public(a), 'edge': public(b)}
        if not ok:
            self.mismatches.append({'op': 'refused_option', 'call': desc, 'funboost': public(a), 'edge': public(b)})
        if 'job' in a:
            self.fb.aps_obj.remove_job(job_id)


# ---------------------------------------------------------------------------------------------
# The firing phase


def firing(fb_booster, edge_adder_cls, base_url, redis_port, results_key):
    import redis
    from funboost import ApsJobAdder

    conn = redis.Redis(port=redis_port, db=7)
    fb = ApsJobAdder(fb_booster, job_store_kind='redis', is_auto_start=True, is_auto_paused=True)
    edge = edge_adder_cls(FIRE_EDGE, job_store_kind='redis', base_url=base_url)
    report = {'states': {}}
    fb.aps_obj.remove_all_jobs()
    edge.aps_obj.remove_all_jobs()
    edge.aps_obj.pause()
    report['states']['before'] = {'funboost': fb.aps_obj.state, 'edge': edge.aps_obj.state}

    # Whole seconds a little ahead, on the real clock (the Redis server's is real again).
    t0 = dt.datetime.now(ZoneInfo(SCHEDULER_ZONE)).replace(microsecond=0) + dt.timedelta(seconds=8)
    wall = t0.replace(tzinfo=None)
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    jobs = [
        # (id, trigger, trigger args, args, kwargs, fires)
        ('date_args', 'date', {'run_date': wall.strftime('%Y-%m-%d %H:%M:%S')}, ('d1', 2), None, 1),
        ('date_kwargs', 'date', {'run_date': wall}, None, {'x': 'd2'}, 1),
        ('date_nested', 'date', {'run_date': t0}, ('d3',), {'y': {'k': [1, None, 'é']}}, 1),
        ('interval_3', 'interval', {'seconds': 1, 'start_date': wall, 'end_date': wall + dt.timedelta(seconds=2, milliseconds=500)}, ('i1',), {'y': [1, 2]}, 3),
        ('cron_3', 'cron', {'second': '*', 'start_date': wall, 'end_date': wall + dt.timedelta(seconds=2)}, None, {'x': 'c1', 'y': None}, 3),
        ('cron_obj', CronTrigger(second='*/2', start_date=t0, end_date=t0 + dt.timedelta(seconds=3), timezone=SCHEDULER_ZONE), {}, ('c2', 7), None, 2),
        ('interval_obj', IntervalTrigger(seconds=2, start_date=t0 + dt.timedelta(seconds=1), end_date=t0 + dt.timedelta(seconds=3), timezone='UTC'), {}, ('i2',), None, 2),
        ('paused_at_add', 'date', {'run_date': wall}, ('p1',), None, 0),
        ('paused_later', 'interval', {'seconds': 1, 'start_date': wall}, ('p2',), None, 0),
        ('modified', 'date', {'run_date': wall + dt.timedelta(seconds=1)}, ('m0',), None, 1),
        ('removed', 'date', {'run_date': wall}, ('r0',), None, 0),
    ]
    for job_id, trigger, targs, args, kwargs, _ in jobs:
        extra = {'next_run_time': None} if job_id == 'paused_at_add' else {}
        fb.add_push_job(trigger, args, kwargs, job_id, **extra, **targs)
        edge.add_push_job(trigger, args, kwargs, job_id, **extra, **targs)
    for adder, queue in ((fb, FIRE_FB), (edge, FIRE_EDGE)):
        adder.aps_obj.pause_job('paused_later')
        adder.aps_obj.modify_job('modified', args=(queue, 'm1'), kwargs={'y': 'changed'})
        adder.aps_obj.remove_job('removed')
    listed = {
        'funboost': [job_view(j) for j in fb.aps_obj.get_jobs()],
        'edge': [job_view(j) for j in edge.aps_obj.get_jobs()],
    }
    for side in listed.values():
        for view in side:
            view['args'] = view['args'][1:]  # the queue names differ (fire_fb / fire_edge)
            view['str'] = view['str'].replace(FIRE_FB, 'Q').replace(FIRE_EDGE, 'Q')
            view['name'] = 'Q'
    report['listed_equal'] = sorted(listed['funboost'], key=jobs_key) == sorted(listed['edge'], key=jobs_key)
    if not report['listed_equal']:
        report['listed'] = listed

    # Both schedulers on: funboost's thread in this process, funboost-edge's ticker in the test.
    emit('PHASE firing')
    sys.stdin.readline()
    fb.aps_obj.resume()
    edge.aps_obj.resume()
    # funboost-edge says running once its ticker has ticked (the test started it just before).
    waited = time.monotonic()
    while edge.aps_obj.state != 1 and time.monotonic() - waited < 10:
        time.sleep(0.2)
    report['states']['running'] = {'funboost': fb.aps_obj.state, 'edge': edge.aps_obj.state}
    expected = sum(j[5] for j in jobs) * 2
    deadline = time.time() + 20
    while time.time() < deadline:
        if conn.llen(results_key) >= expected and dt.datetime.now(UTC) > t0 + dt.timedelta(seconds=6):
            break
        time.sleep(0.2)
    time.sleep(1.5)  # anything published twice would show now
    fb.aps_obj.pause()
    edge.aps_obj.pause()
    report['states']['after'] = {'funboost': fb.aps_obj.state, 'edge': edge.aps_obj.state}
    # After its last fire a job is deleted (APScheduler's rule); paused ones stay.
    report['listed_after'] = {
        'funboost': sorted(j.id for j in fb.aps_obj.get_jobs()),
        'edge': sorted(j.id for j in edge.aps_obj.get_jobs() if j.status != 'finished'),
        'edge_finished': sorted(j.id for j in edge.aps_obj.get_jobs() if j.status == 'finished'),
    }
    records = [json.loads(x) for x in conn.lrange(results_key, 0, -1)]
    received = {'funboost': {}, 'edge': {}}
    for rec in records:
        side = {FIRE_FB: 'funboost', FIRE_EDGE: 'edge'}.get(rec['queue'])
        if side is None:
            continue
        marker = str(rec['kwargs']['x'])
        received[side].setdefault(marker, []).append({'kwargs': rec['kwargs'], 'msg_kwargs': rec['msg_kwargs']})
    for side in received.values():
        for marker in side:
            side[marker].sort(key=json.dumps)
    report['received'] = received
    report['received_equal'] = received['funboost'] == received['edge']
    report['expected_fires'] = {j[0]: j[5] for j in jobs}
    report['fires'] = {side: {m: len(v) for m, v in rec.items()} for side, rec in received.items()}
    fb.aps_obj.remove_all_jobs()
    edge.aps_obj.remove_all_jobs()
    return report


# ---------------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--redis-port', type=int, required=True)
    parser.add_argument('--base-url', required=True)
    parser.add_argument('--clock-file', required=True)
    parser.add_argument('--results-key', required=True)
    parser.add_argument('--seed', type=int, default=20301)
    parser.add_argument('--calls', type=int, default=600)
    parser.add_argument('--start-us', type=int, default=1_899_191_727_123_456)  # 2030-03-08 09:15:27.123456 UTC
    args = parser.parse_args()

    project = tempfile.mkdtemp(prefix='funboost_edge_client_diff_')
    enter_funboost_project(project, args.redis_port)
    import contextlib

    with contextlib.redirect_stdout(sys.stderr):
        from funboost import ApsJobAdder, BoosterParams, BrokerEnum, boost

        import funboost_edge
        from funboost_edge import EdgeJobAdder

        def booster(queue):
            def add(x, y=5):
                return x, y

            add.__name__ = add.__qualname__ = 'add'
            return boost(BoosterParams(queue_name=queue, broker_kind=BrokerEnum.REDIS, create_logger_file=False))(add)

        cmp_booster, fire_booster = booster(QUEUE), booster(FIRE_FB)

    log(f'funboost_edge from {funboost_edge.__file__}')
    result = {'seed': args.seed}
    started = time.monotonic()
    with contextlib.redirect_stdout(sys.stderr):
        clock = Clock(args.clock_file, args.start_us)
        rng = random.Random(args.seed)
        fb = ApsJobAdder(cmp_booster, job_store_kind='redis', is_auto_start=True, is_auto_paused=True)
        edge = EdgeJobAdder(cmp_booster, job_store_kind='redis', base_url=args.base_url)
        fb.aps_obj.remove_all_jobs()
        edge.aps_obj.remove_all_jobs()
        frozen = Frozen(rng, clock, fb, edge)
        try:
            while frozen.calls < args.calls:
                frozen.step()
            if not frozen.counts.get('resume_job_removed'):
                frozen.op_resume_finished()  # at least once in every sequence
            frozen.op_get_jobs()
        except Exception:
            log(traceback.format_exc())
            raise
        result['frozen'] = {
            'calls': frozen.calls,
            'ops': frozen.counts,
            'trigger_forms': frozen.trigger_forms,
            'error_kinds': frozen.error_kinds,
            'start': str(dt.datetime.fromtimestamp(args.start_us / 1e6, UTC)),
            'end': str(clock.now()),
            'jobs_at_end': len(fb.aps_obj.get_jobs()),
            'known_differences': frozen.known_differences,
            'mismatches': frozen.mismatches,
            'seconds': round(time.monotonic() - started, 1),
        }
        fb.aps_obj.remove_all_jobs()
        edge.aps_obj.remove_all_jobs()
        clock.release()
        started = time.monotonic()
        result['firing'] = firing(fire_booster, EdgeJobAdder, args.base_url, args.redis_port, args.results_key)
        result['firing']['seconds'] = round(time.monotonic() - started, 1)
    emit('RESULT ' + json.dumps(result, default=str))
    os._exit(0)  # funboost's scheduler threads are not daemons


if __name__ == '__main__':
    main()
