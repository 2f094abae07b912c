"""Knockout brackets, pure: the draw (who meets whom, byes, where winners go), round
names, group-qualifier slots, and who wins a tie (one or two legs, extra time,
penalties, away goals). Nothing here touches the database.

Bracket order: entrant 1 meets entrant 2, 3 meets 4, ...; the winner of the upper match
of a pair is the home side of the next round. When the number of entrants is not a
power of two the top entrants get byes (into the second round), each bye placed beside
a first-round match while there are some, so that a bye team meets a first-round winner.
``seeding="standard"``: 1 v 16, 8 v 9, 4 v 13, ... so the top seeds can only meet late;
the byes are the missing bottom seeds' places, so they fall to the top seeds too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from uuid import UUID

SEEDINGS = ("bracket", "standard")
HOME, AWAY = "home", "away"
MAX_ENTRANTS = 256


@dataclass(frozen=True)
class Entrant:
    """A team (knockout) or a group slot such as ``1A`` whose team comes later."""

    team_id: UUID | None
    label: str = ""


@dataclass(frozen=True)
class PlannedMatch:
    match_id: UUID
    stage: str  # "knockout" or "third_place"
    bracket_round: int
    bracket_position: int
    leg: int  # 0: single match; 1 or 2: legs of a two-legged tie
    round: int  # the championship's round number (match day), legs counted apart
    home: Entrant | None
    away: Entrant | None
    next_match_id: UUID | None = None
    next_slot: str = ""
    loser_next_match_id: UUID | None = None
    loser_next_slot: str = ""


def bracket_size(entrants: int) -> int:
    size = 1
    while size < entrants:
        size *= 2
    return size


def round_name(teams_in_round: int) -> str:
    """Rounds are named by how many teams they start with."""
    return {2: "Final", 4: "Semi-finals", 8: "Quarter-finals"}.get(
        teams_in_round, f"Round of {teams_in_round}"
    )


def standard_order(size: int) -> list[int]:
    """Seed numbers in bracket positions: [1, 16, 8, 9, 4, 13, 5, 12, 2, 15, ...]."""
    order = [1]
    while len(order) < size:
        total = 2 * len(order) + 1
        order = [seed for s in order for seed in (s, total - s)]
    return order


def first_round_pairs(
    entrants: Sequence[Entrant], seeding: str
) -> list[tuple[Entrant, Entrant | None]]:
    """The first-round pairs in bracket order; ``None`` is a bye."""
    n = len(entrants)
    size = bracket_size(n)
    if seeding == "standard":
        order = standard_order(size)
        pairs: list[tuple[Entrant, Entrant | None]] = []
        for i in range(0, size, 2):
            a, b = order[i], order[i + 1]
            top, bottom = min(a, b), max(a, b)
            # Seeds beyond the entrants are byes: the other (higher) seed goes through.
            pairs.append((entrants[top - 1], entrants[bottom - 1] if bottom <= n else None))
        return pairs
    byes = size - n
    bye_pairs: list[tuple[Entrant, Entrant | None]] = [(e, None) for e in entrants[:byes]]
    rest = entrants[byes:]
    played: list[tuple[Entrant, Entrant | None]] = [
        (rest[i], rest[i + 1]) for i in range(0, len(rest), 2)
    ]
    ordered: list[tuple[Entrant, Entrant | None]] = []
    while bye_pairs or played:
        if bye_pairs:
            ordered.append(bye_pairs.pop(0))
        if played:
            ordered.append(played.pop(0))
    return ordered


def plan(
    entrants: Sequence[Entrant],
    *,
    seeding: str,
    third_place_match: bool,
    legs: Sequence[int],
    new_id: Callable[[], UUID],
    first_round_number: int = 1,
) -> list[PlannedMatch]:
    """Every match of the bracket; ``legs`` per bracket round (1 or 2; the final and the
    third-place match are single matches whatever it says)."""
    n = len(entrants)
    size = bracket_size(n)
    rounds = size.bit_length() - 1
    pairs = first_round_pairs(entrants, seeding)
    # Ids first, so each match can name the one its winner goes to.
    legs_of = [1 if r == rounds else max(1, min(2, legs[r - 1])) for r in range(1, rounds + 1)]
    ids: dict[tuple[int, int, int], UUID] = {}
    for r in range(1, rounds + 1):
        for p in range(size >> r):
            if r == 1 and pairs[p][1] is None:
                continue
            for leg in _legs(legs_of[r - 1]):
                ids[r, p, leg] = new_id()
    # Both semi-finals must be played for their losers to meet (not so with 3 teams).
    third_id = new_id() if third_place_match and n >= 4 else None
    # A bye entrant starts in its second-round match.
    seeded: dict[tuple[int, int, int], Entrant] = {}
    for p, (a, b) in enumerate(pairs):
        if b is None:
            seeded[2, p // 2, p % 2] = a
    round_numbers: dict[tuple[int, int], int] = {}
    number = first_round_number
    for r in range(1, rounds + 1):
        for leg in _legs(legs_of[r - 1]):
            round_numbers[r, leg] = number
            number += 1
    planned: list[PlannedMatch] = []
    for (r, p, leg), match_id in ids.items():
        home: Entrant | None
        away: Entrant | None
        if r == 1:
            home, away = pairs[p]
        else:
            home, away = seeded.get((r, p, 0)), seeded.get((r, p, 1))
        if leg == 2:
            home, away = away, home
        last_leg = leg in (0, 2)
        next_id, next_slot = None, ""
        if r < rounds and last_leg:
            next_legs = _legs(legs_of[r])
            next_id = ids[r + 1, p // 2, next_legs[0]]
            next_slot = HOME if p % 2 == 0 else AWAY
        loser_id, loser_slot = None, ""
        if third_id is not None and r == rounds - 1 and last_leg:
            loser_id, loser_slot = third_id, HOME if p % 2 == 0 else AWAY
        planned.append(
            PlannedMatch(
                match_id=match_id,
                stage="knockout",
                bracket_round=r,
                bracket_position=p,
                leg=leg,
                round=round_numbers[r, leg],
                home=home,
                away=away,
                next_match_id=next_id,
                next_slot=next_slot,
                loser_next_match_id=loser_id,
                loser_next_slot=loser_slot,
            )
        )
    if third_id is not None:
        planned.append(
            PlannedMatch(
                match_id=third_id,
                stage="third_place",
                bracket_round=rounds,
                bracket_position=1,
                leg=0,
                round=round_numbers[rounds, 0],
                home=None,
                away=None,
            )
        )
    return planned


def _legs(count: int) -> tuple[int, ...]:
    return (0,) if count == 1 else (1, 2)


# --- group stage into knockout --------------------------------------------------------


def default_slots(groups: Sequence[str], qualifiers_per_group: int) -> list[str] | None:
    """The bracket order of the qualifiers when the organiser gives none.

    Two per group from an even number of groups: winners of A, C, E, ... meet runners-up
    of B, D, F, ... in the top half, and the other way round in the bottom half, so two
    teams of one group can only meet in the final (for 8 groups: the FIFA World Cup
    pattern 1A 2B 1C 2D 1E 2F 1G 2H 1B 2A 1D 2C 1F 2E 1H 2G). One per group: group
    order. Otherwise None (the organiser must give ``knockout_slots``)."""
    if qualifiers_per_group == 1:
        return [slot_label(1, g) for g in groups]
    if qualifiers_per_group == 2 and len(groups) % 2 == 0 and groups:
        top = [
            s
            for i in range(0, len(groups), 2)
            for s in (slot_label(1, groups[i]), slot_label(2, groups[i + 1]))
        ]
        bottom = [
            s
            for i in range(0, len(groups), 2)
            for s in (slot_label(1, groups[i + 1]), slot_label(2, groups[i]))
        ]
        return top + bottom
    return None


def slot_label(position: int, group: str) -> str:
    """The label of a group's qualifier: position then group, ``"2B"``."""
    return f"{position}{group}"


def parse_slot(label: str, groups: Iterable[str]) -> tuple[int, str] | None:
    """``"2B"`` → (2, "B") among the championship's ``groups``; None when it is no
    group's slot. Any group name works ("Group A", "Ä", "10"): the label is read against
    the names, not a pattern (the draw refuses names whose labels would collide)."""
    for group in sorted(groups, key=len, reverse=True):
        if group and label.endswith(group):
            position = label[: -len(group)]
            if position.isascii() and position.isdigit() and position[0] != "0":
                return int(position), group
    return None


# --- who goes through ---------------------------------------------------------------


@dataclass(frozen=True)
class LegResult:
    """One played match of a tie, as the tie's ``first`` and ``second`` team see it."""

    first_team_id: UUID
    second_team_id: UUID
    first_goals: int
    second_goals: int
    first_at_home: bool
    penalties_first: int | None = None
    penalties_second: int | None = None
    awarded_to: UUID | None = None


def tie_winner(legs: Sequence[LegResult], *, away_goals: bool) -> UUID | None:
    """The team through after every leg: aggregate, then (when the rules say so) away
    goals, then the penalty shoot-out of the last leg. A forfeit decides alone."""
    if not legs:
        return None
    for leg in legs:
        if leg.awarded_to is not None:
            return leg.awarded_to
    first, second = legs[0].first_team_id, legs[0].second_team_id
    total_first = sum(leg.first_goals for leg in legs)
    total_second = sum(leg.second_goals for leg in legs)
    if total_first != total_second:
        return first if total_first > total_second else second
    if away_goals and len(legs) == 2:
        away_first = sum(leg.first_goals for leg in legs if not leg.first_at_home)
        away_second = sum(leg.second_goals for leg in legs if leg.first_at_home)
        if away_first != away_second:
            return first if away_first > away_second else second
    last = legs[-1]
    if last.penalties_first is None or last.penalties_second is None:
        return None
    if last.penalties_first == last.penalties_second:
        return None
    return first if last.penalties_first > last.penalties_second else second


def level_after(
    first_leg: LegResult | None, home_goals: int, away_goals_scored: int, *, away_goals: bool
) -> bool:
    """Whether a knockout match (``first_leg`` None) or the second leg of a tie ending
    ``home_goals``-``away_goals_scored`` leaves the tie level: penalties decide then."""
    if first_leg is None:
        return home_goals == away_goals_scored
    # In the second leg the first leg's home team plays away.
    second = LegResult(
        first_team_id=first_leg.first_team_id,
        second_team_id=first_leg.second_team_id,
        first_goals=away_goals_scored,
        second_goals=home_goals,
        first_at_home=False,
    )
    return tie_winner([first_leg, second], away_goals=away_goals) is None
