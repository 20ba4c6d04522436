"""Parses Prometheus text (stdin) with prometheus_client's own parser and prints it as JSON:
{"<family>": {"type": ..., "help": ..., "samples": [{"name", "labels", "value"}]}}.
Used by tests/metrics_prometheus.rs: if the parser refuses the text, so would Prometheus."""
import json
import sys

from prometheus_client.parser import text_string_to_metric_families

out = {}
for family in text_string_to_metric_families(sys.stdin.read()):
    out[family.name] = {
        "type": family.type,
        "help": family.documentation,
        "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for s in family.samples],
    }
json.dump(out, sys.stdout)
