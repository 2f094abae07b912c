"""Events/s from commit to checkpoint through real Celery workers and the real broker.

1. Throughput: 20,000 events over 200 probe streams are committed while the workers
   (2, or ``--workers``) consume nothing (their wake-ups are queued as in normal
   operation); then the workers start consuming and deliver them to the probe
   projection. Baseline: as many no-op tasks, queued on the same broker and drained by
   the same workers. ``drain_processes``: how many worker processes applied events
   (each records its pid on the probe's rows).
2. Latency: a producer commits single events at a steady 300/s over 50 streams for 10 s
   while the workers run; lag = commit → the probe subscription's checkpoint passing
   that event (the time the worker stamps on the checkpoint row it advances).
"""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from amqp.exceptions import ChannelError
from django.conf import settings
from django.db import connection, connections, transaction

from bench.models import ProbeCounter
from bench.probe import SUBSCRIPTION, ProbeTicked
from bench.tasks import noop_task
from bench.workers import WorkerPool
from easychamp.celery import app as celery_app
from events import store
from events.models import Checkpoint, EventStream, StoredEvent
from events.purge import allow_event_purge

WORKERS = 2
STREAMS = 200
EVENTS = 20_000
BATCH = 10
LATENCY_STREAMS = 50
OFFERED_PER_S = 300
LATENCY_SECONDS = 10.0


def _checkpointed(prefix: str) -> int:
    return sum(
        Checkpoint.objects.filter(
            subscription=SUBSCRIPTION, stream_id__startswith=prefix
        ).values_list("version", flat=True)
    )


def _wait(condition: Callable[[], bool], timeout: float, what: str, every: float = 0.005) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(every)


def _drained(pool: WorkerPool, channel: Any) -> bool:
    """Nothing left in the queue, and no worker holding or running a task."""
    try:
        if channel.queue_declare(queue=pool.queue, passive=True).message_count:
            return False
    except ChannelError:
        pass  # Redis drops the key of an empty queue: nothing left

    inspect = celery_app.control.inspect(destination=pool.names, timeout=0.5)
    busy = [*(inspect.active() or {}).values(), *(inspect.reserved() or {}).values()]
    return not any(busy)


def _drain_processes(prefix: str) -> int:
    pids = ProbeCounter.objects.filter(stream_id__startswith=prefix).values_list("pids", flat=True)
    return len({pid for row in pids for pid in row})


def _throughput(pool: WorkerPool, prefix: str, log: Callable[[str], None]) -> float:
    per_stream = EVENTS // STREAMS
    versions = dict.fromkeys(range(STREAMS), 0)
    for _ in range(per_stream // BATCH):
        for s in range(STREAMS):
            with transaction.atomic():
                store.append(f"{prefix}-{s}", [ProbeTicked(n=k) for k in range(BATCH)], versions[s])
            versions[s] += BATCH
    log(f"committed {EVENTS} events over {STREAMS} streams; workers start consuming")
    started = time.perf_counter()
    pool.consume()
    _wait(lambda: _checkpointed(prefix) >= EVENTS, 300, "the throughput phase")
    elapsed = time.perf_counter() - started
    pool.pause()
    return EVENTS / elapsed


def _baseline(pool: WorkerPool, log: Callable[[str], None]) -> float:
    with celery_app.producer_or_acquire() as producer:
        for _ in range(EVENTS):
            noop_task.apply_async(producer=producer)
    log(f"queued {EVENTS} no-op tasks; workers start consuming")
    # One connection for all the polls, every 50 ms (±0.5 % of the time measured): a new
    # connection every 5 ms kept RabbitMQ so busy that the workers drained 30 tasks/s.
    with celery_app.connection_for_write() as conn:
        started = time.perf_counter()
        pool.consume()
        _wait(lambda: _drained(pool, conn.default_channel), 300, "the no-op baseline", 0.05)
        elapsed = time.perf_counter() - started
    pool.pause()
    return EVENTS / elapsed


def _latency(prefix: str) -> list[float]:
    """Commit → checkpoint, per event. The checkpoint's ``updated_at`` is stamped by the
    worker in the transaction that advances it; a monitor reads it every 10 ms. If a
    stream advanced twice between two reads, the earlier event is given the later
    time: the error only ever makes the lag look longer."""
    committed: dict[tuple[str, int], float] = {}
    reached: dict[tuple[str, int], float] = {}
    done = threading.Event()

    def monitor() -> None:
        seen: dict[str, int] = {}
        try:
            while True:
                finished = done.is_set()
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT stream_id, version, updated_at FROM event_checkpoint "
                        "WHERE subscription = %s AND stream_id LIKE %s",
                        [SUBSCRIPTION, prefix + "%"],
                    )
                    rows = cursor.fetchall()
                for stream_id, version, updated_at in rows:
                    for v in range(seen.get(stream_id, 0) + 1, version + 1):
                        reached[(stream_id, v)] = updated_at.timestamp()
                    seen[stream_id] = max(seen.get(stream_id, 0), version)
                if finished and len(reached) >= len(committed):
                    return
                time.sleep(0.01)
        finally:
            connections.close_all()

    watcher = threading.Thread(target=monitor, daemon=True)
    watcher.start()
    versions = dict.fromkeys(range(LATENCY_STREAMS), 0)
    total = int(OFFERED_PER_S * LATENCY_SECONDS)
    start = time.perf_counter()
    for i in range(total):
        delay = start + i / OFFERED_PER_S - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        s = i % LATENCY_STREAMS
        with transaction.atomic():
            store.append(f"{prefix}-{s}", [ProbeTicked(n=i)], versions[s])
            # Stamped as late as possible before the commit: the lag includes the commit.
            committed[(f"{prefix}-{s}", versions[s] + 1)] = time.time()
        versions[s] += 1
    done.set()
    watcher.join(timeout=120)
    return sorted((reached[k] - t) * 1000 for k, t in committed.items() if k in reached)


def _percentile(values: list[float], p: float) -> float:
    index = min(len(values) - 1, max(0, round(p / 100 * len(values)) - 1))
    return values[index]


def run(options: dict[str, Any], log: Callable[[str], None]) -> dict[str, Any]:
    if connection.vendor != "postgresql":
        raise RuntimeError("the dispatch benchmark needs PostgreSQL (set DATABASE_URL)")
    run_id = uuid.uuid4().hex[:8]
    queue = options["queue"]  # of this run only (the bench command drops it afterwards)
    prefix = f"dispatch-{run_id}"
    workers = options.get("workers") or WORKERS
    pool = WorkerPool(workers, queue)
    try:
        baseline = _baseline(pool, log)
        log(f"baseline: {baseline:.0f} no-op tasks/s")
        throughput = _throughput(pool, f"{prefix}-t", log)
        drain_processes = _drain_processes(f"{prefix}-t")
        log(f"throughput: {throughput:.0f} events/s by {drain_processes} process(es)")
        pool.consume()
        lags = _latency(f"{prefix}-l")
        log(f"latency: {len(lags)} events measured")
    finally:
        pool.stop()
        with allow_event_purge():
            for model in (StoredEvent, EventStream, Checkpoint, ProbeCounter):
                model.objects.filter(stream_id__startswith=prefix).delete()
    broker = settings.CELERY_BROKER_URL.split("://", 1)[0]
    return {
        "scenario": "dispatch",
        "broker": broker,
        "workers": workers,
        "events": EVENTS,
        "events_per_s": round(throughput, 1),
        "baseline_noop_tasks_per_s": round(baseline, 1),
        "ratio": round(throughput / baseline, 2),
        "drain_processes": drain_processes,
        "offered_per_s": OFFERED_PER_S,
        "latency_events": len(lags),
        "lag_ms_p50": round(statistics.median(lags), 1),
        "lag_ms_p99": round(_percentile(lags, 99), 1),
    }
