"""A match day under load, with PostgreSQL, Redis and the worker restarted in turn, and
Redis hung for a while (paused: connections open, nothing answers).

200 API clients post goals, then completions, across 20 live matches for 30 s, through
the real stack (2 web processes, a worker, beat) on a PostgreSQL cluster and a Redis of
the test's own. Every request carries its own X-Correlation-ID and Idempotency-Key; a
503 (which must have a JSON body and Retry-After) is retried with both, so that every
logical request ends in a definite answer. Then: no other 5xx; every 2xx is exactly one
event and every refusal none; each match stream's versions are contiguous; the match
scores are their goals; and, once delivery has caught up, the standings equal a
computation from scratch of the completed matches.
"""

from __future__ import annotations

import http.client
import json
import random
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bench.stack import Stack
from tests.load.processes import free_port
from tests.load.services import POSTGRES_BIN, PrivatePostgres, PrivateRedis

pytestmark = [
    pytest.mark.load,
    pytest.mark.skipif(POSTGRES_BIN is None, reason="needs PostgreSQL's server binaries"),
]

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = 200
CHAMPIONSHIPS, MATCHES_EACH = 4, 5  # 20 live matches
SECONDS = 30.0
COMPLETIONS_AFTER = 25.0  # the last seconds: every client also sends its completion
# When each service is restarted (or Redis paused), in seconds from the start of the load.
FAULTS = {"postgres": 4.0, "redis-hang": 8.0, "redis": 12.0, "worker": 19.0}
REDIS_HANG_SECONDS = 2.5
RETRY_FOR = 60.0


@dataclass
class Outcome:
    kind: str  # "goal" or "complete"
    match: str
    correlation_id: str
    status: int


@dataclass
class Seen:
    outcomes: list[Outcome] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    bad_503s: list[str] = field(default_factory=list)
    transport_errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _post(conn: http.client.HTTPConnection, path: str, body: Any, headers: dict[str, str]):
    conn.request("POST", path, json.dumps(body), headers)
    response = conn.getresponse()
    return response.status, response.getheader("Retry-After"), response.read()


def _client(port: int, organiser: dict[str, Any], match: dict[str, str], start: float, seen: Seen):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    rng = random.Random()
    completed = False
    while time.monotonic() - start < SECONDS:
        kind = (
            "complete" if time.monotonic() - start > COMPLETIONS_AFTER and not completed else "goal"
        )
        completed = completed or kind == "complete"
        if kind == "goal":
            path = f"/api/v1/matches/{match['id']}/goals/"
            body: dict[str, Any] = {
                "team": rng.choice([match["home"], match["away"]]),
                "minute": rng.randint(1, 90),
            }
        else:
            path, body = f"/api/v1/matches/{match['id']}/complete/", {}
        correlation_id = uuid.uuid4().hex
        headers = {
            "Content-Type": "application/json",
            "Authorization": f"Token {organiser['token']}",
            "X-Correlation-ID": correlation_id,
            "Idempotency-Key": uuid.uuid4().hex,
        }
        deadline = time.monotonic() + RETRY_FOR
        status = 0
        while time.monotonic() < deadline:
            try:
                status, retry_after, raw = _post(conn, path, body, headers)
            except (http.client.HTTPException, OSError):
                # A keep-alive connection the server closed, or a web process restarting.
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                with seen.lock:
                    seen.transport_errors += 1
                time.sleep(0.2)
                continue
            with seen.lock:
                seen.statuses[status] += 1
                if status == 503 and not (retry_after and "detail" in json.loads(raw)):
                    seen.bad_503s.append(raw.decode(errors="replace")[:200])
            if status != 503:
                break
            time.sleep(0.2)
        with seen.lock:
            seen.outcomes.append(Outcome(kind, match["id"], correlation_id, status))


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[Stack, PrivatePostgres, PrivateRedis, list[Any]]]:
    postgres, redis = PrivatePostgres(free_port()), PrivateRedis(free_port())
    stack: Stack | None = None
    try:
        postgres.start()
        redis.start()
        env = {
            "DATABASE_URL": postgres.url,
            "REDIS_URL": redis.url,
            "PATH": str(Path(sys.executable).parent),
        }
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=ROOT, env={**_base_env(), **env}, check=True, timeout=300,
        )  # fmt: skip
        seeded = subprocess.run(
            [sys.executable, "-m", "tests.load.seed", str(CHAMPIONSHIPS), str(MATCHES_EACH)],
            cwd=ROOT, env={**_base_env(), **env}, check=True, timeout=300,
            capture_output=True, text=True,
        )  # fmt: skip
        organisers = json.loads(seeded.stdout.strip().splitlines()[-1])
        stack = Stack(
            port=free_port(),
            database_url=postgres.url,
            redis_url=redis.url,
            queue="celery",
            web_concurrency=2,
            beat=True,
            celery_log_level="INFO",
            env={
                "DEBUG": "0",
                "SECURE_SSL_REDIRECT": "0",
                "API_THROTTLE_USER": "off",
                "API_THROTTLE_ANON": "off",
            },
        )
        stack.start()
        yield stack, postgres, redis, organisers
    finally:
        if stack is not None:
            stack.stop()
        redis.stop()
        postgres.stop()


def _base_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k not in {"CELERY_BROKER_URL"}}


def _faults(stack: Stack, postgres: PrivatePostgres, redis: PrivateRedis, start: float) -> None:
    for name, at in sorted(FAULTS.items(), key=lambda item: item[1]):
        time.sleep(max(0.0, start + at - time.monotonic()))
        if name == "postgres":
            postgres.restart()
        elif name == "redis-hang":
            redis.pause(REDIS_HANG_SECONDS)
        elif name == "redis":
            redis.restart()
        else:
            stack.worker.stop()
            stack.worker.start()


def _query(url: str, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def _standings_from_scratch(url: str) -> dict[str, tuple[int, ...]]:
    """Per team: played, won, drawn, lost, goals for, goals against, points (3-1-0)."""
    table: dict[str, list[int]] = {}
    for home, away, hs, as_ in _query(
        url,
        "SELECT home_team_id, away_team_id, home_score, away_score "
        "FROM championships_match WHERE status = 'completed'",
    ):
        for team, gf, ga in ((home, hs, as_), (away, as_, hs)):
            row = table.setdefault(str(team), [0] * 7)
            row[0] += 1
            row[1 if gf > ga else 2 if gf == ga else 3] += 1
            row[4] += gf
            row[5] += ga
            row[6] += 3 if gf > ga else 1 if gf == ga else 0
    return {team: tuple(row) for team, row in table.items()}


def _standings_live(url: str) -> dict[str, tuple[int, ...]]:
    return {
        str(team): tuple(row)
        for team, *row in _query(
            url,
            "SELECT team_id, played, won, drawn, lost, goals_for, goals_against, points "
            "FROM championships_standing WHERE played > 0",
        )
    }


def test_a_match_day_survives_restarts_and_loses_nothing(stack):
    stack_, postgres, redis, organisers = stack
    pairs = [(o, m) for o in organisers for m in o["matches"]]
    seen = Seen()
    start = time.monotonic() + 1.0
    clients = [
        threading.Thread(
            target=_client, args=(stack_.port, *pairs[i % len(pairs)], start, seen), daemon=True
        )
        for i in range(CLIENTS)
    ]

    # When 200 clients post for 30 s while each service restarts in turn, and Redis hangs
    # for a while (from this thread: a restarted worker dies with the thread that
    # started it)
    time.sleep(max(0.0, start - time.monotonic()))
    for thread in clients:
        thread.start()
    _faults(stack_, postgres, redis, start)
    for thread in clients:
        thread.join(timeout=SECONDS + RETRY_FOR + 60)
    assert not any(t.is_alive() for t in clients), "clients did not finish in time"

    # Then no 5xx but clean 503s, and every request ended with an answer
    assert {s for s in seen.statuses if s >= 500} <= {503}, seen.statuses
    assert seen.bad_503s == []
    final = Counter(o.status for o in seen.outcomes)
    assert set(final) <= {200, 409}, final
    accepted = [o for o in seen.outcomes if o.status == 200]
    print(
        f"\nmatch day: {len(seen.outcomes)} requests answered, final {dict(final)}, "
        f"{sum(o.kind == 'goal' for o in accepted)} goals accepted, all answers seen "
        f"{dict(seen.statuses)}, {seen.transport_errors} reconnections"
    )
    assert sum(o.kind == "goal" for o in accepted) > 300

    # Every 2xx is exactly one event, every refusal none
    events = Counter(
        (correlation_id, event_type)
        for correlation_id, event_type in _query(
            postgres.url,
            "SELECT metadata->>'correlation_id', event_type FROM event_store "
            "WHERE event_type IN ('GoalScored', 'MatchCompleted')",
        )
    )
    expected = Counter(
        (o.correlation_id, "GoalScored" if o.kind == "goal" else "MatchCompleted") for o in accepted
    )
    assert events == expected

    # Stream versions contiguous, scores equal to the goals recorded
    for stream_id, count, low, high in _query(
        postgres.url,
        "SELECT stream_id, count(*), min(version), max(version) FROM event_store "
        "GROUP BY stream_id",
    ):
        assert (low, high) == (1, count), stream_id
    for match_id, score, goals in _query(
        postgres.url,
        "SELECT m.id, m.home_score + m.away_score, count(g.id) FROM championships_match m "
        "LEFT JOIN championships_goal g ON g.match_id = m.id GROUP BY m.id",
    ):
        assert score == goals, match_id

    # And once delivery caught up, the standings are those of the completed matches
    completed = sum(o.kind == "complete" for o in accepted)
    assert completed == CHAMPIONSHIPS * MATCHES_EACH
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not _caught_up(postgres.url):
        time.sleep(0.5)
    assert _standings_live(postgres.url) == _standings_from_scratch(postgres.url), _diagnosis(
        stack_, postgres.url
    )


def _caught_up(url: str) -> bool:
    return _standings_live(url) == _standings_from_scratch(url)


def _diagnosis(stack: Stack, url: str) -> str:
    dead = _query(
        url, "SELECT subscription, stream_id, event_version, last_error FROM event_dead_letter"
    )
    behind = _query(
        url,
        "SELECT c.subscription, count(*), sum(s.version - c.version) FROM event_checkpoint c "
        "JOIN event_stream s ON s.stream_id = c.stream_id WHERE c.version < s.version "
        "GROUP BY c.subscription",
    )
    live, scratch = _standings_live(url), _standings_from_scratch(url)
    differ = {
        t: (live.get(t), scratch.get(t)) for t in {*live, *scratch} if live.get(t) != scratch.get(t)
    }
    return (
        f"{len(differ)} teams differ (live, from scratch): {list(differ.items())[:4]}\n"
        f"dead letters: {len(dead)} {dead[:3]}\n"
        f"checkpoints behind (subscription, streams, events): {behind}\n"
        f"worker log:\n{stack.worker.log_tail(6000)}\n"
        f"beat log:\n{stack.beat.log_tail(1000) if stack.beat else ''}"
    )
