"""Latency from an HTTP goal to each websocket client receiving it, through the real web
processes (``python -m easychamp.web``: WEB_CONCURRENCY of them on one port, default one
per core), a real Celery worker (the live pusher subscription) and channels-redis.

N clients (``--clients``, default 100) watch one live match from separate processes
(bench/live_clients.py). Each update: the time is taken, a goal is POSTed to the API, and
the next update waits until every client has it (or a timeout: it counts as missed).
Two goals go first, unmeasured (WARM_UP: a web process's first push opens connections).
Baseline, in the same run, to the same clients: a bare ``group_send`` of a message of the
same shape from a separate process. Also the web processes' resident memory (all of them)
per 1,000 connected clients (after they connected minus before).
"""

from __future__ import annotations

import http.client
import math
import multiprocessing
import queue as queue_module
import statistics
import time
import uuid
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

import orjson
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from rest_framework.authtoken.models import Token

from bench import live_clients
from bench.cleanup import remove_championships
from bench.stack import Stack
from championships import commands, live
from events import store

CLIENTS_PER_PROCESS = 300
UPDATES = {100: 60}
DEFAULT_UPDATES = 30
WAIT_SECONDS = 10.0
# Goals posted (and waited for) before the measured ones: the first push of a web
# process opens its connections (claims, the channel layer's publisher), a one-time cost.
WARM_UP = 2
PAUSE_SECONDS = 0.05


class Clients:
    """The websocket clients, in ``spawn``ed processes."""

    def __init__(self, port: int, match_id: str, version: int, count: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.progress: Any = context.Queue()
        self.stop_event = context.Event()
        self.count = count
        sizes = self._split(count)
        url = f"ws://127.0.0.1:{port}/ws/matches/{match_id}/"
        origin = f"http://127.0.0.1:{port}"
        self.procs = [
            context.Process(
                target=live_clients.run_clients,
                args=(url, origin, match_id, version, size, self.progress, self.stop_event),
                daemon=True,
            )
            for size in sizes
        ]
        for proc in self.procs:
            proc.start()
        ready = 0
        while ready < count:
            kind, value = self._next(120, "the clients to connect")
            if kind == "ready":
                ready += value

    @staticmethod
    def _split(count: int) -> list[int]:
        processes = max(1, math.ceil(count / CLIENTS_PER_PROCESS))
        return [count // processes + (1 if i < count % processes else 0) for i in range(processes)]

    def _next(self, timeout: float, what: str) -> tuple[str, Any]:
        try:
            item: tuple[str, Any] = self.progress.get(timeout=timeout)
        except queue_module.Empty:
            raise RuntimeError(f"timed out waiting for {what}") from None
        return item

    def wait_for(self, key: live_clients.Key) -> bool:
        """True once every process has reported ``key`` for all its clients."""
        done = 0
        deadline = time.monotonic() + WAIT_SECONDS
        while done < len(self.procs):
            try:
                kind, value = self.progress.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue_module.Empty:
                return False
            if kind == "got" and tuple(value) == key:
                done += 1
        return True

    def times(self) -> dict[live_clients.Key, list[float]]:
        self.stop_event.set()
        merged: dict[live_clients.Key, list[float]] = {}
        reported = 0
        while reported < len(self.procs):
            kind, value = self._next(60, "the clients' results")
            if kind == "times":
                reported += 1
                for key, arrived in value.items():
                    merged.setdefault(tuple(key), []).extend(arrived)
        for proc in self.procs:
            proc.join(timeout=10)
        return merged


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))
    return ordered[index]


def _latencies(
    sent: dict[live_clients.Key, float], arrived: dict[live_clients.Key, list[float]], count: int
) -> tuple[list[float], int]:
    latencies = [(t - sent[key]) * 1000 for key in sent for t in arrived.get(key, [])]
    missed = sum(max(0, count - len(arrived.get(key, []))) for key in sent)
    return latencies, missed


def _goals(
    port: int,
    match_id: str,
    team_id: str,
    token: str,
    clients: Clients,
    updates: int,
    log: Callable[[str], None],
) -> tuple[dict[live_clients.Key, float], list[float]]:
    sent: dict[live_clients.Key, float] = {}
    posts: list[float] = []
    api = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    for i in range(-WARM_UP, updates):
        body = orjson.dumps({"team": team_id, "minute": 1 + abs(i) % 90})
        started = time.monotonic()
        api.request("POST", f"/api/v1/matches/{match_id}/goals/", body, headers)
        response = api.getresponse()
        payload = response.read()
        if response.status != 200:
            raise RuntimeError(f"goal POST failed: {response.status} {payload[:200]!r}")
        key = (match_id, int(orjson.loads(payload)["version"]))
        if i >= 0:
            sent[key] = started
            posts.append((time.monotonic() - started) * 1000)
        if not clients.wait_for(key):
            log(f"goal {key[1]}: not every client had it after {WAIT_SECONDS:.0f} s")
        time.sleep(PAUSE_SECONDS)
    api.close()
    return sent, posts


def _baseline(
    match_id: str,
    template: dict[str, Any],
    clients: Clients,
    updates: int,
    log: Callable[[str], None],
) -> dict[live_clients.Key, float]:
    """The same clients, a bare group_send from another process, same message shape."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    sender = context.Process(
        target=live_clients.run_baseline_sender,
        args=(settings.CHANNEL_LAYERS["default"], live.match_group(match_id), child),
        daemon=True,
    )
    sender.start()
    stream_id = f"baseline-{match_id}"
    sent: dict[live_clients.Key, float] = {}
    try:
        for version in range(1, updates + 1):
            envelope = {**template, "stream_id": stream_id, "version": version}
            message = {
                "type": live.MESSAGE_TYPE,
                "stream_id": stream_id,
                "version": version,
                "text": orjson.dumps(envelope).decode(),
            }
            _send(parent, message)
            sent[(stream_id, version)] = parent.recv()
            if not clients.wait_for((stream_id, version)):
                log(f"baseline {version}: not every client had it after {WAIT_SECONDS:.0f} s")
            time.sleep(PAUSE_SECONDS)
    finally:
        _send(parent, None)
        sender.join(timeout=10)
    return sent


def _send(pipe: Connection, message: dict[str, Any] | None) -> None:
    pipe.send(message)


def run(options: dict[str, Any], log: Callable[[str], None]) -> dict[str, Any]:
    if connection.vendor != "postgresql":
        raise RuntimeError("the e2e benchmark needs PostgreSQL (set DATABASE_URL)")
    count = options.get("clients") or 100
    updates = UPDATES.get(count, DEFAULT_UPDATES)
    owner = get_user_model().objects.create_user(f"bench-{uuid.uuid4().hex[:12]}")
    token = Token.objects.create(user=owner).key
    championship = commands.championship_create(
        actor_id=owner.id, name=f"bench e2e {uuid.uuid4().hex[:8]}", season="bench"
    )
    home, away = (
        commands.team_register(actor_id=owner.id, championship_id=championship.id, name=name)
        for name in ("Home", "Away")
    )
    match = commands.match_schedule(
        actor_id=owner.id,
        championship_id=championship.id,
        home_team_id=home.id,
        away_team_id=away.id,
    )
    match = commands.match_start(
        actor_id=owner.id, championship_id=championship.id, match_id=match.id
    )
    match_id = str(match.id)
    stack = Stack.for_bench(options["queue"], worker_concurrency=1)
    web_concurrency = stack.web_concurrency
    clients: Clients | None = None
    try:
        stack.start()
        rss_before, _ = stack.web_rss_mb()
        log(
            f"{web_concurrency} web process(es) up ({rss_before:.0f} MB in all); "
            f"connecting {count} clients"
        )
        clients = Clients(stack.port, match_id, match.version, count)
        rss_connected, _ = stack.web_rss_mb()
        log(f"{count} clients connected ({rss_connected:.0f} MB); {updates} goals")
        sent, posts = _goals(stack.port, match_id, str(home.id), token, clients, updates, log)
        template = store.load(match_id)[-1].envelope()
        log(f"baseline: {updates} bare group_sends")
        baseline_sent = _baseline(match_id, template, clients, updates, log)
        arrived = clients.times()
        clients = None
    finally:
        if clients is not None:
            clients.stop_event.set()
        stack.stop()
        remove_championships([championship.id], [owner.id])
    latencies, missed = _latencies(sent, arrived, count)
    slowest = sorted(
        ((max(arrived.get(key, [sent[key]])) - sent[key]) * 1000, key[1]) for key in sent
    )[-3:]
    log("slowest updates (ms, version): " + ", ".join(f"{ms:.0f} v{v}" for ms, v in slowest))
    baseline, baseline_missed = _latencies(baseline_sent, arrived, count)
    if not latencies or not baseline:
        raise RuntimeError("no update reached the clients")
    return {
        "scenario": "e2e",
        "clients": count,
        "updates": updates,
        "p50_ms": round(statistics.median(latencies), 1),
        "p95_ms": round(_percentile(latencies, 95), 1),
        "p99_ms": round(_percentile(latencies, 99), 1),
        "baseline_p50_ms": round(statistics.median(baseline), 1),
        "baseline_p99_ms": round(_percentile(baseline, 99), 1),
        "missed": missed,
        "http_post_p50_ms": round(statistics.median(posts), 1),
        "baseline_missed": baseline_missed,
        "web_processes": web_concurrency,
        "server_rss_mb_before": round(rss_before, 1),
        "server_rss_mb_per_1000_clients": round((rss_connected - rss_before) / count * 1000, 1),
    }
