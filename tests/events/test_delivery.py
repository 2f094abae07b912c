from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import timedelta
from typing import Any

import psycopg
import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.db import DatabaseError, OperationalError, connection, transaction
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from bench.models import ProbeCounter, ProbeFault
from bench.probe import SUBSCRIPTION, ProbeTicked
from events import delivery, store
from events.backends import recorder
from events.clock import DatabaseNow, database_now
from events.deadletters import DeadLetterError, dead_letter_retry, dead_letter_skip
from events.models import Checkpoint, DeadLetter, StoredEvent
from events.store import RecordedEvent
from events.subscriptions import RetryPolicy, subscribe, subscriptions
from tests.events.conftest import ThingHappened

pytestmark = pytest.mark.django_db


def tick(stream: str, count: int, start: int = 0) -> None:
    store.append(stream, [ProbeTicked(n=i) for i in range(count)], start)


def counter(stream: str) -> tuple[int, list[int]]:
    row = ProbeCounter.objects.get(stream_id=stream)
    return row.applied, row.versions


def checkpoint(stream: str) -> Checkpoint:
    return Checkpoint.objects.get(subscription=SUBSCRIPTION, stream_id=stream)


def deliver(stream: str) -> delivery.StreamResult:
    return delivery.deliver_stream(stream, "probe")


def fail_at(stream: str, version: int) -> None:
    ProbeFault.objects.create(stream_id=stream, version=version)


def due_now(stream: str, subscription: str = SUBSCRIPTION) -> None:
    Checkpoint.objects.filter(subscription=subscription, stream_id=stream).update(
        next_attempt_at=DatabaseNow(-1)
    )


def test_delivery_applies_events_in_version_order_and_advances_the_checkpoint():
    tick("p1", 5)

    result = deliver("p1")

    assert result.delivered == 5
    assert counter("p1") == (5, [1, 2, 3, 4, 5])
    assert checkpoint("p1").version == 5


def test_redelivering_changes_nothing():
    tick("p1", 3)
    deliver("p1")

    again = deliver("p1")

    assert again.delivered == 0
    assert counter("p1") == (3, [1, 2, 3])


def test_events_after_the_checkpoint_are_delivered_later():
    tick("p1", 2)
    deliver("p1")
    tick("p1", 2, start=2)

    deliver("p1")

    assert counter("p1") == (4, [1, 2, 3, 4])


def test_batches_are_capped_and_the_rest_reported():
    small = subscribe(
        "test.small_batches",
        lambda e: None,
        event_types=[ProbeTicked],
        stream_types=["probe"],
        batch_size=2,
    )
    try:
        tick("p1", 7)
        result = delivery.deliver_stream("p1", "probe", only=small.name, max_batches=2)
        assert result.delivered == 4
        assert result.more == [small.name]
    finally:
        subscriptions.unregister(small.name)


def test_subscription_only_sees_wanted_types_but_moves_past_the_rest(event_bus):
    seen: list[int] = []
    subscribe(
        "test.only_things",
        lambda e: seen.append(e.version),
        event_types=[ThingHappened],
    )
    try:
        thing = ThingHappened(thing_id=uuid.uuid4(), count=1)
        store.append("mixed", [thing, ProbeTicked(n=1), thing], 0, stream_type="thing")

        delivery.deliver_stream("mixed", "thing", only="test.only_things")

        assert seen == [1, 3]
        assert (
            Checkpoint.objects.get(subscription="test.only_things", stream_id="mixed").version == 3
        )
    finally:
        subscriptions.unregister("test.only_things")


def test_a_failing_handler_commits_the_events_before_it_and_schedules_a_retry():
    tick("p1", 5)
    fail_at("p1", 3)

    result = deliver("p1")

    assert counter("p1") == (2, [1, 2])
    cp = checkpoint("p1")
    assert (cp.version, cp.attempts, cp.blocked) == (2, 1, False)
    assert "probe fault at p1@3" in cp.last_error
    assert cp.next_attempt_at is not None
    assert cp.next_attempt_at > timezone.now()
    assert 0 < result.retry_in[SUBSCRIPTION] <= 0.2


def test_a_retry_is_not_attempted_before_its_time():
    tick("p1", 2)
    fail_at("p1", 1)
    deliver("p1")

    result = deliver("p1")

    assert checkpoint("p1").attempts == 1
    assert result.retry_in[SUBSCRIPTION] > 0


def test_retries_back_off_then_dead_letter_and_later_events_wait():
    tick("p1", 4)
    fail_at("p1", 2)
    delays = []
    for _ in range(3):
        delays.append(deliver("p1").retry_in[SUBSCRIPTION])
        due_now("p1")

    result = deliver("p1")

    letter = DeadLetter.objects.get()
    assert (letter.stream_id, letter.event_version, letter.attempts) == ("p1", 2, 4)
    assert letter.event_type == "bench.ProbeTicked"
    assert "ProbeFailure" in letter.last_error
    assert "Traceback" in letter.traceback
    assert letter.first_failed_at <= letter.last_failed_at
    assert result.blocked == [SUBSCRIPTION]
    assert checkpoint("p1").blocked
    assert counter("p1") == (1, [1])
    # Still parked: a new delivery does not move past the dead letter.
    assert deliver("p1").delivered == 0
    assert counter("p1") == (1, [1])
    # Ceilings 0.2, 0.4, 0.8 s with jitter in the upper half of each.
    assert 0.1 <= delays[0] <= 0.2
    assert 0.2 <= delays[1] <= 0.4
    assert 0.4 <= delays[2] <= 0.8


def dead_letter_for(stream: str, version: int) -> DeadLetter:
    fail_at(stream, version)
    for _ in range(4):
        deliver(stream)
        due_now(stream)
    return DeadLetter.objects.get(stream_id=stream)


def test_other_streams_keep_flowing_while_one_is_parked():
    tick("bad", 3)
    tick("good", 3)
    dead_letter_for("bad", 1)

    deliver("good")

    assert counter("good") == (3, [1, 2, 3])


def test_retrying_a_dead_letter_after_the_fault_is_fixed_delivers_everything_in_order(
    django_capture_on_commit_callbacks,
):
    tick("p1", 4)
    letter = dead_letter_for("p1", 2)
    ProbeFault.objects.all().delete()
    user = get_user_model().objects.create_user("staff")

    with django_capture_on_commit_callbacks() as callbacks:
        dead_letter_retry(dead_letter_id=letter.pk, user=user, note="fixed the handler")
    deliver("p1")

    letter.refresh_from_db()
    assert (letter.status, letter.resolved_by, letter.resolution_note) == (
        "retried",
        user,
        "fixed the handler",
    )
    assert letter.resolved_at is not None
    assert len(callbacks) == 1  # a wake-up for the stream after commit
    assert counter("p1") == (4, [1, 2, 3, 4])


def test_skipping_a_dead_letter_moves_past_it_and_records_why():
    tick("p1", 3)
    letter = dead_letter_for("p1", 2)

    dead_letter_skip(dead_letter_id=letter.pk, note="bad data from the old importer")
    deliver("p1")

    letter.refresh_from_db()
    assert letter.status == "skipped"
    assert letter.resolution_note == "bad data from the old importer"
    assert counter("p1") == (2, [1, 3])


def test_skip_needs_a_reason_and_a_resolved_letter_cannot_be_resolved_again():
    tick("p1", 1)
    letter = dead_letter_for("p1", 1)

    with pytest.raises(DeadLetterError, match="reason"):
        dead_letter_skip(dead_letter_id=letter.pk, note=" ")
    dead_letter_retry(dead_letter_id=letter.pk)
    with pytest.raises(DeadLetterError, match="already retried"):
        dead_letter_retry(dead_letter_id=letter.pk)
    with pytest.raises(DeadLetterError, match="does not exist"):
        dead_letter_retry(dead_letter_id=999_999)


def test_handler_appends_carry_correlation_and_causation(event_bus):
    caused: list[RecordedEvent] = []

    def react(event: RecordedEvent) -> None:
        caused.extend(store.append(f"echo-{event.stream_id}", [ProbeTicked(n=0)], 0))

    subscribe("test.echo", react, event_types=[ThingHappened])
    try:
        from events.context import event_context

        with event_context(correlation_id="corr-42", user_id="7"):
            origin = store.append("src", [ThingHappened(thing_id=uuid.uuid4(), count=1)], 0)[0]
        delivery.deliver_stream("src", "thing", only="test.echo")
    finally:
        subscriptions.unregister("test.echo")

    meta = store.load("echo-src")[0].metadata
    assert (meta.correlation_id, meta.causation_id, meta.user_id) == (
        "corr-42",
        str(origin.event_id),
        "7",
    )


def test_handler_db_writes_roll_back_with_its_failure():
    calls: list[int] = []

    def half_then_fail(event: RecordedEvent) -> None:
        ProbeCounter.objects.create(stream_id=f"side-{event.version}")
        calls.append(event.version)
        raise ValueError("boom")

    subscribe("test.rollback", half_then_fail, event_types=[ProbeTicked])
    try:
        tick("p1", 1)
        delivery.deliver_stream("p1", "probe", only="test.rollback")
    finally:
        subscriptions.unregister("test.rollback")

    assert calls == [1]
    assert not ProbeCounter.objects.filter(stream_id="side-1").exists()
    assert Checkpoint.objects.get(subscription="test.rollback").version == 0


def test_event_bus_captures_and_delivers(event_bus):
    tick("p1", 2)

    assert event_bus.deliver() == 2
    assert [e.n for e in event_bus.published_data(ProbeTicked)] == [0, 1]
    assert event_bus.assert_published(ProbeTicked, n=1).version == 2
    with pytest.raises(AssertionError, match=r"no bench\.ProbeTicked"):
        event_bus.assert_published(ProbeTicked, n=9)


@given(attempt=st.integers(1, 40), rand=st.floats(0, 1, exclude_max=True))
def test_backoff_grows_is_jittered_and_capped(attempt, rand):
    policy = RetryPolicy(max_attempts=50, base_delay=0.5, max_delay=60)

    delay = policy.delay(attempt, rand)
    ceiling = min(60, 0.5 * 2 ** (attempt - 1))

    assert ceiling / 2 <= delay <= ceiling


@contextlib.contextmanager
def held_by_another_delivery(subscription: str, stream: str, stream_type: str) -> Iterator[None]:
    """The pair's checkpoint locked by a delivery in another thread (its own connection)
    for as long as the block runs."""
    locked, release = threading.Event(), threading.Event()

    def other_delivery() -> None:
        from django.db import connections

        with transaction.atomic():
            delivery._lock(subscription, stream, stream_type)
            locked.set()
            release.wait(timeout=30)
        connections.close_all()

    thread = threading.Thread(target=other_delivery)
    thread.start()
    assert locked.wait(timeout=30)
    try:
        yield
    finally:
        release.set()
        thread.join(timeout=30)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("checkpoint_exists", [True, False])
def test_a_pair_locked_by_another_worker_for_long_is_reported_busy_after_a_short_wait(
    checkpoint_exists,
):
    tick("p1", 2)
    if checkpoint_exists:
        Checkpoint.objects.create(subscription=SUBSCRIPTION, stream_id="p1", stream_type="probe")

    with held_by_another_delivery(SUBSCRIPTION, "p1", "probe"):
        result = deliver("p1")

    assert result.busy == [SUBSCRIPTION]
    assert not ProbeCounter.objects.filter(stream_id="p1").exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_pair_locked_briefly_by_another_worker_is_delivered_once_it_is_free():
    tick("p1", 2)
    locked = threading.Event()

    def other_worker() -> None:
        from django.db import connections

        with transaction.atomic():
            delivery._lock(SUBSCRIPTION, "p1", "probe")
            locked.set()
            # Hold the lock for a moment, as a delivery of another batch would.
            ProbeCounter.objects.filter(stream_id="nothing").exists()
        connections.close_all()

    t = threading.Thread(target=other_worker)
    t.start()
    assert locked.wait(timeout=30)
    result = deliver("p1")
    t.join(timeout=30)

    assert result.busy == []
    assert counter("p1") == (2, [1, 2])


def test_a_wake_up_for_a_stream_without_events_leaves_no_checkpoint_behind():
    result = deliver("no-such-stream")

    assert result.delivered == 0
    assert not Checkpoint.objects.filter(stream_id="no-such-stream").exists()


@pytest.mark.postgres
def test_a_new_streams_first_delivery_creates_its_checkpoint_without_the_slow_path(
    monkeypatch,
):
    # Regression: a new match's first event took the general path (five more round
    # trips), which put the first events of 50 new streams 50 ms behind.
    tick("fresh", 2)

    def slow_path(*args):
        raise AssertionError("took the general path")

    monkeypatch.setattr(delivery, "_lock", slow_path)
    result = deliver("fresh")

    assert result.delivered == 2
    assert checkpoint("fresh").version == 2
    assert counter("fresh") == (2, [1, 2])


# Every failure of a pass is an attempt of one event: retried with backoff, then parked.

FAILING = "test.failing"
QUICK_RETRIES = RetryPolicy(max_attempts=4, base_delay=0.2)


@pytest.fixture
def follow_failing() -> Iterator[Callable[..., None]]:
    """Subscribe a handler of the test's to streams of type "failing"."""

    def follow(handler: Callable[[RecordedEvent], None], retry: RetryPolicy = QUICK_RETRIES):
        subscribe(FAILING, handler, stream_types=["failing"], retry=retry)

    yield follow
    subscriptions.unregister(FAILING)


def failing_stream(stream: str, count: int) -> None:
    store.append(stream, [ProbeTicked(n=i) for i in range(count)], 0, stream_type="failing")


def deliver_failing(stream: str) -> delivery.StreamResult:
    return delivery.deliver_stream(stream, "failing", only=FAILING)


def retried_until_parked(stream: str) -> tuple[list[float], delivery.StreamResult]:
    """Deliver through the three retries (each made due at once) and the last attempt."""
    delays = []
    for _ in range(QUICK_RETRIES.max_attempts - 1):
        delays.append(deliver_failing(stream).retry_in[FAILING])
        due_now(stream, FAILING)
    return delays, deliver_failing(stream)


def failing_checkpoint(stream: str) -> Checkpoint:
    return Checkpoint.objects.get(subscription=FAILING, stream_id=stream)


def swallow_a_database_error() -> None:
    # The mistake under test: no savepoint, so the transaction stays aborted.
    with connection.cursor() as cursor, contextlib.suppress(DatabaseError):
        cursor.execute("SELECT 1/0")


@pytest.mark.postgres
def test_a_handler_that_swallows_a_database_error_is_retried_with_growing_delays_then_parked(
    follow_failing,
):
    # Regression: the checkpoint advance then failed outside the handler, escaped the
    # delivery and the drain looped on the stream (461 failing tasks in 27 s).
    def handler(event: RecordedEvent) -> None:
        if event.version == 2:
            swallow_a_database_error()

    follow_failing(handler)
    failing_stream("s1", 3)

    delays, last = retried_until_parked("s1")

    letter = DeadLetter.objects.get()
    assert (letter.subscription, letter.stream_id, letter.event_version) == (FAILING, "s1", 2)
    assert letter.attempts == 4
    assert letter.last_error.startswith("InFailedSqlTransaction (advancing the checkpoint): ")
    assert "Traceback" in letter.traceback
    assert last.blocked == [FAILING]
    cp = failing_checkpoint("s1")
    assert (cp.version, cp.blocked) == (1, True)
    assert 0.1 <= delays[0] <= 0.2
    assert 0.2 <= delays[1] <= 0.4
    assert 0.4 <= delays[2] <= 0.8


def test_an_event_that_cannot_be_decoded_is_retried_then_parked_while_other_streams_flow():
    tick("good", 2)
    tick("bad", 1)
    StoredEvent.objects.create(
        stream_id="bad",
        stream_type="probe",
        version=2,
        event_type=ProbeTicked.event_type,
        occurred_at=timezone.now(),
        payload={"n": "two"},
    )

    for _ in range(3):
        deliver("bad")
        due_now("bad")
    last = deliver("bad")
    deliver("good")

    letter = DeadLetter.objects.get()
    assert (letter.stream_id, letter.event_version, letter.attempts) == ("bad", 2, 4)
    assert letter.last_error.startswith(
        "UndecodableEvent: cannot decode bench.ProbeTicked at bad@2"
    )
    assert last.blocked == [SUBSCRIPTION]
    assert counter("bad") == (1, [1])
    assert counter("good") == (2, [1, 2])


@pytest.fixture
def checked_at_commit() -> Iterator[None]:
    """A table whose unique constraint is checked only when the transaction commits."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE checked_at_commit (id int UNIQUE DEFERRABLE INITIALLY DEFERRED)"
        )
    yield
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE checked_at_commit")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_delivery_whose_commit_fails_is_retried_then_parked(follow_failing, checked_at_commit):
    def handler(event: RecordedEvent) -> None:
        if event.version == 2:
            with connection.cursor() as cursor:
                cursor.execute("INSERT INTO checked_at_commit VALUES (1), (1)")

    follow_failing(handler)
    failing_stream("c1", 3)

    _, last = retried_until_parked("c1")

    letter = DeadLetter.objects.get()
    assert (letter.stream_id, letter.event_version, letter.attempts) == ("c1", 2, 4)
    assert letter.last_error.startswith("UniqueViolation (committing): duplicate key value")
    assert last.blocked == [FAILING]
    assert (failing_checkpoint("c1").version, failing_checkpoint("c1").blocked) == (1, True)


def hook_failures() -> float:
    value = REGISTRY.get_sample_value(
        "easychamp_delivery_hook_failures_total", {"subscription": FAILING}
    )
    return value or 0.0


@pytest.mark.django_db(transaction=True)
def test_an_on_commit_hook_that_raises_is_counted_and_noted_but_the_events_stay_delivered(
    follow_failing,
):
    handled: list[tuple[str, int]] = []
    hooks_run: list[str] = []

    def handler(event: RecordedEvent) -> None:
        handled.append((event.stream_id, event.version))
        if event.stream_id == "hooked":
            transaction.on_commit(push_that_fails)
        transaction.on_commit(lambda: hooks_run.append(event.stream_id))

    def push_that_fails() -> None:
        raise RuntimeError("the push failed")

    follow_failing(handler)
    failing_stream("hooked", 2)
    failing_stream("plain", 2)
    before = hook_failures()

    results = [deliver_failing(stream) for stream in ("hooked", "plain", "hooked")]

    assert [r.delivered for r in results] == [2, 2, 0]
    assert all(not (r.retry_in or r.blocked or r.busy) for r in results)
    assert sorted(handled) == [("hooked", 1), ("hooked", 2), ("plain", 1), ("plain", 2)]
    assert sorted(hooks_run) == ["hooked", "hooked", "plain", "plain"]
    assert hook_failures() - before == 2
    cp = failing_checkpoint("hooked")
    assert (cp.version, cp.attempts, cp.blocked) == (2, 0, False)
    assert "on_commit hook" in cp.last_error
    assert "RuntimeError: the push failed" in cp.last_error
    assert failing_checkpoint("plain").last_error == ""
    assert not DeadLetter.objects.exists()


def test_when_even_the_failure_cannot_be_recorded_the_error_propagates(follow_failing, monkeypatch):
    def handler(event: RecordedEvent) -> None:
        raise ValueError("bad event")

    def database_gone(*args: object) -> None:
        raise OperationalError("the database is unreachable")

    follow_failing(handler)
    failing_stream("u1", 1)
    monkeypatch.setattr(delivery, "_record_attempt", database_gone)

    with pytest.raises(OperationalError, match="unreachable"):
        deliver_failing("u1")


# One clock: the database's decides every retry, whatever the worker's clock says.

SLOW_RETRIES = RetryPolicy(max_attempts=4, base_delay=20)
SKEWS = pytest.mark.parametrize(
    "skew", [60, -60], ids=["app clock 60 s ahead", "app clock 60 s behind"]
)


def app_clock_skewed(seconds: float) -> AbstractContextManager[object]:
    return time_machine.travel(timezone.now() + timedelta(seconds=seconds), tick=True)


def seconds_until_next_attempt(stream: str) -> float:
    next_attempt_at = failing_checkpoint(stream).next_attempt_at
    assert next_attempt_at is not None
    return (next_attempt_at - database_now()).total_seconds()


@SKEWS
def test_a_retry_is_due_by_the_database_clock_whatever_the_app_clock_says(follow_failing, skew):
    calls: list[int] = []

    def fails_once(event: RecordedEvent) -> None:
        calls.append(event.version)
        if len(calls) == 1:
            raise ValueError("first attempt fails")

    follow_failing(fails_once, retry=SLOW_RETRIES)
    failing_stream("t1", 1)

    with app_clock_skewed(skew):
        failed = deliver_failing("t1")
        too_early = deliver_failing("t1")
        next_attempt_in = seconds_until_next_attempt("t1")
        due_now("t1", FAILING)
        retried = deliver_failing("t1")

    # Attempt 1 waits 10-20 s: neither 60 s more, nor dropped, nor already due.
    assert 10 <= failed.retry_in[FAILING] <= 20
    assert 0 < too_early.retry_in[FAILING] <= 20
    assert too_early.delivered == 0
    assert 5 < next_attempt_in <= 20
    assert retried.delivered == 1
    assert calls == [1, 1]


def checkpoint_stamp_offset(stream: str) -> float:
    """How far the checkpoint's ``updated_at`` is from the database's clock, in seconds."""
    return abs((database_now() - checkpoint(stream).updated_at).total_seconds())


def parked(stream: str) -> DeadLetter:
    tick(stream, 2)
    return dead_letter_for(stream, 1)


def first_delivery() -> None:
    tick("w", 2)
    deliver("w")


def failure() -> None:
    tick("w", 2)
    fail_at("w", 2)
    deliver("w")


CHECKPOINT_WRITES = {
    "creation and advance": first_delivery,
    "failure": failure,
    "dead letter": lambda: parked("w"),
    "dead letter retry": lambda: dead_letter_retry(dead_letter_id=parked("w").pk),
    "dead letter skip": lambda: dead_letter_skip(dead_letter_id=parked("w").pk, note="x"),
}


@SKEWS
@pytest.mark.parametrize("write", CHECKPOINT_WRITES.values(), ids=CHECKPOINT_WRITES.keys())
def test_every_checkpoint_write_stamps_it_with_the_database_clock(skew, write):
    with app_clock_skewed(skew):
        write()

    assert checkpoint_stamp_offset("w") < 30


# --- subscriptions with nothing to handle: advanced in one statement ----------------


@pytest.fixture
def only_things() -> Iterator[list[int]]:
    """A subscription to ThingHappened on "thing" streams; the versions it handled."""
    seen: list[int] = []
    subscribe("test.only_things", lambda e: seen.append(e.version), event_types=[ThingHappened])
    yield seen
    subscriptions.unregister("test.only_things")


@pytest.fixture
def general_path(monkeypatch) -> list[str]:
    """The subscriptions that went down delivery's general path (a transaction each)."""
    taken: list[str] = []
    original = delivery._deliver_subscription

    def recorded(sub: Any, *args: Any) -> None:
        taken.append(sub.name)
        original(sub, *args)

    monkeypatch.setattr(delivery, "_deliver_subscription", recorded)
    return taken


def thing_checkpoint(stream: str) -> int:
    return Checkpoint.objects.get(subscription="test.only_things", stream_id=stream).version


def ticks_on_a_thing_stream(stream: str, count: int, start: int = 0) -> None:
    store.append(stream, [ProbeTicked(n=i) for i in range(count)], start, stream_type="thing")


@pytest.mark.postgres
def test_a_subscription_with_nothing_to_handle_is_advanced_without_a_delivery(
    only_things, general_path
):
    thing = ThingHappened(thing_id=uuid.uuid4(), count=1)
    store.append("mixed", [thing], 0, stream_type="thing")
    delivery.deliver_stream("mixed", "thing", only="test.only_things")  # its checkpoint
    ticks_on_a_thing_stream("mixed", 3, start=1)
    general_path.clear()

    result = delivery.deliver_stream("mixed", "thing", only="test.only_things")

    assert result.delivered == 3
    assert thing_checkpoint("mixed") == 4
    assert general_path == []
    assert only_things == [1]


@pytest.mark.postgres
def test_a_subscription_with_a_wanted_event_pending_takes_the_general_path(
    only_things, general_path
):
    thing = ThingHappened(thing_id=uuid.uuid4(), count=1)
    store.append("mixed", [thing], 0, stream_type="thing")
    delivery.deliver_stream("mixed", "thing", only="test.only_things")
    ticks_on_a_thing_stream("mixed", 2, start=1)
    store.append("mixed", [thing], 3, stream_type="thing")
    general_path.clear()

    delivery.deliver_stream("mixed", "thing", only="test.only_things")

    assert general_path == ["test.only_things"]
    assert only_things == [1, 4]
    assert thing_checkpoint("mixed") == 4


@pytest.mark.postgres
def test_a_failing_pair_is_not_skipped_past(only_things, general_path):
    thing = ThingHappened(thing_id=uuid.uuid4(), count=1)
    store.append("mixed", [thing], 0, stream_type="thing")
    delivery.deliver_stream("mixed", "thing", only="test.only_things")
    ticks_on_a_thing_stream("mixed", 2, start=1)
    Checkpoint.objects.filter(subscription="test.only_things").update(
        attempts=1, next_attempt_at=DatabaseNow(60), failing_since=DatabaseNow()
    )
    general_path.clear()

    result = delivery.deliver_stream("mixed", "thing", only="test.only_things")

    assert general_path == ["test.only_things"]
    assert "test.only_things" in result.retry_in
    assert thing_checkpoint("mixed") == 1


@pytest.mark.postgres
def test_past_the_skip_limit_the_rest_goes_down_the_general_path(
    only_things, general_path, monkeypatch
):
    monkeypatch.setattr(delivery, "SKIP_LIMIT", 2)
    thing = ThingHappened(thing_id=uuid.uuid4(), count=1)
    store.append("mixed", [thing], 0, stream_type="thing")
    delivery.deliver_stream("mixed", "thing", only="test.only_things")
    ticks_on_a_thing_stream("mixed", 5, start=1)
    general_path.clear()

    result = delivery.deliver_stream("mixed", "thing", only="test.only_things")

    assert general_path == ["test.only_things"]
    assert result.delivered == 5
    assert thing_checkpoint("mixed") == 6


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_pair_another_delivery_holds_is_not_skipped(only_things):
    thing = ThingHappened(thing_id=uuid.uuid4(), count=1)
    store.append("held", [thing], 0, stream_type="thing")
    delivery.deliver_stream("held", "thing", only="test.only_things")
    ticks_on_a_thing_stream("held", 2, start=1)

    with held_by_another_delivery("test.only_things", "held", "thing"):
        skipped = delivery._skip_unwanted("held", [subscriptions.get("test.only_things")])

    assert skipped == {}
    assert thing_checkpoint("held") == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_when_the_skip_fails_the_general_path_delivers(only_things, general_path, monkeypatch):
    thing = ThingHappened(thing_id=uuid.uuid4(), count=1)
    store.append("mixed", [thing], 0, stream_type="thing")
    delivery.deliver_stream("mixed", "thing", only="test.only_things")
    ticks_on_a_thing_stream("mixed", 2, start=1)
    general_path.clear()

    def cancelled(*args: object) -> dict[str, int]:
        raise psycopg.errors.QueryCanceled("canceling statement due to statement timeout")

    monkeypatch.setattr(type(recorder()), "skip_unwanted", cancelled)

    result = delivery.deliver_stream("mixed", "thing", only="test.only_things")

    assert general_path == ["test.only_things"]
    assert result.delivered == 2
    assert thing_checkpoint("mixed") == 3
