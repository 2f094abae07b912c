"""Events of the sagas app: the saga engine's own (on ``saga-<id>`` streams), player
registration's and team entry's. Frozen dataclasses of ids and primitives."""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

from events.registry import Event

SAGA_STREAM = "saga"
USER_STREAM = "user"
PLAYER_STREAM = "player"
LEAGUE_STREAM = "league"
ENTRY_STREAM = "team_entry"
ENTRIES_STREAM = "team_entries"


def saga_stream(saga_id: UUID | str) -> str:
    return f"saga-{saga_id}"


def user_stream(user_id: int) -> str:
    return f"user-{user_id}"


def player_stream(user_id: int) -> str:
    return f"player-{user_id}"


def league_stream(league_id: UUID | str) -> str:
    return f"league-{league_id}"


def entry_stream(entry_id: UUID | str) -> str:
    return f"entry-{entry_id}"


def entries_stream(championship_id: UUID | str) -> str:
    return f"entries-{championship_id}"


# --- the engine ------------------------------------------------------------------------


@dataclass(frozen=True)
class SagaStarted(Event):
    event_type = "SagaStarted"
    stream_type = SAGA_STREAM

    saga_id: UUID
    saga_type: str
    correlation_key: str
    started_by: str  # the event id that started it


@dataclass(frozen=True)
class SagaStepTaken(Event):
    """A step handled an event: the commands it sent and the status after it."""

    event_type = "SagaStepTaken"
    stream_type = SAGA_STREAM

    saga_id: UUID
    step: str
    handled_event_id: str
    handled_event_type: str
    commands: list[str] = field(default_factory=list)
    status: str = "running"


@dataclass(frozen=True)
class SagaStatusChanged(Event):
    event_type = "SagaStatusChanged"
    stream_type = SAGA_STREAM

    saga_id: UUID
    status: str
    previous: str
    reason: str = ""


@dataclass(frozen=True)
class SagaCommandFailed(Event):
    """A command the saga sent failed for good (its attempts exhausted)."""

    event_type = "SagaCommandFailed"
    stream_type = SAGA_STREAM

    saga_id: UUID
    command_id: UUID
    command: str
    error: str


@dataclass(frozen=True)
class SagaCompensationDone(Event):
    """One compensation command ran: the engine sends the next one (reverse order)."""

    event_type = "SagaCompensationDone"
    stream_type = SAGA_STREAM

    saga_id: UUID
    command_id: UUID
    command: str
    step: str


# --- player registration ---------------------------------------------------------------


@dataclass(frozen=True)
class UserRegistered(Event):
    event_type = "UserRegistered"
    stream_type = USER_STREAM

    user_id: int
    username: str
    email: str


@dataclass(frozen=True)
class PlayerProfileCreated(Event):
    event_type = "PlayerProfileCreated"
    stream_type = PLAYER_STREAM

    user_id: int
    display_name: str


@dataclass(frozen=True)
class LeagueAssigned(Event):
    event_type = "LeagueAssigned"
    stream_type = PLAYER_STREAM

    user_id: int
    league_id: UUID
    from_waiting_list: bool = False


@dataclass(frozen=True)
class PlayerWaitListed(Event):
    event_type = "PlayerWaitListed"
    stream_type = PLAYER_STREAM

    user_id: int
    league_id: UUID
    position: int


@dataclass(frozen=True)
class PlayerLeftLeague(Event):
    event_type = "PlayerLeftLeague"
    stream_type = PLAYER_STREAM

    user_id: int
    league_id: UUID


@dataclass(frozen=True)
class EmailSent(Event):
    """An email went out (``kind``: welcome, waiting_list, entry_confirmed, ...)."""

    event_type = "EmailSent"
    stream_type = PLAYER_STREAM

    user_id: int
    kind: str
    to: str
    command_id: UUID


@dataclass(frozen=True)
class LeagueCreated(Event):
    event_type = "LeagueCreated"
    stream_type = LEAGUE_STREAM

    league_id: UUID
    name: str
    capacity: int
    is_default: bool


# --- team entry ------------------------------------------------------------------------


@dataclass(frozen=True)
class EntriesOpened(Event):
    event_type = "EntriesOpened"
    stream_type = ENTRIES_STREAM

    championship_id: UUID
    fee: str  # a decimal, as text
    currency: str
    payment_deadline_seconds: int
    capacity: int
    opened_by: int


@dataclass(frozen=True)
class EntriesClosed(Event):
    """The championship takes no more teams (its fixtures are generated)."""

    event_type = "EntriesClosed"
    stream_type = ENTRIES_STREAM

    championship_id: UUID
    reason: str


@dataclass(frozen=True)
class TeamEntryRequested(Event):
    event_type = "TeamEntryRequested"
    stream_type = ENTRY_STREAM

    entry_id: UUID
    championship_id: UUID
    team_name: str
    manager_id: int
    fee: str
    currency: str


@dataclass(frozen=True)
class EntrySlotReserved(Event):
    event_type = "EntrySlotReserved"
    stream_type = ENTRY_STREAM

    entry_id: UUID
    championship_id: UUID
    from_waiting_list: bool = False


@dataclass(frozen=True)
class EntryWaitListed(Event):
    event_type = "EntryWaitListed"
    stream_type = ENTRY_STREAM

    entry_id: UUID
    championship_id: UUID
    position: int


@dataclass(frozen=True)
class EntrySlotReleased(Event):
    event_type = "EntrySlotReleased"
    stream_type = ENTRY_STREAM

    entry_id: UUID
    championship_id: UUID


@dataclass(frozen=True)
class PaymentRequested(Event):
    event_type = "PaymentRequested"
    stream_type = ENTRY_STREAM

    entry_id: UUID
    provider: str
    provider_payment_id: str
    amount: str
    currency: str


@dataclass(frozen=True)
class PaymentProcessed(Event):
    event_type = "PaymentProcessed"
    stream_type = ENTRY_STREAM

    entry_id: UUID
    provider_payment_id: str
    amount: str
    currency: str


@dataclass(frozen=True)
class PaymentFailed(Event):
    event_type = "PaymentFailed"
    stream_type = ENTRY_STREAM

    entry_id: UUID
    provider_payment_id: str
    reason: str


@dataclass(frozen=True)
class PaymentVoided(Event):
    event_type = "PaymentVoided"
    stream_type = ENTRY_STREAM

    entry_id: UUID
    provider_payment_id: str


@dataclass(frozen=True)
class TeamEntryConfirmed(Event):
    event_type = "TeamEntryConfirmed"
    stream_type = ENTRY_STREAM

    entry_id: UUID
    team_id: UUID


@dataclass(frozen=True)
class TeamEntryCancelled(Event):
    event_type = "TeamEntryCancelled"
    stream_type = ENTRY_STREAM

    entry_id: UUID
    reason: str


@dataclass(frozen=True)
class TeamEntryClosed(Event):
    """The entries closed before this one was registered: its saga undoes it."""

    event_type = "TeamEntryClosed"
    stream_type = ENTRY_STREAM

    entry_id: UUID
    reason: str


@dataclass(frozen=True)
class ManagerNotified(Event):
    event_type = "ManagerNotified"
    stream_type = ENTRY_STREAM

    entry_id: UUID
    kind: str
    to: str
    command_id: UUID


ALL_EVENTS: list[type[Event]] = [
    SagaStarted,
    SagaStepTaken,
    SagaStatusChanged,
    SagaCommandFailed,
    SagaCompensationDone,
    UserRegistered,
    PlayerProfileCreated,
    LeagueAssigned,
    PlayerWaitListed,
    PlayerLeftLeague,
    EmailSent,
    LeagueCreated,
    EntriesOpened,
    EntriesClosed,
    TeamEntryRequested,
    EntrySlotReserved,
    EntryWaitListed,
    EntrySlotReleased,
    PaymentRequested,
    PaymentProcessed,
    PaymentFailed,
    PaymentVoided,
    TeamEntryConfirmed,
    TeamEntryCancelled,
    TeamEntryClosed,
    ManagerNotified,
]
