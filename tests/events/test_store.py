from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connections, transaction
from django.utils import timezone

from bench.probe import ProbeTicked
from easychamp.database import Pool, database_from_url
from events import store
from events.context import event_context
from events.models import EventStream, StoredEvent
from events.purge import allow_event_purge
from events.registry import (
    Event,
    EventDecodingError,
    EventEncodingError,
    UnknownEventType,
    registry,
)
from tests.events.conftest import PriceSet, ThingHappened

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


def thing(count: int = 1) -> ThingHappened:
    return ThingHappened(thing_id=uuid.UUID(int=7), count=count, note="n")


def test_append_then_load_returns_typed_events_in_version_order():
    recorded = store.append("thing-1", [thing(1), thing(2), PriceSet(Decimal("9.90"), "EUR")], 0)

    loaded = store.load("thing-1")

    assert [r.version for r in recorded] == [1, 2, 3]
    assert [r.data for r in loaded] == [thing(1), thing(2), PriceSet(Decimal("9.90"), "EUR")]
    first, price = loaded[0].data, loaded[2].data
    assert isinstance(first, ThingHappened)
    assert isinstance(price, PriceSet)
    assert isinstance(first.thing_id, uuid.UUID)
    assert isinstance(price.amount, Decimal)
    assert [r.position for r in loaded] == [r.position for r in recorded]
    assert loaded[0].stream_type == "thing"
    assert store.stream_version("thing-1") == 3


def test_load_after_version_returns_only_later_events():
    store.append("thing-1", [thing(1), thing(2), thing(3)], 0)

    assert [r.data for r in store.load("thing-1", after_version=1)] == [thing(2), thing(3)]


def test_load_of_some_event_types_reads_only_those_in_version_order():
    store.append("thing-1", [thing(1), PriceSet(Decimal("1"), "EUR"), thing(2)], 0)

    prices = store.load("thing-1", event_types=[PriceSet.event_type])
    things = store.load("thing-1", event_types=[ThingHappened.event_type])

    assert [(r.version, r.data) for r in prices] == [(2, PriceSet(Decimal("1"), "EUR"))]
    assert [r.version for r in things] == [1, 3]
    assert store.load("thing-1", event_types=[]) == []


def test_append_continues_a_stream_at_its_version():
    store.append("thing-1", [thing(1)], 0)
    store.append("thing-1", [thing(2), thing(3)], 1)

    assert [r.version for r in store.load("thing-1")] == [1, 2, 3]


def test_stale_expected_version_raises_naming_stream_expected_and_actual():
    store.append("thing-1", [thing(1), thing(2)], 0)

    with pytest.raises(store.ConcurrencyError) as info:
        store.append("thing-1", [thing(3)], 1)

    assert (info.value.stream_id, info.value.expected_version, info.value.actual_version) == (
        "thing-1",
        1,
        2,
    )
    assert "thing-1" in str(info.value)
    assert StoredEvent.objects.filter(stream_id="thing-1").count() == 2


def test_expected_version_ahead_of_stream_is_a_conflict_not_a_gap():
    store.append("thing-1", [thing(1)], 0)

    with pytest.raises(store.ConcurrencyError):
        store.append("thing-1", [thing(2)], 5)

    with pytest.raises(store.ConcurrencyError):
        store.append("never-written", [thing(1)], 3)
    assert list(StoredEvent.objects.values_list("version", flat=True)) == [1]
    assert not EventStream.objects.filter(stream_id="never-written").exists()


def test_creating_an_existing_stream_is_a_conflict():
    store.append("thing-1", [thing(1)], 0)

    with pytest.raises(store.ConcurrencyError) as info:
        store.append("thing-1", [thing(1)], 0)

    assert info.value.actual_version == 1


def test_conflict_leaves_the_callers_transaction_usable():
    store.append("thing-1", [thing(1)], 0)

    with transaction.atomic():
        with pytest.raises(store.ConcurrencyError):
            store.append("thing-1", [thing(2)], 0)
        store.append("thing-1", [thing(2)], 1)

    assert store.stream_version("thing-1") == 2


def test_exception_after_append_in_outer_transaction_leaves_no_state_and_no_events():
    def command() -> None:
        with transaction.atomic():
            EventStream.objects.create(
                stream_id="unrelated-state",
                stream_type="x",
                version=9,
                updated_at="2026-01-01T00:00Z",
            )
            store.append("thing-1", [thing(1)], 0)
            raise RuntimeError("the command failed after appending")

    with pytest.raises(RuntimeError):
        command()

    assert not StoredEvent.objects.exists()
    assert not EventStream.objects.exists()


@pytest.mark.parametrize("bad", [-1, 1.0, "1", None, True])
def test_bad_expected_version_is_rejected(bad):
    with pytest.raises(store.InvalidAppend, match="expected_version"):
        store.append("thing-1", [thing(1)], bad)

    assert not StoredEvent.objects.exists()


@pytest.mark.parametrize("stream_id", ["", "x" * 129, None])
def test_bad_stream_id_is_rejected(stream_id):
    with pytest.raises(store.InvalidAppend, match="stream_id"):
        store.append(stream_id, [thing(1)], 0)


def test_empty_append_is_rejected():
    with pytest.raises(store.InvalidAppend, match="at least one"):
        store.append("thing-1", [], 0)


def test_non_event_is_rejected():
    with pytest.raises(store.InvalidAppend, match="not an Event"):
        store.append("thing-1", [{"count": 1}], 0)  # type: ignore[list-item]


def test_a_stream_keeps_its_type():
    store.append("thing-1", [thing()], 0)

    # Before: appended, leaving a "thing" head over "probe" rows (the sweeper goes by
    # the head's type, so the subscriptions of the new type were never swept for it)
    with pytest.raises(store.InvalidAppend, match="'thing' stream"):
        store.append("thing-1", [ProbeTicked(n=1)], 1)
    with pytest.raises(store.InvalidAppend, match="'thing' stream"):
        store.append("thing-1", [thing()], 1, stream_type="other")
    assert store.stream_version("thing-1") == 1
    assert StoredEvent.objects.filter(stream_id="thing-1").count() == 1


def test_one_append_takes_events_of_one_stream_type():
    with pytest.raises(store.InvalidAppend, match="belongs to 'probe' streams"):
        store.append("thing-2", [thing(), ProbeTicked(n=1)], 0)
    assert not EventStream.objects.filter(stream_id="thing-2").exists()


def test_unserialisable_payload_fails_at_append_and_writes_nothing():
    bad = ThingHappened(thing_id=uuid.UUID(int=1), count=1, note=object())  # type: ignore[arg-type]

    with pytest.raises(EventEncodingError, match=r"test\.ThingHappened"):
        store.append("thing-1", [thing(1), bad], 0)

    assert not StoredEvent.objects.exists()
    assert store.stream_version("thing-1") == 0


def test_unregistered_event_class_is_rejected_at_append():
    @dataclass(frozen=True)
    class Unregistered(Event):
        event_type = "test.Unregistered"
        stream_type = "thing"

    with pytest.raises(UnknownEventType, match=r"test\.Unregistered"):
        store.append("thing-1", [Unregistered()], 0)


def stored_row(stream: str, version: int, event_type: str, payload: object, **fields) -> int:
    """Insert a row as an older or broken writer could have left it; its position."""
    row = StoredEvent.objects.create(
        stream_id=stream,
        stream_type="thing",
        version=version,
        event_type=event_type,
        occurred_at=timezone.now(),
        payload=payload,
        **fields,
    )
    return row.position


@pytest.mark.parametrize(
    ("event_type", "payload", "metadata", "reason"),
    [
        ("test.Vanished", {"count": 1}, {}, r"Unknown event type 'test\.Vanished'"),
        ("test.ThingHappened", {"count": "many"}, {}, r"payload is invalid: Expected `int`"),
        ("test.ThingHappened", ["not", "an", "object"], {}, r"payload is invalid"),
        ("test.PriceSet", {"amount": "1.00", "currency": "EUR"}, [], r"Expected `object`"),
    ],
    ids=["unknown type", "wrong field type", "not an object", "malformed metadata"],
)
def test_an_undecodable_row_fails_loading_its_stream_naming_the_row_and_why(
    event_type, payload, metadata, reason
):
    store.append("broken", [thing(1)], 0)
    position = stored_row("broken", 2, event_type, payload, metadata=metadata)

    with pytest.raises(store.UndecodableEvent, match=reason) as info:
        store.load("broken")

    error = info.value
    assert (error.stream_id, error.version, error.position, error.event_type) == (
        "broken",
        2,
        position,
        event_type,
    )
    assert f"cannot decode {event_type} at broken@2 (position {position})" in str(error)
    assert isinstance(error, EventDecodingError)


def test_an_undecodable_row_does_not_affect_other_streams_or_earlier_events():
    store.append("broken", [thing(1)], 0)
    store.append("healthy", [thing(7)], 0)
    stored_row("broken", 2, "test.Vanished", {})

    assert [r.data for r in store.load("healthy")] == [thing(7)]
    assert [r.data for r in store.load("broken", limit=1)] == [thing(1)]


def test_every_recorded_event_round_trips_through_json():
    recorded = store.append("thing-1", [thing(1), PriceSet(Decimal("1.10"), "EUR")], 0)

    for event in recorded:
        payload = registry.encode(event.data)
        assert registry.decode(event.event_type, event.schema_version, payload) == event.data


def test_metadata_carries_correlation_causation_and_user():
    with event_context(correlation_id="corr-1", causation_id="cause-1", user_id="42"):
        store.append("thing-1", [thing(1)], 0)

    meta = store.load("thing-1")[0].metadata
    assert (meta.correlation_id, meta.causation_id, meta.user_id) == ("corr-1", "cause-1", "42")


def test_append_outside_any_context_gets_a_fresh_correlation_id():
    store.append("thing-1", [thing(1)], 0)
    store.append("thing-2", [thing(1)], 0)

    ids = {r.metadata.correlation_id for r in store.load("thing-1") + store.load("thing-2")}
    assert len(ids) == 2


def test_envelope_has_the_design_shape():
    store.append("thing-1", [thing(1)], 0)

    envelope = store.load("thing-1")[0].envelope()

    assert set(envelope) == {
        "event_id",
        "stream_id",
        "stream_type",
        "version",
        "position",
        "event_type",
        "schema_version",
        "occurred_at",
        "payload",
        "metadata",
    }
    assert envelope["payload"] == {"thing_id": str(uuid.UUID(int=7)), "count": 1, "note": "n"}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_eight_concurrent_writers_at_the_same_version_exactly_one_wins():
    store.append("race", [thing(0)], 0)
    barrier = threading.Barrier(8)
    outcomes: list[str] = []
    lock = threading.Lock()

    def writer(n: int) -> None:
        try:
            barrier.wait()
            with transaction.atomic():
                store.append("race", [thing(n), thing(n)], 1)
            result = "ok"
        except store.ConcurrencyError as exc:
            result = f"conflict@{exc.actual_version}"
        finally:
            connections.close_all()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    assert sorted(outcomes) == ["conflict@3"] * 7 + ["ok"]
    versions = list(
        StoredEvent.objects.filter(stream_id="race")
        .order_by("version")
        .values_list("version", flat=True)
    )
    assert versions == [1, 2, 3]
    assert store.stream_version("race") == 3


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_eight_concurrent_creators_of_a_new_stream_exactly_one_wins():
    barrier = threading.Barrier(8)
    outcomes: list[bool] = []

    def writer(n: int) -> None:
        try:
            barrier.wait()
            store.append("fresh", [thing(n)], 0)
            outcomes.append(True)
        except store.ConcurrencyError:
            outcomes.append(False)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    assert sorted(outcomes) == [False] * 7 + [True]
    assert StoredEvent.objects.filter(stream_id="fresh").count() == 1


def test_sqlite_default_uses_wal_and_immediate_transactions(tmp_path):
    config = database_from_url(f"sqlite:///{tmp_path / 'db.sqlite3'}")

    with sqlite3.connect(config["NAME"]) as conn:
        conn.executescript(config["OPTIONS"]["init_command"])
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]

    assert config["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert mode == "wal"


def test_postgres_url_gets_health_checks_and_prepared_statements():
    config = database_from_url("postgres://u:p@db.example:5433/champ")

    assert (config["HOST"], config["PORT"], config["NAME"]) == ("db.example", 5433, "champ")
    assert config["CONN_HEALTH_CHECKS"] is True
    # Django's backend, with a pool that checks only connections that sat idle
    assert config["ENGINE"] == "easychamp.postgresql"
    assert config["OPTIONS"]["prepare_threshold"] == 100
    pooled = database_from_url("postgres://u:p@db/champ", pool=Pool(check_idle=2.5))
    assert pooled["OPTIONS"]["pool"]["check_idle"] == 2.5
    without = database_from_url("postgres://u:p@db/champ", prepared_statements=False)
    assert "prepare_threshold" not in without.get("OPTIONS", {})


# The store is append-only, enforced by the database (migration 0005_append_only).

UPDATE_REFUSED = "event_store is append-only: UPDATE refused"
DELETE_REFUSED = "event_store is append-only: DELETE refused"


def raw_sql(sql: str) -> None:
    with connections["default"].cursor() as cursor:
        cursor.execute(sql)


def save_changed(stream_id: str) -> None:
    row = StoredEvent.objects.filter(stream_id=stream_id).first()
    assert row is not None
    row.event_type = "test.Rewritten"
    row.save()


def delete_one(stream_id: str) -> None:
    row = StoredEvent.objects.filter(stream_id=stream_id).first()
    assert row is not None
    row.delete()


UPDATES = {
    "queryset update": lambda: StoredEvent.objects.update(event_type="test.Rewritten"),
    "instance save": lambda: save_changed("thing-1"),
    "raw sql": lambda: raw_sql("UPDATE event_store SET version = version + 10"),
}
DELETES = {
    "queryset delete": lambda: StoredEvent.objects.filter(stream_id="thing-1").delete(),
    "instance delete": lambda: delete_one("thing-1"),
    "raw sql": lambda: raw_sql("DELETE FROM event_store"),
}


@pytest.mark.parametrize("update", UPDATES.values(), ids=UPDATES.keys())
def test_the_database_refuses_to_update_a_stored_event(update):
    store.append("thing-1", [thing(1), thing(2)], 0)

    with pytest.raises(IntegrityError, match=UPDATE_REFUSED), transaction.atomic():
        update()

    assert [(r.version, r.data) for r in store.load("thing-1")] == [(1, thing(1)), (2, thing(2))]


@pytest.mark.parametrize("delete", DELETES.values(), ids=DELETES.keys())
def test_the_database_refuses_to_delete_stored_events(delete):
    store.append("thing-1", [thing(1), thing(2)], 0)

    with pytest.raises(IntegrityError, match=DELETE_REFUSED), transaction.atomic():
        delete()

    assert [r.version for r in store.load("thing-1")] == [1, 2]


@pytest.mark.postgres
def test_the_database_refuses_to_truncate_the_store():
    store.append("thing-1", [thing(1)], 0)

    with (
        pytest.raises(IntegrityError, match="event_store is append-only: TRUNCATE refused"),
        transaction.atomic(),
    ):
        raw_sql("TRUNCATE event_store")

    assert StoredEvent.objects.count() == 1


def test_the_purge_switch_allows_deleting_inside_its_block_only():
    store.append("thing-1", [thing(1), thing(2)], 0)
    store.append("thing-2", [thing(3)], 0)

    with allow_event_purge():
        deleted, _ = StoredEvent.objects.filter(stream_id="thing-1").delete()
        with pytest.raises(IntegrityError, match=UPDATE_REFUSED), transaction.atomic():
            StoredEvent.objects.update(event_type="test.Rewritten")
    # Still inside the test's transaction: the switch ended with its block.
    with pytest.raises(IntegrityError, match=DELETE_REFUSED), transaction.atomic():
        StoredEvent.objects.all().delete()
    store.append("thing-3", [thing(4)], 0)

    assert deleted == 2
    assert sorted(StoredEvent.objects.values_list("stream_id", flat=True)) == [
        "thing-2",
        "thing-3",
    ]


def test_the_purge_switch_ends_with_a_failing_block():
    store.append("thing-1", [thing(1)], 0)

    with pytest.raises(RuntimeError), allow_event_purge():
        raise RuntimeError("the purge failed half-way")
    with pytest.raises(IntegrityError, match=DELETE_REFUSED), transaction.atomic():
        StoredEvent.objects.all().delete()

    assert StoredEvent.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_flush_empties_the_store_through_the_purge_switch():
    # The test framework empties the database with ``flush`` after each test like this
    # one: it must go through the switch, and leave the store append-only afterwards.
    store.append("thing-1", [thing(1)], 0)

    call_command("flush", interactive=False, verbosity=0)

    assert not StoredEvent.objects.exists()
    store.append("thing-1", [thing(1)], 0)
    with pytest.raises(IntegrityError, match=DELETE_REFUSED):
        StoredEvent.objects.all().delete()


def test_on_sqlite_the_store_is_append_only_too_and_flush_goes_through_the_switch(tmp_path):
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    manage(url, "migrate", "-v", "0")
    conn = sqlite3.connect(tmp_path / "db.sqlite3", isolation_level=None)
    conn.execute(
        "INSERT INTO event_store (event_id, stream_id, stream_type, version, event_type, "
        "schema_version, occurred_at, payload, metadata) "
        "VALUES ('e1', 's', 'thing', 1, 'test.ThingHappened', 1, '2026-01-01', '{}', '{}')"
    )

    with pytest.raises(sqlite3.IntegrityError, match=UPDATE_REFUSED):
        conn.execute("UPDATE event_store SET version = 2")
    with pytest.raises(sqlite3.IntegrityError, match=DELETE_REFUSED):
        conn.execute("DELETE FROM event_store")
    rows_after_refusals = conn.execute("SELECT count(*) FROM event_store").fetchone()[0]
    manage(url, "flush", "--no-input")
    rows_after_flush = conn.execute("SELECT count(*) FROM event_store").fetchone()[0]
    switches_left_on = conn.execute("SELECT count(*) FROM event_store_purge").fetchone()[0]
    conn.close()

    assert (rows_after_refusals, rows_after_flush, switches_left_on) == (1, 0, 0)


def manage(database_url: str, *args: str) -> None:
    env = {**os.environ, "DATABASE_URL": database_url}
    subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True
    )
