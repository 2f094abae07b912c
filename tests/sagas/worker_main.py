"""A celery worker for the saga tests: ``python -m tests.sagas.worker_main`` takes the
arguments of ``python -m celery``. Before celery's main runs it can plant a fault:

- ``SAGAS_TEST_CRASH_ONCE=<step method>``: that step of the registration saga raises the
  first time it runs (in any process: a marker file in ``SAGAS_TEST_DIR`` remembers);
- ``SAGAS_TEST_HOLD=<command name>``: that command's handler writes a marker file, then
  holds (the test kills the worker there, mid-saga).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

CRASH_ONCE_ENV = "SAGAS_TEST_CRASH_ONCE"
HOLD_ENV = "SAGAS_TEST_HOLD"
DIR_ENV = "SAGAS_TEST_DIR"
HELD_MARKER = "held"


class PlantedCrash(RuntimeError):
    pass


def first_time(name: str) -> bool:
    """True once per name across processes (an exclusive file create)."""
    path = Path(os.environ[DIR_ENV]) / f"once-{name}"
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


def plant() -> None:
    from sagas import bus
    from sagas.registration import PlayerRegistrationSaga

    crash = os.environ.get(CRASH_ONCE_ENV)
    if crash:
        original = getattr(PlayerRegistrationSaga, crash)

        def crashing(self: Any, ctx: Any) -> None:
            original(self, ctx)
            if first_time(crash):
                raise PlantedCrash(f"{crash} crashes once (after doing its work)")

        setattr(PlayerRegistrationSaga, crash, crashing)

    hold = os.environ.get(HOLD_ENV)
    if hold:
        handler = bus.handler_for(hold)

        def holding(command: Any) -> None:
            (Path(os.environ[DIR_ENV]) / HELD_MARKER).write_text(str(command.id))
            while True:  # until the test kills this process
                time.sleep(0.05)
            handler(command)

        bus._handlers[hold] = holding


def main() -> None:
    import django

    django.setup()
    plant()
    from celery.__main__ import main as celery_main

    celery_main()


if __name__ == "__main__":
    main()
