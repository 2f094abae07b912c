"""Benchmark scenarios: each module has ``run(options) -> dict`` and a ``HELP`` line."""

SCENARIOS = ["sweep", "dispatch", "append", "standings"]
