"""The `funboost-edge` command: jobs as code.

    funboost-edge apply FILE [--queue Q] [--prune] [--dry-run] [--format F] [--base-url URL] [--token T]
    funboost-edge export [--queue Q] [--format toml|yaml|json] [-o FILE] [--base-url URL] [--token T]

`apply` sends the file's jobs to `POST /funboost/apply_timing_jobs` and prints the plan: the jobs
created, updated (with the fields that change, old -> new), left unchanged and deleted.
`export` writes the app's jobs as a file `apply` takes back unchanged.

Exit status: 0 done (a dry run too); 1 the app refused (its `msg` and the field are printed;
nothing was applied), or `export` left out a job it cannot write back; 2 a usage error, a file
that cannot be read or written, or no app at the address.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import textwrap
from typing import Any, Dict, List, Mapping, NoReturn, Optional, Sequence, Set, Tuple

import requests

from ._http import EdgeClient, resolve_base_url
from .errors import EdgeRefused
from .jobfile import FORMATS, JobFileError, JobSet, dump, format_of, load, ordered

__all__ = ["main", "export_entry"]

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2

#: The trigger fields of a job as the app lists it (everything it shows as given).
TRIGGER_FIELDS = (
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
    "jitter",
    "triggers",
)

#: funboost task options (the app lists them in `task_options`; the add request takes them
#: as fields of their own).
TASK_OPTIONS = (
    "function_timeout",
    "max_retry_times",
    "is_print_detail_exception",
    "msg_expire_seconds",
    "is_using_rpc_mode",
    "user_extra_info",
    "other_extra_params",
    "filter_str",
    "do_task_filtering",
)

FILE_FORMAT_HELP = """\
the file (TOML, YAML or JSON, by its extension; - is stdin, with --format):

  # jobs.toml
  queue_name = "orders"        # the queue of jobs that name none, and the queue the file
                               # manages (--prune deletes only its jobs); before any [[jobs]]

  [[jobs]]                     # one table per job, in the add request's fields
  job_id = "weekday_morning"   # required: how a job is matched with the stored one
  trigger = "cron"             # date, interval, cron, calendarinterval, and, or
  day_of_week = "mon-fri"
  hour = 9
  kwargs = { x = 1, y = 2 }    # the consuming function's arguments (args = [1, 2] by position)

  [[jobs]]
  job_id = "every_10_minutes"
  trigger = "interval"
  minutes = 10
  args = [1, 2]
  misfire_grace_time = 60      # "none" for no limit
  paused = true                # stored paused

  [[jobs]]
  job_id = "twice_a_day"
  queue_name = "reports"       # a job of another queue (then leave the top-level one out)
  trigger = "or"
  triggers = [
      { trigger = "cron", hour = 9 },
      { trigger = "cron", hour = 17, minute = 30 },
  ]

YAML: the same keys (queue_name: orders, then jobs: as a list of mappings); JSON: the same.
Dates (run_date, start_date, end_date) may be strings in the app's format or TOML/YAML dates.
Applying the same file twice changes nothing; a job whose fields are unchanged keeps its next
run, counts and history.
"""


class _Usage(Exception):
    """A usage error (exit 2)."""


def _out(text: str = "") -> None:
    print(text, flush=True)


def _err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _compact(value: Any, width: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return text if len(text) <= width else text[: width - 1] + "…"


# ---------------------------------------------------------------------------------------------
# A job as the app lists it -> a job of a file


def export_entry(view: Mapping[str, Any], default_zone: Optional[str], registered_kind: Optional[str], with_queue: bool) -> Dict[str, Any]:
    """The fields a job file gives for one job as the app lists it: what the user set (trigger
    and its fields, zone, arguments, options, paused), never what firing did (next run, counts,
    history). Defaults are left out: `misfire_grace_time` 1, `coalesce` true, the broker kind
    the queue's consumer registered (else `REDIS`), the app's default zone."""
    entry: Dict[str, Any] = {"job_id": view["job_id"]}
    if with_queue:
        entry["queue_name"] = view["queue_name"]
    entry["trigger"] = view["trigger"]
    for field in TRIGGER_FIELDS:
        if view.get(field) is not None:
            entry[field] = view[field]
    zone = view.get("timezone")
    # The app lists the zone the job runs in (its given one, else the app's default, or a
    # date's fixed offset such as +05:30, which no request gives): given back only when it is
    # not the default and is a name.
    if isinstance(zone, str) and zone != default_zone and zone[:1] not in ("+", "-"):
        entry["timezone"] = zone
    if view.get("args"):
        entry["args"] = list(view["args"])
    if view.get("kwargs"):
        entry["kwargs"] = dict(view["kwargs"])
    if "misfire_grace_time" in view and view["misfire_grace_time"] != 1:
        entry["misfire_grace_time"] = view["misfire_grace_time"]
    if view.get("coalesce") is False:
        entry["coalesce"] = False
    kind = view.get("broker_kind")
    if kind and kind != (registered_kind or "REDIS"):
        entry["broker_kind"] = kind
    if view.get("priority") is not None:
        entry["priority"] = view["priority"]
    options = view.get("task_options") or {}
    for name in TASK_OPTIONS:
        if name in options:
            entry[name] = options[name]
    if view.get("status") == "paused":
        entry["paused"] = True
    return ordered(entry)


def _flip_zone(entry: Dict[str, Any], view: Mapping[str, Any]) -> bool:
    """Gives a job's zone when it was left out, or leaves it out when it was given; False
    when there is nothing to flip (a date's fixed offset)."""
    if "timezone" in entry:
        del entry["timezone"]
        return True
    zone = view.get("timezone")
    if isinstance(zone, str) and zone[:1] not in ("+", "-"):
        entry["timezone"] = zone
        ordered_entry = ordered(entry)
        entry.clear()
        entry.update(ordered_entry)
        return True
    return False


# ---------------------------------------------------------------------------------------------
# Rendering a plan


def _trigger_text(fields: Mapping[str, Any], zone: bool = True) -> str:
    """`cron[hour=9, minute="0"]`: a trigger as a file gives it, values as JSON (`zone`: with
    its `timezone`; parts always show theirs)."""
    kind = fields.get("trigger")
    parts = []
    for key in TRIGGER_FIELDS + (("timezone",) if zone else ()):
        if key == "triggers" and isinstance(fields.get(key), list):
            parts.append("triggers=[" + ", ".join(_trigger_text(p) for p in fields[key] if isinstance(p, Mapping)) + "]")
        elif fields.get(key) is not None:
            parts.append(f"{key}={json.dumps(fields[key], ensure_ascii=False)}")
    return f"{kind}[{', '.join(parts)}]"


def _declared(job: Mapping[str, Any], field: str, listed: bool) -> Any:
    """A declared field (as apply's plan names them) of a listed job or of a file's job."""
    if field == "trigger":
        return _trigger_text(job)
    if field == "task_options":
        if listed:
            return dict(job.get("task_options") or {})
        return {name: job[name] for name in TASK_OPTIONS if name in job}
    if field == "paused":
        return job.get("status") == "paused" if listed else bool(job.get("paused", False))
    if field == "args":
        return list(job.get("args") or [])
    if field == "kwargs":
        return dict(job.get("kwargs") or {})
    if field == "misfire_grace_time":
        return job.get("misfire_grace_time", 1)
    if field == "coalesce":
        return job.get("coalesce", True)
    if field == "timezone":
        return job.get("timezone") if listed or job.get("timezone") else "(the app's default)"
    return job.get(field)


def _change_text(field: str, before: Optional[Mapping[str, Any]], after: Optional[Mapping[str, Any]]) -> str:
    if before is None or after is None:
        return field
    old, new = _declared(before, field, True), _declared(after, field, False)
    if field == "trigger":
        # The zone is a change of its own; shown here only when nothing else differs (a zone
        # given now that equals the one the job ran in).
        old, new = _trigger_text(before, zone=False), _trigger_text(after, zone=False)
        if old == new:
            old, new = _trigger_text(before), _trigger_text(after)
    if field in ("trigger", "timezone") and isinstance(old, str) and isinstance(new, str):
        return f"{field}: {old} -> {new}"
    return f"{field}: {_compact(old)} -> {_compact(new)}"


# ---------------------------------------------------------------------------------------------
# Commands


def _client(args: argparse.Namespace) -> EdgeClient:
    return EdgeClient(args.base_url, args.token, args.timeout)


def _listing(client: EdgeClient, queue: Optional[str]) -> List[Dict[str, Any]]:
    params = {"job_store_kind": "redis"}
    if queue is not None:
        params["queue_name"] = queue
    data = client.call("GET", "get_timing_jobs", params=params)
    jobs = data.get("jobs", []) if isinstance(data, dict) else []
    return [j for j in jobs if isinstance(j, dict)]


def _refused(e: EdgeRefused, what: str, jobset: Optional[JobSet] = None) -> int:
    """Prints a refusal of the app (its msg, the field and the job at fault); exit status 1."""
    if e.error == "BadResponse":
        _err(f"error: {what}: {e.msg}")
        _err("  (is --base-url / $FUNBOOST_EDGE_URL the funboost-edge app?)")
        return EXIT_USAGE
    status = f"HTTP {e.status}, " if e.status else ""
    _err(f"error: funboost-edge refused {what} ({status}{e.error} {e.code}): nothing was applied" if jobset else f"error: funboost-edge refused {what} ({status}{e.error} {e.code})")
    field = e.field
    if field and jobset is not None:
        m = re.fullmatch(r"jobs\[(\d+)\]\.(.+)", field)
        if m:
            _err(f"  job:   {jobset.describe(int(m.group(1)))}")
            field = m.group(2)
    if field:
        _err(f"  field: {field}")
    _err(f"  msg:   {e.msg}")
    return EXIT_REFUSED


def _print_plan(plan: Mapping[str, Any], before: Mapping[Tuple[str, str], Mapping[str, Any]], wanted: Mapping[Tuple[str, str], Mapping[str, Any]], dry_run: bool) -> None:
    rows: List[Tuple[str, str, str]] = []
    for step, label in (("create", "create"), ("update", "update"), ("unchanged", "unchanged"), ("delete", "delete")):
        for item in plan.get(step) or []:
            key = (str(item.get("queue_name")), str(item.get("job_id")))
            name = f"{key[0]}/{key[1]}"
            detail = ""
            if step == "update":
                changes = [str(c) for c in item.get("changes") or []]
                detail = "; ".join(_change_text(c, before.get(key), wanted.get(key)) for c in changes)
            rows.append((label, name, detail))
    width = max((len(name) for _, name, _ in rows), default=0)
    for label, name, detail in rows:
        _out(f"  {label:<9}  {name:<{width}}  {detail}".rstrip())
    counts = {step: len(plan.get(step) or []) for step in ("create", "update", "unchanged", "delete")}
    if dry_run:
        _out(
            f"dry run, nothing stored: would create {counts['create']}, update {counts['update']}, "
            f"leave {counts['unchanged']} unchanged, delete {counts['delete']}"
        )
    else:
        _out(f"applied: created {counts['create']}, updated {counts['update']}, unchanged {counts['unchanged']}, deleted {counts['delete']}")


def cmd_apply(args: argparse.Namespace) -> int:
    try:
        jobset = load(args.file, args.format)
    except JobFileError as e:
        raise _Usage(str(e)) from None
    if args.queue and jobset.queue_name and args.queue != jobset.queue_name:
        raise _Usage(f"--queue {args.queue} differs from the file's queue_name {jobset.queue_name}")
    scope = args.queue or jobset.queue_name
    jobs = jobset.with_default_queue(args.queue)
    jobset.jobs = jobs
    client = _client(args)
    if scope:
        flags = [f"queue {scope}"]
    elif args.prune:
        flags = ["every queue: --prune deletes the jobs of any queue the file leaves out"]
    else:
        flags = ["the queues its jobs name"]
    if args.prune:
        flags.append("prune")
    if args.dry_run:
        flags.append("dry run")
    _out(f"funboost-edge apply {jobset.source} -> {client.base_url} ({', '.join(flags)})")

    # The stored jobs, to show what an update changes (best effort: the plan is the app's).
    before: Dict[Tuple[str, str], Mapping[str, Any]] = {}
    queues: Set[Optional[str]] = {scope} if scope else {j.get("queue_name") for j in jobs if isinstance(j.get("queue_name"), str)}
    for queue in sorted(q for q in queues if q):
        try:
            for view in _listing(client, queue):
                before[(str(view.get("queue_name")), str(view.get("job_id")))] = view
        except EdgeRefused:
            pass
    wanted = {(str(j.get("queue_name")), str(j.get("job_id"))): j for j in jobs}

    body: Dict[str, Any] = {"jobs": jobs, "prune": bool(args.prune), "dry_run": bool(args.dry_run)}
    if scope:
        body["queue_name"] = scope
    try:
        plan = client.call("POST", "apply_timing_jobs", body=body)
    except EdgeRefused as e:
        return _refused(e, jobset.source, jobset)
    if not isinstance(plan, dict):
        _err(f"error: apply_timing_jobs answered {plan!r}, not a plan")
        return EXIT_USAGE
    _print_plan(plan, before, wanted, bool(args.dry_run))
    return EXIT_OK


def _default_zone(client: EdgeClient) -> Optional[str]:
    try:
        health = client.call("GET", "health")
    except EdgeRefused:
        return None
    zone = health.get("timezone") if isinstance(health, dict) else None
    return str(zone) if zone else None


def _registered_kind(client: EdgeClient, queue: str, cache: Dict[str, Optional[str]]) -> Optional[str]:
    if queue not in cache:
        try:
            config = client.call("GET", "get_one_queue_config", params={"queue_name": queue})
            kind = config.get("broker_kind") if isinstance(config, dict) else None
            cache[queue] = str(kind) if kind else None
        except EdgeRefused:
            cache[queue] = None
    return cache[queue]


def _verify(client: EdgeClient, scope: Optional[str], entries: List[Dict[str, Any]], views: Mapping[Tuple[str, str], Mapping[str, Any]]) -> Tuple[Optional[str], List[str]]:
    """Asks the app what applying the export would do (a dry run): every job must be unchanged.
    A job the app would update only in its trigger has its zone flipped (the app lists the zone
    a job runs in, not whether it was given) and is asked about again. Returns (why the check
    could not be made, or None; the jobs that would still change)."""
    if not entries:
        return None, []

    def plan_of() -> Dict[str, Any]:
        body: Dict[str, Any] = {"jobs": entries if scope is None else [dict(e, queue_name=scope) for e in entries], "dry_run": True}
        if scope is not None:
            body["queue_name"] = scope
        plan = client.call("POST", "apply_timing_jobs", body=body)
        return plan if isinstance(plan, dict) else {}

    by_key = {(scope or str(e.get("queue_name")), str(e["job_id"])): e for e in entries}

    def updated(plan: Mapping[str, Any]) -> Dict[Tuple[str, str], List[str]]:
        return {(str(i.get("queue_name")), str(i.get("job_id"))): [str(c) for c in i.get("changes") or []] for i in plan.get("update") or []}

    try:
        plan = plan_of()
        flipped = [key for key, changes in updated(plan).items() if changes == ["trigger"] and key in by_key and key in views and _flip_zone(by_key[key], views[key])]
        if flipped:
            plan = plan_of()
            still = updated(plan)
            for key in flipped:
                if key in still:
                    _flip_zone(by_key[key], views[key])  # not the zone after all: as it was
    except EdgeRefused as e:
        return f"{e.msg} ({e.error} {e.code})", []
    left = []
    for step in ("create", "update", "delete"):
        for item in plan.get(step) or []:
            changes = item.get("changes")
            left.append(f"{item.get('queue_name')}/{item.get('job_id')}: apply would {step} it" + (f" ({', '.join(map(str, changes))})" if changes else ""))
    return None, left


def cmd_export(args: argparse.Namespace) -> int:
    output = args.output or "-"
    try:
        fmt = format_of(output, args.format) if (args.format or output != "-") else "toml"
    except JobFileError as e:
        raise _Usage(str(e)) from None
    client = _client(args)
    try:
        views = _listing(client, args.queue)
    except EdgeRefused as e:
        return _refused(e, "the listing (get_timing_jobs)")
    default_zone = _default_zone(client)
    kinds: Dict[str, Optional[str]] = {}
    entries: List[Dict[str, Any]] = []
    by_key: Dict[Tuple[str, str], Mapping[str, Any]] = {}
    skipped = []
    for view in sorted(views, key=lambda v: (str(v.get("queue_name")), str(v.get("job_id")))):
        name = f"{view.get('queue_name')}/{view.get('job_id')}"
        if view.get("status") == "error" or not view.get("trigger"):
            skipped.append(f"{name}: cannot be scheduled or read ({view.get('error') or 'no trigger'}); left out")
            continue
        queue = str(view["queue_name"])
        registered = _registered_kind(client, queue, kinds) if view.get("broker_kind") not in (None, "REDIS") else None
        entry = export_entry(view, default_zone, registered, with_queue=args.queue is None)
        entries.append(entry)
        by_key[(queue, str(view["job_id"]))] = view
    problem, left = _verify(client, args.queue, entries, by_key)

    where = f"queue {args.queue}" if args.queue else "every queue"
    header = [
        f"funboost-edge timing jobs of {where}, exported from {client.base_url}.",
        "`funboost-edge apply FILE` makes the app hold these jobs (unchanged ones keep their next run,",
        f"counts and history); with --prune it also deletes the other jobs of {where}.",
    ]
    try:
        text = dump(fmt, args.queue, entries, header)
    except JobFileError as e:
        _err(f"error: {e}")
        return EXIT_USAGE
    if output == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        try:
            with open(output, "w", encoding="utf-8") as f:
                f.write(text)
        except OSError as e:
            _err(f"error: {output}: cannot write it: {e.strerror or e}")
            return EXIT_USAGE
    for line in skipped:
        _err(f"warning: {line}")
    for line in left:
        _err(f"warning: {line}")
    if problem:
        _err(f"warning: could not check the export against the app (a dry run of apply): {problem}")
    status = "" if problem or left else f"; checked: applying it leaves all {len(entries)} unchanged"
    target = "stdout" if output == "-" else output
    _err(f"exported {len(entries)} job{'s' if len(entries) != 1 else ''} of {where} to {target} ({fmt}{status})")
    return EXIT_REFUSED if skipped or left else EXIT_OK


# ---------------------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def parser() -> argparse.ArgumentParser:
    from . import __version__

    common = _Parser(add_help=False)
    where = common.add_argument_group("where the app is")
    where.add_argument("--base-url", help="the app's address, with or without /funboost (default: $FUNBOOST_EDGE_URL, else http://127.0.0.1:3000)")
    where.add_argument("--token", help="the app's api_token (default: $FUNBOOST_EDGE_TOKEN, else $FUNBOOST_EDGE_API_TOKEN)")
    where.add_argument("--timeout", type=float, default=30.0, help="seconds per request (default: 30)")

    top = _Parser(
        prog="funboost-edge",
        description="funboost-edge's timing jobs as code: apply a file of jobs, export the app's jobs as one.",
        epilog="exit status: 0 done (a dry run too), 1 the app refused (nothing applied), 2 usage error, unreadable file or no app.",
    )
    top.add_argument("--version", action="version", version=f"funboost-edge {__version__}")
    commands = top.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    apply = commands.add_parser(
        "apply",
        parents=[common],
        help="make the app hold the jobs of a file (POST apply_timing_jobs)",
        description=textwrap.fill(
            "Makes the app hold the file's jobs: creates the new ones, updates the changed ones (printing the fields "
            "that change), leaves the others as they are, and with --prune deletes the jobs the file leaves out. "
            "All or nothing: one invalid job refuses the whole file, naming the job and the field.",
            width=92,
        ),
        epilog=FILE_FORMAT_HELP + "\nexit status: 0 applied (or planned, with --dry-run), 1 the app refused the set (nothing applied), 2 usage error, unreadable file or no app.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    apply.add_argument("file", metavar="FILE", help="the job file (.toml, .yaml/.yml or .json), or - for stdin (with --format)")
    apply.add_argument("--queue", metavar="Q", help="the queue the file manages: jobs naming no queue go to Q, and --prune deletes only Q's jobs")
    apply.add_argument("--prune", action="store_true", help="delete the jobs the file leaves out (of the file's queue; of every queue when it names none)")
    apply.add_argument("--dry-run", action="store_true", help="print the plan, store nothing")
    apply.add_argument("--format", choices=FORMATS, help="the file's format (default: by its extension)")
    apply.set_defaults(run=cmd_apply)

    export = commands.add_parser(
        "export",
        parents=[common],
        help="write the app's jobs as a file that apply takes back unchanged",
        description=(
            "Writes the app's jobs (redis store) as a job file: what was set for each (trigger, zone, args, kwargs, "
            "options, paused), not what firing did. Applying the file back leaves every job unchanged; export checks "
            "that with a dry run of apply and warns about any job it cannot write back."
        ),
        epilog="exit status: 0 written, 1 written but some job left out or not written back exactly (warnings say which), 2 usage error or no app.",
    )
    export.add_argument("--queue", metavar="Q", help="only the jobs of queue Q (the file then names Q at its top); default: every queue")
    export.add_argument("--format", choices=FORMATS, help="toml (default), yaml or json; default: by -o's extension")
    export.add_argument("-o", "--output", metavar="FILE", help="the file to write (default: stdout)")
    export.set_defaults(run=cmd_export)
    return top


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parser().parse_args(argv)
    try:
        status: int = args.run(args)
        return status
    except _Usage as e:
        _err(f"error: {e}")
        return EXIT_USAGE
    except (requests.ConnectionError, requests.Timeout) as e:
        url = resolve_base_url(args.base_url)
        _err(f"error: cannot reach funboost-edge at {url}: {type(e).__name__}: {e}")
        return EXIT_USAGE
    except requests.RequestException as e:
        _err(f"error: request to funboost-edge failed: {e}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


def run() -> NoReturn:
    """The console script's entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
