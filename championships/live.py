"""The live pusher: each championship, match and standings event to the Channels groups of
the pages that show it, with its stream and version.

Two paths, one push per event: the process that commits an event pushes it at once
(``push_committed``, an append listener), and the live pusher subscription, delivered by
a worker, pushes whatever was not pushed (a process that died between its commit and
its push, a failed send). Each claims the event in Redis in the same round trip as its
push (``Publisher``), so pages get it once.

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
from asgiref.sync import async_to_sync
from channels.layers import BaseChannelLayer, InMemoryChannelLayer, get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from prometheus_client import Counter

from championships import events as ev
from championships.events import CHAMPIONSHIP_STREAM, MATCH_STREAM, STANDINGS_STREAM
from championships.models import Match, Visibility
from easychamp import redis_guard
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


def hides(recorded: RecordedEvent) -> bool:
    """Whether the event makes its championship a draft: open public channels (the
    championship's and its matches' pages, SSE streams) end on it."""
    data = recorded.data
    return isinstance(data, ev.ChampionshipVisibilityChanged) and data.visibility == (
        Visibility.DRAFT
    )


def groups_for(recorded: RecordedEvent) -> list[str]:
    """The groups of the pages that show this event's stream; for an event that makes
    the championship a draft, every match's group too (their pages close on it)."""
    if recorded.stream_type == CHAMPIONSHIP_STREAM:
        groups = [championship_group(recorded.stream_id)]
        if hides(recorded):
            # Rare (an organiser's action), so one query here is fine.
            match_ids = Match.objects.filter(championship_id=recorded.stream_id)
            groups += [match_group(m) for m in match_ids.values_list("id", flat=True)]
        return groups
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
        # The pages and streams receiving it close (``hides``).
        "hidden": hides(recorded),
    }


def push_on_event(recorded: RecordedEvent) -> None:
    """Send the event to its groups once the delivery transaction commits, unless the
    process that appended it already did (``push_committed``). Redelivery sends it
    again when nobody claimed it: pages ignore a version they already applied."""
    push_batch([recorded])


def push_batch(batch: list[RecordedEvent]) -> None:
    fresh = _fresh(batch)
    if fresh:
        transaction.on_commit(partial(_push_unclaimed, fresh))


def push_committed(recorded: list[RecordedEvent]) -> None:
    """The fast path (an append listener in every process, ``LIVE_PUSH_ON_COMMIT``): the
    process that committed the events pushes them at once, without waiting for a worker
    to deliver them, claiming each so that the live pusher skips it; a claimed push that
    is lost is caught up by the pages as any lost push. One Redis round trip from the
    committing thread (``Publisher``). Never raises: it runs after the commit.

    Only with the Redis pub/sub layer; with any other (the unit tests' in-memory one)
    the live pusher pushes everything."""
    fresh = _fresh([r for r in recorded if r.stream_type in STREAM_TYPES])
    if not fresh:
        return
    try:
        publisher = _publisher()
        if publisher is not None:
            publisher.claim_and_publish(fresh)
    except Exception as exc:  # noqa: BLE001 - after the commit: counted, logged, caught up
        push_failures.inc()
        redis_guard.log_failure(logger, exc, "live push on commit failed", exc_info=True)


def _push_unclaimed(batch: list[RecordedEvent]) -> None:
    publisher = _publisher()
    if publisher is None:
        # Another layer: nobody pushes on commit, so there is nothing to skip.
        try:
            sends = _sends(batch)  # a draft notice reads its matches
        except Exception as exc:  # after delivery: counted, logged, caught up by pages
            push_failures.inc()
            logger.error("live push of %d event(s) failed: %s", len(batch), exc, exc_info=True)
            return
        send(sends)
        return
    try:
        publisher.claim_and_publish(batch)
    except Exception as exc:  # noqa: BLE001 - after delivery: counted, logged, caught up
        push_failures.inc()
        redis_guard.log_failure(
            logger, exc, "live push of %d event(s) failed", len(batch), exc_info=True
        )


# KEYS: one claim per event. ARGV[1]: the claims' lifetime; then, per event, how many
# messages it has and as many (channel, message) pairs. An event whose claim is taken
# already is skipped. Returns 1 or 0 per event: pushed or not.
_CLAIM_AND_PUBLISH = """
local i = 2
local pushed = {}
for k = 1, #KEYS do
  local n = tonumber(ARGV[i])
  i = i + 1
  if redis.call('SET', KEYS[k], '1', 'NX', 'EX', ARGV[1]) then
    for j = 1, n do
      redis.call('PUBLISH', ARGV[i], ARGV[i + 1])
      i = i + 2
    end
    pushed[k] = 1
  else
    i = i + 2 * n
    pushed[k] = 0
  end
end
return pushed
"""


class Publisher:
    """Claims and publishes live events on the Redis pub/sub channel layer in one round
    trip (a Lua script): a claim, then the event's group messages, as channels-redis's
    ``RedisPubSubChannelLayer.group_send`` publishes them (the layer's own serializer;
    its group channel name, ``<prefix>__group__<group>``). Synchronous, from any thread:
    the committing request or the worker's delivery needs no event loop for it.

    The group sends through the layer cost a loop hop and three asynchronous round
    trips per event (a claim, two PUBLISHes); in a web process under load that was a
    fifth of its CPU. Made for one Redis host (the layer shards groups across several).
    """

    def __init__(self, layer: Any, url: str, prefix: str) -> None:
        self.layer = layer
        self.prefix = prefix
        self.client = redis_guard.GuardedRedis.from_url(
            url,
            socket_timeout=CLAIMS_TIMEOUT_SECONDS,
            socket_connect_timeout=CLAIMS_TIMEOUT_SECONDS,
        )
        self.script = self.client.register_script(_CLAIM_AND_PUBLISH)
        self.pid = os.getpid()

    def claim_and_publish(self, batch: list[RecordedEvent]) -> list[RecordedEvent]:
        """Push the events of ``batch`` nobody pushed yet; returns those pushed."""
        args: list[Any] = [CLAIM_SECONDS]
        for recorded in batch:
            groups = groups_for(recorded)
            payload = self.layer.serialize(message(recorded))
            args.append(len(groups))
            for group in groups:
                args += [f"{self.prefix}__group__{group}", payload]
        pushed = self.script(keys=[_claim_key(r) for r in batch], args=args)
        return [recorded for recorded, done in zip(batch, pushed, strict=True) if done]


# This process's publisher, for the layer it was made for.
_current: Publisher | None = None
_publisher_lock = threading.Lock()
# Claims and pushes must not hold a request or a delivery up for long.
CLAIMS_TIMEOUT_SECONDS = 1.0


def _publisher() -> Publisher | None:
    """This process's publisher for the configured layer: None unless it is the Redis
    pub/sub layer on one host (made again for a new layer, or after a fork)."""
    global _current
    layer = get_channel_layer()
    if not isinstance(layer, RedisPubSubChannelLayer):
        return None
    current = _current
    if current is not None and current.layer is layer and current.pid == os.getpid():
        return current
    layers: dict[str, dict[str, Any]] = settings.CHANNEL_LAYERS
    config = layers["default"].get("CONFIG", {})
    hosts = config.get("hosts") or ["redis://localhost:6379"]
    if len(hosts) != 1 or not isinstance(hosts[0], str):
        return None
    with _publisher_lock:
        _current = Publisher(layer, hosts[0], config.get("prefix", "asgi"))
        return _current


def _claim_key(recorded: RecordedEvent) -> str:
    return f"live:pushed:{recorded.stream_id}:{recorded.version}"


def _fresh(batch: list[RecordedEvent]) -> list[RecordedEvent]:
    fresh_after = timezone.now() - STALE_AFTER
    return [recorded for recorded in batch if recorded.occurred_at >= fresh_after]


def _sends(batch: list[RecordedEvent]) -> list[tuple[str, dict[str, Any]]]:
    return [(group, message(recorded)) for recorded in batch for group in groups_for(recorded)]


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
    their order), for at most TIMEOUT_SECONDS."""
    loop = asyncio.get_running_loop()
    turn = _turns.setdefault(loop, asyncio.Lock())
    async with turn:
        await asyncio.wait_for(coroutine, TIMEOUT_SECONDS)


_sender = _LoopThread()


async def _send_all(
    layer: BaseChannelLayer | None, sends: list[tuple[str, dict[str, Any]]]
) -> None:
    if layer is None:
        return
    for group, payload in sends:
        await layer.group_send(group, payload)
