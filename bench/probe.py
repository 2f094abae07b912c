"""A small projection on "probe" streams for delivery tests and the dispatch benchmark.

Registered always: it follows only streams of type "probe", so it costs nothing
elsewhere.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass

from django.db import connection
from django.db.models import F
from django.db.models.expressions import Func, Value
from django.db.models.fields.json import JSONField

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
    updated = ProbeCounter.objects.filter(stream_id=event.stream_id).update(
        applied=F("applied") + 1, versions=_append_version(event.version)
    )
    if not updated:
        ProbeCounter.objects.create(stream_id=event.stream_id, applied=1, versions=[event.version])


def apply_probe_batch(events: list[RecordedEvent]) -> None:
    """The same as ``apply_probe`` for each event, in one write per stream."""
    if _DELAY_SECONDS:
        time.sleep(_DELAY_SECONDS * len(events))
    stream_id = events[0].stream_id
    versions = [e.version for e in events]
    faults, counters = ProbeFault._meta.db_table, ProbeCounter._meta.db_table
    placeholders = ", ".join(["%s"] * len(versions))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM {faults} WHERE stream_id = %s AND version IN ({placeholders})",
            [stream_id, *versions],
        )
        if cursor.fetchone():
            raise ProbeFailure(f"probe fault in {stream_id}@{versions[0]}..{versions[-1]}")
    if connection.vendor == "postgresql":
        updated = _update_postgresql(counters, stream_id, versions)
    else:
        updated = ProbeCounter.objects.filter(stream_id=stream_id).update(
            applied=F("applied") + len(versions), versions=_append_versions(versions)
        )
    if not updated:
        ProbeCounter.objects.create(stream_id=stream_id, applied=len(versions), versions=versions)


def _update_postgresql(table: str, stream_id: str, versions: list[int]) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET applied = applied + %s, versions = versions || %s::jsonb "
            "WHERE stream_id = %s",
            [len(versions), json.dumps(versions), stream_id],
        )
        return cursor.rowcount


def _append_version(version: int) -> Func:
    return _append_versions([version])


def _append_versions(versions: list[int]) -> Func:
    # PostgreSQL: jsonb || jsonb; SQLite: json_insert(list, '$[#]', n, '$[#]', m, ...).
    if connection.vendor == "postgresql":
        return Func(
            F("versions"),
            Func(Value(json.dumps(versions)), template="%(expressions)s::jsonb"),
            template="%(expressions)s",
            arg_joiner=" || ",
            output_field=JSONField(),
        )
    args: list[Value] = []
    for version in versions:
        args += [Value("$[#]"), Value(version)]
    return Func(F("versions"), *args, function="json_insert", output_field=JSONField())


def probe_tick(*, stream_id: str, n: int = 0) -> int:
    """The probe's one command: append a ProbeTicked at the stream's current version."""
    from django.db import transaction

    from events import store

    with transaction.atomic():
        version = store.stream_version(stream_id)
        store.append(stream_id, [ProbeTicked(n=n)], version)
    return version + 1
