"""A small projection on "probe" streams for delivery tests and the dispatch benchmark.

Registered only where the bench app is installed (EASYCHAMP_BENCH=1: benchmarks and
tests), never in production.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass

from django.db import connection

from bench.models import ProbeCounter, ProbeFault
from events.registry import Event
from events.store import RecordedEvent

SUBSCRIPTION = "bench.probe"
STREAM_TYPE = "probe"


@dataclass(frozen=True)
class ProbeTicked(Event):
    event_type = "bench.ProbeTicked"
    stream_type = STREAM_TYPE

    n: int


class ProbeFailure(RuntimeError):
    pass


# Tests that must catch a worker in the middle of its work slow the handler down.
_DELAY_SECONDS = float(os.environ.get("EASYCHAMP_PROBE_DELAY_MS") or 0) / 1000


def apply_probe(event: RecordedEvent) -> None:
    """Count the event and record its version; fail while a ProbeFault names it."""
    if _DELAY_SECONDS:
        time.sleep(_DELAY_SECONDS)
    if ProbeFault.objects.filter(stream_id=event.stream_id, version=event.version).exists():
        raise ProbeFailure(f"probe fault at {event.stream_id}@{event.version}")
    _count(event.stream_id, [event.version])


def apply_probe_batch(events: list[RecordedEvent]) -> None:
    """The same as ``apply_probe`` for each event, in one write per stream."""
    if _DELAY_SECONDS:
        time.sleep(_DELAY_SECONDS * len(events))
    stream_id = events[0].stream_id
    versions = [e.version for e in events]
    placeholders = ", ".join(["%s"] * len(versions))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM {ProbeFault._meta.db_table} "
            f"WHERE stream_id = %s AND version IN ({placeholders})",
            [stream_id, *versions],
        )
        if cursor.fetchone():
            raise ProbeFailure(f"probe fault in {stream_id}@{versions[0]}..{versions[-1]}")
    _count(stream_id, versions)


def _count(stream_id: str, versions: list[int]) -> None:
    """Add the versions to the stream's counter, and this process to its pids."""
    table, pid = ProbeCounter._meta.db_table, os.getpid()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"UPDATE {table} SET applied = applied + %s, versions = versions || %s::jsonb, "
                "pids = CASE WHEN pids @> %s::jsonb THEN pids ELSE pids || %s::jsonb END "
                "WHERE stream_id = %s",
                [
                    len(versions),
                    json.dumps(versions),
                    json.dumps([pid]),
                    json.dumps([pid]),
                    stream_id,
                ],
            )
        else:  # SQLite: json_insert(list, '$[#]', n, '$[#]', m, ...) appends
            appends = ", ".join(["'$[#]', %s"] * len(versions))
            cursor.execute(
                f"UPDATE {table} SET applied = applied + %s, "
                f"versions = json_insert(versions, {appends}), "
                "pids = CASE WHEN EXISTS (SELECT 1 FROM json_each(pids) WHERE value = %s) "
                "THEN pids ELSE json_insert(pids, '$[#]', %s) END "
                "WHERE stream_id = %s",
                [len(versions), *versions, pid, pid, stream_id],
            )
        updated = cursor.rowcount
    if not updated:
        ProbeCounter.objects.create(
            stream_id=stream_id, applied=len(versions), versions=versions, pids=[pid]
        )


def probe_tick(*, stream_id: str, n: int = 0) -> int:
    """The probe's one command: append a ProbeTicked at the stream's current version."""
    from django.db import transaction

    from events import store

    with transaction.atomic():
        version = store.stream_version(stream_id)
        store.append(stream_id, [ProbeTicked(n=n)], version)
    return version + 1
