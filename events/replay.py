"""Replay what a subscription has been delivered, to rebuild its projection.

A rebuild must end exactly where live delivery goes on: a rebuilt table that lacks an
event live delivery already applied (or holds one it will apply again) never agrees
with the live one again. So the hand-over point is the subscription's checkpoints, not
a position in the global feed: ``delivered_events`` locks them, so no delivery moves
them until the caller's transaction ends, and yields exactly the events up to each one
(less those an organiser skipped from a dead letter) in position order, the order live
delivery recorded them in. Events beyond a checkpoint, and streams first delivered
after the lock, are left to live delivery, which resumes from the same checkpoints once
the rebuild commits. Long transactions elsewhere do not matter: everything up to a
committed checkpoint is committed too.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from django.db import connection
from django.db.transaction import TransactionManagementError

from events.models import Checkpoint, DeadLetter, StoredEvent
from events.store import RecordedEvent, decode_row, text_rows

BATCH = 1000


def delivered_events(
    subscription: str,
    *,
    stream_ids: Sequence[str] | None = None,
    event_types: Sequence[str] | None = None,
) -> Iterator[RecordedEvent]:
    """Lock the subscription's checkpoints (of ``stream_ids``, or all) and yield, in
    position order, every event of ``event_types`` it has handled. Must run inside the
    transaction that writes the rebuilt projection."""
    if not connection.in_atomic_block:
        raise TransactionManagementError("delivered_events must run inside a transaction")
    checkpoints = Checkpoint.objects.select_for_update().filter(subscription=subscription)
    events = StoredEvent.objects.all()
    if stream_ids is not None:
        checkpoints = checkpoints.filter(stream_id__in=list(stream_ids))
        events = events.filter(stream_id__in=list(stream_ids))
    if event_types is not None:
        events = events.filter(event_type__in=list(event_types))
    delivered = dict(checkpoints.values_list("stream_id", "version"))
    skipped = set(
        DeadLetter.objects.filter(
            subscription=subscription, status=DeadLetter.Status.SKIPPED
        ).values_list("event_id", flat=True)
    )
    after = 0
    while True:
        rows = list(text_rows(events.filter(position__gt=after).order_by("position")[:BATCH]))
        for event_id, stream_id, stream_type, version, position, *rest in rows:
            if version <= delivered.get(stream_id, 0) and event_id not in skipped:
                yield decode_row(stream_id, stream_type, version, event_id, position, *rest)
        if len(rows) < BATCH:
            return
        after = rows[-1][4]
