"""Jobs and triggers as funboost-edge returns them, shaped like APScheduler's `Job`."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Dict, Mapping, Optional, Tuple

if TYPE_CHECKING:
    from .scheduler import EdgeScheduler

__all__ = ["EdgeJob", "EdgeTrigger", "PUSH_FUNC_REF", "funboost_job_name", "parse_time", "zone_of"]

#: The function every funboost timing job runs (APScheduler's `func_ref`).
PUSH_FUNC_REF = "funboost.timing_job.timing_job_base:push_fun_params_to_broker"

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


def funboost_job_name(queue_name: str) -> str:
    """The name funboost's `add_push_job` gives every job of a queue."""
    return f"push_fun_params_to_broker_for_queue_{queue_name}"


def zone_of(name: Optional[str]) -> Optional[dt.tzinfo]:
    """A job's `timezone` as a tzinfo: `UTC` is `timezone.utc` (as APScheduler's `astimezone`),
    `+05:30` a fixed offset, anything else a `zoneinfo.ZoneInfo` (None if unknown here)."""
    if not name:
        return None
    if name == "UTC":
        return dt.timezone.utc
    if len(name) == 6 and name[0] in "+-" and name[3] == ":":
        try:
            hours, minutes = int(name[1:3]), int(name[4:6])
        except ValueError:
            return None
        sign = 1 if name[0] == "+" else -1
        return dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(name)
    except Exception:  # noqa: BLE001  (unknown key, no tzdata)
        return None


def parse_time(text: Optional[str], zone: Optional[str] = None) -> Optional[dt.datetime]:
    """The app's `YYYY-MM-DD HH:MM:SS[.ffffff]+HH:MM` as an aware datetime, in `zone` when it
    is known here (so `%Z` prints `CST`, `EDT`, ... as APScheduler's does)."""
    if text is None:
        return None
    value = dt.datetime.fromisoformat(text)
    tz = zone_of(zone)
    if tz is None or value.tzinfo is None:
        return value
    # The same wall time in the zone, with the fold that gives the app's offset: a wall time in
    # a DST gap stays as APScheduler holds it (astimezone would move it past the gap).
    offset = value.utcoffset()
    for fold in (0, 1):
        candidate = value.replace(tzinfo=tz, fold=fold)
        if candidate.utcoffset() == offset:
            return candidate
    return value.astimezone(tz)


class EdgeTrigger:
    """A job's trigger as the app holds it. `str()` is APScheduler's `str(trigger)` as the app
    computes it (`cron[hour='9']`, `interval[0:00:10]`, `date[2030-12-03 15:00:00 CST]`);
    `kind` is the trigger name, `fields` the trigger fields as given, `timezone` the zone name."""

    __slots__ = ("fields", "kind", "text", "timezone")

    def __init__(self, kind: str, text: str, fields: Mapping[str, Any], timezone: Optional[str]) -> None:
        self.kind = kind
        self.text = text
        self.fields: Dict[str, Any] = dict(fields)
        self.timezone = timezone

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"<EdgeTrigger {self.text} (timezone={self.timezone!r})>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EdgeTrigger):
            return NotImplemented
        return (self.kind, self.text, self.fields, self.timezone) == (other.kind, other.text, other.fields, other.timezone)

    def __hash__(self) -> int:
        return hash((self.kind, self.text, self.timezone))


class EdgeJob:
    """One timing job, with the attributes of APScheduler's `Job` that funboost users read:
    `id`, `name` (funboost's `push_fun_params_to_broker_for_queue_<queue>`), `trigger`, `args`
    (the queue name first, then the consuming function's positional arguments, as funboost
    stores them), `kwargs`, `next_run_time` (aware, in the trigger's zone; None when paused or
    finished), `misfire_grace_time`, `coalesce`, `max_instances` (1), `executor` ('default'),
    `func_ref`, `pending` (False). Plus funboost-edge's own: `queue_name`, `job_store_kind`,
    `status` (`running`, `paused`, `finished`) and `data` (the app's whole answer).

    `modify`, `reschedule`, `pause`, `resume` and `remove` act on the job in the app, as
    APScheduler's `Job` methods do.
    """

    def __init__(self, scheduler: Optional[EdgeScheduler], data: Mapping[str, Any]) -> None:
        self._scheduler = scheduler
        self._load(data)

    def _load(self, data: Mapping[str, Any]) -> None:
        self.data: Dict[str, Any] = dict(data)
        self.id: str = str(data["job_id"])
        self.queue_name: str = str(data["queue_name"])
        self.job_store_kind: str = str(data.get("job_store_kind") or "redis")
        self.name: str = funboost_job_name(self.queue_name)
        zone = data.get("timezone")
        fields = {k: data[k] for k in TRIGGER_FIELDS if data.get(k) is not None}
        self.trigger = EdgeTrigger(str(data.get("trigger")), str(data.get("trigger_str") or data.get("trigger")), fields, zone)
        self.args: Tuple[Any, ...] = (self.queue_name, *(data.get("args") or []))
        self.kwargs: Dict[str, Any] = dict(data.get("kwargs") or {})
        self.next_run_time: Optional[dt.datetime] = parse_time(data.get("next_run_time"), zone)
        self.status: str = str(data.get("status") or ("paused" if self.next_run_time is None else "running"))
        grace = data.get("misfire_grace_time", 1)
        self.misfire_grace_time: Optional[int] = int(grace) if grace is not None else None
        self.coalesce: bool = bool(data.get("coalesce", True))
        self.max_instances: int = 1
        self.executor: str = "default"
        self.func_ref: str = PUSH_FUNC_REF
        self.pending: bool = False

    def _require_scheduler(self) -> EdgeScheduler:
        if self._scheduler is None:
            raise RuntimeError("this job is not attached to a scheduler")
        return self._scheduler

    def modify(self, **changes: Any) -> EdgeJob:
        """APScheduler's `Job.modify`: see `EdgeScheduler.modify_job`."""
        job = self._require_scheduler().modify_job(self.id, None, **changes)
        self._load(job.data)
        return self

    def reschedule(self, trigger: Any, **trigger_args: Any) -> EdgeJob:
        """APScheduler's `Job.reschedule`."""
        job = self._require_scheduler().reschedule_job(self.id, None, trigger, **trigger_args)
        self._load(job.data)
        return self

    def pause(self) -> EdgeJob:
        """APScheduler's `Job.pause`."""
        job = self._require_scheduler().pause_job(self.id)
        self._load(job.data)
        return self

    def resume(self) -> EdgeJob:
        """APScheduler's `Job.resume` (the job is removed when its trigger has no more fire
        times, as APScheduler removes it)."""
        job = self._require_scheduler().resume_job(self.id)
        if job is not None:
            self._load(job.data)
        return self

    def remove(self) -> None:
        """APScheduler's `Job.remove`."""
        self._require_scheduler().remove_job(self.id)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, EdgeJob):
            return self.id == other.id and self.queue_name == other.queue_name
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.queue_name, self.id))

    def __repr__(self) -> str:
        return f"<Job (id={self.id} name={self.name})>"

    def __str__(self) -> str:
        if self.next_run_time is not None:
            status = "next run at: " + self.next_run_time.strftime("%Y-%m-%d %H:%M:%S %Z")
        else:
            status = "paused"
        return f"{self.name} (trigger: {self.trigger}, {status})"
