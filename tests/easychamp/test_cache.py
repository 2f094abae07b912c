"""The Redis cache keeps one client (and connection pool) per process: Django builds
cache objects per request context, and the stock backend connected anew each time."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
from django.core.cache import caches

pytestmark = pytest.mark.redis


def _client_in_a_new_thread() -> Any:
    found: list[Any] = []

    def look() -> None:
        backend: Any = caches["default"]
        found.append(backend._cache.get_client())

    thread = threading.Thread(target=look)
    thread.start()
    thread.join()
    return found[0]


def test_every_thread_uses_the_same_redis_client():
    # Given two threads (under ASGI, two requests) with cache objects of their own
    first, second = _client_in_a_new_thread(), _client_in_a_new_thread()

    # Then they share one client and its connection pool
    assert first is second
    assert first.connection_pool is second.connection_pool


def test_values_go_through_the_shared_client():
    key = f"test-{uuid.uuid4().hex}"
    caches["default"].set(key, {"a": 1}, 30)

    assert caches["default"].get(key) == {"a": 1}
    caches["default"].delete(key)
