"""PostgreSQL: the event store's SQL where it differs from SQLite's (``events.backends``).

- appends: one statement whatever the batch size, a data-modifying CTE that moves the
  stream head (the concurrency check: a conditional update that serialises writers of
  one stream) and inserts every event, prepared once per connection;
- delivery: lock a pair's checkpoint (creating it) and read its pending events in one
  prepared statement; the general path's brief wait for a held pair; the advance;
- the sweeper's watch: every new checkpoint of a page in one statement;
- the clock: ``clock_timestamp()``;
- the purge switch: a transaction-local setting the append-only trigger reads;
- the feed's sequencer (``PostgresFeed``; why it is built so: ``events.feed``).

The hot statements go straight to the driver (``psycopg.Cursor`` with ``prepare=True``):
server-side binding, planned once per connection.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg
from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper

from events.backends import CheckpointRow, EventRow
from events.registry import Event

PURGE_SETTING = "easychamp.event_store_purge"

_HEAD_CREATE = """
    INSERT INTO event_stream (stream_id, stream_type, version, updated_at)
    VALUES (%s, %s, %s, statement_timestamp())
    ON CONFLICT (stream_id) DO NOTHING
    RETURNING 1
"""
# ``updated_at`` (indexed, for the sweeper) moves only when it is a second old: a busy
# stream's head is then mostly updated in place (a HOT update, no index writes). The
# sweeper looks for streams behind for several seconds, so a second of slack is harmless.
_HEAD_MOVE = """
    UPDATE event_stream SET version = %s,
        updated_at = CASE WHEN updated_at < statement_timestamp() - interval '1 second'
                          THEN statement_timestamp() ELSE updated_at END
    WHERE stream_id = %s AND version = %s AND stream_type = %s
    RETURNING 1
"""
_INSERT = """
    WITH head AS ({head})
    INSERT INTO event_store
        (event_id, stream_id, stream_type, version, event_type, schema_version,
         occurred_at, payload, metadata)
    SELECT u.event_id, %s, %s, u.version, u.event_type, u.schema_version,
           %s, u.payload::jsonb, %s::jsonb
    FROM unnest(%s::uuid[], %s::int[], %s::text[], %s::int[], %s::text[])
         AS u(event_id, version, event_type, schema_version, payload)
    WHERE EXISTS (SELECT 1 FROM head)
    RETURNING position, version
"""
# One event (the common case, a live score): plain parameters, no arrays to build.
_INSERT_ONE = """
    WITH head AS ({head})
    INSERT INTO event_store
        (event_id, stream_id, stream_type, version, event_type, schema_version,
         occurred_at, payload, metadata)
    SELECT %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s::jsonb
    WHERE EXISTS (SELECT 1 FROM head)
    RETURNING position, version
"""
_INSERT_SQL = {
    (False, False): _INSERT.format(head=_HEAD_CREATE),
    (False, True): _INSERT.format(head=_HEAD_MOVE),
    (True, False): _INSERT_ONE.format(head=_HEAD_CREATE),
    (True, True): _INSERT_ONE.format(head=_HEAD_MOVE),
}


def _seconds_until(column_sql: str) -> str:
    return (
        f"COALESCE(GREATEST(0, EXTRACT(EPOCH FROM ({column_sql}) - clock_timestamp())), 0)::float8"
    )


# The advisory lock every creator of a checkpoint row takes first (both delivery paths).
_CREATOR_LOCK_KEY = "hashtextextended(%(sub)s || '/' || %(stream)s, 0)"

_LOCK_AND_FETCH = f"""
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
        -- The wait is read from the clock once: the same value decides whether events
        -- are fetched and what the caller is told to wait.
        SELECT id, version, attempts,
               {_seconds_until("next_attempt_at")} AS wait,
               failing_since, blocked
        FROM (SELECT * FROM found UNION ALL SELECT * FROM created) AS pair
    )
    SELECT cp.id, cp.version, cp.attempts, cp.wait, cp.failing_since, cp.blocked,
           e.version, e.event_id, e.position, e.event_type, e.schema_version, e.occurred_at,
           e.payload::text, e.metadata::text
    FROM cp LEFT JOIN LATERAL (
        SELECT version, event_id, position, event_type, schema_version, occurred_at,
               payload, metadata
        FROM event_store
        WHERE stream_id = %(stream)s AND version > cp.version AND NOT cp.blocked
          AND cp.wait = 0
        ORDER BY version
        LIMIT %(limit)s
    ) e ON true
    ORDER BY e.version
"""

# Subscriptions that handle none of a stream's pending events (the standings and a
# match's goals) advance past them here, several at once, in one statement and its own
# transaction, instead of a delivery transaction each (four round trips and a commit).
# Only free, healthy checkpoints: a held one is another delivery's, a failing or
# blocked one is the general path's.
_SKIP_UNWANTED = """
    WITH cp AS (
        SELECT c.id, c.subscription, c.version
        FROM event_checkpoint c
        WHERE c.subscription = ANY(%(subs)s) AND c.stream_id = %(stream)s
          AND NOT c.blocked AND c.attempts = 0 AND c.next_attempt_at IS NULL
          AND c.failing_since IS NULL
        FOR UPDATE SKIP LOCKED
    ), wanted AS (
        SELECT w.sub, w.type FROM unnest(%(pair_subs)s::text[], %(pair_types)s::text[])
            AS w(sub, type)
    ), pending AS (
        SELECT cp.id, cp.subscription, max(e.version) AS last, count(*) AS n,
               bool_or(EXISTS (
                   SELECT 1 FROM wanted w WHERE w.sub = cp.subscription AND w.type = e.event_type
               )) AS any_wanted
        FROM cp CROSS JOIN LATERAL (
            SELECT version, event_type FROM event_store
            WHERE stream_id = %(stream)s AND version > cp.version
            ORDER BY version
            LIMIT %(limit)s
        ) e
        GROUP BY cp.id, cp.subscription
    )
    UPDATE event_checkpoint c SET version = p.last, updated_at = clock_timestamp()
    FROM pending p
    WHERE c.id = p.id AND NOT p.any_wanted
    RETURNING c.subscription, p.n
"""

_ADVANCE = (
    "UPDATE event_checkpoint SET version = %s, updated_at = clock_timestamp() WHERE id = %s",
    "UPDATE event_checkpoint SET version = %s, updated_at = clock_timestamp(), attempts = 0, "
    "next_attempt_at = NULL, failing_since = NULL, last_error = '' WHERE id = %s",
)

_WATCH = """
    INSERT INTO event_checkpoint
        (subscription, stream_id, stream_type, version, attempts, last_error, blocked,
         updated_at)
    SELECT %s, u.stream_id, u.stream_type, 0, 0, '', false, clock_timestamp()
    FROM unnest(%s::text[], %s::text[]) AS u(stream_id, stream_type)
    ON CONFLICT (subscription, stream_id) DO NOTHING
"""


def run_prepared(sql: str, params: Any = None, *, rows: bool = True) -> list[Any]:
    """Run ``sql`` in the current transaction with server-side binding, prepared once per
    physical connection (unless ``prepare_threshold`` is off: ``DATABASE_PREPARED=0``);
    its rows, or [] for a statement run for its effect (``rows=False``)."""
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, prepare=True)
        return cursor.fetchall() if rows else []


class PostgresRecorder:
    vendor = "postgresql"

    def __init__(self) -> None:
        self.feed = PostgresFeed()

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
        new_version = expected_version + len(events)
        single = len(events) == 1
        moving = expected_version > 0
        params: list[object] = (
            [new_version, stream_id, expected_version, stream_type]
            if moving
            else [stream_id, stream_type, new_version]
        )
        if single:
            event = events[0]
            params += [
                event_ids[0],
                stream_id,
                stream_type,
                new_version,
                event.event_type,
                event.schema_version,
                occurred_at,
                payloads[0],
                metadata_json,
            ]
        else:
            params += [
                stream_id,
                stream_type,
                occurred_at,
                metadata_json,
                event_ids,
                list(range(expected_version + 1, new_version + 1)),
                [e.event_type for e in events],
                [e.schema_version for e in events],
                payloads,
            ]
        sql = _INSERT_SQL[single, moving]
        # Planning the CTE on every append costs more than executing it: prepared.
        rows = run_prepared(sql, params)
        if not rows:
            return []
        by_version = {version: position for position, version in rows}
        return [by_version[v] for v in range(expected_version + 1, new_version + 1)]

    def lock_and_fetch(
        self, subscription: str, stream_id: str, stream_type: str, limit: int
    ) -> tuple[CheckpointRow, list[EventRow]] | None:
        # All of it in one prepared statement: a delivery is a handful of round trips, so
        # each one counts; a new match's first goal must be as quick as its second. No
        # row back means the stream has no events, or another delivery holds or is
        # creating the checkpoint: the general path tells which, and waits briefly.
        params = {"sub": subscription, "stream": stream_id, "type": stream_type, "limit": limit}
        found = run_prepared(_LOCK_AND_FETCH, params)
        if not found:
            return None
        return found[0][:6], [row[6:] for row in found if row[6] is not None]

    def skip_unwanted(
        self, stream_id: str, wanted: dict[str, frozenset[str]], limit: int
    ) -> dict[str, int]:
        pairs = [(sub, t) for sub, types in wanted.items() for t in sorted(types)]
        params = {
            "subs": list(wanted),
            "stream": stream_id,
            "pair_subs": [sub for sub, _ in pairs],
            "pair_types": [t for _, t in pairs],
            "limit": limit,
        }
        return {sub: int(n) for sub, n in run_prepared(_SKIP_UNWANTED, params)}

    def create_checkpoint(
        self, subscription: str, stream_id: str, stream_type: str, wait_ms: int
    ) -> CheckpointRow | None:
        # Deliveries take milliseconds, so wait for the one holding the pair briefly:
        # re-enqueueing with a countdown would delay the events that woke us (a live
        # score) by far longer.
        with connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = '{int(wait_ms)}ms'")
            # The creators' lock of _LOCK_AND_FETCH.
            cursor.execute(
                f"SELECT pg_advisory_xact_lock({_CREATOR_LOCK_KEY})",
                {"sub": subscription, "stream": stream_id},
            )
            # updated_at: the column's default, the database's clock.
            cursor.execute(
                "INSERT INTO event_checkpoint "
                "(subscription, stream_id, stream_type, version, attempts, last_error, "
                "blocked) VALUES (%s, %s, %s, 0, 0, '', %s) "
                "ON CONFLICT (subscription, stream_id) DO NOTHING RETURNING id",
                [subscription, stream_id, stream_type, False],
            )
            created = cursor.fetchone()
            if created is not None:
                cursor.execute("SET LOCAL lock_timeout TO DEFAULT")
                return (created[0], 0, 0, 0.0, None, False)
            cursor.execute(
                "SELECT id, version, attempts, "
                f"{_seconds_until('next_attempt_at')}, failing_since, blocked "
                "FROM event_checkpoint WHERE subscription = %s AND stream_id = %s FOR UPDATE",
                [subscription, stream_id],
            )
            row: CheckpointRow | None = cursor.fetchone()
            # The handler's own writes in this transaction wait as long as they normally would.
            cursor.execute("SET LOCAL lock_timeout TO DEFAULT")
        return row

    def advance(self, checkpoint_id: int, version: int, recovered: bool) -> None:
        run_prepared(_ADVANCE[recovered], [version, checkpoint_id], rows=False)

    def watch(self, subscription: str, streams: Sequence[tuple[str, str]]) -> None:
        ids, types = zip(*streams, strict=True)
        with connection.cursor() as cursor:
            cursor.execute(_WATCH, [subscription, list(ids), list(types)])

    def now_sql(self, seconds: float) -> tuple[str, list[Any]]:
        # clock_timestamp() rather than now(): the time of the write, not of the start of
        # the (possibly long) delivery transaction.
        if seconds:
            return "(clock_timestamp() + make_interval(secs => %s))", [seconds]
        return "clock_timestamp()", []

    def seconds_until_sql(self, column_sql: str) -> str:
        return _seconds_until(column_sql)

    def database_now(self, cursor: CursorWrapper) -> datetime:
        cursor.execute("SELECT clock_timestamp()")
        value: datetime = cursor.fetchone()[0]
        return value

    def set_purge(self, cursor: CursorWrapper, allowed: bool) -> None:
        switch = "on" if allowed else "off"
        cursor.execute("SELECT set_config(%s, %s, true)", [PURGE_SETTING, switch])


# Positions one pass takes from beyond ``high_position``: a large backlog (the first pass
# over an existing store) is sequenced in several transactions, none of them long.
SEQUENCE_BATCH = 10_000


class PostgresFeed:
    """Feed positions handed out by the sequencer (see ``events.feed``)."""

    order_field = "feed_entry__feed_position"

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
                if state is None:  # cannot happen: the row exists or was just created
                    return 0, 0
                last, high = state
                params = {"last": last, "high": high, "batch": SEQUENCE_BATCH}
                cursor.execute(self._PASS, params, prepare=True)
                row = cursor.fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)
