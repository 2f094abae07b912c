from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
import redis
from django.conf import settings
from django.db import OperationalError

from bench.models import ProbeCounter
from bench.probe import ProbeTicked
from events import delivery, store, tasks, wakeup
from events.tasks import drain_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch, celery_queue) -> Iterator[list[tuple[str, ...]]]:
    """What would have gone to the broker, on a queue (and so Redis keys) of this test."""
    calls: list[tuple[str, ...]] = []

    def enqueue_drain(*, helper: bool = False) -> bool:
        calls.append(("helper",) if helper else ("drain",))
        return True

    monkeypatch.setattr(wakeup, "enqueue_drain", enqueue_drain)

    def enqueue(stream_id, stream_type, *, subscription=None, countdown=None):
        calls.append(("stream", stream_id))
        return True

    monkeypatch.setattr(wakeup, "enqueue", enqueue)
    yield calls
    with contextlib.suppress(redis.RedisError):
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=0.5).delete(*wakeup._keys())


def _request(*streams: str) -> None:
    for stream in streams:
        wakeup.request(stream, "probe")
    assert wakeup.flush()


def _flag_is_set() -> bool:
    return bool(wakeup._redis().exists(wakeup._keys()[1]))


@pytest.mark.redis
def test_a_burst_of_commits_enqueues_one_drain(sent):
    _request("a", "a", "b", "c")

    assert sent == [("drain",)]
    assert sorted(wakeup.take(owner=True)) == [("a", "probe"), ("b", "probe"), ("c", "probe")]


@pytest.mark.redis
def test_streams_are_taken_oldest_first_and_marked_once(sent):
    _request("a")
    _request("b")
    _request("a")

    assert wakeup.take(owner=True) == [("a", "probe"), ("b", "probe")]


@pytest.mark.redis
def test_commits_while_an_owner_drains_send_no_task(sent):
    _request("a")
    wakeup.take(owner=True)

    _request("b")

    assert sent == [("drain",)]
    assert wakeup.take(owner=True) == [("b", "probe")]


@pytest.mark.redis
def test_an_owner_waits_for_the_next_commit_before_giving_up(sent):
    _request("a")
    wakeup.take(owner=True)
    assert wakeup.take(owner=True, wait=0.01) == []

    wakeup.request("b", "probe")  # sent by the notifier thread while the owner waits

    assert wakeup.take(owner=True, wait=2.0) == [("b", "probe")]


@pytest.mark.redis
def test_after_the_owner_gives_up_the_next_commit_enqueues_a_drain(sent):
    _request("a")
    wakeup.take(owner=True)

    assert wakeup.release() is False
    assert not _flag_is_set()
    _request("b")

    assert sent == [("drain",), ("drain",)]


@pytest.mark.redis
def test_an_owner_that_gives_up_as_a_stream_is_marked_keeps_draining(sent):
    _request("a")
    wakeup.take(owner=True)
    # Marked after the owner's last look, while its flag still stood: no task was sent.
    _request("b")
    assert sent == [("drain",)]

    assert wakeup.release() is True
    assert _flag_is_set()
    assert wakeup.take(owner=True) == [("b", "probe")]


@pytest.mark.redis
def test_drain_delivers_every_dirty_stream_until_none_is_left(sent):
    for stream in ("d1", "d2"):
        store.append(stream, [ProbeTicked(n=0), ProbeTicked(n=1)], 0)
        wakeup.request(stream, "probe")
    assert wakeup.flush()

    delivered = drain_task.run()

    assert delivered == 4
    assert dict(ProbeCounter.objects.values_list("stream_id", "applied")) == {"d1": 2, "d2": 2}
    assert wakeup.take(owner=False) == []
    assert not _flag_is_set()


@pytest.mark.redis
def test_one_helper_runs_at_a_time(sent):
    assert wakeup.request_helper() is True
    assert wakeup.request_helper() is True  # pending already: nothing sent
    assert sent == [("helper",)]

    wakeup.helper_done()
    wakeup.request_helper()
    assert sent == [("helper",), ("helper",)]


@pytest.mark.redis
def test_streams_queueing_up_are_shared_with_a_helper(sent, monkeypatch):
    _request(*(f"q{i}" for i in range(8)))
    first: list[tuple[list[str], int]] = []
    deliver = tasks._deliver

    def record(streams):
        if not first:  # what the owner kept, and what it left for the helper
            first.append(([s for s, _ in streams], wakeup._redis().zcard(wakeup._keys()[0])))
        return deliver(streams)

    monkeypatch.setattr(tasks, "_deliver", record)
    drain_task.run()  # streams without events: nothing to deliver, but popped at once

    assert sent == [("drain",), ("helper",)]
    assert first == [(["q0", "q1", "q2", "q3"], 4)]


@pytest.mark.redis
def test_a_helper_lets_the_owner_ask_for_another_when_it_stops(sent):
    wakeup.request_helper()

    drain_task.run(helper=True)

    assert not wakeup._redis().exists(wakeup._keys()[2])


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

    assert sorted(wakeup.take(owner=False)) == [("x2", "probe"), ("x3", "probe")]
    assert not _flag_is_set()
    _request("x4")  # the next commit sends a new drain
    assert sent == [("drain",), ("drain",)]


@pytest.mark.redis
def test_a_stopping_worker_hands_its_flag_over(sent, monkeypatch):
    monkeypatch.setattr(tasks, "_worker_stopping", lambda: True)
    _request("a")

    drain_task.run()

    assert sent == [("drain",), ("drain",)]
    assert _flag_is_set()


@pytest.mark.redis
def test_a_helper_drains_beside_the_owner_and_leaves_its_flag_alone(sent):
    _request("a", "b")  # the writer set the flag for the drain it sent

    drain_task.run(helper=True)

    assert wakeup.take(owner=False) == []
    assert _flag_is_set()


@pytest.mark.redis
def test_a_lone_stream_brings_no_helper(sent):
    _request("alone")

    drain_task.run()

    assert sent == [("drain",)]


@pytest.mark.redis
def test_a_long_drain_hands_its_flag_to_a_new_task(sent, monkeypatch):
    monkeypatch.setattr("events.tasks.DRAIN_MAX_SECONDS", 0.0)
    _request("a", "b")

    drain_task.run()

    assert sent == [("drain",), ("drain",)]
    # The successor may wait in the queue: its flag lasts longer than a running owner's.
    assert wakeup._redis().ttl(wakeup._keys()[1]) > wakeup.OWNER_TTL_SECONDS


@pytest.mark.redis
def test_an_owner_that_cannot_hand_over_keeps_draining(sent, monkeypatch):
    monkeypatch.setattr("events.tasks.DRAIN_MAX_SECONDS", 0.0)
    handed: list[str] = []

    def broker_down(*, helper: bool = False) -> bool:
        handed.append("drain")
        return False

    _request("a", "b")
    monkeypatch.setattr(wakeup, "enqueue_drain", broker_down)
    _request("c")  # coalesced: the flag is set

    drain_task.run()

    assert len(handed) >= 1  # it tried after its first batch, then went on
    assert wakeup.take(owner=False) == []
    assert not _flag_is_set()  # gave up only when nothing was left


@pytest.mark.redis
def test_a_running_owners_flag_expires_soon_if_it_dies(sent):
    _request("a")
    assert wakeup._redis().ttl(wakeup._keys()[1]) > wakeup.OWNER_TTL_SECONDS

    wakeup.take(owner=True)

    assert 0 < wakeup._redis().ttl(wakeup._keys()[1]) <= wakeup.OWNER_TTL_SECONDS


def test_without_redis_each_commit_wakes_its_stream_directly(sent, monkeypatch):
    class Down:
        def pipeline(self, transaction: bool = True):
            raise redis.ConnectionError("refused")

    monkeypatch.setattr(wakeup, "_redis", lambda: Down())

    wakeup.request("a", "probe")
    assert wakeup.flush()

    assert sent == [("stream", "a")]


def test_a_broker_that_is_down_never_fails_the_commit(monkeypatch):
    def refuse(*args, **kwargs):
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr("events.tasks.deliver_stream_task.apply_async", refuse)

    assert wakeup.enqueue("a", "probe") is False


@pytest.mark.redis
def test_a_drain_that_could_not_be_sent_lets_the_next_commit_try_again(sent, monkeypatch):
    attempts: list[str] = []

    def broker_down(*, helper: bool = False) -> bool:
        attempts.append("drain")
        return False

    monkeypatch.setattr(wakeup, "enqueue_drain", broker_down)

    _request("a")
    _request("b")

    assert attempts == ["drain", "drain"]
