"""The draw of the bracket formats (``knockout``, ``groups_knockout``): pure decisions.

``draw`` returns the championship-stream events (BracketDrawn, FixturesGenerated) and
one MatchScheduled per match, knockout matches included with their undecided teams.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import datetime
from uuid import UUID

from championships import events as ev
from championships import knockout
from championships import knockout_events as kev
from championships.aggregates.championship import (
    ChampionshipState,
    generate_fixtures,
    round_kickoff,
)
from championships.exceptions import InvalidCommand, InvalidState
from championships.models import ChampionshipFormat
from events.registry import Event


@dataclasses.dataclass(frozen=True)
class DrawOptions:
    seeding: str = "bracket"
    third_place_match: bool = False
    legs: int | Sequence[int] = 1
    away_goals: bool = False
    qualifiers_per_group: int = 2
    knockout_slots: Sequence[str] | None = None
    seeds: Sequence[UUID] | None = None  # team order for ``knockout`` (default: registration)


def _legs(legs: int | Sequence[int], rounds: int) -> tuple[int, ...]:
    if isinstance(legs, int) and not isinstance(legs, bool):
        per_round = [legs] * rounds
    elif isinstance(legs, list | tuple):
        per_round = list(legs)
        if len(per_round) != rounds:
            raise InvalidCommand(
                f"legs must give one number per bracket round ({rounds})", field="legs"
            )
    else:
        raise InvalidCommand("legs must be 1, 2 or a list of them per round", field="legs")
    if any(isinstance(n, bool) or n not in (1, 2) for n in per_round):
        raise InvalidCommand("a tie has 1 or 2 legs", field="legs")
    return tuple(per_round)


def _entrants_knockout(
    state: ChampionshipState, registration_order: Sequence[UUID], seeds: Sequence[UUID] | None
) -> list[knockout.Entrant]:
    active = {t.team_id for t in state.active_teams()}
    if seeds:
        if len(set(seeds)) != len(seeds) or set(seeds) != active:
            raise InvalidCommand(
                "seeds must list every active team of the championship once", field="seeds"
            )
        order = list(seeds)
    else:
        order = [t for t in registration_order if t in active]
    return [knockout.Entrant(team_id) for team_id in order]


def _entrants_groups(
    state: ChampionshipState, groups: Sequence[str], options: DrawOptions
) -> list[knockout.Entrant]:
    qualifiers = options.qualifiers_per_group
    if isinstance(qualifiers, bool) or not isinstance(qualifiers, int) or qualifiers < 1:
        raise InvalidCommand(
            "qualifiers_per_group must be at least 1", field="qualifiers_per_group"
        )
    smallest = min(len(state.active_teams(g)) for g in groups)
    if qualifiers > smallest:
        raise InvalidCommand(
            f"qualifiers_per_group is more than the smallest group ({smallest} teams)",
            field="qualifiers_per_group",
        )
    slots = options.knockout_slots
    if slots is None:
        slots = knockout.default_slots(groups, qualifiers)
        if slots is None:
            raise InvalidCommand(
                "give knockout_slots (the bracket order of the qualifiers, e.g. 1A, 2B, ...)",
                field="knockout_slots",
            )
    labels = [(knockout.slot_label(p, g), (p, g)) for g in groups for p in range(1, qualifiers + 1)]
    for label, place in labels:
        if knockout.parse_slot(label, groups) != place:
            raise InvalidCommand(
                f"group {place[1]!r}'s place {place[0]} reads as another group's ({label!r}): "
                "rename the groups so that no name ends another one's after a number",
                field="groups",
            )
    expected = {label for label, _ in labels}
    if len(set(slots)) != len(slots) or set(slots) != expected:
        raise InvalidCommand(
            f"knockout_slots must list each qualifier once: {sorted(expected)}",
            field="knockout_slots",
        )
    return [knockout.Entrant(None, label) for label in slots]


def draw(
    state: ChampionshipState,
    *,
    options: DrawOptions,
    registration_order: Sequence[UUID],
    new_id: Callable[[], UUID],
    first_kickoff: datetime | None,
    days_between_rounds: int,
) -> tuple[list[Event], list[ev.MatchScheduled]]:
    if state.fixtures_generated:
        raise InvalidState("fixtures have already been generated")
    if options.seeding not in knockout.SEEDINGS:
        raise InvalidCommand(f"seeding must be one of {list(knockout.SEEDINGS)}", field="seeding")
    group_events: list[Event] = []
    scheduled: list[ev.MatchScheduled] = []
    first_round = 1
    qualifiers = 0
    slots: tuple[str, ...] = ()
    if state.format == ChampionshipFormat.GROUPS_KNOCKOUT:
        group_events, scheduled = generate_fixtures(
            state,
            double_round_robin=False,
            new_id=new_id,
            first_kickoff=first_kickoff,
            days_between_rounds=days_between_rounds,
        )
        summary = group_events[0]
        assert isinstance(summary, ev.FixturesGenerated)
        entrants = _entrants_groups(state, summary.groups, options)
        first_round = summary.rounds + 1
        qualifiers = options.qualifiers_per_group
        slots = tuple(e.label for e in entrants)
    else:
        entrants = _entrants_knockout(state, registration_order, options.seeds)
    if len(entrants) < 2:
        raise InvalidState("a bracket needs at least two teams")
    if len(entrants) > knockout.MAX_ENTRANTS:
        raise InvalidCommand(f"a bracket has at most {knockout.MAX_ENTRANTS} teams")
    if options.third_place_match and len(entrants) < 4:
        raise InvalidCommand(
            "a third-place match needs at least four teams (two semi-finals)",
            field="third_place_match",
        )
    rounds = knockout.bracket_size(len(entrants)).bit_length() - 1
    legs = _legs(options.legs, rounds)
    planned = knockout.plan(
        entrants,
        seeding=options.seeding,
        third_place_match=bool(options.third_place_match),
        legs=legs,
        new_id=new_id,
        first_round_number=first_round,
    )
    for m in planned:
        kickoff = round_kickoff(first_kickoff, days_between_rounds, m.round)
        scheduled.append(
            ev.MatchScheduled(
                match_id=m.match_id,
                championship_id=state.championship_id,
                group="",
                round=m.round,
                home_team_id=m.home.team_id if m.home else None,
                away_team_id=m.away.team_id if m.away else None,
                kickoff=kickoff,
                stage=m.stage,
                bracket_round=m.bracket_round,
                bracket_position=m.bracket_position,
                leg=m.leg,
                next_match_id=m.next_match_id,
                next_slot=m.next_slot,
                loser_next_match_id=m.loser_next_match_id,
                loser_next_slot=m.loser_next_slot,
                home_source=m.home.label if m.home else "",
                away_source=m.away.label if m.away else "",
            )
        )
    drawn = kev.BracketDrawn(
        championship_id=state.championship_id,
        seeding=options.seeding,
        third_place_match=bool(options.third_place_match),
        qualifiers_per_group=qualifiers,
        knockout_slots=slots,
        legs=legs,
        away_goals=bool(options.away_goals),
    )
    summary = ev.FixturesGenerated(
        championship_id=state.championship_id,
        double_round_robin=False,
        groups=tuple(sorted({m.group for m in scheduled if m.group})),
        rounds=max(m.round or 0 for m in scheduled),
        match_ids=tuple(m.match_id for m in scheduled),
    )
    return [drawn, summary], scheduled
