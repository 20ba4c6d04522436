"""APScheduler's side of benches/next_fire.rs: times get_next_fire_time on the same schedules.

Reads the JSON the Rust bench writes ({"groups": {name: [{"fields": {...}, "now_us": n}, ...]}})
and prints one JSON line: {group: nanoseconds per call}.
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


def main():
    spec = json.load(open(sys.argv[1]))
    min_seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 2.0
    result = {}
    for group, schedules in spec["groups"].items():
        prepared = []
        for s in schedules:
            fields = dict(s["fields"])
            kind = fields.pop("trigger")
            trigger = KINDS[kind](**fields)
            now = (EPOCH + timedelta(microseconds=s["now_us"])).astimezone(trigger.timezone)
            prepared.append((trigger, now))
        calls, start = 0, time.perf_counter()
        while True:
            for trigger, now in prepared:
                trigger.get_next_fire_time(None, now)
            calls += len(prepared)
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds:
                break
        result[group] = elapsed / calls * 1e9
    print(json.dumps(result))


if __name__ == "__main__":
    main()
