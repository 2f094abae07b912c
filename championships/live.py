"""The live pusher: each championship, match and standings event to the Channels groups of
the pages that show it, with its stream and version.

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
from collections.abc import Coroutine
from datetime import timedelta
from functools import partial
from typing import Any
from uuid import UUID

import orjson
from asgiref.sync import async_to_sync
from channels.layers import BaseChannelLayer, InMemoryChannelLayer, get_channel_layer
from django.db import transaction
from django.utils import timezone
from prometheus_client import Counter

from championships.events import CHAMPIONSHIP_STREAM, MATCH_STREAM, STANDINGS_STREAM
from events.store import RecordedEvent

logger = logging.getLogger(__name__)

SUBSCRIPTION = "championships.live"
STREAM_TYPES = (CHAMPIONSHIP_STREAM, MATCH_STREAM, STANDINGS_STREAM)
# A page that connects later catches up from the store anyway; pushing older events (a
# new subscription delivering history, a worker back after an outage) only makes every
# open page drop duplicates. Pages also sync every few seconds, so nothing waits on this.
STALE_AFTER = timedelta(minutes=2)
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
    """Send the event to its groups once the delivery transaction commits. Redelivery
    sends it again: pages ignore a version they already applied."""
    push_batch([recorded])


def push_batch(batch: list[RecordedEvent]) -> None:
    fresh_after = timezone.now() - STALE_AFTER
    sends = [
        (group, message(recorded))
        for recorded in batch
        if recorded.occurred_at >= fresh_after
        for group in groups_for(recorded)
    ]
    if sends:
        transaction.on_commit(partial(send, sends))


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

    TIMEOUT_SECONDS = 5.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid = 0

    def run(self, coroutine: Coroutine[Any, Any, None]) -> None:
        future = asyncio.run_coroutine_threadsafe(coroutine, self._running_loop())
        try:
            future.result(self.TIMEOUT_SECONDS)
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


_sender = _LoopThread()


async def _send_all(
    layer: BaseChannelLayer | None, sends: list[tuple[str, dict[str, Any]]]
) -> None:
    if layer is None:
        return
    for group, payload in sends:
        await layer.group_send(group, payload)
