"""APScheduler triggers, and the values APScheduler accepts for them, as funboost-edge's JSON.

`trigger_request(trigger, trigger_args)` takes what `add_job` / `reschedule_job` take: a trigger
name (`date`, `interval`, `cron`, `calendarinterval`, `and`, `or`) with its keyword arguments,
or an APScheduler trigger object (`DateTrigger`, `IntervalTrigger`, `CronTrigger`, also from
`CronTrigger.from_crontab`, `CalendarIntervalTrigger`, `OrTrigger`, `AndTrigger`), and returns
the trigger fields of an add/reschedule request. Dates may be strings (APScheduler's format,
sent as they are), naive or aware `datetime`s, or `date`s, read as APScheduler reads them:

- a naive value is wall time in the trigger's zone (the app localizes it, as APScheduler does);
- an aware value in the trigger's own zone is sent as wall time (APScheduler then compares it by
  wall time, and so does the app); in another zone, with its UTC offset (an instant);
- a `date` run_date is its midnight, as APScheduler's `convert_to_datetime`.

Trigger objects are recognised by class name (no APScheduler import is needed here), so
subclasses convert as their base. Nothing is sent for what funboost-edge cannot express: such
values raise `EdgeUnsupported` (a sub-second interval, a fractional jitter, a time zone without
an IANA name).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

from .errors import EdgeUnsupported

__all__ = ["trigger_request", "zone_name", "TRIGGER_ARGS"]

#: The keyword arguments of each trigger's constructor (APScheduler 3.11), by trigger name.
TRIGGER_ARGS: Dict[str, Tuple[str, ...]] = {
    "date": ("run_date", "timezone"),
    "interval": ("weeks", "days", "hours", "minutes", "seconds", "start_date", "end_date", "timezone", "jitter"),
    "cron": ("year", "month", "day", "week", "day_of_week", "hour", "minute", "second", "start_date", "end_date", "timezone", "jitter"),
    "calendarinterval": ("years", "months", "weeks", "days", "hour", "minute", "second", "start_date", "end_date", "timezone", "jitter"),
    "and": ("triggers", "jitter"),
    "or": ("triggers", "jitter"),
}

_CLASS_NAMES = {
    "date": "DateTrigger",
    "interval": "IntervalTrigger",
    "cron": "CronTrigger",
    "calendarinterval": "CalendarIntervalTrigger",
    "and": "AndTrigger",
    "or": "OrTrigger",
}

CRON_FIELDS = ("year", "month", "day", "week", "day_of_week", "hour", "minute", "second")
INTERVAL_UNITS = ("weeks", "days", "hours", "minutes", "seconds")

#: Returns the app's default time zone name (asked lazily), for "is this the trigger's zone?".
DefaultZone = Callable[[], Optional[str]]


def _no_default_zone() -> Optional[str]:
    return None


# ---------------------------------------------------------------------------------------------
# Time zones and dates


def zone_name(tz: dt.tzinfo) -> str:
    """The IANA name (or `UTC`) the app takes for a tzinfo: a `zoneinfo.ZoneInfo`'s key, a pytz
    zone's name, `UTC` for `timezone.utc`, `Etc/GMT∓h` for a whole-hour fixed offset."""
    if tz is dt.timezone.utc:
        return "UTC"
    key = getattr(tz, "key", None) or getattr(tz, "zone", None)
    if isinstance(key, str) and key:
        return key
    if isinstance(tz, dt.timezone):
        offset = tz.utcoffset(None)
        seconds = int(offset.total_seconds())
        if seconds == 0:
            return "UTC"
        if seconds % 3600 == 0 and abs(seconds) <= 14 * 3600:
            # IANA's fixed-offset zones have the sign inverted: UTC+05:00 is Etc/GMT-5.
            return f"Etc/GMT{-seconds // 3600:+d}"
    raise EdgeUnsupported("timezone", f"{tz!r} has no IANA name; give the zone by name (e.g. 'Asia/Shanghai') or as zoneinfo.ZoneInfo")


def _zone_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dt.tzinfo):
        return zone_name(value)
    raise TypeError(f"Expected tzinfo, got {value.__class__.__name__} instead")


def _wall(value: dt.datetime) -> str:
    """`YYYY-MM-DD HH:MM:SS[.ffffff]`, the wall time (Python's `str()` without an offset)."""
    text = value.strftime("%Y-%m-%d %H:%M:%S")
    if value.year < 1000:
        text = f"{value.year:04d}" + text[text.index("-"):]
    if value.microsecond:
        text += f".{value.microsecond:06d}"
    return text


def _with_offset(value: dt.datetime, field: str) -> str:
    """The wall time and its UTC offset (`Z` for `timezone.utc`): one fixed instant."""
    offset = value.utcoffset()
    assert offset is not None
    seconds = int(offset.total_seconds())
    if seconds == 0 and value.tzinfo is dt.timezone.utc:
        return _wall(value) + "Z"
    if seconds % 60 or offset.microseconds:
        raise EdgeUnsupported(field, f"{value} has a UTC offset of {offset}, not whole minutes")
    sign = "+" if seconds >= 0 else "-"
    seconds = abs(seconds)
    return f"{_wall(value)}{sign}{seconds // 3600:02d}:{seconds // 60 % 60:02d}"


def _ambiguous_or_missing(value: dt.datetime) -> bool:
    """A wall time that does not name its instant by itself: the second of a repeated hour
    (fold=1), or a time skipped by a DST change."""
    if value.replace(fold=1 - value.fold).utcoffset() != value.utcoffset() and value.fold:
        return True
    back = value.astimezone(dt.timezone.utc).astimezone(value.tzinfo)
    return back.replace(tzinfo=None) != value.replace(tzinfo=None)


def _zone_key(tz: Optional[dt.tzinfo]) -> Optional[str]:
    """The name of a named zone (a `ZoneInfo`, a pytz zone, `timezone.utc`); None for fixed
    offsets and anything else, which dates then carry as their UTC offset."""
    if tz is None:
        return None
    if tz is dt.timezone.utc:
        return "UTC"
    key = getattr(tz, "key", None) or getattr(tz, "zone", None)
    return key if isinstance(key, str) and key else None


def date_value(value: Any, field: str, trigger_zone: Optional[str] = None) -> str:
    """A date or datetime as the app reads it like APScheduler (`convert_to_datetime`): strings
    as they are, naive values as wall time in the trigger's zone, aware values in the trigger's
    own zone (`trigger_zone`, an IANA name) as wall time, other aware values with their offset,
    a `date` as its midnight."""
    if isinstance(value, str):
        return value
    if isinstance(value, dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            return _wall(value)
        if trigger_zone is not None and _zone_key(value.tzinfo) == trigger_zone and not _ambiguous_or_missing(value):
            return _wall(value)
        return _with_offset(value, field)
    if isinstance(value, dt.date):
        return value.strftime("%Y-%m-%d")
    raise TypeError(f"Unsupported type for {field}: {value.__class__.__name__}")


def _calendar_date(value: Any, field: str) -> Optional[str]:
    """APScheduler's `asdate`: a date, a datetime (its date) or an ISO date string."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"Unsupported type for {field}: {value.__class__.__name__}")


def _jitter(value: Any) -> Optional[int]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"jitter must be a number of seconds, got {value.__class__.__name__}")
    if float(value) != int(value):
        raise EdgeUnsupported("jitter", f"{value} s is not a whole number of seconds (funboost-edge takes whole seconds, 0 to 86400)")
    return int(value)


# ---------------------------------------------------------------------------------------------
# Triggers by name


def _unexpected(name: str, key: str) -> TypeError:
    return TypeError(f"{_CLASS_NAMES[name]}.__init__() got an unexpected keyword argument '{key}'")


def _interval_units(values: Mapping[str, Any]) -> Dict[str, int]:
    """The interval's units as the app takes them (whole numbers); floats are allowed when the
    whole interval is a whole number of seconds, as `timedelta(**units)` sums them."""
    given = {unit: values[unit] for unit in INTERVAL_UNITS if values.get(unit) is not None}
    for unit, number in given.items():
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            raise TypeError(f"unsupported type for timedelta {unit} component: {number.__class__.__name__}")
    if all(isinstance(number, int) for number in given.values()):
        return {unit: int(number) for unit, number in given.items() if number != 0}
    total = dt.timedelta(**{unit: float(number) for unit, number in given.items()})
    if total.microseconds:
        raise EdgeUnsupported("seconds", f"interval {total} is not a whole number of seconds (funboost-edge takes whole seconds)")
    out: Dict[str, int] = {}
    if total.days:
        out["days"] = total.days
    if total.seconds:
        out["seconds"] = total.seconds
    return out


def _by_name(name: str, args: Mapping[str, Any], default_zone: DefaultZone) -> Dict[str, Any]:
    allowed = TRIGGER_ARGS[name]
    for key in args:
        if key not in allowed:
            raise _unexpected(name, key)
    values = {k: v for k, v in args.items() if v is not None}
    body: Dict[str, Any] = {"trigger": name}
    if name in ("and", "or"):
        triggers = values.get("triggers")
        if triggers is None:
            raise TypeError(f"{_CLASS_NAMES[name]}.__init__() missing 1 required positional argument: 'triggers'")
        body["triggers"] = [_object(t, default_zone) for t in triggers]
        jitter = _jitter(values.get("jitter"))
        if jitter:
            body["jitter"] = jitter
        return body

    zone: Optional[str] = None
    if "timezone" in values:
        zone = _zone_text(values["timezone"])
        body["timezone"] = zone

    def trigger_zone() -> Optional[str]:
        return zone if zone is not None else default_zone()

    if name == "date":
        run_date = values.get("run_date")
        if run_date is not None:
            if isinstance(run_date, dt.datetime) and run_date.tzinfo is not None and run_date.utcoffset() is not None:
                # An aware run_date keeps its own zone (APScheduler ignores `timezone` then).
                own = _zone_key(run_date.tzinfo)
                if own is not None and not _ambiguous_or_missing(run_date):
                    body["run_date"] = _wall(run_date)
                    body["timezone"] = own
                else:
                    body["run_date"] = _with_offset(run_date, "run_date")
            else:
                body["run_date"] = date_value(run_date, "run_date")
        return body

    if name == "interval":
        body.update(_interval_units(values))
    elif name == "cron":
        for field in CRON_FIELDS:
            if field in values:
                value = values[field]
                body[field] = value if (isinstance(value, int) and not isinstance(value, bool) and value >= 0) or isinstance(value, str) else str(value)
    else:  # calendarinterval
        for unit in ("years", "months", "weeks", "days", "hour", "minute", "second"):
            if unit in values:
                value = values[unit]
                if isinstance(value, bool) or not isinstance(value, int):
                    raise TypeError(f"{unit} must be an integer, got {value.__class__.__name__}")
                if value or unit in ("hour", "minute", "second"):
                    body[unit] = value
        for bound in ("start_date", "end_date"):
            text = _calendar_date(values.get(bound), bound)
            if text is not None:
                body[bound] = text
        jitter = _jitter(values.get("jitter"))
        if jitter:
            body["jitter"] = jitter
        return body

    needs_zone = any(isinstance(values.get(b), dt.datetime) and values[b].tzinfo is not None for b in ("start_date", "end_date"))
    known_zone = trigger_zone() if needs_zone else None
    for bound in ("start_date", "end_date"):
        if bound in values:
            body[bound] = date_value(values[bound], bound, known_zone)
    jitter = _jitter(values.get("jitter"))
    if jitter:
        body["jitter"] = jitter
    return body


# ---------------------------------------------------------------------------------------------
# Trigger objects


def _kind_of(trigger: Any) -> Optional[str]:
    """The trigger name of an APScheduler trigger object (or of a subclass), by class name."""
    for cls in type(trigger).__mro__:
        if cls.__module__.startswith("apscheduler."):
            for name, class_name in _CLASS_NAMES.items():
                if cls.__name__ == class_name:
                    return name
    return None


def _bound(value: Optional[dt.datetime], tz: dt.tzinfo) -> Optional[str]:
    """A start/end date of a trigger object: wall time when it carries the trigger's own zone
    (APScheduler compares it by wall time, and so does the app), else with its UTC offset."""
    if value is None:
        return None
    if value.tzinfo is tz and not _ambiguous_or_missing(value):
        return _wall(value)
    return _with_offset(value, "start_date")


def _object(trigger: Any, default_zone: DefaultZone = _no_default_zone) -> Dict[str, Any]:
    kind = _kind_of(trigger)
    if kind is None:
        raise EdgeUnsupported(
            "trigger",
            f"{type(trigger).__module__}.{type(trigger).__qualname__} ({trigger}) is not one of APScheduler's triggers "
            "(date, interval, cron, calendarinterval, and, or)",
        )
    body: Dict[str, Any] = {"trigger": kind}
    if kind in ("and", "or"):
        body["triggers"] = [_object(t, default_zone) for t in trigger.triggers]
        jitter = _jitter(trigger.jitter)
        if jitter:
            body["jitter"] = jitter
        return body
    if kind == "date":
        run_date: dt.datetime = trigger.run_date
        own = _zone_key(run_date.tzinfo)
        if own is not None and not _ambiguous_or_missing(run_date):
            body["run_date"] = _wall(run_date)
            body["timezone"] = own
        else:
            body["run_date"] = _with_offset(run_date, "run_date")
        return body
    tz: dt.tzinfo = trigger.timezone
    body["timezone"] = zone_name(tz)
    if kind == "interval":
        interval: dt.timedelta = trigger.interval
        if interval.microseconds:
            raise EdgeUnsupported("seconds", f"interval {interval} is not a whole number of seconds (funboost-edge takes whole seconds)")
        units = {"days": interval.days, "hours": interval.seconds // 3600, "minutes": interval.seconds // 60 % 60, "seconds": interval.seconds % 60}
        body.update({unit: n for unit, n in units.items() if n})
        body["start_date"] = _bound(trigger.start_date, tz)
    elif kind == "cron":
        for field in trigger.fields:
            if not field.is_default:
                body[field.name] = str(field)
        start = _bound(trigger.start_date, tz)
        if start is not None:
            body["start_date"] = start
    else:  # calendarinterval
        for unit in ("years", "months", "weeks", "days"):
            value = getattr(trigger, unit)
            if value:
                body[unit] = value
        time_of_day: dt.time = trigger._time
        body.update({"hour": time_of_day.hour, "minute": time_of_day.minute, "second": time_of_day.second})
        body["start_date"] = trigger.start_date.isoformat()
        if trigger.end_date is not None:
            body["end_date"] = trigger.end_date.isoformat()
        jitter = _jitter(trigger.jitter)
        if jitter:
            body["jitter"] = jitter
        return body
    end = _bound(trigger.end_date, tz)
    if end is not None:
        body["end_date"] = end
    jitter = _jitter(trigger.jitter)
    if jitter:
        body["jitter"] = jitter
    return body


def trigger_request(trigger: Any, trigger_args: Optional[Mapping[str, Any]] = None, default_zone: DefaultZone = _no_default_zone) -> Dict[str, Any]:
    """The trigger fields of an add/reschedule request for `add_job(trigger, **trigger_args)`.

    `trigger` is `None` (APScheduler's `date`), a trigger name, or a trigger object (then
    `trigger_args` are ignored, as APScheduler ignores them).
    `default_zone` returns the app's default zone (only asked for when an aware start/end date
    is given without a `timezone`). Raises what APScheduler raises for an unknown name
    (`LookupError`) or argument (`TypeError`), and `EdgeUnsupported` for what the app cannot
    express."""
    args = dict(trigger_args or {})
    if trigger is None:
        trigger = "date"
    if isinstance(trigger, str):
        if trigger not in TRIGGER_ARGS:
            raise LookupError(f'No trigger by the name "{trigger}" was found')
        return _by_name(trigger, args, default_zone)
    if _kind_of(trigger) is None and not hasattr(trigger, "get_next_fire_time"):
        raise TypeError(f"Expected a trigger instance or string, got {trigger.__class__.__name__} instead")
    # APScheduler ignores trigger arguments given with a trigger object; so does this.
    return _object(trigger, default_zone)

