"""Job files (funboost_edge.jobfile) and the `funboost-edge` command (funboost_edge.cli) against a
fake app (the real app: tests/jobs_as_code_from_a_file.rs)."""

import importlib
import json
import re
from pathlib import Path

import pytest
import requests

from funboost_edge import cli, jobfile
from funboost_edge.jobfile import JobFileError, dump, format_of, parse

README = Path(__file__).resolve().parents[1] / "README.md"


# -- reading ------------------------------------------------------------------------------------


def test_the_help_example_reads_as_the_jobs_it_describes():
    text = cli.FILE_FORMAT_HELP.split("  # jobs.toml\n", 1)[1].split("\nYAML:", 1)[0]
    toml = "\n".join(line[2:] for line in text.splitlines())
    jobs = parse(toml, "toml", "help")
    assert jobs.queue_name == "orders"
    assert jobs.jobs == [
        {"job_id": "weekday_morning", "trigger": "cron", "day_of_week": "mon-fri", "hour": 9, "kwargs": {"x": 1, "y": 2}},
        {"job_id": "every_10_minutes", "trigger": "interval", "minutes": 10, "args": [1, 2], "misfire_grace_time": 60, "paused": True},
        {
            "job_id": "twice_a_day",
            "queue_name": "reports",
            "trigger": "or",
            "triggers": [{"trigger": "cron", "hour": 9}, {"trigger": "cron", "hour": 17, "minute": 30}],
        },
    ]


def readme_blocks(language):
    text = README.read_text(encoding="utf-8")
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def test_the_readme_examples_in_toml_yaml_and_json_are_the_same_jobs():
    toml = [b for b in readme_blocks("toml") if "[[jobs]]" in b]
    yaml = [b for b in readme_blocks("yaml") if "jobs:" in b]
    assert toml and yaml, "the README shows a TOML and a YAML job file"
    from_toml = parse(toml[0], "toml", "README.md")
    from_yaml = parse(yaml[0], "yaml", "README.md")
    assert (from_toml.queue_name, from_toml.jobs) == (from_yaml.queue_name, from_yaml.jobs)
    assert len(from_toml.jobs) >= 4
    kinds = {job["trigger"] for job in from_toml.jobs}
    assert {"cron", "interval", "date", "or"} <= kinds, kinds


def test_dates_become_the_apps_date_strings():
    toml = """
[[jobs]]
job_id = "a"
trigger = "date"
run_date = 2030-12-03T15:00:00.25

[[jobs]]
job_id = "b"
trigger = "interval"
start_date = 2030-12-03 15:00:00+05:30
end_date = 2031-01-01
timezone = "UTC"

[[jobs]]
job_id = "c"
trigger = "or"
triggers = [{ trigger = "date", run_date = 2030-12-03T15:00:00Z }, { trigger = "calendarinterval", days = 1, start_date = 2030-12-04 }]
misfire_grace_time = "none"
"""
    jobs = parse(toml, "toml", "t.toml").jobs
    assert jobs[0]["run_date"] == "2030-12-03 15:00:00.250000"
    assert (jobs[1]["start_date"], jobs[1]["end_date"]) == ("2030-12-03 15:00:00+05:30", "2031-01-01")
    assert jobs[2]["triggers"] == [{"trigger": "date", "run_date": "2030-12-03 15:00:00Z"}, {"trigger": "calendarinterval", "days": 1, "start_date": "2030-12-04"}]
    assert jobs[2]["misfire_grace_time"] is None
    yaml = "jobs:\n- job_id: y\n  trigger: date\n  run_date: 2030-12-03 15:00:00\n  start_date: 2030-12-03\n  misfire_grace_time: None\n"
    assert parse(yaml, "yaml", "y.yaml").jobs == [{"job_id": "y", "trigger": "date", "run_date": "2030-12-03 15:00:00", "start_date": "2030-12-03", "misfire_grace_time": None}]


@pytest.mark.parametrize(
    "text, fmt, message",
    [
        ("jobs = [1]", "toml", "jobs[0] (the 1st job): a job is a table"),
        ("queue_name = 'q'", "toml", "no jobs: add one [[jobs]] table per job"),
        ("jobs = {}", "toml", "jobs must be a list"),
        ("hour = 9\njobs = []", "toml", "unknown top-level key 'hour'"),
        ("queue_name = 5\njobs = []", "toml", "queue_name must be a queue name"),
        ("[[jobs]]\njob_id = 'a'\nkwargs = { when = 2030-01-01T00:00:00 }", "toml", "jobs[0] (the 1st job).kwargs.when: 2030-01-01 00:00:00 is a datetime"),
        ("[[jobs]]\njob_id = 'a'\nrun_date = 10:00:00", "toml", "run_date: 10:00:00 is a time of day without a date"),
        ("[[jobs]]\njob_id = 'a'\nargs = [nan]", "toml", "args[0]: nan is not a JSON number"),
        ("[[jobs]]\njob_id = 'a'\ntriggers = [1]", "toml", "triggers[0]: a trigger part is a table"),
        ("[[jobs]]\njob_id = 'a'\ntrigger = cron", "toml", "not valid TOML"),
        ("jobs:\n- job_id: a\n  kwargs: {1: x}", "yaml", "the key 1 is not a string"),
        ("jobs: [", "yaml", "not valid YAML"),
        ("- job_id: a", "yaml", "the file must be a table with `jobs`"),
        ("{\"jobs\": [}", "json", "not valid JSON"),
    ],
)
def test_what_is_not_a_job_file_is_refused_saying_where(text, fmt, message):
    with pytest.raises(JobFileError) as refused:
        parse(text, fmt, "f")
    assert message in str(refused.value)


def test_an_empty_set_and_the_default_queue():
    jobs = parse("queue_name = 'q'\njobs = []", "toml", "f")
    assert (jobs.queue_name, jobs.jobs) == ("q", [])
    jobs = parse("queue_name = 'q'\n[[jobs]]\njob_id = 'a'\n[[jobs]]\njob_id = 'b'\nqueue_name = 'r'", "toml", "f")
    assert jobs.with_default_queue(None) == [{"job_id": "a", "queue_name": "q"}, {"job_id": "b", "queue_name": "r"}]
    assert jobs.describe(1) == "jobs[1] of f, job_id 'b', queue r"


def test_the_format_comes_from_the_extension_or_format():
    assert [format_of(p, None) for p in ("a.toml", "a.YAML", "a.yml", "a.json")] == ["toml", "yaml", "yaml", "json"]
    assert format_of("-", "yaml") == "yaml" and format_of("a.toml", "json") == "json"
    for path in ("-", "jobs.txt"):
        with pytest.raises(JobFileError):
            format_of(path, None)


def test_a_missing_reader_names_the_extra_to_install(monkeypatch):
    real = importlib.import_module

    def without(*names):
        def import_module(name, *args):
            if name in names:
                raise ImportError(f"No module named {name!r}")
            return real(name, *args)

        return import_module

    monkeypatch.setattr(jobfile.importlib, "import_module", without("tomllib", "tomli"))
    with pytest.raises(JobFileError, match=re.escape("needs the tomli package: pip install 'funboost-edge[toml]'")):
        parse("jobs = []", "toml", "f")
    # Writing TOML needs no reader (the check reading it back is skipped).
    assert dump("toml", "q", [{"job_id": "a"}]) == 'queue_name = "q"\n\n[[jobs]]\njob_id = "a"\n'
    monkeypatch.setattr(jobfile.importlib, "import_module", without("yaml"))
    for call in (lambda: parse("jobs: []", "yaml", "f"), lambda: dump("yaml", None, [])):
        with pytest.raises(JobFileError, match=re.escape("YAML needs the PyYAML package: pip install 'funboost-edge[yaml]'")):
            call()


def test_before_3_11_tomli_reads_toml(monkeypatch):
    real = importlib.import_module
    tomllib = real("tomllib")
    asked = []

    def import_module(name, *args):
        asked.append(name)
        if name == "tomllib":
            raise ImportError("No module named 'tomllib'")
        return tomllib if name == "tomli" else real(name, *args)  # tomli has tomllib's API

    monkeypatch.setattr(jobfile.importlib, "import_module", import_module)
    assert parse("queue_name = 'q'\njobs = []", "toml", "f").queue_name == "q"
    assert asked == ["tomllib", "tomli"]
    with pytest.raises(JobFileError, match="not valid TOML"):
        parse("jobs = [", "toml", "f")


# -- writing ------------------------------------------------------------------------------------

AWKWARD = [
    {
        "job_id": 'quote " backslash \\ tab \t newline \n bell \x07 del \x7f é 🎉',
        "queue_name": "q",
        "trigger": "or",
        "triggers": [{"trigger": "cron", "hour": "9", "timezone": "UTC"}, {"trigger": "and", "triggers": [{"trigger": "cron", "day": "last"}]}],
        "args": [1, -2, 2.5, 1e100, True, "", [], {}],
        "kwargs": {"x": {"with space": [1, {"a.b": "c"}], "": 0, "déjà": "vu"}},
        "misfire_grace_time": None,
        "paused": True,
    },
    {"job_id": "long", "trigger": "interval", "seconds": 5, "kwargs": {f"key{i}": "value " * 3 for i in range(10)}, "user_extra_info": {"a": 1}},
]


@pytest.mark.parametrize("fmt", ["toml", "yaml", "json"])
def test_what_is_written_reads_back_as_the_same_jobs(fmt):
    text = dump(fmt, None, AWKWARD, ["a header"])
    back = parse(text, fmt, "back")
    assert back.queue_name is None and back.jobs == AWKWARD
    scoped = parse(dump(fmt, "q", AWKWARD[1:]), fmt, "back")
    assert (scoped.queue_name, scoped.jobs) == ("q", AWKWARD[1:])


def test_toml_is_written_for_people():
    text = dump("toml", "orders", AWKWARD[1:], ["exported", ""])
    assert text.startswith('# exported\n#\n\nqueue_name = "orders"\n\n[[jobs]]\njob_id = "long"\ntrigger = "interval"\nseconds = 5\n')
    # A long kwargs table goes below the job, one argument a line.
    assert '\n[jobs.kwargs]\nkey0 = "value value value "\n' in text
    assert "user_extra_info = { a = 1 }" in text
    text = dump("toml", None, AWKWARD[:1])
    assert 'triggers = [\n    { trigger = "cron", hour = "9", timezone = "UTC" },\n' in text
    assert 'misfire_grace_time = "none"  # no limit' in text
    assert dump("toml", "q", []) == 'queue_name = "q"\n\njobs = []\n'


def test_yaml_is_written_for_people():
    text = dump("yaml", None, AWKWARD[:1])
    assert "\n  args: [1, -2, 2.5, 1.0e+100, true, '', [], {}]\n" in text
    assert "\n  - {trigger: cron, hour: '9', timezone: UTC}\n" in text


@pytest.mark.parametrize(
    "value, message",
    [({"x": None}, "kwargs.x is null, which TOML cannot write"), ({"x": 2**70}, "beyond TOML's 64 bits")],
)
def test_what_toml_cannot_write_is_refused_naming_yaml(value, message):
    with pytest.raises(JobFileError) as refused:
        dump("toml", None, [{"job_id": "j", "kwargs": value}])
    assert message in str(refused.value) and "--format yaml" in str(refused.value)


# -- export: a listed job -> a job of a file ---------------------------------------------------


def listed(**over):
    view = {
        "job_id": "j",
        "queue_name": "q",
        "trigger": "cron",
        "trigger_str": "cron[hour='9']",
        "hour": "9",
        "next_run_time": "2030-03-10 09:00:00+08:00",
        "status": "running",
        "args": [],
        "kwargs": {"x": 1},
        "job_store_kind": "redis",
        "timezone": "Asia/Shanghai",
        "misfire_grace_time": 1,
        "coalesce": True,
        "broker_kind": "REDIS",
        "fire_count": 7,
        "missed_count": 1,
        "coalesced_count": 0,
        "last_fire_time": "2030-03-09 09:00:00+08:00",
    }
    view.update(over)
    return view


def test_export_gives_what_was_set_not_what_firing_did():
    assert cli.export_entry(listed(), "Asia/Shanghai", None, False) == {"job_id": "j", "trigger": "cron", "hour": "9", "kwargs": {"x": 1}}
    entry = cli.export_entry(
        listed(
            status="paused",
            next_run_time=None,
            timezone="UTC",
            args=[1],
            misfire_grace_time=None,
            coalesce=False,
            broker_kind="REDIS_PRIORITY",
            priority=3,
            task_options={"max_retry_times": 2, "user_extra_info": {"a": None}},
        ),
        "Asia/Shanghai",
        None,
        True,
    )
    assert list(entry.items()) == [
        ("job_id", "j"),
        ("queue_name", "q"),
        ("trigger", "cron"),
        ("hour", "9"),
        ("timezone", "UTC"),
        ("args", [1]),
        ("kwargs", {"x": 1}),
        ("misfire_grace_time", None),
        ("coalesce", False),
        ("broker_kind", "REDIS_PRIORITY"),
        ("priority", 3),
        ("max_retry_times", 2),
        ("user_extra_info", {"a": None}),
        ("paused", True),
    ]
    # The consumer's registered broker kind is the default; a date's fixed offset is in its run_date.
    assert "broker_kind" not in cli.export_entry(listed(broker_kind="REDIS_ACK_ABLE"), None, "REDIS_ACK_ABLE", False)
    date = listed(trigger="date", hour=None, run_date="2031-01-01 10:00:00+05:30", timezone="+05:30")
    assert cli.export_entry(date, "Asia/Shanghai", None, False) == {"job_id": "j", "trigger": "date", "run_date": "2031-01-01 10:00:00+05:30", "kwargs": {"x": 1}}


# -- the command, against a fake app -------------------------------------------------------------


def envelope(data=None, succ=True, code=200, error=None, msg="ok", error_data=None):
    return {"succ": succ, "msg": msg, "data": data, "code": code, "error": error, "error_data": error_data, "traceback": None, "trace_id": None}


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
    def __init__(self, routes):
        super().__init__()
        self.routes = routes
        self.calls = []

    def request(self, method, url, params=None, json=None, headers=None, timeout=None, **kwargs):  # noqa: A002
        route = url.rsplit("/", 1)[1]
        self.calls.append({"method": method, "route": route, "params": params, "json": json, "headers": headers})
        answer = self.routes[route]
        if isinstance(answer, Exception):
            raise answer
        status, body = answer(self.calls[-1]) if callable(answer) else answer
        return FakeResponse(status, body)


@pytest.fixture
def app(monkeypatch):
    fake = FakeApp({})
    real = cli.EdgeClient

    def client(base_url=None, token=None, timeout=10.0, session=None):
        return real(base_url, token, timeout, fake)

    monkeypatch.setattr(cli, "EdgeClient", client)
    monkeypatch.delenv("FUNBOOST_EDGE_URL", raising=False)
    monkeypatch.delenv("FUNBOOST_EDGE_TOKEN", raising=False)
    monkeypatch.delenv("FUNBOOST_EDGE_API_TOKEN", raising=False)
    return fake


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


FILE = 'queue_name = "q"\n\n[[jobs]]\njob_id = "a"\ntrigger = "cron"\nhour = 10\nkwargs = { x = 2 }\n\n[[jobs]]\njob_id = "n"\ntrigger = "cron"\nhour = 1\n'


def test_apply_sends_the_set_and_prints_the_plan_with_what_changes(app, tmp_path, capsys):
    plan = {
        "dry_run": False,
        "applied": True,
        "create": [{"queue_name": "q", "job_id": "n"}],
        "update": [{"queue_name": "q", "job_id": "a", "changes": ["trigger", "kwargs"]}],
        "unchanged": [],
        "delete": [{"queue_name": "q", "job_id": "old"}],
    }
    app.routes.update({"get_timing_jobs": (200, envelope({"jobs": [listed(job_id="a"), listed(job_id="old")]})), "apply_timing_jobs": (200, envelope(plan))})
    path = write(tmp_path, "jobs.toml", FILE)
    assert cli.main(["apply", path, "--prune", "--base-url", "http://edge.test", "--token", "t"]) == 0
    sent = app.calls[-1]
    assert sent["json"] == {
        "jobs": [{"job_id": "a", "trigger": "cron", "hour": 10, "kwargs": {"x": 2}, "queue_name": "q"}, {"job_id": "n", "trigger": "cron", "hour": 1, "queue_name": "q"}],
        "prune": True,
        "dry_run": False,
        "queue_name": "q",
    }
    assert sent["headers"]["Authorization"] == "Bearer t"
    assert app.calls[0]["params"] == {"job_store_kind": "redis", "queue_name": "q"}
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"funboost-edge apply {path} -> http://edge.test/funboost (queue q, prune)",
        "  create     q/n",
        '  update     q/a    trigger: cron[hour="9"] -> cron[hour=10]; kwargs: {"x": 1} -> {"x": 2}',
        "  delete     q/old",
        "applied: created 1, updated 1, unchanged 0, deleted 1",
    ]


def test_a_refusal_names_the_job_and_the_field_and_exits_1(app, tmp_path, capsys):
    refused = envelope(None, False, 4000, "InvalidField", "jobs[1].hour: Error validating expression '25'", {"field": "jobs[1].hour"})
    app.routes.update({"get_timing_jobs": (200, envelope({"jobs": []})), "apply_timing_jobs": (400, refused)})
    path = write(tmp_path, "jobs.toml", FILE)
    assert cli.main(["apply", path]) == 1
    err = capsys.readouterr().err
    assert f"refused {path} (HTTP 400, InvalidField 4000): nothing was applied" in err
    assert f"  job:   jobs[1] of {path}, job_id 'n', queue q\n  field: hour\n  msg:   jobs[1].hour: Error validating expression '25'" in err


def test_usage_errors_and_no_app_exit_2(app, tmp_path, capsys):
    path = write(tmp_path, "jobs.toml", FILE)
    assert cli.main(["apply", path, "--queue", "other"]) == 2
    assert "--queue other differs from the file's queue_name q" in capsys.readouterr().err
    assert cli.main(["apply", write(tmp_path, "bad.toml", "jobs = 1")]) == 2
    app.routes.update({"get_timing_jobs": requests.ConnectionError("refused"), "apply_timing_jobs": requests.ConnectionError("refused")})
    assert cli.main(["apply", path]) == 2
    assert "cannot reach funboost-edge at http://127.0.0.1:3000/funboost" in capsys.readouterr().err
    app.routes.update({"get_timing_jobs": (404, "<html>nginx</html>"), "apply_timing_jobs": (404, "<html>nginx</html>")})
    assert cli.main(["apply", path]) == 2
    assert "not a funboost envelope" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        cli.main(["apply"])
    assert usage.value.code == 2


def test_export_writes_checks_and_flips_a_zone_given_as_the_default(app, tmp_path, capsys):
    jobs = [listed(job_id="b", timezone="Asia/Shanghai"), listed(job_id="a", timezone="Europe/London", status="paused"), listed(job_id="bad", status="error", error="unreadable", trigger=None)]
    plans = []

    def apply(call):
        plans.append(call["json"])
        first = len(plans) == 1
        # The app lists b's zone, but it was given: without it the trigger differs.
        update = [{"queue_name": "q", "job_id": "b", "changes": ["trigger"]}] if first else []
        unchanged = [{"queue_name": "q", "job_id": j["job_id"]} for j in call["json"]["jobs"] if not (first and j["job_id"] == "b")]
        return 200, envelope({"dry_run": True, "applied": False, "create": [], "update": update, "unchanged": unchanged, "delete": []})

    app.routes.update({"get_timing_jobs": (200, envelope({"jobs": jobs})), "health": (200, envelope({"timezone": "Asia/Shanghai"})), "apply_timing_jobs": apply})
    out = tmp_path / "out.toml"
    assert cli.main(["export", "--queue", "q", "-o", str(out)]) == 1, "a job left out"
    err = capsys.readouterr().err
    assert "warning: q/bad: cannot be scheduled or read (unreadable); left out" in err
    assert f"exported 2 jobs of queue q to {out} (toml; checked: applying it leaves all 2 unchanged)" in err
    assert [p["dry_run"] for p in plans] == [True, True] and plans[0]["queue_name"] == "q"
    assert "timezone" not in plans[0]["jobs"][1] and plans[1]["jobs"][1]["timezone"] == "Asia/Shanghai"
    back = parse(out.read_text(encoding="utf-8"), "toml", "out")
    assert back.queue_name == "q"
    assert back.jobs == [
        {"job_id": "a", "trigger": "cron", "hour": "9", "timezone": "Europe/London", "kwargs": {"x": 1}, "paused": True},
        {"job_id": "b", "trigger": "cron", "hour": "9", "timezone": "Asia/Shanghai", "kwargs": {"x": 1}},
    ]
    assert out.read_text(encoding="utf-8").startswith("# funboost-edge timing jobs of queue q, exported from http://127.0.0.1:3000/funboost.\n")


def test_python_dash_m_runs_the_command():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "funboost_edge", "--version"], capture_output=True, text=True, check=False)
    assert (done.returncode, done.stdout.strip()) == (0, "funboost-edge 0.1.0")
    # The console script is what pip installs.
    from importlib.metadata import entry_points

    scripts = [e for e in entry_points(group="console_scripts") if e.name == "funboost-edge"]
    assert [e.value for e in scripts] == ["funboost_edge.cli:run"]

