"""Celery tasks of the event store: drain dirty streams, deliver one stream, sweep."""

from __future__ import annotations

import time

from celery import shared_task
from celery.worker import state as worker_state

from events import delivery, feed, sweeper, wakeup

BUSY_RETRY_SECONDS = 0.25
DRAIN_MAX_SECONDS = 5.0
# How long an owner drain waits for the next dirty stream before it gives up: far longer
# than the gaps of a steady load, far shorter than anything a worker should be held for.
LINGER_SECONDS = 0.2
# Streams found dirty at once that tell the owner it is falling behind: it shares them
# with a helper, so a second worker takes half the load (and the CPU) until it is gone.
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

    The owner holds the drain flag, shares out streams that queue up with one helper,
    and after ``DRAIN_MAX_SECONDS`` (or when its worker is stopping) hands the flag to a
    new task; a helper delivers beside it and stops at that time."""
    deadline = time.monotonic() + DRAIN_MAX_SECONDS
    delivered = 0
    try:
        while True:
            streams = wakeup.take(owner=not helper, wait=LINGER_SECONDS)
            if not streams:
                if helper or not wakeup.release():
                    return delivered
                continue
            if not helper and len(streams) >= HELPER_AFTER and wakeup.request_helper():
                half = len(streams) // 2
                wakeup.put_back(streams[half:])
                streams = streams[:half]
            delivered += _deliver(streams)
            stopping = _worker_stopping()
            if stopping or time.monotonic() > deadline:
                if helper or wakeup.hand_over():
                    return delivered
                if stopping:
                    wakeup.give_up()
                    return delivered
                deadline = time.monotonic() + DRAIN_MAX_SECONDS  # no broker: keep draining
    except Exception:
        if not helper:
            wakeup.give_up()
        raise
    finally:
        if helper:
            wakeup.helper_done()


def _deliver(streams: list[tuple[str, str]]) -> int:
    delivered = 0
    for index, (stream_id, stream_type) in enumerate(streams):
        try:
            result = delivery.deliver_stream(stream_id, stream_type)
        except Exception:
            # The database went away, say: these were popped, so keep them dirty.
            wakeup.put_back(streams[index:])
            raise
        _follow_up(stream_id, stream_type, result)
        delivered += result.delivered
    return delivered


def _worker_stopping() -> bool:
    """A warm or cold shutdown was asked for (seen in a solo or threads pool)."""
    return bool(worker_state.should_stop or worker_state.should_terminate)


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


@shared_task(name="events.sequence_feed", ignore_result=True)
def sequence_feed_task() -> int:
    """Keep the global feed current when nobody reads it (readers sequence too)."""
    return feed.sequence()
