"""The benchmarks' stack: waiting for its worker to be idle before a baseline."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from bench.stack import Stack

# Burns CPU for a while, then sleeps: a worker busy with a backlog, then done.
BUSY_THEN_IDLE = """
import time
end = time.monotonic() + float(__import__("sys").argv[1])
while time.monotonic() < end:
    pass
time.sleep(60)
"""


def _stack_with_worker(busy_seconds: float) -> Stack:
    stack = Stack(port=0, database_url="", redis_url="", queue="test", web_concurrency=1, env={})
    stack.worker.proc = subprocess.Popen([sys.executable, "-c", BUSY_THEN_IDLE, str(busy_seconds)])
    return stack


@pytest.fixture
def stacks() -> Iterator[list[Stack]]:
    made: list[Stack] = []
    yield made
    for stack in made:
        assert stack.worker.proc is not None
        stack.worker.proc.kill()
        stack.worker.proc.wait()


def test_wait_quiet_waits_until_the_worker_stops_using_the_cpu(stacks: list[Stack]) -> None:
    stacks.append(stack := _stack_with_worker(busy_seconds=1.5))
    started = time.monotonic()
    waited = stack.wait_quiet(quiet_for=0.3, timeout=30)
    assert waited >= 1.5 - 0.3  # not before the burning stopped (give or take a window)
    assert time.monotonic() - started < 30  # and not until the deadline either


def test_wait_quiet_gives_up_at_its_timeout(stacks: list[Stack]) -> None:
    stacks.append(stack := _stack_with_worker(busy_seconds=60))
    waited = stack.wait_quiet(quiet_for=0.2, timeout=1.0)
    assert 1.0 <= waited < 5
