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

Wake-ups are sent by a notifier thread in each process, so a commit never waits for
Redis or the broker (one Redis round trip per commit cost a third of the append rate),
and the commits that arrive while it sends are batched into the next round trip. A
process that dies with wake-ups not yet sent leaves them to the sweeper.

Where Redis is unreachable, each stream gets an ``events.deliver_stream`` task instead;
where the broker is unreachable, the commit has succeeded all the same.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import threading
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
    """The append listener: hand the stream to this process's notifier thread.

    The commit returns at once; the notifier marks streams dirty in Redis (one round trip
    for every commit that came in meanwhile) and enqueues a drain when none is pending."""
    _notifier().add(stream_id, stream_type)


def flush(timeout: float = 5.0) -> bool:
    """Wait until every requested wake-up has been sent (tests, shutdown)."""
    return _notifier().flush(timeout)


class _Notifier:
    """A daemon thread per process that sends wake-ups off the committing thread."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self._lock = threading.Lock()
        self._pending: dict[str, str] = {}
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._thread = threading.Thread(target=self._run, name="easychamp-wakeup", daemon=True)
        self._thread.start()
        # A short-lived process (a management command) sends its wake-ups before exiting.
        atexit.register(self.flush, 5.0)

    def add(self, stream_id: str, stream_type: str) -> None:
        with self._lock:
            self._pending[stream_id] = stream_type
            self._idle.clear()
        self._wake.set()

    def flush(self, timeout: float) -> bool:
        return self._idle.wait(timeout)

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            with self._lock:
                batch, self._pending = self._pending, {}
            try:
                if batch:
                    _mark_dirty(batch)
            except Exception:  # the thread must outlive any one failure; counted below
                metrics.wakeups.labels("failed").inc()
                logger.exception("wake-up notifier failed; the sweeper will deliver")
            with self._lock:
                if not self._pending:
                    self._idle.set()


_current: _Notifier | None = None
_current_lock = threading.Lock()


def _notifier() -> _Notifier:
    global _current
    notifier = _current
    if notifier is None or notifier.pid != os.getpid():  # none yet, or we were forked
        with _current_lock:
            if _current is None or _current.pid != os.getpid():
                _current = _Notifier()
            notifier = _current
    return notifier


def _mark_dirty(batch: dict[str, str]) -> None:
    dirty, flag = _keys()
    try:
        pipe = _redis().pipeline(transaction=False)
        pipe.sadd(dirty, *(f"{stream_type}{_SEPARATOR}{sid}" for sid, stream_type in batch.items()))
        pipe.set(flag, b"1", nx=True, ex=FLAG_TTL_SECONDS)
        _, first = pipe.execute()
    except redis.RedisError:
        for stream_id, stream_type in batch.items():
            enqueue(stream_id, stream_type)  # cannot coalesce: wake each stream directly
        return
    if not first:
        metrics.wakeups.labels("coalesced").inc()
    elif not enqueue_drain():
        # No drain is on its way: let the next commit try again instead of waiting for
        # the flag to expire (the sweeper delivers these streams meanwhile).
        with contextlib.suppress(redis.RedisError):
            _redis().delete(flag)


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
