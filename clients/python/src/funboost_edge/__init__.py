"""funboost's timing jobs on funboost-edge, with funboost's own calls.

Switch with one import line::

    from funboost_edge import EdgeJobAdder as ApsJobAdder

`EdgeJobAdder` takes `ApsJobAdder`'s arguments (a booster or a queue name, `job_store_kind`,
`is_auto_start`, `is_auto_paused`) plus where the app is (`base_url`, `token`, or
`$FUNBOOST_EDGE_URL` / `$FUNBOOST_EDGE_TOKEN`), and answers `add_push_job(...)` and
`aps_obj.get_jobs()`, `get_job`, `remove_job`, `remove_all_jobs`, `pause_job`, `resume_job`,
`modify_job`, `reschedule_job`, `pause()`, `resume()`, `state` as APScheduler answers them.
"""

from .adder import EdgeJobAdder
from .convert import trigger_request, zone_name
from .errors import ConflictingIdError, EdgeInvalid, EdgeRefused, EdgeUnsupported, JobLookupError
from .jobs import EdgeJob, EdgeTrigger
from .scheduler import STATE_PAUSED, STATE_RUNNING, STATE_STOPPED, EdgeScheduler, undefined

__version__ = "0.1.0"

__all__ = [
    "ConflictingIdError",
    "EdgeInvalid",
    "EdgeJob",
    "EdgeJobAdder",
    "EdgeRefused",
    "EdgeScheduler",
    "EdgeTrigger",
    "EdgeUnsupported",
    "JobLookupError",
    "STATE_PAUSED",
    "STATE_RUNNING",
    "STATE_STOPPED",
    "trigger_request",
    "undefined",
    "zone_name",
]
