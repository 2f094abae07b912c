"""Delivery: hand a stream's new events to each subscription, in version order.

For each (subscription, stream) the checkpoint row is the lock and the progress: a
delivery locks it (``FOR UPDATE SKIP LOCKED``, so two workers never handle the same
pair at once; a pair held by another delivery is waited for briefly, then reported
busy), runs the handler over the pending events in one transaction and advances the
checkpoint in that same transaction.
Redelivering therefore never repeats a database effect.

A failing handler rolls its batch back. The events before the failing one are delivered
again on their own, then the failure is recorded on the checkpoint with the time of the
next attempt (exponential backoff with jitter). After the last attempt the event becomes
a dead letter and the pair is blocked: later events of that stream wait behind it for
this subscription only.
"""

from __future__ import annotations

import logging
import random
import time
import traceback
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg
from django.db import OperationalError, connection, transaction
from django.utils import timezone

from events import metrics
from events.context import event_context
from events.models import Checkpoint, DeadLetter, EventStream, StoredEvent
from events.store import RecordedEvent, decode_row, text_rows
from events.subscriptions import Subscription, subscriptions

logger = logging.getLogger(__name__)

MAX_ERROR_LENGTH = 2000
LOCK_WAIT_MS = 250


@dataclass
class StreamResult:
    """What one delivery pass over a stream did, and what the caller should schedule."""

    delivered: int = 0
    busy: list[str] = field(default_factory=list)
    retry_in: dict[str, float] = field(default_factory=dict)
    blocked: list[str] = field(default_factory=list)
    more: list[str] = field(default_factory=list)


@dataclass
class _State:
    pk: int
    version: int
    attempts: int
    next_attempt_at: datetime | None
    failing_since: datetime | None
    blocked: bool


class _Busy(Exception):
    """Another delivery held the pair for longer than we were willing to wait."""


class _HandlerFailed(Exception):
    def __init__(self, index: int, row: tuple[Any, ...], exc: BaseException) -> None:
        super().__init__(str(exc))
        self.index = index
        self.row = row
        self.exc = exc
        self.traceback = "".join(traceback.format_exception(exc))


_ROW_COLUMNS = (
    "version",
    "event_id",
    "position",
    "event_type",
    "schema_version",
    "occurred_at",
    "payload_text",
    "metadata_text",
)


def deliver_stream(
    stream_id: str, stream_type: str, *, only: str | None = None, max_batches: int = 20
) -> StreamResult:
    """Deliver the stream's pending events to every subscription that follows it."""
    result = StreamResult()
    targets = [subscriptions.get(only)] if only else subscriptions.following(stream_type)
    for sub in targets:
        if not sub.follows(stream_type):
            continue
        _deliver_subscription(sub, stream_id, stream_type, max_batches, result)
    return result


def _deliver_subscription(
    sub: Subscription, stream_id: str, stream_type: str, max_batches: int, result: StreamResult
) -> None:
    limit = sub.batch_size
    one_by_one = False
    for _ in range(max_batches):
        try:
            with transaction.atomic():
                state, rows = _lock_and_fetch(sub.name, stream_id, stream_type, limit)
                if state is None:
                    result.busy.append(sub.name)
                    return
                if state.blocked:
                    result.blocked.append(sub.name)
                    return
                wait = _seconds_until(state.next_attempt_at)
                if wait > 0:
                    result.retry_in[sub.name] = wait
                    return
                if not rows:
                    return
                _handle(sub, stream_id, stream_type, rows, one_by_one=one_by_one)
                _advance(state, rows[-1][0])
        except _Busy:
            result.busy.append(sub.name)
            return
        except _BatchFailed:
            one_by_one = True
            continue
        except _HandlerFailed as failure:
            if failure.index > 0:
                # Commit the events before the failing one first, on their own.
                limit = failure.index
                continue
            try:
                _record_failure(sub, stream_id, stream_type, failure, result)
            except _Busy:
                result.busy.append(sub.name)
            return
        result.delivered += len(rows)
        metrics.events_delivered.labels(sub.name).inc(len(rows))
        if len(rows) < limit:
            return
        limit = sub.batch_size
        one_by_one = False
    result.more.append(sub.name)


def _seconds_until(moment: datetime | None) -> float:
    if moment is None:
        return 0.0
    return max(0.0, (moment - timezone.now()).total_seconds())


# The advisory lock every creator of a checkpoint row takes first (both paths below).
_CREATOR_LOCK_KEY = "hashtextextended(%(sub)s || '/' || %(stream)s, 0)"

_PG_LOCK_AND_FETCH = f"""
    WITH found AS (
        SELECT id, version, attempts, next_attempt_at, failing_since, blocked
        FROM event_checkpoint
        WHERE subscription = %(sub)s AND stream_id = %(stream)s
        FOR UPDATE SKIP LOCKED
    ), created AS (
        INSERT INTO event_checkpoint
            (subscription, stream_id, stream_type, version, attempts, last_error, blocked,
             updated_at)
        SELECT %(sub)s, %(stream)s, %(type)s, 0, 0, '', false, clock_timestamp()
        WHERE CASE
            WHEN EXISTS (
                SELECT 1 FROM event_checkpoint
                WHERE subscription = %(sub)s AND stream_id = %(stream)s
            ) THEN false
            WHEN NOT EXISTS (SELECT 1 FROM event_store WHERE stream_id = %(stream)s) THEN false
            -- Creators of a checkpoint take this lock first, so this insert never waits
            -- for another one's: if it is taken, the general path waits, but briefly.
            ELSE pg_try_advisory_xact_lock({_CREATOR_LOCK_KEY})
        END
        ON CONFLICT (subscription, stream_id) DO NOTHING
        RETURNING id, version, attempts, next_attempt_at, failing_since, blocked
    ), cp AS (
        SELECT * FROM found UNION ALL SELECT * FROM created
    )
    SELECT cp.id, cp.version, cp.attempts, cp.next_attempt_at, cp.failing_since, cp.blocked,
           e.version, e.event_id, e.position, e.event_type, e.schema_version, e.occurred_at,
           e.payload::text, e.metadata::text
    FROM cp LEFT JOIN LATERAL (
        SELECT version, event_id, position, event_type, schema_version, occurred_at,
               payload, metadata
        FROM event_store
        WHERE stream_id = %(stream)s AND version > cp.version AND NOT cp.blocked
          AND (cp.next_attempt_at IS NULL OR cp.next_attempt_at <= clock_timestamp())
        ORDER BY version
        LIMIT %(limit)s
    ) e ON true
    ORDER BY e.version
"""


def _lock_and_fetch(
    subscription: str, stream_id: str, stream_type: str, limit: int
) -> tuple[_State | None, list[tuple[Any, ...]]]:
    """Lock the pair's checkpoint (creating it for a stream seen for the first time) and
    read the events after it.

    On PostgreSQL all of it happens in one prepared statement (a delivery is a handful of
    round trips, so each one counts; a new match's first goal must be as quick as its
    second). No row back means the stream has no events, or another delivery holds or
    is creating the checkpoint: the general path below tells which, and waits briefly.
    """
    if connection.vendor == "postgresql":
        connection.ensure_connection()
        params = {"sub": subscription, "stream": stream_id, "type": stream_type, "limit": limit}
        with psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(_PG_LOCK_AND_FETCH, params, prepare=True)
            found = cursor.fetchall()
        if found:
            return _State(*found[0][:6]), [row[6:] for row in found if row[6] is not None]
    locked = _lock(subscription, stream_id, stream_type)
    if locked is None or locked.blocked or _seconds_until(locked.next_attempt_at) > 0:
        return locked, []
    return locked, _pending(stream_id, locked.version, limit)


def _lock(subscription: str, stream_id: str, stream_type: str) -> _State | None:
    """Lock the pair's checkpoint (creating it at version 0).

    None if another delivery holds it (SQLite); ``_Busy`` if it held it for too long.
    """
    row = (
        Checkpoint.objects.select_for_update(skip_locked=True)
        .filter(subscription=subscription, stream_id=stream_id)
        .values_list("pk", "version", "attempts", "next_attempt_at", "failing_since", "blocked")
        .first()
    )
    if row is not None:
        return _State(*row)
    if not StoredEvent.objects.filter(stream_id=stream_id).exists():
        # A wake-up for a stream with no events (mistyped, or from another database
        # sharing the broker): nothing to deliver, and no checkpoint row to leave behind.
        return _State(0, 0, 0, None, None, False)
    # The row is missing, or another delivery holds it. Deliveries take milliseconds,
    # so on PostgreSQL wait for it briefly: re-enqueueing with a countdown would delay
    # the events that woke us (a live score) by far longer. ``_Busy`` if it runs out.
    postgres = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        if postgres:
            cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_WAIT_MS}ms'")
        try:
            if postgres:  # the creators' lock of _PG_LOCK_AND_FETCH
                cursor.execute(
                    f"SELECT pg_advisory_xact_lock({_CREATOR_LOCK_KEY})",
                    {"sub": subscription, "stream": stream_id},
                )
            cursor.execute(
                f"INSERT INTO {Checkpoint._meta.db_table} "
                "(subscription, stream_id, stream_type, version, attempts, last_error, "
                "blocked, updated_at) VALUES (%s, %s, %s, 0, 0, '', %s, %s) "
                "ON CONFLICT (subscription, stream_id) DO NOTHING RETURNING id",
                [subscription, stream_id, stream_type, False, timezone.now()],
            )
            created = cursor.fetchone()
            if created is not None:
                if postgres:
                    cursor.execute("SET LOCAL lock_timeout TO DEFAULT")
                return _State(created[0], 0, 0, None, None, False)
            if not postgres:
                return None
            cursor.execute(
                "SELECT id, version, attempts, next_attempt_at, failing_since, blocked "
                f"FROM {Checkpoint._meta.db_table} "
                "WHERE subscription = %s AND stream_id = %s FOR UPDATE",
                [subscription, stream_id],
            )
            row = cursor.fetchone()
            # The handler's own writes in this transaction wait as long as they normally would.
            cursor.execute("SET LOCAL lock_timeout TO DEFAULT")
        except OperationalError as exc:
            raise _Busy from exc
    return _State(*row) if row is not None else None


def _pending(stream_id: str, after_version: int, limit: int) -> list[tuple[Any, ...]]:
    pending = StoredEvent.objects.filter(stream_id=stream_id, version__gt=after_version)
    return list(text_rows(pending.order_by("version"), _ROW_COLUMNS)[:limit])


def _recorded(stream_id: str, stream_type: str, row: tuple[Any, ...]) -> RecordedEvent:
    return decode_row(stream_id, stream_type, *row)


class _BatchFailed(Exception):
    """The batch handler failed: handle the same events one by one to find the culprit."""


def _handle(
    sub: Subscription,
    stream_id: str,
    stream_type: str,
    rows: list[tuple[Any, ...]],
    *,
    one_by_one: bool = False,
) -> None:
    wanted = [(i, row) for i, row in enumerate(rows) if sub.wants(row[3])]
    if not wanted:
        return
    if sub.batch_handler is not None and not one_by_one:
        try:
            batch = [_recorded(stream_id, stream_type, row) for _, row in wanted]
            started = time.perf_counter()
            with _caused_by(batch[0], batch[-1]):
                sub.batch_handler(batch)
        except Exception as exc:  # isolate the failing event below
            raise _BatchFailed(str(exc)) from exc
        _observe(sub, batch, time.perf_counter() - started)
        return
    for index, row in wanted:
        try:
            event = _recorded(stream_id, stream_type, row)
            started = time.perf_counter()
            with _caused_by(event, event):
                sub.handler(event)
            _observe(sub, [event], time.perf_counter() - started)
        except Exception as exc:  # the delivery boundary: recorded, retried, dead-lettered
            raise _HandlerFailed(index, row, exc) from exc


def _caused_by(origin: RecordedEvent, cause: RecordedEvent) -> AbstractContextManager[None]:
    """Events the handler appends carry the origin's correlation, user and trace, and the
    (last) handled event as their causation."""
    meta = origin.metadata
    return event_context(
        correlation_id=meta.correlation_id,
        causation_id=str(cause.event_id),
        user_id=meta.user_id,
        trace=meta.trace,
    )


def _observe(sub: Subscription, events: list[RecordedEvent], seconds: float) -> None:
    # A batch handler's time is shared out evenly: the histogram counts events.
    per_event = seconds / len(events)
    now = timezone.now()
    timer = metrics.handle_seconds.labels(sub.name)
    lag = metrics.delivery_lag_seconds.labels(sub.name)
    for event in events:
        timer.observe(per_event)
        lag.observe(max(0.0, (now - event.occurred_at).total_seconds()))


_PG_ADVANCE = (
    "UPDATE event_checkpoint SET version = %s, updated_at = %s WHERE id = %s",
    "UPDATE event_checkpoint SET version = %s, updated_at = %s, attempts = 0, "
    "next_attempt_at = NULL, failing_since = NULL, last_error = '' WHERE id = %s",
)


def _advance(state: _State, version: int) -> None:
    recovered = bool(state.attempts or state.failing_since)
    now = timezone.now()
    if connection.vendor == "postgresql":
        with psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(_PG_ADVANCE[recovered], [version, now, state.pk], prepare=True)
        return
    fields: dict[str, Any] = {"version": version, "updated_at": now}
    if recovered:
        fields |= {"attempts": 0, "next_attempt_at": None, "failing_since": None, "last_error": ""}
    Checkpoint.objects.filter(pk=state.pk).update(**fields)


def _record_failure(
    sub: Subscription,
    stream_id: str,
    stream_type: str,
    failure: _HandlerFailed,
    result: StreamResult,
) -> None:
    version, event_id, position, event_type = failure.row[:4]
    error = f"{type(failure.exc).__name__}: {failure.exc}"[:MAX_ERROR_LENGTH]
    metrics.handler_failures.labels(sub.name, event_type, type(failure.exc).__name__).inc()
    now = timezone.now()
    with transaction.atomic():
        state = _lock(sub.name, stream_id, stream_type)
        if state is None:
            result.busy.append(sub.name)
            return
        if state.version != version - 1:
            return  # another delivery moved the checkpoint meanwhile; nothing to record
        attempts = state.attempts + 1
        failing_since = state.failing_since or now
        if attempts >= sub.retry.max_attempts:
            DeadLetter.objects.create(
                subscription=sub.name,
                stream_id=stream_id,
                stream_type=stream_type,
                event_id=event_id,
                event_position=position,
                event_version=version,
                event_type=event_type,
                attempts=attempts,
                last_error=error,
                traceback=failure.traceback[-20_000:],
                first_failed_at=failing_since,
                last_failed_at=now,
            )
            Checkpoint.objects.filter(pk=state.pk).update(
                blocked=True,
                attempts=0,
                next_attempt_at=None,
                failing_since=None,
                last_error=error,
                updated_at=now,
            )
            metrics.dead_letters.labels(sub.name).inc()
            logger.error(
                "dead-lettered %s %s@%s for %s after %s attempts: %s",
                event_type,
                stream_id,
                version,
                sub.name,
                attempts,
                error,
            )
            result.blocked.append(sub.name)
            return
        delay = sub.retry.delay(attempts, random.random())
        Checkpoint.objects.filter(pk=state.pk).update(
            attempts=attempts,
            next_attempt_at=now + timedelta(seconds=delay),
            failing_since=failing_since,
            last_error=error,
            updated_at=now,
        )
    logger.warning(
        "%s failed on %s %s@%s (attempt %s), retrying in %.2fs: %s",
        sub.name,
        event_type,
        stream_id,
        version,
        attempts,
        delay,
        error,
    )
    result.retry_in[sub.name] = delay


def deliver_all(max_rounds: int = 100) -> tuple[int, bool]:
    """Deliver every pending event to every subscription, in this process, until nothing
    is left (handlers may append events: those go in later rounds). Pairs waiting for a
    retry or parked behind a dead letter are left as they are.

    Returns (events delivered, settled: whether a round delivered nothing)."""
    total = 0
    for _ in range(max_rounds):
        delivered = 0
        for stream_id, stream_type in EventStream.objects.values_list(
            "stream_id", "stream_type"
        ).iterator():
            if subscriptions.following(stream_type):
                delivered += deliver_stream(stream_id, stream_type).delivered
        total += delivered
        if delivered == 0:
            return total, True
    return total, False
