"""The circuit breaker around the payment provider (pybreaker), its state in Redis so
every worker process sees the same circuit. After ``PAYMENTS_BREAKER_FAIL_MAX`` outages
(``ProviderUnavailable``) in a row it opens: calls fail at once (``CircuitBreakerError``)
and entries wait; after
``PAYMENTS_BREAKER_RESET_SECONDS`` one trial call goes through (half-open), closing it
again on success."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Any

import pybreaker
import redis
from django.conf import settings

from sagas.payments import ProviderUnavailable

logger = logging.getLogger(__name__)


@functools.cache
def _redis(url: str) -> redis.Redis:
    # pybreaker's storage reads bytes: no decode_responses.
    return redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)


def namespace() -> str:
    return f"easychamp:breaker:{settings.PAYMENTS_BREAKER_NAME}"


def breaker() -> pybreaker.CircuitBreaker:
    """A breaker over the shared state (cheap to make: the state lives in Redis)."""
    storage = pybreaker.CircuitRedisStorage(
        pybreaker.STATE_CLOSED, _redis(settings.REDIS_URL), namespace=namespace()
    )
    return pybreaker.CircuitBreaker(
        fail_max=settings.PAYMENTS_BREAKER_FAIL_MAX,
        reset_timeout=settings.PAYMENTS_BREAKER_RESET_SECONDS,
        state_storage=storage,
        name="payments",
        # Only an outage opens the circuit: a payment the provider refuses (an answer)
        # is that entry's failure, counted in its command's attempts, not everybody's.
        exclude=[lambda exc: not isinstance(exc, ProviderUnavailable)],
    )


@dataclass(frozen=True)
class BreakerState:
    state: str
    failures: int
    opened_at: str | None


def state() -> BreakerState:
    """What the admin shows: the circuit's state, failures counted, when it opened."""
    try:
        b = breaker()
        opened = b._state_storage.opened_at
        return BreakerState(
            state=str(b.current_state),
            failures=int(b.fail_counter),
            opened_at=opened.isoformat() if opened else None,
        )
    except redis.RedisError as exc:
        return BreakerState(state=f"unknown (Redis: {exc})", failures=0, opened_at=None)


def reset() -> None:
    """Forget the circuit's state (tests, or an operator after fixing the provider)."""
    client: Any = _redis(settings.REDIS_URL)
    keys = list(client.scan_iter(f"{namespace()}:*"))
    if keys:
        client.delete(*keys)
