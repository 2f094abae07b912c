"""Reads of the player statistics: top scorers, cards per player and per team."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from django.db.models import Sum

from championships.models import PlayerMatchStat, Team


@dataclass(frozen=True)
class Scorer:
    player: str
    team_id: UUID
    team_name: str
    goals: int
    penalty_goals: int


@dataclass
class Discipline:
    player: str  # "" for a team's total
    team_id: UUID
    team_name: str
    yellow: int = 0
    second_yellow: int = 0
    red: int = 0
    fair_play: int = 0


def _team_names(championship_id: UUID) -> dict[UUID, str]:
    return dict(Team.objects.filter(championship_id=championship_id).values_list("id", "name"))


def scorers_for_championship(*, championship_id: UUID, limit: int | None = None) -> list[Scorer]:
    """Players by goals (own goals not counted), then name."""
    rows = (
        PlayerMatchStat.objects.filter(championship_id=championship_id)
        .exclude(player="")
        .values("player", "team_id")
        .annotate(total=Sum("goals"), penalties=Sum("penalty_goals"))
        .filter(total__gt=0)
        .order_by("-total", "player", "team_id")
    )
    if limit is not None:
        rows = rows[:limit]
    names = _team_names(championship_id)
    return [
        Scorer(r["player"], r["team_id"], names.get(r["team_id"], ""), r["total"], r["penalties"])
        for r in rows
    ]


def discipline_for_championship(
    *, championship_id: UUID
) -> tuple[list[Discipline], list[Discipline]]:
    """Cards and fair-play points per player and per team (fewest points lost first)."""
    names = _team_names(championship_id)
    players: dict[tuple[UUID, str], Discipline] = {}
    teams: dict[UUID, Discipline] = {}
    carded = PlayerMatchStat.objects.filter(championship_id=championship_id).exclude(
        yellow=0, second_yellow=0, red=0
    )
    for row in carded:
        name = names.get(row.team_id, "")
        player = players.setdefault(
            (row.team_id, row.player), Discipline(row.player, row.team_id, name)
        )
        team = teams.setdefault(row.team_id, Discipline("", row.team_id, name))
        for entry in (player, team):
            entry.yellow += row.yellow
            entry.second_yellow += row.second_yellow
            entry.red += row.red
            entry.fair_play += row.fair_play
    order = sorted(players.values(), key=lambda d: (d.fair_play, d.player))
    return order, sorted(teams.values(), key=lambda d: (-d.fair_play, d.team_name))
