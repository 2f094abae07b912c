"""Request rates: per user, per anonymous address, and login attempts per address.

Rates come from the environment (``API_THROTTLE_USER``, ``API_THROTTLE_ANON``,
``API_THROTTLE_LOGIN``, like ``1200/min``; ``off`` turns a scope off, empty means the
default). Each
scope counts requests in fixed windows kept in the shared cache (Redis), so every web
process counts against the same limit, in one round trip per request (SET NX EX and
INCR, pipelined) rather than DRF's read-modify-write of a timestamp list. A throttled
request gets 429 with ``Retry-After``: the seconds until its window ends.

A request authenticated by a token the process has seen before is counted in the same
round trip as its token is checked (``count_and_get``, from
``championships.api.authentication``): the user throttle then finds its count on the
request (``PRECOUNTED``) instead of asking Redis again.

The throttle must not take the API down with Redis: when the cache cannot be reached,
requests pass (and a warning is logged).
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from redis.exceptions import RedisError
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from easychamp.env import parse_rate
from easychamp.redis_guard import log_failure

logger = logging.getLogger(__name__)

_FAILURES = (RedisError, OSError)


# The DRF request's attribute holding counts taken ahead: {window key: count}.
PRECOUNTED = "_easychamp_precounted"


@dataclass(frozen=True)
class Window:
    """The fixed window a request falls in, for one scope and one client."""

    key: str
    limit: int
    seconds: int
    number: int

    def wait(self, now: float) -> float:
        return (self.number + 1) * self.seconds - now


def current_window(scope: str, ident: str, now: float) -> Window | None:
    """The window of ``scope``'s rate that ``now`` falls in; None when the scope is off."""
    rates: dict[str, str | None] = api_settings.DEFAULT_THROTTLE_RATES  # type: ignore[assignment]
    rate = parse_rate(rates.get(scope))
    if rate is None:
        return None
    limit, seconds = rate
    number = int(now // seconds)
    return Window(f"throttle:{scope}:{ident}:{number}", limit, seconds, number)


def _redis(key: str) -> tuple[RedisCache, str, Any] | None:
    """The Redis cache, ``key`` as stored there, and a client; None for another cache."""
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        return None
    full_key = backend.make_and_validate_key(key)
    return backend, full_key, backend._cache.get_client(full_key, write=True)


def _hit(key: str, seconds: int) -> int:
    """Count one request in the window ``key`` (which expires with the window)."""
    redis = _redis(key)
    if redis is None:
        backend = caches["default"]
        backend.add(key, 0, seconds)
        return int(backend.incr(key))
    _, full_key, client = redis
    pipe = client.pipeline(transaction=False)
    _queue_hit(pipe, full_key, seconds)
    return int(pipe.execute()[-1])


def _queue_hit(pipe: Any, full_key: str, seconds: int) -> None:
    """Add the counting of one request to ``pipe``: its last reply is the count."""
    pipe.set(full_key, 0, ex=seconds, nx=True)
    pipe.incr(full_key)


def count_and_get(window: Window, cache_key: str) -> tuple[Any, int] | None:
    """Count one request in ``window`` and read ``cache_key`` from the cache, in one round
    trip: (the cached value or None, the window's count). None when the cache is not
    Redis (the caller reads and counts on its own). Raises what Redis raises."""
    redis = _redis(window.key)
    if redis is None:
        return None
    backend, full_key, client = redis
    pipe = client.pipeline(transaction=False)
    pipe.get(backend.make_and_validate_key(cache_key))
    _queue_hit(pipe, full_key, window.seconds)
    replies = pipe.execute()
    raw, count = replies[0], replies[-1]
    django_client: Any = backend._cache  # Django's RedisCacheClient: its serializer
    value = None if raw is None else django_client._serializer.loads(raw)
    return value, int(count)


def over_the_rate(scope: str, ident: str, precounted: dict[str, int] | None = None) -> float | None:
    """Count one request of ``ident`` in ``scope``; the seconds until its window ends if
    that is over the rate, else None (also when the scope is off or Redis unreachable)."""
    now = time.time()
    window = current_window(scope, ident, now)
    if window is None:
        return None
    count = (precounted or {}).get(window.key)
    if count is None:
        try:
            count = _hit(window.key, window.seconds)
        except _FAILURES as exc:
            log_failure(logger, exc, "throttle %s: cache unreachable, request let through", scope)
            return None
    return None if count <= window.limit else window.wait(now)


def limit_sign_ins(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """A sign-in page's POSTs count as login attempts of their address (the API's token
    endpoint counts in the same windows): over ``API_THROTTLE_LOGIN``, a 429."""

    @functools.wraps(view)
    def limited(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.method == "POST":
            wait = over_the_rate("login", request.META.get("REMOTE_ADDR") or "unknown")
            if wait is not None:
                seconds = math.ceil(wait)
                response = HttpResponse(
                    f"Too many sign-in attempts from this address: try again in {seconds} s.",
                    status=429,
                    content_type="text/plain; charset=utf-8",
                )
                response["Retry-After"] = str(seconds)
                return response
        return view(request, *args, **kwargs)

    return limited


class WindowThrottle(BaseThrottle):
    scope: ClassVar[str]

    def __init__(self) -> None:
        self._wait: float | None = None

    def ident_key(self, request: Request) -> str | None:
        """Whose requests are counted together (None: this throttle does not apply)."""
        raise NotImplementedError

    def allow_request(self, request: Request, view: Any) -> bool:
        ident = self.ident_key(request)
        if ident is None:
            return True
        self._wait = over_the_rate(self.scope, ident, getattr(request, PRECOUNTED, {}))
        return self._wait is None

    def wait(self) -> float | None:
        # Retry-After is whole seconds: rounding down could tell a client to come back
        # before its window ends.
        return None if self._wait is None else math.ceil(self._wait)


class AnonThrottle(WindowThrottle):
    """Anonymous requests, per client address."""

    scope = "anon"

    def ident_key(self, request: Request) -> str | None:
        return None if request.user.is_authenticated else self.get_ident(request)


class UserThrottle(WindowThrottle):
    """Authenticated requests, per user."""

    scope = "user"

    def ident_key(self, request: Request) -> str | None:
        return str(request.user.pk) if request.user.is_authenticated else None


class LoginThrottle(WindowThrottle):
    """Attempts at the token endpoint, per client address (failed or not)."""

    scope = "login"

    def ident_key(self, request: Request) -> str | None:
        return self.get_ident(request)
