"""A Redis that stops answering costs a process one timeout, not one per command.

Everywhere a request touches Redis (the token cache, the throttles, the read cache, the
live push on commit) it is an optimisation or a hint, and each caller survives its
failure. A Redis that is down refuses at once; one that hangs (a stalled host, a paused
container, a full network buffer) fails each command only after its socket timeout, and
a goal's request sends four: four seconds per request, every request, with the request
threads all waiting.

The commands of those clients (``GuardedRedis``: each command, or pipeline, is one
call) share one circuit breaker (pybreaker) per Redis server and process: the first
timeout or refused connection opens it, and for ``REDIS_DOWN_SECONDS`` every command
fails at once with a ConnectionError, which each caller already handles; then one
command tries (the others meanwhile are refused at once), and its answer closes the
breaker again (its failure keeps it open). The breaker judges whole round trips: a
command sent to a hung server is sent without error (the kernel buffers it), and only
its missing answer shows the server is not there. Only network failures count: an error
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

import pybreaker
import redis
from django.conf import settings
from prometheus_client import Counter
from redis.client import Pipeline
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

# Per server, in this process: a forked child starts afresh (a lock held at the fork
# would stay held in the child).
_breakers: dict[str, _Breaker] = {}
_lock = threading.Lock()


def _forget_after_fork() -> None:
    global _lock
    _breakers.clear()
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_after_fork)


class _Breaker(pybreaker.CircuitBreaker):
    """pybreaker's breaker, and who is trying the server while it is not closed.

    pybreaker runs a call under the breaker's lock: while one thread's trial waited for
    its timeout, every other thread's command waited for that lock. Only one thread
    tries; the others are refused at once (``trying``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.trying = threading.Lock()


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


def breaker(server: str) -> _Breaker:
    """This process's breaker for ``server`` (host:port, or a socket's path)."""
    found = _breakers.get(server)
    if found is None:
        with _lock:
            found = _breakers.get(server)
            if found is None:
                found = _breakers[server] = _Breaker(
                    fail_max=1,
                    reset_timeout=down_seconds(),
                    exclude=[_not_a_network_error],
                    listeners=[_Log()],
                    name=server,
                )
    return found


def _through(server: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``method`` (one round trip to ``server``) through the server's breaker."""
    cb = breaker(server)
    if cb.current_state == pybreaker.STATE_CLOSED:
        # The common case, without the breaker's lock: only a failure goes to it.
        try:
            return method(*args, **kwargs)
        except NETWORK_ERRORS as exc:
            _failed(cb, exc)
    if not cb.trying.acquire(blocking=False):
        raise _not_asked(cb)  # another thread is trying the server right now
    try:
        return cb.call(method, *args, **kwargs)
    except pybreaker.CircuitBreakerError as exc:
        raise _not_asked(cb) from exc
    finally:
        cb.trying.release()


def _not_asked(cb: pybreaker.CircuitBreaker) -> NotAsked:
    return NotAsked(f"Redis at {cb.name} is not answering (not asked for {cb.reset_timeout:g} s)")


def _failed(cb: pybreaker.CircuitBreaker, exc: BaseException) -> NoReturn:
    """Count ``exc`` against the breaker (opening it), then raise it as it was."""

    def fail() -> None:
        raise exc

    with contextlib.suppress(pybreaker.CircuitBreakerError):
        cb.call(fail)  # raises exc itself unless it opened the breaker
    raise exc


def _server(pool: redis.ConnectionPool) -> str:
    kwargs = pool.connection_kwargs
    if "path" in kwargs:
        return str(kwargs["path"])
    return f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"


class GuardedPipeline(Pipeline):
    server: str

    def execute(self, raise_on_error: bool = True) -> list[Any]:
        result: list[Any] = _through(self.server, super().execute, raise_on_error)
        return result


class GuardedRedis(redis.Redis):
    """redis-py's client, each command and pipeline through its server's breaker."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.server = _server(self.connection_pool)

    def execute_command(self, *args: Any, **options: Any) -> Any:
        return _through(self.server, super().execute_command, *args, **options)

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> GuardedPipeline:
        pipe = GuardedPipeline(
            self.connection_pool, self.response_callbacks, transaction, shard_hint
        )
        pipe.server = self.server
        return pipe
