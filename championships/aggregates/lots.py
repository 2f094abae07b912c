"""Drawing of lots: the organiser's last resort among teams still level (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from championships.aggregates.championship import ChampionshipState
from championships.exceptions import InvalidCommand
from championships.knockout_events import LotsDrawn
from events.registry import Event


def draw_lots(state: ChampionshipState, *, group: str, team_ids: Sequence[UUID]) -> list[Event]:
    """``team_ids``: teams of one group in the order the lots gave (best first). They
    decide the order among those teams when every tie-break criterion is used up."""
    ids = list(team_ids)
    if len(ids) < 2:
        raise InvalidCommand("lots are drawn among at least two teams", field="teams")
    if len(set(ids)) != len(ids):
        raise InvalidCommand("a team appears twice in the lots", field="teams")
    for team_id in ids:
        team = state.teams.get(team_id)
        if team is None:
            raise InvalidCommand(f"team {team_id} is not registered here", field="teams")
        if team.group != group:
            raise InvalidCommand(f"{team.name} is not in group {group or '(all)'}", field="teams")
    return [LotsDrawn(championship_id=state.championship_id, group=group, team_ids=tuple(ids))]
