"""Job files: a set of timing jobs written by hand (TOML, YAML or JSON), as `funboost-edge apply`
reads them and `funboost-edge export` writes them.

A file is a table with two keys: `queue_name`, the queue of every job that names none (and the
queue the file manages: `--prune` deletes only that queue's jobs), and `jobs`, the list of
jobs, each in the fields of the app's add request (`job_id` is required; `trigger` and its
fields, `args`, `kwargs`, `misfire_grace_time`, `coalesce`, `paused`, task options, ...):

    queue_name = "orders"

    [[jobs]]
    job_id = "weekday_morning"
    trigger = "cron"
    day_of_week = "mon-fri"
    hour = 9
    kwargs = { x = 1, y = 2 }

What the readers give that JSON has not is turned into what the app takes: TOML and YAML dates
and date-times in `run_date`, `start_date`, `end_date` and `next_run_time` become the app's
date strings, and `misfire_grace_time = "none"` is JSON's null (no limit), which TOML cannot
write. Anything else that is not JSON (a date inside `kwargs`, a YAML key that is not a
string, NaN) is refused with the job and the field named.

TOML is read with Python 3.11's `tomllib` (`tomli` before 3.11: `pip install
'funboost-edge[toml]'`), YAML with PyYAML (`pip install 'funboost-edge[yaml]'`); written
without either for TOML and JSON.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import math
import re
import sys
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Type

__all__ = [
    "FORMATS",
    "JobFileError",
    "JobSet",
    "dump",
    "format_of",
    "load",
    "parse",
]

#: The formats, by name; `format_of` maps file extensions onto them.
FORMATS = ("toml", "yaml", "json")
EXTENSIONS = {".toml": "toml", ".yaml": "yaml", ".yml": "yaml", ".json": "json"}

#: The top-level keys of a job file.
TOP_LEVEL = ("queue_name", "jobs")

#: Trigger fields that take dates (TOML and YAML may give them as dates or date-times).
DATE_FIELDS = ("run_date", "start_date", "end_date", "next_run_time")

#: A job's fields in the order a written file shows them: identity, trigger, arguments, options.
FIELD_ORDER = (
    "job_id",
    "queue_name",
    "trigger",
    "run_date",
    "years",
    "months",
    "weeks",
    "days",
    "hours",
    "minutes",
    "seconds",
    "year",
    "month",
    "day",
    "week",
    "day_of_week",
    "hour",
    "minute",
    "second",
    "start_date",
    "end_date",
    "timezone",
    "jitter",
    "triggers",
    "args",
    "kwargs",
    "misfire_grace_time",
    "coalesce",
    "broker_kind",
    "priority",
    "function_timeout",
    "max_retry_times",
    "is_print_detail_exception",
    "msg_expire_seconds",
    "is_using_rpc_mode",
    "user_extra_info",
    "other_extra_params",
    "filter_str",
    "do_task_filtering",
    "paused",
)

INSTALL_TOML = "pip install 'funboost-edge[toml]'"
INSTALL_YAML = "pip install 'funboost-edge[yaml]'"


class JobFileError(Exception):
    """A job file that cannot be read or written, with what is wrong and where."""


# ---------------------------------------------------------------------------------------------
# The optional readers


def _toml_reader() -> Tuple[Callable[[str], Any], Type[BaseException]]:
    """`loads` and the decode error of tomllib (3.11+) or tomli."""
    for name in ("tomllib", "tomli"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        return module.loads, module.TOMLDecodeError
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    raise JobFileError(f"reading TOML on Python {version} needs the tomli package: {INSTALL_TOML} (Python 3.11 and later read TOML by themselves)")


def _yaml_module() -> Any:
    try:
        return importlib.import_module("yaml")
    except ImportError:
        raise JobFileError(f"YAML needs the PyYAML package: {INSTALL_YAML}") from None


def format_of(path: str, given: Optional[str]) -> str:
    """The file's format: `given` (`--format`), else by extension (`.toml`, `.yaml`/`.yml`,
    `.json`). `-` (stdin/stdout) needs `given`."""
    if given:
        if given not in FORMATS:
            raise JobFileError(f"unknown format {given!r} (expected one of {', '.join(FORMATS)})")
        return given
    if path == "-":
        raise JobFileError("reading stdin (or writing stdout) needs --format toml, yaml or json")
    lowered = path.lower()
    for extension, name in EXTENSIONS.items():
        if lowered.endswith(extension):
            return name
    raise JobFileError(f"{path}: cannot tell the format from the name (.toml, .yaml, .yml or .json); give --format")


# ---------------------------------------------------------------------------------------------
# Reading


class JobSet:
    """A job file as read: its `queue_name` (None when it names none) and its `jobs`, each a
    dict of the add request's fields in JSON values, in the file's order."""

    def __init__(self, source: str, queue_name: Optional[str], jobs: List[Dict[str, Any]]) -> None:
        self.source = source
        self.queue_name = queue_name
        self.jobs = jobs

    def describe(self, k: int) -> str:
        """Which job `jobs[k]` is, for a message: its id, its queue, its place in the file."""
        if not 0 <= k < len(self.jobs):
            return f"jobs[{k}]"
        job = self.jobs[k]
        parts = [f"jobs[{k}] of {self.source}"]
        if isinstance(job.get("job_id"), str):
            parts.append(f"job_id {job['job_id']!r}")
        if isinstance(job.get("queue_name"), str):
            parts.append(f"queue {job['queue_name']}")
        return ", ".join(parts)

    def with_default_queue(self, queue_name: Optional[str]) -> List[Dict[str, Any]]:
        """The jobs, each with `queue_name` (the default's when it names none)."""
        default = queue_name or self.queue_name
        out = []
        for job in self.jobs:
            job = dict(job)
            if default is not None and job.get("queue_name") is None:
                job["queue_name"] = default
            out.append(job)
        return out


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _date_text(value: Any, where: str) -> str:
    """A TOML/YAML date or date-time as the app's date string."""
    if isinstance(value, dt.datetime):
        text = value.strftime("%Y-%m-%d %H:%M:%S")
        if value.year < 1000:
            text = f"{value.year:04d}" + text[text.index("-"):]
        if value.microsecond:
            text += f".{value.microsecond:06d}"
        offset = value.utcoffset()
        if offset is None:
            return text
        if offset == dt.timedelta(0) and value.tzinfo is dt.timezone.utc:
            return text + "Z"
        seconds = int(offset.total_seconds())
        if seconds % 60 or offset.microseconds:
            raise JobFileError(f"{where}: {value} has a UTC offset of {offset}, not a whole number of minutes")
        sign = "+" if seconds >= 0 else "-"
        seconds = abs(seconds)
        return f"{text}{sign}{seconds // 3600:02d}:{seconds // 60 % 60:02d}"
    assert isinstance(value, dt.date)
    return value.strftime("%Y-%m-%d") if value.year >= 1000 else f"{value.year:04d}-{value.month:02d}-{value.day:02d}"


def _json_value(value: Any, where: str, depth: int = 0) -> Any:
    """`value` as JSON (dates and times are refused: only the date fields take them)."""
    if depth > 64:
        raise JobFileError(f"{where}: nests too deep")
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise JobFileError(f"{where}: {value} is not a JSON number")
        return value
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        raise JobFileError(f"{where}: {value} is a {type(value).__name__}, which JSON has not; quote it to send it as a string")
    if isinstance(value, (list, tuple)):
        return [_json_value(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        out: Dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise JobFileError(f"{where}: the key {key!r} is not a string (quote it)")
            out[key] = _json_value(item, f"{where}.{key}", depth + 1)
        return out
    raise JobFileError(f"{where}: {value!r} ({type(value).__name__}) is not a JSON value")


def _trigger_fields(fields: Mapping[str, Any], where: str, top: bool) -> Dict[str, Any]:
    """A job's (or an and/or part's) fields: dates turned into strings, `misfire_grace_time =
    "none"` into null, parts read the same way, the rest as JSON."""
    out: Dict[str, Any] = {}
    for key, value in fields.items():
        if not isinstance(key, str):
            raise JobFileError(f"{where}: the key {key!r} is not a string")
        at = f"{where}.{key}"
        if key in DATE_FIELDS and isinstance(value, (dt.datetime, dt.date)):
            out[key] = _date_text(value, at)
        elif key in DATE_FIELDS and isinstance(value, dt.time):
            raise JobFileError(f"{at}: {value} is a time of day without a date; write the date too")
        elif key == "triggers" and isinstance(value, list):
            parts = []
            for i, part in enumerate(value):
                if not isinstance(part, Mapping):
                    raise JobFileError(f"{at}[{i}]: a trigger part is a table (e.g. {{ trigger = \"cron\", hour = 9 }}), got {type(part).__name__}")
                parts.append(_trigger_fields(part, f"{at}[{i}]", False))
            out[key] = parts
        elif top and key == "misfire_grace_time" and isinstance(value, str) and value.lower() == "none":
            out[key] = None
        else:
            out[key] = _json_value(value, at)
    return out


def _document(loaded: Any, source: str) -> JobSet:
    if not isinstance(loaded, Mapping):
        raise JobFileError(f"{source}: the file must be a table with `jobs` (and optionally `queue_name`), got {type(loaded).__name__}")
    for key in loaded:
        if key not in TOP_LEVEL:
            hint = ""
            if key in FIELD_ORDER:
                hint = " (job fields go inside each job: in TOML after its [[jobs]] line, and top-level keys before the first [[jobs]])"
            raise JobFileError(f"{source}: unknown top-level key {key!r}: the top level holds `queue_name` and `jobs`{hint}")
    queue_name = loaded.get("queue_name")
    if queue_name is not None and (not isinstance(queue_name, str) or not queue_name):
        raise JobFileError(f"{source}: queue_name must be a queue name (a string), got {queue_name!r}")
    if "jobs" not in loaded:
        raise JobFileError(
            f"{source}: no jobs: add one [[jobs]] table per job (YAML/JSON: a `jobs` list); an empty set is `jobs = []` "
            "(with --prune it deletes every job the file manages)"
        )
    raw_jobs = loaded["jobs"]
    if not isinstance(raw_jobs, list):
        raise JobFileError(f"{source}: jobs must be a list of jobs (TOML: [[jobs]] tables), got {type(raw_jobs).__name__}")
    jobs = []
    for k, job in enumerate(raw_jobs):
        where = f"{source}: jobs[{k}] (the {_ordinal(k + 1)} job)"
        if not isinstance(job, Mapping):
            raise JobFileError(f"{where}: a job is a table of add-request fields, got {type(job).__name__}")
        jobs.append(_trigger_fields(job, where, True))
    return JobSet(source, queue_name, jobs)


def parse(text: str, fmt: str, source: str) -> JobSet:
    """A job file's text, in format `fmt`, as a `JobSet`; `source` names it in messages."""
    if fmt == "toml":
        loads, error = _toml_reader()
        try:
            loaded = loads(text)
        except error as e:
            raise JobFileError(f"{source}: not valid TOML: {e}") from None
    elif fmt == "yaml":
        yaml = _yaml_module()
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise JobFileError(f"{source}: not valid YAML: {e}") from None
    elif fmt == "json":
        try:
            loaded = json.loads(text)
        except ValueError as e:
            raise JobFileError(f"{source}: not valid JSON: {e}") from None
    else:
        raise JobFileError(f"unknown format {fmt!r}")
    if loaded is None:
        loaded = {}
    return _document(loaded, source)


def load(path: str, fmt: Optional[str] = None) -> JobSet:
    """Reads a job file (`-`: stdin, with `fmt`)."""
    fmt = format_of(path, fmt)
    if path == "-":
        return parse(sys.stdin.read(), fmt, "<stdin>")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise JobFileError(f"{path}: cannot read it: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise JobFileError(f"{path}: not UTF-8 text: {e}") from None
    return parse(text, fmt, path)


# ---------------------------------------------------------------------------------------------
# Writing


def ordered(job: Mapping[str, Any]) -> Dict[str, Any]:
    """A job's fields in `FIELD_ORDER` (unknown ones after, by name)."""
    rank = {name: i for i, name in enumerate(FIELD_ORDER)}
    return {k: job[k] for k in sorted(job, key=lambda k: (rank.get(k, len(rank)), k))}


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_TOML_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}
#: Longest inline table a TOML job shows on its line; a longer `kwargs` gets a [jobs.kwargs] table.
TOML_INLINE_WIDTH = 100


class _NotToml(Exception):
    def __init__(self, where: str, what: str) -> None:
        super().__init__(f"{where} is {what}")
        self.where = where


def _toml_string(text: str) -> str:
    out = []
    for ch in text:
        if ch in _TOML_ESCAPES:
            out.append(_TOML_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _toml_string(key)


def _toml_value(value: Any, where: str) -> str:
    if value is None:
        raise _NotToml(where, "null, which TOML cannot write")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if not -(2**63) <= value < 2**63:
            raise _NotToml(where, f"{value}, an integer beyond TOML's 64 bits")
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v, f"{where}[{i}]") for i, v in enumerate(value)) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v, f'{where}.{k}')}" for k, v in value.items()) + " }"
    raise _NotToml(where, f"a {type(value).__name__}")


def _toml_job(job: Mapping[str, Any], where: str) -> List[str]:
    lines = ["[[jobs]]"]
    tables: List[str] = []
    for key, value in ordered(job).items():
        at = f"{where}.{key}"
        if key == "misfire_grace_time" and value is None:
            lines.append(f'{_toml_key(key)} = "none"  # no limit')
            continue
        if key == "triggers" and isinstance(value, list) and value:
            lines.append(f"{_toml_key(key)} = [")
            lines.extend(f"    {_toml_value(part, f'{at}[{i}]')}," for i, part in enumerate(value))
            lines.append("]")
            continue
        text = _toml_value(value, at)
        if isinstance(value, dict) and value and len(text) > TOML_INLINE_WIDTH:
            tables.append("")
            tables.append(f"[jobs.{_toml_key(key)}]")
            tables.extend(f"{_toml_key(k)} = {_toml_value(v, f'{at}.{k}')}" for k, v in value.items())
            continue
        lines.append(f"{_toml_key(key)} = {text}")
    return lines + tables


def _comment(header: Sequence[str]) -> List[str]:
    return [f"# {line}" if line else "#" for line in header]


def dump_toml(queue_name: Optional[str], jobs: Sequence[Mapping[str, Any]], header: Sequence[str] = ()) -> str:
    """The TOML job file for `jobs` (and the top-level `queue_name`, if given)."""
    lines = _comment(header)
    if lines:
        lines.append("")
    if queue_name is not None:
        lines.append(f"queue_name = {_toml_string(queue_name)}")
        lines.append("")
    if not jobs:
        lines.append("jobs = []")
    for k, job in enumerate(jobs):
        if k:
            lines.append("")
        try:
            lines.extend(_toml_job(job, f"jobs[{k}]"))
        except _NotToml as e:
            raise JobFileError(f"job {job.get('job_id')!r} cannot be written as TOML: {e}; write YAML or JSON instead (--format yaml)") from None
    return "\n".join(lines) + "\n"


def dump_yaml(queue_name: Optional[str], jobs: Sequence[Mapping[str, Any]], header: Sequence[str] = ()) -> str:
    """The YAML job file: each job a block mapping, its lists and small tables in flow style."""
    yaml = _yaml_module()

    safe_dumper: Any = yaml.SafeDumper

    class Dumper(safe_dumper):  # type: ignore[misc]
        pass

    class Flow(dict):  # type: ignore[type-arg]
        pass

    class FlowList(list):  # type: ignore[type-arg]
        pass

    def flow_map(dumper: Any, value: Any) -> Any:
        return dumper.represent_mapping("tag:yaml.org,2002:map", dict(value), flow_style=True)

    def flow_list(dumper: Any, value: Any) -> Any:
        return dumper.represent_sequence("tag:yaml.org,2002:seq", list(value), flow_style=True)

    Dumper.add_representer(Flow, flow_map)
    Dumper.add_representer(FlowList, flow_list)

    def shaped(job: Mapping[str, Any]) -> Dict[str, Any]:
        out: Dict[str, Any] = {}
        for key, value in ordered(job).items():
            if key == "triggers" and isinstance(value, list):
                out[key] = [Flow(part) for part in value]
            elif isinstance(value, list):
                out[key] = FlowList(value)
            elif isinstance(value, dict) and len(json.dumps(value, ensure_ascii=False)) <= TOML_INLINE_WIDTH:
                out[key] = Flow(value)
            else:
                out[key] = value
        return out

    document: Dict[str, Any] = {}
    if queue_name is not None:
        document["queue_name"] = queue_name
    document["jobs"] = [shaped(job) for job in jobs]
    text = yaml.dump(document, Dumper=Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False, width=4096, indent=2)
    lines = _comment(header)
    return "\n".join(lines) + ("\n\n" if lines else "") + str(text)


def dump_json(queue_name: Optional[str], jobs: Sequence[Mapping[str, Any]]) -> str:
    document: Dict[str, Any] = {}
    if queue_name is not None:
        document["queue_name"] = queue_name
    document["jobs"] = [ordered(job) for job in jobs]
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def dump(fmt: str, queue_name: Optional[str], jobs: Sequence[Mapping[str, Any]], header: Sequence[str] = ()) -> str:
    """The job file for `jobs` in `fmt`, checked by reading it back (when this Python can): a
    file that would not read back as these jobs is never written."""
    if fmt == "toml":
        text = dump_toml(queue_name, jobs, header)
    elif fmt == "yaml":
        text = dump_yaml(queue_name, jobs, header)
    elif fmt == "json":
        text = dump_json(queue_name, jobs)
    else:
        raise JobFileError(f"unknown format {fmt!r}")
    try:
        back = parse(text, fmt, "<written>")
    except JobFileError as e:
        if "needs the" in str(e):
            return text  # no reader here (tomli on 3.9/3.10): written unchecked
        raise JobFileError(f"internal error: the {fmt} written does not read back: {e}") from None
    if back.queue_name != queue_name or back.jobs != [dict(job) for job in jobs]:
        raise JobFileError(f"internal error: the {fmt} written does not read back as the same jobs")
    return text
