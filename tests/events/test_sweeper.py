from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from bench.probe import SUBSCRIPTION, ProbeTicked
from events import delivery, store, sweeper, wakeup
from events.models import Checkpoint, EventStream, SweepCursor
from events.tasks import deliver_stream_task, sweep_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def woken(monkeypatch) -> list[tuple[str, str, str | None, float | None]]:
    calls: list[tuple[str, str, str | None, float | None]] = []

    def record(stream_id, stream_type, *, subscription=None, countdown=None):
        calls.append((stream_id, stream_type, subscription, countdown))
        return True

    def mark_dirty(stream_id, stream_type, version=0):
        calls.append((stream_id, stream_type, "dirty", None))

    monkeypatch.setattr(wakeup, "enqueue", record)
    monkeypatch.setattr(wakeup, "request", mark_dirty)
    return calls


def age(stream_id: str, seconds: float) -> None:
    EventStream.objects.filter(stream_id=stream_id).update(
        updated_at=timezone.now() - timedelta(seconds=seconds)
    )


def test_a_stream_behind_for_longer_than_the_lag_is_woken(woken):
    store.append("late", [ProbeTicked(n=1)], 0)
    age("late", 10)

    assert sweeper.sweep() == 1
    assert woken == [("late", "probe", None, None)]


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
    SweepCursor.objects.create(subscription=SUBSCRIPTION, swept_until=now - timedelta(minutes=5))
    SweepCursor.objects.create(
        subscription="championships.standings", swept_until=now - timedelta(minutes=5)
    )
    SweepCursor.objects.create(
        subscription="championships.live", swept_until=now - timedelta(minutes=5)
    )

    # Per subscription (three): read the cursor, one empty page of streams, and the
    # cursor's update_or_create (savepoint, select, update, release) — none of them
    # touches the 3,000 idle streams.
    with django_assert_num_queries(18):
        assert sweeper.sweep() == 0


def test_a_new_subscription_catches_up_on_old_streams(woken):
    store.append("history", [ProbeTicked(n=1)], 0)
    age("history", 3600 * 24)

    assert sweeper.sweep() == 1
    assert woken[0][0] == "history"


def test_sweep_task_runs_the_sweeper(woken):
    store.append("late", [ProbeTicked(n=1)], 0)
    age("late", 10)

    assert sweep_task.run() == 1


def test_deliver_task_reschedules_busy_and_failed_pairs(woken, monkeypatch):
    result = delivery.StreamResult(delivered=0, busy=["a"], retry_in={"b": 1.5}, more=["c"])
    monkeypatch.setattr(delivery, "deliver_stream", lambda *a, **k: result)

    deliver_stream_task.run("s", "probe")

    # A stream left over by the per-pass cap goes back into the dirty set.
    assert woken == [
        ("s", "probe", "dirty", None),
        ("s", "probe", "a", 0.25),
        ("s", "probe", "b", 1.5),
    ]
