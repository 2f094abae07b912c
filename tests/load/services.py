"""A PostgreSQL cluster and a Redis server of the test's own, on free ports, that the
test may restart (or pause) at will without touching the machine's shared ones."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from easychamp.launcher import _redis_answers, _redis_server_binary
from tests.events.workers import wait_for


def _postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


POSTGRES_BIN = _postgres_bin()


class PrivatePostgres:
    """initdb in a temporary folder, run as the ``postgres`` user (initdb refuses root)."""

    def __init__(self, port: int) -> None:
        assert POSTGRES_BIN is not None, "no PostgreSQL server binaries"
        self.port = port
        self.dir = Path(tempfile.mkdtemp(prefix="easychamp-pg-"))
        shutil.chown(self.dir, "postgres", "postgres")
        self.data = self.dir / "data"
        self.url = f"postgres://postgres@127.0.0.1:{port}/easychamp"

    def _run(self, *argv: str, timeout: float = 120) -> None:
        assert POSTGRES_BIN is not None
        command = ["runuser", "-u", "postgres", "--", str(POSTGRES_BIN / argv[0]), *argv[1:]]
        subprocess.run(command, check=True, capture_output=True, timeout=timeout)

    def _ctl(self, action: str, *extra: str) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1"
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.dir / "log"), "-o", options,
            "-w", "-t", "60", action, *extra,
        )  # fmt: skip

    def start(self) -> None:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self._ctl("start")
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "easychamp")

    def restart(self) -> None:
        self._ctl("restart", "-m", "fast")

    def stop(self) -> None:
        try:
            self._ctl("stop", "-m", "immediate")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


class PrivateRedis:
    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                *(_redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no"),
            ],
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for(lambda: _redis_answers(self.url), 15, "the private Redis")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def pause(self, seconds: float) -> None:
        """Hang for ``seconds`` (SIGSTOP): connections stay open, nothing answers."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)
        try:
            time.sleep(seconds)
        finally:
            os.kill(self.proc.pid, signal.SIGCONT)
