from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
import redis
from celery import current_app
from django.db.models import DateTimeField, ExpressionWrapper, Sum
from django.db.models.functions import Now
from django.utils import timezone

from bench.models import ProbeCounter
from bench.probe import SUBSCRIPTION, ProbeTicked, probe_tick
from events import delivery, store, sweeper, wakeup
from events.deadletters import dead_letter_retry, dead_letter_skip
from events.models import Checkpoint, DeadLetter, EventStream, StoredEvent, SweepCursor
from events.subscriptions import subscriptions
from events.tasks import deliver_stream_task, sweep_task
from tests.events.workers import wait_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def woken(monkeypatch) -> list[tuple[str, str]]:
    """The streams the sweeper marks dirty (one call per sweep)."""
    calls: list[tuple[str, str]] = []

    def wake_behind(streams):
        calls.extend(streams)
        return True

    monkeypatch.setattr(wakeup, "wake_behind", wake_behind)
    return calls


@pytest.fixture
def scheduled(monkeypatch) -> list[tuple[str, str, str | None, float | None]]:
    calls: list[tuple[str, str, str | None, float | None]] = []

    def record(stream_id, stream_type, *, subscription=None, countdown=None):
        calls.append((stream_id, stream_type, subscription, countdown))
        return True

    def mark_dirty(stream_id, stream_type, version=0):
        calls.append((stream_id, stream_type, "dirty", None))

    monkeypatch.setattr(wakeup, "enqueue", record)
    monkeypatch.setattr(wakeup, "request", mark_dirty)
    return calls


@pytest.fixture
def sent(monkeypatch, celery_queue) -> Iterator[list[str]]:
    """Drains that would have gone to the broker; the Redis keys are this test's own."""
    calls: list[str] = []

    def enqueue_drain(*, helper_slot: str | None = None) -> bool:
        calls.append("drain")
        return True

    monkeypatch.setattr(wakeup, "enqueue_drain", enqueue_drain)
    yield calls
    with contextlib.suppress(redis.RedisError):
        wakeup.clear()


def _database_ago(seconds: float) -> ExpressionWrapper:
    return ExpressionWrapper(Now() - timedelta(seconds=seconds), output_field=DateTimeField())


def age(stream_id: str, seconds: float) -> None:
    """The stream's head was last written ``seconds`` ago, by the database's clock."""
    EventStream.objects.filter(stream_id=stream_id).update(updated_at=_database_ago(seconds))


def stall(stream_id: str, seconds: float) -> None:
    """The probe's checkpoint of the stream last moved ``seconds`` ago."""
    Checkpoint.objects.filter(subscription=SUBSCRIPTION, stream_id=stream_id).update(
        updated_at=_database_ago(seconds)
    )


def test_a_stream_behind_for_longer_than_the_lag_is_woken(woken):
    store.append("late", [ProbeTicked(n=1)], 0)
    age("late", 10)

    assert sweeper.sweep() == 1
    assert woken == [("late", "probe")]


def test_a_stream_written_every_second_whose_checkpoint_is_stuck_is_woken(woken):
    # Its head was written just now; its checkpoint has not moved for 10 s.
    store.append("hot", [ProbeTicked(n=1)], 0)
    delivery.deliver_stream("hot", "probe")
    stall("hot", 10)
    store.append("hot", [ProbeTicked(n=2)], 1)

    assert sweeper.sweep() == 1
    assert woken == [("hot", "probe")]


def test_a_stream_being_delivered_is_not_woken_however_hot(woken):
    store.append("flowing", [ProbeTicked(n=1)], 0)
    delivery.deliver_stream("flowing", "probe")
    age("flowing", 600)
    store.append("flowing", [ProbeTicked(n=2)], 1)  # its checkpoint moved just now

    assert sweeper.sweep() == 0


def test_a_never_delivered_hot_stream_is_woken_once_it_has_waited_for_the_lag(woken):
    store.append("new-hot", [ProbeTicked(n=1)], 0)
    assert sweeper.sweep() == 0  # written just now: its own wake-up may still come
    stall("new-hot", 10)  # the sweeper's checkpoint says since when it has waited

    assert sweeper.sweep() == 1
    assert woken == [("new-hot", "probe")]


@pytest.mark.parametrize("skew", [-60, 60])
def test_the_sweeper_goes_by_the_database_clock_not_the_workers(woken, monkeypatch, skew):
    store.append("late", [ProbeTicked(n=1)], 0)
    age("late", 10)
    store.append("fresh", [ProbeTicked(n=1)], 0)
    skewed = timezone.now() + timedelta(seconds=skew)
    monkeypatch.setattr(timezone, "now", lambda: skewed)

    assert sweeper.sweep() == 1
    assert woken == [("late", "probe")]


@pytest.mark.redis
def test_streams_behind_are_marked_dirty_with_one_drain_despite_a_stale_flag(sent):
    # A drain that never ran left its flag: writers send no task while it stands.
    wakeup.redis_client().set(wakeup.drain_keys().flag, b"1", ex=60)
    for stream in ("s1", "s2"):
        store.append(stream, [ProbeTicked(n=1)], 0)
        age(stream, 10)

    assert sweeper.sweep() == 2

    assert sent == ["drain"]
    assert wakeup.dirty_streams() == [("s1", "probe"), ("s2", "probe")]


def test_without_redis_the_sweeper_delivers_itself(settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    wakeup.reset()
    store.append("orphan", [ProbeTicked(n=1), ProbeTicked(n=2)], 0)
    age("orphan", 10)

    try:
        assert sweeper.sweep() == 1
    finally:
        wakeup.reset()

    assert ProbeCounter.objects.get(stream_id="orphan").versions == [1, 2]


def test_a_stream_written_just_now_is_left_to_its_own_wake_up(woken):
    store.append("fresh", [ProbeTicked(n=1)], 0)

    assert sweeper.sweep() == 0
    assert woken == []


def test_caught_up_streams_are_not_woken(woken):
    store.append("done", [ProbeTicked(n=1)], 0)
    delivery.deliver_stream("done", "probe")
    age("done", 10)

    assert sweeper.sweep() == 0


def test_a_stream_parked_behind_a_dead_letter_is_not_woken(woken):
    store.append("parked", [ProbeTicked(n=1)], 0)
    Checkpoint.objects.create(
        subscription=SUBSCRIPTION, stream_id="parked", stream_type="probe", blocked=True
    )
    age("parked", 10)

    assert sweeper.sweep() == 0


@pytest.mark.parametrize("action", ["retry", "skip"])
def test_a_dead_letter_resolved_while_the_broker_is_down_is_swept(
    action, woken, monkeypatch, django_capture_on_commit_callbacks
):
    store.append("resolved", [ProbeTicked(n=1), ProbeTicked(n=2)], 0)
    Checkpoint.objects.create(
        subscription=SUBSCRIPTION, stream_id="resolved", stream_type="probe", blocked=True
    )
    first = StoredEvent.objects.get(stream_id="resolved", version=1)
    letter = DeadLetter.objects.create(
        subscription=SUBSCRIPTION,
        stream_id="resolved",
        stream_type="probe",
        event_id=first.event_id,
        event_position=first.position,
        event_version=1,
        event_type="ProbeTicked",
        attempts=5,
        last_error="boom",
        first_failed_at=timezone.now(),
        last_failed_at=timezone.now(),
    )
    # Parked long ago: sweeps since moved the cursor past the stream's last write.
    age("resolved", 600)
    stall("resolved", 600)
    sweeper.sweep()
    monkeypatch.setattr(wakeup, "enqueue", lambda *args, **kwargs: False)  # lost
    with django_capture_on_commit_callbacks(execute=True):
        if action == "retry":
            dead_letter_retry(dead_letter_id=letter.pk, note="fixed")
        else:
            dead_letter_skip(dead_letter_id=letter.pk, note="bad data")
    stall("resolved", 30)
    woken.clear()

    sweeper.sweep()

    # Before: the pair was never swept again (only a new write to the stream would)
    assert ("resolved", "probe") in woken


def test_a_pair_waiting_for_its_retry_is_woken_only_once_the_retry_is_due(woken):
    store.append("retrying", [ProbeTicked(n=1)], 0)
    cp = Checkpoint.objects.create(
        subscription=SUBSCRIPTION,
        stream_id="retrying",
        stream_type="probe",
        attempts=1,
        next_attempt_at=timezone.now() + timedelta(seconds=60),
    )
    age("retrying", 10)

    assert sweeper.sweep() == 0
    cp.next_attempt_at = timezone.now() - timedelta(seconds=1)
    cp.save(update_fields=["next_attempt_at"])
    assert sweeper.sweep() == 1


def test_the_cursor_moves_past_caught_up_streams_and_holds_at_the_oldest_behind(woken):
    store.append("old-done", [ProbeTicked(n=1)], 0)
    delivery.deliver_stream("old-done", "probe")
    age("old-done", 600)
    store.append("behind", [ProbeTicked(n=1)], 0)
    age("behind", 300)

    sweeper.sweep()
    held = SweepCursor.objects.get(subscription=SUBSCRIPTION).swept_until
    delivery.deliver_stream("behind", "probe")
    sweeper.sweep()
    moved = SweepCursor.objects.get(subscription=SUBSCRIPTION).swept_until

    behind_at = EventStream.objects.get(stream_id="behind").updated_at
    assert held == behind_at
    assert moved > timezone.now() - timedelta(seconds=6)


def test_a_sweep_reads_only_streams_written_since_the_cursor(woken, django_assert_num_queries):
    now = timezone.now()
    EventStream.objects.bulk_create(
        EventStream(
            stream_id=f"idle-{i}",
            stream_type="probe",
            version=1,
            updated_at=now - timedelta(hours=2),
        )
        for i in range(3000)
    )
    names = [subscription.name for subscription in subscriptions.all()]
    SweepCursor.objects.bulk_create(
        SweepCursor(subscription=name, swept_until=now - timedelta(minutes=5)) for name in names
    )

    # The database's clock once; per subscription: read the cursor, one empty page of
    # streams, and the cursor's update_or_create (savepoint, select, update, release) —
    # none of them touches the 3,000 idle streams.
    with django_assert_num_queries(1 + 6 * len(names)):
        assert sweeper.sweep() == 0


def test_a_new_subscription_catches_up_on_old_streams(woken):
    store.append("history", [ProbeTicked(n=1)], 0)
    age("history", 3600 * 24)

    assert sweeper.sweep() == 1
    assert woken == [("history", "probe")]


def test_sweep_task_runs_the_sweeper(woken):
    store.append("late", [ProbeTicked(n=1)], 0)
    age("late", 10)

    assert sweep_task.run() == 1


def test_deliver_task_reschedules_busy_and_failed_pairs(scheduled, monkeypatch):
    result = delivery.StreamResult(delivered=0, busy=["a"], retry_in={"b": 1.5}, more=["c"])
    monkeypatch.setattr(delivery, "deliver_stream", lambda *a, **k: result)

    deliver_stream_task.run("s", "probe")

    # A stream left over by the per-pass cap goes back into the dirty set.
    assert scheduled == [
        ("s", "probe", "dirty", None),
        ("s", "probe", "a", 0.25),
        ("s", "probe", "b", 1.5),
    ]


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.live_delivery
@pytest.mark.xdist_group("workers")
@pytest.mark.django_db(transaction=True)
def test_a_hot_stream_whose_wake_ups_are_lost_is_delivered_within_a_sweep(workers):
    worker = workers("sweeping", current_app.conf.broker_url, beat=True)
    worker.wait_ready()
    probe_tick(stream_id="hot", n=0)
    wait_for(lambda: _applied() >= 1, 60, "the first event to be delivered")
    # A drain that was lost left its flag: from now on every commit's wake-up is
    # coalesced into a drain that never runs (for two minutes, if nothing else helps).
    wakeup.redis_client().set(wakeup.drain_keys().flag, b"1", ex=120)
    writes = [1]
    next_write = [time.monotonic()]

    def written_every_second_and_delivered() -> bool:
        if time.monotonic() >= next_write[0]:
            probe_tick(stream_id="hot", n=writes[0])
            writes[0] += 1
            next_write[0] += 1.0
        return _applied() >= 3

    # Stuck for LAG (5 s), then found by the next sweep (every 5 s), then delivered.
    wait_for(written_every_second_and_delivered, 20, "the hot stream to be delivered")

    versions = ProbeCounter.objects.get(stream_id="hot").versions
    assert versions == list(range(1, len(versions) + 1))


def _applied() -> int:
    return ProbeCounter.objects.aggregate(n=Sum("applied"))["n"] or 0
