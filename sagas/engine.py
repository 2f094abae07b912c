"""The saga engine: persisted saga instances driven by events.

A saga class declares its steps: which event each handles (``@step``), which command
undoes a step's effect (``compensate=``), which events may start it and how an event
finds its instance (``correlate``: the correlation key, unique per saga type). Each saga
type is one subscription of ``events.subscriptions``: its steps run inside the delivery
transaction, in stream order, retried and dead-lettered like any subscriber.

A step runs once per event: the step history (``SagaStep``) has one row per (saga,
handled event), checked under the saga row's lock, so a redelivered event is recorded
as seen and nothing else. What a step does — update the state, send commands on the
bus, complete, compensate, set a deadline — commits together with its history row, its
events on the ``saga-<id>`` stream and the checkpoint.

Compensation: when a step asks for it (or a command fails for good, or the deadline
passes), the compensations of the steps taken so far are sent one at a time in reverse
order; each is a command (retried, idempotent by its command id) whose success
(``SagaCompensationDone``) sends the next. After the last one the saga is
``compensated`` (``timed_out`` when the deadline caused it) and ``on_compensated`` runs.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any, ClassVar, TypeVar

from django.db import transaction
from django.utils import timezone

from events import store
from events.registry import Event
from events.store import RecordedEvent
from events.subscriptions import RetryPolicy, subscribe
from sagas import bus
from sagas.events import (
    SAGA_STREAM,
    SagaCommandFailed,
    SagaCompensationDone,
    SagaStarted,
    SagaStatusChanged,
    SagaStepTaken,
    saga_stream,
)
from sagas.models import CommandRecord, SagaInstance, SagaStatus, SagaStep

logger = logging.getLogger(__name__)

ACTIVE = (SagaStatus.RUNNING, SagaStatus.COMPENSATING)
TIMEOUT_STEP = "timeout"
# Internal keys of a saga's state.
_COMPENSATIONS = "_compensations"  # the ones still to send, next first
_FINAL = "_final_status"
_FAILED_FROM = "_failed_from"

F = TypeVar("F", bound=Callable[..., None])


@dataclass(frozen=True)
class StepSpec:
    event_type: str
    method: str
    compensate: str = ""
    starts: bool = False


def step(event: type[Event], *, compensate: str = "", starts: bool = False) -> Callable[[F], F]:
    """Declare a saga method as the step that handles ``event``. ``compensate`` names the
    command that undoes its effect; ``starts``: this event may start a new instance."""

    def mark(fn: F) -> F:
        fn._saga_step = StepSpec(event.event_type, fn.__name__, compensate, starts)  # type: ignore[attr-defined]
        return fn

    return mark


class Saga:
    """Base of the sagas. Subclasses set ``saga_type`` and ``stream_types``, declare
    steps with ``@step`` and say how an event finds its instance (``correlate``)."""

    saga_type: ClassVar[str] = ""
    stream_types: ClassVar[tuple[str, ...]] = ()
    retry: ClassVar[RetryPolicy] = RetryPolicy(max_attempts=8, base_delay=0.5, max_delay=30)
    steps: ClassVar[dict[str, StepSpec]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.steps = {
            spec.event_type: spec
            for value in vars(cls).values()
            if (spec := getattr(value, "_saga_step", None)) is not None
        }

    @classmethod
    def subscription_name(cls) -> str:
        return f"sagas.{cls.saga_type}"

    @classmethod
    def correlate(cls, recorded: RecordedEvent) -> str | None:
        """The correlation key of the instance this event belongs to (None: not ours)."""
        raise NotImplementedError

    # Hooks with defaults -------------------------------------------------------------

    def on_timeout(self, ctx: StepContext) -> None:
        """The deadline passed: compensate, ending ``timed_out``."""
        ctx.compensate("deadline passed", final=SagaStatus.TIMED_OUT)

    def on_command_failed(self, ctx: StepContext, command: str, error: str) -> None:
        """A command failed for good: compensate (a failing compensation: stop, failed)."""
        if ctx.instance.status == SagaStatus.COMPENSATING:
            ctx.fail(f"compensation {command} failed: {error}")
        else:
            ctx.compensate(f"{command} failed: {error}")

    def on_compensated(self, ctx: StepContext) -> None:
        """Every compensation ran (send a notification, say)."""


@dataclass
class StepContext:
    """What a step sees and does: the state to update, commands to send, the outcome."""

    instance: SagaInstance
    step: str
    event: RecordedEvent | None
    commands: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    compensation_reason: str | None = None
    final_status: str = SagaStatus.COMPENSATED
    new_status: str | None = None
    reason: str = ""

    @property
    def state(self) -> dict[str, Any]:
        return self.instance.state

    def send(self, name: str, payload: dict[str, Any]) -> None:
        self.commands.append((name, payload))

    def complete(self) -> None:
        self.new_status = SagaStatus.COMPLETED
        self.set_deadline(None)

    def fail(self, reason: str) -> None:
        """Stop where it is: an operator retries a step or compensates (admin)."""
        self.new_status = SagaStatus.FAILED
        self.reason = reason

    def compensate(self, reason: str, *, final: str = SagaStatus.COMPENSATED) -> None:
        self.compensation_reason = reason
        self.final_status = final

    def set_deadline(self, moment: datetime | timedelta | None) -> None:
        if isinstance(moment, timedelta):
            moment = timezone.now() + moment
        self.instance.deadline = moment


# --- registry --------------------------------------------------------------------------

_sagas: dict[str, type[Saga]] = {}


def register(saga: type[Saga]) -> None:
    """Register a saga type and subscribe it to its events (AppConfig.ready)."""
    _sagas[saga.saga_type] = saga
    subscribe(
        saga.subscription_name(),
        partial(handle, saga),
        event_types=[*saga.steps, SagaCommandFailed, SagaCompensationDone],
        stream_types=[*saga.stream_types, SAGA_STREAM],
        retry=saga.retry,
        batch_size=50,
    )


def saga_class(saga_type: str) -> type[Saga]:
    return _sagas[saga_type]


def registered() -> list[type[Saga]]:
    return list(_sagas.values())


# --- routing events to steps -----------------------------------------------------------


def handle(saga: type[Saga], recorded: RecordedEvent) -> None:
    """The subscription handler: run the step of ``saga`` that handles this event."""
    data = recorded.data
    if isinstance(data, SagaCommandFailed | SagaCompensationDone):
        instance = _locked(SagaInstance.objects.filter(id=data.saga_id, saga_type=saga.saga_type))
        if instance is None:
            return  # another saga type's
        if isinstance(data, SagaCommandFailed):
            failed = data

            def on_failed(saga_obj: Saga, ctx: StepContext) -> None:
                saga_obj.on_command_failed(ctx, failed.command, failed.error)

            _run(saga, instance, "command_failed", recorded, on_failed)
        else:
            _run(saga, instance, "compensation_done", recorded, _next_compensation)
        return
    spec = saga.steps.get(recorded.event_type)
    key = saga.correlate(recorded) if spec is not None else None
    if spec is None or key is None:
        return
    instance = _locked(SagaInstance.objects.filter(saga_type=saga.saga_type, correlation_key=key))
    if instance is None:
        if not spec.starts:
            logger.info("%s: no saga %s for %s", saga.saga_type, key, recorded.event_type)
            return
        instance = _start(saga, key, recorded)
    _run(saga, instance, spec.method, recorded, lambda s, c: getattr(s, spec.method)(c))


def _locked(queryset: Any) -> SagaInstance | None:
    result: SagaInstance | None = queryset.select_for_update().first()
    return result


def _start(saga: type[Saga], key: str, recorded: RecordedEvent) -> SagaInstance:
    instance = SagaInstance.objects.create(
        saga_type=saga.saga_type,
        correlation_key=key,
        correlation_id=recorded.metadata.correlation_id,
    )
    _append(
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


def _run(
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
        _record(instance, f"ignored:{step_name}", recorded, [], "")
        return
    ctx = StepContext(instance=instance, step=step_name, event=recorded)
    previous = instance.status
    body(saga(), ctx)
    spec = saga.steps.get(recorded.event_type) if recorded is not None else None
    compensation = spec.compensate if spec is not None and spec.method == step_name else ""
    sent = _send_all(instance, step_name, recorded, ctx.commands)
    if ctx.new_status is not None:
        instance.status = ctx.new_status
        instance.reason = ctx.reason or instance.reason
        if ctx.new_status == SagaStatus.FAILED:
            instance.state[_FAILED_FROM] = previous
    if not internal or step_name == TIMEOUT_STEP:
        instance.current_step = step_name
    _record(instance, step_name, recorded, sent, compensation)
    if ctx.compensation_reason is not None and instance.status in ACTIVE:
        _begin_compensation(saga, instance, ctx.compensation_reason, ctx.final_status, recorded)
    _save(instance, previous)


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


def _record(
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
    _append(
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


def _begin_compensation(
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
    instance.state[_COMPENSATIONS] = compensations
    instance.state[_FINAL] = final
    _send_next_compensation(saga, instance, recorded)


def _send_next_compensation(
    saga: type[Saga], instance: SagaInstance, recorded: RecordedEvent | None
) -> None:
    remaining: list[str] = instance.state.get(_COMPENSATIONS, [])
    while remaining:
        name, remaining = remaining[0], remaining[1:]
        instance.state[_COMPENSATIONS] = remaining
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
        if record.status != "done":
            return  # its SagaCompensationDone sends the next one
        # Done by an earlier round (compensating again after an operator's retry).
    instance.status = instance.state.pop(_FINAL, SagaStatus.COMPENSATED)
    instance.state.pop(_COMPENSATIONS, None)
    ctx = StepContext(instance=instance, step="compensated", event=recorded)
    saga().on_compensated(ctx)
    _send_all(instance, "compensated", recorded, ctx.commands)


def _next_compensation(saga_obj: Saga, ctx: StepContext) -> None:
    if ctx.instance.status == SagaStatus.COMPENSATING:
        _send_next_compensation(type(saga_obj), ctx.instance, ctx.event)


def _save(instance: SagaInstance, previous: str) -> None:
    if instance.status != previous:
        _append(
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


def _append(instance: SagaInstance, events: list[Event]) -> None:
    store.append(saga_stream(instance.id), events, instance.version, stream_type=SAGA_STREAM)
    instance.version += len(events)
    SagaInstance.objects.filter(id=instance.id).update(version=instance.version)


# --- called by the command bus (in the command's transaction) --------------------------


def command_failed(record: CommandRecord, error: str) -> None:
    if record.saga_id is None:
        return
    instance = _locked(SagaInstance.objects.filter(pk=record.saga_id))
    if instance is None:
        return
    _append(
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
    instance = _locked(SagaInstance.objects.filter(pk=record.saga_id))
    if instance is None:
        return
    _append(
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
        with transaction.atomic():
            instance = (
                SagaInstance.objects.select_for_update(skip_locked=True)
                .filter(id=saga_id, status=SagaStatus.RUNNING, deadline__lte=timezone.now())
                .first()
            )
            if instance is None:
                continue
            saga = saga_class(instance.saga_type)
            _run(saga, instance, TIMEOUT_STEP, None, lambda s, c: s.on_timeout(c))
            done += 1
    return done


class SagaActionError(Exception):
    pass


def saga_retry_step(*, saga_id: uuid.UUID, actor: str = "") -> int:
    """Send the saga's failed (or stuck pending) commands again; a failed saga resumes
    where it stopped. Returns how many commands were sent."""
    with transaction.atomic():
        instance = _locked(SagaInstance.objects.filter(id=saga_id))
        if instance is None:
            raise SagaActionError(f"saga {saga_id} does not exist")
        if instance.status in (SagaStatus.COMPLETED, SagaStatus.COMPENSATED, SagaStatus.TIMED_OUT):
            raise SagaActionError(f"saga {saga_id} is {instance.status}: nothing to retry")
        previous = instance.status
        commands = list(
            CommandRecord.objects.select_for_update()
            .filter(saga=instance)
            .exclude(status="done")
            .order_by("created_at")
        )
        for record in commands:
            if record.status == "failed":
                bus.retry_failed(record)
            else:
                transaction.on_commit(partial(bus.dispatch, record.id))
        if instance.status == SagaStatus.FAILED:
            instance.status = instance.state.pop(_FAILED_FROM, SagaStatus.RUNNING)
            instance.reason = f"step retried by {actor or 'an operator'}"
        _record(instance, "retry_step", None, [r.name for r in commands], "")
        _save(instance, previous)
        return len(commands)


def saga_compensate(*, saga_id: uuid.UUID, actor: str = "") -> None:
    """Undo what the saga did so far (its compensations, newest first)."""
    with transaction.atomic():
        instance = _locked(SagaInstance.objects.filter(id=saga_id))
        if instance is None:
            raise SagaActionError(f"saga {saga_id} does not exist")
        if instance.status not in (SagaStatus.RUNNING, SagaStatus.FAILED):
            raise SagaActionError(f"saga {saga_id} is {instance.status}: cannot compensate")
        previous = instance.status
        saga = saga_class(instance.saga_type)
        _record(instance, "compensate", None, [], "")
        _begin_compensation(
            saga,
            instance,
            f"compensation asked by {actor or 'an operator'}",
            SagaStatus.COMPENSATED,
            None,
        )
        _save(instance, previous)
