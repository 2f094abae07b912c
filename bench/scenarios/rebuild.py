"""Events/s replayed when the standings projection is rebuilt from the store.

A 20-team season with 1,000 completed matches is built through the commands, with the
live projection applied as it goes; then the projection is rebuilt from the store and
compared with the live one (``equal_to_live``)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection

from bench.scenarios.standings import _cleanup, _Season
from championships import projections
from championships.models import Standing
from events import delivery
from events.models import EventStream

COMPLETED = 1000


def _snapshot(championship_id: uuid.UUID) -> list[tuple[object, ...]]:
    return list(
        Standing.objects.filter(championship_id=championship_id)
        .order_by("group", "position")
        .values_list("team_id", "position", "played", "won", "drawn", "lost", "points", "form")
    )


def run(options: dict[str, Any], log: Callable[[str], None]) -> dict[str, Any]:
    owner = get_user_model().objects.create_user(f"bench-{uuid.uuid4().hex[:12]}")
    seasons: list[_Season] = []
    try:
        log(f"setting up a season with {COMPLETED} completed matches")
        season = _Season(owner.id, COMPLETED, log)
        season.settle()
        seasons.append(season)
        # A rebuild replays what live delivery handled: record it on the checkpoints
        # (redelivering to the projection applied above changes nothing).
        streams = EventStream.objects.filter(stream_id__in=season.stream_ids())
        for stream_id, stream_type in streams.values_list("stream_id", "stream_type"):
            delivery.deliver_stream(stream_id, stream_type, only=projections.standings.SUBSCRIPTION)
        live = _snapshot(season.championship.id)
        started = time.perf_counter()
        replayed = projections.rebuild_standings(season.championship.id)
        elapsed = time.perf_counter() - started
        rebuilt = _snapshot(season.championship.id)
    finally:
        _cleanup(seasons, owner.id)
    return {
        "scenario": "rebuild",
        "database": connection.vendor,
        "events": replayed,
        "seconds": round(elapsed, 3),
        "events_per_s": round(replayed / elapsed, 1),
        "equal_to_live": rebuilt == live,
    }
