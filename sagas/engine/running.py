"""Running sagas: the registry of saga types, the subscription handler that routes an
event to its instance's step, the persistence of a step's effects, compensation."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from events import store
from events.registry import Event
from events.store import RecordedEvent
from events.subscriptions import subscribe
from sagas import bus
from sagas.engine.saga import PIVOT_KEY, Saga, StepContext, past_pivot
from sagas.events import (
    SAGA_STREAM,
    SagaCommandFailed,
    SagaCompensationDone,
    SagaStarted,
    SagaStatusChanged,
    SagaStepTaken,
    saga_stream,
)
from sagas.models import CommandRecord, CommandStatus, SagaInstance, SagaStatus, SagaStep

logger = logging.getLogger(__name__)

ACTIVE = (SagaStatus.RUNNING, SagaStatus.COMPENSATING)
TIMEOUT_STEP = "timeout"
# Internal keys of a saga's state.
COMPENSATIONS_KEY = "_compensations"  # the ones still to send, next first
FINAL_KEY = "_final_status"
FAILED_FROM = "_failed_from"

# --- registry --------------------------------------------------------------------------

_sagas: dict[str, type[Saga]] = {}


def register(saga: type[Saga]) -> None:
    """Register a saga type and subscribe it to its events (AppConfig.ready)."""
    _sagas[saga.saga_type] = saga
    subscribe(
        saga.subscription_name(),
        partial(handle, saga),
        event_types=[*saga.steps, SagaCommandFailed, SagaCompensationDone],
        stream_types=[*saga.stream_types, saga_stream_type(saga.saga_type)],
        retry=saga.retry,
        batch_size=50,
    )


def saga_stream_type(saga_type: str) -> str:
    """Each saga type's streams have a type of their own: a saga's subscription follows
    only its own sagas' streams (for the bus's reports), not every saga's."""
    return f"{SAGA_STREAM}.{saga_type}"


def saga_class(saga_type: str) -> type[Saga]:
    return _sagas[saga_type]


def registered() -> list[type[Saga]]:
    return list(_sagas.values())


# --- routing events to steps -----------------------------------------------------------


def handle(saga: type[Saga], recorded: RecordedEvent) -> None:
    """The subscription handler: run the step of ``saga`` that handles this event."""
    data = recorded.data
    if isinstance(data, SagaCommandFailed | SagaCompensationDone):
        instance = locked_instance(
            SagaInstance.objects.filter(id=data.saga_id, saga_type=saga.saga_type)
        )
        if instance is None:
            return  # another saga type's
        if isinstance(data, SagaCommandFailed):
            failed = data

            def on_failed(saga_obj: Saga, ctx: StepContext) -> None:
                if ctx.instance.status == SagaStatus.COMPENSATING and not _compensation(failed):
                    # A step being undone anyway: its failure is recorded, the
                    # compensation goes on (its own commands' failures stop it).
                    return
                saga_obj.on_command_failed(ctx, failed.command, failed.error)

            run_step(saga, instance, "command_failed", recorded, on_failed)
        else:
            run_step(saga, instance, "compensation_done", recorded, _next_compensation)
        return
    spec = saga.steps.get(recorded.event_type)
    key = saga.correlate(recorded) if spec is not None else None
    if spec is None or key is None:
        return
    instance = locked_instance(
        SagaInstance.objects.filter(saga_type=saga.saga_type, correlation_key=key)
    )
    if instance is None:
        if not spec.starts:
            logger.info("%s: no saga %s for %s", saga.saga_type, key, recorded.event_type)
            return
        instance = _start(saga, key, recorded)
    run_step(saga, instance, spec.method, recorded, lambda s, c: getattr(s, spec.method)(c))


def _compensation(failed: SagaCommandFailed) -> bool:
    return CommandRecord.objects.filter(id=failed.command_id, compensation=True).exists()


def locked_instance(queryset: Any) -> SagaInstance | None:
    result: SagaInstance | None = queryset.select_for_update().first()
    return result


def _start(saga: type[Saga], key: str, recorded: RecordedEvent) -> SagaInstance:
    instance = SagaInstance.objects.create(
        saga_type=saga.saga_type,
        correlation_key=key,
        correlation_id=recorded.metadata.correlation_id,
    )
    append_saga_events(
        instance,
        [
            SagaStarted(
                saga_id=instance.id,
                saga_type=saga.saga_type,
                correlation_key=key,
                started_by=str(recorded.event_id),
            )
        ],
    )
    return instance


def run_step(
    saga: type[Saga],
    instance: SagaInstance,
    step_name: str,
    recorded: RecordedEvent | None,
    body: Callable[[Saga, StepContext], None],
) -> None:
    """Run one step under the instance's lock, once per event, and persist its effects."""
    if recorded is not None and instance.steps.filter(event_id=recorded.event_id).exists():
        logger.info("%s %s: %s already handled", saga.saga_type, instance.id, recorded.event_id)
        return
    internal = step_name in ("command_failed", "compensation_done", TIMEOUT_STEP)
    if not internal and instance.status != SagaStatus.RUNNING:
        # A late event (a payment after the deadline, or while compensating): recorded,
        # nothing done.
        record_step(instance, f"ignored:{step_name}", recorded, [], "")
        return
    ctx = StepContext(instance=instance, step=step_name, event=recorded)
    previous = instance.status
    body(saga(), ctx)
    spec = saga.steps.get(recorded.event_type) if recorded is not None else None
    ours = spec is not None and spec.method == step_name
    compensation = spec.compensate if spec is not None and ours else ""
    if spec is not None and ours and spec.pivot:
        instance.state[PIVOT_KEY] = step_name
    sent = _send_all(instance, step_name, recorded, ctx.commands)
    if ctx.new_status is not None:
        instance.status = ctx.new_status
        instance.reason = ctx.reason or instance.reason
        if ctx.new_status == SagaStatus.FAILED:
            instance.state[FAILED_FROM] = previous
    if not internal or step_name == TIMEOUT_STEP:
        instance.current_step = step_name
    record_step(instance, step_name, recorded, sent, compensation)
    if (
        ctx.compensation_reason is not None
        and instance.status in ACTIVE
        and not past_pivot(instance)
    ):
        begin_compensation(saga, instance, ctx.compensation_reason, ctx.final_status, recorded)
    save_instance(instance, previous)


def _send_all(
    instance: SagaInstance,
    step_name: str,
    recorded: RecordedEvent | None,
    commands: Iterable[tuple[str, dict[str, Any]]],
) -> list[str]:
    cause = str(recorded.event_id) if recorded is not None else f"{step_name}@{instance.version}"
    names = []
    for index, (name, payload) in enumerate(commands):
        bus.send(
            name,
            payload,
            command_id=bus.command_id_for(instance.id, step_name, cause, index, name),
            saga=instance,
            step=step_name,
            correlation_id=instance.correlation_id,
            causation_id=str(recorded.event_id) if recorded is not None else "",
        )
        names.append(name)
    return names


def record_step(
    instance: SagaInstance,
    step_name: str,
    recorded: RecordedEvent | None,
    commands: list[str],
    compensation: str,
) -> None:
    SagaStep.objects.create(
        saga=instance,
        step=step_name,
        event_id=recorded.event_id if recorded is not None else None,
        event_type=recorded.event_type if recorded is not None else "",
        commands=commands,
        compensation=compensation,
        status_after=instance.status,
    )
    append_saga_events(
        instance,
        [
            SagaStepTaken(
                saga_id=instance.id,
                step=step_name,
                handled_event_id=str(recorded.event_id) if recorded is not None else "",
                handled_event_type=recorded.event_type if recorded is not None else "",
                commands=commands,
                status=instance.status,
            )
        ],
    )


def begin_compensation(
    saga: type[Saga],
    instance: SagaInstance,
    reason: str,
    final: str,
    recorded: RecordedEvent | None,
) -> None:
    # Newest first: the reverse of the order the steps were taken in.
    compensations = list(
        instance.steps.exclude(compensation="")
        .order_by("-id")
        .values_list("compensation", flat=True)
    )
    instance.status = SagaStatus.COMPENSATING
    instance.reason = reason[:500]
    instance.deadline = None
    instance.state[COMPENSATIONS_KEY] = compensations
    instance.state[FINAL_KEY] = final
    _send_next_compensation(saga, instance, recorded)


def _send_next_compensation(
    saga: type[Saga], instance: SagaInstance, recorded: RecordedEvent | None
) -> None:
    remaining: list[str] = instance.state.get(COMPENSATIONS_KEY, [])
    while remaining:
        name, remaining = remaining[0], remaining[1:]
        instance.state[COMPENSATIONS_KEY] = remaining
        payload = {k: v for k, v in instance.state.items() if not k.startswith("_")}
        record = bus.send(
            name,
            payload,
            command_id=bus.command_id_for(instance.id, "compensate", name, len(remaining)),
            saga=instance,
            step=f"compensate:{name}",
            compensation=True,
            correlation_id=instance.correlation_id,
            causation_id=str(recorded.event_id) if recorded is not None else "",
        )
        if record.status == CommandStatus.FAILED:
            # Failed for good in an earlier round: compensating again (an operator's
            # Compensate) gives it fresh attempts, or it would be waited for for ever.
            bus.retry_failed(record)
        if record.status != CommandStatus.DONE:
            return  # its SagaCompensationDone sends the next one
        # Done by an earlier round (compensating again after an operator's retry).
    instance.status = instance.state.pop(FINAL_KEY, SagaStatus.COMPENSATED)
    instance.state.pop(COMPENSATIONS_KEY, None)
    ctx = StepContext(instance=instance, step="compensated", event=recorded)
    saga().on_compensated(ctx)
    _send_all(instance, "compensated", recorded, ctx.commands)


def _next_compensation(saga_obj: Saga, ctx: StepContext) -> None:
    if ctx.instance.status == SagaStatus.COMPENSATING:
        _send_next_compensation(type(saga_obj), ctx.instance, ctx.event)


def save_instance(instance: SagaInstance, previous: str) -> None:
    if instance.status != previous:
        append_saga_events(
            instance,
            [
                SagaStatusChanged(
                    saga_id=instance.id,
                    status=instance.status,
                    previous=previous,
                    reason=instance.reason,
                )
            ],
        )
    instance.save(
        update_fields=[
            "status",
            "current_step",
            "state",
            "deadline",
            "reason",
            "version",
            "updated_at",
        ]
    )


def append_saga_events(instance: SagaInstance, events: list[Event]) -> None:
    store.append(
        saga_stream(instance.id),
        events,
        instance.version,
        stream_type=saga_stream_type(instance.saga_type),
    )
    instance.version += len(events)
    SagaInstance.objects.filter(id=instance.id).update(version=instance.version)
