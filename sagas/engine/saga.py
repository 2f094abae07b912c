"""What a saga declares: its steps (``@step``), the hooks with their defaults, and the
context a step works with."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar, TypeVar

from django.utils import timezone

from events.registry import Event
from events.store import RecordedEvent
from events.subscriptions import RetryPolicy
from sagas.models import SagaInstance, SagaStatus

F = TypeVar("F", bound=Callable[..., None])
PIVOT_KEY = "_pivot"  # in a saga's state: the pivot step it took (the point of no return)


def past_pivot(instance: SagaInstance) -> bool:
    return bool(instance.state.get(PIVOT_KEY))


@dataclass(frozen=True)
class StepSpec:
    event_type: str
    method: str
    compensate: str = ""
    starts: bool = False
    pivot: bool = False


def step(
    event: type[Event], *, compensate: str = "", starts: bool = False, pivot: bool = False
) -> Callable[[F], F]:
    """Declare a saga method as the step that handles ``event``. ``compensate`` names the
    command that undoes its effect; ``starts``: this event may start a new instance;
    ``pivot``: the saga's point of no return (its event says the outcome is kept), after
    which nothing is compensated: a failure stops the saga for an operator to retry."""

    def mark(fn: F) -> F:
        spec = StepSpec(event.event_type, fn.__name__, compensate, starts, pivot)
        fn._saga_step = spec  # type: ignore[attr-defined]
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
        """A command failed for good: compensate (a failing compensation, or any failure
        past the pivot: stop, failed)."""
        if ctx.instance.status == SagaStatus.COMPENSATING:
            ctx.fail(f"compensation {command} failed: {error}")
        elif ctx.past_pivot:
            ctx.fail(f"{command} failed past the point of no return: {error}")
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

    @property
    def past_pivot(self) -> bool:
        return past_pivot(self.instance)

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
