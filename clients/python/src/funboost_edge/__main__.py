"""`python -m funboost_edge`: the `funboost-edge` command (apply, export)."""

from .cli import run

run()
