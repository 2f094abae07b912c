import logging
import os
from typing import Any

from celery import Celery
from celery.app import trace as celery_trace
from celery.signals import after_setup_logger, task_postrun, task_prerun

from easychamp.env import env_log_level

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "easychamp.settings")

app = Celery("easychamp")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def _recycle_database_connections(**kwargs: Any) -> None:
    """Like a web request: drop connections that broke or outlived CONN_MAX_AGE, keep the rest."""
    from django.db import close_old_connections

    close_old_connections()


# Celery's line for every task that succeeded and every task beat sent: several a second
# here (the sweeper, the feed's sequencer, saga timeouts, wake-ups), they drowned what
# make run shows (the emails, our own log lines). Only those two are left out: retries,
# failures and warnings still show; with LOG_LEVEL=DEBUG (or --loglevel DEBUG) all do.
ROUTINE_LOGGERS = ("celery.app.trace", "celery.beat")
_ROUTINE_MESSAGES = (celery_trace.LOG_SUCCESS, "Scheduler: Sending due task")


class _RoutineLines(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith(_ROUTINE_MESSAGES))


ROUTINE_FILTER = _RoutineLines()


@after_setup_logger.connect
def quiet_routine_lines(loglevel: int | str | None = None, **kwargs: Any) -> None:
    level = logging.getLevelName(loglevel) if isinstance(loglevel, str) else loglevel
    if (isinstance(level, int) and level <= logging.DEBUG) or env_log_level() == "DEBUG":
        return
    for name in ROUTINE_LOGGERS:
        logging.getLogger(name).addFilter(ROUTINE_FILTER)
