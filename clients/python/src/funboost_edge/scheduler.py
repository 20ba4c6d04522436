"""`EdgeScheduler`: the scheduler methods funboost users call on `ApsJobAdder(...).aps_obj`,
answered by funboost-edge for one queue and store, with APScheduler's return values and
exceptions."""

from __future__ import annotations

import datetime as dt
import math
import sys
from typing import IO, Any, Dict, Iterable, List, Mapping, Optional, Tuple

from ._http import EdgeClient
from .convert import trigger_request
from .errors import EdgeRefused, EdgeUnsupported, JobLookupError
from .jobs import PUSH_FUNC_REF, EdgeJob, funboost_job_name

__all__ = ["EdgeScheduler", "STATE_PAUSED", "STATE_RUNNING", "STATE_STOPPED", "undefined"]

#: APScheduler's scheduler states (`apscheduler.schedulers.base`).
STATE_STOPPED = 0
STATE_RUNNING = 1
STATE_PAUSED = 2


class _Undefined:
    """APScheduler's `undefined`: "use the scheduler's default"."""

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "<undefined>"


undefined: Any = _Undefined()


def is_undefined(value: Any) -> bool:
    """This package's `undefined`, or APScheduler's own (`apscheduler.util.undefined`)."""
    return value is undefined or (type(value).__name__ == "_Undefined" and type(value).__module__ in ("apscheduler.util", __name__))


def _jsonable(value: Any, where: str, depth: int = 0) -> Any:
    """`value` as JSON, the way funboost's message will carry it: tuples become lists. What JSON
    cannot carry is refused (funboost would pickle it here and fail, or change it, at fire time)."""
    if depth > 32:
        raise EdgeUnsupported(where, "nests deeper than 32 levels")
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise EdgeUnsupported(where, f"{value!r} is not a JSON number")
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, where, depth + 1) for v in value]
    if isinstance(value, Mapping):
        out: Dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise EdgeUnsupported(where, f"key {key!r} is not a string (JSON objects have string keys)")
            out[key] = _jsonable(item, where, depth + 1)
        return out
    raise EdgeUnsupported(where, f"{value!r} ({type(value).__name__}) is not JSON; funboost-edge stores and publishes arguments as JSON")


def _check_grace(value: Any) -> Optional[int]:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
        raise TypeError("misfire_grace_time must be either None or a positive integer")
    return value


def _check_max_instances(value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise TypeError("max_instances must be a positive integer")
    if value != 1:
        raise EdgeUnsupported(
            "max_instances",
            f"{value}: funboost-edge has no max_instances (each fire is one publish, never skipped for a running one); "
            "leave it at APScheduler's default (1)",
        )


def _check_executor(value: Any) -> None:
    if not isinstance(value, str):
        raise TypeError("executor must be a string")
    if value != "default":
        raise EdgeUnsupported("executor", f"{value!r}: funboost-edge publishes from its own ticks; only the 'default' executor is accepted")


def _check_name(value: Any, queue_name: str) -> None:
    if not value or not isinstance(value, str):
        raise TypeError("name must be a nonempty string")
    if value != funboost_job_name(queue_name):
        raise EdgeUnsupported(
            "name",
            f"{value!r}: funboost-edge keeps no job name; every job is named {funboost_job_name(queue_name)!r} as funboost names it",
        )


def _is_push_func(func: Any) -> bool:
    if isinstance(func, str):
        return func == PUSH_FUNC_REF
    module, name = getattr(func, "__module__", None), getattr(func, "__qualname__", None)
    return f"{module}:{name}" == PUSH_FUNC_REF


class EdgeScheduler:
    """What `ApsJobAdder(...).aps_obj` is for funboost users, for one queue and job store of a
    funboost-edge app: `get_jobs`, `get_job`, `remove_job`, `remove_all_jobs`, `pause_job`,
    `resume_job`, `modify_job`, `reschedule_job`, `add_job` / `add_push_job`, the queue's
    scheduler switch `pause()` / `resume()`, and `state`. Only the job store alias `'default'`
    exists, as in funboost's per-queue schedulers."""

    def __init__(self, client: EdgeClient, queue_name: str, job_store_kind: str) -> None:
        self.client = client
        self.queue_name = queue_name
        self.job_store_kind = job_store_kind
        self._default_zone: Optional[str] = None
        self._default_zone_known = False

    # -- helpers ------------------------------------------------------------------------------

    def _query(self, job_id: Optional[str] = None, queue_name: Optional[str] = None) -> Dict[str, str]:
        query = {"queue_name": queue_name or self.queue_name, "job_store_kind": self.job_store_kind}
        if job_id is not None:
            query["job_id"] = job_id
        return query

    def _job(self, data: Any) -> EdgeJob:
        return EdgeJob(self, data)

    def default_zone(self) -> Optional[str]:
        """The app's default time zone (its `timezone` variable, from `health`), asked once."""
        if not self._default_zone_known:
            try:
                health = self.client.call("GET", "health")
                zone = health.get("timezone") if isinstance(health, dict) else None
                self._default_zone = str(zone) if zone else None
            except EdgeRefused:
                self._default_zone = None
            self._default_zone_known = True
        return self._default_zone

    @staticmethod
    def _store_ok(jobstore: Optional[str]) -> bool:
        return jobstore in (None, "default")

    def _lookup(self, job_id: str, jobstore: Optional[str]) -> EdgeJob:
        job = self.get_job(job_id, jobstore)
        if job is None:
            raise JobLookupError(job_id)
        return job

    # -- adding -------------------------------------------------------------------------------

    def add_push_job(
        self,
        func: Any,
        trigger: Any = None,
        args: Optional[Iterable[Any]] = None,
        kwargs: Optional[Mapping[str, Any]] = None,
        id: Optional[str] = None,
        name: Optional[str] = None,
        misfire_grace_time: Any = undefined,
        coalesce: Any = undefined,
        max_instances: Any = undefined,
        next_run_time: Any = undefined,
        jobstore: str = "default",
        executor: str = "default",
        replace_existing: bool = False,
        **trigger_args: Any,
    ) -> EdgeJob:
        """funboost's `FunboostBackgroundScheduler.add_push_job(booster, ...)`: a job that
        pushes `args`/`kwargs` to the booster's queue (a booster, or a queue name)."""
        queue_name = func if isinstance(func, str) else getattr(func, "queue_name", None)
        if not isinstance(queue_name, str) or not queue_name:
            raise TypeError(f"expected a funboost booster or a queue name, got {type(func).__name__}")
        return self._add(
            queue_name,
            trigger,
            args,
            kwargs,
            id,
            name,
            misfire_grace_time,
            coalesce,
            max_instances,
            next_run_time,
            jobstore,
            executor,
            replace_existing,
            trigger_args,
        )

    def add_job(
        self,
        func: Any,
        trigger: Any = None,
        args: Optional[Iterable[Any]] = None,
        kwargs: Optional[Mapping[str, Any]] = None,
        id: Optional[str] = None,
        name: Optional[str] = None,
        misfire_grace_time: Any = undefined,
        coalesce: Any = undefined,
        max_instances: Any = undefined,
        next_run_time: Any = undefined,
        jobstore: str = "default",
        executor: str = "default",
        replace_existing: bool = False,
        **trigger_args: Any,
    ) -> EdgeJob:
        """APScheduler's `add_job`, for funboost's push only: `func` is
        `push_fun_params_to_broker` (or its text reference) and `args` start with this
        scheduler's queue name, as funboost documents for its schedulers. Any other function
        is refused (funboost-edge only publishes to funboost queues)."""
        if not _is_push_func(func):
            raise EdgeUnsupported("func", f"{func!r}: funboost-edge only runs funboost's push ({PUSH_FUNC_REF}); use add_push_job")
        all_args = tuple(args) if args is not None else ()
        if not all_args or all_args[0] != self.queue_name:
            raise EdgeUnsupported("args", f"the first argument must be this scheduler's queue name {self.queue_name!r}, got {all_args[:1]!r}")
        return self._add(
            self.queue_name,
            trigger,
            all_args[1:],
            kwargs,
            id,
            name,
            misfire_grace_time,
            coalesce,
            max_instances,
            next_run_time,
            jobstore,
            executor,
            replace_existing,
            trigger_args,
        )

    def _add(
        self,
        queue_name: str,
        trigger: Any,
        args: Optional[Iterable[Any]],
        kwargs: Optional[Mapping[str, Any]],
        id: Optional[str],
        name: Optional[str],
        misfire_grace_time: Any,
        coalesce: Any,
        max_instances: Any,
        next_run_time: Any,
        jobstore: Any,
        executor: Any,
        replace_existing: bool,
        trigger_args: Mapping[str, Any],
    ) -> EdgeJob:
        # APScheduler's order: the trigger, then the job's options, then the job store. (funboost
        # checks the arguments before all of them; here the app checks them, so they come last.)
        body: Dict[str, Any] = {"queue_name": queue_name, "job_store_kind": self.job_store_kind}
        unsupported: Optional[EdgeUnsupported] = None
        try:
            body.update(trigger_request(trigger, trigger_args, self.default_zone))
        except EdgeUnsupported as e:
            unsupported = e  # APScheduler takes it: its options are checked first
        try:
            self._check_job_options(body, queue_name, args, kwargs, id, name, misfire_grace_time, coalesce, max_instances, next_run_time, executor)
        except (TypeError, ValueError):
            if unsupported is None:
                self._check_trigger(body)  # a trigger the app refuses is APScheduler's first error
            raise
        if unsupported is not None:
            raise unsupported
        if jobstore != "default":
            raise KeyError(f"No such job store: {jobstore}")
        body["args"] = _jsonable(list(args) if args is not None else [], "args")
        body["kwargs"] = _jsonable(dict(kwargs) if kwargs is not None else {}, "kwargs")
        if id:
            body["job_id"] = id
        body["replace_existing"] = bool(replace_existing)
        data = self.client.call("POST", "add_timing_job", body=body, job_id=id or None)
        return self._job(data)

    def _check_job_options(
        self,
        body: Dict[str, Any],
        queue_name: str,
        args: Any,
        kwargs: Any,
        id: Any,
        name: Any,
        misfire_grace_time: Any,
        coalesce: Any,
        max_instances: Any,
        next_run_time: Any,
        executor: Any,
    ) -> None:
        """APScheduler's checks of a new job's options (`Job._modify`), in its order; fills
        `body`."""
        if id is not None and not isinstance(id, str):
            raise TypeError("id must be a nonempty string")
        if isinstance(args, str) or (args is not None and not isinstance(args, Iterable)):
            raise TypeError("args must be a non-string iterable")
        if kwargs is not None and (isinstance(kwargs, str) or not isinstance(kwargs, Mapping)):
            raise TypeError("kwargs must be a dict-like object")
        if name is not None:
            _check_name(name, queue_name)
        if not is_undefined(misfire_grace_time):
            body["misfire_grace_time"] = _check_grace(misfire_grace_time)
        if not is_undefined(coalesce):
            body["coalesce"] = bool(coalesce)
        if not is_undefined(max_instances):
            _check_max_instances(max_instances)
        _check_executor(executor)
        if not is_undefined(next_run_time):
            if next_run_time is not None:
                raise EdgeUnsupported(
                    "next_run_time",
                    f"{next_run_time!r}: funboost-edge computes the first run from the trigger; None (add paused) is accepted, "
                    "or add the job and call run_timing_job_now for an extra run now",
                )
            body["paused"] = True

    def _check_trigger(self, body: Mapping[str, Any]) -> None:
        """Raises the app's refusal of the trigger in `body`, if any (a dry run: nothing is
        stored). Only asked on the way to raising another error, to raise APScheduler's first."""
        trigger = {k: v for k, v in body.items() if k not in ("queue_name", "job_store_kind")}
        try:
            self.client.call("POST", "preview_timing_job", body={**trigger, "count": 1})
        except EdgeRefused as refused:
            if refused.error == "InvalidField":
                raise refused from None

    # -- reading ------------------------------------------------------------------------------

    def get_jobs(self, jobstore: Optional[str] = None, pending: Optional[bool] = None) -> List[EdgeJob]:
        """The queue's jobs, by next run time, paused (and finished) ones last."""
        if not self._store_ok(jobstore):
            return []
        data = self.client.call("GET", "get_timing_jobs", params=self._query())
        return [self._job(job) for job in data.get("jobs", [])]

    def get_job(self, job_id: str, jobstore: Optional[str] = None) -> Optional[EdgeJob]:
        """The job, or None when there is none by that id."""
        if not self._store_ok(jobstore):
            return None
        query = self._query(job_id)
        query["count"] = "1"
        try:
            data = self.client.call("GET", "get_timing_job", params=query, job_id=job_id)
        except JobLookupError:
            return None
        return self._job(data)

    def print_jobs(self, jobstore: Optional[str] = None, out: Optional[IO[str]] = None) -> None:
        """APScheduler's `print_jobs`."""
        out = out or sys.stdout
        print("Jobstore default:", file=out)
        jobs = self.get_jobs(jobstore)
        if jobs:
            for job in jobs:
                print(f"    {job}", file=out)
        else:
            print("    No scheduled jobs", file=out)

    # -- changing -----------------------------------------------------------------------------

    def remove_job(self, job_id: str, jobstore: Optional[str] = None) -> None:
        """Removes the job; `JobLookupError` when there is none."""
        if not self._store_ok(jobstore):
            raise JobLookupError(job_id)
        self.client.call("DELETE", "delete_timing_job", params=self._query(job_id), job_id=job_id)

    def remove_all_jobs(self, jobstore: Optional[str] = None) -> None:
        """Removes every job of the queue (in this store)."""
        if not self._store_ok(jobstore):
            return
        self.client.call("DELETE", "delete_all_timing_jobs", params=self._query())

    def pause_job(self, job_id: str, jobstore: Optional[str] = None) -> EdgeJob:
        """Pauses the job: it stays, with no next run time."""
        if not self._store_ok(jobstore):
            raise JobLookupError(job_id)
        return self._job(self.client.call("POST", "pause_timing_job", params=self._query(job_id), job_id=job_id))

    def resume_job(self, job_id: str, jobstore: Optional[str] = None) -> Optional[EdgeJob]:
        """Resumes the job (next run computed from now); when its trigger has no more fire
        times the app removes the job (`data: null`) and None is returned, as APScheduler's
        `resume_job` does."""
        if not self._store_ok(jobstore):
            raise JobLookupError(job_id)
        data = self.client.call("POST", "resume_timing_job", params=self._query(job_id), job_id=job_id)
        return None if data is None else self._job(data)

    def modify_job(self, job_id: str, jobstore: Optional[str] = None, **changes: Any) -> EdgeJob:
        """APScheduler's `modify_job`: `args` (the queue name first, as funboost stores them),
        `kwargs`, `misfire_grace_time`, `coalesce`, and `next_run_time=None` (pauses). The
        defaults of what the app does not keep are accepted (`name`, `max_instances=1`,
        `executor='default'`, funboost's `func`); anything else is refused
        (`EdgeUnsupported`): a `trigger` (use `reschedule_job`, which recomputes the next run,
        where APScheduler's `modify_job(trigger=...)` keeps it) or a `next_run_time` of your
        own. Either all the changes are made or none."""
        if not self._store_ok(jobstore):
            raise JobLookupError(job_id)
        try:
            body, pause = self._modify_body(job_id, changes)
        except (TypeError, ValueError, AttributeError):
            # APScheduler looks the job up before it validates the changes.
            self._lookup(job_id, jobstore)
            raise
        if body:
            job = self._job(self.client.call("POST", "modify_timing_job", params=self._query(job_id), body=body, job_id=job_id))
        else:
            job = self._lookup(job_id, jobstore)
        if pause:
            job = self.pause_job(job_id)
        return job

    def _modify_body(self, job_id: str, changes: Mapping[str, Any]) -> Tuple[Dict[str, Any], bool]:
        changes = dict(changes)
        body: Dict[str, Any] = {}
        pause = False
        if "id" in changes:
            value = changes.pop("id")
            if not isinstance(value, str):
                raise TypeError("id must be a nonempty string")
            raise ValueError("The job ID may not be changed")
        if "func" in changes:
            func = changes.pop("func")
            if not _is_push_func(func):
                raise EdgeUnsupported("func", f"{func!r}: funboost-edge only runs funboost's push ({PUSH_FUNC_REF})")
        if "args" in changes:
            args = changes.pop("args")
            if isinstance(args, str) or not isinstance(args, Iterable):
                raise TypeError("args must be a non-string iterable")
            all_args = tuple(args)
            kwargs_given = changes.get("kwargs") if isinstance(changes.get("kwargs"), Mapping) else {}
            if not all_args and "queue_name" not in (kwargs_given or {}):
                raise ValueError("The following arguments have not been supplied: queue_name")
            if not all_args or all_args[0] != self.queue_name:
                raise EdgeUnsupported(
                    "args",
                    f"the first argument is the queue the job pushes to ({self.queue_name!r}, as funboost stores it); "
                    f"got {all_args[:1]!r}: funboost-edge cannot move a job to another queue",
                )
            body["args"] = _jsonable(list(all_args[1:]), "args")
        if "kwargs" in changes:
            kwargs = changes.pop("kwargs")
            if isinstance(kwargs, str) or not isinstance(kwargs, Mapping):
                raise TypeError("kwargs must be a dict-like object")
            body["kwargs"] = _jsonable(dict(kwargs), "kwargs")
        if "name" in changes:
            _check_name(changes.pop("name"), self.queue_name)
        if "misfire_grace_time" in changes:
            body["misfire_grace_time"] = _check_grace(changes.pop("misfire_grace_time"))
        if "coalesce" in changes:
            body["coalesce"] = bool(changes.pop("coalesce"))
        if "max_instances" in changes:
            _check_max_instances(changes.pop("max_instances"))
        if "trigger" in changes:
            trigger = changes.pop("trigger")
            if isinstance(trigger, str):
                raise TypeError(f"Expected a trigger instance, got {trigger.__class__.__name__} instead")
            raise EdgeUnsupported(
                "trigger",
                "modify_job(trigger=...) keeps the job's next run time in APScheduler, which funboost-edge cannot do; "
                "use reschedule_job (the next run computed from now)",
            )
        if "executor" in changes:
            _check_executor(changes.pop("executor"))
        if "next_run_time" in changes:
            value = changes.pop("next_run_time")
            if value is not None and not isinstance(value, (str, dt.date)):
                raise TypeError(f"Unsupported type for next_run_time: {value.__class__.__name__}")
            if value is not None:
                raise EdgeUnsupported(
                    "next_run_time",
                    f"{value!r}: funboost-edge computes next run times from the trigger; None (pause) is accepted",
                )
            pause = True
        if changes:
            raise AttributeError("The following are not modifiable attributes of Job: {}".format(", ".join(changes)))
        return body, pause

    def reschedule_job(self, job_id: str, jobstore: Optional[str] = None, trigger: Any = None, **trigger_args: Any) -> EdgeJob:
        """A new trigger, the next run computed from now; a paused job is resumed (the app
        does it, as APScheduler's `reschedule_job` does)."""
        body = trigger_request(trigger, trigger_args, self.default_zone)
        if not self._store_ok(jobstore):
            raise JobLookupError(job_id)
        return self._job(self.client.call("POST", "reschedule_timing_job", params=self._query(job_id), body=body, job_id=job_id))

    # -- the queue's scheduler ----------------------------------------------------------------

    def pause(self) -> None:
        """Pauses the queue's scheduler (`pause_scheduler`): none of its jobs fires, on any
        replica, until `resume()`; they stay listed and editable."""
        self.client.call("POST", "pause_scheduler", params=self._query())

    def resume(self) -> None:
        """Resumes the queue's scheduler (`resume_scheduler`); what came due meanwhile follows
        each job's misfire_grace_time and coalesce, as after APScheduler's `resume()`."""
        self.client.call("POST", "resume_scheduler", params=self._query())

    @property
    def state(self) -> int:
        """APScheduler's state codes from `get_scheduler_status`: 1 running, 2 paused (the
        queue's switch), 0 stopped (the app has not ticked for 90 s)."""
        data = self.client.call("GET", "get_scheduler_status", params=self._query())
        return int(data["status_code"])

    @property
    def running(self) -> bool:
        """APScheduler's `running`: the state is not stopped."""
        return self.state != STATE_STOPPED

    def __repr__(self) -> str:
        return f"<EdgeScheduler queue={self.queue_name!r} store={self.job_store_kind!r} at {self.client.base_url}>"
