"""Wake-ups: after a commit, get a worker to deliver the stream that was written.

The database is the source of truth; a wake-up is only a hint, and losing one only
delays delivery until the sweeper notices.

Wake-ups coalesce in Redis, per Celery queue: the writer adds the stream to a sorted set
of dirty streams (scored by when it was first marked, so the oldest are delivered first)
and, only if no drain is pending or running (``SET NX`` on a flag), enqueues an
``events.drain`` task. So a burst of N events costs one task, not N.

The drain that holds the flag (the owner) pops batches of dirty streams and delivers
them. When none is left it waits on the set (``BZPOPMIN``) for a moment before it gives
up, so under a steady load it stays in its loop and writers send no task at all: a
commit costs one Redis round trip, and its stream is delivered as soon as the owner
sees it. To give up, the owner clears the flag and looks once more; a stream marked in
between either finds the flag clear (and its writer enqueues a new drain) or is seen by
that last look. An owner that has run for a while hands the flag to a new drain task at
the back of the queue, so other tasks get the worker. When streams queue up (the owner
finds several dirty at once), it makes sure one helper drain runs and puts half of them
back for it: a second worker delivers them in parallel, takes no flag, and stops when
none has come for a moment or when it has run for a while. A drain that fails puts the
streams it had not delivered back and drops its flag.

Wake-ups are sent by a notifier thread in each process, so a commit never waits for
Redis or the broker (one Redis round trip per commit cost a third of the append rate),
and the commits that arrive while it sends are batched into the next round trip. A
process that dies with wake-ups not yet sent leaves them to the sweeper, and so does a
drain owner that dies (its flag expires within 3 s; until then writers rely on it).

Where Redis is unreachable, each stream gets an ``events.deliver_stream`` task instead;
where the broker is unreachable, the commit has succeeded all the same.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import threading
import time
from functools import lru_cache

import redis
from django.conf import settings

from easychamp.celery import app as celery_app
from events import metrics

logger = logging.getLogger(__name__)

# The flag of a drain waiting in the queue lasts long; a running owner re-asserts its
# flag on every pop, so a dead owner's expires within seconds.
FLAG_TTL_SECONDS = 30
OWNER_TTL_SECONDS = 3
HELPER_TTL_SECONDS = 30  # a helper deletes its flag when it stops; a dead one's expires
BATCH = 100  # dirty streams popped at a time
_SEPARATOR = "\t"


@lru_cache(maxsize=1)
def _redis() -> redis.Redis:
    return redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=0.5, socket_timeout=0.5, health_check_interval=30
    )


@lru_cache(maxsize=1)
def _blocking_redis() -> redis.Redis:
    """For BZPOPMIN: its reply may take as long as the wait it asks for."""
    return redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=0.5, socket_timeout=5, health_check_interval=30
    )


def _keys() -> tuple[str, str, str]:
    """(dirty streams, drain flag, helper flag) of the current default queue.

    Per queue: workers of another queue (a test run, a benchmark) never drain ours."""
    queue = celery_app.conf.task_default_queue
    prefix = f"easychamp:{queue}"
    return f"{prefix}:streams", f"{prefix}:drain", f"{prefix}:helper"


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
    dirty, flag, _ = _keys()
    now = time.time()
    try:
        pipe = _redis().pipeline(transaction=False)
        pipe.zadd(
            dirty, {_member(sid, stream_type): now for sid, stream_type in batch.items()}, nx=True
        )
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


def _member(stream_id: str, stream_type: str) -> str:
    return f"{stream_type}{_SEPARATOR}{stream_id}"


def take(*, owner: bool, wait: float = 0.0) -> list[tuple[str, str]]:
    """Pop up to ``BATCH`` dirty streams, oldest first, as (stream_id, stream_type).

    The owner re-asserts its flag on the way. With ``wait``, when none is dirty, block up
    to that many seconds for the next one."""
    dirty, flag, _ = _keys()
    try:
        pipe = _redis().pipeline(transaction=False)
        if owner:
            pipe.set(flag, b"1", ex=OWNER_TTL_SECONDS)
        pipe.zpopmin(dirty, BATCH)
        popped = [member for member, _ in pipe.execute()[-1]]
        if not popped and wait > 0:
            found = _blocking_redis().bzpopmin(dirty, timeout=wait)
            popped = [found[1]] if found else []
    except redis.RedisError:
        logger.warning("could not read the dirty streams", exc_info=True)
        return []
    streams = []
    for item in popped:
        stream_type, _, stream_id = item.decode().partition(_SEPARATOR)
        streams.append((stream_id, stream_type))
    return streams


def release() -> bool:
    """The owner gives up its flag. True if streams were marked meanwhile and it took
    the flag back: it must go on draining."""
    dirty, flag, _ = _keys()
    try:
        pipe = _redis().pipeline(transaction=False)
        pipe.delete(flag)
        pipe.zcard(dirty)
        _, waiting = pipe.execute()
        return bool(waiting) and bool(_redis().set(flag, b"1", nx=True, ex=OWNER_TTL_SECONDS))
    except redis.RedisError:
        logger.warning("could not release the drain flag", exc_info=True)
        return False


def hand_over() -> bool:
    """The owner passes its flag to a new drain task at the back of the queue.

    False if no task could be sent: the owner keeps its flag and goes on."""
    with contextlib.suppress(redis.RedisError):
        _redis().set(_keys()[1], b"1", ex=FLAG_TTL_SECONDS)  # it may wait in the queue
    return enqueue_drain()


def give_up() -> None:
    """The owner drops its flag without looking again (it failed, or its worker stops):
    the next commit sends a new drain, and the sweeper covers streams left dirty."""
    with contextlib.suppress(redis.RedisError):
        _redis().delete(_keys()[1])


def put_back(streams: list[tuple[str, str]]) -> None:
    """Return popped streams to the dirty set, ahead of the others (a drain that failed
    before delivering them, or an owner sharing them with its helper)."""
    if not streams:
        return
    with contextlib.suppress(redis.RedisError):
        _redis().zadd(_keys()[0], {_member(sid, stream_type): 0 for sid, stream_type in streams})


def request_helper() -> bool:
    """Make sure one more drain runs beside the owner: True if one is running, pending
    or was just sent."""
    _, _, helper = _keys()
    try:
        if not _redis().set(helper, b"1", nx=True, ex=HELPER_TTL_SECONDS):
            return True  # there is one already
    except redis.RedisError:
        return False
    if enqueue_drain(helper=True):
        return True
    with contextlib.suppress(redis.RedisError):
        _redis().delete(helper)
    return False


def helper_done() -> None:
    """A helper stopped: the owner may ask for another one."""
    with contextlib.suppress(redis.RedisError):
        _redis().delete(_keys()[2])


def enqueue_drain(*, helper: bool = False) -> bool:
    from events.tasks import drain_task

    return _send(
        lambda: drain_task.apply_async(kwargs={"helper": True} if helper else {}, retry=False),
        "the dirty streams",
    )


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
