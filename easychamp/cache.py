"""Django's Redis cache with one connection pool per process instead of one per request.

Django keeps cache objects per context: under ASGI every request runs in a context (and
a thread) of its own, so the stock backend built a new connection pool, hence opened a
new TCP connection to Redis, for every request, and a new client for every command.
A ``redis.Redis`` client and its pool are thread-safe (and reset themselves after a
fork), so one per process and server is enough. Its commands go through the server's
circuit breaker (``easychamp.redis_guard``): a Redis that hangs costs a process one
timeout, not one per command.
"""

from __future__ import annotations

import threading
from typing import Any

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient

from easychamp.redis_guard import GuardedRedis

_clients: dict[tuple[Any, ...], Any] = {}
_lock = threading.Lock()


class SharedRedisCacheClient(RedisCacheClient):
    def __init__(self, servers: list[str], **options: Any) -> None:
        super().__init__(servers, **options)
        self._client = GuardedRedis
        self._identity = (tuple(servers), repr(sorted(options.items())))

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        # With several servers (a primary, then replicas), each process keeps reading
        # from the one replica it picked first.
        identity = (*self._identity, write)
        client = _clients.get(identity)
        if client is None:
            with _lock:
                client = _clients.get(identity)
                if client is None:
                    client = _clients[identity] = super().get_client(key, write=write)
        return client


class RedisCache(DjangoRedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = SharedRedisCacheClient
