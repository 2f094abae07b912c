"""Cards: a command on the match stream."""

from __future__ import annotations

import uuid

from championships.aggregates import MatchState
from championships.aggregates import cards as agg
from championships.commands.match import run_on_match
from championships.commands.streams import command
from championships.models import Match
from events import store
from events.registry import Event


@command
def match_show_card(
    *,
    actor_id: int,
    championship_id: uuid.UUID | None = None,
    match_id: uuid.UUID,
    team_id: uuid.UUID,
    player: str,
    minute: int,
    card: str,
    expected_version: int | None = None,
) -> Match:
    """A yellow, second yellow or red card for a player of ``team_id``."""

    def decide(row: Match, state: MatchState) -> list[Event]:
        # Before: every card of the stream, a void attempt's included (a yellow there
        # made the replay's first yellow a "second yellow").
        played = store.load(str(row.id), event_types=agg.CARD_EVENT_TYPES)
        earlier = agg.cards_in_play(r.data for r in played)
        return agg.show_card(
            state, team_id=team_id, player=player, minute=minute, card=card, earlier=earlier
        )

    return run_on_match(championship_id, match_id, actor_id, expected_version, decide_row=decide)
