"""The team entry saga: which event each step handles, and what undoes it."""

from __future__ import annotations

from datetime import timedelta

from events.store import RecordedEvent
from sagas.engine import Saga, StepContext, step
from sagas.entries.commands import SAGA_TYPE
from sagas.events import (
    ENTRY_STREAM,
    EntrySlotReserved,
    EntryWaitListed,
    ManagerNotified,
    PaymentFailed,
    PaymentProcessed,
    PaymentRequested,
    TeamEntryClosed,
    TeamEntryConfirmed,
    TeamEntryRequested,
)
from sagas.models import EntryStatus, EntryWindow, SagaStatus, TeamEntry

# --- the saga --------------------------------------------------------------------------


class TeamEntrySaga(Saga):
    saga_type = SAGA_TYPE
    stream_types = (ENTRY_STREAM,)

    @classmethod
    def correlate(cls, recorded: RecordedEvent) -> str | None:
        entry_id = getattr(recorded.data, "entry_id", None)
        return str(entry_id) if entry_id is not None else None

    @step(TeamEntryRequested, starts=True, compensate="ReleaseSlot")
    def on_requested(self, ctx: StepContext) -> None:
        event = ctx.event.data if ctx.event else None
        assert isinstance(event, TeamEntryRequested)
        ctx.state.update(entry_id=str(event.entry_id), phase="reserving")
        ctx.send("ReserveSlot", {"entry_id": str(event.entry_id)})

    @step(EntryWaitListed)
    def on_wait_listed(self, ctx: StepContext) -> None:
        ctx.state["phase"] = "waiting_list"

    @step(EntrySlotReserved, compensate="VoidPayment")
    def on_slot_reserved(self, ctx: StepContext) -> None:
        ctx.state["phase"] = "requesting_payment"
        ctx.send("RequestPayment", {"entry_id": ctx.state["entry_id"]})

    @step(PaymentRequested)
    def on_payment_requested(self, ctx: StepContext) -> None:
        event = ctx.event.data if ctx.event else None
        assert isinstance(event, PaymentRequested)
        window = EntryWindow.objects.get(championship__entries__id=ctx.state["entry_id"])
        ctx.state.update(phase="awaiting_payment", provider_payment_id=event.provider_payment_id)
        ctx.set_deadline(timedelta(seconds=window.payment_deadline_seconds))

    @step(PaymentProcessed)
    def on_payment_processed(self, ctx: StepContext) -> None:
        ctx.state["phase"] = "registering"
        ctx.set_deadline(None)
        ctx.send("RegisterTeam", {"entry_id": ctx.state["entry_id"]})

    @step(PaymentFailed)
    def on_payment_failed(self, ctx: StepContext) -> None:
        event = ctx.event.data if ctx.event else None
        assert isinstance(event, PaymentFailed)
        ctx.state["phase"] = "payment_failed"
        ctx.compensate(f"payment failed: {event.reason}")

    @step(TeamEntryClosed)
    def on_closed(self, ctx: StepContext) -> None:
        event = ctx.event.data if ctx.event else None
        assert isinstance(event, TeamEntryClosed)
        ctx.state["phase"] = "entries_closed"
        ctx.compensate(event.reason)

    # The pivot: the team is registered (and paid); from here on nothing is undone.
    @step(TeamEntryConfirmed, pivot=True)
    def on_confirmed(self, ctx: StepContext) -> None:
        ctx.state["phase"] = "notifying"
        ctx.send("NotifyManager", {"entry_id": ctx.state["entry_id"]})

    @step(ManagerNotified)
    def on_manager_notified(self, ctx: StepContext) -> None:
        event = ctx.event.data if ctx.event else None
        assert isinstance(event, ManagerNotified)
        if event.kind == "entry_confirmed":
            ctx.state["phase"] = "registered"
            ctx.complete()

    def on_command_failed(self, ctx: StepContext, command: str, error: str) -> None:
        """Once the team is registered (paid and in the championship) nothing is undone:
        the manager's email failing for good (the mail server down through every
        attempt) stops the saga for an operator to retry the step, instead of voiding the
        payment of a team that stays registered."""
        super().on_command_failed(ctx, command, error)
        if ctx.past_pivot:
            ctx.state["phase"] = "notification_failed"

    def on_timeout(self, ctx: StepContext) -> None:
        """The deadline passed. A payment the webhook recorded in time stands, even if
        this saga has not handled its PaymentProcessed yet: read under the entry's lock
        (the webhook's), so a payment being recorded is waited for."""
        entry = TeamEntry.objects.select_for_update().get(id=ctx.state["entry_id"])
        if entry.status in (EntryStatus.PAID, EntryStatus.REGISTERED):
            ctx.set_deadline(None)  # its PaymentProcessed step registers the team
            return
        ctx.state["phase"] = "deadline_passed"
        ctx.compensate("no payment before the deadline", final=SagaStatus.TIMED_OUT)

    def on_compensated(self, ctx: StepContext) -> None:
        ctx.send(
            "CancelEntry",
            {"entry_id": ctx.state["entry_id"], "reason": ctx.instance.reason or "cancelled"},
        )
