"""EdgeJobAdder and its aps_obj against a fake app: the requests they send and what they make of
the answers (the real app: tests/python_client_matches_funboost.rs)."""

import datetime as dt
import json
import os
import subprocess
import sys
from zoneinfo import ZoneInfo

import pytest
import requests
from apscheduler.jobstores.base import ConflictingIdError as ApsConflictingIdError
from apscheduler.jobstores.base import JobLookupError as ApsJobLookupError

import funboost_edge
from funboost_edge import (
    ConflictingIdError,
    EdgeInvalid,
    EdgeJobAdder,
    EdgeRefused,
    EdgeUnsupported,
    JobLookupError,
)
from funboost_edge.jobs import parse_time

QUEUE = "orders"


def envelope(data=None, succ=True, code=200, error=None, msg="ok", error_data=None):
    return {"succ": succ, "msg": msg, "data": data, "code": code, "error": error, "error_data": error_data, "traceback": None, "trace_id": None}


def job_data(job_id="j1", **over):
    data = {
        "job_id": job_id,
        "queue_name": QUEUE,
        "trigger": "cron",
        "trigger_str": "cron[hour='9']",
        "hour": "9",
        "next_run_time": "2030-03-10 09:00:00-04:00",
        "status": "running",
        "args": [1],
        "kwargs": {"y": 2},
        "job_store_kind": "redis",
        "timezone": "America/New_York",
        "misfire_grace_time": 1,
        "coalesce": True,
        "broker_kind": "REDIS",
        "fire_count": 0,
    }
    data.update(over)
    return data


class FakeResponse:
    def __init__(self, status, body):
        self.status_code = status
        self._body = body
        self.text = body if isinstance(body, str) else json.dumps(body)

    def json(self):
        if isinstance(self._body, str):
            raise ValueError("not JSON")
        return self._body


class FakeApp(requests.Session):
    """Answers from `routes`: route -> (status, envelope) or a callable(call) -> that."""

    def __init__(self, routes):
        super().__init__()
        self.routes = routes
        self.calls = []

    def request(self, method, url, params=None, json=None, headers=None, timeout=None, **kwargs):  # noqa: A002
        assert "data" not in kwargs, "bodies go as json="
        route = url.rsplit("/", 1)[1]
        call = {"method": method, "url": url, "route": route, "params": params, "json": json, "headers": headers}
        self.calls.append(call)
        answer = self.routes[route]
        status, body = answer(call) if callable(answer) else answer
        return FakeResponse(status, body)

    def routes_called(self):
        return [c["route"] for c in self.calls]


def adder(routes, **kwargs):
    app = FakeApp(routes)
    kwargs.setdefault("base_url", "http://edge.test:3000")
    return EdgeJobAdder(QUEUE, "redis", session=app, **kwargs), app


class Booster:
    queue_name = QUEUE


# -- the adder ----------------------------------------------------------------------------------


def test_constructor_takes_a_booster_or_a_queue_name_and_apsjobadders_arguments():
    a = EdgeJobAdder(Booster(), job_store_kind="redis", is_auto_start=True, is_auto_paused=True, base_url="http://x:1/funboost/")
    assert (a.queue_name, a.job_store_kind, a.client.base_url) == (QUEUE, "redis", "http://x:1/funboost")
    assert EdgeJobAdder("q").job_store_kind == "memory", "funboost's default"
    with pytest.raises(ValueError, match="Unsupported job_store_kind"):
        EdgeJobAdder("q", job_store_kind="sqlite")
    with pytest.raises(TypeError):
        EdgeJobAdder(object())


def test_where_the_app_is_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("FUNBOOST_EDGE_URL", "http://from-env:3000")
    monkeypatch.setenv("FUNBOOST_EDGE_TOKEN", "sekret")
    app = FakeApp({"get_scheduler_status": (200, envelope({"queue_name": QUEUE, "status_code": 1, "status_str": "running"}))})
    a = EdgeJobAdder(QUEUE, "redis", session=app)
    assert a.aps_obj.state == 1
    call = app.calls[0]
    assert call["url"] == "http://from-env:3000/funboost/get_scheduler_status"
    assert call["headers"]["Authorization"] == "Bearer sekret"
    assert call["params"] == {"queue_name": QUEUE, "job_store_kind": "redis"}


def test_add_push_job_sends_the_add_request_and_returns_the_job_as_apscheduler_shapes_it():
    a, app = adder({"add_timing_job": (200, envelope(job_data()))})
    job = a.add_push_job("cron", args=(1,), kwargs={"y": 2}, id="j1", misfire_grace_time=None, coalesce=0, max_instances=1, replace_existing=True, hour=9, timezone="America/New_York")
    body = app.calls[0]["json"]
    assert body == {
        "queue_name": QUEUE,
        "job_store_kind": "redis",
        "trigger": "cron",
        "hour": 9,
        "timezone": "America/New_York",
        "misfire_grace_time": None,
        "coalesce": False,
        "args": [1],
        "kwargs": {"y": 2},
        "job_id": "j1",
        "replace_existing": True,
    }
    assert (job.id, job.name) == ("j1", f"push_fun_params_to_broker_for_queue_{QUEUE}")
    assert job.args == (QUEUE, 1), "the queue name first, as funboost stores the push's arguments"
    assert job.kwargs == {"y": 2}
    assert str(job.trigger) == "cron[hour='9']"
    assert job.next_run_time == dt.datetime(2030, 3, 10, 9, 0, tzinfo=ZoneInfo("America/New_York"))
    assert job.next_run_time.tzinfo == ZoneInfo("America/New_York")
    assert str(job) == f"push_fun_params_to_broker_for_queue_{QUEUE} (trigger: cron[hour='9'], next run at: 2030-03-10 09:00:00 EDT)"
    assert repr(job) == f"<Job (id=j1 name=push_fun_params_to_broker_for_queue_{QUEUE})>"
    assert (job.misfire_grace_time, job.coalesce, job.max_instances, job.executor, job.pending) == (1, True, 1, "default", False)


def test_next_run_time_none_adds_paused_and_no_id_lets_the_app_choose():
    a, app = adder({"add_timing_job": (200, envelope(job_data(job_id="0123abcd", status="paused", next_run_time=None)))})
    job = a.add_push_job("interval", kwargs={"x": 1}, next_run_time=None, minutes=5)
    assert app.calls[0]["json"]["paused"] is True
    assert "job_id" not in app.calls[0]["json"]
    assert job.next_run_time is None
    assert str(job).endswith(", paused)")


@pytest.mark.parametrize(
    "option, field",
    [
        ({"max_instances": 3}, "max_instances"),
        ({"executor": "processpool"}, "executor"),
        ({"name": "my job"}, "name"),
        ({"next_run_time": dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)}, "next_run_time"),
    ],
)
def test_options_the_app_cannot_honour_are_refused_and_nothing_is_stored(option, field):
    a, app = adder({"preview_timing_job": (200, envelope({}))})
    with pytest.raises(EdgeUnsupported) as refused:
        a.add_push_job("interval", args=(1,), seconds=5, **option)
    assert refused.value.field == field
    assert isinstance(refused.value, EdgeRefused) and isinstance(refused.value, ValueError)
    # Only a dry run of the trigger (a bad trigger would be APScheduler's first error).
    assert app.routes_called() == ["preview_timing_job"]


def test_apschedulers_defaults_are_accepted_silently():
    a, app = adder({"add_timing_job": (200, envelope(job_data()))})
    a.add_push_job("interval", args=(1,), seconds=5, max_instances=1, executor="default", jobstore="default", name=f"push_fun_params_to_broker_for_queue_{QUEUE}")
    assert app.routes_called() == ["add_timing_job"]


def test_apschedulers_own_errors_for_bad_options():
    a, app = adder({"preview_timing_job": (200, envelope({}))})
    with pytest.raises(TypeError, match="misfire_grace_time must be either None or a positive integer"):
        a.add_push_job("interval", args=(1,), seconds=5, misfire_grace_time=0)
    assert app.routes_called() == ["preview_timing_job"], "the trigger is checked first, as APScheduler builds it first"
    with pytest.raises(TypeError, match="max_instances must be a positive integer"):
        a.add_push_job("interval", args=(1,), seconds=5, max_instances=0)
    with pytest.raises(KeyError, match="No such job store: other"):
        a.add_push_job("interval", args=(1,), seconds=5, jobstore="other")
    with pytest.raises(TypeError, match="args must be a non-string iterable"):
        a.add_push_job("interval", args="12", seconds=5)


def test_a_refused_trigger_is_the_first_error_as_in_apscheduler():
    refusal = envelope(succ=False, code=4000, error="InvalidField", msg="minute: Error validating expression '61'", error_data={"field": "minute"})
    a, app = adder({"preview_timing_job": (400, refusal)})
    with pytest.raises(EdgeInvalid) as refused:
        a.add_push_job("cron", args=(1,), minute="61", misfire_grace_time=-1)
    assert refused.value.field == "minute"


def test_arguments_that_json_cannot_carry_are_refused():
    a, app = adder({})
    with pytest.raises(EdgeUnsupported) as refused:
        a.add_push_job("interval", kwargs={"x": {1, 2}}, seconds=5)
    assert refused.value.field == "kwargs"
    assert app.calls == []


# -- refusals -----------------------------------------------------------------------------------


def test_a_duplicate_id_raises_apschedulers_conflictingiderror():
    refusal = envelope(succ=False, code=4090, error="ConflictingIdError", msg="timing job j1 exists")
    a, _ = adder({"add_timing_job": (409, refusal)})
    with pytest.raises(ConflictingIdError) as raised:
        a.add_push_job("interval", args=(1,), id="j1", seconds=5)
    assert isinstance(raised.value, ApsConflictingIdError), "APScheduler's own class when it is installed"
    assert isinstance(raised.value, EdgeRefused) and raised.value.code == 4090 and raised.value.status == 409
    assert str(raised.value) == "'Job identifier (j1) conflicts with an existing job'"


def test_an_unknown_id_raises_apschedulers_joblookuperror_and_get_job_returns_none():
    missing = (404, envelope(succ=False, code=4040, error="JobLookupError", msg="No job by the id of nope was found in queue orders"))
    a, _ = adder({"delete_timing_job": missing, "get_timing_job": missing, "pause_timing_job": missing, "resume_timing_job": missing})
    for call in (a.aps_obj.remove_job, a.aps_obj.pause_job, a.aps_obj.resume_job):
        with pytest.raises(JobLookupError) as raised:
            call("nope")
        assert isinstance(raised.value, ApsJobLookupError)
        assert str(raised.value) == "'No job by the id of nope was found'"
    assert a.aps_obj.get_job("nope") is None
    assert a.aps_obj.get_job("j1", jobstore="other") is None
    with pytest.raises(JobLookupError):
        a.aps_obj.remove_job("j1", jobstore="other")


def test_refusals_carry_the_apps_error_code_message_and_field():
    refusal = envelope(
        succ=False,
        code=5001,
        error="FuncParamsError",
        msg="Invalid parameters for the consuming function of queue orders: z is not a parameter",
        error_data={"field": "kwargs", "unknown": ["z"]},
    )
    a, _ = adder({"add_timing_job": (400, refusal)})
    with pytest.raises(EdgeRefused) as raised:
        a.add_push_job("interval", kwargs={"x": 1, "z": 2}, seconds=5)
    e = raised.value
    assert (e.error, e.code, e.field, e.status) == ("FuncParamsError", 5001, "kwargs", 400)
    assert e.error_data == {"field": "kwargs", "unknown": ["z"]}
    assert "z is not a parameter" in str(e)


def test_an_answer_that_is_not_an_envelope_is_a_refusal():
    a, _ = adder({"get_timing_jobs": (502, "<html>bad gateway</html>")})
    with pytest.raises(EdgeRefused) as raised:
        a.aps_obj.get_jobs()
    assert (raised.value.error, raised.value.status) == ("BadResponse", 502)


# -- the scheduler's methods --------------------------------------------------------------------


def test_get_jobs_lists_the_queues_jobs():
    listing = {"jobs": [job_data("a"), job_data("b", status="paused", next_run_time=None)], "count": 2}
    a, app = adder({"get_timing_jobs": (200, envelope(listing))})
    jobs = a.aps_obj.get_jobs()
    assert [j.id for j in jobs] == ["a", "b"]
    assert jobs[1].next_run_time is None
    assert app.calls[0]["params"] == {"queue_name": QUEUE, "job_store_kind": "redis"}
    assert a.aps_obj.get_jobs(jobstore="elsewhere") == []


def test_pause_resume_remove_and_remove_all():
    routes = {
        "pause_timing_job": (200, envelope(job_data(status="paused", next_run_time=None))),
        "resume_timing_job": (200, envelope(job_data())),
        "delete_timing_job": (200, envelope(None)),
        "delete_all_timing_jobs": (200, envelope({"deleted_count": 3, "failed_jobs": []})),
        "pause_scheduler": (200, envelope({"queue_name": QUEUE, "status_str": "paused"})),
        "resume_scheduler": (200, envelope({"queue_name": QUEUE, "status_str": "running"})),
    }
    a, app = adder(routes)
    assert a.aps_obj.pause_job("j1").next_run_time is None
    assert a.aps_obj.resume_job("j1").next_run_time is not None
    assert a.aps_obj.remove_job("j1") is None
    assert a.aps_obj.remove_all_jobs() is None
    assert a.aps_obj.pause() is None and a.aps_obj.resume() is None
    assert app.routes_called() == ["pause_timing_job", "resume_timing_job", "delete_timing_job", "delete_all_timing_jobs", "pause_scheduler", "resume_scheduler"]
    assert all(c["json"] is None for c in app.calls)
    assert app.calls[0]["params"] == {"queue_name": QUEUE, "job_store_kind": "redis", "job_id": "j1"}


def test_resuming_a_job_with_no_more_fire_times_removes_it_as_apscheduler_does():
    # The app removes it and answers data: null, with a msg saying so: one call.
    removed = envelope(None, msg="timing job j1 in queue orders removed: its trigger has no more fire times (as APScheduler's resume_job does)")
    a, app = adder({"resume_timing_job": (200, removed)})
    assert a.aps_obj.resume_job("j1") is None
    assert app.routes_called() == ["resume_timing_job"]
    job = funboost_edge.EdgeJob(a.aps_obj, job_data(status="paused", next_run_time=None))
    assert job.resume() is job and app.routes_called() == ["resume_timing_job", "resume_timing_job"]


def test_reschedule_resumes_a_paused_job_as_apscheduler_does():
    # The app resumes it (reschedule_job sets the new next run time): one call.
    routes = {"reschedule_timing_job": (200, envelope(job_data(trigger="interval", trigger_str="interval[0:00:30]")))}
    a, app = adder(routes)
    job = a.aps_obj.reschedule_job("j1", trigger="interval", seconds=30)
    assert app.calls[0]["json"] == {"trigger": "interval", "seconds": 30}
    assert app.routes_called() == ["reschedule_timing_job"]
    assert str(job.trigger) == "interval[0:00:30]" and job.next_run_time is not None


def test_modify_job_maps_apschedulers_changes():
    routes = {
        "modify_timing_job": (200, envelope(job_data(args=[7], kwargs={"y": 8}))),
        "pause_timing_job": (200, envelope(job_data(status="paused", next_run_time=None))),
        "get_timing_job": (200, envelope(job_data())),
    }
    a, app = adder(routes)
    job = a.aps_obj.modify_job("j1", args=(QUEUE, 7), kwargs={"y": 8}, misfire_grace_time=30, coalesce=0, next_run_time=None)
    assert app.calls[0]["json"] == {"args": [7], "kwargs": {"y": 8}, "misfire_grace_time": 30, "coalesce": False}
    assert app.routes_called() == ["modify_timing_job", "pause_timing_job"]
    assert job.next_run_time is None
    app.calls.clear()
    assert a.aps_obj.modify_job("j1").id == "j1"
    assert app.routes_called() == ["get_timing_job"], "no change: the job as it is"


def test_modify_job_refusals():
    a, app = adder({"get_timing_job": (200, envelope(job_data()))})
    with pytest.raises(EdgeUnsupported) as refused:
        a.aps_obj.modify_job("j1", args=("other_queue", 1))
    assert refused.value.field == "args"
    with pytest.raises(ValueError, match="queue_name"):
        a.aps_obj.modify_job("j1", args=())
    with pytest.raises(EdgeUnsupported):
        a.aps_obj.modify_job("j1", trigger=object())
    with pytest.raises(EdgeUnsupported):
        a.aps_obj.modify_job("j1", next_run_time=dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc))
    with pytest.raises(AttributeError, match="not modifiable attributes of Job: color"):
        a.aps_obj.modify_job("j1", color="red")
    with pytest.raises(ValueError, match="The job ID may not be changed"):
        a.aps_obj.modify_job("j1", id="j2")
    assert "modify_timing_job" not in app.routes_called()


def test_modify_job_looks_the_job_up_before_it_validates_as_apscheduler_does():
    missing = (404, envelope(succ=False, code=4040, error="JobLookupError", msg="no such job"))
    a, _ = adder({"get_timing_job": missing})
    with pytest.raises(JobLookupError):
        a.aps_obj.modify_job("nope", color="red")


def test_state_and_running():
    states = iter([2, 0])
    a, _ = adder({"get_scheduler_status": lambda call: (200, envelope({"queue_name": QUEUE, "status_code": next(states)}))})
    assert a.aps_obj.state == 2
    assert a.aps_obj.running is False


def test_add_job_takes_funboosts_push_only():
    a, app = adder({"add_timing_job": (200, envelope(job_data()))})
    a.aps_obj.add_job("funboost.timing_job.timing_job_base:push_fun_params_to_broker", "cron", args=(QUEUE, 1), hour=9)
    assert app.calls[0]["json"]["args"] == [1]
    with pytest.raises(EdgeUnsupported):
        a.aps_obj.add_job("time:sleep", "interval", args=(1,), seconds=1)
    with pytest.raises(EdgeUnsupported):
        a.aps_obj.add_job("funboost.timing_job.timing_job_base:push_fun_params_to_broker", "cron", args=("another", 1), hour=9)


def test_job_methods_act_through_the_scheduler():
    routes = {
        "add_timing_job": (200, envelope(job_data())),
        "pause_timing_job": (200, envelope(job_data(status="paused", next_run_time=None))),
        "delete_timing_job": (200, envelope(None)),
    }
    a, app = adder(routes)
    job = a.add_push_job("cron", args=(1,), id="j1", hour=9)
    assert job.pause() is job and job.next_run_time is None
    job.remove()
    assert app.routes_called() == ["add_timing_job", "pause_timing_job", "delete_timing_job"]


# -- times --------------------------------------------------------------------------------------


def test_times_are_read_in_the_jobs_zone_keeping_dst_gap_wall_times():
    # APScheduler returns a wall time in a DST gap as it is (01:00 GMT that does not exist).
    t = parse_time("2030-03-31 01:00:00+00:00", "Europe/London")
    assert (str(t), t.strftime("%Z"), t.tzinfo) == ("2030-03-31 01:00:00+00:00", "GMT", ZoneInfo("Europe/London"))
    t = parse_time("2030-11-03 01:30:00-05:00", "America/New_York")
    assert (t.fold, t.strftime("%Z")) == (1, "EST")
    t = parse_time("2030-06-01 08:00:00.000250+05:30", "+05:30")
    assert (t.microsecond, t.strftime("%Z")) == (250, "UTC+05:30")
    assert parse_time("2030-06-01 08:00:00+00:00", "UTC").tzinfo is dt.timezone.utc
    assert parse_time(None) is None


def test_without_apscheduler_the_errors_are_its_namesakes():
    code = (
        "import sys; sys.modules['apscheduler'] = None\n"
        "from funboost_edge import ConflictingIdError, JobLookupError\n"
        "assert ConflictingIdError.__module__ == 'funboost_edge.errors'\n"
        "assert issubclass(JobLookupError, KeyError)\n"
        "assert str(ConflictingIdError('a')) == \"'Job identifier (a) conflicts with an existing job'\"\n"
        "assert str(JobLookupError('a')) == \"'No job by the id of a was found'\"\n"
        "from funboost_edge import EdgeJobAdder; EdgeJobAdder('q', 'redis')\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_the_package_is_typed_and_versioned():
    root = os.path.dirname(funboost_edge.__file__)
    assert os.path.isfile(os.path.join(root, "py.typed"))
    assert funboost_edge.__version__ == "0.1.0"


def test_the_package_is_python_3_9_syntax():
    import ast

    root = os.path.dirname(funboost_edge.__file__)
    for name in sorted(os.listdir(root)):
        if name.endswith(".py"):
            with open(os.path.join(root, name), encoding="utf-8") as f:
                ast.parse(f.read(), filename=name, feature_version=(3, 9))
