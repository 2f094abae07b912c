"""`make run` (the launcher and all it starts) stops completely on SIGTERM, SIGHUP and
Ctrl-C: no process left, the web and Redis ports free again."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import signal
import socket
import subprocess
import sys
import termios
import threading
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
from django.conf import settings

from tests.events.workers import wait_for
from tests.load.processes import (
    database_url,
    drop_database,
    free_port,
    port_is_free,
    recreate_database,
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


def _redis_url(port: int) -> str:
    return f"redis://127.0.0.1:{port}/0"


@dataclass
class _Run:
    proc: subprocess.Popen[bytes]
    port: int
    redis_port: int
    log: Path

    @property
    def redis_url(self) -> str:
        return _redis_url(self.redis_port)

    def ours(self) -> list[psutil.Process]:
        """Every process of this run, wherever it went: all of them (make, the launcher,
        Redis, honcho and what it starts, in sessions of their own) inherit its REDIS_URL,
        which names a port of its own."""
        found = []
        for process in psutil.process_iter():
            with contextlib.suppress(psutil.Error):
                if process.environ().get("REDIS_URL") == self.redis_url:
                    found.append(process)
        return found

    def children(self) -> list[str]:
        """The command lines of the processes it started so far."""
        return [" ".join(p.cmdline()) for p in self.ours() if p.pid != self.proc.pid]

    def kill_all(self) -> None:
        """Whatever of it is left (after a failing test)."""
        for process in self.ours():
            with contextlib.suppress(psutil.Error):
                process.kill()

    def assert_all_gone(self) -> None:
        """It exits, nothing it started is left and the ports are free."""
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            left = "\n".join(self.children())
            raise AssertionError(
                f"still running, with:\n{left}\nlog:\n{self.log.read_text()[-3000:]}"
            ) from None
        wait_for(lambda: not self.ours(), 30, "every process to stop")
        assert port_is_free(self.port)
        assert port_is_free(self.redis_port)


def _start(
    command: list[str],
    database: str,
    tmp_path: Path,
    port: int | None = None,
    terminal: int | None = None,
) -> _Run:
    """``command`` (the launcher or `make run`) on ports of its own (or ``port``), with a
    Redis it starts itself; with ``terminal`` (a pty's follower end), in a session of its
    own whose controlling terminal that is, as in a terminal window."""
    port, redis_port = port or free_port(), free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "DATABASE_URL": database,
        "REDIS_URL": _redis_url(redis_port),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        "CELERY_BEAT_SCHEDULE_FILE": str(tmp_path / "beat-schedule"),
        "WEB_CONCURRENCY": "2",
    }
    env.pop("CELERY_BROKER_URL", None)
    log = tmp_path / "run.log"
    if terminal is not None:

        def in_the_terminal() -> None:
            os.setsid()
            fcntl.ioctl(terminal, termios.TIOCSCTTY, 0)

        proc = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdin=terminal,
            stdout=terminal,
            stderr=terminal,
            preexec_fn=in_the_terminal,
        )
        return _Run(proc, port, redis_port, log)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    return _Run(proc, port, redis_port, log)


@contextlib.contextmanager
def _launched(
    command: list[str],
    database: str,
    tmp_path: Path,
    ready: Callable[[_Run], bool],
    terminal: int | None = None,
) -> Iterator[_Run]:
    """``command`` started, once ``ready``; whatever is left of it is killed afterwards."""
    run = _start(command, database, tmp_path, terminal=terminal)
    proc, log = run.proc, run.log
    try:
        wait_for(lambda: ready(run) or proc.poll() is not None, 180, "the launcher")
        assert proc.poll() is None, log.read_text()[-3000:]
        yield run
    finally:
        run.kill_all()
        proc.wait()


@contextlib.contextmanager
def _running(command: list[str], database: str, tmp_path: Path) -> Iterator[_Run]:
    """``command`` with everything started and answering."""
    with _launched(command, database, tmp_path, lambda run: _answers(run.port)) as run:
        # redis, honcho, 2 web processes and their supervisor, worker, beat
        assert len(run.children()) >= 7
        yield run


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
        run.assert_all_gone()


def test_a_storm_of_stop_signals_still_stops_everything(launcher_database, tmp_path):
    # Regression: a second signal arriving while the launcher handled the first could
    # deadlock its handler, leaving the launcher, honcho and all they started running.
    with _running(MAKE_RUN, launcher_database, tmp_path) as run:
        for _ in range(10):
            for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(run.proc.pid, signum)

        run.assert_all_gone()


def test_a_killed_launcher_takes_what_it_started_with_it(launcher_database, tmp_path):
    # SIGKILL leaves the launcher no chance to stop anything: honcho and the Redis it
    # started get SIGTERM from the kernel (PR_SET_PDEATHSIG) and stop in turn.
    with _running(LAUNCHER, launcher_database, tmp_path) as run:
        os.kill(run.proc.pid, signal.SIGKILL)

        run.assert_all_gone()


@pytest.mark.parametrize(
    "moment",
    [
        pytest.param("manage.py migrate", id="during-migrate"),
        # honcho fails to stop a process it has not finished starting, and hangs
        pytest.param("honcho start", id="as-honcho-starts"),
    ],
)
def test_a_stop_during_start_up_stops_everything(moment, launcher_database, tmp_path):
    ready = lambda run: any(moment in line for line in run.children())  # noqa: E731
    with _launched(MAKE_RUN, launcher_database, tmp_path, ready) as run:
        os.killpg(run.proc.pid, signal.SIGTERM)

        run.assert_all_gone()


def test_a_process_that_fails_stops_everything_and_the_launcher_reports_it(
    launcher_database, tmp_path
):
    # Given the web port taken by something else
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        run = _start(LAUNCHER, launcher_database, tmp_path, port=taken.getsockname()[1])
        try:
            # When the launcher starts everything, the web processes cannot bind the port
            returncode = run.proc.wait(timeout=180)
            # Then everything stops
            wait_for(lambda: not run.ours(), 30, "every process to stop")
        finally:
            run.kill_all()

    # and the launcher says it failed
    assert returncode != 0, run.log.read_text()[-3000:]


def _copy_until_closed(leader: int, log: Path) -> None:
    """What the terminal shows, into ``log``, until the terminal is closed."""
    with log.open("ab") as out:
        while True:
            try:
                data = os.read(leader, 4096)
            except OSError:
                return
            if not data:
                return
            out.write(data)


def test_closing_the_terminal_stops_everything(launcher_database, tmp_path):
    # Regression: after the hang-up every write to the terminal fails; the launcher's
    # "Stopping" line raised before it stopped anything, and honcho's own first line of
    # its stop did the same, leaving it hanging with everything it started.
    leader, follower = pty.openpty()
    reader = threading.Thread(
        target=_copy_until_closed, args=(leader, tmp_path / "run.log"), daemon=True
    )
    reader.start()
    try:
        # A shell leads the terminal's session, as in a terminal window (it gets the
        # hang-up and, as it exits, the kernel sends SIGHUP on to the foreground group)
        shell = ["sh", "-c", f"{' '.join(MAKE_RUN)}; exit"]
        with _launched(
            shell,
            launcher_database,
            tmp_path,
            lambda run: _answers(run.port),
            terminal=follower,
        ) as run:
            os.close(follower)
            # When the terminal window is closed
            os.close(leader)
            leader = -1

            # Then everything stops, and nothing hangs on writing to it
            run.assert_all_gone()
    finally:
        if leader >= 0:
            os.close(leader)
