"""The API under a match day's load, through the real stack.

Starts the web processes (``python -m easychamp.web``, WEB_CONCURRENCY of them on one
port), one Celery worker, on DATABASE_URL and REDIS_URL, then drives them over loopback
from separate load-generator processes (``bench.loadgen``: one thread and one keep-alive
connection per client). After 2 s of unmeasured goals (each client on a live match
kept for it: the web processes open their pooled connections and prepare their
statements), phases, ``--seconds`` each:

- ``goals``: each client, an organiser with a championship of its own, posts goals
  across 8 live matches; a match that reached its number of goals (5 to 15) is
  completed, and a new one scheduled and started in its place;
- ``healthz``: the same clients on ``GET /healthz``;
- ``standings``: anonymous reads of the clients' standings.

Beside them, in the same run and on the same database: raw psycopg single-row INSERT +
COMMIT on one connection (``bench append``'s baseline), before the first phase and
after the last, each once the worker is idle; ``raw_single_commits_per_s`` is the higher
of the two (the disk's commit rate drifts by up to half within a run, PostgreSQL's
checkpoints writing in the background among others: both are reported). Targets: ``goals_per_s`` at
least 0.15 x ``raw_single_commits_per_s``, no 5xx, and with ``--clients 64`` a goal p99
of at most 500 ms. ``web_rss_mb`` (all web processes together) is measured after each
phase: it must not grow by more than 10 % from the first phase's end to the last's.
Throttles run at rates no client reaches (they are counted, not hit).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from rest_framework.authtoken.models import Token

from bench.cleanup import remove_championships
from bench.scenarios.append import _rate, _RawWriter
from bench.stack import Stack
from bench.workers import ROOT
from championships import commands

LIVE_MATCHES = 8
TEAMS = 18
# Unmeasured goals first, on a match of each client's own: the web processes open their
# pooled connections and prepare their statements, as a server does long before a
# match day's peak.
WARMUP_SECONDS = 2.0
PHASES = ("goals", "healthz", "standings")
UNREACHED_RATE = "100000000/min"


class _Organisers:
    """One user, token and championship per client, with 8 live matches each."""

    def __init__(self, clients: int, log: Callable[[str], None]) -> None:
        self.tag = uuid.uuid4().hex[:8]
        User = get_user_model()
        self.specs: list[dict[str, Any]] = []
        self.user_ids: list[int] = []
        self.championship_ids: list[uuid.UUID] = []
        for n in range(clients):
            user = User.objects.create_user(f"bench-api-{self.tag}-{n}")
            self.user_ids.append(user.id)
            token = Token.objects.create(user=user)
            championship = commands.championship_create(
                actor_id=user.id, name=f"bench api {self.tag} {n}", season=self.tag
            )
            self.championship_ids.append(championship.id)
            teams = [
                commands.team_register(
                    actor_id=user.id, championship_id=championship.id, name=f"Team {t:02d}"
                ).id
                for t in range(TEAMS)
            ]
            matches = []
            for m in range(LIVE_MATCHES + 1):
                home, away = teams[2 * m], teams[2 * m + 1]
                match = commands.match_schedule(
                    actor_id=user.id,
                    championship_id=championship.id,
                    home_team_id=home,
                    away_team_id=away,
                )
                commands.match_start(
                    actor_id=user.id, championship_id=championship.id, match_id=match.id
                )
                matches.append({"id": str(match.id), "home": str(home), "away": str(away)})
            self.specs.append(
                {
                    "token": token.key,
                    "championship": str(championship.id),
                    "teams": [str(t) for t in teams],
                    "matches": matches[:LIVE_MATCHES],
                    "warmup": matches[LIVE_MATCHES:],
                }
            )
            if (n + 1) % 16 == 0:
                log(f"  {n + 1}/{clients} organisers ready")

    def cleanup(self) -> None:
        remove_championships(self.championship_ids, self.user_ids)


def _drive(port: int, phase: str, specs: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    """Run ``phase`` from several load-generator processes at once; their tallies summed."""
    processes = max(1, min(len(specs), os.cpu_count() or 1))
    start_at = time.time() + 2.0  # every process connected and waiting by then
    procs = []
    for p in range(processes):
        plan = {
            "host": "127.0.0.1",
            "port": port,
            "phase": phase,
            "seconds": seconds,
            "start_at": start_at,
            "clients": specs[p::processes],
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench.loadgen"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(plan))
        proc.stdin.close()
        procs.append(proc)
    outputs = []
    for proc in procs:
        assert proc.stdout is not None
        out = proc.stdout.read()
        if proc.wait(timeout=seconds + 120) != 0:
            raise RuntimeError(f"a load generator failed: {out[-2000:]}")
        outputs.append(json.loads(out))
    statuses: dict[str, int] = {}
    for out in outputs:
        for status, n in out["statuses"].items():
            statuses[status] = statuses.get(status, 0) + n
    return {
        "elapsed": max(out["elapsed"] for out in outputs),
        "requests": sum(out["requests"] for out in outputs),
        "goals": sum(out["goals"] for out in outputs),
        "matches_completed": sum(out["matches_completed"] for out in outputs),
        "latencies_ms": sorted(x for out in outputs for x in out["latencies_ms"]),
        "statuses": statuses,
        "errors": [e for out in outputs for e in out["errors"]][:5],
    }


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    return round(sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))], 1)


def _raw_single_commits_per_s(seconds: float) -> float:
    raw = _RawWriter(f"bench_raw_{uuid.uuid4().hex[:8]}")
    try:
        return round(_rate(seconds, lambda i: raw.write(i, 1)), 1)
    finally:
        raw.close()


def _quiet_raw_rate(stack: Stack, seconds: float, log: Callable[[str], None]) -> float:
    """The baseline, once the worker is done with what came before (the set-up, or the
    phases): commits it made meanwhile would share the disk with the baseline's."""
    waited = stack.wait_quiet()
    rate = _raw_single_commits_per_s(min(seconds, 5.0))
    log(f"raw single commits: {rate}/s (after {waited:.1f} s for the worker to be idle)")
    return rate


def run(options: dict[str, Any], log: Callable[[str], None]) -> dict[str, Any]:
    if connection.vendor != "postgresql":
        raise RuntimeError("bench api needs PostgreSQL: set DATABASE_URL=postgres://...")
    clients = options.get("clients") or 16
    seconds = options.get("seconds") or 10.0
    stack = Stack.for_bench(
        options["queue"],
        env={"API_THROTTLE_USER": UNREACHED_RATE, "API_THROTTLE_ANON": UNREACHED_RATE},
    )
    web_concurrency = stack.web_concurrency
    log(f"starting {web_concurrency} web processes and a worker (logs in {stack.log_dir})")
    organisers: _Organisers | None = None
    result: dict[str, Any] = {}
    try:
        stack.start()
        log(f"setting up {clients} organisers with {LIVE_MATCHES} live matches each")
        organisers = _Organisers(clients, log)
        connection.close()
        raw_rates = [_quiet_raw_rate(stack, seconds, log)]
        warmup = _drive(stack.port, "warmup", organisers.specs, WARMUP_SECONDS)
        log(f"warm-up: {warmup['goals']} goals, statuses {warmup['statuses']}")
        errors_5xx = sum(n for s, n in warmup["statuses"].items() if s.startswith("5"))
        rss: dict[str, float] = {}
        largest = 0.0
        for phase in PHASES:
            cpu_before = stack.cpu_seconds()
            tally = _drive(stack.port, phase, organisers.specs, seconds)
            cpu = {k: v - cpu_before[k] for k, v in stack.cpu_seconds().items()}
            errors_5xx += sum(n for s, n in tally["statuses"].items() if s.startswith("5"))
            rate = round(tally["requests"] / tally["elapsed"], 1)
            latencies = tally["latencies_ms"]
            if phase == "goals":
                result["goals_per_s"] = round(tally["goals"] / tally["elapsed"], 1)
                result["goal_p50_ms"] = _percentile(latencies, 0.50)
                result["goal_p99_ms"] = _percentile(latencies, 0.99)
                result["matches_completed"] = tally["matches_completed"]
                # Where a goal's CPU goes (the machine may be shared: see the README).
                result["web_cpu_ms_per_goal"] = round(1000 * cpu["web"] / max(1, tally["goals"]), 2)
                result["worker_cpu_ms_per_goal"] = round(
                    1000 * cpu["worker"] / max(1, tally["goals"]), 2
                )
            else:
                result[f"{'standings_get' if phase == 'standings' else phase}_per_s"] = rate
            total, biggest = stack.web_rss_mb()
            rss[phase] = total
            largest = max(largest, biggest)
            log(
                f"{phase}: {rate} requests/s, p50 {_percentile(latencies, 0.5)} ms, "
                f"p99 {_percentile(latencies, 0.99)} ms, statuses {tally['statuses']}, "
                f"web RSS {total} MB, CPU s {cpu}; {tally['errors'][:2]}"
            )
        raw_rates.append(_quiet_raw_rate(stack, seconds, log))
    finally:
        stack.stop()
        if organisers is not None:
            organisers.cleanup()
    # The higher of the two: the disk's best in this run, the baseline a run can least
    # flatter (the lower one usually follows the phases' writes, which PostgreSQL's
    # checkpoint is then writing out).
    raw_rate = max(raw_rates)
    first, last = rss[PHASES[0]], rss[PHASES[-1]]
    return {
        "scenario": "api",
        "clients": clients,
        "goals_per_s": result["goals_per_s"],
        "goal_p50_ms": result["goal_p50_ms"],
        "goal_p99_ms": result["goal_p99_ms"],
        "healthz_per_s": result["healthz_per_s"],
        "standings_get_per_s": result["standings_get_per_s"],
        "raw_single_commits_per_s": raw_rate,
        "raw_single_commits_before_after": raw_rates,
        "errors_5xx": errors_5xx,
        "goals_ratio": round(result["goals_per_s"] / raw_rate, 3),
        **{f"web_rss_mb_after_{phase}": rss[phase] for phase in PHASES},
        "web_rss_growth": round((last - first) / first, 3),
        "largest_web_process_mb": largest,
        "web_processes": web_concurrency,
        "matches_completed": result["matches_completed"],
        "web_cpu_ms_per_goal": result["web_cpu_ms_per_goal"],
        "worker_cpu_ms_per_goal": result["worker_cpu_ms_per_goal"],
        "seconds_per_phase": seconds,
    }
