"""The event store: append to a stream with optimistic concurrency, load, read all.

``append`` joins the caller's transaction, so a domain change and its events commit
together or not at all. Here: the checks, the encoding, the envelopes, the reading and
decoding of stored rows. The insert itself (moving the stream head, the concurrency
check, and storing the events) is each database's own: ``events.backends.postgresql``
(one prepared statement whatever the batch size) and ``events.backends.sqlite``.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
from django.db import transaction
from django.db.models import TextField
from django.db.models.functions import Cast
from django.utils import timezone

from events import metrics
from events.backends import recorder
from events.context import Metadata, current_metadata
from events.models import EventStream, StoredEvent
from events.registry import Event, EventDecodingError, EventError, registry

MAX_STREAM_ID_LENGTH = 128
_metadata_encoder = msgspec.json.Encoder()
_metadata_decoder = msgspec.json.Decoder(Metadata)


class ConcurrencyError(EventError):
    """Another writer moved the stream since ``expected_version`` was read."""

    def __init__(self, stream_id: str, expected_version: int, actual_version: int) -> None:
        super().__init__(
            f"stream {stream_id!r} is at version {actual_version}, "
            f"not the expected version {expected_version}"
        )
        self.stream_id = stream_id
        self.expected_version = expected_version
        self.actual_version = actual_version


class InvalidAppend(EventError, ValueError):
    pass


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """An event as stored: the envelope and the decoded domain event."""

    event_id: uuid.UUID
    stream_id: str
    stream_type: str
    version: int
    position: int
    event_type: str
    schema_version: int
    occurred_at: datetime
    data: Event
    metadata: Metadata
    # Set when read from the global feed (``events.feed``): the cursor to resume after.
    feed_position: int | None = None

    def envelope(self) -> dict[str, Any]:
        """The JSON shape used by the API and the feed."""
        envelope = {
            "event_id": str(self.event_id),
            "stream_id": self.stream_id,
            "stream_type": self.stream_type,
            "version": self.version,
            "position": self.position,
            "event_type": self.event_type,
            "schema_version": self.schema_version,
            "occurred_at": self.occurred_at.isoformat(),
            "payload": msgspec.to_builtins(self.data),
            "metadata": msgspec.to_builtins(self.metadata),
        }
        if self.feed_position is not None:
            envelope["feed_position"] = self.feed_position
        if isinstance(self.data, Undecoded):
            envelope |= {"undecoded": True, "error": self.data.error, "payload": self.data.raw()}
        return envelope


@dataclass(frozen=True)
class Undecoded(Event):
    """Stands in for a stored payload the code cannot decode (unknown type, missing
    upcaster, invalid shape), where a reader must go on past it: the feed."""

    payload: str
    error: str

    def raw(self) -> Any:
        """The stored payload as JSON builtins (or as text, if it is not even JSON)."""
        try:
            return msgspec.json.decode(self.payload)
        except msgspec.DecodeError:
            return self.payload


class UndecodableEvent(EventDecodingError):
    """A stored row the code cannot turn back into its event: unknown type, a payload
    that does not fit its class, a missing or failing upcaster, malformed metadata.

    It fails the reading of that row's stream only; the delivery of the stream retries it
    and then parks it as a dead letter."""

    def __init__(
        self, stream_id: str, version: int, position: int, event_type: str, reason: str
    ) -> None:
        super().__init__(
            f"cannot decode {event_type} at {stream_id}@{version} (position {position}): {reason}"
        )
        self.stream_id = stream_id
        self.version = version
        self.position = position
        self.event_type = event_type
        self.reason = reason


# What malformed stored data raises while it is decoded and upcast (upcasters are plain
# functions over dicts: a missing key or a bad value surfaces as one of the builtins).
_DECODING_ERRORS = (EventError, msgspec.MsgspecError, LookupError, ValueError, TypeError)


AppendListener = Callable[[str, str, int], None]
_append_listeners: list[AppendListener] = []


def on_append_committed(listener: AppendListener) -> AppendListener:
    """Call ``listener(stream_id, stream_type, version)`` after each append commits."""
    if listener not in _append_listeners:
        _append_listeners.append(listener)
    return listener


def remove_append_listener(listener: AppendListener) -> None:
    if listener in _append_listeners:
        _append_listeners.remove(listener)


EventsListener = Callable[[list["RecordedEvent"]], None]
_events_listeners: list[EventsListener] = []


def on_events_committed(listener: EventsListener) -> EventsListener:
    """Call ``listener(recorded_events)`` after each append commits, in the process that
    appended (a fast path beside the subscriptions, which stay the guarantee)."""
    if listener not in _events_listeners:
        _events_listeners.append(listener)
    return listener


def remove_events_listener(listener: EventsListener) -> None:
    if listener in _events_listeners:
        _events_listeners.remove(listener)


@contextmanager
def append_listeners_paused() -> Iterator[None]:
    """No listener hears of appends committed inside (benchmarks of the store alone)."""
    saved, saved_events = list(_append_listeners), list(_events_listeners)
    _append_listeners.clear()
    _events_listeners.clear()
    try:
        yield
    finally:
        _append_listeners[:] = saved
        _events_listeners[:] = saved_events


def append(
    stream_id: str,
    events: Sequence[Event],
    expected_version: int,
    *,
    stream_type: str = "",
) -> list[RecordedEvent]:
    """Append ``events`` to ``stream_id`` if it is still at ``expected_version``.

    Joins the caller's transaction (or opens one). Raises ``ConcurrencyError`` when the
    stream has moved, writing nothing; ``EventEncodingError`` / ``UnknownEventType`` for
    a payload or class the store cannot record.
    """
    stream_type = _validate(stream_id, events, expected_version, stream_type)
    payloads = [registry.encode(event).decode() for event in events]
    meta = current_metadata()
    metadata_json = _metadata_encoder.encode(meta).decode()
    occurred_at = timezone.now()
    event_ids = [uuid.uuid4() for _ in events]

    with transaction.atomic(savepoint=False):
        positions = recorder().insert_events(
            stream_id,
            stream_type,
            expected_version,
            event_ids,
            events,
            payloads,
            metadata_json,
            occurred_at,
        )
        if positions:
            recorded = [
                RecordedEvent(
                    event_id=event_ids[i],
                    stream_id=stream_id,
                    stream_type=stream_type,
                    version=expected_version + 1 + i,
                    position=positions[i],
                    event_type=event.event_type,
                    schema_version=event.schema_version,
                    occurred_at=occurred_at,
                    data=event,
                    metadata=meta,
                )
                for i, event in enumerate(events)
            ]
            transaction.on_commit(lambda: _committed(stream_id, stream_type, recorded))
    if not positions:
        # Raised outside the atomic block: nothing was written, so the caller's
        # transaction stays usable (it may reload and try again).
        head = EventStream.objects.filter(stream_id=stream_id).values_list("version", "stream_type")
        version, head_type = head.first() or (0, stream_type)
        if head_type != stream_type:
            raise InvalidAppend(
                f"stream {stream_id!r} is a {head_type!r} stream, not {stream_type!r}"
            )
        raise ConcurrencyError(stream_id, expected_version, version)
    return recorded


def _committed(stream_id: str, stream_type: str, recorded: list[RecordedEvent]) -> None:
    for event in recorded:
        metrics.events_appended.labels(event.event_type).inc()
    for listener in list(_append_listeners):
        listener(stream_id, stream_type, recorded[-1].version)
    for events_listener in list(_events_listeners):
        events_listener(recorded)


def _validate(
    stream_id: str, events: Sequence[Event], expected_version: int, stream_type: str
) -> str:
    if not isinstance(stream_id, str) or not stream_id or len(stream_id) > MAX_STREAM_ID_LENGTH:
        raise InvalidAppend(
            f"stream_id must be a non-empty string of at most {MAX_STREAM_ID_LENGTH} characters"
        )
    if isinstance(expected_version, bool) or not isinstance(expected_version, int):
        raise InvalidAppend(
            f"expected_version must be an integer, not {type(expected_version).__name__}"
        )
    if expected_version < 0:
        raise InvalidAppend(f"expected_version must be >= 0, not {expected_version}")
    if not events:
        raise InvalidAppend("append needs at least one event")
    for event in events:
        if not isinstance(event, Event):
            raise InvalidAppend(f"{type(event).__name__} is not an Event")
    resolved = stream_type or type(events[0]).stream_type
    if not resolved:
        raise InvalidAppend("stream_type is required (pass it, or set it on the event class)")
    if not stream_type:
        # The type comes from the classes (else the caller's names it): they must agree.
        for event in events:
            if type(event).stream_type != resolved:
                raise InvalidAppend(
                    f"{type(event).__name__} belongs to {type(event).stream_type!r} streams, "
                    f"not {resolved!r}: pass stream_type for a stream of mixed classes"
                )
    return resolved


def stream_version(stream_id: str) -> int:
    """The stream's current version (0 for a stream with no events)."""
    version = (
        EventStream.objects.filter(stream_id=stream_id).values_list("version", flat=True).first()
    )
    return version or 0


# A stored row's columns, in the order ``decode_row_or_undecoded`` takes them.
ROW_COLUMNS = (
    "event_id",
    "stream_id",
    "stream_type",
    "version",
    "position",
    "event_type",
    "schema_version",
    "occurred_at",
    "payload_text",
    "metadata_text",
)


def text_rows(queryset: Any, columns: Sequence[str] = ROW_COLUMNS) -> Any:
    """Rows of stored events with payload and metadata as JSON text (``payload_text``,
    ``metadata_text``), so each is decoded once, by msgspec, into its class."""
    return queryset.annotate(
        payload_text=Cast("payload", TextField()), metadata_text=Cast("metadata", TextField())
    ).values_list(*columns)


def _recorded(row: tuple[Any, ...]) -> RecordedEvent:
    event_id, stream_id, stream_type, version, position, *rest = row
    return decode_row(stream_id, stream_type, version, event_id, position, *rest)


def decode_row(
    stream_id: str,
    stream_type: str,
    version: int,
    event_id: uuid.UUID,
    position: int,
    event_type: str,
    schema_version: int,
    occurred_at: datetime,
    payload: str,
    metadata: str,
) -> RecordedEvent:
    """A stored row (payload and metadata as JSON text) → the recorded event, upcast.

    Raises ``UndecodableEvent`` (naming the row and why) if the row cannot be decoded."""
    try:
        data = registry.decode(event_type, schema_version, payload)
        meta = _metadata_decoder.decode(metadata)
    except _DECODING_ERRORS as exc:
        reason = str(exc) if isinstance(exc, EventError) else f"{type(exc).__name__}: {exc}"
        raise UndecodableEvent(stream_id, version, position, event_type, reason) from exc
    return RecordedEvent(
        event_id=event_id,
        stream_id=stream_id,
        stream_type=stream_type,
        version=version,
        position=position,
        event_type=event_type,
        schema_version=type(data).schema_version,
        occurred_at=occurred_at,
        data=data,
        metadata=meta,
    )


def load(
    stream_id: str,
    after_version: int = 0,
    *,
    limit: int | None = None,
    event_types: Sequence[str] | None = None,
) -> list[RecordedEvent]:
    """The stream's events after ``after_version``, in version order; only those of
    ``event_types`` when given (the rows of other types are not read).

    Raises ``UndecodableEvent`` at the first row that cannot be decoded."""
    if isinstance(after_version, bool) or not isinstance(after_version, int) or after_version < 0:
        raise InvalidAppend(f"after_version must be an integer >= 0, not {after_version!r}")
    qs = StoredEvent.objects.filter(stream_id=stream_id, version__gt=after_version).order_by(
        "version"
    )
    if event_types is not None:
        qs = qs.filter(event_type__in=list(event_types))
    if limit is not None:
        qs = qs[:limit]
    return [_recorded(row) for row in text_rows(qs)]


def decode_row_or_undecoded(
    event_id: uuid.UUID,
    stream_id: str,
    stream_type: str,
    version: int,
    position: int,
    event_type: str,
    schema_version: int,
    occurred_at: datetime,
    payload: str,
    metadata: str,
    *,
    feed_position: int | None = None,
) -> RecordedEvent:
    """A stored row as a recorded event; one that cannot be decoded comes back with an
    ``Undecoded`` payload (and empty metadata if that is broken too) instead of raising."""
    try:
        recorded = decode_row(
            stream_id,
            stream_type,
            version,
            event_id,
            position,
            event_type,
            schema_version,
            occurred_at,
            payload,
            metadata,
        )
    except UndecodableEvent as exc:
        try:
            meta = _metadata_decoder.decode(metadata)
        except msgspec.MsgspecError:
            meta = Metadata(correlation_id="")
        return RecordedEvent(
            event_id=event_id,
            stream_id=stream_id,
            stream_type=stream_type,
            version=version,
            position=position,
            event_type=event_type,
            schema_version=schema_version,
            occurred_at=occurred_at,
            data=Undecoded(payload=payload, error=exc.reason),
            metadata=meta,
            feed_position=feed_position,
        )
    if feed_position is None:
        return recorded
    return dataclasses.replace(recorded, feed_position=feed_position)
