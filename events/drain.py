"""The drain: what one ``events.drain`` task does (the protocol is in docs/wakeups.md).

A drain is an owner (it holds the queue's drain flag, so writers send no task while it
runs, and it recruits helpers when streams queue up) or a helper (it holds a helper
slot and delivers beside the owner). Both pop their share of the dirty streams and
deliver them until none has come for a moment or their time is up.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import os
import time
import uuid
from collections.abc import Callable

import redis
from celery.worker import state as worker_state

from events import delivery, wakeup
from events.wakeup import Stream

logger = logging.getLogger(__name__)

DRAIN_MAX_SECONDS = 5.0
# How long a drain waits for the next dirty stream before it gives up: far longer than
# the gaps of a steady load, far shorter than anything a worker should be held for.
LINGER_SECONDS = 0.2
# Most streams one pop takes (a drain's share of the backlog is often fewer).
TAKE_MAX = 100
# One helper per this many dirty streams, up to ``wakeup.max_helpers()``: a backlog
# brings as many worker processes as it can keep busy (one at a time, each once the one
# before has started), a trickle none.
STREAMS_PER_HELPER = 4
BUSY_RETRY_SECONDS = 0.25


class Role(enum.Enum):
    OWNER = "owner"  # holds the flag; recruits helpers; hands the flag over when done
    HELPER = "helper"  # holds a slot; stops when nothing comes or its time is up
    STOPPED = "stopped"


class Drain:
    """One drain task's state and its transitions."""

    def __init__(
        self,
        role: Role,
        *,
        slot: str = "",
        deliver: Callable[[list[Stream]], int] | None = None,
    ) -> None:
        self.role = role
        self.is_helper = role is Role.HELPER
        self.slot = slot or uuid.uuid4().hex
        self.deliver = deliver or deliver_streams
        self.keys = wakeup.drain_keys()
        self.delivered = 0
        self.deadline = time.monotonic() + DRAIN_MAX_SECONDS

    @classmethod
    def owner(cls, deliver: Callable[[list[Stream]], int] | None = None) -> Drain:
        return cls(Role.OWNER, deliver=deliver)

    @classmethod
    def helper(cls, slot: str = "", deliver: Callable[[list[Stream]], int] | None = None) -> Drain:
        return cls(Role.HELPER, slot=slot, deliver=deliver)

    def run(self) -> int:
        """Deliver until stopped; returns how many events were delivered."""
        try:
            while self.role is not Role.STOPPED:
                streams = self.take(wait=LINGER_SECONDS)
                if not streams:
                    self.out_of_work()
                    continue
                self.delivered += self.deliver(streams)
                stopping = worker_stopping()
                if stopping or time.monotonic() > self.deadline:
                    self.time_up(stopping=stopping)
        except Exception:
            self.fail()
            raise
        finally:
            if self.is_helper:
                self.free_slot()
        if self.delivered:
            logger.info("drain delivered %s event(s) in process %s", self.delivered, os.getpid())
        return self.delivered

    def take(self, wait: float = 0.0) -> list[Stream]:
        """Pop this drain's share of the dirty streams, oldest first; an owner sends one
        more helper if the backlog calls for it and the last one sent has started. With
        ``wait``, when none is dirty, block up to that many seconds for the next one."""
        role = "owner" if self.role is Role.OWNER else "helper"
        ttl = wakeup.OWNER_TTL_SECONDS if self.role is Role.OWNER else wakeup.HELPER_TTL_SECONDS
        most = wakeup.max_helpers()
        keys = self.keys
        try:
            reply = wakeup.scripts().take(
                keys=[keys.dirty, keys.flag, keys.helpers],
                args=[
                    *(role, ttl, self.slot, TAKE_MAX, most, STREAMS_PER_HELPER),
                    wakeup.HELPER_TTL_SECONDS,
                ],
            )
            backlog, helpers, pending = int(reply[0]), int(reply[1]), int(reply[2])
            popped = list(reply[3:])
            # One more helper at a time, once the last one sent has started: never more
            # helper tasks waiting in the queue than there are idle worker processes.
            wanted = min(most, backlog // STREAMS_PER_HELPER)
            if self.role is Role.OWNER and not pending and helpers < wanted:
                self.recruit(1)
            if not popped and wait > 0:
                found = wakeup.blocking_redis_client().bzpopmin(keys.dirty, timeout=wait)
                popped = [found[1]] if found else []
        except redis.RedisError:
            logger.warning("could not read the dirty streams", exc_info=True)
            return []
        return [wakeup.parse_member(member) for member in popped]

    def recruit(self, count: int) -> int:
        """Send ``count`` helper drains, each holding a slot from now on; returns how
        many were sent."""
        if count <= 0:
            return 0
        slots = [uuid.uuid4().hex for _ in range(count)]
        try:
            wakeup.scripts().reserve_slots(
                keys=[self.keys.helpers], args=[wakeup.PENDING_HELPER_TTL_SECONDS, *slots]
            )
        except redis.RedisError:
            return 0
        sent = [slot for slot in slots if wakeup.enqueue_drain(helper_slot=slot)]
        unsent = set(slots) - set(sent)
        if unsent:
            with contextlib.suppress(redis.RedisError):
                wakeup.redis_client().zrem(self.keys.helpers, *unsent)
        return len(sent)

    def out_of_work(self) -> None:
        """Nothing came while it waited. A helper stops; the owner clears its flag and
        looks once more, and goes on if streams were marked meanwhile."""
        if self.role is Role.OWNER and self.release():
            return
        self.role = Role.STOPPED

    def release(self) -> bool:
        """The owner gives up its flag. True if streams were marked meanwhile and it took
        the flag back: it must go on draining."""
        try:
            return bool(
                wakeup.scripts().release(
                    keys=[self.keys.dirty, self.keys.flag], args=[wakeup.OWNER_TTL_SECONDS]
                )
            )
        except redis.RedisError:
            logger.warning("could not release the drain flag", exc_info=True)
            return False

    def time_up(self, *, stopping: bool) -> None:
        """Its time is up, or its worker is stopping. A helper stops; the owner hands
        the flag to a new drain at the back of the queue, so other tasks get the worker,
        and without a broker keeps draining unless its worker is stopping."""
        if self.role is Role.HELPER or self.hand_over():
            self.role = Role.STOPPED
        elif stopping:
            self.give_up()
        else:
            self.deadline = time.monotonic() + DRAIN_MAX_SECONDS

    def hand_over(self) -> bool:
        """Pass the flag to a new owner task. False if none could be sent."""
        with contextlib.suppress(redis.RedisError):
            # The successor may wait in the queue: its flag lasts longer than ours.
            wakeup.redis_client().set(self.keys.flag, b"1", ex=wakeup.FLAG_TTL_SECONDS)
        return wakeup.enqueue_drain()

    def give_up(self) -> None:
        """Drop the flag without looking again (the drain failed, or its worker stops):
        the next commit sends a new drain, and the sweeper covers streams left dirty."""
        if self.role is Role.OWNER:
            with contextlib.suppress(redis.RedisError):
                wakeup.redis_client().delete(self.keys.flag)
        self.role = Role.STOPPED

    def fail(self) -> None:
        """A delivery raised (the database went away): the undelivered streams were put
        back by ``deliver_streams``; the owner drops its flag."""
        self.give_up()

    def free_slot(self) -> None:
        """A helper stopped: its slot is free for the owner to fill again."""
        with contextlib.suppress(redis.RedisError):
            wakeup.redis_client().zrem(self.keys.helpers, self.slot)


def deliver_streams(streams: list[Stream]) -> int:
    """Deliver each stream; on a failure the streams not yet delivered go back into
    the dirty set (they were popped) and the error propagates."""
    delivered = 0
    for index, (stream_id, stream_type) in enumerate(streams):
        try:
            result = delivery.deliver_stream(stream_id, stream_type)
        except Exception:
            wakeup.put_back(streams[index:])
            raise
        follow_up(stream_id, stream_type, result)
        delivered += result.delivered
    return delivered


def follow_up(stream_id: str, stream_type: str, result: delivery.StreamResult) -> None:
    """Schedule what one delivery pass could not finish."""
    if result.more:
        # Hit the per-pass cap: back into the dirty set, behind the streams waiting now.
        wakeup.request(stream_id, stream_type)
    for name in result.busy:
        # Another worker held the pair for long and may have read the stream before our
        # events committed: come back shortly rather than lose them.
        wakeup.enqueue(stream_id, stream_type, subscription=name, countdown=BUSY_RETRY_SECONDS)
    for name, delay in result.retry_in.items():
        wakeup.enqueue(stream_id, stream_type, subscription=name, countdown=delay)


def worker_stopping() -> bool:
    """A warm or cold shutdown was asked for (seen in a solo or threads pool)."""
    return bool(worker_state.should_stop or worker_state.should_terminate)
