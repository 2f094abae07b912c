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


# --- the page: columns of ties, with the byes' places kept -------------------------------


@dataclass
class Side:
    name: str
    goals: str
    winner: bool
    decided: bool


@dataclass
class Tie:
    """One box of the bracket page: a match, or both legs of a tie added up."""

    match_id: UUID | None
    home: Side
    away: Side
    notes: list[str]
    status: str
    bye: bool = False


@dataclass
class Column:
    name: str
    pairs: list[list[Tie]]


def _goals(legs: list[Match], home_team_id: UUID | None) -> tuple[str, str]:
    played = [m for m in legs if m.status in ("completed", "awarded", "live")]
    if not played:
        return "", ""
    home = away = 0
    for m in played:
        if m.home_team_id == home_team_id:
            home, away = home + m.home_score, away + m.away_score
        else:
            home, away = home + m.away_score, away + m.home_score
    return str(home), str(away)


def _tie(legs: list[Match], winner: Team | None, labels: dict[tuple[UUID, str], str]) -> Tie:
    first, last = legs[0], legs[-1]
    home_goals, away_goals = _goals(legs, first.home_team_id)
    notes = []
    if len(legs) == 2 and home_goals:
        notes.append("agg.")
    if last.extra_time:
        notes.append("a.e.t.")
    if last.penalties_home is not None and last.penalties_away is not None:
        # The shoot-out as the tie's home side sees it (the second leg swaps the sides).
        pens = (last.penalties_home, last.penalties_away)
        if last.home_team_id != first.home_team_id:
            pens = (pens[1], pens[0])
        notes.append(f"{pens[0]}\N{EN DASH}{pens[1]} pens")
    if last.status == "awarded":
        notes.append("awarded")
    winner_id = winner.id if winner else None

    def side(team: Team | None, label: str, goals: str) -> Side:
        return Side(
            name=team.name if team else (label or "To be decided"),
            goals=goals,
            winner=winner_id is not None and team is not None and team.id == winner_id,
            decided=team is not None,
        )

    status = "live" if any(m.status == "live" for m in legs) else last.status
    return Tie(
        match_id=first.id,
        home=side(
            first.home_team, first.home_source or labels.get((first.id, "home"), ""), home_goals
        ),
        away=side(
            first.away_team, first.away_source or labels.get((first.id, "away"), ""), away_goals
        ),
        notes=notes,
        status=status,
    )


def bracket_columns(*, championship_id: UUID) -> tuple[list[Column], Tie | None, Team | None]:
    """The page's columns (ties in pairs, the byes' places kept so lines meet), the
    third-place tie and the champion."""
    matches = list(
        Match.objects.filter(championship_id=championship_id)
        .exclude(stage=MatchStage.LEAGUE)
        .select_related("home_team", "away_team")
        .order_by("bracket_round", "bracket_position", "leg")
    )
    if not matches:
        return [], None, None
    away_goals = rules_for(championship_id).away_goals
    rounds_total = max(m.bracket_round or 0 for m in matches)
    size = 2**rounds_total
    labels = _feeder_labels(matches, rounds_total)
    ties: dict[tuple[str, int, int], list[Match]] = defaultdict(list)
    for m in matches:
        ties[m.stage, m.bracket_round or 0, m.bracket_position or 0].append(m)
    teams = {t.id: t for m in matches for t in (m.home_team, m.away_team) if t is not None}

    def build(legs: list[Match]) -> Tie:
        result = outcome(legs, away_goals=away_goals)
        return _tie(legs, teams.get(result[0]) if result else None, labels)

    columns = []
    for number in range(1, rounds_total + 1):
        boxes: list[Tie] = []
        for position in range(size >> number):
            legs = ties.get((MatchStage.KNOCKOUT, number, position))
            if legs:
                boxes.append(build(legs))
                continue
            # A bye: the team waits in its next match.
            after = ties.get((MatchStage.KNOCKOUT, number + 1, position // 2), [])
            first = after[0] if after else None
            team = None
            label = ""
            if first is not None:
                team = first.home_team if position % 2 == 0 else first.away_team
                label = first.home_source if position % 2 == 0 else first.away_source
            name = team.name if team else (label or "")
            boxes.append(
                Tie(
                    match_id=None,
                    home=Side(name=name, goals="", winner=False, decided=team is not None),
                    away=Side(name="bye", goals="", winner=False, decided=False),
                    notes=[],
                    status="bye",
                    bye=True,
                )
            )
        pairs = [boxes[i : i + 2] for i in range(0, len(boxes), 2)]
        columns.append(Column(name=knockout.round_name(size >> (number - 1)), pairs=pairs))
    third_legs = ties.get((MatchStage.THIRD_PLACE, rounds_total, 1))
    third = build(third_legs) if third_legs else None
    final_legs = ties.get((MatchStage.KNOCKOUT, rounds_total, 0), [])
    result = outcome(final_legs, away_goals=away_goals) if final_legs else None
    champion = teams.get(result[0]) if result else None
    return columns, third, champion


def round_titles(matches: list[Match]) -> dict[int | None, str]:
    """Knockout rounds of the fixtures list by name ("Quarter-finals, first leg")."""
    knockout_matches = [m for m in matches if m.is_knockout]
    if not knockout_matches:
        return {}
    size = 2 ** max(m.bracket_round or 0 for m in knockout_matches)
    titles: dict[int | None, str] = {}
    for m in knockout_matches:
        if m.stage == MatchStage.THIRD_PLACE:
            continue
        title = knockout.round_name(size >> ((m.bracket_round or 1) - 1))
        if m.leg:
            title += ", first leg" if m.leg == 1 else ", second leg"
        titles[m.round] = title
    for m in knockout_matches:
        if m.stage == MatchStage.THIRD_PLACE:
            titles[m.round] = f"{titles.get(m.round, 'Final')} and third place"
    return titles
