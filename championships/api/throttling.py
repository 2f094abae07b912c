"""Request rates: per user, per anonymous address, and login attempts per address.

Rates come from the environment (``API_THROTTLE_USER``, ``API_THROTTLE_ANON``,
``API_THROTTLE_LOGIN``, like ``1200/min``; empty or ``off`` turns a scope off). Each
scope counts requests in fixed windows kept in the shared cache (Redis), so every web
process counts against the same limit, in one round trip per request (SET NX EX and
INCR, pipelined) rather than DRF's read-modify-write of a timestamp list. A throttled
request gets 429 with ``Retry-After``: the seconds until its window ends.

The throttle must not take the API down with Redis: when the cache cannot be reached,
requests pass (and a warning is logged).
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any, ClassVar

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

logger = logging.getLogger(__name__)

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_FAILURES = (RedisError, OSError)


def parse_rate(rate: str | None) -> tuple[int, int] | None:
    """``"1200/min"`` → (1200 requests, 60 seconds); None when off."""
    if rate is None or rate.strip().lower() in {"", "off", "none"}:
        return None
    count, period = rate.strip().split("/")
    return int(count), _PERIODS[period.strip()[0]]


def _hit(key: str, seconds: int) -> int:
    """Count one request in the window ``key`` (which expires with the window)."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        full_key = backend.make_and_validate_key(key)
        client: Any = backend._cache.get_client(full_key, write=True)
        pipe = client.pipeline(transaction=False)
        pipe.set(full_key, 0, ex=seconds, nx=True)
        pipe.incr(full_key)
        return int(pipe.execute()[1])
    backend.add(key, 0, seconds)
    return int(backend.incr(key))


class WindowThrottle(BaseThrottle):
    scope: ClassVar[str]

    def __init__(self) -> None:
        self._wait: float | None = None

    def ident_key(self, request: Request) -> str | None:
        """Whose requests are counted together (None: this throttle does not apply)."""
        raise NotImplementedError

    def allow_request(self, request: Request, view: Any) -> bool:
        rates: dict[str, str | None] = api_settings.DEFAULT_THROTTLE_RATES  # type: ignore[assignment]
        rate = parse_rate(rates.get(self.scope))
        ident = self.ident_key(request)
        if rate is None or ident is None:
            return True
        limit, seconds = rate
        now = time.time()
        window = int(now // seconds)
        try:
            count = _hit(f"throttle:{self.scope}:{ident}:{window}", seconds)
        except _FAILURES:
            logger.warning("throttle %s: cache unreachable, request let through", self.scope)
            return True
        if count <= limit:
            return True
        self._wait = (window + 1) * seconds - now
        return False

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
