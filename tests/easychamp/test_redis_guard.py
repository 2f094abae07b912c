"""A Redis that hangs costs a process one timeout, then fails at once until it answers
(easychamp.redis_guard), on a real redis-server of the test's own that it pauses."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pybreaker
import pytest
import redis
from django.test import override_settings

from easychamp import redis_guard
from tests.championships.api.conftest import client_for, event_count
from tests.championships.factories import ChampionshipFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None, reason="needs the redis-server program"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Server:
    """A redis-server of this test's own: it can be paused (SIGSTOP) like a hung host."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = subprocess.Popen(
            [
                *("redis-server", "--bind", "127.0.0.1", "--port", str(self.port)),
                *("--save", "", "--appendonly", "no"),
            ],
            stdout=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url, socket_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        client.close()

    def pause(self) -> None:
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.proc.pid, signal.SIGCONT)

    def stop(self) -> None:
        self.resume()
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture
def server() -> Iterator[_Server]:
    started = _Server()
    try:
        yield started
    finally:
        started.stop()


def _client(url: str, timeout: float = 0.3) -> redis.Redis:
    return redis_guard.GuardedRedis.from_url(
        url, socket_timeout=timeout, socket_connect_timeout=timeout
    )


def _opened(server: str) -> float:
    return redis_guard.opened.labels(server)._value.get()


def _outcomes(client: redis.Redis, times: int) -> list[str]:
    outcomes = []
    for _ in range(times):
        try:
            client.get("k")
            outcomes.append("answer")
        except redis.TimeoutError:
            outcomes.append("timeout")
        except redis.ConnectionError as exc:
            outcomes.append("not asked" if "not answering" in str(exc) else "refused")
    return outcomes


def test_a_hung_redis_costs_one_timeout_then_commands_fail_at_once(server, settings):
    settings.REDIS_DOWN_SECONDS = 60
    name = f"127.0.0.1:{server.port}"
    client = _client(server.url)
    assert client.set("k", "v")
    server.pause()

    assert _outcomes(client, 4) == ["timeout", "not asked", "not asked", "not asked"]
    assert _opened(name) == 1
    assert redis_guard.breaker(name).current_state == pybreaker.STATE_OPEN


def test_once_redis_answers_again_the_next_try_closes_the_breaker(server, settings):
    settings.REDIS_DOWN_SECONDS = 0.2
    name = f"127.0.0.1:{server.port}"
    client = _client(server.url)
    client.set("k", "v")
    server.pause()
    assert _outcomes(client, 2) == ["timeout", "not asked"]

    server.resume()
    deadline = time.monotonic() + 10
    while _outcomes(client, 1) != ["answer"]:
        assert time.monotonic() < deadline, "the breaker never let a command through"
        time.sleep(0.05)

    assert redis_guard.breaker(name).current_state == pybreaker.STATE_CLOSED
    assert client.get("k") == b"v"


def test_a_refused_connection_opens_the_breaker_too(settings):
    settings.REDIS_DOWN_SECONDS = 60
    port = _free_port()  # nothing listens there

    assert _outcomes(_client(f"redis://127.0.0.1:{port}/0"), 3) == [
        "refused",
        "not asked",
        "not asked",
    ]


def test_an_error_redis_answers_with_leaves_the_breaker_closed(server):
    client = _client(server.url)
    client.set("k", "v")

    with pytest.raises(redis.ResponseError):
        client.lpush("k", "x")  # WRONGTYPE: Redis is up and said so

    assert redis_guard.breaker(f"127.0.0.1:{server.port}").current_state == "closed"
    assert client.get("k") == b"v"


def test_a_pipeline_goes_through_the_breaker_too(server, settings):
    settings.REDIS_DOWN_SECONDS = 60
    client = _client(server.url)
    server.pause()

    def counted() -> list[Any]:
        pipe = client.pipeline()
        pipe.incr("a")
        pipe.expire("a", 60)
        return pipe.execute()

    with pytest.raises(redis.TimeoutError):
        counted()
    with pytest.raises(redis_guard.NotAsked):
        counted()


def test_while_one_command_tries_a_hung_redis_the_others_are_refused_at_once(server, settings):
    # A sent command proves nothing (the kernel buffers it): only its answer closes the
    # breaker, and while the one trying waits for it nobody else queues behind it.
    settings.REDIS_DOWN_SECONDS = 0.1
    name = f"127.0.0.1:{server.port}"
    cb = redis_guard.breaker(name)
    server.pause()
    assert _outcomes(_client(server.url), 1) == ["timeout"]  # the breaker opened
    stop = threading.Event()

    def keep_asking() -> None:  # one of these calls becomes the trial, once it is due
        slow = _client(server.url, timeout=3.0)
        while not stop.is_set():
            _outcomes(slow, 1)

    asking = threading.Thread(target=keep_asking)
    asking.start()
    try:
        deadline = time.monotonic() + 10
        while cb.current_state != pybreaker.STATE_HALF_OPEN:
            assert time.monotonic() < deadline, "no command tried the server again"
            time.sleep(0.01)
        others = _outcomes(_client(server.url, timeout=3.0), 3)
        state_after_others = cb.current_state
    finally:
        stop.set()
        asking.join(15)

    assert others == ["not asked"] * 3
    assert state_after_others == pybreaker.STATE_HALF_OPEN, "the others waited for the trial"
    assert cb.current_state == pybreaker.STATE_OPEN  # the trial got no answer


@pytest.mark.django_db
def test_a_goal_is_recorded_with_one_redis_timeout_while_redis_hangs(server, settings, caplog):
    # The token cache, the throttles and the live push all use Redis on a goal's
    # request: unguarded, each waited for its own timeout.
    settings.REDIS_DOWN_SECONDS = 60
    owner = UserFactory.create()
    championship = ChampionshipFactory.create(actor_id=owner.id)
    home, away = (TeamFactory.create(championship=championship) for _ in range(2))
    cache: dict[str, Any] = {
        "BACKEND": "easychamp.cache.RedisCache",
        "LOCATION": server.url,
        "KEY_PREFIX": f"test-{uuid.uuid4().hex}",
        "OPTIONS": {"socket_connect_timeout": 0.3, "socket_timeout": 0.3},
    }
    api = client_for(owner)

    def goal(minute: int) -> Any:
        return api.post(
            f"/api/v1/matches/{match['id']}/goals/",
            {"team": str(home.id), "minute": minute},
            format="json",
        )

    with override_settings(CACHES={"default": cache}):
        match = api.post(
            f"/api/v1/championships/{championship.id}/matches/",
            {"home_team": str(home.id), "away_team": str(away.id)},
            format="json",
        ).json()
        api.post(f"/api/v1/matches/{match['id']}/start/", {}, format="json")
        before = event_count()
        server.pause()
        first = goal(10)
        caplog.clear()
        with caplog.at_level("DEBUG"):
            second = goal(20)

    assert [first.status_code, second.status_code] == [200, 200]
    assert second.json()["home_score"] == 2
    assert event_count() == before + 2
    name = f"127.0.0.1:{server.port}"
    assert _opened(name) == 1
    # One command reached the hung server and timed out; the rest were not sent.
    assert redis_guard.breaker(name).fail_counter == 1
    # And the commands not sent are no warning each: the outage was logged once.
    unreachable = [r for r in caplog.records if "unreachable" in r.getMessage()]
    assert unreachable, "the second goal's request did not go without Redis"
    assert {r.levelname for r in unreachable} == {"DEBUG"}


def test_the_cache_and_the_live_pushes_connect_through_the_guard():
    from django.core.cache.backends.redis import RedisCacheClient

    from championships.live import Publisher
    from easychamp.cache import SharedRedisCacheClient

    cache_client = SharedRedisCacheClient(["redis://127.0.0.1:1/0"])
    publisher = Publisher(layer=None, url="redis://127.0.0.1:1/0", prefix="asgi")

    assert isinstance(cache_client, RedisCacheClient)
    assert isinstance(cache_client.get_client(), redis_guard.GuardedRedis)
    assert isinstance(publisher.client, redis_guard.GuardedRedis)


def test_a_forked_child_starts_with_breakers_of_its_own(settings):
    settings.REDIS_DOWN_SECONDS = 60
    port = _free_port()  # nothing listens there
    assert _outcomes(_client(f"redis://127.0.0.1:{port}/0"), 2) == ["refused", "not asked"]

    pid = os.fork()
    if pid == 0:  # the child: its parent's open breaker is not its own
        os._exit(0 if f"127.0.0.1:{port}" not in redis_guard._breakers else 1)
    _, status = os.waitpid(pid, 0)

    assert os.waitstatus_to_exitcode(status) == 0
    assert redis_guard.breaker(f"127.0.0.1:{port}").current_state == pybreaker.STATE_OPEN
