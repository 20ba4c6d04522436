"""`EdgeJobAdder`: funboost 55's `ApsJobAdder`, with the jobs kept and fired by funboost-edge."""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Optional

import requests

from ._http import EdgeClient
from .jobs import EdgeJob
from .scheduler import EdgeScheduler, undefined

__all__ = ["EdgeJobAdder"]

JOB_STORE_KINDS = ("redis", "memory")


class EdgeJobAdder:
    """funboost's `ApsJobAdder(booster, job_store_kind='memory', is_auto_start=True,
    is_auto_paused=False)`, answered by a funboost-edge app:

        from funboost_edge import EdgeJobAdder as ApsJobAdder

        ApsJobAdder(my_booster, job_store_kind='redis').add_push_job(
            trigger='cron', hour=9, minute=30, args=(1, 2), id='daily', replace_existing=True)

    `booster` is a funboost booster (its `queue_name` is used; funboost need not be installed
    here) or a queue name. `job_store_kind` is `redis` or `memory` (funboost-edge's memory
    store, Spin's key-value store), default `memory` as in funboost; use `redis`.
    `is_auto_start` and `is_auto_paused` start (paused) the local APScheduler of the calling
    process in funboost; here the app keeps and fires the jobs, so they change nothing (the
    queue's switch is `aps_obj.pause()` / `aps_obj.resume()`).

    Where the app is: `base_url` (else `$FUNBOOST_EDGE_URL`, else `http://127.0.0.1:3000`, with
    or without the `/funboost` suffix) and `token` (else `$FUNBOOST_EDGE_TOKEN`, else
    `$FUNBOOST_EDGE_API_TOKEN`; sent as a bearer token). `timeout` is per request, in seconds;
    `session` a `requests.Session` of your own.
    """

    def __init__(
        self,
        booster: Any,
        job_store_kind: str = "memory",
        is_auto_start: bool = True,
        is_auto_paused: bool = False,
        *,
        base_url: Optional[str] = None,
        token: Optional[str] = None,
        timeout: float = 10.0,
        session: Optional[requests.Session] = None,
    ) -> None:
        queue_name = booster if isinstance(booster, str) else getattr(booster, "queue_name", None)
        if not isinstance(queue_name, str) or not queue_name:
            raise TypeError(f"expected a funboost booster (with a queue_name) or a queue name, got {type(booster).__name__}")
        if job_store_kind not in JOB_STORE_KINDS:
            raise ValueError("Unsupported job_store_kind")
        self.booster = booster
        self.queue_name = queue_name
        self.job_store_kind = job_store_kind
        self.is_auto_start = is_auto_start
        self.is_auto_paused = is_auto_paused
        self.client = EdgeClient(base_url, token, timeout, session)
        self._aps = EdgeScheduler(self.client, queue_name, job_store_kind)

    @property
    def aps_obj(self) -> EdgeScheduler:
        """The queue's scheduler, as `ApsJobAdder.aps_obj`: `get_jobs`, `get_job`, `remove_job`,
        `remove_all_jobs`, `pause_job`, `resume_job`, `modify_job`, `reschedule_job`,
        `pause`, `resume`, `state`."""
        return self._aps

    def add_push_job(
        self,
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
        """Adds a job that pushes `args`/`kwargs` to the queue on `trigger`'s schedule:
        APScheduler's `add_job` arguments without the function, as funboost's. The app checks
        the arguments against the consumer's registered parameters (`EdgeRefused`, code 5001),
        as funboost checks them. Returns the job (`EdgeJob`: `id`, `name`, `trigger`,
        `next_run_time`, `args`, `kwargs`, ...). `next_run_time=None` adds it paused.
        Refused before anything is sent (`EdgeUnsupported`): `max_instances` other than 1, an
        `executor` other than 'default', a job `name` of your own, a `next_run_time` other than
        None; another `jobstore` alias raises APScheduler's `KeyError`."""
        return self._aps.add_push_job(
            self.queue_name,
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
            **trigger_args,
        )

    def __repr__(self) -> str:
        return f"<EdgeJobAdder queue={self.queue_name!r} store={self.job_store_kind!r} at {self.client.base_url}>"
