"""Celery tasks of the event store: drain dirty streams, deliver one stream, sweep."""

from __future__ import annotations

import time

from celery import shared_task

from events import delivery, sweeper, wakeup

BUSY_RETRY_SECONDS = 0.25
DRAIN_MAX_SECONDS = 5.0
# How long an owner drain waits for the next dirty stream before it gives up: far longer
# than the gaps of a steady load, far shorter than anything a worker should be held for.
LINGER_SECONDS = 0.2
# Streams found dirty at once that tell the owner it is falling behind: it asks for a
# helper, so a second worker shares the load (and the CPU) until the backlog is gone.
HELPER_AFTER = 4


def _follow_up(stream_id: str, stream_type: str, result: delivery.StreamResult) -> None:
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


@shared_task(name="events.drain", ignore_result=True, acks_late=True)
def drain_task(helper: bool = False) -> int:
    """Deliver dirty streams (see ``events.wakeup``) until none has come for a moment.

    The owner holds the drain flag, asks for a helper when streams queue up, and after
    ``DRAIN_MAX_SECONDS`` hands the flag to a new task; a helper delivers beside it and
    stops at that time."""
    if helper:
        wakeup.helper_started()
    deadline = time.monotonic() + DRAIN_MAX_SECONDS
    delivered = 0
    while True:
        streams = wakeup.take(owner=not helper, wait=LINGER_SECONDS)
        if not streams:
            if helper or not wakeup.release():
                return delivered
            continue
        if not helper and len(streams) >= HELPER_AFTER:
            wakeup.request_helper()
        for stream_id, stream_type in streams:
            result = delivery.deliver_stream(stream_id, stream_type)
            _follow_up(stream_id, stream_type, result)
            delivered += result.delivered
        if time.monotonic() > deadline:
            if helper or wakeup.hand_over():
                return delivered
            deadline = time.monotonic() + DRAIN_MAX_SECONDS  # no broker: keep draining


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
