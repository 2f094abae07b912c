"""What the global feed costs (PostgreSQL): the sequencer's rate, the readers' rate, and
single appends with and without a sequencer pass running beside them.

Appends do no feed work themselves (the append statement is the same); the question is
what sequencer passes next to them take away: a pass every 50 ms, as 20 clients polling
the feed every second would cause (beat alone runs one a second). The two append phases
alternate for several rounds so noise hits both alike; each figure is the median of its
rounds.
"""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from django.db import connection, transaction

from bench.scenarios.append import STREAMS, _event, _rate, _StoreWriter
from events import feed, store
from events.models import EventStream, FeedEntry, StoredEvent
from events.purge import purge_events

BACKLOG = 20_000
ROUNDS = 3
PASS_INTERVAL = 0.05


def run(options: dict[str, Any], log: Callable[[str], None]) -> dict[str, Any]:
    if connection.vendor != "postgresql":
        raise RuntimeError("the feed benchmark needs PostgreSQL (set DATABASE_URL)")
    seconds = options.get("seconds") or 3.0
    prefix = f"bench-feed-{uuid.uuid4().hex[:8]}"
    feed.sequence(wait=True)
    start_cursor = _last_feed_position()
    try:
        log(f"appending a backlog of {BACKLOG} events")
        _append_backlog(prefix)
        started = time.perf_counter()
        sequenced = feed.sequence(wait=True)
        sequence_rate = sequenced / (time.perf_counter() - started)
        log(f"sequenced {sequenced} events at {sequence_rate:.0f}/s")

        started = time.perf_counter()
        cursor, read = start_cursor, 0
        while page := feed.read(cursor, 1000, stream_ids=None):
            read += len(page)
            cursor = page[-1].feed_position or cursor
        read_rate = read / (time.perf_counter() - started)
        log(f"read {read} events from the feed at {read_rate:.0f}/s")

        alone: list[float] = []
        beside: list[float] = []
        writer = _StoreWriter(f"{prefix}-single")
        for r in range(ROUNDS):
            with store.append_listeners_paused():
                alone.append(_rate(seconds, lambda i: writer.write(i, 1)))
                beside.append(_with_sequencer(lambda: _rate(seconds, lambda i: writer.write(i, 1))))
            log(f"round {r + 1}: alone {alone[-1]:.0f}/s, beside a sequencer {beside[-1]:.0f}/s")
    finally:
        _cleanup(prefix)
    single_alone = statistics.median(alone)
    single_beside = statistics.median(beside)
    return {
        "scenario": "feed",
        "database": connection.vendor,
        "sequenced_events_per_s": round(sequence_rate, 1),
        "feed_read_events_per_s": round(read_rate, 1),
        "single_events_per_s": round(single_alone, 1),
        "single_events_per_s_beside_sequencer": round(single_beside, 1),
        "append_ratio_beside_sequencer": round(single_beside / single_alone, 3),
        "sequencer_passes_per_s": round(1 / PASS_INTERVAL),
    }


def _append_backlog(prefix: str) -> None:
    with store.append_listeners_paused():
        for s in range(STREAMS):
            events = [_event(i) for i in range(BACKLOG // STREAMS)]
            with transaction.atomic():
                store.append(f"{prefix}-{s}", events, 0)


def _with_sequencer(measure: Callable[[], float]) -> float:
    """``measure()`` while another connection runs a sequencer pass every
    ``PASS_INTERVAL`` (as 20 clients polling the feed every second would)."""
    stop = threading.Event()

    def sequence() -> None:
        try:
            while not stop.wait(PASS_INTERVAL):
                feed.sequence()
        finally:
            connection.close()

    thread = threading.Thread(target=sequence)
    thread.start()
    try:
        return measure()
    finally:
        stop.set()
        thread.join(timeout=30)


def _last_feed_position() -> int:
    last = FeedEntry.objects.order_by("-feed_position").values_list("feed_position", flat=True)
    return last.first() or 0


def _cleanup(prefix: str) -> None:
    feed.sequence(wait=True)
    streams = EventStream.objects.filter(stream_id__startswith=prefix)
    events = StoredEvent.objects.filter(stream_id__startswith=prefix)
    with transaction.atomic():
        purge_events(events)
        streams.delete()
