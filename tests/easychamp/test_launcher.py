"""The launcher's stop signals: the handler only notes the first one, without raising and
without a lock, so a signal can arrive anywhere, even inside the handler itself, and the
whole stop still runs (`make loadtest` checks that end to end, signal storms included)."""

from __future__ import annotations

import contextlib
import errno
import functools
import io
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import psutil
import pytest

from easychamp import launcher
from tests.events.workers import wait_for


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


# honcho itself, on a Procfile of its own: three processes that just wait.
PROCFILE = "one: sleep 60\ntwo: sleep 60\nthree: sleep 60\n"


@pytest.fixture
def procfile(tmp_path: Path) -> Path:
    path = tmp_path / "Procfile"
    path.write_text(PROCFILE)
    return path


@pytest.fixture
def honchos() -> Iterator[list[launcher._Honcho]]:
    started: list[launcher._Honcho] = []
    yield started
    for honcho in started:  # whatever a failing test left
        with contextlib.suppress(psutil.Error):
            for process in [psutil.Process(honcho.proc.pid), *honcho.known]:
                process.kill()


def _honcho(procfile: Path, honchos: list[launcher._Honcho]) -> launcher._Honcho:
    honcho = launcher._Honcho(dict(os.environ), procfile)
    honchos.append(honcho)
    return honcho


def _all_started(honcho: launcher._Honcho) -> None:
    wait_for(lambda: honcho.started >= honcho.entries, 30, "honcho to start its processes")


def _children(pid: int, at_least: int) -> None:
    # Polled every millisecond (not wait_for's 0.1 s): the moment is a window of tens of ms.
    deadline = time.monotonic() + 30
    while len(psutil.Process(pid).children()) < at_least:
        assert time.monotonic() < deadline, "honcho did not start its processes"
        time.sleep(0.001)


@pytest.mark.parametrize("moment", ["started", "first-child", "second-child", "all-started"])
def test_a_stop_at_any_moment_of_honchos_start_is_graceful(procfile, honchos, moment):
    # Regression: honcho's SIGTERM handler fails on a process it has not started yet
    # (no pid): honcho hung until the launcher SIGKILLed it, 20 s later. Its children
    # are forked once the handler is in place, so the moments after the first one are
    # inside that window.
    honcho = _honcho(procfile, honchos)
    if moment == "first-child":
        _children(honcho.proc.pid, 1)
    elif moment == "second-child":
        _children(honcho.proc.pid, 2)
    elif moment == "all-started":
        _all_started(honcho)

    honcho.stop()

    assert not honcho.forced
    assert honcho.proc.returncode is not None
    assert not [p for p in honcho.known if p.is_running()]


def test_honcho_stops_gracefully_when_our_output_is_gone(procfile, honchos, monkeypatch):
    # After a hang-up every write to the terminal fails: honcho writes only to the
    # launcher, which keeps reading (and drops what it cannot show).
    class Gone(io.BytesIO):
        def write(self, data: Any) -> int:
            raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(Gone()))
    honcho = _honcho(procfile, honchos)
    _all_started(honcho)

    honcho.stop()

    assert not honcho.forced
    assert honcho.proc.returncode is not None


def test_what_outlives_a_killed_honcho_is_stopped(procfile, honchos):
    honcho = _honcho(procfile, honchos)
    _all_started(honcho)
    honcho.remember()
    # honcho killed outright: its processes, in sessions of their own, run on
    os.kill(honcho.proc.pid, signal.SIGKILL)
    honcho.proc.wait()
    assert [p for p in honcho.known if p.is_running()]

    honcho.stop()

    assert not [p for p in honcho.known if p.is_running()]


def test_a_child_whose_launcher_died_before_it_asked_stops_before_it_runs():
    # The parent it expects is not its parent: the launcher died between fork and prctl.
    not_the_parent = os.getpid() + 1
    gone = subprocess.run(
        ["sh", "-c", "echo ran"],
        preexec_fn=functools.partial(launcher._stop_with_parent, not_the_parent),
        capture_output=True,
        timeout=30,
    )
    alive = subprocess.run(
        ["sh", "-c", "echo ran"],
        preexec_fn=functools.partial(launcher._stop_with_parent, os.getpid()),
        capture_output=True,
        timeout=30,
    )

    assert (gone.returncode, gone.stdout) == (1, b"")
    assert (alive.returncode, alive.stdout) == (0, b"ran\n")


def test_honcho_writes_to_a_file_no_reader_can_break(procfile, honchos):
    # Regression: with a pipe to the launcher, a killed launcher made honcho's first line
    # of its stop fail (EPIPE), and honcho hung with everything it started (`make
    # loadtest`, SIGKILL to the launcher, 1 run in 3). A file takes writes whoever reads.
    honcho = _honcho(procfile, honchos)
    _all_started(honcho)

    output = os.stat(f"/proc/{honcho.proc.pid}/fd/1").st_mode

    assert stat.S_ISREG(output)
    honcho.stop()
    assert not honcho.forced


class _Stop(Exception):
    pass


def test_make_run_empties_only_the_metrics_files_of_the_metrics_folder(tmp_path, monkeypatch):
    # Given PROMETHEUS_MULTIPROC_DIR naming a folder that holds more than metrics
    folder = tmp_path / "shared"
    folder.mkdir()
    (folder / "keep.txt").write_text("an operator's file")
    (folder / "counter_123.db").write_bytes(b"last run's metrics")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    monkeypatch.setattr(launcher, "_stop_with_parent", lambda *args: None)
    monkeypatch.setattr(launcher.signal, "signal", lambda *args: None)
    monkeypatch.setattr(launcher.os, "chdir", lambda *args: None)

    def stop_there(url: str) -> None:
        raise _Stop

    monkeypatch.setattr(launcher, "_start_redis", stop_there)
    saved = dict(os.environ)
    try:
        # When make run starts (stopped before it starts Redis)
        with pytest.raises(_Stop):
            launcher.main()
    finally:
        os.environ.clear()
        os.environ.update(saved)

    # Then the last run's metrics are gone, the operator's file is not
    # Before: the whole folder was deleted
    assert not (folder / "counter_123.db").exists()
    assert (folder / "keep.txt").read_text() == "an operator's file"
