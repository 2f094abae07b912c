"""Benchmark scenarios: each module has ``run(options) -> dict`` and a ``HELP`` line."""

SCENARIOS = ["dispatch", "append", "standings"]
