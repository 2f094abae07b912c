"""The knockout side of the commands: the draw, how a knockout result must end, and the
guards that keep the bracket consistent with the results.

Who advances is decided by the advancement subscription (``championships.advancement``)
after a result, never by the command. The commands only refuse what would make the
bracket wrong:

- a correction (or award) that changes who goes through once the match they go to has
  started (for a group of ``groups_knockout``: once a knockout match of one of its
  qualifiers has started);
- kicking off a knockout match whose teams do not (yet) match the results that feed it,
  i.e. while the subscription has not caught up with a correction.

Lock order, so that a correction and a kick-off never deadlock: the earlier match(es)
first (the corrected row, the feeders), then the later ones.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from datetime import datetime
from uuid import UUID

from django.db.models import Q

from championships import events as ev
from championships import knockout
from championships.aggregates import ChampionshipState, MatchState
from championships.aggregates import bracket as bracket_agg
from championships.aggregates import cards as cards_agg
from championships.aggregates import match as match_agg
from championships.commands.streams import (
    create_matches,
    match_state,
    save_championship,
    save_match,
)
from championships.exceptions import InvalidState
from championships.knockout_events import FAIR_PLAY_POINTS, BracketDrawn, LotsDrawn
from championships.models import (
    Championship,
    ChampionshipFormat,
    KnockoutRules,
    Match,
    MatchStatus,
    Team,
)
from championships.tiebreakers import Result, TeamRecord, rank_with_ties
from events import store
from events.registry import Event

OPEN = (MatchStatus.SCHEDULED, MatchStatus.POSTPONED)
RESULTS = (MatchStatus.COMPLETED, MatchStatus.AWARDED)
DONE = (*RESULTS, MatchStatus.CANCELLED)

# --- the draw -----------------------------------------------------------------------


def draw(
    row: Championship,
    state: ChampionshipState,
    *,
    options: bracket_agg.DrawOptions,
    new_id: Callable[[], UUID],
    first_kickoff: datetime | None,
    days_between_rounds: int,
) -> list[Match]:
    registered = [
        r.data.team_id for r in store.load(str(row.id)) if isinstance(r.data, ev.TeamRegistered)
    ]
    events, scheduled = bracket_agg.draw(
        state,
        options=options,
        registration_order=registered,
        new_id=new_id,
        first_kickoff=first_kickoff,
        days_between_rounds=days_between_rounds,
    )
    save_championship(row, state, events)
    drawn = events[0]
    assert isinstance(drawn, BracketDrawn)
    KnockoutRules.objects.create(
        championship=row,
        seeding=drawn.seeding,
        third_place_match=drawn.third_place_match,
        qualifiers_per_group=drawn.qualifiers_per_group,
        knockout_slots=list(drawn.knockout_slots),
        legs=list(drawn.legs),
        away_goals=drawn.away_goals,
    )
    return create_matches(row, scheduled)


# --- ties: legs, outcome, where the teams go --------------------------------------------


def rules_for(championship_id: UUID) -> KnockoutRules:
    return KnockoutRules.objects.filter(championship_id=championship_id).first() or KnockoutRules()


def tie_legs(match: Match, *, lock: bool = False) -> list[Match]:
    """The legs of ``match``'s tie, first leg first (one match when single)."""
    if match.leg == 0:
        return [match]
    legs = Match.objects.filter(
        championship_id=match.championship_id,
        stage=match.stage,
        bracket_round=match.bracket_round,
        bracket_position=match.bracket_position,
    ).order_by("leg")
    if lock:
        legs = legs.select_for_update()
    return list(legs)


def _replace(legs: list[Match], replaced: Match | None) -> list[Match]:
    if replaced is None:
        return legs
    return [replaced if leg.id == replaced.id else leg for leg in legs]


def outcome(legs: Sequence[Match], *, away_goals: bool) -> tuple[UUID, UUID] | None:
    """(winner, loser) of a tie once decided."""
    if any(leg.status not in RESULTS for leg in legs):
        return None
    if len(legs) == 1:
        winner, loser = legs[0].winner_id, legs[0].loser_id
        return None if winner is None or loser is None else (winner, loser)
    first, second = legs
    if first.home_team_id is None or first.away_team_id is None:
        return None
    results = [
        first_leg_result(first),
        knockout.LegResult(
            first_team_id=first.home_team_id,
            second_team_id=first.away_team_id,
            first_goals=second.away_score,
            second_goals=second.home_score,
            first_at_home=False,
            penalties_first=second.penalties_away,
            penalties_second=second.penalties_home,
            awarded_to=second.awarded_to_id if second.status == MatchStatus.AWARDED else None,
        ),
    ]
    winner = knockout.tie_winner(results, away_goals=away_goals)
    if winner is None:
        return None
    loser = first.away_team_id if winner == first.home_team_id else first.home_team_id
    return winner, loser


def destinations(
    exit_leg: Match, result: tuple[UUID, UUID] | None
) -> list[tuple[UUID, str, UUID | None, str]]:
    """(match, slot, team, source) for where the tie's winner and loser go."""
    winner, loser = result if result is not None else (None, None)
    places: list[tuple[UUID, str, UUID | None, str]] = []
    if exit_leg.next_match_id is not None:
        places.append((exit_leg.next_match_id, exit_leg.next_slot, winner, "winner"))
    if exit_leg.loser_next_match_id is not None:
        places.append((exit_leg.loser_next_match_id, exit_leg.loser_next_slot, loser, "loser"))
    return places


def _target_legs(match_id: UUID, slot: str, *, lock: bool) -> list[tuple[Match, str]]:
    """The legs of the tie that starts with ``match_id``, each with the slot's side there
    (the second leg swaps home and away)."""
    qs = Match.objects.filter(id=match_id)
    if lock:
        qs = qs.select_for_update()
    target = qs.get()
    legs = tie_legs(target, lock=lock)
    return [(leg, slot if leg.leg in (0, 1) else _mirror(slot)) for leg in legs]


def place(
    match_id: UUID, slot: str, team_id: UUID, *, from_match_id: UUID | None, source: str
) -> int:
    """Put ``team_id`` in its place (every leg of the target tie); the events appended."""
    appended = 0
    for leg, side in _target_legs(match_id, slot, lock=True):
        state = match_state(leg)
        events = match_agg.advance_team(
            state, slot=side, team_id=team_id, from_match_id=from_match_id, source=source
        )
        if events:
            state = save_match(leg, state, events)
            appended += len(events)
        appended += _walkover(leg, state)
    return appended


def _walkover(leg: Match, state: MatchState) -> int:
    """A team withdrawn from a knockout meets nobody: once both sides are known, a match
    not yet played against a withdrawn team is awarded to the other (its withdrawal could
    not: the opponent was undecided then), and one between two withdrawn teams to the
    home side. The events appended."""
    home, away = state.home_team_id, state.away_team_id
    if state.status not in OPEN or home is None or away is None:
        return 0
    withdrawn = set(
        Team.objects.filter(id__in=(home, away), withdrawn=True).values_list("id", flat=True)
    )
    if not withdrawn:
        return 0
    # Both withdrawn: the home side goes through on paper, so that its next opponent
    # gets the walkover (the tie must have a winner, or the bracket waits for good).
    opponent = away if home in withdrawn and away not in withdrawn else home
    championship = leg.championship
    winner, loser = championship.withdrawal_award_for, championship.withdrawal_award_against
    events = match_agg.award(
        state,
        awarded_to_team_id=opponent,
        home_score=winner if opponent == home else loser,
        away_score=loser if opponent == home else winner,
        reason="walkover: the opponent withdrew",
    )
    save_match(leg, state, events)
    return len(events)


# --- groups into the bracket -------------------------------------------------------


def group_ranking(
    championship: Championship, group: str, *, replaced: Match | None = None
) -> list[UUID | None] | None:
    """The group's final order by the championship's rules (None until every match of
    the group is done), from the matches and the streams themselves: the subscription
    and the guards need it at once, not when the standings projection catches up.

    The same inputs as the standings table: points after deductions, results of teams
    withdrawn under ``expunge`` struck out, fair play (the cards that count), the lots
    drawn in the group. A position shared by teams still level when the criteria and
    the lots run out is None: nobody qualifies from it until lots are drawn."""
    matches = list(Match.objects.filter(championship=championship, group=group, stage=""))
    matches = _replace(matches, replaced)
    if not matches or any(m.status not in DONE for m in matches):
        return None
    teams = {t.id: t for t in Team.objects.filter(championship=championship, group=group)}
    expunged, lots = _withdrawals_and_lots(championship, group)
    totals: dict[UUID, dict[str, int]] = {
        t: {"points": -team.points_deducted, "won": 0, "gf": 0, "ga": 0, "away": 0, "fair": 0}
        for t, team in teams.items()
    }
    results = []
    win, draw_points, loss = (
        championship.points_win,
        championship.points_draw,
        championship.points_loss,
    )
    for m in matches:
        played = store.load(str(m.id), event_types=cards_agg.CARD_EVENT_TYPES)
        for card in cards_agg.cards_in_play(r.data for r in played):
            if card.team_id in totals:
                totals[card.team_id]["fair"] += FAIR_PLAY_POINTS[card.card]
        if m.status not in RESULTS or m.home_team_id is None or m.away_team_id is None:
            continue
        if m.home_team_id in expunged or m.away_team_id in expunged:
            continue  # annulled with the withdrawn team's every result
        results.append(Result(m.home_team_id, m.away_team_id, m.home_score, m.away_score))
        for team, scored, conceded, away in (
            (m.home_team_id, m.home_score, m.away_score, False),
            (m.away_team_id, m.away_score, m.home_score, True),
        ):
            row = totals[team]
            row["gf"] += scored
            row["ga"] += conceded
            row["away"] += scored if away else 0
            if scored > conceded:
                row["won"] += 1
                row["points"] += win
            elif scored == conceded:
                row["points"] += draw_points
            else:
                row["points"] += loss
    records = [
        TeamRecord(
            team_id=t,
            name=teams[t].name,
            points=r["points"],
            won=r["won"],
            goals_for=r["gf"],
            goals_against=r["ga"],
            away_goals_for=r["away"],
            withdrawn=teams[t].withdrawn,
            fair_play=r["fair"],
        )
        for t, r in totals.items()
    ]

    def among(ids: frozenset[UUID]) -> list[Result]:
        return [r for r in results if r.home_team_id in ids and r.away_team_id in ids]

    ranked, tied = rank_with_ties(
        records,
        criteria=championship.tie_breakers,
        head_to_head_reapply=championship.head_to_head_reapply,
        points_for=(win, draw_points, loss),
        results_among=among,
        lots=lots,
    )
    level = set().union(*tied) if tied else set()
    return [None if r.team_id in level else r.team_id for r in ranked]


# The only rows group_ranking reads from the streams (upcasting keeps event types).
_TABLE_FACTS = (ev.TeamWithdrawn.event_type, LotsDrawn.event_type)


def _withdrawals_and_lots(championship: Championship, group: str) -> tuple[set[UUID], list[UUID]]:
    """From the championship's stream: the teams withdrawn under ``expunge`` (the policy
    applied then, whatever the championship's is now), and the latest lots drawn in
    ``group``."""
    expunged: set[UUID] = set()
    lots: list[UUID] = []
    for recorded in store.load(str(championship.id), event_types=_TABLE_FACTS):
        event = recorded.data
        if isinstance(event, ev.TeamWithdrawn) and event.policy == ev.EXPUNGE:
            expunged.add(event.team_id)
        elif isinstance(event, LotsDrawn) and event.group == group:
            lots = list(event.team_ids)
    return expunged, lots


def championship_groups(championship: Championship) -> list[str]:
    return list(
        Team.objects.filter(championship=championship)
        .exclude(group="")
        .values_list("group", flat=True)
        .distinct()
    )


def placed_from_group(match: Match, team_id: UUID, groups: Sequence[str]) -> bool:
    """Whether ``team_id`` holds its place in this knockout match as a group's qualifier
    (its side's source is a group slot such as ``2A``), in a tie not yet kicked off."""
    if not match.stage or not groups:
        return False
    if any(leg.status not in OPEN for leg in tie_legs(match)):
        return False  # kicked off: the tie keeps its teams, a walkover decides it
    source = match.home_source if match.home_team_id == team_id else match.away_source
    return knockout.parse_slot(source, groups) is not None


def qualifier_places(
    championship: Championship,
    group: str,
    ranking: Sequence[UUID | None] | None,
    *,
    lock: bool = False,
) -> list[tuple[Match, str, UUID | None, str]]:
    """(knockout match, side, team, label) for each slot a qualifier of ``group`` fills."""
    places = []
    matches = Match.objects.filter(championship=championship, stage="knockout").filter(
        Q(home_source__endswith=group) | Q(away_source__endswith=group)
    )
    if lock:
        matches = matches.select_for_update()
    groups = championship_groups(championship)
    for m in matches.order_by("id"):
        for side, label in (("home", m.home_source), ("away", m.away_source)):
            # Read against every group ("10A" is place 1 of "0A" when there is one, not
            # place 10 of "A"), then keep this group's.
            parsed = knockout.parse_slot(label, groups)
            if parsed is None or parsed[1] != group:
                continue
            position = parsed[0]
            team = ranking[position - 1] if ranking and position <= len(ranking) else None
            places.append((m, side, team, label))
    return places


# --- what the match commands check ---------------------------------------------------


def first_leg_result(first: Match) -> knockout.LegResult:
    """A tie's first leg (its teams decided) as the tie's first and second team see it."""
    assert first.home_team_id is not None
    assert first.away_team_id is not None
    return knockout.LegResult(
        first_team_id=first.home_team_id,
        second_team_id=first.away_team_id,
        first_goals=first.home_score,
        second_goals=first.away_score,
        first_at_home=True,
        awarded_to=first.awarded_to_id if first.status == MatchStatus.AWARDED else None,
    )


def decider(row: Match) -> match_agg.Decider | None:
    """How this match's result must end: None outside the bracket and in a first leg."""
    if not row.is_knockout or row.leg == 1:
        return None
    if row.leg == 0:
        return match_agg.Decider(level=lambda home, away: home == away)
    first = next((leg for leg in tie_legs(row) if leg.leg == 1), None)
    if first is None or first.status not in RESULTS:
        raise InvalidState("the first leg of this tie has no result yet")
    if first.home_team_id is None or first.away_team_id is None:
        raise InvalidState("the teams of this tie are not decided yet")
    if first.status == MatchStatus.AWARDED:
        # A forfeit decides the tie alone: the second leg ends as it ends, no shoot-out.
        return match_agg.Decider(level=lambda home, away: False)
    first_leg = first_leg_result(first)
    away_goals = rules_for(row.championship_id).away_goals

    def level(home: int, away: int) -> bool:
        return knockout.level_after(first_leg, home, away, away_goals=away_goals)

    return match_agg.Decider(level=level)


def _after(row: Match, state: MatchState, events: Sequence[Event]) -> Match:
    """An unsaved copy of ``row`` with ``events`` applied (the result being proposed)."""
    for event in events:
        state = match_agg.apply_match(state, event)
    after = copy.copy(row)
    after.status = state.status
    after.home_score, after.away_score = state.home_score, state.away_score
    after.extra_time = state.extra_time
    after.penalties_home, after.penalties_away = state.penalties_home, state.penalties_away
    after.awarded_to_id = state.awarded_to_team_id
    return after


def check_result_change(row: Match, state: MatchState, events: Sequence[Event]) -> None:
    """Refuse a result, correction or award that would move a team out of a match under
    way."""
    after = _after(row, state, events)
    championship = row.championship
    if row.is_knockout:
        if row.status not in RESULTS:
            return  # a first result: the subscription places the teams
        away_goals = rules_for(row.championship_id).away_goals
        legs = tie_legs(row)
        if row.leg == 1:
            _check_second_leg_still_ends(after, legs, away_goals=away_goals)
        exit_leg = legs[-1]
        before = outcome(legs, away_goals=away_goals)
        now = outcome(_replace(legs, after), away_goals=away_goals)
        if before == now:
            return
        for (match_id, slot, _, _), (_, _, team, _) in zip(
            destinations(exit_leg, before), destinations(exit_leg, now), strict=True
        ):
            for leg, side in _target_legs(match_id, slot, lock=True):
                current = leg.home_team_id if side == "home" else leg.away_team_id
                if current != team and leg.status not in OPEN:
                    raise InvalidState(
                        f"the match this result sends a team to ({_describe(leg)}) has "
                        "already started: a correction that changes who advanced is refused"
                    )
        return
    if row.group and championship.format == ChampionshipFormat.GROUPS_KNOCKOUT:
        # A first result too: a group match scheduled late can change a group whose
        # qualifiers have kicked off already. Only what this result moves counts: a tie
        # under way may already differ from the table (a later deduction or card), and
        # a result that leaves its place as it was is no reason to refuse.
        ranking = group_ranking(championship, row.group, replaced=after)
        table_before: list[UUID | None] | None = None  # read only when a tie under way moves
        for match, side, team, label in qualifier_places(
            championship, row.group, ranking, lock=True
        ):
            current = match.home_team_id if side == "home" else match.away_team_id
            if team == current or match.status in OPEN:
                continue
            if table_before is None:
                table_before = group_ranking(championship, row.group) or []
            # qualifier_places read the label as this group's already.
            position = knockout.parse_slot(label, [row.group])
            assert position is not None
            place = position[0]
            was = table_before[place - 1] if place <= len(table_before) else None
            if team != was:
                raise InvalidState(
                    f"the knockout match of the group's qualifier {label} ({_describe(match)}) "
                    "has already started: a correction that changes the group's qualifiers "
                    "is refused"
                )


def _check_second_leg_still_ends(first: Match, legs: Sequence[Match], *, away_goals: bool) -> None:
    """A first leg corrected after the second was played must leave the second's end
    valid: penalties exactly when the tie is level (else no winner, or a shoot-out that
    decided nothing)."""
    second = next((leg for leg in legs if leg.leg == 2), None)
    if second is None or second.status != MatchStatus.COMPLETED:
        return
    if first.status == MatchStatus.AWARDED:
        return  # a forfeit decides the tie alone, whatever the second leg's end
    level = knockout.level_after(
        first_leg_result(first),
        second.home_score,
        second.away_score,
        away_goals=away_goals,
    )
    shootout = second.penalties_home is not None
    if level and not shootout:
        raise InvalidState(
            "with this first leg the tie is level after the second, which had no penalty "
            "shoot-out: the tie would have no winner (a first leg that changes whether "
            "the shoot-out was needed cannot be corrected on its own)"
        )
    if shootout and not level:
        raise InvalidState(
            "with this first leg the tie is decided without the second leg's penalty "
            "shoot-out, which would then count for nothing (a first leg that changes "
            "whether the shoot-out was needed cannot be corrected on its own)"
        )


def check_start(row: Match) -> None:
    """Refuse to kick off a knockout match whose teams are not what its feeders say."""
    if not row.is_knockout:
        return
    first_leg_id = tie_legs(row)[0].id
    feeders = Match.objects.filter(
        Q(next_match_id=first_leg_id) | Q(loser_next_match_id=first_leg_id),
        championship_id=row.championship_id,
    ).select_for_update()
    away_goals = rules_for(row.championship_id).away_goals
    expected: dict[str, UUID | None] = {}
    for feeder in feeders.order_by("id"):
        result = outcome(tie_legs(feeder), away_goals=away_goals)
        for match_id, slot, team, _ in destinations(feeder, result):
            if match_id == first_leg_id:
                expected[slot if row.leg in (0, 1) else _mirror(slot)] = team
    championship = row.championship
    # A second leg keeps the qualifiers its first leg kicked off with (a later change to
    # the group's table does not move them: championships.advancement).
    sources = () if row.leg == 2 else (("home", row.home_source), ("away", row.away_source))
    groups = championship_groups(championship) if sources else []
    for side, label in sources:
        place = knockout.parse_slot(label, groups)
        if place is not None:
            expected[side] = _group_qualifier(championship, label, place)
    for side, team in expected.items():
        current = row.home_team_id if side == "home" else row.away_team_id
        if current != team:
            raise InvalidState(
                "the bracket is being updated after a result or a change to a table that "
                "feeds this match: try again in a moment"
            )


def _group_qualifier(championship: Championship, label: str, place: tuple[int, str]) -> UUID | None:
    """Who holds the group ``place`` (position, group) the slot ``label`` names: None
    until its group ends; a place shared by teams level on every criterion is refused
    (the lots decide it)."""
    position, group = place
    ranking = group_ranking(championship, group)
    team = ranking[position - 1] if ranking else None
    if ranking and team is None:
        raise InvalidState(
            f"the group's place {label} is shared by teams level on every criterion: "
            "draw lots first"
        )
    return team


def refuse_an_undrawn_place(row: Match) -> None:
    """A tie's side still empty because its group place is shared by teams level on every
    criterion: say so (the lots decide it), rather than only that it is not decided."""
    if not row.is_knockout or row.leg == 2:
        return
    groups = championship_groups(row.championship)
    for team_id, label in (
        (row.home_team_id, row.home_source),
        (row.away_team_id, row.away_source),
    ):
        place = knockout.parse_slot(label, groups) if team_id is None else None
        if place is not None:
            _group_qualifier(row.championship, label, place)


def _mirror(slot: str) -> str:
    return "away" if slot == "home" else "home"


def _describe(match: Match) -> str:
    home = match.home_team.name if match.home_team else "?"
    away = match.away_team.name if match.away_team else "?"
    return f"{home} v {away}, {match.status}"
