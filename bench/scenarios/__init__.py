"""Benchmark scenarios: each module has ``run(options, log) -> dict`` (the JSON result)."""

SCENARIOS = ["api", "append", "dispatch", "feed", "rebuild", "standings", "sweep"]
