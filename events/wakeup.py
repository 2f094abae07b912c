"""Wake-ups: after a commit, get a worker to deliver the stream that was written.

The database is the source of truth; a wake-up is only a hint, and losing one only
delays delivery until the sweeper notices.

Wake-ups coalesce in Redis, per Celery queue: the writer adds the stream to a set of
dirty streams and, only if no drain is already pending (``SET NX`` on a flag), enqueues
an ``events.drain`` task. A drain clears the flag, pops a batch of dirty streams,
delivers them, and loops until the set is empty. So a burst of N events costs one task,
not N; under a steady load the workers stay in their drain loops and no task is sent per
event; and with two drains running (a writer re-enqueues whenever a running drain has
cleared the flag) different streams are delivered in parallel.

Where Redis is unreachable, each commit enqueues a ``events.deliver_stream`` task for its
stream instead; where the broker is unreachable, the commit still succeeds.
"""

from __future__ import annotations

import logging
from functools import lru_cache

import redis
from django.conf import settings

from easychamp.celery import app as celery_app
from events import metrics

logger = logging.getLogger(__name__)

FLAG_TTL_SECONDS = 30
_SEPARATOR = "\t"


@lru_cache(maxsize=1)
def _redis() -> redis.Redis:
    return redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=0.5, socket_timeout=0.5, health_check_interval=30
    )


def _keys() -> tuple[str, str]:
    # Per queue: workers of another queue (a test run, a benchmark) never drain ours.
    queue = celery_app.conf.task_default_queue
    return f"easychamp:{queue}:dirty", f"easychamp:{queue}:drain"


def request(stream_id: str, stream_type: str, version: int = 0) -> None:
    """The append listener: mark the stream dirty; enqueue a drain unless one is pending."""
    dirty, flag = _keys()
    try:
        pipe = _redis().pipeline(transaction=False)
        pipe.sadd(dirty, f"{stream_type}{_SEPARATOR}{stream_id}")
        pipe.set(flag, b"1", nx=True, ex=FLAG_TTL_SECONDS)
        _, first = pipe.execute()
    except redis.RedisError:
        enqueue(stream_id, stream_type)  # cannot coalesce: wake this stream directly
        return
    if first:
        enqueue_drain()
    else:
        metrics.wakeups.labels("coalesced").inc()


def start_drain() -> list[tuple[str, str]]:
    """Called by a drain before each batch: clear the flag, then pop dirty streams.

    Clearing first means a stream marked after the pop enqueues a new drain."""
    dirty, flag = _keys()
    try:
        pipe = _redis().pipeline(transaction=False)
        pipe.delete(flag)
        pipe.spop(dirty, 100)
        _, popped = pipe.execute()
    except redis.RedisError:
        logger.warning("could not read the dirty streams", exc_info=True)
        return []
    streams = []
    for item in popped or []:
        stream_type, _, stream_id = item.decode().partition(_SEPARATOR)
        streams.append((stream_id, stream_type))
    return streams


def enqueue_drain() -> bool:
    from events.tasks import drain_task

    return _send(lambda: drain_task.apply_async(retry=False), "the dirty streams")


def enqueue(
    stream_id: str,
    stream_type: str,
    *,
    subscription: str | None = None,
    countdown: float | None = None,
) -> bool:
    """Send a delivery task for one stream. Never raises: the sweeper covers a lost one."""
    from events.tasks import deliver_stream_task

    return _send(
        lambda: deliver_stream_task.apply_async(
            args=(stream_id, stream_type, subscription), countdown=countdown or 0, retry=False
        ),
        stream_id,
    )


def _send(publish: object, what: str) -> bool:
    try:
        publish()  # type: ignore[operator]
    except Exception:  # the broker boundary: counted and logged, never fails a command
        metrics.wakeups.labels("failed").inc()
        logger.warning("could not enqueue a wake-up for %s", what, exc_info=True)
        return False
    metrics.wakeups.labels("enqueued").inc()
    return True
