"""Real Celery worker processes for benchmarks, started idle and then pointed at a queue,
so that their boot time is not part of what is measured."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import redis
from django.conf import settings
from django.db import connection
from kombu import Exchange, Queue

from easychamp.celery import app as celery_app
from events import wakeup

ROOT = Path(__file__).resolve().parent.parent
PR_SET_PDEATHSIG = 1
POOL = os.environ.get("BENCH_POOL", "solo")
LOG_LEVEL = os.environ.get("BENCH_LOG_LEVEL", "WARNING")


def die_with_parent() -> None:
    """In a worker about to start: be terminated when the process that started it dies,
    even by SIGKILL or a timeout, so no orphan keeps consuming from the shared broker."""
    with contextlib.suppress(OSError, AttributeError):  # Linux only
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def database_url() -> str:
    """The URL of the database this process uses (test databases included)."""
    s = connection.settings_dict
    if connection.vendor != "postgresql":
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


class WorkerPool:
    """``count`` worker processes (one pool process each) that consume nothing until
    ``consume(queue)`` is called."""

    def __init__(self, count: int, queue: str) -> None:
        self.names = [f"bench{i}-{os.getpid()}@localhost" for i in range(count)]
        self.queue = queue
        self.log_dir = Path(tempfile.mkdtemp(prefix="easychamp-bench-"))
        idle = f"{queue}-idle"
        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "CELERY_QUEUE": queue,
            "PYTHONPATH": str(ROOT),
            "LOG_LEVEL": LOG_LEVEL,
            "EASYCHAMP_BENCH": "1",
        }
        self.procs = []
        for name in self.names:
            log = (self.log_dir / f"{name}.log").open("wb")
            self.procs.append(
                subprocess.Popen(
                    [
                        *(sys.executable, "-m", "celery", "-A", "easychamp", "worker"),
                        *(
                            "--loglevel",
                            os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
                            "--concurrency",
                            "1",
                            "--pool",
                            POOL,
                        ),
                        *("-Q", idle, "-n", name, "--without-gossip", "--without-mingle"),
                    ],
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    preexec_fn=die_with_parent,
                )
            )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            replies = celery_app.control.ping(destination=self.names, timeout=0.5) or []
            if len(replies) == len(self.names):
                return
        raise RuntimeError(f"bench workers did not start; logs in {self.log_dir}")

    def consume(self) -> None:
        replies = celery_app.control.add_consumer(
            self.queue, destination=self.names, reply=True, timeout=5
        )
        if len(replies or []) != len(self.names):
            raise RuntimeError(f"not every worker took the queue: {replies}")

    def pause(self) -> None:
        celery_app.control.cancel_consumer(self.queue, destination=self.names, reply=True)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


@contextlib.contextmanager
def private_queue(name: str) -> Iterator[str]:
    """Send this process's tasks and wake-ups to a queue (and Redis keys) of their own,
    dropped afterwards: a benchmark's or a test's streams never reach another worker
    (a ``make run`` one) on the same broker, nor do its workers take anybody else's."""
    previous = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = name
    try:
        yield name
    finally:
        drop_queue(name, f"{name}-idle")
        celery_app.conf.task_default_queue = previous


def drop_queue(*queues: str) -> None:
    """Leave no queue, binding or wake-up key of the current default queue behind in the
    shared broker (benchmarks and tests use queues of their own). Best effort."""
    with contextlib.suppress(Exception):  # Redis or the broker away: nothing to clean
        wakeup.flush(2.0)
        wakeup.clear()
        with celery_app.connection_for_write() as conn:
            channel: Any = conn.default_channel
            for name in queues:
                # Declared first: kombu's Redis transport deletes only the bindings this
                # channel knows of, and Celery binds each queue to an exchange of its name.
                queue = Queue(name, Exchange(name), routing_key=name)(channel)
                queue.declare()
                queue.delete()
        if settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
            _drop_unacked(redis.Redis.from_url(settings.CELERY_BROKER_URL), set(queues))


def _drop_unacked(client: redis.Redis, queues: set[str]) -> None:
    """Forget the tasks a killed worker held on these queues: after the visibility
    timeout the Redis transport would put them back, re-creating a dropped queue."""
    for tag, raw in client.hscan_iter("unacked"):
        _, exchange, routing_key = json.loads(raw)
        if routing_key in queues or exchange in queues:
            client.hdel("unacked", tag)
            client.zrem("unacked_index", tag)
