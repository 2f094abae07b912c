"""Celery tasks of the event store: drain dirty streams, deliver one stream, sweep."""

from __future__ import annotations

import time

from celery import shared_task

from events import delivery, sweeper, wakeup

BUSY_RETRY_SECONDS = 0.25
DRAIN_MAX_SECONDS = 5.0


def _follow_up(stream_id: str, stream_type: str, result: delivery.StreamResult) -> None:
    """Schedule what one delivery pass could not finish."""
    if result.more:
        # Hit the per-pass cap: let other streams have the worker, then go on.
        wakeup.enqueue(stream_id, stream_type)
    for name in result.busy:
        # Another worker held the pair for long and may have read the stream before our
        # events committed: come back shortly rather than lose them.
        wakeup.enqueue(stream_id, stream_type, subscription=name, countdown=BUSY_RETRY_SECONDS)
    for name, delay in result.retry_in.items():
        wakeup.enqueue(stream_id, stream_type, subscription=name, countdown=delay)


@shared_task(name="events.drain", ignore_result=True, acks_late=True)
def drain_task() -> int:
    """Deliver dirty streams until none is left (or, to share the worker, for a while)."""
    deadline = time.monotonic() + DRAIN_MAX_SECONDS
    delivered = 0
    while streams := wakeup.start_drain():
        for stream_id, stream_type in streams:
            result = delivery.deliver_stream(stream_id, stream_type)
            _follow_up(stream_id, stream_type, result)
            delivered += result.delivered
        if time.monotonic() > deadline:
            wakeup.enqueue_drain()  # the flag is clear: nothing else may have sent one
            break
    return delivered


@shared_task(name="events.deliver_stream", ignore_result=True, acks_late=True)
def deliver_stream_task(stream_id: str, stream_type: str, subscription: str | None = None) -> int:
    """Deliver one stream's pending events (retries, the sweeper, Redis unreachable)."""
    result = delivery.deliver_stream(stream_id, stream_type, only=subscription)
    _follow_up(stream_id, stream_type, result)
    return result.delivered


@shared_task(name="events.sweep", ignore_result=True)
def sweep_task() -> int:
    """Re-wake every (subscription, stream) that has been behind for a few seconds."""
    return sweeper.sweep()
