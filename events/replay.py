"""Replay what a subscription has been delivered, to rebuild its projection.

A rebuild must end exactly where live delivery goes on: a rebuilt table that lacks an
event live delivery already applied (or holds one it will apply again) never agrees
with the live one again. So the hand-over point is the subscription's checkpoints, not
a position in the global feed: ``Delivered`` reads them and yields exactly the events up
to each one (less those an organiser skipped from a dead letter) in position order, the
order live delivery recorded them in. Live delivery resumes from the same checkpoints.

For that to hold, the checkpoints must not move (over events the rebuild replays) while
the rebuild runs. The rebuild does not lock the checkpoints themselves: a delivery locks
its checkpoint and then what its handler writes, so a rebuild that locked checkpoints
and then the projection's rows would deadlock with it, and a stream delivered for the
first time creates a checkpoint no earlier lock could cover. Instead the rebuild first
takes the lock the projection's handler serialises on (the standings take their table's
head row), then reads the checkpoints: every delivery that applied an event to that
part of the projection has committed by then, with its checkpoint, and every later one
waits for the rebuild to commit. Long transactions elsewhere do not matter: everything
up to a committed checkpoint is committed too.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from django.db import connection
from django.db.transaction import TransactionManagementError

from events.models import Checkpoint, DeadLetter, StoredEvent
from events.store import RecordedEvent, decode_row, text_rows

BATCH = 1000


class Delivered:
    """What a subscription has been delivered: its checkpoints, read once. Create it
    inside the rebuild's transaction, after taking the lock the handler serialises on."""

    def __init__(self, subscription: str) -> None:
        if not connection.in_atomic_block:
            raise TransactionManagementError("read the checkpoints inside a transaction")
        self.subscription = subscription
        checkpoints = Checkpoint.objects.filter(subscription=subscription)
        self.versions = dict(checkpoints.values_list("stream_id", "version"))
        self.skipped = set(
            DeadLetter.objects.filter(
                subscription=subscription, status=DeadLetter.Status.SKIPPED
            ).values_list("event_id", flat=True)
        )

    def events(
        self,
        event_types: Sequence[str] | None = None,
        stream_ids: Sequence[str] | None = None,
    ) -> Iterator[RecordedEvent]:
        """In position order, every event (of ``event_types``, of ``stream_ids``) up to
        its stream's checkpoint, less those skipped from a dead letter."""
        events = StoredEvent.objects.all()
        if stream_ids is not None:
            events = events.filter(stream_id__in=list(stream_ids))
        if event_types is not None:
            events = events.filter(event_type__in=list(event_types))
        after = 0
        while True:
            rows = list(text_rows(events.filter(position__gt=after).order_by("position")[:BATCH]))
            for event_id, stream_id, stream_type, version, position, *rest in rows:
                if version <= self.versions.get(stream_id, 0) and event_id not in self.skipped:
                    yield decode_row(stream_id, stream_type, version, event_id, position, *rest)
            if len(rows) < BATCH:
                return
            after = rows[-1][4]
