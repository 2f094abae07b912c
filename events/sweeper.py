"""The sweeper: finds the (subscription, stream) pairs that have been behind for longer
than ``LAG`` and gets them delivered, so a lost wake-up (worker killed, broker down, a
drain flag left by a drain that never ran) only delays delivery.

How it decides, and what it costs, is described in docs/wakeups.md ("The sweeper"). In
short: per subscription it remembers up to when every written stream was caught up (the
cursor) and reads only streams written since, minus a margin for late commits, with no
upper bound, so a stream written every second is read too. A pair is behind for longer
than ``LAG`` when its checkpoint, behind the head, has not moved for ``LAG`` (or its
retry is due); a pair with no checkpoint yet, when its head is older than ``LAG``, or
else the sweeper creates the checkpoint so that the next sweep knows since when it has
waited. Every time is the database's: the workers' and the web servers' clocks may
drift, its clock is the one that stamps the rows.

The streams found go into the dirty set in one Redis call, with one drain sent whatever
the drain flag says; without Redis or a broker they are delivered here, for at most
``IN_PROCESS_SECONDS`` (the rest at the next sweep).

The SQL that creates the checkpoints of a page (one statement on PostgreSQL) is each
database's: ``events.backends``.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

from django.db.models import Q

from events import clock, delivery, wakeup
from events.backends import recorder
from events.drain import follow_up
from events.models import Checkpoint, EventStream, SweepCursor
from events.subscriptions import Subscription, subscriptions
from events.wakeup import Stream

logger = logging.getLogger(__name__)

LAG = timedelta(seconds=5)
COMMIT_MARGIN = timedelta(seconds=60)
PAGE = 2000
MAX_WAKES_PER_SUBSCRIPTION = 2000
IN_PROCESS_SECONDS = 2.0
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def sweep() -> int:
    """Get every pair behind for longer than ``LAG`` delivered; returns how many streams
    were woken."""
    now = database_now()
    behind: set[Stream] = set()
    for sub in subscriptions.all():
        behind |= _sweep_subscription(sub, now)
    if not behind:
        return 0
    streams = sorted(behind)
    if not wakeup.wake_behind(streams):
        _deliver_in_process(streams)
    logger.info("sweeper woke %s stream(s)", len(streams))
    return len(streams)


def database_now() -> datetime:
    """The database's clock, now (not the start of the transaction)."""
    return clock.database_now()


def _sweep_subscription(sub: Subscription, now: datetime) -> set[Stream]:
    horizon = now - LAG
    cursor = (
        SweepCursor.objects.filter(subscription=sub.name)
        .values_list("swept_until", flat=True)
        .first()
    ) or _EPOCH
    streams = EventStream.objects.filter(updated_at__gte=cursor - COMMIT_MARGIN)
    if sub.stream_types is not None:
        streams = streams.filter(stream_type__in=sub.stream_types)
    woken: set[Stream] = set()
    hold: datetime | None = None  # the oldest write not yet caught up
    scanned_until = now
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
            row[0]: row[1:]
            for row in Checkpoint.objects.filter(
                subscription=sub.name, stream_id__in=[row[0] for row in page]
            ).values_list("stream_id", "version", "blocked", "next_attempt_at", "updated_at")
        }
        unwatched: list[Stream] = []
        for stream_id, stream_type, head, head_at in page:
            checkpoint = checkpoints.get(stream_id)
            if checkpoint is None:
                due = head_at < horizon
                if not due:
                    unwatched.append((stream_id, stream_type))
            else:
                version, blocked, next_attempt_at, moved_at = checkpoint
                if version >= head or blocked:
                    continue
                # A retry is scheduled for then; otherwise, no progress for LAG.
                due = next_attempt_at <= now if next_attempt_at is not None else moved_at < horizon
            if hold is None:
                hold = head_at
            if due:
                woken.add((stream_id, stream_type))
        _watch(sub, unwatched)
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


def _watch(sub: Subscription, streams: list[Stream]) -> None:
    """Create the version-0 checkpoints of pairs never delivered yet, stamped with the
    database's now: if nobody delivers them, a later sweep sees since when they wait
    (their heads cannot say: a stream written every second always has a recent one)."""
    if streams:
        recorder().watch(sub.name, streams)


def _deliver_in_process(streams: list[Stream]) -> None:
    """Redis or the broker is unreachable: deliver here, within a time budget; the
    streams left over are still behind at the next sweep (the cursor holds at them)."""
    deadline = time.monotonic() + IN_PROCESS_SECONDS
    for count, (stream_id, stream_type) in enumerate(streams):
        if time.monotonic() > deadline:
            logger.warning("sweeper left %s stream(s) for its next run", len(streams) - count)
            return
        follow_up(stream_id, stream_type, delivery.deliver_stream(stream_id, stream_type))
