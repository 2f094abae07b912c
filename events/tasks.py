"""Celery tasks of the event store: drain dirty streams, deliver one stream, sweep.

Each takes ids and calls one function; the wake-up protocol is in docs/wakeups.md."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from events import delivery, feed, sweeper
from events.drain import Drain, follow_up


@shared_task(name="events.drain", bind=True, ignore_result=True, acks_late=True)
def drain_task(self: Any, helper: bool = False) -> int:
    """Deliver dirty streams until none has come for a moment: as the owner (the task a
    writer, the sweeper or a previous owner sent) or as a helper (sent by an owner; its
    task id is its slot)."""
    if helper:
        return Drain.helper(slot=self.request.id or "").run()
    return Drain.owner().run()


@shared_task(name="events.deliver_stream", ignore_result=True, acks_late=True)
def deliver_stream_task(stream_id: str, stream_type: str, subscription: str | None = None) -> int:
    """Deliver one stream's pending events (retries, Redis unreachable)."""
    result = delivery.deliver_stream(stream_id, stream_type, only=subscription)
    follow_up(stream_id, stream_type, result)
    return result.delivered


@shared_task(name="events.sweep", ignore_result=True)
def sweep_task() -> int:
    """Wake every (subscription, stream) that has been behind for a few seconds."""
    return sweeper.sweep()


@shared_task(name="events.sequence_feed", ignore_result=True)
def sequence_feed_task() -> int:
    """Keep the global feed current when nobody reads it (readers sequence too)."""
    return feed.sequence()
