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

from sagas.engine.operations import (
    SagaActionError,
    command_failed,
    compensation_done,
    saga_compensate,
    saga_retry_step,
    time_out_due,
)
from sagas.engine.running import (
    TIMEOUT_STEP,
    _sagas,
    handle,
    register,
    registered,
    saga_class,
)
from sagas.engine.saga import Saga, StepContext, StepSpec, step

__all__ = [
    "TIMEOUT_STEP",
    "Saga",
    "SagaActionError",
    "StepContext",
    "StepSpec",
    "_sagas",
    "command_failed",
    "compensation_done",
    "handle",
    "register",
    "registered",
    "saga_class",
    "saga_compensate",
    "saga_retry_step",
    "step",
    "time_out_due",
]
