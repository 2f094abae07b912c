"""Team entry commands of organisers and managers, the payment webhook's record, and
the slot bookkeeping the handlers share."""

from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Q

from championships.aggregates.championship import team_name_key
from championships.commands.championship import lock_team_name
from championships.commands.streams import authorise, get_championship
from championships.exceptions import InvalidCommand, InvalidState, NotFound
from championships.models import GROUP_FORMATS, Team, Visibility
from events import store
from events.registry import Event
from sagas.events import (
    ENTRIES_STREAM,
    ENTRY_STREAM,
    EntriesOpened,
    EntrySlotReserved,
    PaymentFailed,
    PaymentProcessed,
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
    TeamEntry,
)

SAGA_TYPE = "team_entry"
CENT = Decimal("0.01")


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
    # Two places, as stored, and never "-0.00" (adding 0 turns a negative zero into 0).
    fee = (fee + 0).quantize(CENT)
    with transaction.atomic():
        championship = get_championship(championship_id)
        authorise(championship, actor_id)
        refuse_group_format(championship.format)
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
        # More room: the waiting list moves up before any newcomer is decided.
        entries_fill_from_waiting_list(window)
        return window


def team_entry_request(*, actor_id: int, championship_id: uuid.UUID, team_name: str) -> TeamEntry:
    """A team manager asks to enter a team: the saga takes it from there."""
    team_name = " ".join(team_name.split())  # as the championship will register it
    if not team_name:
        raise InvalidCommand("team_name may not be blank")
    with transaction.atomic():
        championship = get_championship(championship_id)
        if championship.visibility == Visibility.DRAFT:
            # A draft does not exist for anybody but its organisers, who enter no teams.
            raise NotFound(f"championship {championship_id} does not exist")
        refuse_group_format(championship.format)
        # Locked: two requests for one name check in turn, the second seeing the first.
        window = (
            EntryWindow.objects.select_for_update()
            .filter(championship=championship, is_open=True)
            .first()
        )
        if window is None or championship.fixtures_generated:
            raise InvalidState("entries to this championship are not open")
        lock_team_name(championship.id, team_name)  # as an organiser's registration does
        if team_name_key(team_name) in names_taken(championship.id):
            raise InvalidState(f"a team named {team_name!r} is already entered")
        entry = TeamEntry.objects.create(
            championship=championship,
            team_name=team_name,
            manager_id=actor_id,
            fee=window.fee,
            currency=window.currency,
        )
        entry_append(
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


def names_taken(championship_id: uuid.UUID) -> set[str]:
    """The name keys of the championship's teams and of its entries not cancelled."""
    teams = Team.objects.filter(championship_id=championship_id).values_list("name", flat=True)
    entered = (
        TeamEntry.objects.filter(championship_id=championship_id)
        .exclude(status=EntryStatus.CANCELLED)
        .values_list("team_name", flat=True)
    )
    return {team_name_key(name) for name in [*teams, *entered]}


def entry_names_held(championship_id: uuid.UUID, team_id: uuid.UUID) -> set[str]:
    """The name keys of the championship's live entries not registered yet (the teams
    of registered ones hold their names themselves), but for the entry that registers
    as ``team_id``: a name the organiser must not give another team meanwhile."""
    held = (
        TeamEntry.objects.filter(championship_id=championship_id)
        .exclude(status__in=[EntryStatus.CANCELLED, EntryStatus.REGISTERED])
        .exclude(id=team_id)
        .values_list("team_name", flat=True)
    )
    return {team_name_key(name) for name in held}


def refuse_group_format(championship_format: str) -> None:
    """A team of a group championship is registered with its group, which an entry does
    not name: its RegisterTeam could never succeed, so such an entry would be charged,
    then refunded. Refused before anything is created or paid."""
    if championship_format in GROUP_FORMATS:
        raise InvalidCommand(
            f"a {championship_format} championship takes no entries: each team needs a "
            "group, so its organisers register the teams with their groups"
        )


def entry_append(entry: TeamEntry, events: list[Event]) -> None:
    store.append(entry_stream(entry.id), events, entry.version, stream_type=ENTRY_STREAM)
    entry.version += len(events)
    entry.save()


def locked_entry(command: CommandRecord) -> TeamEntry:
    return TeamEntry.objects.select_for_update().get(id=command.payload["entry_id"])


def locked_window(command: CommandRecord) -> EntryWindow:
    """The window of the command's entry, locked, before any entry is: whatever decides
    on slots locks the window first, then entries, so two such commands never wait on
    each other crosswise (a championship's entry never changes championship)."""
    championship_id = TeamEntry.objects.values_list("championship_id", flat=True).get(
        id=command.payload["entry_id"]
    )
    return EntryWindow.objects.select_for_update().get(championship_id=championship_id)


def slots_taken(championship_id: uuid.UUID) -> int:
    teams = Team.objects.filter(championship_id=championship_id, withdrawn=False).count()
    holding = TeamEntry.objects.filter(
        championship_id=championship_id, status__in=SLOT_HOLDING
    ).count()
    return teams + holding


def entries_fill_from_waiting_list(window: EntryWindow) -> int:
    """Give free slots to waiting entries, first come first served."""
    given = 0
    while slots_taken(window.championship_id) < window.capacity:
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
        entry_append(
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


# --- the payment webhook ----------------------------------------------------------------


class UnknownPayment(Exception):
    pass


def payment_webhook_record(
    *, provider_payment_id: str, status: str, amount: str, currency: str, reason: str = ""
) -> bool:
    """Record what the provider reports, once per payment (a replay changes nothing).
    Returns whether it recorded anything."""
    with transaction.atomic():
        # The entry first, then its payment: the order of the saga's commands
        # (VoidPayment, RequestPayment), so that a webhook and a command never wait on
        # each other crosswise (a payment never changes entry).
        entry_id = (
            Payment.objects.filter(provider_payment_id=provider_payment_id)
            .values_list("entry_id", flat=True)
            .first()
        )
        if entry_id is None:
            raise UnknownPayment(provider_payment_id)
        entry = TeamEntry.objects.select_for_update().get(id=entry_id)
        payment = Payment.objects.select_for_update().get(provider_payment_id=provider_payment_id)
        payment.webhooks_received += 1
        if payment.status != PaymentStatus.PENDING:
            payment.save(update_fields=["webhooks_received"])
            return False
        event: Event
        short = _not_the_fee(payment, amount, currency)
        if status == "succeeded" and short:
            # Money moved, but not the fee: kept as received (so that the saga's
            # VoidPayment refunds it), and the entry fails as for a declined payment.
            payment.status = PaymentStatus.SUCCEEDED
            event = PaymentFailed(
                entry_id=entry.id, provider_payment_id=provider_payment_id, reason=short
            )
        elif status == "succeeded":
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
        entry_append(entry, [event])
        return True


def _not_the_fee(payment: Payment, amount: str, currency: str) -> str:
    """Why a reported payment is not the entry's fee ("" when it is)."""
    try:
        paid = Decimal(str(amount))
    except (InvalidOperation, ValueError):
        paid = None
    if paid != payment.amount or str(currency).upper() != payment.currency.upper():
        return f"paid {amount} {currency}, the fee is {payment.amount} {payment.currency}"
    return ""


def entry_for_reader(*, entry_id: uuid.UUID, user_id: int, is_superuser: bool) -> TeamEntry | None:
    """The entry if this user may read it: its manager, its championship's owner and
    co-organisers, a superuser (being staff is not enough)."""
    entries = TeamEntry.objects.filter(id=entry_id)
    if not is_superuser:
        entries = entries.filter(
            Q(manager_id=user_id)
            | Q(championship__owner_id=user_id)
            | Q(championship__organisers__id=user_id)
        )
    return entries.distinct().first()


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
