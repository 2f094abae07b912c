"""Celery tasks of the event store: deliver a stream, sweep for lagging subscriptions."""

from __future__ import annotations

from celery import shared_task

from events import delivery, sweeper, wakeup

BUSY_RETRY_SECONDS = 0.25


@shared_task(name="events.deliver_stream", ignore_result=True, acks_late=True)
def deliver_stream_task(stream_id: str, stream_type: str, subscription: str | None = None) -> int:
    """Deliver a stream's pending events; reschedule what could not be done now."""
    if subscription is None:
        wakeup.clear(stream_id)
    result = delivery.deliver_stream(stream_id, stream_type, only=subscription)
    if result.more:
        # Hit the per-task cap: let other streams have the worker, then go on.
        wakeup.enqueue(stream_id, stream_type)
    for name in result.busy:
        # Another worker holds the pair and may have read the stream before our events
        # committed: come back shortly rather than lose them.
        wakeup.enqueue(stream_id, stream_type, subscription=name, countdown=BUSY_RETRY_SECONDS)
    for name, delay in result.retry_in.items():
        wakeup.enqueue(stream_id, stream_type, subscription=name, countdown=delay)
    return result.delivered


@shared_task(name="events.sweep", ignore_result=True)
def sweep_task() -> int:
    """Re-wake every (subscription, stream) that has been behind for a few seconds."""
    return sweeper.sweep()
