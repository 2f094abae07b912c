"""What the worker and beat print: Celery's routine lines stay out unless DEBUG."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from celery.app import trace

from easychamp.celery import ROUTINE_FILTER, ROUTINE_LOGGERS, quiet_routine_lines


@pytest.fixture
def unfiltered() -> Iterator[None]:
    for name in ROUTINE_LOGGERS:
        logging.getLogger(name).removeFilter(ROUTINE_FILTER)
    yield
    for name in ROUTINE_LOGGERS:
        logging.getLogger(name).removeFilter(ROUTINE_FILTER)


def _printed(caplog: pytest.LogCaptureFixture, logger: str, message: str, *args: object) -> bool:
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=logger):
        logging.getLogger(logger).info(message, *args)
    return bool(caplog.records)


@pytest.mark.usefixtures("unfiltered")
@pytest.mark.parametrize("loglevel", [logging.INFO, "INFO", logging.WARNING])
def test_at_info_each_tasks_success_and_beats_sending_are_not_printed(caplog, loglevel):
    quiet_routine_lines(loglevel=loglevel)
    success = {"name": "events.sweep", "id": "1", "runtime": 0.01, "return_value": None}

    # Before: several lines a second (the sweeper, the sequencer...) drowned make run's
    # output
    assert not _printed(caplog, "celery.app.trace", trace.LOG_SUCCESS, success)
    assert not _printed(caplog, "celery.beat", "Scheduler: Sending due task %s (%s)", "a", "b")
    # A retry still shows
    assert _printed(
        caplog, "celery.app.trace", trace.LOG_RETRY, {"name": "t", "id": "1", "exc": "down"}
    )


@pytest.mark.usefixtures("unfiltered")
@pytest.mark.parametrize(("loglevel", "env"), [(logging.DEBUG, "INFO"), ("INFO", "debug")])
def test_at_debug_everything_is_printed(caplog, monkeypatch, loglevel, env):
    monkeypatch.setenv("LOG_LEVEL", env)  # make run's Procfile says --loglevel INFO

    quiet_routine_lines(loglevel=loglevel)

    assert _printed(caplog, "celery.beat", "Scheduler: Sending due task %s (%s)", "a", "b")
