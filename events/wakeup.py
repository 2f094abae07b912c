"""Wake-ups: after a commit, ask a worker to deliver the stream that was written.

The database is the source of truth; a wake-up is only a hint, and losing one only
delays delivery until the sweeper notices. Wake-ups coalesce: a Redis key per stream
(``SET NX`` with a TTL) lets only the first commit since the last delivery started
enqueue a task, so a burst of N events costs one task, not N. The worker deletes the
key before it reads the stream, so an event committed after that read enqueues anew.
"""

from __future__ import annotations

import logging
from functools import lru_cache

import redis
from django.conf import settings

from events import metrics

logger = logging.getLogger(__name__)

WAKE_TTL_SECONDS = 30
_PREFIX = "easychamp:wake:"


@lru_cache(maxsize=1)
def _redis() -> redis.Redis:
    return redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=0.5, socket_timeout=0.5, health_check_interval=30
    )


def request(stream_id: str, stream_type: str, version: int = 0) -> None:
    """The append listener: enqueue a delivery unless one is already pending."""
    try:
        first = bool(_redis().set(_PREFIX + stream_id, b"1", nx=True, ex=WAKE_TTL_SECONDS))
    except redis.RedisError:
        first = True  # cannot coalesce: better a duplicate wake-up than none
    if first:
        enqueue(stream_id, stream_type)
    else:
        metrics.wakeups.labels("coalesced").inc()


def clear(stream_id: str) -> None:
    """Called by the worker before it reads the stream."""
    try:
        _redis().delete(_PREFIX + stream_id)
    except redis.RedisError:
        logger.warning("could not clear the wake-up key of %s", stream_id)


def enqueue(
    stream_id: str,
    stream_type: str,
    *,
    subscription: str | None = None,
    countdown: float | None = None,
) -> bool:
    """Send the delivery task. Never raises: the sweeper covers a wake-up that is lost."""
    from events.tasks import deliver_stream_task

    try:
        deliver_stream_task.apply_async(
            args=(stream_id, stream_type, subscription), countdown=countdown or 0, retry=False
        )
    except Exception:  # the broker boundary: counted and logged, never fails a command
        metrics.wakeups.labels("failed").inc()
        logger.warning("could not enqueue a wake-up for %s", stream_id, exc_info=True)
        return False
    metrics.wakeups.labels("enqueued").inc()
    return True
