"""Team entry with payment: an organiser opens entries (fee, currency, payment deadline,
capacity); a team manager requests entry; the saga reserves a slot (or a place on the
waiting list), asks the payment provider for a payment through the circuit breaker, and
registers the team when the provider's webhook reports it paid.

    TeamEntryRequested → ReserveSlot → EntrySlotReserved → RequestPayment
      → PaymentRequested (deadline set) → webhook → PaymentProcessed → RegisterTeam
      → TeamRegistered + TeamEntryConfirmed → NotifyManager → ManagerNotified → completed
    PaymentFailed, the deadline, or the fixtures generated (TeamEntryClosed)
      → compensations in reverse: VoidPayment, ReleaseSlot
      (the first waiting entry gets the slot) → CancelEntry (manager notified)
"""

from sagas.entries import closing as closing
from sagas.entries import handlers as handlers
from sagas.entries.commands import (
    SAGA_TYPE,
    UnknownPayment,
    entries_fill_from_waiting_list,
    entries_open,
    entry_for_reader,
    entry_names_held,
    entry_summary,
    payment_webhook_record,
    team_entry_request,
)
from sagas.entries.saga import TeamEntrySaga

__all__ = [
    "SAGA_TYPE",
    "TeamEntrySaga",
    "UnknownPayment",
    "closing",
    "entries_fill_from_waiting_list",
    "entries_open",
    "entry_for_reader",
    "entry_names_held",
    "entry_summary",
    "handlers",
    "payment_webhook_record",
    "team_entry_request",
]
