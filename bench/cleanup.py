"""Removing what a benchmark's championships left behind: their rows, read models and
streams (events through ``events.purge``, the only way to delete them)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from django.contrib.auth import get_user_model
from django.db import transaction

from championships.events import standings_stream_id
from championships.models import (
    AppliedDeduction,
    AppliedResult,
    Championship,
    Goal,
    Match,
    Standing,
    StandingsHead,
)
from events.models import Checkpoint, DeadLetter, EventStream, StoredEvent
from events.purge import purge_events

CHUNK = 500


def remove_championships(ids: Sequence[uuid.UUID], user_ids: Iterable[int] = ()) -> None:
    """Delete the championships ``ids`` with their matches, standings and every stream
    they wrote (championship, standings, matches), then the users ``user_ids``."""
    match_ids = list(Match.objects.filter(championship_id__in=ids).values_list("id", flat=True))
    stream_ids = [
        *(str(c) for c in ids),
        *(standings_stream_id(c) for c in ids),
        *(str(m) for m in match_ids),
    ]
    with transaction.atomic():
        for model in (Standing, AppliedResult, AppliedDeduction, StandingsHead):
            model.objects.filter(championship_id__in=ids).delete()
        Goal.objects.filter(match_id__in=match_ids).delete()
        Match.objects.filter(championship_id__in=ids).delete()
        Championship.objects.filter(id__in=ids).delete()
        for chunk in range(0, len(stream_ids), CHUNK):
            part = stream_ids[chunk : chunk + CHUNK]
            Checkpoint.objects.filter(stream_id__in=part).delete()
            DeadLetter.objects.filter(stream_id__in=part).delete()
            purge_events(StoredEvent.objects.filter(stream_id__in=part))
            EventStream.objects.filter(stream_id__in=part).delete()
        get_user_model().objects.filter(id__in=list(user_ids)).delete()
