"""The SSE stream (``championships/api/views/stream.py``) releases its channel on every
exit, in the production layer (channels-redis's pub/sub layer on a real Redis)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import pytest
from asgiref.sync import async_to_sync
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.conf import settings as project_settings
from django.test import RequestFactory

from championships import live
from championships.api.views import stream
from tests.championships.factories import MatchFactory

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def layer(monkeypatch: pytest.MonkeyPatch) -> RedisPubSubChannelLayer:
    layer = RedisPubSubChannelLayer(
        hosts=[project_settings.REDIS_URL], prefix=f"test-{uuid.uuid4().hex}"
    )
    monkeypatch.setattr(stream, "get_channel_layer", lambda: layer)
    return layer


def channels_left(layer: RedisPubSubChannelLayer, scenario: Callable[[], Awaitable[None]]) -> int:
    """Run ``scenario``, then count the channels the layer still holds in this process and
    on Redis (a channel and its groups are subscriptions of the layer's connection)."""

    async def run() -> int:
        await scenario()
        await asyncio.sleep(0)
        held = len(layer.channels) + len(layer.groups)
        subscribed = sum(len(shard._subscribed_to) for shard in layer._shards)
        await layer.flush()
        return held + subscribed

    return async_to_sync(run)()


def test_a_stream_ended_by_a_draft_notice_releases_its_channel(layer):
    # Given a stream past the store's events, waiting for pushes
    match = MatchFactory.create()

    async def scenario() -> None:
        events = stream._events(str(match.id), 0)
        assert (await events.__anext__()).startswith("retry:")
        assert (await events.__anext__()).startswith("id: 1\n")  # MatchScheduled
        next_frame = asyncio.ensure_future(events.__anext__())
        await asyncio.wait({next_frame}, timeout=0.5)  # the stream waits for pushes

        # When its championship becomes a draft (the notice is pushed, marked hidden)
        await layer.group_send(
            live.match_group(match.id),
            {
                "type": live.MESSAGE_TYPE,
                "stream_id": str(match.championship_id),
                "version": 9,
                "text": "{}",
                "hidden": True,
            },
        )

        # Then the stream ends
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(next_frame, 10)

    # ... and its channel is released.
    # Before: the channel stayed subscribed, here and on Redis (only a cancelled receive
    # unsubscribes it, and none was pending once the notice had been received).
    assert channels_left(layer, scenario) == 0


def test_a_client_leaving_during_the_catch_up_releases_the_streams_channel(layer):
    match = MatchFactory.create()

    async def scenario() -> None:
        events = stream._events(str(match.id), 0)
        assert (await events.__anext__()).startswith("retry:")
        assert (await events.__anext__()).startswith("id: 1\n")
        # The client goes while the store's events are being sent: closed at its yield
        await events.aclose()

    # Before: the channel stayed subscribed (no receive had been started to cancel).
    assert channels_left(layer, scenario) == 0


def test_the_response_closes_its_events_when_the_server_closes_it(layer):
    # Given the stream's response, iterated as Django's ASGI handler does
    match = MatchFactory.create()
    request = RequestFactory().get(f"/api/v1/matches/{match.id}/stream/")

    async def scenario() -> None:
        response = await stream.match_stream(request, pk=match.id)
        content = aiter(response)
        assert (await content.__anext__()).startswith(b"retry:")
        assert (await content.__anext__()).startswith(b"id: 1\n")

        # When the handler closes what it iterates (the client left: aclosing)
        await content.aclose()

    # Then the events generator is closed with it and its channel released.
    # Before: Django wraps the events in a generator it never closes, so they waited for
    # the garbage collector, subscribed.
    assert channels_left(layer, scenario) == 0
