"""``GET /api/v1/matches/{id}/stream/``: the match's events as Server-Sent Events.

Each event is ``id: <stream version>`` and ``data: <envelope JSON>``. A client resumes
with ``Last-Event-ID`` (browsers' EventSource sends it by itself when it reconnects) or
``?after=<version>``; it first gets every later event from the store, then live ones.
The live pusher's group messages only make delivery prompt: the store is read again
whenever a pushed version is not the next one, and every ``POLL_SECONDS`` regardless,
so a lost push delays an event by at most that long. A plain async Django view (not DRF),
so a connection holds no thread while it waits.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Any
from uuid import UUID

from channels.db import database_sync_to_async
from channels.layers import BaseChannelLayer, get_channel_layer
from django.db.models import QuerySet
from django.http import HttpRequest, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.views.decorators.csrf import csrf_exempt

from championships import live
from championships.api.views.base import allow_methods
from championships.consumers import MAX_VERSION
from championships.models import Match, Visibility
from events import store

POLL_SECONDS = 5.0
BATCH = 500
RETRY_MS = 2000


def _after(request: HttpRequest) -> int | None:
    raw = request.headers.get("Last-Event-ID") or request.GET.get("after") or "0"
    if not raw.isascii() or not raw.isdigit():
        return None
    # Leading zeros off and the length checked before int(), which refuses (ValueError)
    # strings of more than 4,300 digits.
    digits = raw.lstrip("0") or "0"
    if len(digits) > len(str(MAX_VERSION)) or int(digits) > MAX_VERSION:
        return None
    return int(digits)


def _published(match_id: UUID | str) -> QuerySet[Match]:
    return Match.objects.filter(id=match_id, championship__visibility=Visibility.PUBLISHED)


def _frame(recorded: store.RecordedEvent) -> str:
    return f"id: {recorded.version}\ndata: {live.encode(recorded)}\n\n"


@csrf_exempt  # read-only: a POST gets the 405 below, not an HTML CSRF page
@allow_methods("GET")
async def match_stream(request: HttpRequest, pk: UUID) -> HttpResponseBase:
    match_id = pk  # parsed by the URL's converter (a malformed id matches no route)
    # A public channel: a draft championship's matches are not streamed.
    if not await _published(match_id).aexists():
        return JsonResponse({"detail": f"match {pk} does not exist"}, status=404)
    after = _after(request)
    if after is None:
        return JsonResponse(
            {"detail": "Last-Event-ID (or ?after=) must be a stream version, an integer >= 0"},
            status=400,
        )
    response = _EventStream(
        _events(str(match_id), after), content_type="text/event-stream; charset=utf-8"
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # proxies must not hold events back
    return response


class _EventStream(StreamingHttpResponse):
    """Closes its events when the server closes it (``aclosing`` in Django's handler, at
    the end or when the client leaves): Django's own iteration wraps them in a generator
    it never closes, which left their channel subscribed until garbage collection."""

    def __init__(self, events: AsyncIterator[str], **kwargs: Any) -> None:
        super().__init__(events, **kwargs)
        self._events = events

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async with aclosing(self._events) as events:  # type: ignore[type-var]
            async for frame in events:
                yield self.make_bytes(frame)


async def _release(
    layer: BaseChannelLayer, channel: str, receiving: asyncio.Task[dict[str, Any]] | None
) -> None:
    """Drop ``channel``: a pub/sub layer unsubscribes a channel (locally and on Redis)
    only when a receive on it is cancelled; nothing else releases it. So a receive is
    kept pending, started if none is, and cancelled; one that got a message first is
    replaced (a channel holds few messages, so this ends)."""
    while True:
        if receiving is None or receiving.done():
            receiving = asyncio.ensure_future(layer.receive(channel))
            await asyncio.sleep(0)  # started: a task cancelled before it runs runs nothing
        receiving.cancel()
        try:
            await receiving
        except asyncio.CancelledError:
            return
        receiving = None


async def _events(stream_id: str, after: int) -> AsyncGenerator[str, None]:
    layer = get_channel_layer()
    assert layer is not None
    channel = await layer.new_channel()
    group = live.match_group(stream_id)
    # Joined before the first read, so nothing committed after that read goes unseen.
    await layer.group_add(group, channel)
    # One receive waits across polls: cancelling it would make a pub/sub layer drop the
    # channel (it takes a cancelled receive for a consumer that is leaving).
    receiving: asyncio.Task[dict[str, Any]] | None = None
    try:
        yield f"retry: {RETRY_MS}\n\n"
        read_store = True
        while True:
            while read_store:
                batch = await database_sync_to_async(store.load)(stream_id, after, limit=BATCH)
                for recorded in batch:
                    yield _frame(recorded)
                    after = recorded.version
                read_store = len(batch) == BATCH
            if receiving is None:
                receiving = asyncio.ensure_future(layer.receive(channel))
            done, _ = await asyncio.wait({receiving}, timeout=POLL_SECONDS)
            if not done:
                # Its connection handed back at once, not held across the yield below
                # (a client that does not read can hold that send up for long).
                if not await database_sync_to_async(_published(stream_id).exists)():
                    return  # made a draft, and its push was lost
                yield ": keep-alive\n\n"
                read_store = True
                continue
            message, receiving = receiving.result(), None
            if message.get("hidden"):
                return  # the championship became a draft: this public stream ends
            if message.get("version") == after + 1:
                yield f"id: {after + 1}\ndata: {message['text']}\n\n"
                after += 1
            elif message.get("version", 0) > after + 1:
                read_store = True  # a push was lost or is late: the store has it
    finally:
        # On every exit (the end of the stream, the client gone mid-send or mid-read).
        await layer.group_discard(group, channel)
        await _release(layer, channel, receiving)
