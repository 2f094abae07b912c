"""The delivery guarantees with real `celery worker` processes, PostgreSQL and a real
broker: crash (SIGKILL mid-batch), broker outage, poison event, redelivery, and a
steady load drained without a task per event."""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Callable, Iterator
from datetime import datetime

import pytest
from django.db import transaction
from django.db.models import Sum
from prometheus_client import REGISTRY

from bench.models import ProbeCounter, ProbeFault
from bench.probe import SUBSCRIPTION, ProbeTicked, probe_tick
from events import delivery, store
from events.deadletters import dead_letter_retry
from events.models import Checkpoint, DeadLetter
from events.subscriptions import subscriptions
from events.tasks import deliver_stream_task
from tests.events import worker_main
from tests.events.worker_main import (
    CLOCK_SKEW_ENV,
    FLAKY,
    FLAKY_ATTEMPT_LOG,
    FLAKY_BASE_DELAY,
    FLAKY_FAILURES,
    FLAKY_STREAMS,
    SWALLOWING,
    SWALLOWING_MAX_ATTEMPTS,
    SWALLOWING_STREAMS,
)
from tests.events.workers import Worker, wait_for

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.xdist_group("workers"),
]

REDIS_BROKER = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
RABBIT_BROKER = os.environ.get("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")
CLOSED_PORT_BROKER = "redis://127.0.0.1:1/0"


def applied() -> int:
    return ProbeCounter.objects.aggregate(n=Sum("applied"))["n"] or 0


def versions_by_stream() -> dict[str, list[int]]:
    return dict(ProbeCounter.objects.values_list("stream_id", "versions"))


def write(streams: list[str], per_stream: int) -> None:
    for n in range(per_stream):
        for stream in streams:
            probe_tick(stream_id=stream, n=n)


def crash_and_recover(
    workers: Callable[..., Worker], broker: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    streams = [f"crash-{i}" for i in range(200)]
    # The first worker's handler is slowed so it is surely caught mid-work.
    monkeypatch.setenv("EASYCHAMP_PROBE_DELAY_MS", "2")
    write(streams, 25)  # 5,000 events; their wake-ups wait in the broker
    first = workers("first", broker)
    first.wait_ready()
    wait_for(lambda: applied() >= 1000, 120, "the first worker to apply 1,000 events")

    first.kill()
    at_kill = applied()
    monkeypatch.delenv("EASYCHAMP_PROBE_DELAY_MS")
    second = workers("second", broker, beat=True)
    second.wait_ready()
    wait_for(lambda: applied() >= 5000, 180, "all 5,000 events to be applied")

    assert at_kill < 5000
    assert applied() == 5000
    assert versions_by_stream() == {s: list(range(1, 26)) for s in streams}


@pytest.mark.live_delivery
def test_crash_sigkill_mid_batch_then_new_worker_applies_every_event_once_in_order(
    workers, celery_queue, monkeypatch
):
    crash_and_recover(workers, REDIS_BROKER, monkeypatch)


@pytest.mark.rabbitmq
@pytest.mark.live_delivery
def test_crash_with_rabbitmq_as_broker(workers, celery_queue, producer_broker, monkeypatch):
    producer_broker(RABBIT_BROKER)
    crash_and_recover(workers, RABBIT_BROKER, monkeypatch)


@pytest.mark.live_delivery
def test_broker_outage_commands_succeed_and_everything_is_delivered_later(
    workers, celery_queue, producer_broker
):
    streams = [f"outage-{i}" for i in range(20)]
    producer_broker(CLOSED_PORT_BROKER)

    write(streams, 50)  # 1,000 commands while no broker answers

    assert ProbeCounter.objects.count() == 0
    producer_broker(REDIS_BROKER)
    worker = workers("after-outage", REDIS_BROKER, beat=True)
    worker.wait_ready()
    wait_for(lambda: applied() >= 1000, 120, "the sweeper-woken worker to apply 1,000 events")
    assert applied() == 1000
    assert versions_by_stream() == {s: list(range(1, 51)) for s in streams}


@pytest.mark.live_delivery
def test_poison_event_is_retried_with_growing_delays_then_parked_while_others_flow(
    workers, celery_queue
):
    others = [f"healthy-{i}" for i in range(50)]
    ProbeFault.objects.create(stream_id="poison", version=3)
    worker = workers("poison", REDIS_BROKER)
    worker.wait_ready()

    write(["poison", *others], 10)
    wait_for(lambda: DeadLetter.objects.exists() and applied() >= 502, 120, "the dead letter")

    letter = DeadLetter.objects.get()
    assert (letter.subscription, letter.stream_id, letter.event_version) == (
        SUBSCRIPTION,
        "poison",
        3,
    )
    assert letter.attempts == 4
    # Backoff ceilings 0.2, 0.4, 0.8 s with jitter in the upper half: at least 0.7 s.
    assert (letter.last_failed_at - letter.first_failed_at).total_seconds() >= 0.7
    delays = [float(d) for d in re.findall(r"retrying in ([0-9.]+)s", worker.log())]
    assert len(delays) == 3
    assert delays[0] < delays[2]
    assert versions_by_stream()["poison"] == [1, 2]
    assert all(versions_by_stream()[s] == list(range(1, 11)) for s in others)

    ProbeFault.objects.all().delete()
    dead_letter_retry(dead_letter_id=letter.pk, note="fault removed")
    wait_for(lambda: applied() >= 510, 60, "the parked stream to be delivered")

    assert versions_by_stream()["poison"] == list(range(1, 11))
    assert applied() == 510


@pytest.mark.live_delivery
def test_a_steady_load_is_drained_without_a_task_per_event(workers, celery_queue):
    worker = workers("steady", REDIS_BROKER)
    worker.wait_ready()
    before = _drains_sent()

    # 600 commands back to back, while the worker delivers: its drain stays in its loop.
    streams = [f"steady-{i}" for i in range(20)]
    write(streams, 30)
    wait_for(lambda: applied() >= 600, 60, "600 events to be applied")

    assert applied() == 600
    assert versions_by_stream() == {s: list(range(1, 31)) for s in streams}
    # One drain per event would be 600; a gap of more than 0.2 s between two commits
    # (a slow machine) may start a new one.
    assert _drains_sent() - before <= 10


def _drains_sent() -> float:
    return (
        REGISTRY.get_sample_value("easychamp_delivery_wakeups_total", {"outcome": "enqueued"}) or 0
    )


def test_the_same_wake_up_twice_and_the_same_delivery_twice_change_nothing(workers, celery_queue):
    streams = [f"dup-{i}" for i in range(5)]
    write(streams, 20)  # no wake-ups: this test sends its own
    for stream in streams:
        for _ in range(2):
            deliver_stream_task.apply_async(args=(stream, "probe", None))
    worker = workers("dup", REDIS_BROKER, loglevel="DEBUG")  # a line per task done
    worker.wait_ready()

    wait_for(lambda: applied() >= 100, 60, "the duplicated wake-ups to be handled")
    wait_for(
        lambda: worker.log().count("succeeded in") >= 10, 60, "every duplicate to be processed"
    )
    again = [delivery.deliver_stream(s, "probe").delivered for s in streams]

    assert again == [0] * 5
    assert applied() == 100
    assert versions_by_stream() == {s: list(range(1, 21)) for s in streams}


TEST_WORKER = "tests.events.worker_main"


def write_to(streams: list[str], per_stream: int, stream_type: str) -> None:
    for n in range(per_stream):
        for stream in streams:
            with transaction.atomic():
                version = store.stream_version(stream)
                store.append(stream, [ProbeTicked(n=n)], version, stream_type=stream_type)


@pytest.mark.live_delivery
def test_a_stream_whose_checkpoint_advance_always_fails_is_parked_while_twenty_others_flow(
    workers, celery_queue
):
    # Regression: the failing advance escaped the delivery, the drain failed and put the
    # stream back first in line: 461 failing drains in 27 s, no dead letter, others waited.
    worker = workers("swallowing", REDIS_BROKER, main=TEST_WORKER)
    worker.wait_ready()
    healthy = [f"swallowing-{i}" for i in range(20)]

    write_to(["swallowing-bad", *healthy], 5, SWALLOWING_STREAMS)
    wait_for(
        lambda: DeadLetter.objects.exists() and applied() >= 100,
        120,
        "the dead letter and the 100 events of the healthy streams",
    )

    letter = DeadLetter.objects.get()
    assert (letter.subscription, letter.stream_id, letter.event_version) == (
        SWALLOWING,
        "swallowing-bad",
        1,
    )
    assert letter.attempts == SWALLOWING_MAX_ATTEMPTS
    assert letter.last_error.startswith("InFailedSqlTransaction (advancing the checkpoint)")
    assert versions_by_stream() == {s: [1, 2, 3, 4, 5] for s in healthy}
    log = worker.log()
    assert re.findall(r"Task events\.\w+\[\S+\] raised unexpected", log) == []
    assert len(re.findall(f"{SWALLOWING} failed on", log)) == SWALLOWING_MAX_ATTEMPTS - 1


def flaky_attempts(worker: Worker) -> list[tuple[datetime, datetime]]:
    """(database time, worker time) of each attempt at the flaky stream's first event."""
    found = re.findall(rf"{FLAKY_ATTEMPT_LOG} \S+ db=(\S+) worker=(\S+)", worker.log())
    return [(datetime.fromisoformat(db), datetime.fromisoformat(own)) for db, own in found]


@pytest.fixture
def test_subscriptions_here() -> Iterator[None]:
    """The test worker's subscriptions, registered in this process too."""
    worker_main.register()
    yield
    subscriptions.unregister(FLAKY)
    subscriptions.unregister(SWALLOWING)


def flaky_attempts_recorded() -> int | None:
    checkpoint = Checkpoint.objects.filter(subscription=FLAKY, stream_id="flaky-1")
    return checkpoint.values_list("attempts", flat=True).first()


@pytest.mark.live_delivery
@pytest.mark.parametrize(
    "skew", [60, -60], ids=["worker clock 60 s ahead", "worker clock 60 s behind"]
)
def test_retries_happen_on_time_when_a_workers_clock_is_off_by_a_minute(
    workers, celery_queue, test_subscriptions_here, skew
):
    worker = workers(
        "skewed", REDIS_BROKER, main=TEST_WORKER, extra_env={CLOCK_SKEW_ENV: str(skew)}
    )
    worker.wait_ready()

    write_to(["flaky-1"], 1, FLAKY_STREAMS)
    wait_for(lambda: flaky_attempts_recorded() == 1, 60, "the first attempt to fail")
    # Another worker, whose clock is right, is woken for the stream meanwhile.
    early = delivery.deliver_stream("flaky-1", FLAKY_STREAMS, only=FLAKY)
    attempts_after_early = flaky_attempts_recorded()
    wait_for(lambda: applied() >= 1, 60, "the event to be delivered")

    attempts = flaky_attempts(worker)
    at = [db for db, _ in attempts]
    waits = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(at)]
    skews = [(own - db).total_seconds() for db, own in attempts]
    assert len(attempts) == FLAKY_FAILURES + 1
    assert all(abs(observed - skew) < 5 for observed in skews)  # the worker's clock was off
    assert (early.delivered, attempts_after_early) == (0, 1)
    assert 0 < early.retry_in[FLAKY] <= FLAKY_BASE_DELAY
    # Retry n waits between half and all of base * 2**(n-1): not early, not a minute late.
    late = 10
    assert FLAKY_BASE_DELAY / 2 <= waits[0] <= FLAKY_BASE_DELAY + late
    assert FLAKY_BASE_DELAY <= waits[1] <= 2 * FLAKY_BASE_DELAY + late
    assert versions_by_stream() == {"flaky-1": [1]}
