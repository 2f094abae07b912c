"""What one sweep costs when 100,000 streams exist, all caught up.

``first_sweep_ms``: a subscription with no cursor yet reads every stream once (a new
subscription catching up). ``steady_sweep_ms_p50``: later sweeps read only the streams
written since the last one (plus a 60 s margin for late commits), so their cost follows
the recent write rate, not the number of streams (the streams here were written one
every 0.1 s over the last 2.8 hours).
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

from django.db import connection
from django.utils import timezone

from bench.probe import SUBSCRIPTION
from events import sweeper
from events.models import Checkpoint, EventStream, SweepCursor

STREAMS = 100_000
STEADY_SWEEPS = 10


def _timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def run(options: dict[str, Any], log: Callable[[str], None]) -> dict[str, Any]:
    if connection.vendor != "postgresql":
        raise RuntimeError("the sweep benchmark needs PostgreSQL (set DATABASE_URL)")
    prefix = f"sweep-{uuid.uuid4().hex[:8]}-"
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO event_stream (stream_id, stream_type, version, updated_at) "
            "SELECT %s || i, 'probe', 10, now() - (i || ' seconds')::interval / 10 "
            "FROM generate_series(1, %s) AS i",
            [prefix, STREAMS],
        )
        cursor.execute(
            "INSERT INTO event_checkpoint (subscription, stream_id, stream_type, version, "
            "attempts, last_error, blocked, updated_at) "
            "SELECT %s, %s || i, 'probe', 10, 0, '', false, now() "
            "FROM generate_series(1, %s) AS i",
            [SUBSCRIPTION, prefix, STREAMS],
        )
        cursor.execute("ANALYZE event_stream")
        cursor.execute("ANALYZE event_checkpoint")
    log(f"{STREAMS} caught-up streams written")
    saved = list(SweepCursor.objects.filter(subscription=SUBSCRIPTION))
    try:
        SweepCursor.objects.filter(subscription=SUBSCRIPTION).delete()
        first = _timed(sweeper.sweep)
        steady = [_timed(sweeper.sweep) for _ in range(STEADY_SWEEPS)]
        window = sweeper.COMMIT_MARGIN + sweeper.LAG
        recent = EventStream.objects.filter(
            stream_id__startswith=prefix, updated_at__gte=timezone.now() - window
        ).count()
    finally:
        EventStream.objects.filter(stream_id__startswith=prefix).delete()
        Checkpoint.objects.filter(stream_id__startswith=prefix).delete()
        SweepCursor.objects.filter(subscription=SUBSCRIPTION).delete()
        SweepCursor.objects.bulk_create(saved)
    return {
        "scenario": "sweep",
        "streams": STREAMS,
        "first_sweep_ms": round(first, 1),
        "streams_in_steady_window": recent,
        "steady_sweep_ms_p50": round(statistics.median(steady), 2),
        "steady_sweep_ms_max": round(max(steady), 2),
    }
