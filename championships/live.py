"""The live pusher: each championship, match and standings event to the Channels groups of
the pages that show it, with its stream and version.

Two paths, one push per event: the process that commits an event pushes it at once
(``push_committed``, an append listener), and the live pusher subscription, delivered by
a worker, pushes whatever was not pushed (a process that died between its commit and
its push, a failed send). Each claims the event first in Redis, so pages get it once.

Channels delivers group messages at most once (a full channel drops them silently), so a
push is only the fast path: pages keep the last version they applied per stream and catch
up from the store when they connect, notice a gap, or sync (``championships.consumers``;
the protocol is described in docs/live.md).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import weakref
from collections.abc import Coroutine
from datetime import timedelta
from functools import partial
from typing import Any
from uuid import UUID

import orjson
import redis
import redis.asyncio as aioredis
from asgiref.sync import async_to_sync
from channels.layers import BaseChannelLayer, InMemoryChannelLayer, get_channel_layer
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from prometheus_client import Counter
from redis.exceptions import RedisError

from championships.events import CHAMPIONSHIP_STREAM, MATCH_STREAM, STANDINGS_STREAM
from events.store import RecordedEvent

logger = logging.getLogger(__name__)

SUBSCRIPTION = "championships.live"
STREAM_TYPES = (CHAMPIONSHIP_STREAM, MATCH_STREAM, STANDINGS_STREAM)
# A page that connects later catches up from the store anyway; pushing older events (a
# new subscription delivering history, a worker back after an outage) only makes every
# open page drop duplicates. Pages also sync every few seconds, so nothing waits on this.
STALE_AFTER = timedelta(minutes=2)
# A claim ("this event was pushed") lives longer than an event stays fresh.
CLAIM_SECONDS = int(STALE_AFTER.total_seconds()) + 60
# The consumer's handler for these group messages is ``live_event``.
MESSAGE_TYPE = "live.event"

push_failures = Counter(
    "easychamp_live_push_failures_total",
    "Live pushes lost after their delivery committed (pages catch up from the store).",
)


def match_group(match_id: UUID | str) -> str:
    return f"match.{match_id}"


def championship_group(championship_id: UUID | str) -> str:
    return f"championship.{championship_id}"


def groups_for(recorded: RecordedEvent) -> list[str]:
    """The groups of the pages that show this event's stream."""
    if recorded.stream_type == CHAMPIONSHIP_STREAM:
        return [championship_group(recorded.stream_id)]
    championship_id = getattr(recorded.data, "championship_id", None)
    groups = [championship_group(championship_id)] if championship_id is not None else []
    if recorded.stream_type == MATCH_STREAM:
        groups.insert(0, match_group(recorded.stream_id))
    return groups


def encode(recorded: RecordedEvent) -> str:
    """The websocket (and SSE) text of an event: its envelope as the public event feed
    shows it, the domain facts without the metadata (who acted, correlation ids)."""
    return orjson.dumps(public_envelope(recorded)).decode()


def public_envelope(recorded: RecordedEvent) -> dict[str, Any]:
    """What anyone may read of an event: everything but its metadata (``{}``); the
    championship's organisers get the whole envelope from the event feed."""
    return {**recorded.envelope(), "metadata": {}}


def message(recorded: RecordedEvent) -> dict[str, Any]:
    # The envelope is encoded once here, not once per connected page.
    return {
        "type": MESSAGE_TYPE,
        "stream_id": recorded.stream_id,
        "version": recorded.version,
        "text": encode(recorded),
    }


def push_on_event(recorded: RecordedEvent) -> None:
    """Send the event to its groups once the delivery transaction commits, unless the
    process that appended it already did (``push_committed``). Redelivery sends it
    again when nobody claimed it: pages ignore a version they already applied."""
    push_batch([recorded])


def push_batch(batch: list[RecordedEvent]) -> None:
    fresh = _fresh(batch)
    if fresh:
        transaction.on_commit(partial(_send_unclaimed, fresh))


def push_committed(recorded: list[RecordedEvent]) -> None:
    """The fast path (an append listener in every process, ``LIVE_PUSH_ON_COMMIT``): the
    process that committed the events pushes them at once, without waiting for a worker
    to deliver them. It claims each event first, so the live pusher skips it; a claimed
    push that is lost is caught up by the pages as any lost push. Never raises (it runs
    after the commit, in the committing request or task), never waits for Redis.

    In a web process the claim and the sends run on its event loop (``serve_from``),
    where its pages' consumers are: the request thread only hands them over. Elsewhere
    (a worker, a command) the claim is made here and the sends go to this process's
    loop thread."""
    fresh = _fresh([r for r in recorded if r.stream_type in STREAM_TYPES])
    if not fresh:
        return
    try:
        layer = get_channel_layer()
        if layer is None or isinstance(layer, InMemoryChannelLayer):
            return  # unit tests: the subscription pushes, on the consumers' loop
        web_loop = _web.loop
        if web_loop is not None and not web_loop.is_closed():
            submit(_web.claim_and_send(layer, fresh), web_loop)
            return
        sends = _sends(claim(fresh))
        if sends:
            _sender.submit(_send_all(layer, sends))
    except Exception:  # after the commit: counted, logged, the pusher or pages catch up
        push_failures.inc()
        logger.exception("live push on commit failed")


def serve_from(loop: asyncio.AbstractEventLoop) -> None:
    """Called by the web process's ASGI application on its event loop: pushes on commit
    run there."""
    if _web.loop is not loop:
        _web.loop, _web.redis = loop, None


class _WebLoop:
    """The web process's event loop, with a claims client of its own."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.redis: aioredis.Redis | None = None

    async def claim_and_send(self, layer: BaseChannelLayer, batch: list[RecordedEvent]) -> None:
        await _send_all(layer, _sends(await self._claim(batch)))

    async def _claim(self, batch: list[RecordedEvent]) -> list[RecordedEvent]:
        try:
            if self.redis is None:
                self.redis = aioredis.Redis.from_url(
                    settings.REDIS_URL,
                    socket_timeout=CLAIMS_TIMEOUT_SECONDS,
                    socket_connect_timeout=CLAIMS_TIMEOUT_SECONDS,
                )
            won = await _claims_pipeline(self.redis.pipeline(transaction=False), batch).execute()
        except (RedisError, OSError):
            return _unclaimable(batch)
        return _won(batch, won)


_web = _WebLoop()
# Claims must not hold a push up for long: without Redis, everything is pushed.
CLAIMS_TIMEOUT_SECONDS = 1.0


def _claims_pipeline(pipe: Any, batch: list[RecordedEvent]) -> Any:
    for recorded in batch:
        pipe.set(_claim_key(recorded), 1, nx=True, ex=CLAIM_SECONDS)
    return pipe


def _won(batch: list[RecordedEvent], won: list[Any]) -> list[RecordedEvent]:
    return [recorded for recorded, first in zip(batch, won, strict=True) if first]


def _unclaimable(batch: list[RecordedEvent]) -> list[RecordedEvent]:
    logger.warning("live push claims unavailable; pushing %d event(s)", len(batch))
    return batch


def _claim_key(recorded: RecordedEvent) -> str:
    return f"live:pushed:{recorded.stream_id}:{recorded.version}"


def _fresh(batch: list[RecordedEvent]) -> list[RecordedEvent]:
    fresh_after = timezone.now() - STALE_AFTER
    return [recorded for recorded in batch if recorded.occurred_at >= fresh_after]


def _sends(batch: list[RecordedEvent]) -> list[tuple[str, dict[str, Any]]]:
    return [(group, message(recorded)) for recorded in batch for group in groups_for(recorded)]


def claim(batch: list[RecordedEvent]) -> list[RecordedEvent]:
    """The events of ``batch`` no process has pushed, now claimed by this one (one
    ``SET NX EX`` each, pipelined; a claim outlives the age at which events are no
    longer pushed). Without Redis: all of them (a duplicate push is harmless)."""
    try:
        won = _claims_pipeline(_claims.client().pipeline(transaction=False), batch).execute()
    except (RedisError, OSError):
        return _unclaimable(batch)
    return _won(batch, won)


def _send_unclaimed(batch: list[RecordedEvent]) -> None:
    # Unit tests' in-memory layer: no process pushes on commit, so nothing to skip.
    unit_tests = isinstance(get_channel_layer(), InMemoryChannelLayer)
    sends = _sends(batch if unit_tests else claim(batch))
    if sends:
        send(sends)


def send(sends: list[tuple[str, dict[str, Any]]]) -> None:
    """Group sends, in order (a page that sees them out of order would ask for a range it
    is about to get). A failure is counted and logged, not raised: the events are
    committed and delivered, and pages will find them in the store."""
    layer = get_channel_layer()
    try:
        if isinstance(layer, InMemoryChannelLayer):
            # Unit tests: the in-memory queues belong to the consumers' event loop.
            async_to_sync(_send_all)(layer, sends)
        else:
            _sender.run(_send_all(layer, sends))
    except Exception:  # the boundary after delivery: counted, logged, caught up later
        push_failures.inc()
        logger.exception("live push of %d message(s) failed", len(sends))


class _Claims:
    """This process's Redis client for push claims (thread-safe; made again after a
    fork)."""

    def __init__(self) -> None:
        self._client: redis.Redis | None = None
        self._pid = 0

    def client(self) -> redis.Redis:
        if self._client is None or self._pid != os.getpid():
            self._client = redis.Redis.from_url(
                settings.REDIS_URL,
                socket_timeout=CLAIMS_TIMEOUT_SECONDS,
                socket_connect_timeout=CLAIMS_TIMEOUT_SECONDS,
            )
            self._pid = os.getpid()
        return self._client


_claims = _Claims()


class _LoopThread:
    """One event loop per process, in a thread, for every push. ``async_to_sync`` would
    start a loop per call, and channels-redis a new connection with it (about 5 ms a
    push, measured); this loop keeps its connection."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid = 0

    def run(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Run ``coroutine`` on the loop and wait for it (at most TIMEOUT_SECONDS)."""
        future = asyncio.run_coroutine_threadsafe(in_turn(coroutine), self._running_loop())
        try:
            future.result(TIMEOUT_SECONDS)
        except TimeoutError:
            future.cancel()
            raise

    def submit(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Run ``coroutine`` on the loop without waiting (see ``submit``)."""
        submit(coroutine, self._running_loop())

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            # A forked worker process starts its own (the parent's thread is not there).
            if self._loop is None or self._pid != os.getpid():
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="live-push", daemon=True).start()
                self._loop, self._pid = loop, os.getpid()
            return self._loop


TIMEOUT_SECONDS = 5.0
_turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


async def in_turn(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run ``coroutine`` after those handed to this event loop before it (pushes keep
    commit order), for at most TIMEOUT_SECONDS."""
    loop = asyncio.get_running_loop()
    turn = _turns.setdefault(loop, asyncio.Lock())
    async with turn:
        await asyncio.wait_for(coroutine, TIMEOUT_SECONDS)


def submit(coroutine: Coroutine[Any, Any, None], loop: asyncio.AbstractEventLoop) -> None:
    """Run ``coroutine`` on ``loop``, in turn, without waiting; a failure is counted and
    logged."""
    future = asyncio.run_coroutine_threadsafe(in_turn(coroutine), loop)
    future.add_done_callback(_count_failure)


def _count_failure(future: Any) -> None:
    if not future.cancelled() and future.exception() is not None:
        push_failures.inc()
        logger.error("live push failed", exc_info=future.exception())


_sender = _LoopThread()


async def _send_all(
    layer: BaseChannelLayer | None, sends: list[tuple[str, dict[str, Any]]]
) -> None:
    if layer is None:
        return
    for group, payload in sends:
        await layer.group_send(group, payload)
