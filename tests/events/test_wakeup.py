from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
import redis
from django.conf import settings

from bench.models import ProbeCounter
from bench.probe import ProbeTicked
from events import store, wakeup
from events.tasks import drain_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch, celery_queue) -> Iterator[list[tuple[str, ...]]]:
    """What would have gone to the broker, on a queue (and so Redis keys) of this test."""
    calls: list[tuple[str, ...]] = []
    dirty, flag = wakeup._keys()

    def enqueue_drain() -> bool:
        calls.append(("drain",))
        return True

    monkeypatch.setattr(wakeup, "enqueue_drain", enqueue_drain)

    def enqueue(stream_id, stream_type, *, subscription=None, countdown=None):
        calls.append(("stream", stream_id))
        return True

    monkeypatch.setattr(wakeup, "enqueue", enqueue)
    yield calls
    with contextlib.suppress(redis.RedisError):
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=0.5).delete(dirty, flag)


@pytest.mark.redis
def test_a_burst_of_commits_enqueues_one_drain(sent):
    for stream in ("a", "a", "b", "c"):
        wakeup.request(stream, "probe")
    assert wakeup.flush()

    assert sent == [("drain",)]
    assert sorted(wakeup.start_drain()) == [("a", "probe"), ("b", "probe"), ("c", "probe")]


@pytest.mark.redis
def test_a_commit_after_a_drain_started_enqueues_the_next_drain(sent):
    wakeup.request("a", "probe")
    assert wakeup.flush()
    wakeup.start_drain()

    wakeup.request("b", "probe")
    assert wakeup.flush()

    assert sent == [("drain",), ("drain",)]
    assert wakeup.start_drain() == [("b", "probe")]


@pytest.mark.redis
def test_drain_delivers_every_dirty_stream_until_none_is_left(sent):
    for stream in ("d1", "d2"):
        store.append(stream, [ProbeTicked(n=0), ProbeTicked(n=1)], 0)
        wakeup.request(stream, "probe")
    assert wakeup.flush()

    delivered = drain_task.run()

    assert delivered == 4
    assert dict(ProbeCounter.objects.values_list("stream_id", "applied")) == {"d1": 2, "d2": 2}
    assert wakeup.start_drain() == []


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

    def broker_down() -> bool:
        attempts.append("drain")
        return False

    monkeypatch.setattr(wakeup, "enqueue_drain", broker_down)

    wakeup.request("a", "probe")
    assert wakeup.flush()
    wakeup.request("b", "probe")
    assert wakeup.flush()

    assert attempts == ["drain", "drain"]
