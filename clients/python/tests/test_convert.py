"""Triggers and their values as funboost-edge's JSON (funboost_edge.convert)."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.calendarinterval import CalendarIntervalTrigger
from apscheduler.triggers.combining import AndTrigger, OrTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from funboost_edge import EdgeUnsupported, trigger_request, zone_name

NY = ZoneInfo("America/New_York")
SH = ZoneInfo("Asia/Shanghai")


# -- by name ------------------------------------------------------------------------------------


def test_none_is_a_date_trigger_now():
    assert trigger_request(None, {}) == {"trigger": "date"}


@pytest.mark.parametrize(
    "run_date, expected",
    [
        ("2030-12-03 15:00:00", {"run_date": "2030-12-03 15:00:00"}),
        ("2030-12-03 15:00:00.25+05:30", {"run_date": "2030-12-03 15:00:00.25+05:30"}),
        (dt.datetime(2030, 12, 3, 15, 0, 0, 500), {"run_date": "2030-12-03 15:00:00.000500"}),
        (dt.date(2030, 12, 3), {"run_date": "2030-12-03"}),
        # An aware run_date keeps its own zone, whatever `timezone` says (APScheduler's rule).
        (dt.datetime(2030, 12, 3, 15, 0, tzinfo=NY), {"run_date": "2030-12-03 15:00:00", "timezone": "America/New_York"}),
        (dt.datetime(2030, 12, 3, 15, 0, tzinfo=dt.timezone.utc), {"run_date": "2030-12-03 15:00:00", "timezone": "UTC"}),
        (dt.datetime(2030, 12, 3, 15, 0, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))), {"run_date": "2030-12-03 15:00:00+05:30"}),
        (dt.datetime(2030, 12, 3, 15, 0, tzinfo=dt.timezone(dt.timedelta(hours=-3))), {"run_date": "2030-12-03 15:00:00-03:00"}),
        # The second 01:30 of a repeated hour cannot be told by wall time: it goes as its offset.
        (dt.datetime(2030, 11, 3, 1, 30, fold=1, tzinfo=NY), {"run_date": "2030-11-03 01:30:00-05:00"}),
        (dt.datetime(2030, 11, 3, 1, 30, fold=0, tzinfo=NY), {"run_date": "2030-11-03 01:30:00", "timezone": "America/New_York"}),
    ],
)
def test_date_values(run_date, expected):
    body = trigger_request("date", {"run_date": run_date, "timezone": "Europe/London"})
    want = {"trigger": "date", "timezone": "Europe/London", **expected}
    assert body == want


def test_date_value_of_another_type_is_a_type_error_as_in_apscheduler():
    with pytest.raises(TypeError, match="Unsupported type for run_date: int"):
        trigger_request("date", {"run_date": 20301203})


def test_interval_units():
    assert trigger_request("interval", {"hours": 1, "minutes": 30, "seconds": 0}) == {"trigger": "interval", "hours": 1, "minutes": 30}
    assert trigger_request("interval", {}) == {"trigger": "interval"}
    # Floats are summed as timedelta does; a whole number of seconds is sent as days + seconds.
    assert trigger_request("interval", {"minutes": 1.5}) == {"trigger": "interval", "seconds": 90}
    assert trigger_request("interval", {"days": 1.5, "seconds": 1}) == {"trigger": "interval", "days": 1, "seconds": 43201}
    with pytest.raises(EdgeUnsupported) as refused:
        trigger_request("interval", {"seconds": 0.5})
    assert refused.value.field == "seconds"
    with pytest.raises(TypeError, match="unsupported type for timedelta seconds component: str"):
        trigger_request("interval", {"seconds": "5"})


def test_interval_bounds_zone_and_jitter():
    start = dt.datetime(2030, 3, 9, 23, 0)
    body = trigger_request("interval", {"hours": 2, "start_date": start, "end_date": "2030-03-12", "timezone": NY, "jitter": 5.0})
    assert body == {
        "trigger": "interval",
        "hours": 2,
        "timezone": "America/New_York",
        "start_date": "2030-03-09 23:00:00",
        "end_date": "2030-03-12",
        "jitter": 5,
    }
    # An aware bound in the trigger's zone is wall time (compared by wall time, as in Python);
    # in another zone it is an instant.
    body = trigger_request("interval", {"hours": 2, "start_date": dt.datetime(2030, 3, 9, 23, 0, tzinfo=NY), "timezone": "America/New_York"})
    assert body["start_date"] == "2030-03-09 23:00:00"
    body = trigger_request("interval", {"hours": 2, "start_date": dt.datetime(2030, 3, 9, 23, 0, tzinfo=SH), "timezone": "America/New_York"})
    assert body["start_date"] == "2030-03-09 23:00:00+08:00"
    with pytest.raises(EdgeUnsupported) as refused:
        trigger_request("interval", {"hours": 2, "jitter": 0.5})
    assert refused.value.field == "jitter"


def test_an_aware_bound_without_a_timezone_asks_for_the_apps_default_zone():
    asked = []

    def default_zone():
        asked.append(1)
        return "Asia/Shanghai"

    body = trigger_request("cron", {"hour": 9, "start_date": dt.datetime(2030, 1, 1, tzinfo=SH)}, default_zone)
    assert body == {"trigger": "cron", "hour": 9, "start_date": "2030-01-01 00:00:00"}
    assert asked == [1]
    trigger_request("cron", {"hour": 9, "start_date": "2030-01-01"}, default_zone)
    assert asked == [1], "only an aware bound needs it"


def test_cron_values():
    body = trigger_request("cron", {"day_of_week": "mon-fri", "hour": 9, "minute": "30", "second": None, "timezone": "UTC"})
    assert body == {"trigger": "cron", "day_of_week": "mon-fri", "hour": 9, "minute": "30", "timezone": "UTC"}
    # A negative number is no cron value: its text goes, for the app to name it.
    assert trigger_request("cron", {"hour": -1})["hour"] == "-1"


def test_unknown_names_and_arguments_are_refused_as_apscheduler_refuses_them():
    with pytest.raises(LookupError, match='No trigger by the name "sometimes" was found'):
        trigger_request("sometimes", {})
    with pytest.raises(TypeError, match="unexpected keyword argument 'minutes'"):
        trigger_request("cron", {"minutes": 5})
    with pytest.raises(TypeError, match="Expected a trigger instance or string"):
        trigger_request(42, {})


def test_calendarinterval_and_combining_by_name():
    body = trigger_request("calendarinterval", {"months": 1, "hour": 9, "start_date": dt.date(2030, 1, 15), "end_date": dt.datetime(2031, 1, 1, 5), "timezone": "Asia/Shanghai"})
    assert body == {"trigger": "calendarinterval", "months": 1, "hour": 9, "start_date": "2030-01-15", "end_date": "2031-01-01", "timezone": "Asia/Shanghai"}
    body = trigger_request("or", {"triggers": [CronTrigger(hour=1, timezone="UTC"), DateTrigger("2030-01-01 00:00:00", timezone="UTC")], "jitter": 3})
    assert body == {
        "trigger": "or",
        "triggers": [{"trigger": "cron", "hour": "1", "timezone": "UTC"}, {"trigger": "date", "run_date": "2030-01-01 00:00:00", "timezone": "UTC"}],
        "jitter": 3,
    }


# -- objects ------------------------------------------------------------------------------------


def test_cron_trigger_object_sends_the_fields_it_was_given():
    trigger = CronTrigger(day_of_week="MON-fri", hour="9", start_date="2030-01-01", end_date=dt.datetime(2030, 6, 1, tzinfo=SH), timezone="Asia/Shanghai", jitter=2)
    assert str(trigger) == "cron[day_of_week='mon-fri', hour='9']"
    assert trigger_request(trigger) == {
        "trigger": "cron",
        "day_of_week": "mon-fri",
        "hour": "9",
        "timezone": "Asia/Shanghai",
        "start_date": "2030-01-01 00:00:00",
        "end_date": "2030-06-01 00:00:00",
        "jitter": 2,
    }
    crontab = CronTrigger.from_crontab("0 9 * * mon-fri", timezone="UTC")
    assert trigger_request(crontab) == {
        "trigger": "cron",
        "month": "*",
        "day": "*",
        "day_of_week": "mon-fri",
        "hour": "9",
        "minute": "0",
        "timezone": "UTC",
    }


def test_trigger_arguments_given_with_an_object_are_ignored_as_apscheduler_ignores_them():
    assert trigger_request(CronTrigger(hour=1, timezone="UTC"), {"minute": 5}) == {"trigger": "cron", "hour": "1", "timezone": "UTC"}


def test_interval_trigger_object():
    start = dt.datetime(2030, 3, 9, 23, 0, 0, 123456, tzinfo=NY)
    trigger = IntervalTrigger(days=1, hours=1, minutes=30, seconds=5, start_date=start, timezone=NY)
    assert trigger_request(trigger) == {
        "trigger": "interval",
        "days": 1,
        "hours": 1,
        "minutes": 30,
        "seconds": 5,
        "timezone": "America/New_York",
        "start_date": "2030-03-09 23:00:00.123456",
    }
    other = IntervalTrigger(seconds=10, start_date=dt.datetime(2030, 1, 1, tzinfo=SH), timezone="UTC")
    assert trigger_request(other)["start_date"] == "2030-01-01 00:00:00+08:00"
    with pytest.raises(EdgeUnsupported):
        trigger_request(IntervalTrigger(seconds=1.5, timezone="UTC"))


def test_date_trigger_object():
    assert trigger_request(DateTrigger("2030-12-03 15:00:00", timezone="Asia/Shanghai")) == {
        "trigger": "date",
        "run_date": "2030-12-03 15:00:00",
        "timezone": "Asia/Shanghai",
    }
    assert trigger_request(DateTrigger("2030-12-03 15:00:00+05:30")) == {"trigger": "date", "run_date": "2030-12-03 15:00:00+05:30"}


def test_combining_and_calendar_interval_objects():
    calendar = CalendarIntervalTrigger(years=1, weeks=2, hour=9, minute=30, second=15, start_date="2030-01-31", end_date="2032-01-01", timezone="Europe/London", jitter=7)
    body = trigger_request(AndTrigger([CronTrigger(day_of_week="fri", timezone="UTC"), calendar]))
    assert body == {
        "trigger": "and",
        "triggers": [
            {"trigger": "cron", "day_of_week": "fri", "timezone": "UTC"},
            {
                "trigger": "calendarinterval",
                "years": 1,
                "weeks": 2,
                "hour": 9,
                "minute": 30,
                "second": 15,
                "start_date": "2030-01-31",
                "end_date": "2032-01-01",
                "timezone": "Europe/London",
                "jitter": 7,
            },
        ],
    }
    nested = OrTrigger([OrTrigger([CronTrigger(hour=1, timezone="UTC")]), IntervalTrigger(hours=6, start_date="2030-01-01 00:00:00", timezone="UTC")], jitter=4)
    assert trigger_request(nested) == {
        "trigger": "or",
        "triggers": [
            {"trigger": "or", "triggers": [{"trigger": "cron", "hour": "1", "timezone": "UTC"}]},
            {"trigger": "interval", "hours": 6, "timezone": "UTC", "start_date": "2030-01-01 00:00:00"},
        ],
        "jitter": 4,
    }


def test_a_subclass_converts_as_its_base_and_a_foreign_trigger_is_refused():
    class Weekly(CronTrigger):
        pass

    assert trigger_request(Weekly(day_of_week="mon", timezone="UTC"))["trigger"] == "cron"

    class Custom:
        def get_next_fire_time(self, previous, now):
            return None

    with pytest.raises(EdgeUnsupported) as refused:
        trigger_request(Custom())
    assert refused.value.field == "trigger"


def test_zone_names():
    assert zone_name(NY) == "America/New_York"
    assert zone_name(dt.timezone.utc) == "UTC"
    assert zone_name(dt.timezone(dt.timedelta(0))) == "UTC"
    assert zone_name(dt.timezone(dt.timedelta(hours=3))) == "Etc/GMT-3"
    assert zone_name(dt.timezone(dt.timedelta(hours=-5))) == "Etc/GMT+5"

    class PytzLike(dt.tzinfo):
        zone = "Europe/Paris"

    assert zone_name(PytzLike()) == "Europe/Paris"
    with pytest.raises(EdgeUnsupported):
        zone_name(dt.timezone(dt.timedelta(hours=5, minutes=30)))
