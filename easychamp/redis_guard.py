"""A Redis that stops answering costs a process one timeout, not one per command.

Everywhere a request touches Redis (the token cache, the throttles, the read cache, the
live push on commit) it is an optimisation or a hint, and each caller survives its
failure. A Redis that is down refuses at once; one that hangs (a stalled host, a paused
container, a full network buffer) fails each command only after its socket timeout, and
a goal's request sends four: four seconds per request, every request, with the request
threads all waiting.

The connections of those clients (``connection_class``) share one circuit breaker
(pybreaker) per Redis server and process: the first timeout or refused connection opens
it, and for ``REDIS_DOWN_SECONDS`` every command fails at once with a ConnectionError,
which each caller already handles; then the next command tries, and its answer closes
the breaker again (its failure keeps it open). Only network failures count: an error
Redis answers with (a wrong type, a missing script) says Redis is up. The breaker logs
when it opens and closes; callers log a refused command at debug level only
(``log_failure``), so an outage is not a warning per request.

Not guarded: the Celery broker's connections (kombu's own), the channel layer's
(asyncio), and the wake-up notifier's (a thread of its own: no request waits for it).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable
from typing import Any, NoReturn
from urllib.parse import urlsplit

import pybreaker
from django.conf import settings
from prometheus_client import Counter
from redis.connection import Connection, SSLConnection, UnixDomainSocketConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

NETWORK_ERRORS = (RedisConnectionError, RedisTimeoutError, OSError)


class NotAsked(RedisConnectionError):
    """A command the breaker did not send: the server did not answer a moment ago."""


def log_failure(
    log: logging.Logger, exc: BaseException, message: str, *args: Any, exc_info: bool = False
) -> None:
    """Log a caller's Redis failure as a warning, unless it is a command the breaker
    did not send: the breaker logged the outage once when it began, and a warning per
    request would flood the log for as long as it lasts."""
    if isinstance(exc, NotAsked):
        log.debug(message, *args)
    else:
        log.warning(message, *args, exc_info=exc_info)


opened = Counter(
    "easychamp_redis_breaker_opened_total",
    "Times a Redis server stopped answering and this process stopped asking it for a while.",
    ["server"],
)

# Per process (a forked child makes its own: a lock held at the fork would stay held)
# and per server.
_breakers: dict[tuple[int, str], pybreaker.CircuitBreaker] = {}
_lock = threading.Lock()


def down_seconds() -> float:
    return float(getattr(settings, "REDIS_DOWN_SECONDS", 2.0))


class _Log(pybreaker.CircuitBreakerListener):
    def state_change(self, cb: pybreaker.CircuitBreaker, old_state: Any, new_state: Any) -> None:
        if new_state.name == pybreaker.STATE_OPEN and old_state.name == pybreaker.STATE_CLOSED:
            opened.labels(cb.name).inc()
            logger.warning(
                "Redis at %s is not answering: its commands fail at once for %g s",
                cb.name,
                cb.reset_timeout,
            )
        elif new_state.name == pybreaker.STATE_CLOSED and old_state.name != pybreaker.STATE_CLOSED:
            logger.warning("Redis at %s answers again", cb.name)


def _not_a_network_error(exc: BaseException) -> bool:
    return not isinstance(exc, NETWORK_ERRORS)


def breaker(server: str) -> pybreaker.CircuitBreaker:
    """This process's breaker for ``server`` (host:port, or a socket's path)."""
    key = (os.getpid(), server)
    found = _breakers.get(key)
    if found is None:
        with _lock:
            found = _breakers.get(key)
            if found is None:
                found = _breakers[key] = pybreaker.CircuitBreaker(
                    fail_max=1,
                    reset_timeout=down_seconds(),
                    exclude=[_not_a_network_error],
                    listeners=[_Log()],
                    name=server,
                )
    return found


class _Guarded:
    """Connection methods that talk to the server, through the server's breaker."""

    _server: str

    def _call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        cb = breaker(self._server)
        if cb.current_state == pybreaker.STATE_CLOSED:
            # The common case, without the breaker's lock: only a failure goes to it.
            try:
                return method(*args, **kwargs)
            except NETWORK_ERRORS as exc:
                _failed(cb, exc)
        try:
            return cb.call(method, *args, **kwargs)
        except pybreaker.CircuitBreakerError as exc:
            raise NotAsked(
                f"Redis at {cb.name} is not answering (not asked for {cb.reset_timeout:g} s)"
            ) from exc

    def connect(self) -> None:
        self._call(super().connect)  # type: ignore[misc]

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        self._call(super().send_packed_command, command, check_health)  # type: ignore[misc]

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        return self._call(super().read_response, *args, **kwargs)  # type: ignore[misc]


def _failed(cb: pybreaker.CircuitBreaker, exc: BaseException) -> NoReturn:
    """Count ``exc`` against the breaker (opening it), then raise it as it was."""

    def fail() -> None:
        raise exc

    with contextlib.suppress(pybreaker.CircuitBreakerError):
        cb.call(fail)  # raises exc itself unless it opened the breaker
    raise exc


class GuardedConnection(_Guarded, Connection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._server = f"{self.host}:{self.port}"


class GuardedSSLConnection(_Guarded, SSLConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._server = f"{self.host}:{self.port}"


class GuardedUnixConnection(_Guarded, UnixDomainSocketConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._server = self.path


def connection_class(url: str) -> type[Connection | UnixDomainSocketConnection]:
    """The guarded connection class for a Redis URL's scheme (redis-py's own class is
    chosen by the scheme too: a class given to ``from_url`` replaces it)."""
    scheme = urlsplit(url).scheme
    if scheme == "rediss":
        return GuardedSSLConnection
    if scheme == "unix":
        return GuardedUnixConnection
    return GuardedConnection
