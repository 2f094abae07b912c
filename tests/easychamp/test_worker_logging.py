"""What the worker and beat print: routine lines of Celery's stay out unless DEBUG."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from easychamp.celery import ROUTINE_LOGGERS, quiet_routine_lines


@pytest.fixture
def routine_levels() -> Iterator[None]:
    levels = {name: logging.getLogger(name).level for name in ROUTINE_LOGGERS}
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


@pytest.mark.usefixtures("routine_levels")
@pytest.mark.parametrize("loglevel", [logging.INFO, "INFO", logging.WARNING])
def test_at_info_each_tasks_success_and_beats_sending_are_not_printed(loglevel):
    quiet_routine_lines(loglevel=loglevel)

    # Before: several lines a second (the sweeper, the sequencer...) drowned make run's
    # output; a task that fails still logs at ERROR
    for name in ROUTINE_LOGGERS:
        assert not logging.getLogger(name).isEnabledFor(logging.INFO)
        assert logging.getLogger(name).isEnabledFor(logging.ERROR)


@pytest.mark.usefixtures("routine_levels")
def test_at_debug_everything_is_printed():
    for name in ROUTINE_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET)

    quiet_routine_lines(loglevel=logging.DEBUG)

    assert all(logging.getLogger(name).level == logging.NOTSET for name in ROUTINE_LOGGERS)
