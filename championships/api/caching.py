"""Version-keyed read cache for standings and matches (Django's cache: Redis).

Keys contain the projection's version (the standings stream version, the match row
version), so a new version is simply a new key and a stale entry is never served;
nothing needs invalidating. The cache is an optimisation only: when it fails (Redis
down), reads go to the database.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.cache import cache
from redis.exceptions import RedisError

from easychamp.redis_guard import log_failure

logger = logging.getLogger(__name__)

TIMEOUT = 3600
_FAILURES = (RedisError, OSError)


def standings_key(championship_id: object, version: int) -> str:
    return f"api:standings:{championship_id}:{version}"


def match_key(match_id: object, version: int) -> str:
    return f"api:match:{match_id}:{version}"


def cache_get(key: str) -> Any:
    try:
        return cache.get(key)
    except _FAILURES as exc:
        log_failure(
            logger, exc, "cache read failed for %s; reading the database", key, exc_info=True
        )
        return None


def cache_set(key: str, value: Any) -> None:
    try:
        cache.set(key, value, TIMEOUT)
    except _FAILURES as exc:
        log_failure(logger, exc, "cache write failed for %s", key, exc_info=True)
