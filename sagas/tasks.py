"""Celery tasks of the sagas: run a command, re-send lost ones, time sagas out, and the
fake payment provider's webhook call. Each takes ids (or a body) and calls one function."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from typing import Any

from celery import shared_task
from django.conf import settings

from sagas import bus, engine
from sagas.payments import signing

logger = logging.getLogger(__name__)


@shared_task(name=bus.RUN_COMMAND_TASK, ignore_result=True, acks_late=True)
def run_command_task(command_id: str) -> str:
    return bus.run(command_id)


@shared_task(name="sagas.dispatch_commands", ignore_result=True)
def dispatch_commands_task() -> int:
    """Send again the tasks of commands that should have run by now (a lost task)."""
    return bus.dispatch_overdue()


@shared_task(name="sagas.time_out", ignore_result=True)
def time_out_task() -> int:
    """Run the timeout step of sagas past their deadline."""
    return engine.time_out_due()


@shared_task(name="sagas.fake_provider_callback", bind=True, ignore_result=True, acks_late=True)
def fake_provider_callback_task(self: Any, body: str) -> int:
    """The fake provider calls our webhook, signed, like a real provider would; it tries
    again while the web process does not answer."""
    raw = body.encode()
    request = urllib.request.Request(
        settings.PAYMENTS_FAKE_WEBHOOK_URL,
        data=raw,
        headers={
            "Content-Type": "application/json",
            signing.HEADER: signing.sign(raw, settings.PAYMENTS_WEBHOOK_SECRET),
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except (urllib.error.URLError, TimeoutError) as exc:
        status = getattr(exc, "code", None)
        if status is not None and 400 <= int(status) < 500 and int(status) != 404:
            logger.error("our webhook refused the fake payment %s: %s", json.loads(body), exc)
            return int(status)
        raise self.retry(exc=exc, countdown=1, max_retries=60) from exc
