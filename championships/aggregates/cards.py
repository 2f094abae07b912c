"""Cards in a match: pure decisions (the match aggregate's details)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from uuid import UUID

from championships import events as ev
from championships.aggregates.match import MAX_MINUTE, MatchState
from championships.exceptions import InvalidCommand, InvalidState
from championships.knockout_events import CARD_KINDS, CardShown
from championships.models import MatchStatus
from events.registry import Event

# What cards_in_play reads (a stream read may leave the other rows out).
CARD_EVENT_TYPES = (CardShown.event_type, ev.MatchPostponed.event_type)


def cards_in_play(events: Iterable[Event]) -> list[CardShown]:
    """A match's cards that count, from its events in order: those shown since its last
    postponement (a postponed or abandoned match is played again, and the cards of the
    void attempt are void, as in the fair-play table)."""
    cards: list[CardShown] = []
    for event in events:
        if isinstance(event, ev.MatchPostponed):
            cards = []
        elif isinstance(event, CardShown):
            cards.append(event)
    return cards


def show_card(
    state: MatchState,
    *,
    team_id: UUID,
    player: str,
    minute: int,
    card: str,
    earlier: Sequence[CardShown],
) -> list[Event]:
    """A card during a live match (or entered after the final whistle). ``earlier``: the
    match's cards so far. A second yellow needs a yellow first; a sent-off player gets
    no more cards."""
    if state.status not in (MatchStatus.LIVE, MatchStatus.COMPLETED):
        raise InvalidState(f"cannot show a card in a match that is {state.status}")
    if team_id not in state.teams():
        raise InvalidCommand(
            "the card must be for a player of the home or the away team", field="team"
        )
    if card not in CARD_KINDS:
        raise InvalidCommand(f"card must be one of {list(CARD_KINDS)}", field="card")
    if isinstance(minute, bool) or not isinstance(minute, int) or not 0 <= minute <= MAX_MINUTE:
        raise InvalidCommand(f"minute must be an integer from 0 to {MAX_MINUTE}", field="minute")
    name = " ".join(player.split())[:100] if isinstance(player, str) else ""
    if not name:
        raise InvalidCommand("a card names its player", field="player")
    before = [c.card for c in earlier if c.team_id == team_id and c.player == name]
    if "red" in before or "second_yellow" in before:
        raise InvalidState(f"{name} has already been sent off")
    if card == "second_yellow" and "yellow" not in before:
        raise InvalidCommand(f"{name} has no yellow card to add a second one to", field="card")
    if card == "yellow" and "yellow" in before:
        raise InvalidCommand("a player's second yellow card is second_yellow", field="card")
    return [
        CardShown(
            match_id=state.match_id,
            championship_id=state.championship_id,
            team_id=team_id,
            player=name,
            minute=minute,
            card=card,
            group=state.group,
            stage=state.stage,
        )
    ]
