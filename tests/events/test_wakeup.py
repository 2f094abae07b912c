from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
import redis
from celery import current_app
from django.db import OperationalError
from django.db.models import Sum

from bench.models import ProbeCounter
from bench.probe import ProbeTicked, probe_tick
from bench.workers import WorkerPool
from events import delivery, drain, store, wakeup
from events.drain import Drain
from events.tasks import drain_task
from tests.events.workers import wait_for

pytestmark = pytest.mark.django_db

CLOSED_PORT_REDIS = "redis://127.0.0.1:1/0"


@pytest.fixture
def sent(monkeypatch, celery_queue) -> Iterator[list[tuple[str, ...]]]:
    """What would have gone to the broker, on a queue (and so Redis keys) of this test."""
    calls: list[tuple[str, ...]] = []

    def enqueue_drain(*, helper_slot: str | None = None) -> bool:
        calls.append(("helper", helper_slot) if helper_slot else ("drain",))
        return True

    monkeypatch.setattr(wakeup, "enqueue_drain", enqueue_drain)

    def enqueue(stream_id, stream_type, *, subscription=None, countdown=None):
        calls.append(("stream", stream_id))
        return True

    monkeypatch.setattr(wakeup, "enqueue", enqueue)
    yield calls
    with contextlib.suppress(redis.RedisError):
        wakeup.clear()


@pytest.fixture
def redis_down(settings) -> Iterator[None]:
    working = settings.REDIS_URL
    settings.REDIS_URL = CLOSED_PORT_REDIS
    wakeup.reset()
    yield
    wakeup.flush()
    # Back on the working Redis before the clients are made again (the settings
    # fixture would restore it only after this teardown).
    settings.REDIS_URL = working
    wakeup.reset()


def _request(*streams: str) -> None:
    for stream in streams:
        wakeup.request(stream, "probe")
    assert wakeup.flush()


def _helpers(calls: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    return [call for call in calls if call[0] == "helper"]


@pytest.mark.redis
def test_a_burst_of_commits_enqueues_one_drain(sent):
    _request("a", "a", "b", "c")

    assert sent == [("drain",)]
    assert sorted(Drain.owner().take()) == [("a", "probe"), ("b", "probe"), ("c", "probe")]


@pytest.mark.redis
def test_streams_are_taken_oldest_first_and_marked_once(sent):
    _request("a")
    _request("b")
    _request("a")

    assert wakeup.dirty_streams() == [("a", "probe"), ("b", "probe")]
    assert Drain.owner().take() == [("a", "probe"), ("b", "probe")]


@pytest.mark.redis
def test_commits_while_an_owner_drains_send_no_task(sent):
    _request("a")
    owner = Drain.owner()
    owner.take()

    _request("b")

    assert sent == [("drain",)]
    assert owner.take() == [("b", "probe")]


@pytest.mark.redis
def test_an_owner_waits_for_the_next_commit_before_giving_up(sent):
    _request("a")
    owner = Drain.owner()
    owner.take()
    assert owner.take(wait=0.01) == []

    wakeup.request("b", "probe")  # sent by the notifier thread while the owner waits

    assert owner.take(wait=2.0) == [("b", "probe")]


@pytest.mark.redis
def test_after_the_owner_gives_up_the_next_commit_enqueues_a_drain(sent):
    _request("a")
    owner = Drain.owner()
    owner.take()

    assert owner.release() is False
    assert wakeup.drain_flag_ttl() is None
    _request("b")

    assert sent == [("drain",), ("drain",)]


@pytest.mark.redis
def test_an_owner_that_gives_up_as_a_stream_is_marked_keeps_draining(sent):
    _request("a")
    owner = Drain.owner()
    owner.take()
    # Marked after the owner's last look, while its flag still stood: no task was sent.
    _request("b")
    assert sent == [("drain",)]

    assert owner.release() is True
    assert wakeup.drain_flag_ttl() is not None
    assert owner.take() == [("b", "probe")]


@pytest.mark.redis
def test_drain_delivers_every_dirty_stream_until_none_is_left(sent):
    for stream in ("d1", "d2"):
        store.append(stream, [ProbeTicked(n=0), ProbeTicked(n=1)], 0)
        wakeup.request(stream, "probe")
    assert wakeup.flush()

    delivered = drain_task.run()

    assert delivered == 4
    assert dict(ProbeCounter.objects.values_list("stream_id", "applied")) == {"d1": 2, "d2": 2}
    assert wakeup.dirty_streams() == []
    assert wakeup.drain_flag_ttl() is None


@pytest.mark.redis
def test_a_backlog_brings_helpers_one_at_a_time_up_to_the_setting(sent, settings):
    settings.EVENTS_DRAIN_MAX_HELPERS = 2
    _request(*(f"q{i}" for i in range(40)))
    owner = Drain.owner()

    owner.take()
    owner.take()  # the helper sent has not started: no other is sent
    assert len(_helpers(sent)) == 1
    Drain.helper(slot=_helpers(sent)[0][1]).take()  # it starts
    owner.take()
    Drain.helper(slot=_helpers(sent)[1][1]).take()
    owner.take()

    assert len(_helpers(sent)) == 2
    assert wakeup.helper_slots() == 2


@pytest.mark.redis
def test_each_drain_takes_its_share_of_the_backlog(sent, settings):
    settings.EVENTS_DRAIN_MAX_HELPERS = 3
    _request(*(f"q{i}" for i in range(40)))

    taken = Drain.owner().take()

    # Three helpers are wanted (one per 4 dirty streams, at most 3): a quarter is its.
    assert len(taken) == 10
    assert len(wakeup.dirty_streams()) == 30


@pytest.mark.redis
def test_a_small_backlog_brings_fewer_helpers(sent, settings):
    settings.EVENTS_DRAIN_MAX_HELPERS = 8
    _request(*(f"q{i}" for i in range(8)))

    taken = Drain.owner().take()

    assert len(taken) == 3  # two helpers are wanted (one per 4): a third is the owner's
    assert len(_helpers(sent)) == 1  # the first of them


@pytest.mark.redis
def test_a_lone_stream_brings_no_helper(sent):
    _request("alone")

    drain_task.run()

    assert sent == [("drain",)]


@pytest.mark.redis
def test_a_helper_frees_its_slot_when_it_stops(sent):
    Drain.owner().recruit(1)
    ((_, slot),) = _helpers(sent)
    assert wakeup.helper_slots() == 1

    Drain.helper(slot=slot).run()

    assert wakeup.helper_slots() == 0


@pytest.mark.redis
def test_a_killed_helpers_slot_expires(sent, monkeypatch):
    monkeypatch.setattr(wakeup, "HELPER_TTL_SECONDS", 1)
    Drain.owner().recruit(1)
    ((_, slot),) = _helpers(sent)
    _request("a")

    Drain.helper(slot=slot).take()  # it runs (its slot now lasts a second), then dies

    wait_for(lambda: wakeup.helper_slots() == 0, 10, "the dead helper's slot to expire")


@pytest.mark.redis
def test_a_failed_drain_keeps_its_undelivered_streams_dirty_and_drops_its_flag(sent, monkeypatch):
    _request("x1", "x2", "x3")

    def database_gone(stream_id, stream_type, **kwargs):
        if stream_id == "x2":
            raise OperationalError("server closed the connection unexpectedly")
        return delivery.StreamResult()

    monkeypatch.setattr(delivery, "deliver_stream", database_gone)
    with pytest.raises(OperationalError):
        drain_task.run()

    assert sorted(wakeup.dirty_streams()) == [("x2", "probe"), ("x3", "probe")]
    assert wakeup.drain_flag_ttl() is None
    _request("x4")  # the next commit sends a new drain
    assert sent == [("drain",), ("drain",)]


@pytest.mark.redis
def test_a_stopping_worker_hands_its_flag_over(sent, monkeypatch):
    monkeypatch.setattr(drain, "worker_stopping", lambda: True)
    _request("a")

    drain_task.run()

    assert sent == [("drain",), ("drain",)]
    assert wakeup.drain_flag_ttl() is not None


@pytest.mark.redis
def test_a_helper_drains_beside_the_owner_and_leaves_its_flag_alone(sent):
    _request("a", "b")  # the writer set the flag for the drain it sent

    drain_task.run(helper=True)

    assert wakeup.dirty_streams() == []
    assert wakeup.drain_flag_ttl() is not None


@pytest.mark.redis
def test_a_long_drain_hands_its_flag_to_a_new_task(sent, monkeypatch):
    monkeypatch.setattr(drain, "DRAIN_MAX_SECONDS", 0.0)
    _request("a", "b")

    drain_task.run()

    assert sent == [("drain",), ("drain",)]
    # The successor may wait in the queue: its flag lasts longer than a running owner's.
    assert (wakeup.drain_flag_ttl() or 0) > wakeup.OWNER_TTL_SECONDS


@pytest.mark.redis
def test_an_owner_that_cannot_hand_over_keeps_draining(sent, monkeypatch):
    monkeypatch.setattr(drain, "DRAIN_MAX_SECONDS", 0.0)
    handed: list[str] = []

    def broker_down(*, helper_slot: str | None = None) -> bool:
        handed.append("drain")
        return False

    _request("a", "b")
    monkeypatch.setattr(wakeup, "enqueue_drain", broker_down)
    _request("c")  # coalesced: the flag is set

    drain_task.run()

    assert len(handed) >= 1  # it tried after its first batch, then went on
    assert wakeup.dirty_streams() == []
    assert wakeup.drain_flag_ttl() is None  # gave up only when nothing was left


@pytest.mark.redis
def test_a_running_owners_flag_expires_soon_if_it_dies(sent):
    _request("a")
    assert (wakeup.drain_flag_ttl() or 0) > wakeup.OWNER_TTL_SECONDS

    Drain.owner().take()

    assert 0 < (wakeup.drain_flag_ttl() or 0) <= wakeup.OWNER_TTL_SECONDS


def test_without_redis_each_commit_wakes_its_stream_directly(sent, redis_down):
    wakeup.request("a", "probe")
    assert wakeup.flush()

    assert sent == [("stream", "a")]


def test_a_broker_that_is_down_never_fails_the_commit(monkeypatch):
    def refuse(*args, **kwargs):
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(current_app, "send_task", refuse)

    assert wakeup.enqueue("a", "probe") is False
    assert wakeup.enqueue_drain() is False


@pytest.mark.redis
def test_a_drain_that_could_not_be_sent_lets_the_next_commit_try_again(sent, monkeypatch):
    attempts: list[str] = []

    def broker_down(*, helper_slot: str | None = None) -> bool:
        attempts.append("drain")
        return False

    monkeypatch.setattr(wakeup, "enqueue_drain", broker_down)

    _request("a")
    _request("b")

    assert attempts == ["drain", "drain"]


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.live_delivery
@pytest.mark.xdist_group("workers")
@pytest.mark.django_db(transaction=True)
def test_a_backlog_is_drained_by_every_worker_process_in_order(celery_queue, monkeypatch):
    # Each event takes the handler 3 ms: enough work for four processes to share.
    monkeypatch.setenv("EASYCHAMP_PROBE_DELAY_MS", "3")
    streams = [f"backlog-{i}" for i in range(300)]
    for n in range(10):
        for stream in streams:
            probe_tick(stream_id=stream, n=n)  # 3,000 events; one drain waits in the queue
    assert wakeup.flush()
    pool = WorkerPool(4, celery_queue)  # started idle, then all consume at once
    try:
        pool.consume()
        wait_for(lambda: _applied() >= 3000, 180, "the backlog to be delivered")
    finally:
        pool.stop()

    counters = ProbeCounter.objects.values_list("stream_id", "versions", "pids")
    assert {stream: versions for stream, versions, _ in counters} == {
        s: list(range(1, 11)) for s in streams
    }
    assert len({pid for _, _, pids in counters for pid in pids}) > 2


def _applied() -> int:
    return ProbeCounter.objects.aggregate(n=Sum("applied"))["n"] or 0
