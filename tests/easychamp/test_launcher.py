"""The launcher's stop signals: the handler only notes the first one, without raising and
without a lock, so a signal can arrive anywhere, even inside the handler itself, and the
whole stop still runs (`make loadtest` checks that end to end, signal storms included)."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

import pytest

from easychamp import launcher


@pytest.fixture
def fresh_stop() -> Iterator[None]:
    launcher._stop_signal = None
    yield
    launcher._stop_signal = None


def test_the_first_stop_signal_is_noted_and_nothing_is_raised(fresh_stop):
    assert not launcher._stopped()

    launcher._note_stop(signal.SIGTERM, None)

    assert launcher._stopped()
    assert launcher._stop_signal == "SIGTERM"


def test_later_stop_signals_change_nothing(fresh_stop):
    # make passes its SIGTERM on, and a SIGTERM to the whole group reaches the launcher
    # as well: neither must cut the stop short.
    launcher._note_stop(signal.SIGHUP, None)
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        launcher._note_stop(signum, None)

    assert launcher._stop_signal == "SIGHUP"


def test_stopped_waits_at_most_its_seconds_for_a_signal(fresh_stop):
    assert launcher._stopped(0.05) is False
    threading.Timer(0.05, launcher._note_stop, (signal.SIGTERM, None)).start()
    assert launcher._stopped(10) is True


def _first_signal_with_a_second_at(step: int) -> tuple[bool, int, str | None]:
    """Handle SIGTERM, delivering SIGHUP (a nested handler call, as Python makes when a
    signal arrives during a handler) at the ``step``-th line or call the first handler
    runs. Returns (finished, steps seen, the signal noted); a thread of its own, so that
    a deadlock shows as a thread that never finishes."""
    launcher._stop_signal = None
    seen = [0]
    delivering = [False]

    def tracer(frame: FrameType, event: str, arg: Any) -> Any:
        if event in ("call", "line") and not delivering[0]:
            if seen[0] == step:
                delivering[0] = True
                launcher._note_stop(signal.SIGHUP, None)
            seen[0] += 1
        return tracer

    def first_signal() -> None:
        sys.settrace(tracer)
        try:
            launcher._note_stop(signal.SIGTERM, None)
        finally:
            sys.settrace(None)

    thread = threading.Thread(target=first_signal, daemon=True)
    thread.start()
    thread.join(timeout=5)
    return not thread.is_alive(), seen[0], launcher._stop_signal


def test_a_signal_arriving_inside_the_handler_at_any_point_is_harmless(fresh_stop):
    # Regression: the handler raised, guarded by a threading.Event; Python runs a handler
    # again inside itself when a second signal arrives meanwhile, and one arriving inside
    # Event.set waited for the Event's lock, held by the first: the launcher hung, with
    # honcho and everything it started running. Here the second signal comes at each
    # step of the first handler in turn (and of anything it calls).
    finished, steps, _ = _first_signal_with_a_second_at(step=-1)
    assert finished
    assert steps >= 2

    for step in range(steps):
        finished, _, noted = _first_signal_with_a_second_at(step)
        assert finished, f"the handler deadlocked on a signal at its step {step}"
        assert noted in ("SIGTERM", "SIGHUP")
