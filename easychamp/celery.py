import os
from typing import Any

from celery import Celery
from celery.signals import task_postrun, task_prerun

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
