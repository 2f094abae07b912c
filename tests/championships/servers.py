"""Real web processes (daphne) for the live tests: started on free ports against the
test database and the shared Redis channel layer, stopped, restarted on the same port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings

from bench.workers import database_url, die_with_parent
from tests.events.workers import wait_for

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class WebServer:
    """A web process as deployed (``python -m easychamp.web``, one uvicorn worker) on
    ``port``; its wake-ups go to ``queue``; ``env`` adds to its environment."""

    def __init__(
        self,
        name: str,
        queue: str,
        log_dir: Path,
        port: int | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.queue = queue
        self.extra_env = env or {}
        self.port = port or free_port()
        self.log_path = log_dir / f"web-{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {
            # Browser tests allow sync calls under Playwright's loop in their own process
            # only: the server keeps Django's check.
            **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
            "DJANGO_SETTINGS_MODULE": "easychamp.settings",
            "DATABASE_URL": database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "CELERY_QUEUE": self.queue,
            "PYTHONPATH": str(ROOT),
            "DEBUG": "0",
            # Plain HTTP on loopback: production settings would redirect to HTTPS.
            "SECURE_SSL_REDIRECT": "0",
            "SECURE_COOKIES": "0",
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "WEB_CONCURRENCY": "1",
            "LOG_LEVEL": "WARNING",
            **self.extra_env,
        }
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "easychamp.web"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        log.close()
        wait_for(self.answers, 60, f"web process {self.name} to answer")

    def answers(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"web process {self.name} exited:\n{self.log()}")
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=20)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture
def web_servers(tmp_path: Path, celery_queue: str) -> Iterator[Callable[..., WebServer]]:
    started: list[WebServer] = []

    def start(name: str, env: dict[str, str] | None = None) -> WebServer:
        server = WebServer(name, celery_queue, tmp_path, env=env)
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()
