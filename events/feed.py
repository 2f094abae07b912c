"""The global feed: every stored event, in the order events became visible.

Why a feed of its own: a stored event's ``position`` is handed out when it is inserted,
but transactions commit in any order, so a reader that polls ``position > last_seen``
skips an event whose transaction allocated a low position and committed late. Filtering
by "transaction older than every running one" (the snapshot's xmin) does not save it
either: positions are not allocated in transaction-id order, and one long transaction
anywhere in the cluster would hold the feed back for everyone.

So on PostgreSQL a **sequencer** hands out feed positions in the order events become
visible. One pass (one transaction, serialised by an advisory lock)
reads, in one statement and so one snapshot:

- the events stored beyond ``high_position`` (the highest position passed so far), and
- the *holes*: positions below it that were not visible at an earlier pass (their
  transaction was still running, or it rolled back);

and gives every event it can now see, in position order, the next feed positions. A
position between the old and the new ``high_position`` that it cannot see becomes a
hole, stamped with the snapshot's ``xmax`` (the first transaction id not yet started).
A hole is forgotten only once every transaction older than that stamp has ended and the
event is still not there: it rolled back. (An append gets its transaction id when it
moves its stream's head, before the statement allocates positions, so the transaction
holding a hole is always older than the stamp.)

Why it never skips or repeats: each pass commits before the next one takes the lock, so
a reader's snapshot sees a prefix of the passes, and every later pass hands out higher
feed positions; an event is sequenced exactly once (``event_feed.position`` is unique).
A stream's events appear in version order, because version n+1 cannot be stored before
version n has committed. Nothing holds the feed back but its own passes: a long
transaction only keeps its own events (and a few holes) waiting until it ends.

What it costs: nothing on the append path. A pass writes one small row per event, in
bulk; readers run a pass before they read (skipping it when another process holds the
lock), and a periodic task keeps the feed current when nobody reads.

On SQLite writers are serialised (immediate transactions), so positions commit in order
and the feed is the store read by position: ``feed_position`` equals ``position``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from django.db import connection, transaction
from django.db.models import F

from events.models import StoredEvent
from events.store import RecordedEvent, decode_row_or_undecoded, text_rows

MAX_LIMIT = 10_000
# Positions one pass takes from beyond ``high_position``: a large backlog (the first pass
# over an existing store) is sequenced in several transactions, none of them long.
SEQUENCE_BATCH = 10_000

_FEED_COLUMNS = (
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
    "feed_position",
)


class PostgresFeed:
    """Feed positions handed out by the sequencer (see the module docstring)."""

    # Passes take turns on an advisory lock (released after the commit is visible, so
    # the next pass sees this one's work). Not on the state row: a pass creating a
    # missing row (a test flush truncated it) would make the next one wait on its insert.
    _TRY_LOCK = "SELECT pg_try_advisory_xact_lock(hashtextextended('easychamp.feed', 0))"
    _WAIT_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended('easychamp.feed', 0)) IS NULL"
    _STATE = """
        WITH created AS (
            INSERT INTO event_feed_state (id, last_feed_position, high_position)
            VALUES (1, 0, 0) ON CONFLICT (id) DO NOTHING
            RETURNING last_feed_position, high_position
        )
        SELECT last_feed_position, high_position FROM created
        UNION ALL
        SELECT last_feed_position, high_position FROM event_feed_state WHERE id = 1
    """
    # One statement, so one snapshot decides what is visible, what is a hole and which
    # holes are dead. ``xid8`` compares as an integer once cast through text.
    _PASS = """
        WITH snap AS MATERIALIZED (
            SELECT pg_snapshot_xmin(s)::text::bigint AS xmin,
                   pg_snapshot_xmax(s)::text::bigint AS xmax
            FROM pg_current_snapshot() AS s
        ), fresh AS MATERIALIZED (
            SELECT position FROM event_store
            WHERE position > %(high)s ORDER BY position LIMIT %(batch)s
        ), filled AS MATERIALIZED (
            SELECT h.position FROM event_feed_hole h
            WHERE EXISTS (SELECT 1 FROM event_store e WHERE e.position = h.position)
        ), ready AS MATERIALIZED (
            SELECT position, %(last)s + row_number() OVER (ORDER BY position) AS feed_position
            FROM (SELECT position FROM filled UNION ALL SELECT position FROM fresh) AS r
        ), top AS MATERIALIZED (
            SELECT coalesce(max(position), %(high)s) AS high FROM fresh
        ), sequenced AS (
            INSERT INTO event_feed (feed_position, position)
            SELECT feed_position, position FROM ready
        ), opened AS (
            INSERT INTO event_feed_hole (position, horizon)
            SELECT g, snap.xmax FROM top, snap, generate_series(%(high)s + 1, top.high) AS g
            WHERE NOT EXISTS (SELECT 1 FROM fresh WHERE fresh.position = g)
        ), closed AS (
            DELETE FROM event_feed_hole h USING snap
            WHERE h.position IN (SELECT position FROM filled)
               OR (h.horizon <= snap.xmin
                   AND NOT EXISTS (SELECT 1 FROM event_store e WHERE e.position = h.position))
        )
        UPDATE event_feed_state
        SET last_feed_position = %(last)s + (SELECT count(*) FROM ready),
            high_position = (SELECT high FROM top),
            updated_at = statement_timestamp()
        WHERE id = 1
        RETURNING (SELECT count(*) FROM ready), (SELECT count(*) FROM fresh)
    """

    def sequence(self, *, wait: bool = False, max_passes: int = 100) -> int:
        """Give every visible event not yet in the feed its feed position; returns how
        many. Without ``wait``, a pass that finds another one running leaves it the work."""
        total = 0
        for _ in range(max_passes):
            sequenced, scanned = self._pass(wait)
            total += sequenced
            if scanned < SEQUENCE_BATCH:
                break
        return total

    def _pass(self, wait: bool) -> tuple[int, int]:
        with transaction.atomic():
            connection.ensure_connection()
            with psycopg.Cursor(connection.connection) as cursor:
                cursor.execute(self._WAIT_LOCK if wait else self._TRY_LOCK, prepare=True)
                locked = cursor.fetchone()
                if not wait and not (locked and locked[0]):
                    return 0, 0  # another pass is at work
                cursor.execute(self._STATE, prepare=True)
                state = cursor.fetchone()
                assert state is not None
                last, high = state
                params = {"last": last, "high": high, "batch": SEQUENCE_BATCH}
                cursor.execute(self._PASS, params, prepare=True)
                row = cursor.fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)

    def read(
        self,
        after: int,
        limit: int,
        stream_ids: Sequence[str] | None,
        event_types: Sequence[str] | None,
    ) -> list[RecordedEvent]:
        self.sequence()
        qs = StoredEvent.objects.filter(feed_entry__feed_position__gt=after)
        qs = _filtered(qs, stream_ids, event_types).annotate(
            feed_position=F("feed_entry__feed_position")
        )
        return _decoded(qs.order_by("feed_entry__feed_position")[:limit])


class SequentialFeed:
    """Writers take turns (SQLite), so the store read by position is the feed."""

    def sequence(self, *, wait: bool = False, max_passes: int = 100) -> int:
        return 0

    def read(
        self,
        after: int,
        limit: int,
        stream_ids: Sequence[str] | None,
        event_types: Sequence[str] | None,
    ) -> list[RecordedEvent]:
        qs = StoredEvent.objects.filter(position__gt=after)
        qs = _filtered(qs, stream_ids, event_types).annotate(feed_position=F("position"))
        return _decoded(qs.order_by("position")[:limit])


def _filtered(qs: Any, stream_ids: Sequence[str] | None, event_types: Sequence[str] | None) -> Any:
    if stream_ids is not None:
        qs = qs.filter(stream_id__in=list(stream_ids))
    if event_types is not None:
        qs = qs.filter(event_type__in=list(event_types))
    return qs


def _decoded(qs: Any) -> list[RecordedEvent]:
    return [
        decode_row_or_undecoded(*row[:10], feed_position=row[10])
        for row in text_rows(qs, _FEED_COLUMNS)
    ]


_postgres = PostgresFeed()
_sequential = SequentialFeed()


def current() -> PostgresFeed | SequentialFeed:
    """The feed of the default database's backend."""
    return _postgres if connection.vendor == "postgresql" else _sequential


def sequence(*, wait: bool = False) -> int:
    """Bring the feed up to date with every visible event (the periodic task, tests)."""
    return current().sequence(wait=wait)


def read(
    after: int = 0,
    limit: int = 1000,
    *,
    stream_ids: Sequence[str] | None = None,
    event_types: Sequence[str] | None = None,
) -> list[RecordedEvent]:
    """Events after feed position ``after``, in feed order, with ``feed_position`` set.

    Resuming from the last ``feed_position`` seen never skips nor repeats an event. A
    stored row the code cannot decode comes back marked (``undecoded``), not raised."""
    if isinstance(after, bool) or not isinstance(after, int) or after < 0:
        raise ValueError(f"after must be an integer >= 0, not {after!r}")
    limit = max(1, min(int(limit), MAX_LIMIT))
    return current().read(after, limit, stream_ids, event_types)
