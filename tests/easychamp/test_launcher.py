"""The launcher's stop: only the first stop signal interrupts it (the whole stop, with
every process it started, runs to the end; `make loadtest` checks that end to end)."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest

from easychamp import launcher


@pytest.fixture
def fresh_stop() -> Iterator[None]:
    launcher._stopping.clear()
    yield
    launcher._stopping.clear()


def test_the_first_stop_signal_interrupts(fresh_stop):
    with pytest.raises(launcher.Stop, match="SIGTERM"):
        launcher._raise_stop(signal.SIGTERM, None)


def test_a_second_stop_signal_does_not_interrupt_the_stop(fresh_stop):
    # Regression: make passes its SIGTERM on, and a SIGTERM to the whole process group
    # reaches the launcher as well: the second one, raised inside the stop, left honcho,
    # the web processes, the worker and beat running.
    with pytest.raises(launcher.Stop):
        launcher._raise_stop(signal.SIGTERM, None)

    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        launcher._raise_stop(signum, None)  # ignored: no exception
