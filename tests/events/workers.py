"""Real Celery worker processes for the delivery tests: started, killed, restarted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kombu import pools as kombu_pools

from bench.workers import database_url, die_with_parent, drop_queue, private_queue
from easychamp.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[2]


class Worker:
    def __init__(
        self,
        name: str,
        broker_url: str,
        queue: str,
        log_dir: Path,
        *,
        beat: bool = False,
        main: str = "celery",
        extra_env: dict[str, str] | None = None,
        loglevel: str = "INFO",
    ) -> None:
        """``main``: the module run with ``python -m`` (a test entry module may prepare the
        process, then run celery's main); ``extra_env``: more environment variables;
        ``loglevel``: DEBUG to have Celery log each task that succeeded."""
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "easychamp.settings",
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": broker_url,
            "CELERY_QUEUE": queue,
            "PYTHONPATH": str(ROOT),
            "LOG_LEVEL": "INFO",
            **(extra_env or {}),
        }
        cmd = [
            sys.executable,
            "-m",
            main,
            "-A",
            "easychamp",
            "worker",
            "--loglevel",
            loglevel,
            "--concurrency",
            "1",
            "--pool",
            "prefork",
            "-Q",
            queue,
            "-n",
            f"{name}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
        if beat:
            cmd += ["--beat", "--schedule", str(log_dir / f"{name}-beat-schedule")]
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 60) -> None:
        wait_for(lambda: "ready." in self.log(), timeout, f"worker {self.name} to start")

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool children)."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()


def wait_for(
    condition: Callable[[], object],
    timeout: float,
    what: str,
    details: Callable[[], str] | None = None,
) -> None:
    """Poll ``condition`` until it holds; on timeout fail with ``details()`` (what a
    reader needs to tell why, e.g. ``delivery_state``) in the message."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return
        if time.monotonic() > deadline:
            message = f"timed out after {timeout:.0f}s waiting for {what}"
            raise AssertionError(f"{message}\n{details()}" if details else message)
        time.sleep(0.1)


def behind() -> list[tuple[str, str, int, int]]:
    """(subscription, stream, checkpoint, head) of every pair not caught up."""
    from events.models import Checkpoint, EventStream

    heads = dict(EventStream.objects.values_list("stream_id", "version"))
    return [
        (c.subscription, c.stream_id, c.version, heads.get(c.stream_id, 0))
        for c in Checkpoint.objects.all()
        if c.version < heads.get(c.stream_id, 0)
    ]


def delivery_state(worker: Worker) -> str:
    """Where delivery stands, for a live test that timed out: the wake-up keys of this
    process's queue, the checkpoints that are behind, and the worker's last log lines."""
    from events import wakeup
    from events.models import Checkpoint, EventStream

    lines = [
        f"queue {celery_app.conf.task_default_queue}: dirty {wakeup.dirty_streams()[:20]}, "
        f"drain flag ttl {wakeup.drain_flag_ttl()}, helper slots {wakeup.helper_slots()}",
    ]
    for name, stream_id, version, head in behind():
        lines.append(f"behind: {name} {stream_id} at {version} of {head}")
    streams = EventStream.objects.values_list("stream_id", flat=True)
    without = sorted(set(streams) - set(Checkpoint.objects.values_list("stream_id", flat=True)))
    lines.append(f"streams without any checkpoint: {len(without)} {without[:5]}")
    lines.append("worker log (last 40 lines):")
    lines.extend(worker.log().splitlines()[-40:])
    return "\n".join(lines)


@pytest.fixture
def celery_queue(worker_id: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """A queue of this test's own, so parallel test runs never take each other's tasks."""
    with private_queue(f"test-{worker_id}-{request.node.name[:40]}-{os.getpid()}") as queue:
        yield queue


@pytest.fixture
def producer_broker(celery_queue: str) -> Iterator[Callable[[str], None]]:
    """Point this process's Celery producer (the writers' wake-ups) at a broker URL.

    Torn down after the workers have stopped (``workers`` depends on it)."""
    original = celery_app.conf.broker_url

    def use(url: str) -> None:
        # Drop every cached connection and producer pool (kombu keeps global ones).
        kombu_pools.reset()
        celery_app._pool = None  # type: ignore[attr-defined]
        celery_app.amqp._producer_pool = None  # type: ignore[attr-defined]
        celery_app.conf.update(broker_url=url, broker_write_url=url)

    try:
        yield use
    finally:
        if celery_app.conf.broker_url != original:
            # The test's queue on that broker too (the queue fixture cleans up on ours).
            drop_queue(celery_queue)
        use(original)


@pytest.fixture
def workers(
    tmp_path: Path, celery_queue: str, producer_broker: Callable[[str], None]
) -> Iterator[Callable[..., Worker]]:
    started: list[Worker] = []

    def start(name: str, broker_url: str, *, beat: bool = False, **options: Any) -> Worker:
        worker = Worker(name, broker_url, celery_queue, tmp_path, beat=beat, **options)
        started.append(worker)
        return worker

    try:
        yield start
    finally:
        for worker in started:
            worker.stop()
