"""APScheduler's side of benches/next_fire.rs: times get_next_fire_time on the same schedules.

Reads the JSON the Rust bench writes ({"groups": {name: [{"fields": {...}, "now_us": n}, ...]},
"per_schedule": [group names]}) and prints one JSON object: {"groups": {group: mean ns per call,
the group's schedules called in turn for at least 2 s (at least one whole pass)},
"per_schedule": {group: [ns per call of each schedule on its own: called in a loop for at least
0.5 ms and 3 times, or once when one call takes longer, the lowest of three such loops (one for
calls over 10 ms)]}}.
"""
import json
import sys
import time
import zoneinfo

zoneinfo.reset_tzpath(to=[])

from datetime import datetime, timedelta, timezone  # noqa: E402

from apscheduler.triggers.cron import CronTrigger  # noqa: E402
from apscheduler.triggers.interval import IntervalTrigger  # noqa: E402

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
KINDS = {"cron": CronTrigger, "interval": IntervalTrigger}


def prepare(schedules):
    prepared = []
    for s in schedules:
        fields = dict(s["fields"])
        kind = fields.pop("trigger")
        trigger = KINDS[kind](**fields)
        now = (EPOCH + timedelta(microseconds=s["now_us"])).astimezone(trigger.timezone)
        prepared.append((trigger, now))
    return prepared


def each(trigger, now):
    best = float('inf')
    for _ in range(3):
        calls, start = 0, time.perf_counter()
        while True:
            trigger.get_next_fire_time(None, now)
            calls += 1
            elapsed = time.perf_counter() - start
            if elapsed >= 0.0005 and (calls >= 3 or elapsed >= 0.001):
                break
        best = min(best, elapsed / calls * 1e9)
        if best > 1e7:
            break
    return best


def main():
    spec = json.load(open(sys.argv[1]))
    min_seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 2.0
    result = {"groups": {}, "per_schedule": {}}
    for group, schedules in spec["groups"].items():
        prepared = prepare(schedules)
        calls, start = 0, time.perf_counter()
        while True:
            for trigger, now in prepared:
                trigger.get_next_fire_time(None, now)
            calls += len(prepared)
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds:
                break
        result["groups"][group] = elapsed / calls * 1e9
    for group in spec.get("per_schedule", []):
        result["per_schedule"][group] = [each(trigger, now) for trigger, now in prepare(spec["groups"][group])]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
