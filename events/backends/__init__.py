"""The event store's backends: one recorder per database, holding all the SQL that differs.

What differs between PostgreSQL and SQLite lives in one module per database, as
pyeventsourcing keeps one recorder per backend (``eventsourcing/postgres.py``,
``sqlite.py``), rather than in ``if vendor`` branches spread over the package:

- ``events.backends.postgresql``: one-statement appends (a data-modifying CTE, prepared
  per connection), the one-statement lock-and-fetch of delivery, the feed's sequencer,
  ``clock_timestamp()``, the purge switch as a transaction-local setting;
- ``events.backends.sqlite``: appends under the IMMEDIATE transaction's write lock, the
  general delivery path, the store read by position as the feed, the clock as
  ``strftime``, the purge switch as a row.

What does not differ stays with what it is about: ``events.store`` (append's checks,
envelopes, decoding), ``events.delivery`` (passes, failures, retries), ``events.feed``
(reading the feed), ``events.sweeper``, ``events.clock``, ``events.purge``. They reach
their backend through ``recorder()``.

This module imports no backend: a backend imports ``events.models``, which imports
``events.clock``, which needs ``recorder()``. Each is loaded the first time its database
is used, and kept.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from django.db import connection

if TYPE_CHECKING:
    from django.db.backends.utils import CursorWrapper

    from events.registry import Event

# A checkpoint as delivery reads it: (id, version, attempts, seconds until the next
# attempt is due, failing_since, blocked).
CheckpointRow = tuple[Any, ...]
# A pending event as delivery reads it: (version, event_id, position, event_type,
# schema_version, occurred_at, payload text, metadata text).
EventRow = tuple[Any, ...]


class Sequencer(Protocol):
    """Hands out feed positions in the order events became visible (``events.feed``)."""

    @property
    def order_field(self) -> str:
        """The field of ``StoredEvent`` that orders the feed and is its feed position."""
        ...

    def sequence(self, *, wait: bool = False, max_passes: int = 100) -> int:
        """Sequence every visible event not yet in the feed; returns how many."""
        ...


class Recorder(Protocol):
    """What the event store needs done in its database's own SQL."""

    @property
    def vendor(self) -> str:
        """Django's name of the database (``connection.vendor``)."""
        ...

    @property
    def feed(self) -> Sequencer:
        """The feed's sequencer."""
        ...

    def insert_events(
        self,
        stream_id: str,
        stream_type: str,
        expected_version: int,
        event_ids: list[uuid.UUID],
        events: Sequence[Event],
        payloads: list[str],
        metadata_json: str,
        occurred_at: datetime,
    ) -> list[int]:
        """Move the stream's head from ``expected_version`` and insert the events, in the
        caller's transaction: their positions, or [] (nothing written) on a conflict."""
        ...

    def lock_and_fetch(
        self, subscription: str, stream_id: str, stream_type: str, limit: int
    ) -> tuple[CheckpointRow, list[EventRow]] | None:
        """Lock the pair's checkpoint (creating it) and read up to ``limit`` events after
        it, in one round trip; None sends delivery down its general path."""
        ...

    def skip_unwanted(
        self, stream_id: str, wanted: dict[str, frozenset[str]], limit: int
    ) -> dict[str, int]:
        """For each subscription of ``wanted`` (name → the event types it handles) whose
        checkpoint on the stream is free and healthy (no failure, retry or block) and
        whose next ``limit`` pending events are none of its types: advance it past them,
        in one statement of its own. Returns the events skipped per subscription
        advanced; {} where the database has no such statement (delivery's general path
        advances them as it always does)."""
        ...

    def create_checkpoint(
        self, subscription: str, stream_id: str, stream_type: str, wait_ms: int
    ) -> CheckpointRow | None:
        """The general path, once no free checkpoint row was found: create it at version
        0, or wait up to ``wait_ms`` for the delivery that holds it. None: held (and not
        waited for). Raises ``OperationalError`` when the wait runs out."""
        ...

    def advance(self, checkpoint_id: int, version: int, recovered: bool) -> None:
        """Move the checkpoint to ``version`` (and clear its failure, if ``recovered``)."""
        ...

    def watch(self, subscription: str, streams: Sequence[tuple[str, str]]) -> None:
        """Create version-0 checkpoints, stamped with the database's now (the sweeper)."""
        ...

    def now_sql(self, seconds: float) -> tuple[str, list[Any]]:
        """SQL and parameters for the database's now plus ``seconds``."""
        ...

    def seconds_until_sql(self, column_sql: str) -> str:
        """SQL for the seconds from the database's now until ``column_sql`` (0 if past or
        NULL)."""
        ...

    def database_now(self, cursor: CursorWrapper) -> datetime:
        """The database's current time (aware, UTC), read through ``cursor``."""
        ...

    def set_purge(self, cursor: CursorWrapper, allowed: bool) -> None:
        """Turn the transaction's purge switch on or off (``events.purge``)."""
        ...


def _load(vendor: str) -> Recorder:
    if vendor == "postgresql":
        from events.backends.postgresql import PostgresRecorder

        return PostgresRecorder()
    if vendor == "sqlite":
        from events.backends.sqlite import SqliteRecorder

        return SqliteRecorder()
    raise NotImplementedError(f"the event store has no backend for {vendor}")


class _Recorders(dict[str, Recorder]):
    def __missing__(self, vendor: str) -> Recorder:
        loaded = self[vendor] = _load(vendor)
        return loaded


_recorders = _Recorders()


def recorder(vendor: str | None = None) -> Recorder:
    """The recorder of ``vendor`` (by default, the default database's)."""
    return _recorders[vendor or connection.vendor]
