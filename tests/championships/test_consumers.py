"""The live websockets through the real ASGI application (origin check, routing,
consumers) with channels' in-memory layer; the pusher runs in real delivery transactions.

Consumers read the store through ``database_sync_to_async``, which closes the thread's
connection between calls: these tests commit for real (``transaction=True``).
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from championships import commands
from championships.consumers import MAX_MESSAGE_BYTES, RATE_MAX_REQUESTS
from championships.events import standings_stream_id
from championships.models import Match
from easychamp.asgi import application
from events import delivery
from tests.championships.conftest import draft, ids
from tests.championships.factories import MatchFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ORIGIN = (b"origin", b"http://localhost")


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    async_to_sync(scenario)()


async def open_socket(path: str, origin: tuple[bytes, bytes] = ORIGIN) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, path, headers=[origin])
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def closed_with_4404(socket: WebsocketCommunicator) -> bool:
    """Whether the server accepted, then closed with 4404 at once: a browser sees that
    code (a close during the handshake is an HTTP 403 to it, close code 1006)."""
    connected, _ = await socket.connect()
    closing = await socket.receive_output(timeout=5)
    return connected and closing == {"type": "websocket.close", "code": 4404}


async def receive_until_synced(communicator: WebsocketCommunicator) -> list[dict[str, Any]]:
    """Every message up to and including the next ``synced``."""
    received = []
    while True:
        message = await communicator.receive_json_from(timeout=5)
        received.append(message)
        if message.get("type") == "synced":
            return received


def versions(messages: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return [(m["stream_id"], m["version"]) for m in messages if "event_id" in m]


@database_sync_to_async
def live_match() -> Match:
    match = MatchFactory.create()
    commands.match_start(**ids(match))
    return Match.objects.select_related("championship").get(id=match.id)


@database_sync_to_async
def goal(match: Match, minute: int = 10) -> None:
    commands.match_record_goal(**ids(match), team_id=match.home.id, minute=minute)


@database_sync_to_async
def deliver() -> None:
    delivery.deliver_all()


async def both_pages() -> tuple[Match, WebsocketCommunicator, WebsocketCommunicator]:
    """A live match, delivered, with a page of its own and its championship's page open."""
    match = await live_match()
    await deliver()
    match_page = await open_socket(f"/ws/matches/{match.id}/")
    championship_page = await open_socket(f"/ws/championships/{match.championship_id}/")
    return match, match_page, championship_page


def test_a_page_that_resumes_gets_the_events_it_missed_in_order_then_synced():
    async def scenario() -> None:
        # Given a live match at version 3 (scheduled, started, a goal)
        match = await live_match()
        await goal(match)
        page = await open_socket(f"/ws/matches/{match.id}/")

        # When a page that applied version 1 resumes
        await page.send_json_to({"type": "resume", "versions": {str(match.id): 1}})
        received = await receive_until_synced(page)

        # Then it gets versions 2 and 3 as envelopes, then the head
        assert versions(received) == [(str(match.id), 2), (str(match.id), 3)]
        assert [m["event_type"] for m in received[:2]] == ["MatchStarted", "GoalScored"]
        assert received[1]["payload"]["home_score"] == 1
        assert received[-1] == {"type": "synced", "versions": {str(match.id): 3}}
        await page.disconnect()

    run(scenario)


def test_a_delivered_goal_is_pushed_to_the_match_and_championship_pages():
    async def scenario() -> None:
        # Given a match page and its championship page, connected and synced
        match, match_page, championship_page = await both_pages()

        # When a goal is recorded and delivered
        await goal(match, minute=33)
        await deliver()

        # Then both pages receive its envelope, with the stream's version
        for page in (match_page, championship_page):
            pushed = await page.receive_json_from(timeout=5)
            assert (pushed["stream_id"], pushed["version"]) == (str(match.id), 3)
            assert pushed["event_type"] == "GoalScored"
            assert pushed["payload"]["minute"] == 33
            await page.disconnect()

    run(scenario)


def test_a_championship_page_gets_standings_events_when_a_match_is_completed():
    async def scenario() -> None:
        match = await live_match()
        await deliver()
        page = await open_socket(f"/ws/championships/{match.championship_id}/")

        await database_sync_to_async(commands.match_complete)(**ids(match))
        await deliver()

        pushed = [await page.receive_json_from(timeout=5) for _ in range(2)]
        assert {m["event_type"] for m in pushed} == {"MatchCompleted", "StandingsUpdated"}
        assert standings_stream_id(match.championship_id) in {m["stream_id"] for m in pushed}
        await page.disconnect()

    run(scenario)


def test_a_gap_is_filled_by_fetching_the_range():
    async def scenario() -> None:
        match = await live_match()
        for minute in (5, 6, 7):
            await goal(match, minute)
        page = await open_socket(f"/ws/matches/{match.id}/")

        await page.send_json_to({"type": "fetch", "stream_id": str(match.id), "after": 2})
        received = await receive_until_synced(page)

        assert versions(received) == [(str(match.id), v) for v in (3, 4, 5)]
        assert [m["payload"]["minute"] for m in received[:3]] == [5, 6, 7]
        await page.disconnect()

    run(scenario)


def test_a_page_reads_only_the_streams_of_its_own_championship():
    async def scenario() -> None:
        # Given two championships, each with a live match
        ours, theirs = await live_match(), await live_match()
        page = await open_socket(f"/ws/championships/{ours.championship_id}/")

        # When the page asks for its match, another championship's and a made-up stream
        await page.send_json_to(
            {
                "type": "resume",
                "versions": {str(ours.id): 0, str(theirs.id): 0, "users-1": 0},
            }
        )
        received = await receive_until_synced(page)

        # Then it gets its own match's events only
        assert {m["stream_id"] for m in received if "event_id" in m} == {str(ours.id)}
        assert received[-1]["versions"] == {str(ours.id): 2}
        await page.disconnect()

    run(scenario)


def test_an_unknown_match_or_a_foreign_origin_is_refused():
    async def scenario() -> None:
        unknown = WebsocketCommunicator(application, f"/ws/matches/{uuid.uuid4()}/", [ORIGIN])
        assert await closed_with_4404(unknown)

        match = await live_match()
        foreign = WebsocketCommunicator(
            application, f"/ws/matches/{match.id}/", [(b"origin", b"https://evil.example")]
        )
        connected, _ = await foreign.connect()
        assert not connected

    run(scenario)


def test_bad_messages_get_an_error_and_the_connection_keeps_working():
    async def scenario() -> None:
        match = await live_match()
        page = await open_socket(f"/ws/matches/{match.id}/")

        for bad in (
            "{not json",
            "[1, 2]",
            json.dumps({"type": "subscribe-everything"}),
            json.dumps({"type": "resume", "versions": {str(match.id): -1}}),
            json.dumps({"type": "resume", "versions": {str(match.id): True}}),
            json.dumps({"type": "resume", "versions": "all"}),
            json.dumps({"type": "fetch", "after": 0}),
        ):
            await page.send_to(text_data=bad)
            reply = await page.receive_json_from(timeout=5)
            assert reply["type"] == "error", bad

        await page.send_json_to({"type": "resume", "versions": {str(match.id): 0}})
        assert len(versions(await receive_until_synced(page))) == 2
        await page.disconnect()

    run(scenario)


@pytest.mark.parametrize(
    ("frame", "close_code"),
    [
        ({"bytes_data": b"\x00\x01"}, 1003),
        ({"text_data": "x" * (MAX_MESSAGE_BYTES + 1)}, 1009),
    ],
    ids=["binary", "oversized"],
)
def test_binary_or_oversized_frames_close_that_connection_only(frame, close_code):
    async def scenario() -> None:
        match = await live_match()
        await deliver()
        bystander = await open_socket(f"/ws/matches/{match.id}/")
        offender = await open_socket(f"/ws/matches/{match.id}/")

        await offender.send_to(**frame)

        assert (await offender.receive_json_from(timeout=5))["type"] == "error"
        assert await offender.receive_output(timeout=5) == {
            "type": "websocket.close",
            "code": close_code,
        }
        await goal(match)
        await deliver()
        assert (await bystander.receive_json_from(timeout=5))["version"] == 3
        await bystander.disconnect()

    run(scenario)


def test_a_flooding_connection_is_closed():
    async def scenario() -> None:
        match = await live_match()
        page = await open_socket(f"/ws/matches/{match.id}/")

        for _ in range(RATE_MAX_REQUESTS + 1):
            await page.send_to(text_data="{}")
        outputs = [await page.receive_output(timeout=5) for _ in range(RATE_MAX_REQUESTS + 2)]

        assert outputs[-1] == {"type": "websocket.close", "code": 1008}

    run(scenario)


def test_a_draft_championships_live_channels_are_refused():
    async def scenario() -> None:
        match = await live_match()
        championship = await database_sync_to_async(
            lambda: commands.championship_update(
                actor_id=match.championship.owner_id,
                championship_id=match.championship_id,
                visibility="draft",
            )
        )()
        for path in (f"/ws/matches/{match.id}/", f"/ws/championships/{championship.id}/"):
            socket = WebsocketCommunicator(application, path, [ORIGIN])
            assert await closed_with_4404(socket)

    run(scenario)


make_draft = database_sync_to_async(draft)


def test_open_channels_close_when_their_championship_becomes_a_draft():
    async def scenario() -> None:
        # Given a match page and its championship page, open and synced
        match, match_page, championship_page = await both_pages()

        # When the organiser makes the championship a draft, and that is delivered
        await make_draft(match)
        await deliver()

        # Then both pages get that event and are closed (before, they went on receiving
        # the draft's goals)
        for page in (match_page, championship_page):
            pushed = await page.receive_json_from(timeout=5)
            assert pushed["event_type"] == "ChampionshipVisibilityChanged"
            assert await page.receive_output(timeout=5) == {
                "type": "websocket.close",
                "code": 4404,
            }

    run(scenario)


def test_a_page_whose_championship_became_a_draft_unseen_is_closed_at_its_next_request():
    async def scenario() -> None:
        # Given an open match page, and the championship made a draft with no push
        # reaching the page (pushes are at most once)
        match = await live_match()
        page = await open_socket(f"/ws/matches/{match.id}/")
        await make_draft(match)

        # When the page resumes
        await page.send_json_to({"type": "resume", "versions": {str(match.id): 0}})

        # Then it gets nothing of the draft: the connection closes
        assert await page.receive_output(timeout=5) == {"type": "websocket.close", "code": 4404}

    run(scenario)


@pytest.mark.parametrize(
    "spelling",
    [str.upper, lambda s: "{" + s + "}", lambda s: "urn:uuid:" + s],
    ids=["capitals", "braces", "urn"],
)
def test_a_match_stream_id_spelled_otherwise_is_ignored_not_a_crash(spelling):
    async def scenario() -> None:
        match = await live_match()
        page = await open_socket(f"/ws/championships/{match.championship_id}/")

        await page.send_json_to({"type": "resume", "versions": {spelling(str(match.id)): 0}})
        resumed = await receive_until_synced(page)
        await page.send_json_to({"type": "fetch", "stream_id": spelling(str(match.id)), "after": 0})
        fetched = await receive_until_synced(page)

        # Not a stream of this page as spelled (the store spells ids in lower case):
        # nothing sent, the connection alive (it crashed on a KeyError)
        assert resumed == fetched == [{"type": "synced", "versions": {}}]
        await page.disconnect()

    run(scenario)


@pytest.mark.parametrize("path", ["/ws/nothing/", "/ws/matches/not-a-uuid/", "/ws/matches/x/y"])
def test_a_websocket_to_no_route_is_refused_without_an_error(path, caplog):
    async def scenario() -> None:
        socket = WebsocketCommunicator(application, path, [ORIGIN])
        assert await closed_with_4404(socket)

    run(scenario)

    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]


def test_a_new_page_connects_and_catches_up_while_the_shared_thread_is_busy():
    async def scenario() -> None:
        match = await live_match()
        # Given the thread every consumer's catch-up reads share, busy (a long catch-up)
        release = threading.Event()
        busy = asyncio.ensure_future(sync_to_async(release.wait, thread_sensitive=True)(20))
        try:
            # When a new page connects and resumes
            socket = WebsocketCommunicator(application, f"/ws/matches/{match.id}/", [ORIGIN])
            connected, _ = await socket.connect(timeout=5)
            await socket.send_json_to({"type": "resume", "versions": {str(match.id): 0}})
            received = await receive_until_synced(socket)

            # Then neither waits for it (they queued behind: a storm of resumes held
            # every new page's handshake and catch-up for seconds)
            assert connected
            assert received[-1] == {"type": "synced", "versions": {str(match.id): 2}}
            await socket.disconnect()
        finally:
            release.set()
            await busy

    run(scenario)
