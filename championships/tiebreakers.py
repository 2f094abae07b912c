"""Ranking a group: tie-break criteria, presets, and the pure ranking function.

Criteria are applied in order; a run of consecutive ``head_to_head_*`` criteria is
evaluated on a mini-table of only the matches among the teams still tied. With
``head_to_head_reapply`` (UEFA), when that run separates some but not all of them, the
run is applied again to the teams still tied, recursively, before moving on.
The last resort, always applied, is deterministic: team name (case-insensitive),
then team id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from uuid import UUID

POINTS = "points"
GOAL_DIFFERENCE = "goal_difference"
GOALS_FOR = "goals_for"
WINS = "wins"
AWAY_GOALS = "away_goals"
FAIR_PLAY = "fair_play"
H2H_POINTS = "head_to_head_points"
H2H_GOAL_DIFFERENCE = "head_to_head_goal_difference"
H2H_GOALS_FOR = "head_to_head_goals_for"
H2H_AWAY_GOALS = "head_to_head_away_goals"

OVERALL_CRITERIA = (POINTS, GOAL_DIFFERENCE, GOALS_FOR, WINS, AWAY_GOALS, FAIR_PLAY)
HEAD_TO_HEAD_CRITERIA = (H2H_POINTS, H2H_GOAL_DIFFERENCE, H2H_GOALS_FOR, H2H_AWAY_GOALS)
CRITERIA = OVERALL_CRITERIA + HEAD_TO_HEAD_CRITERIA


@dataclass(frozen=True)
class Preset:
    criteria: tuple[str, ...]
    head_to_head_reapply: bool


PRESETS: dict[str, Preset] = {
    # FIFA World Cup 2022 regulations art. 13: points, GD, GF in all group matches, then
    # points, GD, GF in the matches among the teams concerned (one mini-table, no
    # re-application), then fair-play points, then drawing of lots by the organiser.
    "fifa_2022": Preset(
        (
            POINTS,
            GOAL_DIFFERENCE,
            GOALS_FOR,
            H2H_POINTS,
            H2H_GOAL_DIFFERENCE,
            H2H_GOALS_FOR,
            FAIR_PLAY,
        ),
        head_to_head_reapply=False,
    ),
    # UEFA EURO 2020 regulations art. 20: points, then head-to-head points, GD, GF,
    # re-applied to the teams still tied; then GD, GF, wins in all group matches
    # (disciplinary points and coefficient ranking: last resort instead).
    "uefa": Preset(
        (
            POINTS,
            H2H_POINTS,
            H2H_GOAL_DIFFERENCE,
            H2H_GOALS_FOR,
            GOAL_DIFFERENCE,
            GOALS_FOR,
            WINS,
        ),
        head_to_head_reapply=True,
    ),
    # Premier League handbook rule C.17: points, GD, goals scored, then points in the
    # matches among the clubs concerned, then away goals in those matches (play-off:
    # last resort instead).
    "premier_league": Preset(
        (POINTS, GOAL_DIFFERENCE, GOALS_FOR, H2H_POINTS, H2H_AWAY_GOALS),
        head_to_head_reapply=False,
    ),
}
DEFAULT_PRESET = "fifa_2022"


@dataclass(frozen=True)
class TeamRecord:
    """One team's totals in its group (what ranking needs)."""

    team_id: UUID
    name: str
    points: int = 0
    won: int = 0
    goals_for: int = 0
    goals_against: int = 0
    away_goals_for: int = 0
    withdrawn: bool = False
    fair_play: int = 0  # FIFA fair-play points: 0 or less

    @property
    def goal_difference(self) -> int:
        return self.goals_for - self.goals_against


@dataclass(frozen=True)
class Result:
    home_team_id: UUID
    away_team_id: UUID
    home_score: int
    away_score: int


@dataclass
class _MiniRow:
    points: int = 0
    goals_for: int = 0
    goals_against: int = 0
    away_goals_for: int = 0


# Results among a set of teams: called only when a head-to-head criterion is reached.
ResultsAmong = Callable[[frozenset[UUID]], Iterable[Result]]


def rank(
    teams: Sequence[TeamRecord],
    *,
    criteria: Sequence[str],
    head_to_head_reapply: bool,
    points_for: tuple[int, int, int],
    results_among: ResultsAmong,
    lots: Sequence[UUID] = (),
) -> list[TeamRecord]:
    """``teams`` best first. Withdrawn teams rank below every active team.

    ``points_for`` is (win, draw, loss) for head-to-head mini-tables. ``lots``: the order
    an organiser's drawing of lots gave, applied when the criteria run out.
    """
    return rank_with_ties(
        teams,
        criteria=criteria,
        head_to_head_reapply=head_to_head_reapply,
        points_for=points_for,
        results_among=results_among,
        lots=lots,
    )[0]


def rank_with_ties(
    teams: Sequence[TeamRecord],
    *,
    criteria: Sequence[str],
    head_to_head_reapply: bool,
    points_for: tuple[int, int, int],
    results_among: ResultsAmong,
    lots: Sequence[UUID] = (),
) -> tuple[list[TeamRecord], list[frozenset[UUID]]]:
    """As ``rank``, and the sets of active teams still level when every criterion and
    the lots drawn are used up: each set shares a position until lots are drawn (the
    deterministic last resort, name then id, only orders them for display)."""
    ranker = _Ranker(tuple(criteria), head_to_head_reapply, points_for, results_among, lots)
    active = [t for t in teams if not t.withdrawn]
    withdrawn = [t for t in teams if t.withdrawn]
    ordered = ranker.order(active, 0)
    tied = list(ranker.tied)
    ordered += ranker.order(withdrawn, 0)
    return ordered, tied


def _last_resort(team: TeamRecord) -> tuple[str, str]:
    return (team.name.casefold(), str(team.team_id))


def _overall(team: TeamRecord, criterion: str) -> int:
    if criterion == POINTS:
        return team.points
    if criterion == GOAL_DIFFERENCE:
        return team.goal_difference
    if criterion == GOALS_FOR:
        return team.goals_for
    if criterion == WINS:
        return team.won
    if criterion == AWAY_GOALS:
        return team.away_goals_for
    if criterion == FAIR_PLAY:
        return team.fair_play
    raise ValueError(f"unknown criterion {criterion!r}")


def _mini(row: _MiniRow, criterion: str) -> int:
    if criterion == H2H_POINTS:
        return row.points
    if criterion == H2H_GOAL_DIFFERENCE:
        return row.goals_for - row.goals_against
    if criterion == H2H_GOALS_FOR:
        return row.goals_for
    if criterion == H2H_AWAY_GOALS:
        return row.away_goals_for
    raise ValueError(f"unknown criterion {criterion!r}")


class _Ranker:
    def __init__(
        self,
        criteria: tuple[str, ...],
        reapply: bool,
        points_for: tuple[int, int, int],
        results_among: ResultsAmong,
        lots: Sequence[UUID] = (),
    ) -> None:
        self.criteria = criteria
        self.reapply = reapply
        self.points_for = points_for
        self.results_among = results_among
        self.lots = {team_id: i for i, team_id in enumerate(lots)}
        self.tied: list[frozenset[UUID]] = []

    def order(self, group: list[TeamRecord], index: int) -> list[TeamRecord]:
        if len(group) <= 1:
            return list(group)
        if index >= len(self.criteria):
            return self._lots(group)
        if self.criteria[index] in HEAD_TO_HEAD_CRITERIA:
            return self._head_to_head(group, index)
        criterion = self.criteria[index]
        ordered: list[TeamRecord] = []
        for tied in _partition(group, lambda t: (_overall(t, criterion),)):
            ordered += self.order(tied, index + 1)
        return ordered

    def _head_to_head(self, group: list[TeamRecord], start: int) -> list[TeamRecord]:
        end = start
        while end < len(self.criteria) and self.criteria[end] in HEAD_TO_HEAD_CRITERIA:
            end += 1
        block = self.criteria[start:end]
        table = self._mini_table(frozenset(t.team_id for t in group))
        ordered: list[TeamRecord] = []
        for tied in _partition(group, lambda t: tuple(_mini(table[t.team_id], c) for c in block)):
            separated_some = len(tied) < len(group)
            if len(tied) > 1 and separated_some and self.reapply:
                ordered += self._head_to_head(tied, start)
            else:
                ordered += self.order(tied, end)
        return ordered

    def _mini_table(self, team_ids: frozenset[UUID]) -> dict[UUID, _MiniRow]:
        win, draw, loss = self.points_for
        table = {team_id: _MiniRow() for team_id in team_ids}
        for result in self.results_among(team_ids):
            home, away = table[result.home_team_id], table[result.away_team_id]
            home.goals_for += result.home_score
            home.goals_against += result.away_score
            away.goals_for += result.away_score
            away.goals_against += result.home_score
            away.away_goals_for += result.away_score
            if result.home_score > result.away_score:
                home.points += win
                away.points += loss
            elif result.home_score < result.away_score:
                home.points += loss
                away.points += win
            else:
                home.points += draw
                away.points += draw
        return table

    def _lots(self, group: list[TeamRecord]) -> list[TeamRecord]:
        """Criteria exhausted: lots drawn among all of these teams decide; otherwise they
        are tied (ordered by the last resort for display only)."""
        if all(t.team_id in self.lots for t in group):
            return sorted(group, key=lambda t: self.lots[t.team_id])
        self.tied.append(frozenset(t.team_id for t in group))
        return sorted(group, key=_last_resort)


def _partition(
    group: list[TeamRecord], key: Callable[[TeamRecord], tuple[int, ...]]
) -> list[list[TeamRecord]]:
    """Teams grouped by equal key, best (highest) key first."""
    buckets: dict[tuple[int, ...], list[TeamRecord]] = {}
    for team in group:
        buckets.setdefault(key(team), []).append(team)
    return [buckets[k] for k in sorted(buckets, reverse=True)]


def resolve(tie_breakers: str | Sequence[str]) -> tuple[tuple[str, ...], bool, str]:
    """A preset name or a list of criteria → (criteria, head_to_head_reapply, preset name).

    Raises ValueError for an unknown preset or criterion, a repeat, or an empty list.
    """
    if isinstance(tie_breakers, str):
        preset = PRESETS.get(tie_breakers)
        if preset is None:
            raise ValueError(
                f"unknown tie-break preset {tie_breakers!r}; choose one of {sorted(PRESETS)}"
            )
        return preset.criteria, preset.head_to_head_reapply, tie_breakers
    criteria = tuple(tie_breakers)
    unknown = [c for c in criteria if c not in CRITERIA]
    if unknown:
        raise ValueError(f"unknown tie-break criteria {unknown}; choose from {list(CRITERIA)}")
    if len(set(criteria)) != len(criteria):
        raise ValueError("a tie-break criterion may appear only once")
    if not criteria:
        raise ValueError("at least one tie-break criterion is needed")
    return criteria, False, ""
