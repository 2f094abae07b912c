"""Entries close when the championship takes no more teams: once its fixtures are
generated (a round robin, or a bracket drawn), no team can be registered, so the entry
window closes and every entry not registered yet gets ``TeamEntryClosed``, which its
saga undoes (payment voided, slot released, manager told) instead of waiting for ever on
the waiting list, or charging a team that ``RegisterTeam`` would then refuse."""

from __future__ import annotations

from championships import events as championship_events
from events import store
from events.store import RecordedEvent
from events.subscriptions import subscribe
from sagas.entries.commands import entry_append
from sagas.events import ENTRIES_STREAM, EntriesClosed, TeamEntryClosed, entries_stream
from sagas.models import EntryStatus, EntryWindow, TeamEntry

SUBSCRIPTION = "sagas.entries.closing"
REASON = "fixtures are generated: the championship takes no more teams"
NOT_REGISTERED_YET = (
    EntryStatus.REQUESTED,
    EntryStatus.WAITING,
    EntryStatus.RESERVED,
    EntryStatus.AWAITING_PAYMENT,
    EntryStatus.PAID,
)


def close_entries(recorded: RecordedEvent) -> None:
    generated = recorded.data
    assert isinstance(generated, championship_events.FixturesGenerated)
    # The window first, then its entries: the order of every command deciding on slots.
    window = (
        EntryWindow.objects.select_for_update()
        .filter(championship_id=generated.championship_id)
        .first()
    )
    if window is None:
        return  # entries were never opened
    if window.is_open:
        store.append(
            entries_stream(generated.championship_id),
            [EntriesClosed(championship_id=generated.championship_id, reason=REASON)],
            window.version,
            stream_type=ENTRIES_STREAM,
        )
        window.version += 1
        window.is_open = False
        window.save(update_fields=["is_open", "version"])
    pending = (
        TeamEntry.objects.select_for_update()
        .filter(championship_id=generated.championship_id, status__in=NOT_REGISTERED_YET)
        .order_by("created_at", "id")
    )
    for entry in pending:
        entry_append(entry, [TeamEntryClosed(entry_id=entry.id, reason=REASON)])


def register() -> None:
    subscribe(
        SUBSCRIPTION,
        close_entries,
        event_types=[championship_events.FixturesGenerated],
        stream_types=[championship_events.CHAMPIONSHIP_STREAM],
    )
