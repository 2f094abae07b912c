"""Benchmark scenarios: each module has ``run(options, log) -> dict`` (the JSON result)."""

SCENARIOS = ["append", "dispatch", "feed", "rebuild", "standings", "sweep"]
