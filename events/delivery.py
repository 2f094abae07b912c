"""Delivery: hand a stream's new events to each subscription, in version order.

For each (subscription, stream) the checkpoint row is the lock and the progress: a
delivery locks it (``FOR UPDATE SKIP LOCKED``, so two workers never handle the same
pair at once; a pair held by another delivery is waited for briefly, then reported
busy), runs the handler over the pending events in one transaction and advances the
checkpoint in that same transaction.
Redelivering therefore never repeats a database effect.

The passes, failures and retries are here; the SQL that locks, creates and advances a
checkpoint and fetches its events is each database's (``events.backends``): on
PostgreSQL the lock and the fetch are one prepared statement.

Failures. Whatever makes a pass over one (subscription, stream) fail — the handler
raising, a stored row that cannot be decoded, the checkpoint advance failing (a handler
that swallowed a database error leaves the transaction aborted), the commit failing (a
deferred constraint) — rolls that pass back and counts as an attempt of one event:

- a handler's exception names its event: the events before it are delivered again on
  their own, then the failure is recorded against it;
- any other failure does not say which event caused it: the pass is halved until one
  event fails on its own (at most log2(batch) extra passes), and that one is blamed.

The attempt is recorded on the checkpoint with the time of the next attempt (exponential
backoff with jitter); after the last attempt the event becomes a dead letter and the pair
is blocked: later events of that stream wait behind it for this subscription only. The
caller learns it from the result (``retry_in``, ``blocked``): ``deliver_stream`` does not
raise for the failure of a pair. Only when even the failure cannot be recorded (the
database is unreachable) does the error propagate.

One clock. Whether a retry is due is decided by the database's clock alone
(``events.clock``): ``next_attempt_at`` is computed in SQL, the wait until then is
computed in SQL and handed to the caller as a duration, and every write of a checkpoint
sets ``updated_at`` from the database's clock. A worker whose clock is off by a minute
neither drops a retry nor makes it early.

Hooks a handler registers with ``transaction.on_commit`` run after the commit, when its
events are delivered for good: redelivering them to make up for a failing hook would
repeat their database effects. So such a hook runs guarded: a failure is logged, counted
(``easychamp_delivery_hook_failures_total``) and noted as the checkpoint's
``last_error``, never re-raised (it would otherwise escape the drain and stall every
stream behind it) and never retried. An effect that must not be lost belongs in the
transaction (an outbox row, an event) or in a subscription of its own.
"""

from __future__ import annotations

import logging
import random
import time
import traceback
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import psycopg
from django.db import DatabaseError, OperationalError, connection, transaction
from django.db.models.functions import Coalesce
from django.utils import timezone

from events import metrics
from events.backends import recorder
from events.clock import DatabaseNow, SecondsUntil, database_now
from events.context import event_context
from events.models import Checkpoint, DeadLetter, EventStream, StoredEvent
from events.store import RecordedEvent, decode_row, text_rows
from events.subscriptions import Subscription, subscriptions

logger = logging.getLogger(__name__)

MAX_ERROR_LENGTH = 2000
MAX_TRACEBACK_LENGTH = 20_000
LOCK_WAIT_MS = 250


@dataclass
class StreamResult:
    """What one delivery pass over a stream did, and what the caller should schedule.

    ``retry_in`` holds, per subscription, the seconds until its next attempt is due by
    the database's clock (a duration: the same on every worker's clock)."""

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
    wait: float  # seconds until the next attempt is due, by the database's clock
    failing_since: datetime | None
    blocked: bool


class _Busy(Exception):
    """Another delivery held the pair for longer than we were willing to wait."""


class _BatchFailed(Exception):
    """The batch handler failed: handle the same events one by one to find the culprit."""


class _HandlerFailed(Exception):
    """The handler (or decoding) failed on the event at ``index`` of the pass."""

    def __init__(self, index: int, row: tuple[Any, ...], exc: BaseException) -> None:
        super().__init__(str(exc))
        self.index = index
        self.row = row
        self.exc = exc


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
    """Deliver the stream's pending events to every subscription that follows it.

    A failing pair is retried later or parked (see the result), never raised; only an
    unreachable database propagates."""
    result = StreamResult()
    targets = [subscriptions.get(only)] if only else subscriptions.following(stream_type)
    targets = [sub for sub in targets if sub.follows(stream_type)]
    skipped = _skip_unwanted(stream_id, targets)
    for sub in targets:
        if sub.name in skipped:
            result.delivered += skipped[sub.name]
            metrics.events_delivered.labels(sub.name).inc(skipped[sub.name])
            if skipped[sub.name] < SKIP_LIMIT:
                continue  # caught up; otherwise more are pending: the general path
        _deliver_subscription(sub, stream_id, stream_type, max_batches, result)
    return result


SKIP_LIMIT = 500


def _skip_unwanted(stream_id: str, targets: list[Subscription]) -> dict[str, int]:
    """Advance, in one statement, the subscriptions that handle none of the pending
    events (a goal, for the standings): no handler would run, so no delivery transaction
    is needed. A subscription that takes every type is left to the general path."""
    wanted = {sub.name: sub.event_types for sub in targets if sub.event_types}
    if not wanted:
        return {}
    if connection.in_atomic_block:
        # A failure would leave the caller's transaction aborted: let it see it.
        return recorder().skip_unwanted(stream_id, wanted, SKIP_LIMIT)
    try:
        return recorder().skip_unwanted(stream_id, wanted, SKIP_LIMIT)
    except Exception as exc:  # noqa: BLE001 - only a shortcut: the general path follows
        logger.warning(
            "skipping unwanted events of %s failed (%s: %s); delivering them one "
            "subscription at a time",
            stream_id,
            _error_name(exc),
            exc,
        )
        return {}


def _deliver_subscription(
    sub: Subscription, stream_id: str, stream_type: str, max_batches: int, result: StreamResult
) -> None:
    size = sub.batch_size  # events per pass; halved while a failure is being narrowed down
    limit = size
    one_by_one = False
    for _ in range(max_batches):
        rows: list[tuple[Any, ...]] = []
        timings: _Timings = []
        stage = "reading the stream"
        try:
            with transaction.atomic():
                state, rows = _lock_and_fetch(sub.name, stream_id, stream_type, limit)
                if state is None:
                    result.busy.append(sub.name)
                    return
                if state.blocked:
                    result.blocked.append(sub.name)
                    return
                if state.wait > 0:
                    result.retry_in[sub.name] = state.wait
                    return
                if not rows:
                    return
                if state.attempts and len(rows) > 1:
                    # Its first event failed last time: try it alone, so a failure is its.
                    rows, limit = rows[:1], 1
                hooks_before = len(connection.run_on_commit)
                timings = _handle(sub, stream_id, stream_type, rows, one_by_one=one_by_one)
                stage = "advancing the checkpoint"
                _advance(state, rows[-1][0])
                _guard_hooks(sub.name, stream_id, rows[-1][0], hooks_before)
                stage = "committing"
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
            _record_failure(sub, stream_id, stream_type, failure.row, failure.exc, "", result)
            return
        except Exception as exc:  # noqa: BLE001 - the delivery boundary: recorded as an attempt
            if len(rows) > 1:
                size = limit = len(rows) // 2
                logger.info(
                    "%s failed %s on %s events of %s (%s: %s): retrying %s at a time",
                    sub.name,
                    stage,
                    len(rows),
                    stream_id,
                    _error_name(exc),
                    exc,
                    limit,
                )
                continue
            _record_failure(
                sub, stream_id, stream_type, rows[0] if rows else None, exc, stage, result
            )
            return
        result.delivered += len(rows)
        metrics.events_delivered.labels(sub.name).inc(len(rows))
        # Observed once committed: a pass rolled back (a later event failed) is run again.
        for events, seconds in timings:
            _observe(sub, events, seconds)
        if len(rows) < limit:
            return
        limit = size
        one_by_one = False
    result.more.append(sub.name)


def _lock_and_fetch(
    subscription: str, stream_id: str, stream_type: str, limit: int
) -> tuple[_State | None, list[tuple[Any, ...]]]:
    """Lock the pair's checkpoint (creating it for a stream seen for the first time) and
    read the events after it, unless a retry is not due yet.

    Where the backend can, all of it is one round trip (PostgreSQL); otherwise, or when
    it found the pair held or the stream empty, the general path below tells which.
    """
    found = recorder().lock_and_fetch(subscription, stream_id, stream_type, limit)
    if found is not None:
        return _State(*found[0]), found[1]
    locked = _lock(subscription, stream_id, stream_type)
    if locked is None or locked.blocked or locked.wait > 0:
        return locked, []
    return locked, _pending(stream_id, locked.version, limit)


_STATE_COLUMNS = ("pk", "version", "attempts", "wait", "failing_since", "blocked")


def _lock(subscription: str, stream_id: str, stream_type: str) -> _State | None:
    """Lock the pair's checkpoint (creating it at version 0).

    None if another delivery holds it (SQLite); ``_Busy`` if it held it for too long.
    """
    row = (
        Checkpoint.objects.select_for_update(skip_locked=True)
        .filter(subscription=subscription, stream_id=stream_id)
        .annotate(wait=SecondsUntil("next_attempt_at"))
        .values_list(*_STATE_COLUMNS)
        .first()
    )
    if row is not None:
        return _State(*row)
    if not StoredEvent.objects.filter(stream_id=stream_id).exists():
        # A wake-up for a stream with no events (mistyped, or from another database
        # sharing the broker): nothing to deliver, and no checkpoint row to leave behind.
        return _State(0, 0, 0, 0.0, None, False)
    # The row is missing, or another delivery holds it: the backend creates it, or waits
    # for the holder up to LOCK_WAIT_MS (PostgreSQL), or reports it held (SQLite).
    try:
        created = recorder().create_checkpoint(subscription, stream_id, stream_type, LOCK_WAIT_MS)
    except OperationalError as exc:
        raise _Busy from exc
    return _State(*created) if created is not None else None


def _pending(stream_id: str, after_version: int, limit: int) -> list[tuple[Any, ...]]:
    pending = StoredEvent.objects.filter(stream_id=stream_id, version__gt=after_version)
    return list(text_rows(pending.order_by("version"), _ROW_COLUMNS)[:limit])


def _recorded(stream_id: str, stream_type: str, row: tuple[Any, ...]) -> RecordedEvent:
    return decode_row(stream_id, stream_type, *row)


# Handler calls of a pass: the events handled and the seconds the call took.
_Timings = list[tuple[list[RecordedEvent], float]]


def _handle(
    sub: Subscription,
    stream_id: str,
    stream_type: str,
    rows: list[tuple[Any, ...]],
    *,
    one_by_one: bool = False,
) -> _Timings:
    """Hand the rows the subscription wants to its handler; the time each call took."""
    wanted = [(i, row) for i, row in enumerate(rows) if sub.wants(row[3])]
    if not wanted:
        return []
    if sub.batch_handler is not None and not one_by_one:
        try:
            batch = [_recorded(stream_id, stream_type, row) for _, row in wanted]
            started = time.perf_counter()
            with _caused_by(batch[0], batch[-1]):
                sub.batch_handler(batch)
        except Exception as exc:  # isolate the failing event below
            raise _BatchFailed(str(exc)) from exc
        return [(batch, time.perf_counter() - started)]
    timings: _Timings = []
    for index, row in wanted:
        try:
            event = _recorded(stream_id, stream_type, row)
            started = time.perf_counter()
            with _caused_by(event, event):
                sub.handler(event)
            timings.append(([event], time.perf_counter() - started))
        except Exception as exc:  # the delivery boundary: recorded, retried, dead-lettered
            raise _HandlerFailed(index, row, exc) from exc
    return timings


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


def _advance(state: _State, version: int) -> None:
    recorder().advance(state.pk, version, bool(state.attempts or state.failing_since))


OnCommitHook = Callable[[], Any]


def _guard_hooks(subscription: str, stream_id: str, version: int, first: int) -> None:
    """Make the hooks registered since ``first`` (by the handler) safe to fail after the
    commit (see the module's docstring)."""
    # (savepoint ids, hook, robust) entries; django-stubs still knows them as pairs.
    hooks = cast(list[tuple[set[str], OnCommitHook, bool]], connection.run_on_commit)
    for i in range(first, len(hooks)):
        savepoints, hook, robust = hooks[i]
        hooks[i] = (savepoints, _guarded(hook, subscription, stream_id, version), robust)


def _guarded(hook: OnCommitHook, subscription: str, stream_id: str, version: int) -> OnCommitHook:
    def run() -> None:
        try:
            hook()
        except Exception as exc:  # after the commit: counted, logged, noted, not re-raised
            metrics.delivery_hook_failures.labels(subscription).inc()
            error = (
                f"on_commit hook {getattr(hook, '__qualname__', hook)!r} failed after "
                f"delivering up to version {version}: {_error_name(exc)}: {exc}"
            )[:MAX_ERROR_LENGTH]
            logger.exception("%s on %s: %s", subscription, stream_id, error)
            _note_error(subscription, stream_id, error)

    return run


def _note_error(subscription: str, stream_id: str, error: str) -> None:
    try:
        Checkpoint.objects.filter(subscription=subscription, stream_id=stream_id).update(
            last_error=error, updated_at=DatabaseNow()
        )
    except DatabaseError:
        logger.exception("could not note the failure on the checkpoint")


def _error_name(exc: BaseException) -> str:
    """The error's class, or the database's own for a wrapped driver error
    (``InFailedSqlTransaction`` says more than ``InternalError``)."""
    cause = exc.__cause__
    if isinstance(exc, DatabaseError) and isinstance(cause, psycopg.Error):
        return type(cause).__name__
    return type(exc).__name__


def _record_failure(
    sub: Subscription,
    stream_id: str,
    stream_type: str,
    row: tuple[Any, ...] | None,
    exc: BaseException,
    stage: str,
    result: StreamResult,
) -> None:
    """Record a failed pass as an attempt of the event it could not get past: ``row``,
    or the pair's first pending event when the pass failed before it had read any."""
    name = _error_name(exc)
    where = f" ({stage})" if stage else ""
    error = f"{name}{where}: {exc}"[:MAX_ERROR_LENGTH]
    trace = "".join(traceback.format_exception(exc))[-MAX_TRACEBACK_LENGTH:]
    try:
        delay = _record_attempt(sub, stream_id, stream_type, row, name, error, trace, result)
    except _Busy:
        result.busy.append(sub.name)
        return
    if delay is not None:
        result.retry_in[sub.name] = delay


def _record_attempt(
    sub: Subscription,
    stream_id: str,
    stream_type: str,
    row: tuple[Any, ...] | None,
    error_name: str,
    error: str,
    trace: str,
    result: StreamResult,
) -> float | None:
    """The seconds until the next attempt, or None (parked, moved on, busy)."""
    with transaction.atomic():
        state = _lock(sub.name, stream_id, stream_type)
        if state is None:
            result.busy.append(sub.name)
            return None
        if state.blocked:
            result.blocked.append(sub.name)
            return None
        version = row[0] if row is not None else state.version + 1
        if state.version != version - 1:
            return None  # another delivery moved the checkpoint meanwhile; nothing to record
        if row is not None:
            event_id, position, event_type = row[1:4]
        else:
            event = (
                StoredEvent.objects.filter(stream_id=stream_id, version=version)
                .values_list("event_id", "position", "event_type")
                .first()
            )
            if event is None:
                logger.warning(
                    "%s failed on %s with nothing pending: %s", sub.name, stream_id, error
                )
                return None
            event_id, position, event_type = event
        metrics.handler_failures.labels(sub.name, event_type, error_name).inc()
        attempts = state.attempts + 1
        if attempts >= sub.retry.max_attempts:
            now = database_now()
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
                traceback=trace,
                first_failed_at=state.failing_since or now,
                last_failed_at=now,
            )
            Checkpoint.objects.filter(pk=state.pk).update(
                blocked=True,
                attempts=0,
                next_attempt_at=None,
                failing_since=None,
                last_error=error,
                updated_at=DatabaseNow(),
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
            return None
        delay = sub.retry.delay(attempts, random.random())
        Checkpoint.objects.filter(pk=state.pk).update(
            attempts=attempts,
            next_attempt_at=DatabaseNow(delay),
            failing_since=Coalesce("failing_since", DatabaseNow()),
            last_error=error,
            updated_at=DatabaseNow(),
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
    return delay


def deliver_all(max_rounds: int = 100) -> tuple[int, bool]:
    """Deliver every pending event to every subscription, in this process, until nothing
    is left (handlers may append events: those go in later rounds). Pairs waiting for a
    retry or parked behind a dead letter are left as they are.

    Streams go in the order they were last written (the least recent first, then by
    id): the same order every time, and first come, first served (four registrations
    for two places are handled in the order they were made).

    Returns (events delivered, settled: whether a round delivered nothing)."""
    total = 0
    for _ in range(max_rounds):
        delivered = 0
        streams = EventStream.objects.order_by("updated_at", "stream_id")
        for stream_id, stream_type in streams.values_list("stream_id", "stream_type").iterator():
            if subscriptions.following(stream_type):
                delivered += deliver_stream(stream_id, stream_type).delivered
        total += delivered
        if delivered == 0:
            return total, True
    return total, False
