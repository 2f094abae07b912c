"""The real stack as separate processes, for the API benchmark and the load tests:
web processes (``python -m easychamp.web``: one supervisor, WEB_CONCURRENCY workers on
one port), one Celery worker and, when asked, beat; each can be stopped and started
again. Every process dies with the process that started it (bench.workers)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.workers import ROOT, die_with_parent
from easychamp.web import web_concurrency


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes used so far."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    try:
        found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [int(child) for child in found]


class Service:
    """One command of the stack, started in a session of its own (so that a stop
    reaches the processes it forked too)."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name, self.argv, self.env = name, argv, env
        self.log_path = log_dir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the command; it dies with the *thread* that started it (PDEATHSIG)."""
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.argv,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
        """Signal the main process (a Celery worker then finishes its tasks, uvicorn its
        requests), then SIGKILL what is left of the session after ``timeout``."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        # Forked children of a process that is gone are in its session still.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc = None

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Stack:
    @classmethod
    def for_bench(
        cls, queue: str, *, worker_concurrency: int = 2, env: dict[str, str] | None = None
    ) -> Stack:
        """The deployed processes on this database and Redis, on a free port, with
        production settings but plain HTTP on loopback (no redirect to HTTPS)."""
        from django.conf import settings

        from bench.workers import database_url

        return cls(
            port=free_port(),
            database_url=database_url(),
            redis_url=settings.REDIS_URL,
            queue=queue,
            web_concurrency=web_concurrency(),
            worker_concurrency=worker_concurrency,
            env={"DEBUG": "0", "SECURE_SSL_REDIRECT": "0", "SECURE_COOKIES": "0", **(env or {})},
        )

    def __init__(
        self,
        *,
        port: int,
        database_url: str,
        redis_url: str,
        queue: str,
        web_concurrency: int,
        worker_concurrency: int = 2,
        beat: bool = False,
        env: dict[str, str] | None = None,
        celery_log_level: str = "WARNING",
    ) -> None:
        self.port = port
        self.web_concurrency = web_concurrency
        self.log_dir = Path(tempfile.mkdtemp(prefix="easychamp-stack-"))
        metrics = self.log_dir / "metrics"
        metrics.mkdir()
        self.env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "DJANGO_SETTINGS_MODULE": "easychamp.settings",
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "CELERY_BROKER_URL": redis_url,
            "CELERY_QUEUE": queue,
            "WEB_CONCURRENCY": str(web_concurrency),
            "PROMETHEUS_MULTIPROC_DIR": str(metrics),
            "CELERY_BEAT_SCHEDULE_FILE": str(self.log_dir / "beat-schedule"),
            "LOG_LEVEL": "WARNING",
            **(env or {}),
        }
        celery = [sys.executable, "-m", "celery", "-A", "easychamp"]
        self.web = Service("web", [sys.executable, "-m", "easychamp.web"], self.env, self.log_dir)
        self.worker = Service(
            "worker",
            [
                *(*celery, "worker", "--loglevel", celery_log_level, "-Q", queue),
                *("--concurrency", str(worker_concurrency), "-n", f"{queue}@localhost"),
                *("--without-gossip", "--without-mingle"),
            ],
            self.env,
            self.log_dir,
        )
        self.beat = (
            Service(
                "beat",
                [
                    *(*celery, "beat", "--loglevel", celery_log_level),
                    *("--schedule", str(self.log_dir / "beat-schedule")),
                ],
                self.env,
                self.log_dir,
            )
            if beat
            else None
        )

    def services(self) -> list[Service]:
        return [s for s in (self.web, self.worker, self.beat) if s is not None]

    def start(self, timeout: float = 120) -> None:
        for service in self.services():
            service.start()
        self.wait_for_web(timeout)

    def stop(self) -> None:
        for service in self.services():
            service.stop()

    def answers(self) -> bool:
        url = f"http://127.0.0.1:{self.port}/healthz"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def wait_for_web(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not self.answers():
            if not self.web.running or time.monotonic() > deadline:
                raise RuntimeError(f"the web processes did not answer:\n{self.web.log_tail()}")
            time.sleep(0.2)

    def web_pids(self) -> list[int]:
        """The supervisor and its worker processes."""
        if self.web.proc is None:
            return []
        return [self.web.proc.pid, *children(self.web.proc.pid)]

    def worker_pids(self) -> list[int]:
        if self.worker.proc is None:
            return []
        return [self.worker.proc.pid, *children(self.worker.proc.pid)]

    def cpu_seconds(self) -> dict[str, float]:
        return {"web": cpu_seconds(self.web_pids()), "worker": cpu_seconds(self.worker_pids())}

    def wait_quiet(self, quiet_for: float = 1.0, timeout: float = 60.0) -> float:
        """Wait until the worker has used under 5 % of a core for ``quiet_for`` seconds
        (done with what the set-up wrote), at most ``timeout``; returns the seconds
        waited. A baseline measured meanwhile would share the disk with its commits."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            before = cpu_seconds(self.worker_pids())
            time.sleep(quiet_for)
            if cpu_seconds(self.worker_pids()) - before < 0.05 * quiet_for:
                break
        return time.monotonic() - start

    def web_rss_mb(self) -> tuple[float, float]:
        """(all web processes together, the largest one), in MB."""
        sizes = [rss_mb(pid) for pid in self.web_pids()]
        return round(sum(sizes), 1), round(max(sizes, default=0.0), 1)
