"""The bracket as spectators and apps read it: rounds named by size, each match with
its teams (None while undecided), score, extra time, penalties, winner and the match
its winner goes to; the third-place match; the champion. Read from the match rows
(the teams there are filled by the advancement subscription)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from championships import knockout
from championships.commands.knockout import outcome, rules_for
from championships.models import Match, MatchStage, Team


@dataclass
class BracketMatch:
    match: Match
    winner: Team | None
    label_home: str
    label_away: str


@dataclass
class BracketRound:
    name: str
    number: int
    matches: list[BracketMatch] = field(default_factory=list)


@dataclass
class Bracket:
    rounds: list[BracketRound]
    third_place: BracketMatch | None
    champion: Team | None
    third: Team | None


def bracket_for_championship(*, championship_id: UUID) -> Bracket:
    matches = list(
        Match.objects.filter(championship_id=championship_id)
        .exclude(stage=MatchStage.LEAGUE)
        .select_related("home_team", "away_team")
        .order_by("bracket_round", "bracket_position", "leg")
    )
    if not matches:
        return Bracket(rounds=[], third_place=None, champion=None, third=None)
    away_goals = rules_for(championship_id).away_goals
    teams = {t.id: t for m in matches for t in (m.home_team, m.away_team) if t is not None}
    ties: dict[tuple[str, int | None, int | None], list[Match]] = defaultdict(list)
    for m in matches:
        ties[m.stage, m.bracket_round, m.bracket_position].append(m)
    rounds_total = max(m.bracket_round or 0 for m in matches)
    size = 2**rounds_total
    labels = _feeder_labels(matches, rounds_total)
    rounds: dict[int, BracketRound] = {}
    third_place = None
    champion = third = None
    for (stage, number, _), legs in ties.items():
        result = outcome(legs, away_goals=away_goals)
        winner = teams.get(result[0]) if result else None
        for m in legs:
            entry = BracketMatch(
                match=m,
                winner=winner if m.leg in (0, 2) else None,
                label_home=m.home_source or labels.get((m.id, "home"), ""),
                label_away=m.away_source or labels.get((m.id, "away"), ""),
            )
            if stage == MatchStage.THIRD_PLACE:
                third_place = entry
                third = winner
                continue
            assert number is not None
            if number not in rounds:
                rounds[number] = BracketRound(
                    name=knockout.round_name(size >> (number - 1)), number=number
                )
            rounds[number].matches.append(entry)
        if stage == MatchStage.KNOCKOUT and number == rounds_total:
            champion = winner
    return Bracket(
        rounds=[rounds[n] for n in sorted(rounds)],
        third_place=third_place,
        champion=champion,
        third=third,
    )


def _feeder_labels(matches: list[Match], rounds_total: int) -> dict[tuple[UUID, str], str]:
    """'Winner of QF 2' for the places a result fills."""
    size = 2**rounds_total
    labels: dict[tuple[UUID, str], str] = {}
    by_id = {m.id: m for m in matches}
    for m in matches:
        short = _short(size >> ((m.bracket_round or 1) - 1))
        number = (m.bracket_position or 0) + 1
        for target_id, slot, what in (
            (m.next_match_id, m.next_slot, "Winner"),
            (m.loser_next_match_id, m.loser_next_slot, "Loser"),
        ):
            if target_id is None:
                continue
            labels[target_id, slot] = f"{what} {short} {number}"
            target = by_id.get(target_id)
            if target is not None and target.leg == 1:
                for leg in matches:
                    if (
                        leg.leg == 2
                        and leg.bracket_round == target.bracket_round
                        and leg.bracket_position == target.bracket_position
                        and leg.stage == target.stage
                    ):
                        other = "away" if slot == "home" else "home"
                        labels[leg.id, other] = f"{what} {short} {number}"
    return labels


def _short(teams_in_round: int) -> str:
    return {2: "F", 4: "SF", 8: "QF"}.get(teams_in_round, f"R{teams_in_round}")


def _team(team: Team | None) -> dict[str, str] | None:
    return None if team is None else {"id": str(team.id), "name": team.name}


def _match_json(entry: BracketMatch) -> dict[str, Any]:
    m = entry.match
    played = m.status in ("completed", "awarded", "live")
    return {
        "id": str(m.id),
        "home_team": _team(m.home_team),
        "away_team": _team(m.away_team),
        "home_score": m.home_score if played else None,
        "away_score": m.away_score if played else None,
        "extra_time": m.extra_time,
        "penalties": (
            None
            if m.penalties_home is None or m.penalties_away is None
            else {"home": m.penalties_home, "away": m.penalties_away}
        ),
        "winner": _team(entry.winner),
        "status": m.status,
        "next_match": None if m.next_match_id is None else str(m.next_match_id),
    }


def bracket_json(bracket: Bracket) -> dict[str, Any]:
    return {
        "rounds": [
            {"name": r.name, "matches": [_match_json(e) for e in r.matches]} for r in bracket.rounds
        ],
        "third_place": None if bracket.third_place is None else _match_json(bracket.third_place),
        "champion": _team(bracket.champion),
    }
