"""`make run` (the launcher and all it starts) stops completely on SIGTERM, SIGHUP and
Ctrl-C: no process left, the web and Redis ports free again."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings

from tests.load.processes import (
    alive,
    database_url,
    descendants,
    drop_database,
    free_port,
    port_is_free,
    recreate_database,
    wait_for,
)

pytestmark = [pytest.mark.load, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]
LAUNCHER = [sys.executable, "-m", "easychamp.launcher"]
MAKE_RUN = ["make", "--no-print-directory", "run"]


@pytest.fixture(scope="module")
def launcher_database() -> Iterator[str]:
    url = database_url(f"{settings.DATABASES['default']['NAME']}_launcher_{os.getpid()}")
    recreate_database(url)
    yield url
    drop_database(url)


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@contextlib.contextmanager
def _running(command: list[str], database: str, tmp_path: Path) -> Iterator[_Run]:
    """``command`` (the launcher or `make run`) on ports of its own, with a Redis it
    starts itself, answering; whatever is left of it is killed afterwards."""
    port, redis_port = free_port(), free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "DATABASE_URL": database,
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        "CELERY_BEAT_SCHEDULE_FILE": str(tmp_path / "beat-schedule"),
        "WEB_CONCURRENCY": "2",
    }
    env.pop("CELERY_BROKER_URL", None)
    with (tmp_path / "run.log").open("wb") as log:
        proc = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    started: set[int] = set()
    try:
        wait_for(lambda: _answers(port) or proc.poll() is not None, 180, "the web processes")
        assert proc.poll() is None, (tmp_path / "run.log").read_text()[-3000:]
        started = descendants(proc.pid)
        # redis, honcho, 2 web processes and their supervisor, worker, beat
        assert len(started) >= 7
        yield _Run(proc, started, port, redis_port)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        for pid in started:  # honcho and Redis run in sessions of their own
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@dataclass
class _Run:
    proc: subprocess.Popen[bytes]
    started: set[int]
    port: int
    redis_port: int

    def assert_all_gone(self, log: Path) -> None:
        """It exits, nothing it started is left and the ports are free."""
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still running:\n{log.read_text()[-3000:]}") from None
        wait_for(lambda: not any(alive(pid) for pid in self.started), 30, "every process to stop")
        assert port_is_free(self.port)
        assert port_is_free(self.redis_port)


@pytest.mark.parametrize(
    ("command", "signum", "to_group"),
    [
        pytest.param(LAUNCHER, signal.SIGTERM, False, id="launcher-SIGTERM"),
        pytest.param(LAUNCHER, signal.SIGHUP, False, id="launcher-SIGHUP"),
        # A terminal's Ctrl-C and hang-up reach the whole foreground process group.
        pytest.param(LAUNCHER, signal.SIGINT, True, id="launcher-Ctrl-C"),
        pytest.param(MAKE_RUN, signal.SIGTERM, False, id="make-run-SIGTERM"),
        # systemd and `kill -TERM -<pgid>` reach make and the launcher: two SIGTERMs.
        pytest.param(MAKE_RUN, signal.SIGTERM, True, id="make-run-SIGTERM-to-group"),
        pytest.param(MAKE_RUN, signal.SIGHUP, True, id="make-run-hang-up"),
        pytest.param(MAKE_RUN, signal.SIGINT, True, id="make-run-Ctrl-C"),
    ],
)
def test_a_stop_signal_stops_everything_it_started(
    command, signum, to_group, launcher_database, tmp_path
):
    # Given `make run` (or the launcher) on ports of its own, with a Redis of its own
    with _running(command, launcher_database, tmp_path) as run:
        # When the signal arrives
        if to_group:
            os.killpg(run.proc.pid, signum)
        else:
            os.kill(run.proc.pid, signum)

        # Then it exits, nothing it started is left and the ports are free
        run.assert_all_gone(tmp_path / "run.log")


def test_a_storm_of_stop_signals_still_stops_everything(launcher_database, tmp_path):
    # Regression: a second signal arriving while the launcher handled the first could
    # deadlock its handler, leaving the launcher, honcho and all they started running.
    with _running(MAKE_RUN, launcher_database, tmp_path) as run:
        for _ in range(10):
            for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(run.proc.pid, signum)

        run.assert_all_gone(tmp_path / "run.log")


def test_a_killed_launcher_takes_what_it_started_with_it(launcher_database, tmp_path):
    # SIGKILL leaves the launcher no chance to stop anything: honcho and the Redis it
    # started get SIGTERM from the kernel (PR_SET_PDEATHSIG) and stop in turn.
    with _running(LAUNCHER, launcher_database, tmp_path) as run:
        os.kill(run.proc.pid, signal.SIGKILL)

        run.assert_all_gone(tmp_path / "run.log")
