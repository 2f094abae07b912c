"""Wake-ups: after a commit, get a worker to deliver the stream that was written.

The database is the source of truth; a wake-up is only a hint, and losing one only
delays delivery until the sweeper notices. The protocol (the dirty set, the drain flag,
the helper slots, who sends which task) is described once, in ``docs/wakeups.md``.

This module is the committing side and the Redis keys: ``request`` (the append
listener) hands a stream to the process's notifier thread, which marks it dirty and
sends an ``events.drain`` task when none is pending. ``events.drain`` is the draining
side. Tasks are sent by name through ``celery.current_app``, so this module imports no
task module and knows nothing of the project it runs in.

Process-wide state, all of it here and nowhere else in ``events/``:

- ``_process``: this process's Redis clients and notifier thread (``_Process``), made on
  first use and made again after a fork (a forked child must not share sockets or a
  thread it does not have).
- the append listener ``request``, registered by ``EventsConfig.ready`` when the
  ``EVENTS_WAKE_ON_COMMIT`` setting is on (``store.on_append_committed``).
- the settings read: ``REDIS_URL``, ``EVENTS_DRAIN_MAX_HELPERS``, and the Celery app's
  ``task_default_queue`` (the keys are per queue).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import redis
from celery import current_app
from django.conf import settings

from events import metrics

logger = logging.getLogger(__name__)

Stream = tuple[str, str]  # (stream_id, stream_type)

# A pending drain's flag lasts long (its task may wait in the queue); a running owner
# re-asserts a short one on every pop, so a dead owner's expires within seconds.
FLAG_TTL_SECONDS = 30
OWNER_TTL_SECONDS = 3
# A helper slot: longer while its task waits in the queue (the slot then counts as
# pending), short once it runs (refreshed on every pop), so a killed helper frees its
# slot within seconds.
PENDING_HELPER_TTL_SECONDS = 10
HELPER_TTL_SECONDS = 5
# The notifier sends at most one round trip per interval: commits arriving meanwhile
# share the next one. Far below a delivery's own latency.
NOTIFY_INTERVAL_SECONDS = 0.005
_SEPARATOR = "\t"

DRAIN_TASK = "events.drain"
DELIVER_STREAM_TASK = "events.deliver_stream"

_enqueued = metrics.wakeups.labels("enqueued")
_coalesced = metrics.wakeups.labels("coalesced")
_failed = metrics.wakeups.labels("failed")


@dataclass(frozen=True)
class DrainKeys:
    """The Redis keys of one Celery queue's wake-ups (see docs/wakeups.md).

    Per queue: workers of another queue (a test run, a benchmark) never drain ours."""

    dirty: str  # sorted set of "type<TAB>stream", scored by when first marked
    flag: str  # set while a drain owner runs or is pending
    helpers: str  # sorted set of helper slots (task ids), scored by when they expire

    def all(self) -> tuple[str, str, str]:
        return self.dirty, self.flag, self.helpers


def drain_keys(queue: str | None = None) -> DrainKeys:
    """The keys of ``queue`` (by default the Celery app's default queue)."""
    prefix = f"easychamp:{queue or current_app.conf.task_default_queue}"
    return DrainKeys(dirty=f"{prefix}:streams", flag=f"{prefix}:drain", helpers=f"{prefix}:helpers")


def max_helpers() -> int:
    """How many helper drains may run beside an owner (``EVENTS_DRAIN_MAX_HELPERS``)."""
    return int(getattr(settings, "EVENTS_DRAIN_MAX_HELPERS", 8))


# Every script reads Redis's own clock, so that scores and slot expiries from many
# machines compare. Dirty streams are scored by when they were first marked.
_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
"""
# Mark the streams; set the flag if none is set: 1 if this call set it (its caller
# sends a drain), 0 if a drain is pending or running already.
_MARK_DIRTY = (
    _NOW
    + """
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], 'NX', now, ARGV[i]) end
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[1]) then return 1 end
return 0
"""
)
# The sweeper's: mark the streams and set the flag whatever it was.
_MARK_BEHIND = (
    _NOW
    + """
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], 'NX', now, ARGV[i]) end
redis.call('SET', KEYS[2], '1', 'EX', ARGV[1])
return 1
"""
)
# A drain's pop (docs/wakeups.md). KEYS: dirty, flag, helpers. ARGV: role, ttl, slot,
# most to take, most helpers, dirty streams per helper, a running helper's ttl. The
# owner re-asserts its flag, a helper its slot; expired slots are dropped. A drain takes
# its share of the backlog (split over the owner and the helpers running or wanted), so
# that no drain sits on streams another could deliver. Returns {backlog, live helpers,
# pending helpers (slots not yet refreshed by a running helper), members...}.
_TAKE = (
    _NOW
    + """
if ARGV[1] == 'owner' then
  redis.call('SET', KEYS[2], '1', 'EX', ARGV[2])
else
  redis.call('ZADD', KEYS[3], now + tonumber(ARGV[2]), ARGV[3])
end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
local backlog = redis.call('ZCARD', KEYS[1])
local helpers = redis.call('ZCARD', KEYS[3])
local pending = redis.call('ZCOUNT', KEYS[3], '(' .. (now + tonumber(ARGV[7])), '+inf')
local wanted = math.min(tonumber(ARGV[5]), math.floor(backlog / tonumber(ARGV[6])))
local share = math.ceil(backlog / (1 + math.max(helpers, wanted)))
local result = {backlog, helpers, pending}
if share > 0 then
  local popped = redis.call('ZPOPMIN', KEYS[1], math.min(share, tonumber(ARGV[4])))
  for i = 1, #popped, 2 do result[#result + 1] = popped[i] end
end
return result
"""
)
# A helper slot, held from when its task is sent (long, it may wait in the queue).
_RESERVE_SLOTS = (
    _NOW
    + """
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[i]) end
return 1
"""
)
# The owner gives up: clear the flag and look once more. 1 if streams were marked
# meanwhile and it took the flag back (it must go on draining).
_RELEASE = """
redis.call('DEL', KEYS[2])
if redis.call('ZCARD', KEYS[1]) > 0 and redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[1]) then
  return 1
end
return 0
"""


class _Scripts:
    def __init__(self, client: redis.Redis) -> None:
        self.mark_dirty = client.register_script(_MARK_DIRTY)
        self.mark_behind = client.register_script(_MARK_BEHIND)
        self.take = client.register_script(_TAKE)
        self.reserve_slots = client.register_script(_RESERVE_SLOTS)
        self.release = client.register_script(_RELEASE)


def scripts() -> _Scripts:
    """The wake-up protocol's Redis scripts, on this process's client."""
    return _current().scripts


class _Process:
    """This process's Redis clients and notifier thread (see the module docstring)."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.redis = redis.Redis.from_url(
            settings.REDIS_URL,
            socket_connect_timeout=0.5,
            socket_timeout=0.5,
            health_check_interval=30,
        )
        # For BZPOPMIN: its reply may take as long as the wait it asks for.
        self.blocking_redis = redis.Redis.from_url(
            settings.REDIS_URL,
            socket_connect_timeout=0.5,
            socket_timeout=5,
            health_check_interval=30,
        )
        self.scripts = _Scripts(self.redis)
        self._notifier: _Notifier | None = None
        self._lock = threading.Lock()

    def notifier(self) -> _Notifier:
        notifier = self._notifier
        if notifier is None:
            with self._lock:
                if self._notifier is None:
                    self._notifier = _Notifier()
                notifier = self._notifier
        return notifier


_process: _Process | None = None
_process_lock = threading.Lock()


def _current() -> _Process:
    process = _process
    if process is None or process.pid != os.getpid():
        process = _renew()
    return process


def _renew() -> _Process:
    global _process
    with _process_lock:
        if _process is None or _process.pid != os.getpid():  # none yet, or we were forked
            _process = _Process()
        return _process


def reset() -> None:
    """Forget this process's Redis clients (tests that point REDIS_URL elsewhere)."""
    global _process
    with _process_lock:
        _process = None


def redis_client() -> redis.Redis:
    """This process's Redis client for wake-ups (short timeouts: Redis is best effort)."""
    return _current().redis


def blocking_redis_client() -> redis.Redis:
    """The client for blocking pops, whose socket timeout exceeds any wait asked for."""
    return _current().blocking_redis


# The committing side.


def request(stream_id: str, stream_type: str, version: int = 0) -> None:
    """The append listener: hand the stream to this process's notifier thread.

    The commit returns at once; the notifier marks streams dirty in Redis (one round trip
    for every commit that came in meanwhile) and enqueues a drain when none is pending."""
    _current().notifier().add(stream_id, stream_type)


def flush(timeout: float = 5.0) -> bool:
    """Wait until every requested wake-up has been sent (tests, shutdown)."""
    return _current().notifier().flush(timeout)


class _Notifier:
    """A daemon thread per process that sends wake-ups off the committing thread.

    A commit costs a dict insert under a lock: only the first commit after a round trip
    wakes the thread (a stream already waiting is not added twice), and the thread sends
    at most one round trip per ``NOTIFY_INTERVAL_SECONDS``."""

    def __init__(self) -> None:
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
            pending = self._pending
            if stream_id in pending:
                return
            pending[stream_id] = stream_type
            if len(pending) > 1:
                return  # the first one woke the thread, which has not taken them yet
            self._idle.clear()
        self._wake.set()

    def flush(self, timeout: float) -> bool:
        return self._idle.wait(timeout)

    def _run(self) -> None:
        last = 0.0
        while True:
            self._wake.wait()
            pause = last + NOTIFY_INTERVAL_SECONDS - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            self._wake.clear()
            with self._lock:
                batch, self._pending = self._pending, {}
            last = time.monotonic()
            try:
                if batch:
                    _mark_dirty(batch)
            except Exception:  # the thread must outlive any one failure; counted below
                _failed.inc()
                logger.exception("wake-up notifier failed; the sweeper will deliver")
            with self._lock:
                if not self._pending:
                    self._idle.set()


def _mark_dirty(batch: dict[str, str]) -> None:
    keys = drain_keys()
    members = [_member(stream_id, stream_type) for stream_id, stream_type in batch.items()]
    try:
        first = scripts().mark_dirty(
            keys=[keys.dirty, keys.flag], args=[FLAG_TTL_SECONDS, *members]
        )
    except redis.RedisError:
        for stream_id, stream_type in batch.items():
            enqueue(stream_id, stream_type)  # cannot coalesce: wake each stream directly
        return
    if not first:
        _coalesced.inc()
    elif not enqueue_drain():
        # No drain is on its way: let the next commit try again instead of waiting for
        # the flag to expire (the sweeper delivers these streams meanwhile).
        with contextlib.suppress(redis.RedisError):
            _current().redis.delete(keys.flag)


def wake_behind(streams: Iterable[Stream]) -> bool:
    """The sweeper's wake-up: mark these streams dirty and send a drain whatever the flag
    says (a stale flag, left by a drain that was lost, must not strand them).

    One Redis round trip and one task. False if Redis or the broker is unreachable."""
    keys = drain_keys()
    members = [_member(stream_id, stream_type) for stream_id, stream_type in streams]
    if not members:
        return True
    try:
        scripts().mark_behind(keys=[keys.dirty, keys.flag], args=[FLAG_TTL_SECONDS, *members])
    except redis.RedisError:
        logger.warning("could not mark the streams behind dirty", exc_info=True)
        return False
    if enqueue_drain():
        return True
    with contextlib.suppress(redis.RedisError):
        _current().redis.delete(keys.flag)
    return False


def _member(stream_id: str, stream_type: str) -> str:
    return f"{stream_type}{_SEPARATOR}{stream_id}"


def parse_member(member: bytes | str) -> Stream:
    text = member.decode() if isinstance(member, bytes) else member
    stream_type, _, stream_id = text.partition(_SEPARATOR)
    return stream_id, stream_type


def put_back(streams: list[Stream]) -> None:
    """Return popped streams to the dirty set, ahead of the others (a drain that failed
    before delivering them)."""
    if not streams:
        return
    with contextlib.suppress(redis.RedisError):
        _current().redis.zadd(drain_keys().dirty, {_member(s, t): 0 for s, t in streams})


# Sending tasks, by name.


def enqueue_drain(*, helper_slot: str | None = None) -> bool:
    """Send an ``events.drain`` task: an owner, or the helper holding ``helper_slot``
    (the slot is its task id)."""
    if helper_slot is None:
        return _send(DRAIN_TASK, "the dirty streams", kwargs={})
    return _send(DRAIN_TASK, "the dirty streams", kwargs={"helper": True}, task_id=helper_slot)


def enqueue(
    stream_id: str,
    stream_type: str,
    *,
    subscription: str | None = None,
    countdown: float | None = None,
) -> bool:
    """Send a delivery task for one stream. Never raises: the sweeper covers a lost one."""
    return _send(
        DELIVER_STREAM_TASK,
        stream_id,
        args=(stream_id, stream_type, subscription),
        countdown=countdown or 0,
    )


def _send(name: str, what: str, **options: Any) -> bool:
    try:
        current_app.send_task(name, retry=False, **options)
    except Exception:  # the broker boundary: counted and logged, never fails a command
        _failed.inc()
        logger.warning("could not enqueue a wake-up for %s", what, exc_info=True)
        return False
    _enqueued.inc()
    return True


# Inspection, for tests and operators: reads only.


def dirty_streams(queue: str | None = None) -> list[Stream]:
    """The streams marked dirty and not yet taken by a drain, oldest first."""
    members = _current().redis.zrange(drain_keys(queue).dirty, 0, -1)
    return [parse_member(member) for member in members if isinstance(member, bytes | str)]


def drain_flag_ttl(queue: str | None = None) -> int | None:
    """Seconds left on the drain flag; None when no drain is pending or running."""
    ttl = int(_current().redis.ttl(drain_keys(queue).flag))
    return ttl if ttl >= 0 else None


def helper_slots(queue: str | None = None) -> int:
    """Helper drains running or pending (slots not yet expired)."""
    client = _current().redis
    seconds, micros = client.time()
    return int(client.zcount(drain_keys(queue).helpers, seconds + micros / 1e6, "+inf"))


def clear(queue: str | None = None) -> None:
    """Forget the queue's wake-up keys (a test's or a benchmark's queue, dropped)."""
    _current().redis.delete(*drain_keys(queue).all())
