#!/usr/bin/env python3
"""Differential-test oracle: expectations computed by APScheduler 3.11.3 itself.

Usage:
    python tests/differential/oracle.py --seed 20261128 --random 6000 --out /tmp/cases.jsonl

Writes one JSON object per line, in the format described in CONTRACT.md (same directory).
Deterministic for a given seed: "now" is always the case's now_us (datetime.now is patched in
apscheduler.triggers.interval / apscheduler.triggers.date), and tzlocal's local zone (only used by
APScheduler when timezone == "", cases prefixed "lax-") is pinned to Etc/UTC.

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


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=20261128)
    ap.add_argument("--random", type=int, default=6000)
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
    for kind in ("cron", "interval", "date", "other"):
        s = STATS.get(kind, {"ok": 0, "rejected": 0, "next_error": 0})
        parts.append(f"{kind}: ok={s['ok']} rejected={s['rejected']}")
    nexterr = sum(s["next_error"] for s in STATS.values())
    print(f"oracle: {len(cases)} cases (seed={args.seed}, random={args.random}) | "
          + " | ".join(parts) + f" | next_errors={nexterr} | {dt:.1f}s", file=sys.stderr)
    for cid, err in NEXT_ERRORS[:20]:
        print(f"  next-error {cid}: {err}", file=sys.stderr)


if __name__ == "__main__":
    main()
