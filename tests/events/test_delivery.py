from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from bench.models import ProbeCounter, ProbeFault
from bench.probe import SUBSCRIPTION, ProbeTicked
from events import delivery, store
from events.deadletters import DeadLetterError, dead_letter_retry, dead_letter_skip
from events.models import Checkpoint, DeadLetter
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


def due_now(stream: str) -> None:
    Checkpoint.objects.filter(subscription=SUBSCRIPTION, stream_id=stream).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
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


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("checkpoint_exists", [True, False])
def test_a_pair_locked_by_another_worker_for_long_is_reported_busy_after_a_short_wait(
    checkpoint_exists,
):
    import threading

    tick("p1", 2)
    if checkpoint_exists:
        Checkpoint.objects.create(subscription=SUBSCRIPTION, stream_id="p1", stream_type="probe")
    locked = threading.Event()
    release = threading.Event()

    def other_worker() -> None:
        from django.db import connections

        with transaction.atomic():
            delivery._lock(SUBSCRIPTION, "p1", "probe")
            locked.set()
            release.wait(timeout=30)
        connections.close_all()

    t = threading.Thread(target=other_worker)
    t.start()
    assert locked.wait(timeout=30)
    try:
        result = deliver("p1")
    finally:
        release.set()
        t.join(timeout=30)

    assert result.busy == [SUBSCRIPTION]
    assert not ProbeCounter.objects.filter(stream_id="p1").exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_pair_locked_briefly_by_another_worker_is_delivered_once_it_is_free():
    import threading

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
