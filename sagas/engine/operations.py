"""What happens to sagas from outside their events: the command bus reporting a failed
command or a finished compensation, the beat task's deadlines, operators' actions."""

from __future__ import annotations

import logging
import uuid
from functools import partial

from django.db import transaction
from django.utils import timezone

from sagas import bus
from sagas.engine.running import (
    FAILED_FROM,
    TIMEOUT_STEP,
    append_saga_events,
    begin_compensation,
    locked_instance,
    record_step,
    run_step,
    saga_class,
    save_instance,
)
from sagas.engine.saga import PIVOT_KEY, past_pivot
from sagas.events import SagaCommandFailed, SagaCompensationDone
from sagas.models import CommandRecord, SagaInstance, SagaStatus

# --- called by the command bus (in the command's transaction) --------------------------

logger = logging.getLogger(__name__)


def command_failed(record: CommandRecord, error: str) -> None:
    if record.saga_id is None:
        return
    instance = locked_instance(SagaInstance.objects.filter(pk=record.saga_id))
    if instance is None:
        return
    append_saga_events(
        instance,
        [
            SagaCommandFailed(
                saga_id=instance.id, command_id=record.id, command=record.name, error=error[:1000]
            )
        ],
    )


def compensation_done(record: CommandRecord) -> None:
    if record.saga_id is None:
        return
    instance = locked_instance(SagaInstance.objects.filter(pk=record.saga_id))
    if instance is None:
        return
    append_saga_events(
        instance,
        [
            SagaCompensationDone(
                saga_id=instance.id,
                command_id=record.id,
                command=record.name,
                step=record.step,
            )
        ],
    )


# --- deadlines and operators' actions ---------------------------------------------------


def time_out_due(limit: int = 100) -> int:
    """Run the timeout step of every running saga past its deadline (beat)."""
    now = timezone.now()
    due = list(
        SagaInstance.objects.filter(status=SagaStatus.RUNNING, deadline__lte=now)
        .order_by("deadline")
        .values_list("id", flat=True)[:limit]
    )
    done = 0
    for saga_id in due:
        try:
            with transaction.atomic():
                instance = (
                    SagaInstance.objects.select_for_update(skip_locked=True)
                    .filter(id=saga_id, status=SagaStatus.RUNNING, deadline__lte=timezone.now())
                    .first()
                )
                if instance is None:
                    continue
                saga = saga_class(instance.saga_type)
                run_step(saga, instance, TIMEOUT_STEP, None, lambda s, c: s.on_timeout(c))
                done += 1
        except Exception:
            # Rolled back; tried again at the next check (the oldest deadline comes first,
            # so raising here would stop every other saga's timeout for good).
            logger.exception("saga %s: its timeout step failed", saga_id)
    return done


class SagaActionError(Exception):
    pass


def saga_retry_step(*, saga_id: uuid.UUID, actor: str = "") -> int:
    """Send the saga's failed (or stuck pending) commands again; a failed saga resumes
    where it stopped. Returns how many commands were sent."""
    with transaction.atomic():
        # The commands first, then the saga: the order of a worker running a command
        # (bus.run locks the command, then its saga to report it failed or done), so the
        # two never wait on each other crosswise. A command being run is waited for, and
        # skipped if it is done by then.
        commands = list(
            CommandRecord.objects.select_for_update()
            .filter(saga_id=saga_id)
            .exclude(status="done")
            .order_by("created_at")
        )
        instance = locked_instance(SagaInstance.objects.filter(id=saga_id))
        if instance is None:
            raise SagaActionError(f"saga {saga_id} does not exist")
        if instance.status in (SagaStatus.COMPLETED, SagaStatus.COMPENSATED, SagaStatus.TIMED_OUT):
            # A finished saga's last commands (telling the manager) may have failed for
            # good: they are sent again, and the saga stays as it ended.
            commands = [record for record in commands if record.status == "failed"]
            if not commands:
                raise SagaActionError(f"saga {saga_id} is {instance.status}: nothing to retry")
        previous = instance.status
        for record in commands:
            if record.status == "failed":
                bus.retry_failed(record)
            else:
                transaction.on_commit(partial(bus.dispatch, record.id))
        if instance.status == SagaStatus.FAILED:
            instance.status = instance.state.pop(FAILED_FROM, SagaStatus.RUNNING)
            instance.reason = f"step retried by {actor or 'an operator'}"
        record_step(instance, "retry_step", None, [r.name for r in commands], "")
        save_instance(instance, previous)
        return len(commands)


def saga_compensate(*, saga_id: uuid.UUID, actor: str = "") -> None:
    """Undo what the saga did so far (its compensations, newest first)."""
    with transaction.atomic():
        instance = locked_instance(SagaInstance.objects.filter(id=saga_id))
        if instance is None:
            raise SagaActionError(f"saga {saga_id} does not exist")
        if instance.status not in (SagaStatus.RUNNING, SagaStatus.FAILED):
            raise SagaActionError(f"saga {saga_id} is {instance.status}: cannot compensate")
        if past_pivot(instance):
            raise SagaActionError(
                f"saga {saga_id} is past its point of no return "
                f"({instance.state[PIVOT_KEY]}): what it did stays; retry its failed step"
            )
        previous = instance.status
        saga = saga_class(instance.saga_type)
        record_step(instance, "compensate", None, [], "")
        begin_compensation(
            saga,
            instance,
            f"compensation asked by {actor or 'an operator'}",
            SagaStatus.COMPENSATED,
            None,
        )
        save_instance(instance, previous)
