#!/usr/bin/env python3
"""Differential-test oracle: expectations computed by APScheduler 3.11.3 itself.

Usage:
    python tests/differential/oracle.py --seed 20261128 --random 6000 --out /tmp/cases.jsonl

Writes one JSON object per line, in the format described in CONTRACT.md (same directory).
Deterministic for a given seed: "now" is always the case's now_us (datetime.now is patched in
apscheduler.triggers.interval / apscheduler.triggers.date), and tzlocal's local zone (only used by
APScheduler when timezone == "", cases prefixed "lax-") is pinned to Etc/UTC.

Then calendarinterval, or and and cases (see CONTRACT.md, "calendarinterval, or, and"), from
their own random stream; --combined N sets how many random ones of each (default 1000).

Case id prefixes:
    dst-   hand-picked DST / offset-transition cases
    edge-  hand-picked grammar / boundary cases (edge-quirk-*: APScheduler behaviour that looks
           accidental, but is what it does)
    bad-   APScheduler refuses to build the trigger
    lax-   nonsense APScheduler silently accepts (the Rust side refuses these on purpose;
           the comparison is skipped)
    rand-  random cases
"""

import zoneinfo

zoneinfo.reset_tzpath(to=[])  # load zones from the tzdata wheel (IANA 2025b), not the system

import argparse  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from datetime import datetime, timedelta, timezone  # noqa: E402
from zoneinfo import ZoneInfo  # noqa: E402

import apscheduler.triggers.cron as _cron_mod  # noqa: E402
import apscheduler.triggers.date as _date_mod  # noqa: E402
import apscheduler.triggers.interval as _interval_mod  # noqa: E402
from apscheduler.triggers.cron import CronTrigger  # noqa: E402
from apscheduler.triggers.date import DateTrigger  # noqa: E402
from apscheduler.triggers.interval import IntervalTrigger  # noqa: E402
from apscheduler.util import astimezone as aps_astimezone  # noqa: E402

UTC = timezone.utc
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_US = timedelta(microseconds=1)
LIMIT_US = (datetime(2099, 1, 1, tzinfo=UTC) - EPOCH) // ONE_US
MAX_FIRES = 10

# --------------------------------------------------------------------------------------------
# "now" patching
# --------------------------------------------------------------------------------------------

_CURRENT_NOW_US = 0


class _FakeDatetimeMeta(type):
    # keep `isinstance(x, datetime)` working inside the patched modules for real datetimes
    def __instancecheck__(cls, obj):
        return isinstance(obj, datetime)

    def __subclasscheck__(cls, sub):
        return issubclass(sub, datetime)


class _FakeDatetime(datetime, metaclass=_FakeDatetimeMeta):
    @classmethod
    def now(cls, tz=None):
        base = EPOCH + timedelta(microseconds=_CURRENT_NOW_US)
        if tz is None:
            return base.astimezone().replace(tzinfo=None)
        return base.astimezone(tz)

    @classmethod
    def fromtimestamp(cls, t, tz=None):
        return datetime.fromtimestamp(t, tz)


_interval_mod.datetime = _FakeDatetime
_date_mod.datetime = _FakeDatetime


def _fixed_localzone():
    return ZoneInfo("Etc/UTC")


# Only reached with timezone == "" (falsy): make it machine-independent.
_cron_mod.get_localzone = _fixed_localzone
_interval_mod.get_localzone = _fixed_localzone
_date_mod.get_localzone = _fixed_localzone

TRIGGER_CLASSES = {"cron": CronTrigger, "interval": IntervalTrigger, "date": DateTrigger}

# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def to_us(dt):
    return (dt - EPOCH) // ONE_US


def from_us(us):
    return EPOCH + timedelta(microseconds=us)


def us_of(y, mo, d, h=0, mi=0, s=0, us=0, tz=UTC):
    """Unix microseconds of a wall time (fold=0) in tz."""
    return to_us(datetime(y, mo, d, h, mi, s, us, tzinfo=tz))


def wall_str(dt, frac_digits=0, sep=" "):
    s = f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}{sep}{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}"
    if frac_digits:
        s += "." + f"{dt.microsecond:06d}"[:frac_digits]
    return s


STATS = {}
NEXT_ERRORS = []


def _stat(kind, key):
    d = STATS.setdefault(kind, {"ok": 0, "rejected": 0, "next_error": 0})
    d[key] += 1


def run_case(cid, trigger, fields, now_us):
    global _CURRENT_NOW_US
    case = {"id": cid, "trigger": trigger, "fields": fields, "now_us": now_us}
    kind = trigger if trigger in TRIGGER_CLASSES else "other"
    if trigger not in TRIGGER_CLASSES:
        case["expect"] = {"ok": False, "error": f'No trigger by the name "{trigger}" was found'}
        _stat(kind, "rejected")
        return case

    cls = TRIGGER_CLASSES[trigger]
    _CURRENT_NOW_US = now_us
    try:
        trig = cls(**fields)
    except Exception as exc:  # noqa: BLE001 - any construction error is a rejection
        case["expect"] = {"ok": False, "error": str(exc)}
        _stat(kind, "rejected")
        return case

    tz = trig.timezone if hasattr(trig, "timezone") else aps_astimezone(fields["timezone"])
    now = from_us(now_us).astimezone(tz)
    fires = []
    try:
        prev = None
        cur = now
        for _ in range(MAX_FIRES):
            f = trig.get_next_fire_time(prev, cur)
            if f is None:
                break
            fus = to_us(f)
            if fus >= LIMIT_US:
                break
            fires.append([str(f), fus])
            prev = f
            cur = f
    except Exception as exc:  # noqa: BLE001
        case["expect"] = {"ok": False, "error": str(exc), "phase": "next"}
        _stat(kind, "next_error")
        NEXT_ERRORS.append((cid, repr(exc)))
        return case

    case["expect"] = {"ok": True, "str": str(trig), "fires": fires}
    _stat(kind, "ok")
    return case


# --------------------------------------------------------------------------------------------
# time zones
# --------------------------------------------------------------------------------------------

ZONES = [
    "UTC",
    "Asia/Shanghai",
    "America/New_York",
    "Europe/London",
    "Europe/Berlin",
    "Australia/Sydney",
    "Australia/Adelaide",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "America/St_Johns",
    "Asia/Tehran",
    "Pacific/Chatham",
    "America/Sao_Paulo",
    "Africa/Casablanca",
    "Pacific/Apia",
    "America/Santiago",
    "Europe/Moscow",
    "Asia/Tokyo",
    "Pacific/Auckland",
    "America/Los_Angeles",
    "Europe/Dublin",
    "Asia/Gaza",
    "America/Havana",
    "Antarctica/Troll",
    # extras
    "America/Chicago",
    "America/Denver",
    "America/Mexico_City",
    "Africa/Cairo",
    "Asia/Jerusalem",
    "Europe/Paris",
    "Pacific/Kiritimati",
    "Pacific/Pago_Pago",
    "America/Caracas",
    "Asia/Pyongyang",
    "Etc/UTC",
    "Europe/Lisbon",
    "Asia/Dhaka",
]

TZ_OBJ = {name: aps_astimezone(name) for name in ZONES}

FIXED_OFFSETS = ["+05:30", "-08:00", "+00:00", "-00:00", "+14:00", "-11:00", "+05:45",
                 "-03:30", "+12:45", "+01:00", "-09:30", "+09:00", "+13:00", "-02:00"]


def fixed_tz(off):
    sign = 1 if off[0] == "+" else -1
    h, m = (int(x) for x in off[1:].split(":"))
    return timezone(sign * timedelta(hours=h, minutes=m))


# --------------------------------------------------------------------------------------------
# date-string generation (every form convert_to_datetime accepts)
# --------------------------------------------------------------------------------------------


def _pad(rng, v, p_pad=0.8):
    if v >= 10 or rng.random() < p_pad:
        return f"{v:02d}"
    return str(v)


def fmt_date(rng, inst, tz, allow_date_only=True, p_suffix=0.35):
    """Format the aware instant `inst` as an APScheduler date string (random form)."""
    r = rng.random()
    suffix = ""
    if r < p_suffix * 0.4:
        suffix = "Z"
        wall = inst.astimezone(UTC)
    elif r < p_suffix:
        suffix = rng.choice(FIXED_OFFSETS)
        wall = inst.astimezone(fixed_tz(suffix))
    else:
        wall = inst.astimezone(tz)
    d = f"{wall.year:04d}-{_pad(rng, wall.month)}-{_pad(rng, wall.day)}"
    if not suffix and allow_date_only and rng.random() < 0.12:
        return d
    sep = "T" if rng.random() < 0.25 else " "
    t = f"{_pad(rng, wall.hour)}:{_pad(rng, wall.minute)}:{_pad(rng, wall.second)}"
    frac = ""
    if wall.microsecond or rng.random() < 0.1:
        if rng.random() < 0.6:
            n = rng.randint(1, 6)
            frac = "." + f"{wall.microsecond:06d}"[:n]
    return d + sep + t + frac + suffix


# --------------------------------------------------------------------------------------------
# cron expression generation
# --------------------------------------------------------------------------------------------

WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
POSITIONS = ["1st", "2nd", "3rd", "4th", "5th", "last"]
SEPS = [",", ",", ", ", " ,", " , "]
NICE_STEPS = [1, 2, 3, 4, 5, 6, 7, 10, 12, 15, 20, 30]


def _case_variant(rng, name):
    r = rng.random()
    if r < 0.6:
        return name
    if r < 0.8:
        return name.capitalize()
    return name.upper()


def _step(rng, rng_len):
    if rng_len < 1:
        return None
    if rng.random() < 0.7:
        cands = [s for s in NICE_STEPS if s <= rng_len]
        return rng.choice(cands)
    return rng.randint(1, rng_len)


def num_atom(rng, lo, hi, allow_star=True):
    """One comma-free expression for a numeric range field [lo, hi]."""
    while True:
        r = rng.random()
        if r < 0.08 and allow_star:
            return "*"
        if r < 0.25 and allow_star:
            s = _step(rng, hi - lo)
            if s:
                return f"*/{s}"
            continue
        if r < 0.55:
            return str(rng.randint(lo, hi))
        if r < 0.72:
            a = rng.randint(lo, hi - 1)
            b = rng.randint(a + 1, hi)
            return f"{a}-{b}"
        if r < 0.86:
            a = rng.randint(lo, hi - 1)
            b = rng.randint(a + 1, hi)
            s = _step(rng, b - a)
            return f"{a}-{b}/{s}"
        a = rng.randint(lo, hi - 1)
        s = _step(rng, hi - a)
        return f"{a}/{s}"


def num_expr(rng, lo, hi, p_int=0.35):
    """Numeric field expression: str (any form, incl. lists) or JSON int."""
    r = rng.random()
    if r < 0.22:
        n = rng.randint(2, 3)
        atoms = [num_atom(rng, lo, hi, allow_star=False) for _ in range(n)]
        out = atoms[0]
        for a in atoms[1:]:
            out += rng.choice(SEPS) + a
        return out
    if r < 0.22 + 0.2 * p_int / 0.35:
        return rng.randint(lo, hi)
    return num_atom(rng, lo, hi)


def month_expr(rng):
    r = rng.random()
    if r < 0.55:
        return num_expr(rng, 1, 12)
    if r < 0.75:
        return _case_variant(rng, rng.choice(MONTHS))
    if r < 0.9:
        a = rng.randint(0, 10)
        b = rng.randint(a + 1, 11)
        return f"{_case_variant(rng, MONTHS[a])}-{_case_variant(rng, MONTHS[b])}"
    parts = rng.sample(range(12), rng.randint(2, 3))
    out = []
    for p in parts:
        out.append(_case_variant(rng, MONTHS[p]) if rng.random() < 0.7 else str(p + 1))
    return rng.choice(SEPS).join(out)


def dow_expr(rng):
    r = rng.random()
    if r < 0.4:
        return num_expr(rng, 0, 6)
    if r < 0.65:
        return _case_variant(rng, rng.choice(WEEKDAYS))
    if r < 0.85:
        a = rng.randint(0, 5)
        b = rng.randint(a + 1, 6)
        return f"{_case_variant(rng, WEEKDAYS[a])}-{_case_variant(rng, WEEKDAYS[b])}"
    parts = rng.sample(range(7), rng.randint(2, 3))
    out = []
    for p in parts:
        out.append(_case_variant(rng, WEEKDAYS[p]) if rng.random() < 0.7 else str(p))
    return rng.choice(SEPS).join(out)


def day_atom_special(rng, allow_5th=True):
    r = rng.random()
    if r < 0.3:
        return _case_variant(rng, "last")
    pos = rng.choice(POSITIONS if allow_5th else ["1st", "2nd", "3rd", "4th", "last"])
    spaces = " " if rng.random() < 0.9 else "  "
    return f"{_case_variant(rng, pos)}{spaces}{_case_variant(rng, rng.choice(WEEKDAYS))}"


def day_expr(rng, max_day=31, allow_positions=True, allow_5th=True):
    r = rng.random()
    if r < 0.6 or not allow_positions:
        return num_expr(rng, 1, max_day)
    if r < 0.85:
        return day_atom_special(rng, allow_5th)
    n = rng.randint(2, 3)
    out = []
    for _ in range(n):
        if rng.random() < 0.5:
            out.append(day_atom_special(rng, allow_5th))
        else:
            out.append(num_atom(rng, 1, max_day, allow_star=False))
    return rng.choice(SEPS).join(out)


def year_expr(rng, now_year, finite):
    lo = max(1970, now_year - 2)
    hi = min(9999, now_year + 8)
    if finite:
        r = rng.random()
        if r < 0.35:
            y = rng.randint(lo, hi)
            return y if rng.random() < 0.4 else str(y)
        if r < 0.65:
            a = rng.randint(lo, hi - 1)
            b = rng.randint(a + 1, hi)
            return f"{a}-{b}"
        if r < 0.8:
            a = rng.randint(lo, hi - 1)
            b = rng.randint(a + 1, hi)
            return f"{a}-{b}/{_step(rng, b - a)}"
        ys = sorted(rng.sample(range(lo, hi + 1), rng.randint(2, 3)))
        return rng.choice(SEPS).join(str(y) for y in ys)
    r = rng.random()
    if r < 0.5:
        return f"*/{rng.choice([1, 2, 3, 4, 5, 7, 10])}"
    if r < 0.8:
        a = rng.randint(lo, hi)
        return f"{a}/{rng.choice([1, 2, 3, 4, 6])}"
    a = rng.randint(lo, hi)
    return f"{a}-9999"


def gen_cron_fields(rng, now_dt_utc, tz):
    now_year = now_dt_utc.year
    fields = {}
    mode = rng.random()
    if mode < 0.05:
        pass  # nothing at all: every second
    elif mode < 0.12:
        # sparse: finite year + week / 5th weekday / odd combos (may not fire)
        fields["year"] = year_expr(rng, now_year, finite=True)
        if rng.random() < 0.6:
            fields["week"] = num_expr(rng, 1, 53)
        if rng.random() < 0.5:
            fields["month"] = month_expr(rng)
        if rng.random() < 0.7:
            fields["day"] = day_expr(rng)
        if rng.random() < 0.4:
            fields["day_of_week"] = dow_expr(rng)
        for f, hi in (("hour", 23), ("minute", 59), ("second", 59)):
            if rng.random() < 0.4:
                fields[f] = num_expr(rng, 0, hi)
    else:
        p = {"year": 0.08, "month": 0.18, "day": 0.22, "week": 0.06, "day_of_week": 0.25,
             "hour": 0.45, "minute": 0.45, "second": 0.3}
        inc = {k: rng.random() < v for k, v in p.items()}
        year_finite = rng.random() < 0.6
        if inc["year"]:
            fields["year"] = year_expr(rng, now_year, finite=year_finite)
        infinite = not (inc["year"] and year_finite)
        if inc["week"] and infinite:
            inc["month"] = False
            inc["day"] = False
        if inc["month"]:
            fields["month"] = month_expr(rng)
        if inc["day"]:
            if inc["month"] and infinite:
                # keep it feasible: days <= 28, no 5th-weekday, no positions with day_of_week
                fields["day"] = day_expr(rng, max_day=28, allow_positions=not inc["day_of_week"],
                                         allow_5th=False)
            elif inc["day_of_week"] and infinite:
                fields["day"] = day_expr(rng, max_day=31, allow_positions=False)
            else:
                fields["day"] = day_expr(rng)
        if inc["week"]:
            fields["week"] = num_expr(rng, 1, 53)
        if inc["day_of_week"]:
            fields["day_of_week"] = dow_expr(rng)
        if inc["hour"]:
            fields["hour"] = num_expr(rng, 0, 23)
        if inc["minute"]:
            fields["minute"] = num_expr(rng, 0, 59)
        if inc["second"]:
            fields["second"] = num_expr(rng, 0, 59)
    # canonical key order (as the product would send them; order is irrelevant to APScheduler)
    order = ["year", "month", "day", "week", "day_of_week", "hour", "minute", "second"]
    out = {k: fields[k] for k in order if k in fields}
    return out


def rand_now_us(rng):
    lo = us_of(1970, 1, 2) // 1_000_000
    hi = us_of(2098, 6, 1) // 1_000_000
    s = rng.randrange(lo, hi)
    r = rng.random()
    if r < 0.3:
        return s * 1_000_000 + rng.randint(1, 999_999)
    if r < 0.45:
        return (s - s % 3600) * 1_000_000
    if r < 0.6:
        return (s - s % 60) * 1_000_000
    if r < 0.65:
        return (s - s % 86400) * 1_000_000
    return s * 1_000_000


def rand_offset(rng, max_seconds):
    r = rng.random()
    if r < 0.3:
        secs = rng.randint(0, 86400 * 3)
    elif r < 0.6:
        secs = rng.randint(0, 86400 * 60)
    else:
        secs = rng.randint(0, max_seconds)
    us = rng.randint(0, 999_999) if rng.random() < 0.3 else 0
    return timedelta(seconds=secs, microseconds=us)


def gen_random_cases(rng, n):
    cases = []
    for i in range(n):
        r = rng.random()
        tzname = rng.choice(ZONES)
        tz = TZ_OBJ[tzname]
        now_us = rand_now_us(rng)
        now_utc = from_us(now_us)
        if r < 0.60:
            fields = gen_cron_fields(rng, now_utc, tz)
            if rng.random() < 0.25:
                if rng.random() < 0.5:
                    st = now_utc - rand_offset(rng, 86400 * 365 * 3)
                else:
                    st = now_utc + rand_offset(rng, 86400 * 365 * 2)
                fields["start_date"] = fmt_date(rng, st, tz)
            if rng.random() < 0.15:
                if rng.random() < 0.8:
                    en = now_utc + rand_offset(rng, 86400 * 365 * 3)
                else:
                    en = now_utc - rand_offset(rng, 86400 * 365)
                fields["end_date"] = fmt_date(rng, en, tz)
            fields["timezone"] = tzname
            cases.append(run_case(f"rand-cron-{i:05d}", "cron", fields, now_us))
        elif r < 0.85:
            fields = {}
            units = ["weeks", "days", "hours", "minutes", "seconds"]
            big = {"weeks": 60, "days": 800, "hours": 20000, "minutes": 500000, "seconds": 5000000}
            rz = rng.random()
            if rz < 0.03:
                pass  # no units at all -> 1 second
            elif rz < 0.06:
                for u in rng.sample(units, rng.randint(1, 3)):
                    fields[u] = 0
            else:
                chosen = [u for u in units if rng.random() < 0.3] or [rng.choice(units)]
                for u in units:
                    if u in chosen:
                        rv = rng.random()
                        if rv < 0.55:
                            fields[u] = rng.randint(1, 10)
                        elif rv < 0.65:
                            fields[u] = 0
                        else:
                            fields[u] = rng.randint(1, big[u])
            interval = timedelta(**{k: v for k, v in fields.items()})
            if interval.total_seconds() == 0:
                interval = timedelta(seconds=1)
            if interval > timedelta(days=3 * 365):
                # keep start/now + interval well inside the datetime range
                pass
            rs = rng.random()
            if rs < 0.35:
                pass
            elif rs < 0.7:
                back = rng.choice([rand_offset(rng, 86400 * 365 * 3), interval * rng.randint(0, 30)
                                   + timedelta(microseconds=rng.randint(0, 5) * rng.randint(0, 999999))])
                fields["start_date"] = fmt_date(rng, now_utc - back, tz)
            else:
                fields["start_date"] = fmt_date(rng, now_utc + rand_offset(rng, 86400 * 365), tz)
            if rng.random() < 0.3:
                if rng.random() < 0.8:
                    en = now_utc + interval * rng.randint(0, 12) + rand_offset(rng, 86400 * 30)
                else:
                    en = now_utc - rand_offset(rng, 86400 * 365)
                fields["end_date"] = fmt_date(rng, en, tz)
            fields["timezone"] = tzname
            cases.append(run_case(f"rand-interval-{i:05d}", "interval", fields, now_us))
        else:
            fields = {}
            if rng.random() < 0.85:
                off = rand_offset(rng, 86400 * 365 * 5)
                inst = now_utc + off if rng.random() < 0.75 else now_utc - off
                inst = min(inst, datetime(2098, 1, 1, tzinfo=UTC))  # chrono-tz tabulates DST through 2099
                fields["run_date"] = fmt_date(rng, inst, tz, p_suffix=0.4)
            fields["timezone"] = tzname
            cases.append(run_case(f"rand-date-{i:05d}", "date", fields, now_us))
    return cases


# --------------------------------------------------------------------------------------------
# DST / offset transitions
# --------------------------------------------------------------------------------------------


def find_transitions(zone, year):
    tz = ZoneInfo(zone)
    start = us_of(year, 1, 1) // 1_000_000
    end = us_of(year + 1, 1, 1) // 1_000_000

    def off(sec):
        return datetime.fromtimestamp(sec, UTC).astimezone(tz).utcoffset()

    res = []
    t = start
    prev = off(t)
    while t < end:
        t2 = min(t + 86400, end)
        o2 = off(t2)
        if o2 != prev:
            lo, hi = t, t2
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if off(mid) == prev:
                    lo = mid
                else:
                    hi = mid
            res.append(hi)
        t = t2
        prev = o2
    return res


def dst_cases(zone, year, full):
    tz = TZ_OBJ.get(zone) or aps_astimezone(zone)
    cases = []
    short = zone.split("/")[-1].lower()
    for ti, tsec in enumerate(find_transitions(zone, year)):
        T = tsec * 1_000_000
        Tdt = from_us(T)
        before = from_us(T - 1_000_000).astimezone(tz)
        after = Tdt.astimezone(tz)
        delta = after.utcoffset() - before.utcoffset()
        tag = f"dst-{short}-{year}-{ti}"
        n = 0

        def add(trigger, fields, now_us, label):
            nonlocal n
            f = dict(fields)
            f["timezone"] = zone
            cases.append(run_case(f"{tag}-{label}-{n:03d}", trigger, f, now_us))
            n += 1

        hours = sorted({(before.hour + k) % 24 for k in (-1, 0, 1)}
                       | {(after.hour + k) % 24 for k in (-1, 0, 1)})
        minutes = [0, 15, 30, 45] if full else [0, 30]
        day = 86400 * 1_000_000
        hour = 3600 * 1_000_000
        minute = 60 * 1_000_000
        for h in hours:
            for m in minutes:
                if (h + m) % 2:
                    add("cron", {"hour": h, "minute": m}, T - 2 * day, "daily")
                else:
                    add("cron", {"hour": str(h), "minute": str(m)}, T - 2 * day, "daily")
        add("cron", {"minute": "30"}, T - 3 * hour, "hourly")
        add("cron", {"minute": 0}, T - 3 * hour, "hourly")
        add("cron", {"minute": "*/30"}, T - 2 * hour, "m30")
        add("cron", {"second": "*/20"}, T - minute, "s20")
        if delta < timedelta(0):
            # end of the second pass through the repeated wall times
            add("cron", {"second": "*/20"}, T - delta // ONE_US - minute, "s20b")
            add("cron", {"minute": "*/30"}, T - delta // ONE_US - hour, "m30b")
        add("interval", {"hours": 1, "start_date": wall_str(from_us(T - 5 * hour).astimezone(tz))},
            T - 4 * hour - 30 * minute, "ivh")
        add("interval", {"days": 1, "start_date": wall_str(from_us(T - 3 * day).astimezone(tz))},
            T - 3 * day - hour, "ivd")
        add("interval", {"hours": 1}, T - 30 * minute, "ivh-default")
        # date trigger: run_date inside the gap / fold
        if delta > timedelta(0):
            inner = (before + timedelta(seconds=1) + delta / 2).replace(tzinfo=None)
        else:
            inner = (after - delta / 2).replace(tzinfo=None)
        add("date", {"run_date": wall_str(inner)}, T - day, "date-inner")
        if full:
            add("cron", {"minute": "*/15"}, T - 2 * hour, "m15")
            add("cron", {"minute": "*/30", "second": "*/20"}, T - minute, "m30s20")
            add("cron", {"hour": "*/2"}, T - 4 * hour, "h2")
            add("cron", {"hour": "0-3", "minute": 30}, T - day, "h0-3")
            add("cron", {"hour": 0}, T - 3 * day, "midnight")
            for eps in (0, -1, 1):
                add("cron", {"minute": 0}, T + eps, f"exact{eps:+d}")
                add("cron", {"minute": "*/30"}, T + eps, f"exact{eps:+d}")
            add("cron", {"minute": "*/15", "start_date": wall_str(inner)}, T - day, "start-inner")
            add("cron", {"minute": "*/15", "end_date": wall_str(inner)}, T - 2 * hour, "end-inner")
            add("cron", {"second": "*/30", "end_date": wall_str(inner)}, T - 2 * minute,
                "end-inner")
            add("cron", {"hour": inner.hour, "minute": inner.minute,
                         "start_date": wall_str(inner)[:10]}, T - 5 * day, "daily-inner")
            add("interval", {"minutes": 30,
                             "start_date": wall_str(from_us(T - 5 * hour).astimezone(tz))},
                T - 4 * hour - 10 * minute, "ivm")
            add("interval", {"hours": 1, "start_date": wall_str(inner)}, T - 5 * hour, "ivh-inner")
            add("interval", {"days": 1, "start_date": wall_str(inner - timedelta(days=2))},
                T - 3 * day, "ivd-inner")
            add("interval", {"minutes": 30}, T - 30 * minute, "ivm-default")
            add("interval", {"seconds": 10}, T - 5 * 1_000_000, "ivs-default")
            add("interval", {"days": 1}, T - 3 * hour, "ivd-default")
            add("interval", {"hours": 1}, T + 10 * minute, "ivh-default")
            add("interval", {"minutes": 30}, T + 10 * minute + 123_456, "ivm-default")
            add("interval", {"days": 1}, T + 10 * minute, "ivd-default")
            add("interval", {"hours": 1, "start_date": wall_str(from_us(T - 5 * hour).astimezone(tz)),
                             "end_date": wall_str(inner)}, T - 4 * hour, "ivh-end")
            add("date", {"run_date": wall_str(inner, 3, "T")}, T - day, "date-inner")
            add("date", {}, T - 30 * minute, "date-default")
            add("date", {}, T + 10 * minute, "date-default")
    return cases


DST_FULL = [
    ("America/New_York", 2024),
    ("Europe/London", 2024),
    ("Australia/Lord_Howe", 2024),
    ("America/St_Johns", 2024),
    ("America/Havana", 2024),
    ("Europe/Dublin", 2024),
]
DST_REDUCED = [
    ("Australia/Sydney", 2024),
    ("Australia/Adelaide", 2024),
    ("Pacific/Chatham", 2024),
    ("America/Santiago", 2024),
    ("America/Sao_Paulo", 2018),
    ("Africa/Casablanca", 2024),
    ("Pacific/Apia", 2011),
    ("Pacific/Apia", 2020),
    ("Asia/Tehran", 2022),
    ("Asia/Gaza", 2024),
    ("Antarctica/Troll", 2024),
    ("Europe/Moscow", 2011),
    ("Europe/Moscow", 2014),
    ("America/Los_Angeles", 2024),
    ("Pacific/Auckland", 2024),
    ("Europe/Berlin", 2024),
    ("America/New_York", 2007),
    ("America/New_York", 2060),
    ("Asia/Kathmandu", 1986),
    ("Africa/Cairo", 2024),
    ("America/Mexico_City", 2022),
]


def gen_dst_cases():
    cases = []
    for zone, year in DST_FULL:
        cases += dst_cases(zone, year, full=True)
    for zone, year in DST_REDUCED:
        cases += dst_cases(zone, year, full=False)
    return cases


# --------------------------------------------------------------------------------------------
# hand-picked edge cases
# --------------------------------------------------------------------------------------------


def gen_edge_cases():
    cases = []
    counter = [0]

    def add(prefix, trigger, fields, now_us):
        cases.append(run_case(f"{prefix}-{counter[0]:04d}", trigger, fields, now_us))
        counter[0] += 1

    # --- grammar coverage (always present regardless of the random seed) ---
    grammar = [
        {}, {"hour": "*"}, {"minute": "*/5"}, {"second": "*/7"}, {"hour": "9"}, {"hour": 9},
        {"minute": 0}, {"second": 0}, {"hour": "9-17"}, {"hour": "9-17/2"}, {"minute": "5/15"},
        {"minute": "1,2,3"}, {"minute": "1, 2 ,3"}, {"minute": " 10 , 40 "},
        {"minute": "0-10/5,30,45-50"}, {"hour": "*/3", "minute": "*/20"},
        {"month": "jan"}, {"month": "Mar"}, {"month": "jan-mar"}, {"month": "JUN-Aug"},
        {"month": "jan,jul"}, {"month": "2, dec"}, {"month": "*/4"}, {"month": 6},
        {"day_of_week": "mon"}, {"day_of_week": "mon-fri"}, {"day_of_week": "SAT"},
        {"day_of_week": "sat,sun"}, {"day_of_week": "0-4"}, {"day_of_week": "*/2"},
        {"day_of_week": 6}, {"day_of_week": "Tue-Thu", "hour": 8},
        {"day_of_week": "mon", "second": "30"}, {"day_of_week": "fri", "second": 0},
        {"day": "last"}, {"day": "LAST"}, {"day": "Last"}, {"day": "1st mon"},
        {"day": "2nd mon"}, {"day": "3rd wed"}, {"day": "4th thu"}, {"day": "5th sun"},
        {"day": "last fri"}, {"day": "LAST FRI"}, {"day": "2ND  Tue"}, {"day": "1,15,last"},
        {"day": "1st mon, 3rd mon"}, {"day": "last, 15"}, {"day": "*/10"}, {"day": "10-20/3"},
        {"day": 15}, {"day": "31"}, {"day": "29-31"}, {"day": "5th fri"}, {"day": "last sun"},
        {"week": 1}, {"week": "53"}, {"week": "10-12"}, {"week": "*/4"}, {"week": "1-53/13"},
        {"week": "1,27,53"}, {"week": "*/2", "day_of_week": "mon"},
        {"year": "*/2"}, {"year": "2030"}, {"year": 2031}, {"year": "2030-2035"},
        {"year": "2030-2040/3"}, {"year": "2028/4"}, {"year": "2029, 2033"},
        {"year": "*/5", "month": "feb", "day": "last"},
        {"hour": 12}, {"minute": 30}, {"second": "15"}, {"day_of_week": "wed", "second": "10"},
        {"month": 3, "hour": 4}, {"day": 13, "day_of_week": "fri"},
        {"day": "13", "day_of_week": "fri", "hour": 18, "minute": 30},
        {"month": "feb", "day": 29}, {"month": "feb", "day": "29", "hour": 12},
        {"month": "feb", "day": "last"}, {"month": "jan-mar", "day": "last fri"},
        {"day": "5th fri", "month": "*/3", "hour": 17},
        {"minute": "0-0/5"},  # accepted (see quirk note below); kept here too
    ]
    now_list = [us_of(2024, 1, 15, 10, 20, 30), us_of(2023, 12, 31, 23, 59, 59, 999_999),
                us_of(2029, 2, 28, 12), us_of(1999, 12, 31, 23, 59, 59)]
    for gi, g in enumerate(grammar):
        for zi, z in enumerate(["UTC", "Asia/Shanghai", "America/New_York"]):
            f = dict(g)
            f["timezone"] = z
            label = "edge-quirk-grammar" if g.get("minute") == "0-0/5" else "edge-grammar"
            add(label, "cron", f, now_list[(gi + zi) % len(now_list)])

    # --- month ends across February (leap / non-leap) ---
    month_end = [
        {"day": "31"}, {"day": 31}, {"day": "last"}, {"day": "29-31"}, {"day": "5th fri"},
        {"day": "last sun"}, {"day": "last", "hour": 23, "minute": 59, "second": 59},
        {"day": "30", "month": "1-3"}, {"day": "29", "month": "feb"}, {"day": "5th mon"},
        {"day": "28-31/2"}, {"day": "last", "month": "feb"}, {"day": "5th sat, last mon"},
    ]
    for year in (2023, 2024, 2025, 2028, 2096, 2097):
        for me in month_end:
            for z in ("UTC", "Pacific/Auckland"):
                f = dict(me)
                f["timezone"] = z
                add("edge-monthend", "cron", f, us_of(year, 1, 15, 6, tz=TZ_OBJ[z]))

    # --- ISO weeks around new year ---
    weeks = [{"week": 53}, {"week": "1"}, {"week": "52-53"}, {"week": "1", "day_of_week": "mon"},
             {"week": "53", "day_of_week": "thu"}, {"week": "*/2", "day_of_week": "sun", "hour": 12},
             {"week": "1,53", "hour": 0, "minute": 0}, {"week": 52, "day_of_week": "sun"},
             {"week": "53", "month": "jan"}, {"week": "1", "month": "dec"}]
    for year in (2019, 2020, 2021, 2024, 2025, 2026, 2027, 2032):
        for w in weeks:
            f = dict(w)
            f["timezone"] = "UTC" if year % 2 else "Asia/Tokyo"
            add("edge-week", "cron", f, us_of(year, 12, 20, 12))

    # --- day=13 + friday (AND semantics) ---
    for year in (1998, 2015, 2024, 2026, 2050):
        add("edge-fri13", "cron", {"day": 13, "day_of_week": "fri", "timezone": "Europe/Berlin"},
            us_of(year, 1, 1))
        add("edge-fri13", "cron", {"day": "13", "day_of_week": "4", "hour": 9,
                                   "timezone": "America/Los_Angeles"}, us_of(year, 6, 1))

    # --- year boundaries / early / late ---
    add("edge-years", "cron", {"year": 1970, "timezone": "UTC"}, us_of(1970, 1, 2))
    add("edge-years", "cron", {"year": "1970", "month": 1, "day": 3, "timezone": "Pacific/Kiritimati"},
        us_of(1970, 1, 2))
    add("edge-years", "cron", {"year": "2098", "month": "dec", "day": "last", "hour": 23,
                               "timezone": "UTC"}, us_of(2098, 5, 31))
    add("edge-years", "cron", {"year": "2098-2100", "month": "dec", "day": "31", "hour": 23,
                               "minute": 59, "second": 59, "timezone": "Pacific/Kiritimati"},
        us_of(2098, 5, 31))
    add("edge-years", "cron", {"month": "dec", "day": "31", "hour": 23, "minute": 59,
                               "timezone": "Pacific/Pago_Pago"}, us_of(2097, 1, 1))
    add("edge-years", "cron", {"hour": "*/6", "timezone": "UTC"}, us_of(2098, 12, 31, 3))
    add("edge-years", "interval", {"hours": 7, "timezone": "UTC"}, us_of(2098, 12, 31, 3))
    add("edge-years", "interval", {"weeks": 52, "start_date": "2090-01-01", "timezone": "UTC"},
        us_of(2080, 1, 1))
    add("edge-years", "date", {"run_date": "2098-12-31 23:59:59.999999", "timezone": "UTC"},
        us_of(2020, 1, 1))
    add("edge-years", "date", {"run_date": "2099-01-01", "timezone": "UTC"}, us_of(2020, 1, 1))
    add("edge-years", "date", {"run_date": "2098-12-31 23:59:59", "timezone": "Asia/Tokyo"},
        us_of(2020, 1, 1))
    add("edge-years", "date", {"run_date": "9999-12-31 23:59:59", "timezone": "Asia/Tokyo"},
        us_of(2020, 1, 1))
    add("edge-years", "date", {"run_date": "1970-01-01", "timezone": "America/New_York"},
        us_of(2020, 1, 1))
    add("edge-years", "date", {"run_date": "1960-05-05 05:05:05", "timezone": "Europe/London"},
        us_of(2020, 1, 1))

    # --- never-firing (slow in APScheduler with year='*': keep to a few) ---
    never = [
        {"day": 30, "month": "feb"}, {"day": "31", "month": "apr,jun"},
        {"year": 2031, "month": "feb", "day": 29}, {"day": "30", "month": 2, "hour": 5},
        {"year": "2030-2035", "week": 53, "month": "jun"},
        {"year": "2024-2040", "week": "1", "month": "jun"}, {"day": "5th mon", "month": "feb", "year": "2030-2040"},
        {"year": "1970-1980", "timezone_now_after": True},
    ]
    for i, nv in enumerate(never):
        f = dict(nv)
        after = f.pop("timezone_now_after", False)
        f["timezone"] = ["UTC", "Asia/Kolkata"][i % 2]
        add("edge-never", "cron", f, us_of(2001 if after else 2024, 3, 3, 3, 3, 3))

    # --- sparse (finite year): year + ISO week + weekday position ---
    sparse = [
        {"year": "2026", "week": "44-48", "day": "5th fri"},
        {"year": "2025-2032", "week": 53, "day": "5th fri"},
        {"year": 2030, "week": "1-5", "day": "last sun", "hour": 12},
        {"year": "2027-2035/2", "week": "*/10", "day": "2nd mon", "day_of_week": "mon"},
        {"year": "2028, 2032", "month": "feb", "day": "5th tue,29", "hour": 23, "minute": 59},
        {"year": "2040-2044", "week": "9", "day": 29, "day_of_week": "wed"},
    ]
    for i, sp in enumerate(sparse):
        f = dict(sp)
        f["timezone"] = ["Australia/Adelaide", "America/Santiago", "Asia/Gaza"][i % 3]
        add("edge-sparse", "cron", f, us_of(2024, 8, 8, 8, 8, 8))

    # --- now exactly at / around a fire ---
    def first_fire_us(trigger, fields, now_us):
        c = run_case("probe", trigger, fields, now_us)
        STATS[trigger]["ok"] -= 1  # probe, not emitted
        return c["expect"]["fires"][0][1]

    probes = [
        ("cron", {"hour": 9, "minute": 0, "timezone": "Europe/Berlin"}),
        ("cron", {"second": "*/5", "timezone": "UTC"}),
        ("cron", {"minute": "*/30", "timezone": "Australia/Lord_Howe"}),
        ("cron", {"day": "last", "hour": 23, "minute": 59, "second": 59, "timezone": "Asia/Kathmandu"}),
        ("cron", {"day_of_week": "mon-fri", "hour": "8-18", "minute": "*/10",
                  "end_date": "2024-06-03 09:00:00", "timezone": "America/Sao_Paulo"}),
        ("interval", {"minutes": 5, "start_date": "2024-01-01 00:00:00.5", "timezone": "UTC"}),
        ("interval", {"hours": 3, "start_date": "2023-12-31 22:13:14.654321",
                      "timezone": "Asia/Kolkata"}),
        ("interval", {"seconds": 1, "start_date": "2024-05-05T05:05:05.000001Z",
                      "end_date": "2024-06-05 05:05:10", "timezone": "America/Santiago"}),
        ("interval", {"weeks": 1, "days": 2, "hours": 3, "minutes": 4, "seconds": 5,
                      "start_date": "2024-02-28 12:00:00", "timezone": "Europe/Dublin"}),
    ]
    base_now = us_of(2024, 6, 3, 7, 59, 58, 250_000)
    for trig, f in probes:
        ff = first_fire_us(trig, f, base_now)
        for eps in (0, -1, 1, -1_000_000, 1_000_000, -999_999, 999_999):
            add("edge-exact", trig, dict(f), ff + eps)
    for eps in (0, -1, 1):
        rd = "2024-06-03 10:00:00.123456"
        rdu = us_of(2024, 6, 3, 10, 0, 0, 123_456, tz=TZ_OBJ["Asia/Tehran"])
        add("edge-exact", "date", {"run_date": rd, "timezone": "Asia/Tehran"}, rdu + eps)

    # --- cron start/end dates: all accepted string forms ---
    sd_forms = ["2024-3-5", "2024-03-05", "2024-3-5 6:7:8", "2024-03-05 06:07:08",
                "2024-03-05T06:07:08", "2024-03-05 06:07:08.1", "2024-03-05 06:07:08.12",
                "2024-03-05 06:07:08.123", "2024-03-05 06:07:08.1234", "2024-03-05 06:07:08.12345",
                "2024-03-05 06:07:08.123456", "2024-03-05 06:07:08Z", "2024-03-05T06:07:08.5Z",
                "2024-03-05 06:07:08+05:30", "2024-03-05 06:07:08-08:00",
                "2024-03-05T06:07:08.999999+05:45", "2024-03-05 06:07:08-00:00",
                "2024-03-05 06:07:08+14:00", "2024-3-5T6:7:8.000001-11:00"]
    for i, sd in enumerate(sd_forms):
        z = ZONES[i % len(ZONES)]
        add("edge-startdate", "cron", {"minute": "*/7", "start_date": sd, "timezone": z},
            us_of(2024, 3, 1))
        add("edge-startdate", "cron", {"second": "*/13", "start_date": sd, "timezone": z},
            us_of(2024, 3, 5, 0))
        add("edge-enddate", "cron", {"hour": "*", "end_date": sd, "timezone": z},
            us_of(2024, 3, 4, 22))
        add("edge-enddate", "cron", {"second": "*/3", "end_date": sd, "timezone": z},
            us_of(2024, 3, 5, 0, 6, 50) - 5_400 * 1_000_000)
        add("edge-startdate", "interval", {"minutes": 7, "start_date": sd, "timezone": z},
            us_of(2024, 3, 1))
        add("edge-startdate", "interval", {"seconds": 13, "start_date": sd, "timezone": z},
            us_of(2024, 3, 6))
        add("edge-enddate", "interval", {"minutes": 17, "end_date": sd, "timezone": z},
            us_of(2024, 3, 5, 3))
        add("edge-rundate", "date", {"run_date": sd, "timezone": z}, us_of(2024, 3, 1))
    # start after end
    add("edge-startend", "cron", {"minute": 5, "start_date": "2024-05-01", "end_date": "2024-04-01",
                                  "timezone": "UTC"}, us_of(2024, 1, 1))
    add("edge-startend", "interval", {"hours": 2, "start_date": "2024-05-01",
                                      "end_date": "2024-04-01", "timezone": "UTC"}, us_of(2024, 1, 1))
    add("edge-startend", "cron", {"minute": 5, "start_date": "2024-05-01 10:05:00",
                                  "end_date": "2024-05-01 10:05:00", "timezone": "UTC"},
        us_of(2024, 1, 1))
    add("edge-startend", "interval", {"hours": 2, "start_date": "2024-05-01 10:05:00",
                                      "end_date": "2024-05-01 10:05:00", "timezone": "UTC"},
        us_of(2024, 1, 1))
    add("edge-startend", "cron", {"second": "*/10", "end_date": "2024-05-01 10:05:05",
                                  "timezone": "UTC"}, us_of(2024, 5, 1, 10, 4, 40))
    add("edge-startend", "cron", {"second": "*/10", "end_date": "2024-05-01 10:05:05.5+02:00",
                                  "timezone": "Europe/Paris"}, us_of(2024, 5, 1, 8, 4, 40))

    # --- intervals: shapes ---
    ivs = [{}, {"seconds": 0}, {"weeks": 0, "days": 0, "hours": 0, "minutes": 0, "seconds": 0},
           {"seconds": 1}, {"seconds": 59}, {"minutes": 1}, {"hours": 1}, {"days": 1},
           {"weeks": 1}, {"weeks": 2, "days": 3}, {"hours": 25}, {"minutes": 90},
           {"seconds": 86401}, {"days": 365}, {"weeks": 104}, {"seconds": 7},
           {"hours": 1, "minutes": 1, "seconds": 1}, {"seconds": 3600 * 24 * 7}]
    for i, iv in enumerate(ivs):
        z = ZONES[(i * 7) % len(ZONES)]
        f = dict(iv)
        f["timezone"] = z
        add("edge-interval", "interval", dict(f), us_of(2024, 7, 7, 7, 7, 7, 777_777))
        f2 = dict(f)
        f2["start_date"] = "2020-02-29 12:34:56.789"
        add("edge-interval", "interval", f2, us_of(2024, 7, 7, 7, 7, 7))
        f3 = dict(f)
        f3["start_date"] = "2030-01-01"
        f3["end_date"] = "2030-01-20"
        add("edge-interval", "interval", f3, us_of(2024, 7, 7, 7, 7, 7))
    # huge but valid intervals (first fire far beyond 2099 -> no fires listed); intervals over
    # 100 years are accepted by APScheduler but refused by the Rust side on purpose -> "lax-"
    add("lax-interval-huge", "interval", {"weeks": 400_000, "timezone": "UTC"}, us_of(2024, 1, 1))
    add("lax-interval-huge", "interval", {"days": 2_000_000, "start_date": "2024-01-01",
                                          "timezone": "UTC"}, us_of(2024, 6, 1))
    add("edge-interval-huge", "interval", {"seconds": 2_000_000_000, "start_date": "2024-01-01",
                                           "timezone": "UTC"}, us_of(2024, 6, 1))
    add("edge-interval-huge", "interval", {"weeks": 5000, "start_date": "1999-01-01",
                                           "timezone": "UTC"}, us_of(2024, 6, 1))
    # long-ago start, float ceil arithmetic
    for secs in (1, 3, 7, 13, 59, 61, 3599, 86399):
        add("edge-interval-float", "interval",
            {"seconds": secs, "start_date": "1970-01-01 00:00:00.000001", "timezone": "UTC"},
            us_of(2097, 3, 4, 5, 6, 7, 891_011))
        add("edge-interval-float", "interval",
            {"seconds": secs, "start_date": "1970-01-02 03:04:05.678901+05:45",
             "timezone": "Asia/Kathmandu"}, us_of(2063, 1, 2, 3, 4, 5, 999_999))

    # --- date: every accepted form + default ---
    run_dates = ["2030-1-2", "2030-01-02", "2030-1-2 3:4:5", "2030-01-02T03:04:05",
                 "2030-01-02 03:04:05.6", "2030-01-02 03:04:05.67", "2030-01-02 03:04:05.678",
                 "2030-01-02 03:04:05.6789", "2030-01-02 03:04:05.67891", "2030-01-02 03:04:05.678912",
                 "2030-01-02 03:04:05Z", "2030-01-02T03:04:05.000001Z", "2030-01-02 03:04:05+05:30",
                 "2030-01-02 03:04:05-08:00", "2030-01-02 03:04:05+00:00", "2030-01-02 03:04:05-00:00",
                 "2030-01-02 03:04:05+14:00", "2030-01-02 03:04:05-12:00", "2020-01-01 00:00:00",
                 "1999-12-31T23:59:59.999999"]
    for i, rd in enumerate(run_dates):
        for z in (ZONES[i % len(ZONES)], ZONES[(i + 11) % len(ZONES)]):
            add("edge-rundate", "date", {"run_date": rd, "timezone": z}, us_of(2024, 1, 1))
    for i, z in enumerate(ZONES):
        add("edge-rundate-default", "date", {"timezone": z},
            us_of(2024, 1, 1) + i * 1_234_567_891_011)

    # --- apparent quirks (APScheduler accepts; results look accidental) ---
    q = "edge-quirk"
    add(q, "cron", {"minute": "0-0/5", "timezone": "UTC"}, us_of(2024, 1, 1))  # str '0/5', fires :00
    add(q, "cron", {"hour": "0-0/2", "timezone": "UTC"}, us_of(2024, 1, 1))
    add(q, "date", {"run_date": "2030-12-03 15:00:00+05:75", "timezone": "UTC"}, us_of(2024, 1, 1))
    # Python's `$` also matches before a final newline; we refuse that on purpose.
    add("lax-quirk", "date", {"run_date": "2030-12-03 15:00:00\n", "timezone": "UTC"}, us_of(2024, 1, 1))
    add(q, "date", {"run_date": "0001-01-01", "timezone": "America/New_York"}, us_of(2024, 1, 1))
    add(q, "date", {"run_date": "0999-06-01 12:00:00", "timezone": "UTC"}, us_of(2024, 1, 1))
    add(q, "cron", {"minute": 5, "start_date": "2024-01-01 00:00:00+05:75", "timezone": "UTC"},
        us_of(2023, 1, 1))
    return cases


# --------------------------------------------------------------------------------------------
# lax cases: nonsense APScheduler accepts silently
# --------------------------------------------------------------------------------------------


def gen_lax_cases():
    cases = []
    lax = [
        {"day_of_week": "mon-fri/2"}, {"day_of_week": "mon-5"}, {"month": "jan-mar/2"},
        {"day": "lastx"}, {"day": "2nd mon-fri"}, {"day_of_week": "mon/2"},
        {"day_of_week": "mon-tue-wed"}, {"month": "jan5"}, {"month": "Feb-Apr/3"},
        {"day": "last5"}, {"day": "last fri x"}, {"day": "2nd mon!"}, {"day": "LASTDAY"},
        {"day_of_week": "sat-sun/9"}, {"month": "dec,jan-mar/2"}, {"day": "1st sun,lastx"},
        {"day": "last-1"}, {"month": "jan-13"}, {"day_of_week": "fri-1"},
    ]
    i = 0
    for f0 in lax:
        for z, now in (("UTC", us_of(2024, 2, 10)), ("America/New_York", us_of(2031, 7, 1))):
            f = dict(f0)
            f["timezone"] = z
            cases.append(run_case(f"lax-{i:04d}", "cron", f, now))
            i += 1
    # timezone "" -> APScheduler uses the machine's local zone for cron/interval (pinned here)
    for trig, f0 in (("cron", {"hour": 9}), ("cron", {}), ("interval", {"hours": 1}),
                     ("interval", {"minutes": 5, "start_date": "2024-01-01"})):
        f = dict(f0)
        f["timezone"] = ""
        cases.append(run_case(f"lax-tz-empty-{i:04d}", trig, f, us_of(2024, 2, 10, 1, 2, 3)))
        i += 1
    # interval: an empty start_date string is falsy -> treated as absent (now + interval)
    for f0 in ({"minutes": 1, "start_date": ""}, {"hours": 2, "start_date": "", "end_date": "2024-02-11"}):
        f = dict(f0)
        f["timezone"] = "Europe/London"
        cases.append(run_case(f"lax-interval-empty-start-{i:04d}", "interval", f,
                              us_of(2024, 2, 10, 1, 2, 3)))
        i += 1
    # negative intervals are accepted and run backwards
    for f0 in ({"seconds": -5}, {"hours": -1, "start_date": "2024-01-01"}, {"days": 1, "hours": -24},
               {"minutes": -1, "seconds": 60}):
        f = dict(f0)
        f["timezone"] = "UTC"
        cases.append(run_case(f"lax-interval-neg-{i:04d}", "interval", f, us_of(2024, 2, 10)))
        i += 1
    return cases


# --------------------------------------------------------------------------------------------
# rejection cases
# --------------------------------------------------------------------------------------------

BAD_FIELD_VALUES = {
    "second": ["60", 60, -1, "-1", "*/60", "*/0", "5-2", "5-5/10", "59/1", "0-60", "xyz", "",
               " ", ",", "1,,2", "1 2", "L", "?", "1-", "*/", "*/x", "1/0", "1-2-3", "1.5",
               "mon", "1\t,2", "0x10"],
    "minute": ["61", "60", 60, -5, "*/60", "*/0", "5-2", "5-5/10", "58-59/2", "0/60", "xyz",
               "monday", "", ",", "1,,2", "1 2", "L", "?", "#", "*/-1", "1,", ",1", "last",
               "1st mon", "jan", "**", "*/5/2", "5-2/1", "1-2,3-99"],
    "hour": ["24", 24, "0-24", "*/24", "23-0", "25", "-1", "L", "?", "", "1 2", "1,,2", "noon",
             "12/12", "0-23/24", "*/0", "12am"],
    "day": ["0", "32", 0, 32, "0-5", "31-1", "6th mon", "1st", "first mon", "2nd 1", "2nd xyz",
            "lst", "*/31", "L", "?", "", "mon", "1-31/31", "15W", "LW", "3#2",
            "1,32", "0/5"],
    "month": ["13", "0", 0, 13, "jan-foo", "foo", "january", "dec-jan", "*/12", "0-12",
              "", ",", "?", "L", "13-14", "1-jan", "12-1"],
    "week": ["54", "0", 0, 54, "*/53", "53-1", "w1", "", "1-54", "L", "?", "mon"],
    "day_of_week": ["7", 7, "sun-mon", "monday", "mon-foo", "xyz", "*/7", "0-7", "L", "?", "",
                    "6-0", "fri-mon", "1#2", "5L", "7-8", "-1", ",", "sunday"],
    "year": ["1969", 1969, "10000", 10000, "2030-2020", "*/8030", "*/0", "99", "2024/0",
             "0", "1900-2000", "", "20x0", "?", "*/9000", "2030-2030/1", "1969-2030"],
}

BAD_TZS = ["Mars/Olympus", "utc", "Utc", "America/New York", "Europe/", "+08:00", "UTC+8",
           "Etc/GMT+15", "/etc/localtime", "../UTC", "Asia/Beijing", "US/Pacific/Extra", " UTC",
           "UTC ", "Europe/london"]

BAD_DATES = ["2030-12-03 15:00", "2030/12/03 15:00:00", "12/03/2030", "2030-12-03 15:00:00 +08:00",
             "2030-13-01", "2030-02-30 00:00:00", "2030-12-03 25:00:00", "0000-01-01", "", " ",
             "now", "2030-12-03T15:00:00+0800", "2030-12-03T15:00:00+08",
             "2030-12-03 15:00:00.1234567", "2030-12-03 15:00:00.", "30-12-03", "20301-12-03",
             "2030-12-03Z", "2030-12-03 15:60:00", "2030-12-03 15:00:60", "2030-00-10",
             "2030-12-00", "2030-12-03 15:00:00 ", " 2030-12-03", "2030-12-03 15:00:00+24:00",
             "2030-12-03 15:00:00+8:00", "2030-12-03 15:00:00UTC", "2030-12-03t15:00:00",
             "2030-12-03 15:00:00z", "2030-12-03  15:00:00", "2029-02-29", "2030-04-31 12:00:00",
             "2030-12-03 15:00:00+99:00", "2030-12-03 15:00:00-24:00", "2030-12-03 024:00:00",
             "2030-12-03 15:00:00.+05:00", "2030-12-03_15:00:00", "1234567890"]


def gen_bad_cases():
    cases = []
    i = 0
    now = us_of(2024, 6, 1, 12)

    def add(label, trigger, fields, now_us=now):
        nonlocal i
        c = run_case(f"bad-{label}-{i:04d}", trigger, fields, now_us)
        if c["expect"]["ok"]:
            raise SystemExit(f"oracle bug: {c['id']} {fields!r} was accepted by APScheduler")
        cases.append(c)
        i += 1

    tzs = ["UTC", "Europe/Berlin", "Asia/Kolkata", "America/St_Johns"]
    for field, vals in BAD_FIELD_VALUES.items():
        for j, v in enumerate(vals):
            f = {field: v}
            if j % 3 == 1:
                f["second" if field != "second" else "minute"] = 0
            f["timezone"] = tzs[j % len(tzs)]
            add(f"cron-{field}", "cron", f)
    # bad value inside a list / next to good fields
    for f in ({"minute": "5,61"}, {"hour": "1, 2, 24"}, {"day": "1,last,32"},
              {"month": "jan,foo"}, {"day_of_week": "mon, sunday"}, {"week": "1,54"},
              {"year": "2030,1969"}, {"minute": "0", "hour": "25"}, {"day": "2nd mon,6th tue"}):
        f = dict(f)
        f["timezone"] = "Asia/Shanghai"
        add("cron-list", "cron", f)
    # time zones
    for z in BAD_TZS:
        add("tz", "cron", {"hour": 1, "timezone": z})
        add("tz", "interval", {"hours": 1, "timezone": z})
        add("tz", "date", {"run_date": "2030-01-01", "timezone": z})
    add("tz", "date", {"run_date": "2030-01-01", "timezone": ""})
    add("tz", "date", {"timezone": ""})
    # date strings
    for d in BAD_DATES:
        add("rundate", "date", {"run_date": d, "timezone": "UTC"})
        add("startdate", "cron", {"minute": 1, "start_date": d, "timezone": "Europe/London"})
        add("enddate", "cron", {"minute": 1, "end_date": d, "timezone": "Asia/Tokyo"})
        if d != "":  # interval treats "" as "no start_date" (see lax cases)
            add("startdate", "interval", {"minutes": 1, "start_date": d, "timezone": "Europe/London"})
        add("enddate", "interval", {"minutes": 1, "end_date": d, "timezone": "Asia/Tokyo"})
    # out-of-range after localisation
    add("rundate", "date", {"run_date": "0001-01-01", "timezone": "Asia/Tokyo"})
    add("rundate", "date", {"run_date": "9999-12-31 23:59:59", "timezone": "America/New_York"})
    add("startdate", "cron", {"minute": 1, "start_date": "0001-01-01", "timezone": "Asia/Tokyo"})
    # interval overflow
    add("interval-overflow", "interval", {"days": 1_000_000_000, "timezone": "UTC"})
    add("interval-overflow", "interval", {"weeks": 200_000_000, "timezone": "UTC"})
    add("interval-overflow", "interval", {"weeks": 600_000, "timezone": "UTC"})
    add("interval-overflow", "interval", {"days": 3_000_000, "hours": 1, "timezone": "Asia/Tokyo"})
    # unsupported trigger names
    for name in ("foo", "Cron", "", "CRON", "Interval", "dates", " cron", "cron ", "crontab",
                 "calendarinterval", "and", "or"):
        add("trigger", name, {"timezone": "UTC"})
        add("trigger", name, {"hour": "1", "timezone": "UTC"})
    return cases


# --------------------------------------------------------------------------------------------
# calendarinterval, or, and (issue 24)
#
# Expectations come from APScheduler's own CalendarIntervalTrigger and OrTrigger, with
# APScheduler's leaves everywhere. AndTrigger: the first fire is APScheduler's loop (this
# copy adds only funboost-edge's bounds, and checks its answer against the real
# AndTrigger's when it converges); later fires follow funboost-edge's rule, computed here by
# stepping through every part's fire times (no shortcuts): the earliest instant after the
# previous fire that every part gives. Fire times are given in the combined trigger's zone
# (the default zone, UTC, when a part names none, else the first part's); the previous fire
# passed back is that converted one, as funboost-edge stores it.
# --------------------------------------------------------------------------------------------

import apscheduler.triggers.calendarinterval as _calint_mod  # noqa: E402
from datetime import date as _real_date  # noqa: E402

from apscheduler.triggers.calendarinterval import CalendarIntervalTrigger  # noqa: E402
from apscheduler.triggers.combining import AndTrigger, OrTrigger  # noqa: E402

# funboost-edge's bounds on an and trigger's search (src/trigger/combining.rs)
MAX_AND_SEARCH_EVALUATIONS = 10_000
AND_HORIZON_US = 36_525 * 86_400 * 1_000_000
# the oracle's own limit on stepping through fire times in one case: the fires found before
# it are the expectation ("partial": the Rust side compares those)
MAX_ORACLE_STEPS = 1_500

_TODAY_TZ = [UTC]


class _FakeDate(_real_date):
    # date.today() in calendarinterval: today in the trigger's zone at the case's "now"
    @classmethod
    def today(cls):
        base = from_us(_CURRENT_NOW_US).astimezone(_TODAY_TZ[0])
        return cls(base.year, base.month, base.day)


_calint_mod.date = _FakeDate
_calint_mod.get_localzone = _fixed_localzone

# Jitter: random.uniform(a, b) = a + (b - a) * UNIFORM[0], a constant per case (dyadic, so
# both sides compute the delay exactly).
_UNIFORM = [0.5]
random.uniform = lambda a, b: a + (b - a) * _UNIFORM[0]

SEARCH = {"evals": 0, "exhausted": False, "steps": 0}


class OracleTooSlow(Exception):
    pass


class OracleBeyondTzdata(Exception):
    """An and trigger's first-fire search went past 2099 in a zone with DST rules there:
    chrono-tz keeps one offset after 2099 and zoneinfo its rules, so the two may disagree."""


class _Counted:
    """A leaf trigger; its get_next_fire_time calls count against the and-search budget."""

    def __init__(self, trig):
        self.trig = trig

    def get_next_fire_time(self, prev, now):
        SEARCH["evals"] += 1
        return self.trig.get_next_fire_time(prev, now)

    def __str__(self):
        return str(self.trig)


def _same(a, b):
    """Identical datetimes (Rust's Zdt ==): instant, wall time, fold and zone."""
    return (to_us(a) == to_us(b) and a.replace(tzinfo=None) == b.replace(tzinfo=None)
            and a.fold == b.fold and _zone_id(a.tzinfo) == _zone_id(b.tzinfo))


def _dst_after_2099(tz):
    return isinstance(tz, ZoneInfo) and (datetime(2100, 1, 1, tzinfo=tz).utcoffset()
                                         != datetime(2100, 7, 1, tzinfo=tz).utcoffset())


def _zone_id(tz):
    if isinstance(tz, ZoneInfo):
        return tz.key
    return ("fixed", tz.utcoffset(None))


class BoundedAnd(AndTrigger):
    __slots__ = ()

    def get_next_fire_time(self, previous_fire_time, now):
        if previous_fire_time is None:
            fire = self._first(now)
        else:
            fire = self._after(previous_fire_time, now)
        return self._apply_jitter(fire, self.jitter, now)

    def _first(self, now):
        """APScheduler's loop, with funboost-edge's bounds."""
        origin = now
        while True:
            if SEARCH["evals"] >= MAX_AND_SEARCH_EVALUATIONS:
                SEARCH["exhausted"] = True
                return None
            fire_times = [t.get_next_fire_time(None, now) for t in self.triggers]
            if None in fire_times:
                return None
            if min(fire_times) == max(fire_times):
                self._check_against_apscheduler(origin, fire_times[0])
                return fire_times[0]
            latest = max(fire_times)
            if to_us(latest) >= LIMIT_US and any(_dst_after_2099(f.tzinfo) for f in fire_times):
                raise OracleBeyondTzdata()
            if _same(latest, now) or to_us(latest) - to_us(origin) > AND_HORIZON_US:
                SEARCH["exhausted"] = True
                return None
            now = latest

    def _check_against_apscheduler(self, origin, fire):
        saved = dict(SEARCH)
        SEARCH["evals"] = -10**9
        jitter, self.jitter = self.jitter, None
        try:
            real = AndTrigger.get_next_fire_time(self, None, origin)
        finally:
            self.jitter = jitter
            SEARCH.update(saved)
        if not _same(real, fire):
            raise SystemExit(f"oracle bug: bounded and loop gave {fire!r}, AndTrigger {real!r}")

    def _after(self, p, now):
        """funboost-edge's rule by brute force: step every part through its fire times."""
        cur = [t.get_next_fire_time(p, now) for t in self.triggers]
        if None in cur:
            return None
        while True:
            us = [to_us(x) for x in cur]
            latest = max(us)
            if all(u == latest for u in us):
                return cur[0]
            if latest - to_us(p) > AND_HORIZON_US:
                SEARCH["exhausted"] = True
                return None
            for i, t in enumerate(self.triggers):
                while to_us(cur[i]) < latest:
                    SEARCH["steps"] += 1
                    if SEARCH["steps"] > MAX_ORACLE_STEPS:
                        raise OracleTooSlow()
                    cur[i] = t.get_next_fire_time(cur[i], cur[i])
                    if cur[i] is None:
                        return None


NEW_CLASSES = {"cron": CronTrigger, "interval": IntervalTrigger, "date": DateTrigger,
               "calendarinterval": CalendarIntervalTrigger}


def build_tree(spec):
    """APScheduler triggers for a JSON spec (parts without a timezone get UTC, the default)."""
    kind = spec["trigger"]
    if kind in ("or", "and"):
        parts = [build_tree(p) for p in spec["triggers"]]
        args = {k: v for k, v in spec.items() if k not in ("trigger", "triggers")}
        return (OrTrigger if kind == "or" else BoundedAnd)(parts, **args)
    args = {k: v for k, v in spec.items() if k != "trigger"}
    args.setdefault("timezone", "UTC")
    _TODAY_TZ[0] = aps_astimezone(args["timezone"]) if args["timezone"] else UTC
    return _Counted(NEW_CLASSES[kind](**args))


def takes_default_zone(spec):
    if spec["trigger"] in ("or", "and"):
        return any(takes_default_zone(p) for p in spec["triggers"])
    return "timezone" not in spec


def zone_of(tree, spec):
    """The zone funboost-edge gives the trigger's fire times in."""
    if spec["trigger"] in ("or", "and"):
        if takes_default_zone(spec) or not spec["triggers"]:
            return UTC
        return zone_of(tree.triggers[0], spec["triggers"][0])
    leaf = tree.trig
    return leaf.run_date.tzinfo if spec["trigger"] == "date" else leaf.timezone


def leaf_zones(tree, spec):
    if spec["trigger"] in ("or", "and"):
        out = set()
        for t, s in zip(tree.triggers, spec["triggers"]):
            out |= leaf_zones(t, s)
        return out
    return {_zone_id(zone_of(tree, spec))}


def _fire(tree, zone, prev, now):
    SEARCH["evals"] = 0
    f = tree.get_next_fire_time(prev, now)
    return None if f is None else f.astimezone(zone)


def run_new_case(cid, spec, now_us, uniform=None):
    """One case of a new trigger kind; `spec` holds "trigger" and its fields."""
    global _CURRENT_NOW_US
    fields = {k: v for k, v in spec.items() if k != "trigger"}
    case = {"id": cid, "trigger": spec["trigger"], "fields": fields, "now_us": now_us}
    kind = spec["trigger"]
    _CURRENT_NOW_US = now_us
    try:
        tree = build_tree(spec)
    except Exception as exc:  # noqa: BLE001 - any construction error is a rejection
        case["expect"] = {"ok": False, "error": str(exc)}
        _stat(kind, "rejected")
        return case
    zone = zone_of(tree, spec)
    now = from_us(now_us).astimezone(zone)
    _UNIFORM[0] = 0.0 if uniform is None else uniform
    SEARCH.update(steps=0, exhausted=False)
    homogeneous = len(leaf_zones(tree, spec)) == 1 and _zone_id(zone) in leaf_zones(tree, spec)
    fires, ticks = [], []
    partial = False
    try:
        prev, cur = None, now
        for n in range(MAX_FIRES):
            f = _fire(tree, zone, prev, cur)
            if n == 0 and SEARCH["exhausted"]:
                case["expect"] = {"ok": False, "error": "no common fire time within the search bounds"}
                _stat(kind, "rejected")
                return case
            if f is None or to_us(f) >= LIMIT_US:
                break
            if uniform is not None and homogeneous:
                # The tick's path adds only the combined trigger's own jitter to the unjittered
                # time: APScheduler's answer when every part draws 0 and the trigger `uniform`.
                _UNIFORM[0] = 0.0
                tick = _fire(tree, zone, prev, cur)
                _UNIFORM[0] = uniform
                own = spec.get("jitter")
                if tick is not None and own:
                    tick = tick + timedelta(seconds=random.uniform(0, own))
                ticks.append(None if tick is None else [str(tick), to_us(tick)])
            fires.append([str(f), to_us(f)])
            prev, cur = f, f
    except OracleTooSlow:
        partial = True
        ticks = ticks[:len(fires)]
    except OracleBeyondTzdata:
        if not fires:
            return None
        partial = True
        ticks = ticks[:len(fires)]
    except Exception as exc:  # noqa: BLE001 - APScheduler fails on its first steps: refused here
        case["expect"] = {"ok": False, "error": str(exc), "phase": "next"}
        _stat(kind, "next_error")
        return case
    case["expect"] = {"ok": True, "str": str(tree if kind in ("or", "and") else tree.trig), "fires": fires}
    if partial:
        case["partial"] = True
    if uniform is not None:
        case["uniform"] = uniform
        if homogeneous:
            case["tick"] = ticks
    _stat(kind, "ok")
    return case


# ---- generators -----------------------------------------------------------------------------

UNIFORMS = [0.0, 0.25, 0.5, 0.75, 0.9990234375, 0.1171875]


def transitions_2025_2027():
    out = []
    for zone in ZONES:
        if zone in ("UTC",):
            continue
        for year in (2025, 2026, 2027):
            for t in find_transitions(zone, year):
                out.append((zone, t * 1_000_000))
    return out


def _date_str(rng, d):
    r = rng.random()
    if r < 0.85:
        return d.isoformat()
    if r < 0.95:
        return d.strftime("%Y%m%d")
    y, w, wd = d.isocalendar()
    return f"{y:04d}-W{w:02d}-{wd}"


def gen_calendar_fields(rng, now_utc, tzname):
    f = {}
    r = rng.random()
    if r < 0.35:
        f["months"] = rng.choice([1, 1, 1, 2, 3, 6, 12, 13])
    elif r < 0.5:
        f["years"] = rng.choice([1, 1, 2, 4])
    elif r < 0.75:
        f["days"] = rng.choice([1, 1, 2, 3, 7, 10, 30])
    elif r < 0.85:
        f["weeks"] = rng.choice([1, 2, 4])
    else:
        for u, hi in (("years", 2), ("months", 14), ("weeks", 3), ("days", 40)):
            if rng.random() < 0.5:
                f[u] = rng.randint(0, hi)
        if not any(f.values()):
            f["days"] = 1
    for u, hi in (("hour", 23), ("minute", 59), ("second", 59)):
        if rng.random() < 0.7:
            f[u] = rng.randint(0, hi) if rng.random() < 0.7 else rng.choice([0, hi // 2, hi])
    tz = TZ_OBJ[tzname]
    base = now_utc.astimezone(tz).date()
    r = rng.random()
    if r < 0.85:
        off = rng.randint(-400, 200)
        start = base + timedelta(days=off)
        if rng.random() < 0.35:
            # month ends and leap days: the skipped steps
            day = rng.choice([28, 29, 30, 31])
            for _ in range(12):
                try:
                    start = start.replace(day=day)
                    break
                except ValueError:
                    start = (start.replace(day=1) + timedelta(days=32)).replace(day=1)
        f["start_date"] = _date_str(rng, start)
        if rng.random() < 0.2:
            f["end_date"] = (start + timedelta(days=rng.randint(0, 900))).isoformat()
    f["timezone"] = tzname
    return f


def _time_of(rng):
    return rng.randint(0, 23), rng.choice([0, 0, 15, 30, 45, rng.randint(0, 59)]), rng.choice([0, 0, 0, 30])


def _cron_at(h, m, s, extra=None, as_text=False):
    f = {"hour": str(h) if as_text else h, "minute": m, "second": s}
    if extra:
        f.update(extra)
    return f


DATE_AXES = {
    "day_of_week": ["mon-fri", "mon,wed,fri", "sat,sun", "0-3", "tue", "fri"],
    "day": ["1-10", "5-20", "10-25", "15-31", "last", "1", "15", "1st mon", "last fri"],
    "month": ["1-6", "3,6,9,12", "jan-mar", "7-12", "*/2"],
    "week": ["*/2", "1-26", "10-40"],
}


def _date_constraint(rng, used=None):
    """One field narrowing the dates, on an axis no other part uses (so that they meet)."""
    axes = [a for a in DATE_AXES if used is None or a not in used]
    if not axes or rng.random() < 0.15:
        return {}
    axis = rng.choice(axes)
    if used is not None:
        used.add(axis)
        if axis == "day_of_week":
            used.add("day")  # "1st mon" and a weekday may never meet
    return {axis: rng.choice(DATE_AXES[axis])}


def gen_leaf(rng, now_utc, tzname, sparse=False):
    """A random part for an or trigger (any density)."""
    tz = TZ_OBJ[tzname]
    r = rng.random()
    if r < 0.45:
        f = dict(gen_cron_fields(rng, now_utc, tz)) if not sparse else _cron_at(*_time_of(rng), _date_constraint(rng))
        f["trigger"] = "cron"
        if rng.random() < 0.15:
            f["start_date"] = fmt_date(rng, now_utc + timedelta(days=rng.randint(-30, 60)), tz)
        if rng.random() < 0.15:
            f["end_date"] = fmt_date(rng, now_utc + timedelta(days=rng.randint(0, 400)), tz)
    elif r < 0.7:
        f = {"trigger": "interval"}
        unit = rng.choice(["seconds", "minutes", "hours", "days", "weeks"] if not sparse else ["hours", "days"])
        f[unit] = rng.choice([1, 2, 3, 5, 7, 10, 13, 30])
        f["start_date"] = fmt_date(rng, now_utc - timedelta(seconds=rng.randint(-86400, 86400 * 40)), tz)
        if rng.random() < 0.15:
            f["end_date"] = fmt_date(rng, now_utc + timedelta(days=rng.randint(0, 100)), tz)
    elif r < 0.85:
        f = gen_calendar_fields(rng, now_utc, tzname)
        f["trigger"] = "calendarinterval"
        del f["timezone"]
    else:
        f = {"trigger": "date", "run_date": fmt_date(rng, now_utc + timedelta(seconds=rng.randint(-86400 * 30, 86400 * 400)), tz)}
    f["timezone"] = tzname
    return f


def _zones_for(rng, tzname, spec_parts):
    """Parts mostly share the case's zone; some name another, some none (the UTC default)."""
    r = rng.random()
    for p in spec_parts:
        if p["trigger"] in ("or", "and"):
            continue
        if r < 0.15 and rng.random() < 0.5:
            p["timezone"] = rng.choice(ZONES)
        elif r < 0.25 and rng.random() < 0.5:
            p.pop("timezone", None)


def gen_or_spec(rng, now_utc, tzname, depth=1):
    n = rng.choice([1, 2, 2, 2, 3, 3, 4, 5])
    parts = []
    for _ in range(n):
        if depth < 3 and rng.random() < 0.08:
            parts.append(gen_and_spec(rng, now_utc, tzname, depth + 1))
        elif depth < 3 and rng.random() < 0.05:
            parts.append(gen_or_spec(rng, now_utc, tzname, depth + 1))
        else:
            parts.append(gen_leaf(rng, now_utc, tzname))
    _zones_for(rng, tzname, parts)
    return {"trigger": "or", "triggers": parts}


def gen_and_spec(rng, now_utc, tzname, depth=1, at=None):
    """Parts that mostly share a time of day, so that they meet often (or, sometimes, never)."""
    tz = TZ_OBJ[tzname]
    h, m, s = at or _time_of(rng)
    local = now_utc.astimezone(tz)
    r = rng.random()
    parts = []
    if r < 0.3:
        # crons on one time of day, each narrowing the dates
        used = set()
        for _ in range(rng.choice([2, 2, 3])):
            parts.append(dict(_cron_at(h, m, s, _date_constraint(rng, used), rng.random() < 0.3), trigger="cron"))
    elif r < 0.45:
        # an hourly or daily cron and an interval on its grid
        if rng.random() < 0.5:
            parts.append({"trigger": "cron", "minute": m, "second": s})
            start = local.replace(minute=m, second=s, microsecond=0) - timedelta(hours=rng.randint(0, 30))
            parts.append({"trigger": "interval", "hours": rng.choice([1, 2, 3, 5, 7]), "start_date": wall_str(start)})
        else:
            parts.append(dict(_cron_at(h, m, s, _date_constraint(rng) if rng.random() < 0.3 else None), trigger="cron"))
            start = local.replace(hour=h, minute=m, second=s, microsecond=0) - timedelta(days=rng.randint(0, 20))
            parts.append({"trigger": "interval", "days": rng.choice([1, 2, 3, 7]), "start_date": wall_str(start)})
        rng.shuffle(parts)
    elif r < 0.57:
        # a calendar interval and a cron at its time: APScheduler's first answer for a calendar
        # interval is its start date whatever "now" is, so only a start date to come that the
        # cron also gives can ever be agreed on
        first = local.date() + timedelta(days=rng.randint(1, 40) if rng.random() < 0.85 else -rng.randint(1, 40))
        cal = {"trigger": "calendarinterval", "hour": h, "minute": m, "second": s, "start_date": first.isoformat()}
        cal[rng.choice(["days", "days", "weeks", "months"])] = rng.choice([1, 2, 3])
        constraint = {"day_of_week": "mon-fri"} if first.weekday() < 5 and rng.random() < 0.4 else {}
        parts = [cal, dict(_cron_at(h, m, s, constraint), trigger="cron")]
        rng.shuffle(parts)
    elif r < 0.63:
        # a date and a cron: the date's time when it matches and is to come, else no common time
        when = local.replace(hour=h, minute=m, second=s, microsecond=0) + timedelta(days=rng.randint(-2, 40))
        parts = [{"trigger": "date", "run_date": wall_str(when)},
                 dict(_cron_at(h, m, s, _date_constraint(rng) if rng.random() < 0.3 else None), trigger="cron")]
        rng.shuffle(parts)
    elif r < 0.73 and depth < 3:
        # an or of two times and a cron narrowing the dates at one of them
        h2 = (h + rng.randint(1, 12)) % 24
        inner = {"trigger": "or", "triggers": [dict(_cron_at(h, m, s), trigger="cron"), dict(_cron_at(h2, m, s), trigger="cron")]}
        for p in inner["triggers"]:
            p["timezone"] = tzname
        parts = [inner, dict(_cron_at(rng.choice([h, h2]), m, s, _date_constraint(rng)), trigger="cron")]
    elif r < 0.79:
        # two zones: one wall time each, meeting only while their offsets allow it
        other = rng.choice(ZONES)
        there = local.replace(hour=h, minute=m, second=s, microsecond=0).astimezone(TZ_OBJ[other])
        parts = [dict(_cron_at(h, m, s), trigger="cron"),
                 dict(_cron_at(there.hour, there.minute, there.second), trigger="cron", timezone=other)]
    elif r < 0.8:
        # never at the same time: refused once the search runs out
        parts = [dict(_cron_at(h, m, s), trigger="cron"), dict(_cron_at((h + 1) % 24, m, s), trigger="cron")]
    elif r < 0.9 and depth < 3:
        inner = gen_and_spec(rng, now_utc, tzname, depth + 1, (h, m, s))
        used = {a for p in inner["triggers"] for a in DATE_AXES if a in p}
        parts = [inner, dict(_cron_at(h, m, s, _date_constraint(rng, used)), trigger="cron")]
    else:
        # a sparse cron and a dense one (hourly, every 15 minutes, every second)
        dense = rng.choice([{"minute": "*/15", "second": s}, {"minute": m, "second": s}, {"second": "*"}])
        hm = m - m % 15 if dense.get("minute") == "*/15" else m
        parts = [dict(_cron_at(h, hm, s, _date_constraint(rng)), trigger="cron"), dict(dense, trigger="cron")]
    for p in parts:
        if p["trigger"] not in ("or", "and"):
            p.setdefault("timezone", tzname)
    if rng.random() < 0.1:
        # parts without a zone of their own take the default (UTC)
        for p in parts:
            if p["trigger"] not in ("or", "and") and p["timezone"] == tzname and rng.random() < 0.5:
                del p["timezone"]
    return {"trigger": "and", "triggers": parts}


def _add_jitter(rng, spec, top=True):
    """Jitter on the combined trigger and, outside and triggers, on parts."""
    if top or rng.random() < 0.5:
        if spec["trigger"] != "date" and rng.random() < (0.8 if top else 0.4):
            spec["jitter"] = rng.choice([1, 5, 30, 60, 300, 3600])
    if spec["trigger"] == "or":
        for p in spec["triggers"]:
            _add_jitter(rng, p, top=False)


def gen_new_random_cases(rng, n_each):
    cases = []
    counts = {"calendarinterval": 0, "or": 0, "and": 0}

    def add(cid, spec, now_us, uniform=None):
        c = run_new_case(cid, spec, now_us, uniform)
        if c is not None:
            cases.append(c)
            counts[spec["trigger"]] += 1

    i = 0
    while min(counts.values()) < n_each:
        tzname = rng.choice(ZONES)
        now_us = rand_now_us(rng)
        if now_us > us_of(2090, 1, 1):
            now_us -= rng.randint(20, 60) * 365 * 86400 * 1_000_000
        now_utc = from_us(now_us)
        for kind in ("calendarinterval", "or", "and"):
            if counts[kind] >= n_each:
                continue
            if kind == "calendarinterval":
                spec = dict(gen_calendar_fields(rng, now_utc, tzname), trigger="calendarinterval")
            elif kind == "or":
                spec = gen_or_spec(rng, now_utc, tzname)
            else:
                spec = gen_and_spec(rng, now_utc, tzname)
            uniform = None
            if rng.random() < 0.25 and not (kind == "and" and "interval" in json.dumps(spec)):
                # (an and trigger's jitter moves its next search off an interval's grid)
                _add_jitter(rng, spec)
                uniform = rng.choice(UNIFORMS) if "jitter" in json.dumps(spec) else None
            add(f"rand-{kind}-{i:05d}", spec, now_us, uniform)
            i += 1
    return cases


def gen_new_dst_cases(rng):
    """Every transition of 2025-2027 in every zone of the suite: each new trigger at wall times
    inside the gap or fold, around it."""
    cases = []
    day = 86400 * 1_000_000
    hour = 3600 * 1_000_000
    for zone, T in transitions_2025_2027():
        tz = TZ_OBJ[zone]
        before = from_us(T - 1_000_000).astimezone(tz)
        after = from_us(T).astimezone(tz)
        delta = after.utcoffset() - before.utcoffset()
        if delta > timedelta(0):
            inner = (before + timedelta(seconds=1) + delta / 2).replace(tzinfo=None)
        else:
            inner = (after - delta / 2).replace(tzinfo=None)
        short = zone.split("/")[-1].lower()
        tag = f"dst-{short}-{after.year}-{T // 1_000_000}"
        edge = (before + timedelta(seconds=1)).replace(tzinfo=None)
        times = [(inner.hour, inner.minute, inner.second), (edge.hour, edge.minute, 0),
                 (after.hour, after.minute, 0)]
        for k, (h, m, s) in enumerate(times):
            start = (inner - timedelta(days=rng.randint(0, 3))).date()
            unit = rng.choice([("days", 1), ("days", 1), ("weeks", 1), ("months", 1), ("years", 1)])
            cal = {"trigger": "calendarinterval", unit[0]: unit[1], "hour": h, "minute": m, "second": s,
                   "start_date": start.isoformat(), "timezone": zone}
            if k == 2 and rng.random() < 0.5:
                cal["jitter"] = rng.choice([30, 3600, 7200])
            cases.append(run_new_case(f"{tag}-cal-{k}", cal, T - 5 * day,
                                      rng.choice(UNIFORMS) if "jitter" in cal else None))
            cron = {"trigger": "cron", "hour": h, "minute": m, "second": s, "timezone": zone}
            hourly = {"trigger": "cron", "minute": m, "second": s, "timezone": zone}
            ivl = {"trigger": "interval", "hours": 1, "timezone": zone,
                   "start_date": wall_str(from_us(T - 5 * hour).astimezone(tz).replace(minute=m, second=s))}
            cal_part = {k2: v for k2, v in cal.items() if k2 != "jitter"}
            or_spec = {"trigger": "or", "triggers": rng.sample([cron, hourly, ivl, cal_part], rng.randint(2, 3))}
            if rng.random() < 0.4:
                or_spec["jitter"] = rng.choice([1, 60, 3600])
            cases.append(run_new_case(f"{tag}-or-{k}", or_spec, T - 2 * day - rng.randint(0, 6) * hour,
                                      rng.choice(UNIFORMS) if "jitter" in or_spec else None))
            and_parts = rng.choice([[cron, dict(cal_part, days=1, start_date=(inner - timedelta(days=3)).date().isoformat())],
                                    [hourly, cron], [cron, hourly, ivl], [hourly, ivl],
                                    [cron, {"trigger": "cron", "hour": h, "minute": m, "second": s, "day": "1-31", "timezone": zone}]])
            and_parts = [{k2: v for k2, v in p.items() if k2 not in ("months", "weeks", "years") or p["trigger"] != "calendarinterval"}
                         if p["trigger"] == "calendarinterval" else p for p in and_parts]
            and_spec = {"trigger": "and", "triggers": and_parts}
            cases.append(run_new_case(f"{tag}-and-{k}", and_spec, T - 2 * day - rng.randint(0, 30) * hour))
    return [c for c in cases if c is not None]


def gen_new_edge_cases():
    """Hand-picked: the examples of the issue, nesting, zones, refusals and lax input."""
    cases = []
    now = us_of(2026, 1, 15, 10)

    def add(label, spec, now_us=now, uniform=None, expect_ok=None):
        c = run_new_case(f"{label}-{len(cases):04d}", spec, now_us, uniform)
        if c is None:
            raise SystemExit(f"oracle: edge case {label} too slow")
        if expect_ok is not None and c["expect"]["ok"] != expect_ok:
            raise SystemExit(f"oracle bug: {c['id']} {spec!r}: {c['expect']}")
        cases.append(c)

    cron9 = {"trigger": "cron", "hour": "9", "timezone": "UTC"}
    ivl10 = {"trigger": "interval", "seconds": 10, "timezone": "UTC"}
    add("edge-or", {"trigger": "or", "triggers": [cron9, ivl10], "jitter": 5}, uniform=0.5)
    add("edge-or", {"trigger": "or", "triggers": [cron9, ivl10]})
    add("edge-or", {"trigger": "or", "triggers": [{"trigger": "date", "run_date": "2026-01-20 08:00:00+08:00"},
                                                  {"trigger": "date", "run_date": "2026-01-19"}]})
    add("edge-or", {"trigger": "or", "triggers": [{"trigger": "cron", "hour": 9, "timezone": "America/New_York"},
                                                  {"trigger": "cron", "hour": 9, "timezone": "Asia/Tokyo"}]})
    add("edge-or", {"trigger": "or", "triggers": [{"trigger": "cron", "hour": 9}, {"trigger": "cron", "hour": 9, "timezone": "Asia/Tokyo"}]})
    add("edge-and", {"trigger": "and", "triggers": [{"trigger": "cron", "day": 13, "hour": 9, "timezone": "Europe/Berlin"},
                                                    {"trigger": "cron", "day_of_week": "fri", "hour": 9, "timezone": "Europe/Berlin"}]})
    add("edge-and", {"trigger": "and", "triggers": [{"trigger": "cron", "month": 2, "day": 29, "hour": 9},
                                                    {"trigger": "cron", "day_of_week": "mon", "hour": 9}], "jitter": 60}, uniform=0.25)
    add("edge-and", {"trigger": "and", "triggers": [cron9, {"trigger": "cron", "hour": "10", "timezone": "UTC"}]}, expect_ok=False)
    add("edge-and", {"trigger": "and", "triggers": [cron9, {"trigger": "date", "run_date": "2026-01-01 09:00:00", "timezone": "UTC"}]}, expect_ok=False)
    add("edge-and", {"trigger": "and", "triggers": [cron9, {"trigger": "date", "run_date": "2026-02-01 09:00:00", "timezone": "UTC"}]}, expect_ok=True)
    add("edge-and", {"trigger": "and", "triggers": [{"trigger": "cron", "day": 31, "month": 2}, cron9]})
    add("edge-and", {"trigger": "and", "triggers": [{"trigger": "cron", "day": "31", "timezone": "UTC"},
                                                    {"trigger": "cron", "month": "2", "timezone": "UTC"}]}, expect_ok=False)
    add("edge-and", {"trigger": "or", "triggers": [ivl10, {"trigger": "and", "triggers": [cron9, {"trigger": "cron", "hour": "10"}]}]}, expect_ok=False)
    add("edge-and", {"trigger": "and", "triggers": [{"trigger": "or", "triggers": [{"trigger": "and", "triggers": [cron9]}]}]})
    add("edge-and", {"trigger": "and", "triggers": [{"trigger": "calendarinterval", "months": 1, "hour": 9, "start_date": "2026-01-31"},
                                                    {"trigger": "cron", "day": "last", "hour": 9}]})
    for i, start in enumerate(["2026-01-31", "2024-02-29", "2026-03-08", "2026-11-01", "2025-12-31"]):
        for tzn in ("Asia/Shanghai", "America/New_York", "UTC", "Etc/GMT+5", "Europe/Dublin"):
            add("edge-cal", {"trigger": "calendarinterval", "months": 1 + i % 2, "years": i // 3, "hour": 2, "minute": 30,
                             "start_date": start, "timezone": tzn})
    add("edge-cal", {"trigger": "calendarinterval", "days": 1, "timezone": "Asia/Shanghai"})
    add("edge-cal", {"trigger": "calendarinterval", "weeks": 1, "hour": 23, "minute": 59, "second": 59, "start_date": "2026-01-31",
                     "end_date": "2026-03-01", "timezone": "UTC", "jitter": 3600}, uniform=0.5)
    add("edge-cal", {"trigger": "calendarinterval", "years": 100, "start_date": "9800-02-29", "timezone": "UTC"})
    add("edge-cal", {"trigger": "calendarinterval", "days": 1, "start_date": "2011-12-29", "hour": 10, "timezone": "Pacific/Apia"},
        now_us=us_of(2011, 12, 1))
    return cases


def gen_new_bad_and_lax_cases():
    cases = []
    now = us_of(2026, 6, 1, 12)
    i = 0

    def add(prefix, spec, accepted):
        nonlocal i
        c = run_new_case(f"{prefix}-new-{i:04d}", spec, now)
        i += 1
        if c is None or c["expect"]["ok"] != accepted:
            raise SystemExit(f"oracle bug: {prefix} case {spec!r} gave {c and c['expect']}")
        cases.append(c)

    cal = {"trigger": "calendarinterval", "timezone": "UTC"}
    for f in ({}, {"days": 0}, {"days": 1, "hour": 24}, {"days": 1, "minute": 60}, {"days": 1, "second": 60},
              {"days": 1, "hour": "9"}, {"months": "1"}, {"days": 1, "start_date": "2026-02-30"},
              {"days": 1, "start_date": "2026-1-31"}, {"days": 1, "start_date": "2026-01-31 10:00:00"},
              {"days": 1, "start_date": "2026-01-02", "end_date": "2026-01-01"}, {"days": 1, "start_date": "0000-01-01"},
              {"days": 1, "start_date": "2025-W53-1"}, {"days": 1, "timezone": "Mars/Olympus"}, {"days": 1, "hours": 1},
              {"days": 1, "run_date": "2026-01-01"}, {"days": 1, "end_date": "not a date"}, {"days": 1, "minute": 1.5}):
        add("bad", dict(cal, **f), False)
    part = {"trigger": "cron", "hour": "9", "timezone": "UTC"}
    for spec in ({"trigger": "or", "triggers": [part], "timezone": "UTC"},
                 {"trigger": "and", "triggers": [part], "start_date": "2026-01-01"},
                 {"trigger": "or", "triggers": [{"trigger": "cron", "hour": "25"}]},
                 {"trigger": "and", "triggers": [{"trigger": "nope"}]},
                 {"trigger": "or", "triggers": [part, {"trigger": "interval", "hour": 1}]}):
        add("bad", spec, False)
    # APScheduler accepts these; funboost-edge refuses them on purpose
    for f in ({"days": -1, "months": 1}, {"years": -1}, {"months": 1201}, {"years": 101}, {"days": 36601},
              {"days": 1, "start_date": "20260131xx"}, {"days": 1, "start_date": "2026W053xx"}):
        add("lax", dict(cal, **f), True)
    deep = part
    for _ in range(4):
        deep = {"trigger": "or", "triggers": [deep]}
    for spec in ({"trigger": "or", "triggers": []},
                 {"trigger": "or", "triggers": [part] * 17},
                 deep,
                 {"trigger": "and", "triggers": [dict(part, jitter=5), part]},
                 {"trigger": "and", "triggers": [{"trigger": "or", "triggers": [dict(part, jitter=5)]}, part]}):
        add("lax", spec, True)
    return cases


# --------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=20261128)
    ap.add_argument("--random", type=int, default=6000)
    ap.add_argument("--combined", type=int, default=1000,
                    help="random cases of each of calendarinterval, or and and")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    t0 = time.monotonic()
    rng = random.Random(args.seed)
    cases = []
    cases += gen_edge_cases()
    cases += gen_dst_cases()
    cases += gen_lax_cases()
    cases += gen_bad_cases()
    cases += gen_random_cases(rng, args.random)
    # calendarinterval, or, and: their own random stream, so the cases above stay as they are
    rng_new = random.Random(f"{args.seed}-issue-24")
    cases += gen_new_edge_cases()
    cases += gen_new_bad_and_lax_cases()
    cases += gen_new_dst_cases(rng_new)
    cases += gen_new_random_cases(rng_new, args.combined)

    ids = set()
    for c in cases:
        if c["id"] in ids:
            raise SystemExit(f"duplicate id {c['id']}")
        ids.add(c["id"])

    with open(args.out, "w", encoding="utf-8") as fh:
        for c in cases:
            fh.write(json.dumps(c, ensure_ascii=False, separators=(",", ":")) + "\n")

    dt = time.monotonic() - t0
    parts = []
    for kind in ("cron", "interval", "date", "calendarinterval", "or", "and", "other"):
        s = STATS.get(kind, {"ok": 0, "rejected": 0, "next_error": 0})
        parts.append(f"{kind}: ok={s['ok']} rejected={s['rejected']}")
    nexterr = sum(s["next_error"] for s in STATS.values())
    print(f"oracle: {len(cases)} cases (seed={args.seed}, random={args.random}) | "
          + " | ".join(parts) + f" | next_errors={nexterr} | {dt:.1f}s", file=sys.stderr)
    for cid, err in NEXT_ERRORS[:20]:
        print(f"  next-error {cid}: {err}", file=sys.stderr)


if __name__ == "__main__":
    main()
