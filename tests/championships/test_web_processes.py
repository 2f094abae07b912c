"""Live updates across real processes: web processes as deployed sharing the Redis channel
layer, a real Celery worker running the live pusher, PostgreSQL."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from rest_framework.authtoken.models import Token
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from championships.models import Match
from events import store
from tests.championships.conftest import live
from tests.championships.factories import MatchFactory
from tests.championships.servers import WebServer
from tests.championships.test_concurrency import together
from tests.events.workers import Worker

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.slow,
    pytest.mark.live_delivery,
    pytest.mark.django_db(transaction=True),
    pytest.mark.xdist_group("workers"),
]

REDIS_BROKER = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


@contextlib.contextmanager
def open_page(server: WebServer, match: Match) -> Iterator[ClientConnection]:
    """A page's websocket, resumed at the match's current version and synced."""
    url = f"{server.ws_url}/ws/matches/{match.id}/"
    with connect(url, origin=Origin(server.url), open_timeout=10) as page:
        page.send(json.dumps({"type": "resume", "versions": {str(match.id): match.version}}))
        assert receive(page)["type"] == "synced"
        yield page


def closed_by_server(raw: socket.socket) -> bool:
    """Reads until the server ends the connection (EOF or reset)."""
    with contextlib.suppress(ConnectionResetError):
        while raw.recv(4096):
            pass
    return True


HANDSHAKE = (
    "GET /ws/matches/{match}/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: {origin}\r\n"
    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


def receive(page: ClientConnection) -> dict[str, Any]:
    return dict(json.loads(page.recv(timeout=20)))


def post_goal(server: WebServer, match: Match, minute: int) -> None:
    token, _ = Token.objects.get_or_create(user=match.championship.owner)
    request = urllib.request.Request(
        f"{server.url}/api/v1/matches/{match.id}/goals/",
        data=json.dumps({"team": str(match.home_team_id), "minute": minute}).encode(),
        headers={"Authorization": f"Token {token.key}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=20) as response:
        assert response.status == 200


@pytest.fixture
def live_match() -> Match:
    match = MatchFactory.create()
    live(match)
    return Match.objects.select_related("championship__owner").get(id=match.id)


PUSHER_ONLY = {"LIVE_PUSH_ON_COMMIT": "0"}


def test_the_live_pusher_brings_a_goal_written_through_one_web_process_to_a_page_on_another(
    web_servers: Callable[..., WebServer], workers: Callable[..., Worker], live_match: Match
):
    # Given a worker, two web processes that leave pushes to it, a page on the first
    workers("pusher", REDIS_BROKER).wait_ready()
    first, second = web_servers("first", PUSHER_ONLY), web_servers("second", PUSHER_ONLY)
    with open_page(first, live_match) as page:
        # When a goal is posted to the second
        post_goal(second, live_match, minute=61)

        # Then the page on the first gets its event, at the next version
        pushed = receive(page)
    assert pushed["event_type"] == "GoalScored"
    assert (pushed["stream_id"], pushed["version"]) == (str(live_match.id), live_match.version + 1)
    assert pushed["payload"]["minute"] == 61


def test_without_a_worker_the_web_process_that_wrote_a_goal_pushes_it_to_every_page(
    web_servers: Callable[..., WebServer], live_match: Match
):
    # Given two web processes, no worker at all, a page on the first
    first, second = web_servers("first"), web_servers("second")
    with open_page(first, live_match) as page:
        # When a goal is posted to the second
        post_goal(second, live_match, minute=12)

        # Then the second pushed it on commit, through the shared layer, once
        pushed = receive(page)
        assert (pushed["stream_id"], pushed["version"]) == (
            str(live_match.id),
            live_match.version + 1,
        )
        post_goal(second, live_match, minute=13)
        assert receive(page)["version"] == live_match.version + 2


def test_a_connection_that_breaks_the_protocol_does_not_disturb_the_others(
    web_servers: Callable[..., WebServer], workers: Callable[..., Worker], live_match: Match
):
    # Given a page on a web process
    workers("pusher", REDIS_BROKER).wait_ready()
    server = web_servers("only")
    with open_page(server, live_match) as page:
        # When another client completes the handshake, then sends garbage, not frames
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
            raw.sendall(
                HANDSHAKE.format(match=live_match.id, port=server.port, origin=server.url).encode()
            )
            assert b" 101 " in raw.recv(4096)
            raw.sendall(b"\xff\xff\xff\xff\x00\x01garbage that is no websocket frame")
            # Then the server ends that connection
            assert closed_by_server(raw)

        # And the page still gets the next goal
        post_goal(server, live_match, minute=5)
        assert receive(page)["version"] == live_match.version + 1


def sse_events(response: Any, count: int) -> list[tuple[int, dict[str, Any]]]:
    """The next ``count`` events of an SSE response, as (id, envelope)."""
    events: list[tuple[int, dict[str, Any]]] = []
    fields: dict[str, str] = {}
    while len(events) < count:
        line = response.readline().decode().rstrip("\n")
        if line:
            name, _, value = line.partition(": ")
            fields[name] = value
            continue
        if "data" in fields:
            events.append((int(fields["id"]), json.loads(fields["data"])))
        fields = {}
    return events


def test_the_sse_stream_resumes_after_last_event_id_then_sends_live_events(
    web_servers: Callable[..., WebServer], workers: Callable[..., Worker], live_match: Match
):
    # Given a client that has seen version 1 of a live match (scheduled, started)
    workers("pusher", REDIS_BROKER).wait_ready()
    server = web_servers("sse")
    request = urllib.request.Request(
        f"{server.url}/api/v1/matches/{live_match.id}/stream/", headers={"Last-Event-ID": "1"}
    )

    with urllib.request.urlopen(request, timeout=20) as response:
        # When it connects, and a goal is then posted
        missed = sse_events(response, 1)
        post_goal(server, live_match, minute=77)
        pushed = sse_events(response, 1)

    # Then it gets what it missed from the store, then the goal, ids being versions
    assert response.headers["Content-Type"].startswith("text/event-stream")
    assert [(i, e["event_type"]) for i, e in missed] == [(2, "MatchStarted")]
    assert [(i, e["event_type"], e["payload"]["minute"]) for i, e in pushed] == [
        (3, "GoalScored", 77)
    ]


def test_an_idle_page_stays_connected_past_a_redis_socket_timeout(
    web_servers: Callable[..., WebServer], workers: Callable[..., Worker], live_match: Match
):
    # Regression: with the list-based layer, 5 s blocking pops raced redis-py's 5 s socket
    # timeout and idle consumers died under load ("Timeout reading from ...").
    workers("pusher", REDIS_BROKER).wait_ready()
    server = web_servers("idle")
    with open_page(server, live_match) as page:
        # The page waits for longer than redis-py's default socket timeout (5 s)
        with pytest.raises(TimeoutError):
            page.recv(timeout=6)

        post_goal(server, live_match, minute=88)

        assert receive(page)["version"] == live_match.version + 1
    assert "Timeout reading" not in server.log()


def test_eight_concurrent_goals_without_if_match_all_succeed_across_two_web_processes(
    web_servers: Callable[[str], WebServer], live_match: Match
) -> None:
    """No goal conflicts with another: a command given no expected_version re-reads and
    retries (backoff and jitter, until a deadline), so none reaches the client as a 409."""
    first, second = web_servers("first"), web_servers("second")
    servers = [first, second] * 4

    outcomes = together(
        *(
            lambda s=s, minute=minute: _goal_status(s, live_match, minute)
            for minute, s in enumerate(servers, start=1)
        )
    )

    assert outcomes == [200] * 8
    versions = [e.version for e in store.load(str(live_match.id))]
    assert versions == list(range(1, versions[-1] + 1))
    refreshed = Match.objects.get(id=live_match.id)
    assert refreshed.home_score == 8
    assert refreshed.version == live_match.version + 8


def _goal_status(server: WebServer, match: Match, minute: int) -> int:
    try:
        post_goal(server, match, minute)
    except urllib.error.HTTPError as exc:
        return exc.code
    return 200
