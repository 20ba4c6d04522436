"""The exceptions: APScheduler's two lookup errors, and one type for every refusal.

`ConflictingIdError` and `JobLookupError` are APScheduler's own classes when APScheduler is
installed (so `except apscheduler.jobstores.base.JobLookupError` keeps working), same-named
`KeyError` subclasses with the same messages otherwise. What funboost-edge raises for them is
also an `EdgeRefused`, carrying the app's answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Optional

__all__ = ["ConflictingIdError", "EdgeInvalid", "EdgeRefused", "EdgeUnsupported", "JobLookupError"]

if TYPE_CHECKING:

    class ConflictingIdError(KeyError):
        def __init__(self, job_id: str) -> None: ...

    class JobLookupError(KeyError):
        def __init__(self, job_id: str) -> None: ...

else:
    try:
        from apscheduler.jobstores.base import ConflictingIdError, JobLookupError
    except ImportError:

        class ConflictingIdError(KeyError):
            """Raised when the uniqueness of job IDs is being violated (APScheduler's text)."""

            def __init__(self, job_id):
                super().__init__(f"Job identifier ({job_id}) conflicts with an existing job")

        class JobLookupError(KeyError):
            """Raised when the job store cannot find a job (APScheduler's text)."""

            def __init__(self, job_id):
                super().__init__(f"No job by the id of {job_id} was found")


class EdgeRefused(Exception):
    """funboost-edge refused a call, or the client refused an option the app cannot honour.

    Attributes: `error` (the envelope's kind: `InvalidField`, `FuncParamsError`,
    `QueueNameNotExists`, `JobLookupError`, `ConflictingIdError`, `Unauthorized`, ...), `msg`
    (the app's sentence), `code` (the envelope's code: 4000, 5001, 4001, 4040, 4090, ...),
    `field` (`error_data.field`: the request field at fault, when there is one), `status`
    (the HTTP status), `error_data` (the whole `error_data` object).
    """

    def __init__(
        self,
        msg: str,
        *,
        error: Optional[str] = None,
        code: Optional[int] = None,
        field: Optional[str] = None,
        status: Optional[int] = None,
        error_data: Optional[Dict[str, Any]] = None,
    ) -> None:
        super().__init__(msg)
        self._set_edge(msg, error, code, field, status, error_data)

    def _set_edge(
        self,
        msg: str,
        error: Optional[str],
        code: Optional[int],
        field: Optional[str],
        status: Optional[int],
        error_data: Optional[Dict[str, Any]],
    ) -> None:
        self.msg = msg
        self.error = error
        self.code = code
        self.field = field
        self.status = status
        self.error_data = error_data

    def __str__(self) -> str:
        where = f" [{self.error} {self.code}]" if self.error or self.code else ""
        return f"{self.msg}{where}"


class EdgeInvalid(EdgeRefused, ValueError):
    """The app refused a value (`InvalidField`, HTTP 400: a bad cron expression, run_date, time
    zone, a field of another trigger, ...); also a `ValueError`, as APScheduler raises for them."""


class EdgeUnsupported(EdgeRefused, ValueError):
    """An APScheduler option or value funboost-edge cannot honour (a `max_instances` other than
    1, an `executor` or job `name` of your own, an explicit `next_run_time`, ...). Raised by the
    client before anything is sent; `field` names the option, `error` is `Unsupported`."""

    def __init__(self, field: str, msg: str) -> None:
        super().__init__(f"{field}: {msg}", error="Unsupported", field=field)


class EdgeConflictingIdError(ConflictingIdError, EdgeRefused):
    """APScheduler's `ConflictingIdError`, as funboost-edge answered it (409)."""

    def __init__(self, job_id: str, *, msg: str, code: Optional[int], status: Optional[int], error_data: Optional[Dict[str, Any]]) -> None:
        ConflictingIdError.__init__(self, job_id)
        self._set_edge(msg, "ConflictingIdError", code, (error_data or {}).get("field"), status, error_data)

    def __str__(self) -> str:
        return KeyError.__str__(self)


class EdgeJobLookupError(JobLookupError, EdgeRefused):
    """APScheduler's `JobLookupError`, as funboost-edge answered it (404)."""

    def __init__(self, job_id: str, *, msg: str, code: Optional[int], status: Optional[int], error_data: Optional[Dict[str, Any]]) -> None:
        JobLookupError.__init__(self, job_id)
        self._set_edge(msg, "JobLookupError", code, (error_data or {}).get("field"), status, error_data)

    def __str__(self) -> str:
        return KeyError.__str__(self)
