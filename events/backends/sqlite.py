"""SQLite: the event store's SQL where it differs from PostgreSQL's (``events.backends``).

Writers take turns here: every transaction begins IMMEDIATE (settings), so it holds the
database's write lock from its start. Hence:

- appends read the stream head, then write, without another writer in between;
- delivery has no one-statement lock-and-fetch, and a checkpoint another connection is
  creating is reported held rather than waited for;
- positions commit in order, so the store read by position is the feed
  (``SequentialFeed``: ``feed_position`` equals ``position``);
- the clock is the machine's (the database runs in the process), as ``strftime`` text
  in the format Django stores datetimes in;
- the purge switch is a row the append-only trigger looks for.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from django.db import connection
from django.db.backends.utils import CursorWrapper
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from events.backends import CheckpointRow, EventRow
from events.clock import DatabaseNow
from events.models import Checkpoint, EventStream, StoredEvent
from events.registry import Event

PURGE_TABLE = "event_store_purge"
# The text Django stores datetimes as (UTC), to the millisecond. The format is a
# parameter: a literal "%" would need escaping in some code paths and not in others.
_FORMAT = "%Y-%m-%d %H:%M:%f"
# Rows per INSERT: SQLite limits the parameters of one statement.
_CHUNK = 500

_COLUMNS = (
    "event_id, stream_id, stream_type, version, event_type, schema_version, "
    "occurred_at, payload, metadata"
)
_WATCH = """
    INSERT INTO event_checkpoint
        (subscription, stream_id, stream_type, version, attempts, last_error, blocked,
         updated_at)
    VALUES (%s, %s, %s, 0, 0, '', %s, strftime(%s, 'now'))
    ON CONFLICT (subscription, stream_id) DO NOTHING
"""


class SqliteRecorder:
    vendor = "sqlite"

    def __init__(self) -> None:
        self.feed = SequentialFeed()

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
        # The transaction holds the write lock: reading the head then writing cannot
        # interleave with another writer.
        head = EventStream.objects.filter(stream_id=stream_id).values_list("version", "stream_type")
        version, head_type = head.first() or (0, stream_type)
        if version != expected_version or head_type != stream_type:
            return []
        new_version = expected_version + len(events)
        now = timezone.now()
        if expected_version == 0:
            EventStream.objects.create(
                stream_id=stream_id, stream_type=stream_type, version=new_version, updated_at=now
            )
        else:
            EventStream.objects.filter(stream_id=stream_id).update(
                version=new_version, updated_at=now
            )
        table = StoredEvent._meta.db_table
        occurred = connection.ops.adapt_datetimefield_value(occurred_at)
        positions: list[int] = []
        with connection.cursor() as cursor:
            for start in range(0, len(events), _CHUNK):
                chunk = range(start, min(start + _CHUNK, len(events)))
                values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s, %s)"] * len(chunk))
                params: list[Any] = []
                for i in chunk:
                    params += [
                        event_ids[i].hex,
                        stream_id,
                        stream_type,
                        expected_version + 1 + i,
                        events[i].event_type,
                        events[i].schema_version,
                        occurred,
                        payloads[i],
                        metadata_json,
                    ]
                cursor.execute(
                    f"INSERT INTO {table} ({_COLUMNS}) VALUES {values} RETURNING position, version",
                    params,
                )
                rows = cursor.fetchall()
                by_version = {version: position for position, version in rows}
                positions += [by_version[expected_version + 1 + i] for i in chunk]
        return positions

    def lock_and_fetch(
        self, subscription: str, stream_id: str, stream_type: str, limit: int
    ) -> tuple[CheckpointRow, list[EventRow]] | None:
        return None

    def skip_unwanted(
        self, stream_id: str, wanted: dict[str, frozenset[str]], limit: int
    ) -> dict[str, int]:
        return {}

    def create_checkpoint(
        self, subscription: str, stream_id: str, stream_type: str, wait_ms: int
    ) -> CheckpointRow | None:
        # updated_at: the column's default, the database's clock.
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO event_checkpoint "
                "(subscription, stream_id, stream_type, version, attempts, last_error, "
                "blocked) VALUES (%s, %s, %s, 0, 0, '', %s) "
                "ON CONFLICT (subscription, stream_id) DO NOTHING RETURNING id",
                [subscription, stream_id, stream_type, False],
            )
            created = cursor.fetchone()
        return (created[0], 0, 0, 0.0, None, False) if created is not None else None

    def advance(self, checkpoint_id: int, version: int, recovered: bool) -> None:
        fields: dict[str, Any] = {"version": version, "updated_at": DatabaseNow()}
        if recovered:
            fields |= {
                "attempts": 0,
                "next_attempt_at": None,
                "failing_since": None,
                "last_error": "",
            }
        Checkpoint.objects.filter(pk=checkpoint_id).update(**fields)

    def watch(self, subscription: str, streams: Sequence[tuple[str, str]]) -> None:
        with connection.cursor() as cursor:
            cursor.executemany(_WATCH, [[subscription, s, t, False, _FORMAT] for s, t in streams])

    def now_sql(self, seconds: float) -> tuple[str, list[Any]]:
        modifier = [f"{seconds:+.6f} seconds"] if seconds else []
        placeholders = ", %s" * len(modifier)
        return f"strftime(%s, 'now'{placeholders})", [_FORMAT, *modifier]

    def seconds_until_sql(self, column_sql: str) -> str:
        return f"COALESCE(MAX(0, (julianday({column_sql}) - julianday('now')) * 86400.0), 0)"

    def database_now(self, cursor: CursorWrapper) -> datetime:
        cursor.execute("SELECT strftime(%s, 'now')", [_FORMAT])
        text: str = cursor.fetchone()[0]
        parsed = parse_datetime(text)
        if parsed is None:
            raise ValueError(f"the database's clock said {text!r}")
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed

    def set_purge(self, cursor: CursorWrapper, allowed: bool) -> None:
        if allowed:
            cursor.execute(f"INSERT INTO {PURGE_TABLE} (allowed) VALUES (1)")
        else:
            cursor.execute(f"DELETE FROM {PURGE_TABLE}")


class SequentialFeed:
    """Writers take turns, so the store read by position is the feed."""

    order_field = "position"

    def sequence(self, *, wait: bool = False, max_passes: int = 100) -> int:
        return 0
