"""The team entry saga's command handlers (run by the command bus, once per command id)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone
from pybreaker import CircuitBreakerError

from championships import commands as championship_commands
from championships.commands.streams import get_championship
from championships.models import Team
from events.context import event_context
from events.models import StoredEvent
from events.store import EventError
from sagas import payments
from sagas.bus import RetryLater, command_handler
from sagas.entries.commands import (
    SAGA_TYPE,
    entries_fill_from_waiting_list,
    entry_append,
    locked_entry,
    locked_window,
    slots_taken,
)
from sagas.events import (
    EntrySlotReleased,
    EntrySlotReserved,
    EntryWaitListed,
    ManagerNotified,
    PaymentProcessed,
    PaymentRequested,
    PaymentVoided,
    TeamEntryCancelled,
    TeamEntryConfirmed,
    entry_stream,
)
from sagas.models import (
    SLOT_HOLDING,
    CommandRecord,
    EntryStatus,
    EntryWindow,
    Payment,
    PaymentStatus,
    SagaInstance,
    SagaStatus,
    SentEmail,
    TeamEntry,
)
from sagas.payments import breaker

logger = logging.getLogger(__name__)
# The "provider" of a free entry's payment (a fee of 0): nothing is asked of a provider.
FREE = "free"
A = TypeVar("A")
R = TypeVar("R")

# --- command handlers ------------------------------------------------------------------


@command_handler("ReserveSlot")
def reserve_slot(command: CommandRecord) -> None:
    """Slots go in the order entries were requested, whichever worker runs whose command
    first: this one first gives free slots to the waiting list, then decides, oldest
    first, the undecided entries requested before its own whose sagas run (their own
    commands then find them decided), then its own."""
    if not TeamEntry.objects.filter(
        id=command.payload["entry_id"], status=EntryStatus.REQUESTED
    ).exists():
        # Decided already (by an earlier command, or by a later entry's): no lock taken,
        # so this never holds the window while its entry's lock is held elsewhere (a
        # RequestPayment waiting on the provider).
        return
    # One command at a time per championship decides on the slots.
    window = locked_window(command)
    entry = locked_entry(command)
    if entry.status != EntryStatus.REQUESTED:
        return
    entries_fill_from_waiting_list(window)
    for each, saga in undecided_before(entry):
        # Its events belong to its own saga's trace, caused by its own request. In a
        # savepoint: an entry that cannot be decided here (its stream moved under it, a
        # row it breaks) is left to its own command, and this command still decides its
        # own.
        try:
            with (
                transaction.atomic(),
                event_context(correlation_id=saga.correlation_id, causation_id=saga.cause),
            ):
                decide_slot(each, window)
        except (EventError, IntegrityError):
            logger.exception("entry %s left to its own ReserveSlot", each.id)
    decide_slot(entry, window)


def undecided_before(entry: TeamEntry) -> list[tuple[TeamEntry, RunningSaga]]:
    """The entries of ``entry``'s championship still undecided and requested before it
    (by ``created_at``, then id), locked, with their running sagas. An earlier entry whose
    saga does not run (not started yet, or stopped: its request parked as a dead letter)
    is left alone: a slot given to it now would be held by nobody."""
    candidates = list(
        TeamEntry.objects.select_for_update()
        .filter(
            championship_id=entry.championship_id,
            status=EntryStatus.REQUESTED,
            created_at__lte=entry.created_at,
        )
        .order_by("created_at", "id")
    )
    earlier = candidates[: [c.id for c in candidates].index(entry.id)]
    sagas = running_sagas([e.id for e in earlier])
    return [(e, sagas[e.id]) for e in earlier if e.id in sagas]


@dataclass(frozen=True)
class RunningSaga:
    correlation_id: str
    cause: str  # the id of the event that started it (the entry's request)


def running_sagas(entry_ids: list[uuid.UUID]) -> dict[uuid.UUID, RunningSaga]:
    if not entry_ids:
        return {}
    sagas = SagaInstance.objects.filter(
        saga_type=SAGA_TYPE,
        status=SagaStatus.RUNNING,
        correlation_key__in=[str(i) for i in entry_ids],
    ).values_list("correlation_key", "correlation_id")
    requests = dict(
        StoredEvent.objects.filter(
            stream_id__in=[entry_stream(i) for i in entry_ids], version=1
        ).values_list("stream_id", "event_id")
    )
    return {
        uuid.UUID(key): RunningSaga(correlation_id, str(requests.get(entry_stream(key), "")))
        for key, correlation_id in sagas
    }


def decide_slot(entry: TeamEntry, window: EntryWindow) -> None:
    """A slot for a requested entry, or a place on the waiting list (window locked)."""
    if slots_taken(entry.championship_id) < window.capacity:
        entry.status = EntryStatus.RESERVED
        entry_append(
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
    entry_append(
        entry,
        [
            EntryWaitListed(
                entry_id=entry.id, championship_id=entry.championship_id, position=position
            )
        ],
    )


def through_breaker(call: Callable[[A], R], argument: A) -> R:
    """Every call to the provider goes through the shared circuit breaker; an outage or
    an open circuit is a wait (``RetryLater``), not an attempt used up."""
    circuit = breaker.breaker()
    try:
        result: R = circuit.call(call, argument)
    except CircuitBreakerError as exc:
        raise RetryLater(f"payment provider circuit open: {exc}", circuit.reset_timeout) from exc
    except payments.ProviderUnavailable as exc:
        raise RetryLater(
            f"payment provider unavailable: {exc}", settings.PAYMENTS_RETRY_SECONDS
        ) from exc
    return result


@command_handler("RequestPayment")
def request_payment(command: CommandRecord) -> None:
    entry = locked_entry(command)
    if entry.status != EntryStatus.RESERVED:
        return
    saga = SagaInstance.objects.filter(id=command.saga_id) if command.saga_id else None
    if saga is not None and not saga.filter(status=SagaStatus.RUNNING).exists():
        # Being undone (its VoidPayment may have run already, finding nothing to void):
        # a payment asked for now would be charged and never refunded.
        return
    if entry.fee == 0:
        # A free entry: nothing to ask of the provider (which may refuse a payment of
        # nothing); it is paid at once, and the saga registers the team.
        free_payment_id = f"{FREE}-{entry.id}"
        Payment.objects.create(
            provider=FREE,
            provider_payment_id=free_payment_id,
            entry=entry,
            amount=entry.fee,
            currency=entry.currency,
            status=PaymentStatus.SUCCEEDED,
        )
        entry.status = EntryStatus.PAID
        entry_append(
            entry,
            [
                PaymentProcessed(
                    entry_id=entry.id,
                    provider_payment_id=free_payment_id,
                    amount=str(entry.fee),
                    currency=entry.currency,
                )
            ],
        )
        return
    provider = payments.provider()
    request = payments.PaymentRequest(
        reference=entry.id,
        amount=entry.fee,
        currency=entry.currency,
        description=f"Entry of {entry.team_name}",
        idempotency_key=str(command.id),
    )
    created = through_breaker(provider.create_payment, request)
    Payment.objects.create(
        provider=provider.name,
        provider_payment_id=created.provider_payment_id,
        entry=entry,
        amount=entry.fee,
        currency=entry.currency,
    )
    entry.status = EntryStatus.AWAITING_PAYMENT
    entry_append(
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
    entry = locked_entry(command)
    if entry.status == EntryStatus.REGISTERED:
        return  # past the pivot: a team in the championship keeps its payment
    for payment in Payment.objects.select_for_update().filter(
        entry=entry, status__in=[PaymentStatus.PENDING, PaymentStatus.SUCCEEDED]
    ):
        if payment.provider != FREE:
            through_breaker(payments.provider().cancel_payment, payment.provider_payment_id)
        payment.status = PaymentStatus.VOIDED
        payment.save(update_fields=["status"])
        entry_append(
            entry,
            [PaymentVoided(entry_id=entry.id, provider_payment_id=payment.provider_payment_id)],
        )


@command_handler("ReleaseSlot")
def release_slot(command: CommandRecord) -> None:
    window = locked_window(command)  # first, as reserve_slot does
    entry = locked_entry(command)
    if entry.status in (EntryStatus.CANCELLED, EntryStatus.REGISTERED):
        return
    held = entry.status in SLOT_HOLDING
    entry.status = EntryStatus.CANCELLED
    entry.waiting_since = None
    entry_append(
        entry, [EntrySlotReleased(entry_id=entry.id, championship_id=entry.championship_id)]
    )
    if held:
        entries_fill_from_waiting_list(window)


@command_handler("RegisterTeam")
def register_team(command: CommandRecord) -> None:
    entry = locked_entry(command)
    if entry.status != EntryStatus.PAID:
        return
    if not Payment.objects.filter(entry=entry, status=PaymentStatus.SUCCEEDED).exists():
        return  # voided by a compensation that ran first: the team is not registered
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
    entry_append(entry, [TeamEntryConfirmed(entry_id=entry.id, team_id=entry.id)])


def notify_manager_once(command: CommandRecord, entry: TeamEntry, kind: str, subject: str) -> None:
    if SentEmail.objects.filter(command_id=command.id).exists():
        return
    to = entry.manager.email
    SentEmail.objects.create(command_id=command.id, kind=kind, to=to, subject=subject)
    entry_append(
        entry, [ManagerNotified(entry_id=entry.id, kind=kind, to=to, command_id=command.id)]
    )
    if to:
        send_mail(subject, subject + "\n", None, [to])


@command_handler("NotifyManager")
def notify_manager(command: CommandRecord) -> None:
    entry = locked_entry(command)
    notify_manager_once(
        command, entry, "entry_confirmed", f"{entry.team_name} is entered: payment received"
    )


@command_handler("CancelEntry")
def cancel_entry(command: CommandRecord) -> None:
    entry = locked_entry(command)
    if entry.status == EntryStatus.REGISTERED:
        return  # past the pivot: the team stays, and so does its entry
    reason = str(command.payload.get("reason") or "cancelled")
    if not entry.cancel_reason:
        entry.status = EntryStatus.CANCELLED
        entry.cancel_reason = reason[:200]
        entry_append(entry, [TeamEntryCancelled(entry_id=entry.id, reason=entry.cancel_reason)])
    notify_manager_once(
        command, entry, "entry_cancelled", f"The entry of {entry.team_name} is cancelled: {reason}"
    )
