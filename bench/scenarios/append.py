"""Events/s appended through the event store vs. raw INSERT+COMMIT on the same database.

Phases alternate (store single, raw single, store batch, raw batch) for several rounds
so that machine noise hits both sides alike; each figure is the median of its rounds.
The store phases measure the store alone (append listeners paused);
``single_events_per_s_with_wakeups`` is the same loop as deployed, where every commit
also hands a wake-up to the delivery notifier (events.wakeup).
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

import orjson
from django.db import connection, transaction

from bench.events import BenchGoalScored
from events import store
from events.models import EventStream, StoredEvent
from events.purge import allow_event_purge

STREAMS = 100
ROUNDS = 3


def _event(i: int) -> BenchGoalScored:
    return BenchGoalScored(
        match_id=uuid.UUID(int=i % STREAMS + 1),
        team_id=uuid.UUID(int=7),
        minute=i % 90,
        player="Ada",
    )


def _rate(seconds: float, step: Callable[[int], int]) -> float:
    done = 0
    i = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        done += step(i)
        i += 1
    return done / (time.perf_counter() - start)


class _StoreWriter:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.versions = [0] * STREAMS

    def write(self, i: int, batch: int) -> int:
        s = i % STREAMS
        events = [_event(i * batch + k) for k in range(batch)]
        with transaction.atomic():
            store.append(f"{self.prefix}-{s}", events, self.versions[s])
        self.versions[s] += batch
        return batch


class _RawWriter:
    """Plain driver INSERT + COMMIT into a table shaped like the event table."""

    def __init__(self, table: str) -> None:
        self.table = table
        self.vendor = connection.vendor
        self.versions = [0] * STREAMS
        if self.vendor == "postgresql":
            import psycopg

            settings = connection.settings_dict
            self.conn: Any = psycopg.connect(
                host=settings["HOST"] or None,
                port=settings["PORT"] or None,
                user=settings["USER"] or None,
                password=settings["PASSWORD"] or None,
                dbname=settings["NAME"],
            )
            self.placeholder = "%s"
        else:
            import sqlite3

            self.conn = sqlite3.connect(connection.settings_dict["NAME"], timeout=20)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.placeholder = "?"
        ph = self.placeholder
        jsonb = "::jsonb" if self.vendor == "postgresql" else ""
        self.row_sql = f"({', '.join([ph] * 7)}, {ph}{jsonb}, {ph}{jsonb})"
        cur = self.conn.cursor()
        cur.execute(f"DROP TABLE IF EXISTS {table}")
        serial = "BIGSERIAL" if self.vendor == "postgresql" else "INTEGER"
        json_type = "JSONB" if self.vendor == "postgresql" else "TEXT"
        uuid_type = "UUID" if self.vendor == "postgresql" else "CHAR(32)"
        ts = "TIMESTAMPTZ" if self.vendor == "postgresql" else "TEXT"
        cur.execute(
            f"""CREATE TABLE {table} (
                position {serial} PRIMARY KEY, event_id {uuid_type} UNIQUE NOT NULL,
                stream_id VARCHAR(128) NOT NULL, stream_type VARCHAR(64) NOT NULL,
                version INTEGER NOT NULL, event_type VARCHAR(128) NOT NULL,
                schema_version SMALLINT NOT NULL, occurred_at {ts} NOT NULL,
                payload {json_type} NOT NULL, metadata {json_type} NOT NULL,
                UNIQUE (stream_id, version))"""
        )
        cur.execute(f"CREATE INDEX {table}_type ON {table} (event_type, position)")
        self.conn.commit()

    def write(self, i: int, batch: int) -> int:
        s = i % STREAMS
        rows: list[Any] = []
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ")
        meta = orjson.dumps({"correlation_id": str(uuid.uuid4())}).decode()
        for k in range(batch):
            event = _event(i * batch + k)
            event_id = uuid.uuid4()
            rows += [
                event_id if self.vendor == "postgresql" else event_id.hex,
                f"raw-{s}",
                "bench",
                self.versions[s] + k + 1,
                event.event_type,
                1,
                now,
                orjson.dumps(event).decode(),
                meta,
            ]
        cur = self.conn.cursor()
        cur.execute(
            f"INSERT INTO {self.table} (event_id, stream_id, stream_type, version, event_type, "
            f"schema_version, occurred_at, payload, metadata) VALUES "
            + ", ".join([self.row_sql] * batch),
            rows,
        )
        self.conn.commit()
        self.versions[s] += batch
        return batch

    def close(self) -> None:
        cur = self.conn.cursor()
        cur.execute(f"DROP TABLE IF EXISTS {self.table}")
        self.conn.commit()
        self.conn.close()


def run(options: dict[str, Any], log: Callable[[str], None]) -> dict[str, Any]:
    seconds = options.get("seconds") or 3.0
    prefix = f"bench-append-{uuid.uuid4().hex[:8]}"
    raw = _RawWriter(f"bench_raw_{uuid.uuid4().hex[:8]}")
    results: dict[str, list[float]] = {
        "single_events_per_s": [],
        "raw_single_commits_per_s": [],
        "batch100_events_per_s": [],
        "raw_batch100_rows_per_s": [],
        "single_events_per_s_with_wakeups": [],
    }
    try:
        for round_no in range(ROUNDS):
            single = _StoreWriter(f"{prefix}-r{round_no}")
            batch = _StoreWriter(f"{prefix}-b{round_no}")
            with store.append_listeners_paused():
                results["single_events_per_s"].append(
                    _rate(seconds, partial(single.write, batch=1))
                )
            results["raw_single_commits_per_s"].append(_rate(seconds, lambda i: raw.write(i, 1)))
            with store.append_listeners_paused():
                results["batch100_events_per_s"].append(
                    _rate(seconds, partial(batch.write, batch=100))
                )
            results["raw_batch100_rows_per_s"].append(_rate(seconds, lambda i: raw.write(i, 100)))
            # As deployed: each commit also wakes the delivery workers (events.wakeup).
            woken = _StoreWriter(f"{prefix}-w{round_no}")
            results["single_events_per_s_with_wakeups"].append(
                _rate(seconds, partial(woken.write, batch=1))
            )
            log(
                f"round {round_no + 1}: "
                + ", ".join(f"{k}={v[-1]:.0f}" for k, v in results.items())
            )
    finally:
        raw.close()
        with allow_event_purge():
            StoredEvent.objects.filter(stream_id__startswith=prefix).delete()
            EventStream.objects.filter(stream_id__startswith=prefix).delete()
    medians = {key: round(statistics.median(values), 1) for key, values in results.items()}
    return {
        "scenario": "append",
        "database": connection.vendor,
        **medians,
        "single_ratio": round(
            medians["single_events_per_s"] / medians["raw_single_commits_per_s"], 3
        ),
        "batch100_ratio": round(
            medians["batch100_events_per_s"] / medians["raw_batch100_rows_per_s"], 3
        ),
        "rounds": ROUNDS,
        "seconds_per_phase": seconds,
    }
