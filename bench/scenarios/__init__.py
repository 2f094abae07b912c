"""Benchmark scenarios: each module has ``run(options, log) -> dict`` (the JSON result)."""

SCENARIOS = ["api", "append", "dispatch", "e2e", "feed", "rebuild", "standings", "sweep"]
