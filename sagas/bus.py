"""The command bus: a command is a row (``CommandRecord``: name, payload, command id,
correlation and causation ids) written in the sender's transaction, and a Celery task
sent by name after the commit. The row is the truth, the task only a wake-up: a lost
task is sent again by the ``sagas.dispatch_commands`` beat task.

A handler runs inside a transaction that locks its command row, so it completes at most
once per command id whatever the number of tasks; the events it appends carry the
command's correlation id and its causation (the event the sending step handled).

- A handler raising ``RetryLater`` (a provider down, the circuit breaker open) is run
  again after the delay without using up an attempt.
- Any other exception is an attempt: retried with exponential backoff, and after
  ``MAX_ATTEMPTS`` the command fails for good and its saga hears of it
  (``SagaCommandFailed``) and compensates.
- A compensation command that succeeds tells its saga (``SagaCompensationDone``), which
  sends the next compensation: compensations run one at a time, in reverse order.
"""

from __future__ import annotations

import logging
import random
import traceback
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from celery import current_app
from django.db import transaction
from django.utils import timezone

from events.context import event_context
from sagas.models import CommandRecord, CommandStatus, SagaInstance

logger = logging.getLogger(__name__)

RUN_COMMAND_TASK = "sagas.run_command"
MAX_ATTEMPTS = 5
BASE_DELAY = 0.5
MAX_DELAY = 60.0
# A pending command whose task should have run by now is sent again after this long
# (its task was lost: a broker down at commit time, a worker killed).
REDISPATCH_AFTER = timedelta(seconds=10)
MAX_ERROR_LENGTH = 4000

CommandHandler = Callable[[CommandRecord], None]
_handlers: dict[str, CommandHandler] = {}


class RetryLater(Exception):
    """Raised by a handler that cannot run now (a dependency is down): run it again in
    ``delay`` seconds without counting an attempt."""

    def __init__(self, reason: str, delay: float) -> None:
        super().__init__(reason)
        self.delay = delay


class UnknownCommand(Exception):
    pass


def command_handler(name: str) -> Callable[[CommandHandler], CommandHandler]:
    """Register the handler of command ``name`` (one per name)."""

    def register(fn: CommandHandler) -> CommandHandler:
        existing = _handlers.get(name)
        if existing is not None and existing is not fn:
            raise ValueError(f"command {name!r} already has a handler")
        _handlers[name] = fn
        return fn

    return register


def handler_for(name: str) -> CommandHandler:
    try:
        return _handlers[name]
    except KeyError:
        raise UnknownCommand(name) from None


def command_id_for(*parts: object) -> uuid.UUID:
    """A deterministic command id: the same step sending the same command again (a
    redelivery that got this far) names the same command."""
    return uuid.uuid5(uuid.NAMESPACE_URL, "easychamp:command:" + ":".join(map(str, parts)))


def send(
    name: str,
    payload: dict[str, Any],
    *,
    command_id: uuid.UUID | None = None,
    saga: SagaInstance | None = None,
    step: str = "",
    compensation: bool = False,
    correlation_id: str = "",
    causation_id: str = "",
) -> CommandRecord:
    """Record the command in the caller's transaction; its task goes after the commit."""
    handler_for(name)  # fail now, in the sender, for a name nobody handles
    record, created = CommandRecord.objects.get_or_create(
        id=command_id or uuid.uuid4(),
        defaults={
            "name": name,
            "payload": payload,
            "saga": saga,
            "step": step,
            "compensation": compensation,
            "correlation_id": correlation_id,
            "causation_id": causation_id,
            "next_attempt_at": timezone.now() + REDISPATCH_AFTER,
        },
    )
    if created:
        transaction.on_commit(lambda: dispatch(record.id))
    return record


def dispatch(command_id: uuid.UUID, countdown: float | None = None) -> None:
    """Send the command's task (best effort: the dispatcher sends it again if lost)."""
    try:
        current_app.send_task(RUN_COMMAND_TASK, args=[str(command_id)], countdown=countdown)
    except Exception:
        logger.warning("could not send command %s; the dispatcher will", command_id, exc_info=True)


def run(command_id: uuid.UUID | str) -> str:
    """Run a pending command's handler once; returns what happened (for logs and tests)."""
    with transaction.atomic():
        record = (
            CommandRecord.objects.select_for_update(skip_locked=True).filter(id=command_id).first()
        )
        if record is None:
            return "busy"  # another worker runs it right now (or it does not exist)
        if record.status != CommandStatus.PENDING:
            return "already " + record.status
        handler = handler_for(record.name)
        try:
            with (
                transaction.atomic(),
                event_context(
                    correlation_id=record.correlation_id or None,
                    causation_id=record.causation_id or None,
                ),
            ):
                handler(record)
        except RetryLater as wait:
            record.next_attempt_at = (
                timezone.now() + timedelta(seconds=wait.delay) + REDISPATCH_AFTER
            )
            record.last_error = f"waiting: {wait}"[:MAX_ERROR_LENGTH]
            record.save(update_fields=["next_attempt_at", "last_error"])
            delay = wait.delay
            transaction.on_commit(lambda: dispatch(record.id, countdown=delay))
            logger.info("command %s %s waits %.1fs: %s", record.name, record.id, delay, wait)
            return "waiting"
        except Exception as exc:  # noqa: BLE001 - the command boundary: counted and retried
            return _failed(record, exc)
        record.status = CommandStatus.DONE
        record.done_at = timezone.now()
        record.last_error = ""
        record.save(update_fields=["status", "done_at", "last_error"])
        if record.compensation and record.saga_id is not None:
            from sagas import engine

            engine.compensation_done(record)
        return "done"


def _failed(record: CommandRecord, exc: Exception) -> str:
    record.attempts += 1
    record.last_error = "".join(traceback.format_exception(exc))[-MAX_ERROR_LENGTH:]
    if record.attempts >= MAX_ATTEMPTS:
        record.status = CommandStatus.FAILED
        record.save(update_fields=["attempts", "last_error", "status"])
        logger.error("command %s %s failed for good: %s", record.name, record.id, exc)
        if record.saga_id is not None:
            from sagas import engine

            engine.command_failed(record, f"{type(exc).__name__}: {exc}")
        return "failed"
    ceiling = min(MAX_DELAY, BASE_DELAY * 2 ** (record.attempts - 1))
    delay = ceiling / 2 + ceiling / 2 * random.random()
    record.next_attempt_at = timezone.now() + timedelta(seconds=delay) + REDISPATCH_AFTER
    record.save(update_fields=["attempts", "last_error", "next_attempt_at"])
    transaction.on_commit(lambda: dispatch(record.id, countdown=delay))
    logger.warning(
        "command %s %s failed (attempt %s), retrying in %.2fs: %s",
        record.name,
        record.id,
        record.attempts,
        delay,
        exc,
    )
    return "retrying"


def dispatch_overdue(limit: int = 500) -> int:
    """Send again the tasks of pending commands that should have run by now."""
    now = timezone.now()
    with transaction.atomic():
        overdue = list(
            CommandRecord.objects.select_for_update(skip_locked=True)
            .filter(status=CommandStatus.PENDING, next_attempt_at__lte=now)
            .order_by("next_attempt_at")
            .values_list("id", flat=True)[:limit]
        )
        CommandRecord.objects.filter(id__in=overdue).update(next_attempt_at=now + REDISPATCH_AFTER)
    for command_id in overdue:
        dispatch(command_id)
    return len(overdue)


def retry_failed(record: CommandRecord) -> None:
    """A failed command gets a fresh set of attempts (an operator's "retry step")."""
    record.status = CommandStatus.PENDING
    record.attempts = 0
    record.next_attempt_at = timezone.now() + REDISPATCH_AFTER
    record.save(update_fields=["status", "attempts", "next_attempt_at"])
    transaction.on_commit(lambda: dispatch(record.id))
