"""Team entry with payment: an organiser opens entries (fee, currency, payment deadline,
capacity); a team manager requests entry; the saga reserves a slot (or a place on the
waiting list), asks the payment provider for a payment through the circuit breaker, and
registers the team when the provider's webhook reports it paid.

    TeamEntryRequested → ReserveSlot → EntrySlotReserved → RequestPayment
      → PaymentRequested (deadline set) → webhook → PaymentProcessed → RegisterTeam
      → TeamRegistered + TeamEntryConfirmed → NotifyManager → ManagerNotified → completed
    PaymentFailed, or the deadline → compensations in reverse: VoidPayment, ReleaseSlot
      (the first waiting entry gets the slot) → CancelEntry (manager notified)
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from pybreaker import CircuitBreakerError

from championships import commands as championship_commands
from championships.commands.streams import authorise, get_championship
from championships.exceptions import InvalidCommand, InvalidState
from championships.models import Team
from events import store
from events.registry import Event
from events.store import RecordedEvent
from sagas import payments
from sagas.bus import RetryLater, command_handler
from sagas.engine import Saga, StepContext, step
from sagas.events import (
    ENTRIES_STREAM,
    ENTRY_STREAM,
    EntriesOpened,
    EntrySlotReleased,
    EntrySlotReserved,
    EntryWaitListed,
    ManagerNotified,
    PaymentFailed,
    PaymentProcessed,
    PaymentRequested,
    PaymentVoided,
    TeamEntryCancelled,
    TeamEntryConfirmed,
    TeamEntryRequested,
    entries_stream,
    entry_stream,
)
from sagas.models import (
    SLOT_HOLDING,
    CommandRecord,
    EntryStatus,
    EntryWindow,
    Payment,
    PaymentStatus,
    SagaStatus,
    SentEmail,
    TeamEntry,
)
from sagas.payments import breaker

SAGA_TYPE = "team_entry"


# --- commands of organisers and managers ------------------------------------------------


def entries_open(
    *,
    actor_id: int,
    championship_id: uuid.UUID,
    fee: Decimal,
    currency: str,
    payment_deadline_seconds: int,
    capacity: int,
) -> EntryWindow:
    """Open (or change) a championship's entries."""
    with transaction.atomic():
        championship = get_championship(championship_id)
        authorise(championship, actor_id)
        if championship.fixtures_generated:
            raise InvalidState("fixtures are generated: no more teams can enter")
        window = EntryWindow.objects.select_for_update().filter(championship=championship).first()
        if window is None:
            window = EntryWindow(championship=championship, version=0)
        window.fee = fee
        window.currency = currency.upper()
        window.payment_deadline_seconds = payment_deadline_seconds
        window.capacity = capacity
        window.is_open = True
        store.append(
            entries_stream(championship.id),
            [
                EntriesOpened(
                    championship_id=championship.id,
                    fee=str(fee),
                    currency=window.currency,
                    payment_deadline_seconds=payment_deadline_seconds,
                    capacity=capacity,
                    opened_by=actor_id,
                )
            ],
            window.version,
            stream_type=ENTRIES_STREAM,
        )
        window.version += 1
        window.save()
        return window


def team_entry_request(*, actor_id: int, championship_id: uuid.UUID, team_name: str) -> TeamEntry:
    """A team manager asks to enter a team: the saga takes it from there."""
    team_name = team_name.strip()
    if not team_name:
        raise InvalidCommand("team_name may not be blank")
    with transaction.atomic():
        championship = get_championship(championship_id)
        window = EntryWindow.objects.filter(championship=championship, is_open=True).first()
        if window is None or championship.fixtures_generated:
            raise InvalidState("entries to this championship are not open")
        taken = (
            Team.objects.filter(championship=championship, name__iexact=team_name).exists()
            or TeamEntry.objects.filter(championship=championship, team_name__iexact=team_name)
            .exclude(status=EntryStatus.CANCELLED)
            .exists()
        )
        if taken:
            raise InvalidState(f"a team named {team_name!r} is already entered")
        entry = TeamEntry.objects.create(
            championship=championship,
            team_name=team_name,
            manager_id=actor_id,
            fee=window.fee,
            currency=window.currency,
        )
        _append(
            entry,
            [
                TeamEntryRequested(
                    entry_id=entry.id,
                    championship_id=championship.id,
                    team_name=team_name,
                    manager_id=actor_id,
                    fee=str(window.fee),
                    currency=window.currency,
                )
            ],
        )
        return entry


def _append(entry: TeamEntry, events: list[Event]) -> None:
    store.append(entry_stream(entry.id), events, entry.version, stream_type=ENTRY_STREAM)
    entry.version += len(events)
    entry.save()


def _locked_entry(command: CommandRecord) -> TeamEntry:
    return TeamEntry.objects.select_for_update().get(id=command.payload["entry_id"])


def _slots_taken(championship_id: uuid.UUID) -> int:
    teams = Team.objects.filter(championship_id=championship_id, withdrawn=False).count()
    holding = TeamEntry.objects.filter(
        championship_id=championship_id, status__in=SLOT_HOLDING
    ).count()
    return teams + holding


# --- command handlers ------------------------------------------------------------------


@command_handler("ReserveSlot")
def reserve_slot(command: CommandRecord) -> None:
    entry = _locked_entry(command)
    if entry.status != EntryStatus.REQUESTED:
        return
    # One entry at a time per championship decides on the last slots.
    window = EntryWindow.objects.select_for_update().get(championship_id=entry.championship_id)
    if _slots_taken(entry.championship_id) < window.capacity:
        entry.status = EntryStatus.RESERVED
        _append(
            entry, [EntrySlotReserved(entry_id=entry.id, championship_id=entry.championship_id)]
        )
        return
    entry.status = EntryStatus.WAITING
    entry.waiting_since = timezone.now()
    position = (
        TeamEntry.objects.filter(
            championship_id=entry.championship_id, status=EntryStatus.WAITING
        ).count()
        + 1
    )
    _append(
        entry,
        [
            EntryWaitListed(
                entry_id=entry.id, championship_id=entry.championship_id, position=position
            )
        ],
    )


@command_handler("RequestPayment")
def request_payment(command: CommandRecord) -> None:
    entry = _locked_entry(command)
    if entry.status != EntryStatus.RESERVED:
        return
    provider = payments.provider()
    request = payments.PaymentRequest(
        reference=entry.id,
        amount=entry.fee,
        currency=entry.currency,
        description=f"Entry of {entry.team_name}",
        idempotency_key=str(command.id),
    )
    circuit = breaker.breaker()
    try:
        created = circuit.call(provider.create_payment, request)
    except CircuitBreakerError as exc:
        raise RetryLater(f"payment provider circuit open: {exc}", circuit.reset_timeout) from exc
    except payments.ProviderUnavailable as exc:
        raise RetryLater(
            f"payment provider unavailable: {exc}", settings.PAYMENTS_RETRY_SECONDS
        ) from exc
    Payment.objects.create(
        provider=provider.name,
        provider_payment_id=created.provider_payment_id,
        entry=entry,
        amount=entry.fee,
        currency=entry.currency,
    )
    entry.status = EntryStatus.AWAITING_PAYMENT
    _append(
        entry,
        [
            PaymentRequested(
                entry_id=entry.id,
                provider=provider.name,
                provider_payment_id=created.provider_payment_id,
                amount=str(entry.fee),
                currency=entry.currency,
            )
        ],
    )


@command_handler("VoidPayment")
def void_payment(command: CommandRecord) -> None:
    entry = _locked_entry(command)
    for payment in Payment.objects.select_for_update().filter(
        entry=entry, status__in=[PaymentStatus.PENDING, PaymentStatus.SUCCEEDED]
    ):
        payments.provider().cancel_payment(payment.provider_payment_id)
        payment.status = PaymentStatus.VOIDED
        payment.save(update_fields=["status"])
        _append(
            entry,
            [PaymentVoided(entry_id=entry.id, provider_payment_id=payment.provider_payment_id)],
        )


@command_handler("ReleaseSlot")
def release_slot(command: CommandRecord) -> None:
    entry = _locked_entry(command)
    if entry.status in (EntryStatus.CANCELLED, EntryStatus.REGISTERED):
        return
    window = EntryWindow.objects.select_for_update().get(championship_id=entry.championship_id)
    held = entry.status in SLOT_HOLDING
    entry.status = EntryStatus.CANCELLED
    entry.waiting_since = None
    _append(entry, [EntrySlotReleased(entry_id=entry.id, championship_id=entry.championship_id)])
    if held:
        entries_fill_from_waiting_list(window)


def entries_fill_from_waiting_list(window: EntryWindow) -> int:
    """Give free slots to waiting entries, first come first served."""
    given = 0
    while _slots_taken(window.championship_id) < window.capacity:
        first = (
            TeamEntry.objects.select_for_update()
            .filter(championship_id=window.championship_id, status=EntryStatus.WAITING)
            .order_by("waiting_since", "created_at")
            .first()
        )
        if first is None:
            break
        first.status = EntryStatus.RESERVED
        first.waiting_since = None
        _append(
            first,
            [
                EntrySlotReserved(
                    entry_id=first.id,
                    championship_id=first.championship_id,
                    from_waiting_list=True,
                )
            ],
        )
        given += 1
    return given


@command_handler("RegisterTeam")
def register_team(command: CommandRecord) -> None:
    entry = _locked_entry(command)
    if entry.status != EntryStatus.PAID:
        return
    championship = get_championship(entry.championship_id)
    if not Team.objects.filter(id=entry.id).exists():
        # The team's id is the entry's: a second run finds it registered.
        championship_commands.team_register(
            actor_id=championship.owner_id,
            championship_id=championship.id,
            name=entry.team_name,
            team_id=entry.id,
        )
    entry.status = EntryStatus.REGISTERED
    _append(entry, [TeamEntryConfirmed(entry_id=entry.id, team_id=entry.id)])


def _notify_manager(command: CommandRecord, entry: TeamEntry, kind: str, subject: str) -> None:
    if SentEmail.objects.filter(command_id=command.id).exists():
        return
    to = entry.manager.email
    SentEmail.objects.create(command_id=command.id, kind=kind, to=to, subject=subject)
    _append(entry, [ManagerNotified(entry_id=entry.id, kind=kind, to=to, command_id=command.id)])
    if to:
        send_mail(subject, subject + "\n", None, [to])


@command_handler("NotifyManager")
def notify_manager(command: CommandRecord) -> None:
    entry = _locked_entry(command)
    _notify_manager(
        command, entry, "entry_confirmed", f"{entry.team_name} is entered: payment received"
    )


@command_handler("CancelEntry")
def cancel_entry(command: CommandRecord) -> None:
    entry = _locked_entry(command)
    reason = str(command.payload.get("reason") or "cancelled")
    if not entry.cancel_reason:
        entry.status = EntryStatus.CANCELLED
        entry.cancel_reason = reason[:200]
        _append(entry, [TeamEntryCancelled(entry_id=entry.id, reason=entry.cancel_reason)])
    _notify_manager(
        command, entry, "entry_cancelled", f"The entry of {entry.team_name} is cancelled: {reason}"
    )


# --- the payment webhook ----------------------------------------------------------------


class UnknownPayment(Exception):
    pass


def payment_webhook_record(
    *, provider_payment_id: str, status: str, amount: str, currency: str, reason: str = ""
) -> bool:
    """Record what the provider reports, once per payment (a replay changes nothing).
    Returns whether it recorded anything."""
    with transaction.atomic():
        payment = (
            Payment.objects.select_for_update()
            .select_related("entry")
            .filter(provider_payment_id=provider_payment_id)
            .first()
        )
        if payment is None:
            raise UnknownPayment(provider_payment_id)
        payment.webhooks_received += 1
        if payment.status != PaymentStatus.PENDING:
            payment.save(update_fields=["webhooks_received"])
            return False
        entry = TeamEntry.objects.select_for_update().get(id=payment.entry_id)
        event: Event
        if status == "succeeded":
            payment.status = PaymentStatus.SUCCEEDED
            if entry.status == EntryStatus.AWAITING_PAYMENT:
                entry.status = EntryStatus.PAID
            event = PaymentProcessed(
                entry_id=entry.id,
                provider_payment_id=provider_payment_id,
                amount=amount,
                currency=currency,
            )
        else:
            payment.status = PaymentStatus.FAILED
            event = PaymentFailed(
                entry_id=entry.id,
                provider_payment_id=provider_payment_id,
                reason=reason or status,
            )
        payment.save(update_fields=["status", "webhooks_received"])
        _append(entry, [event])
        return True


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

    @step(TeamEntryConfirmed)
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

    def on_timeout(self, ctx: StepContext) -> None:
        ctx.state["phase"] = "deadline_passed"
        ctx.compensate("no payment before the deadline", final=SagaStatus.TIMED_OUT)

    def on_compensated(self, ctx: StepContext) -> None:
        ctx.send(
            "CancelEntry",
            {"entry_id": ctx.state["entry_id"], "reason": ctx.instance.reason or "cancelled"},
        )


def entry_summary(entry: TeamEntry) -> dict[str, Any]:
    return {
        "id": str(entry.id),
        "championship": str(entry.championship_id),
        "team_name": entry.team_name,
        "status": entry.status,
        "fee": str(entry.fee),
        "currency": entry.currency,
        "cancel_reason": entry.cancel_reason,
    }
