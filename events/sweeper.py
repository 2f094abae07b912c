"""The sweeper: re-wakes (subscription, stream) pairs that are behind, so a lost
wake-up (worker killed, broker down) only delays delivery.

It stays cheap with many streams: per subscription it remembers up to when every
written stream was caught up, and only looks at streams written since (an index range
on ``event_stream.updated_at``), minus a margin for transactions that commit late.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from events import wakeup
from events.models import Checkpoint, EventStream, SweepCursor
from events.subscriptions import Subscription, subscriptions

logger = logging.getLogger(__name__)

LAG = timedelta(seconds=5)
COMMIT_MARGIN = timedelta(seconds=60)
PAGE = 2000
MAX_WAKES_PER_SUBSCRIPTION = 2000
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def sweep(now: datetime | None = None) -> int:
    """Wake every pair behind for longer than ``LAG``; returns how many were woken."""
    now = now or timezone.now()
    to_wake: set[tuple[str, str]] = set()
    for sub in subscriptions.all():
        to_wake |= _sweep_subscription(sub, now)
    for stream_id, stream_type in sorted(to_wake):
        wakeup.enqueue(stream_id, stream_type)
    if to_wake:
        logger.info("sweeper woke %s stream(s)", len(to_wake))
    return len(to_wake)


def _sweep_subscription(sub: Subscription, now: datetime) -> set[tuple[str, str]]:
    horizon = now - LAG
    cursor = (
        SweepCursor.objects.filter(subscription=sub.name)
        .values_list("swept_until", flat=True)
        .first()
    ) or _EPOCH
    streams = EventStream.objects.filter(
        updated_at__gte=cursor - COMMIT_MARGIN, updated_at__lt=horizon
    )
    if sub.stream_types is not None:
        streams = streams.filter(stream_type__in=sub.stream_types)
    woken: set[tuple[str, str]] = set()
    hold: datetime | None = None  # the oldest write not yet caught up
    scanned_until = horizon
    after: tuple[datetime, str] | None = None
    while True:
        page_qs = streams.order_by("updated_at", "stream_id")
        if after is not None:
            page_qs = page_qs.filter(
                Q(updated_at__gt=after[0]) | Q(updated_at=after[0], stream_id__gt=after[1])
            )
        page = list(page_qs.values_list("stream_id", "stream_type", "version", "updated_at")[:PAGE])
        if not page:
            break
        checkpoints = {
            stream_id: (version, blocked, next_attempt_at)
            for stream_id, version, blocked, next_attempt_at in Checkpoint.objects.filter(
                subscription=sub.name, stream_id__in=[row[0] for row in page]
            ).values_list("stream_id", "version", "blocked", "next_attempt_at")
        }
        for stream_id, stream_type, head, updated_at in page:
            version, blocked, next_attempt_at = checkpoints.get(stream_id, (0, False, None))
            if version >= head or blocked:
                continue
            if hold is None:
                hold = updated_at
            if next_attempt_at is not None and next_attempt_at > now:
                continue  # a retry is already scheduled for then
            woken.add((stream_id, stream_type))
        if len(woken) >= MAX_WAKES_PER_SUBSCRIPTION:
            scanned_until = page[-1][3]
            break
        if len(page) < PAGE:
            break
        after = (page[-1][3], page[-1][0])
    swept_until = min(hold, scanned_until) if hold is not None else scanned_until
    SweepCursor.objects.update_or_create(
        subscription=sub.name, defaults={"swept_until": max(swept_until, cursor)}
    )
    return woken
