"""Websockets of the live pages: ``/ws/matches/<id>/`` and ``/ws/championships/<id>/``.

A consumer joins its page's group, relays what the live pusher sends (event envelopes,
already encoded) and answers two requests from the store, so a page never depends on a
group message arriving (docs/live.md):

- ``{"type": "resume", "versions": {stream_id: last applied version, ...}}`` — on connect,
  on reconnect and periodically: the events after each version, then ``synced`` with the
  heads the store had, so a page still behind (a long catch-up is cut) asks again.
- ``{"type": "fetch", "stream_id": ..., "after": version}`` — a gap the page noticed.

Bad input (binary or oversized frames, invalid JSON, unknown types, flooding) gets an
``error`` message or a close; it never affects other connections. No writes.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from uuid import UUID

import orjson
from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from championships import live
from championships.events import standings_stream_id
from championships.models import Championship, Match, Visibility
from events import store
from events.models import EventStream

# A championship page tracks one stream per match (380 in a 20-team double round robin).
MAX_MESSAGE_BYTES = 64 * 1024
MAX_STREAMS = 1000
# Events sent per stream and request; a page still behind sees it in ``synced``.
MAX_CATCH_UP = 500
# Per connection: more requests than this in the window closes it (policy violation).
RATE_WINDOW_SECONDS = 10.0
RATE_MAX_REQUESTS = 30
MAX_VERSION = 2**31 - 1

# The consumers' reads run on threads of their own, not on the one thread every
# thread-sensitive call of the process shares (outside a request, Channels runs them
# all there): a storm of resumes from some pages then held every other page's
# handshake and catch-up for seconds. Connect-time checks (one small query) apart from
# catch-ups (store reads), so new pages are not held by catch-ups either. Each thread
# holds a pooled connection only while it reads.
_CHECKS = ThreadPoolExecutor(1, thread_name_prefix="live-check")
_READS = ThreadPoolExecutor(2, thread_name_prefix="live-read")

CLOSE_NOT_FOUND = 4404
CLOSE_UNSUPPORTED = 1003
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009


class BadRequest(ValueError):
    pass


def _version(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_VERSION:
        raise BadRequest("a version is an integer >= 0")
    return value


def parse_versions(value: object) -> dict[str, int]:
    if not isinstance(value, dict):
        raise BadRequest("versions must be an object of stream_id: version")
    if len(value) > MAX_STREAMS:
        raise BadRequest(f"at most {MAX_STREAMS} streams")
    versions: dict[str, int] = {}
    for stream_id, version in value.items():
        if not isinstance(stream_id, str) or len(stream_id) > store.MAX_STREAM_ID_LENGTH:
            raise BadRequest("a stream_id is a string")
        versions[stream_id] = _version(version)
    return versions


class LiveConsumer(AsyncWebsocketConsumer):
    """A page's connection: one group, the streams in its scope (``streams_in_scope``)."""

    def group(self) -> str:
        raise NotImplementedError

    def exists(self) -> bool:
        raise NotImplementedError

    def streams_in_scope(self, stream_ids: set[str]) -> set[str]:
        """Those of ``stream_ids`` this page may read (runs in a thread: may query)."""
        raise NotImplementedError

    async def connect(self) -> None:
        self.key: UUID = self.scope["url_route"]["kwargs"]["id"]
        self.requests: list[float] = []
        exists = database_sync_to_async(self.exists, thread_sensitive=False, executor=_CHECKS)
        if not await exists():
            # Accepted, then closed: a close during the handshake reaches the browser as
            # an HTTP 403 (close code 1006, which pages retry); 4404 tells them to stop.
            await self.accept()
            await self.close(code=CLOSE_NOT_FOUND)
            return
        # Joined before anything is read from the store: an event committed after that
        # read reaches this group, one committed before it is in the read.
        await self.channel_layer.group_add(self.group(), self.channel_name)
        self.groups.append(self.group())
        await self.accept()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None:
            await self.error("binary frames are not supported", close=CLOSE_UNSUPPORTED)
            return
        if len(text_data) > MAX_MESSAGE_BYTES:
            await self.error(f"messages are at most {MAX_MESSAGE_BYTES} bytes", CLOSE_TOO_BIG)
            return
        if self.flooding():
            await self.error("too many requests", close=CLOSE_POLICY)
            return
        try:
            request = orjson.loads(text_data)
            if not isinstance(request, dict):
                raise BadRequest("a request is a JSON object")
            await self.dispatch_request(request)
        except orjson.JSONDecodeError:
            await self.error("invalid JSON")
        except BadRequest as exc:
            await self.error(str(exc))

    async def dispatch_request(self, request: dict[str, Any]) -> None:
        kind = request.get("type")
        if kind == "resume":
            versions = parse_versions(request.get("versions"))
            await self.catch_up(versions)
        elif kind == "fetch":
            stream_id = request.get("stream_id")
            if not isinstance(stream_id, str):
                raise BadRequest("fetch needs a stream_id")
            await self.catch_up(parse_versions({stream_id: request.get("after")}))
        else:
            raise BadRequest(f"unknown message type {kind!r}: expected resume or fetch")

    async def catch_up(self, versions: dict[str, int]) -> None:
        missed = database_sync_to_async(self.missed, thread_sensitive=False, executor=_READS)
        found = await missed(versions)
        if found is None:
            # The championship became a draft since this page connected.
            await self.close(code=CLOSE_NOT_FOUND)
            return
        texts, heads = found
        for text in texts:
            await self.send(text_data=text)
        await self.send(text_data=orjson.dumps({"type": "synced", "versions": heads}).decode())

    def missed(self, versions: dict[str, int]) -> tuple[list[str], dict[str, int]] | None:
        """The encoded events after each version, and the heads of those streams; None
        when the page's championship is no longer public."""
        if not self.exists():
            return None
        wanted = self.streams_in_scope(set(versions))
        heads = dict(
            EventStream.objects.filter(stream_id__in=wanted).values_list("stream_id", "version")
        )
        texts = [
            live.encode(recorded)
            for stream_id, head in sorted(heads.items())
            if head > versions[stream_id]
            for recorded in store.load(stream_id, versions[stream_id], limit=MAX_CATCH_UP)
        ]
        return texts, heads

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels closes stale database connections before each message, through a hop
        # to the process's shared thread: relaying a push touches no database (with every
        # page of a match getting every goal, that hop was the largest cost of the
        # fan-out), and the reads here close theirs in their own threads.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"no handler for message type {message['type']}")
        await handler(message)

    async def live_event(self, message: dict[str, Any]) -> None:
        await self.send(text_data=message["text"])
        if message.get("hidden"):
            # The championship became a draft: this public channel ends here.
            await self.close(code=CLOSE_NOT_FOUND)

    async def error(self, detail: str, close: int | None = None) -> None:
        await self.send(text_data=orjson.dumps({"type": "error", "error": detail}).decode())
        if close is not None:
            await self.close(code=close)

    def flooding(self) -> bool:
        now = time.monotonic()
        self.requests = [t for t in self.requests if now - t < RATE_WINDOW_SECONDS]
        self.requests.append(now)
        return len(self.requests) > RATE_MAX_REQUESTS


async def refuse_websocket(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A websocket to a path no page has: refused (4404), without a consumer (no channel
    of the layer made and dropped for each scanner's probe)."""
    message = await receive()
    if message["type"] == "websocket.connect":
        # Accepted first, so that the client sees the code (see LiveConsumer.connect).
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": CLOSE_NOT_FOUND})


class MatchConsumer(LiveConsumer):
    """``/ws/matches/<id>/``: the match stream."""

    def group(self) -> str:
        return live.match_group(self.key)

    def exists(self) -> bool:
        # Live channels are public: a draft championship's matches are not followed here.
        return Match.objects.filter(
            id=self.key, championship__visibility=Visibility.PUBLISHED
        ).exists()

    def streams_in_scope(self, stream_ids: set[str]) -> set[str]:
        return stream_ids & {str(self.key)}


class ChampionshipConsumer(LiveConsumer):
    """``/ws/championships/<id>/``: the championship's stream, its standings and matches."""

    def group(self) -> str:
        return live.championship_group(self.key)

    def exists(self) -> bool:
        return Championship.objects.filter(id=self.key, visibility=Visibility.PUBLISHED).exists()

    def streams_in_scope(self, stream_ids: set[str]) -> set[str]:
        own = {str(self.key), standings_stream_id(self.key)}
        candidates = []
        for stream_id in stream_ids - own:
            try:
                parsed = UUID(stream_id)
            except ValueError:
                continue
            # Only as the store spells it: "{...}" or capitals would come back from the
            # query spelled otherwise, as a stream the page did not ask for.
            if str(parsed) == stream_id:
                candidates.append(parsed)
        matches = Match.objects.filter(championship_id=self.key, id__in=candidates)
        return (stream_ids & own) | {str(m) for m in matches.values_list("id", flat=True)}
