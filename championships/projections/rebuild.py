"""Rebuilding the standings projection from the event store."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from django.db import transaction

from championships import events as ev
from championships.models import (
    AppliedDeduction,
    AppliedResult,
    Match,
    Standing,
    StandingsHead,
)
from championships.projections.standings import HANDLED_TYPES, apply_standings
from events import store


def rebuild_standings(
    championship_id: UUID | None = None, *, progress: Callable[[int], None] | None = None
) -> int:
    """Rebuild the standings (of one championship, or all) from the event store.

    Replays the handled events in global order through the same code as live delivery,
    without publishing StandingsUpdated; each standings stream keeps its version.
    Returns the number of events replayed.
    """
    with transaction.atomic():
        standings = Standing.objects.all()
        results = AppliedResult.objects.all()
        deductions = AppliedDeduction.objects.all()
        heads = StandingsHead.objects.all()
        stream_ids: list[str] | None = None
        if championship_id is not None:
            standings = standings.filter(championship_id=championship_id)
            results = results.filter(championship_id=championship_id)
            deductions = deductions.filter(championship_id=championship_id)
            heads = heads.filter(championship_id=championship_id)
            match_ids = Match.objects.filter(championship_id=championship_id).values_list(
                "id", flat=True
            )
            stream_ids = [str(championship_id), *(str(m) for m in match_ids)]
        for queryset in (standings, results, deductions, heads):
            queryset.delete()
        position = 0
        replayed = 0
        while True:
            batch = store.read_all(
                position, limit=1000, stream_ids=stream_ids, event_types=HANDLED_TYPES
            )
            if not batch:
                break
            for recorded in batch:
                apply_standings(recorded, publish=False)
            position = batch[-1].position
            replayed += len(batch)
            if progress is not None:
                progress(replayed)
        rebuilt = StandingsHead.objects.all()
        if championship_id is not None:
            rebuilt = rebuilt.filter(championship_id=championship_id)
        for head in rebuilt:
            # The standings stream was not rewritten: keep appending where it ends.
            head.version = store.stream_version(ev.standings_stream_id(head.championship_id))
            head.save(update_fields=["version"])
    return replayed
