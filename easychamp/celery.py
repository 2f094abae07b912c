import logging
import os
from typing import Any

from celery import Celery
from celery.signals import after_setup_logger, task_postrun, task_prerun

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


# Celery's lines for every task that succeeded and every task beat sent: several a second
# here (the sweeper, the feed's sequencer, saga timeouts, wake-ups), they drowned what
# make run shows (the emails, our own log lines). Failures and warnings still show; with
# LOG_LEVEL=DEBUG everything does.
ROUTINE_LOGGERS = ("celery.app.trace", "celery.beat")


@after_setup_logger.connect
def quiet_routine_lines(loglevel: int | str | None = None, **kwargs: Any) -> None:
    level = logging.getLevelName(loglevel) if isinstance(loglevel, str) else loglevel
    if isinstance(level, int) and level <= logging.DEBUG:
        return
    for name in ROUTINE_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
