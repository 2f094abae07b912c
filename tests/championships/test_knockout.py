"""Knockout brackets through the commands and the advancement subscription: the draw
(order, byes, seeding, third place), how a knockout result must end, advancement by the
subscription (never by the command, never twice), corrections, two-legged ties."""

from __future__ import annotations

from typing import Any

import pytest

from championships import bracket, commands
from championships import events as ev
from championships.advancement import SUBSCRIPTION as ADVANCEMENT
from championships.aggregates.bracket import DrawOptions
from championships.exceptions import InvalidCommand, InvalidState
from championships.knockout_events import BracketDrawn, TeamAdvanced
from championships.models import Championship, Match, Standing, Team
from events import delivery
from events.models import Checkpoint, DeadLetter
from tests.championships.conftest import roundtrip
from tests.championships.factories import ChampionshipFactory, TeamFactory

pytestmark = pytest.mark.django_db


def cup(owner: Any, teams: int, **draw: Any) -> tuple[Championship, list[Team]]:
    championship = ChampionshipFactory.create(actor_id=owner.id, format="knockout")
    entrants = [
        TeamFactory.create(championship=championship, name=f"T{i:02d}") for i in range(1, teams + 1)
    ]
    commands.fixtures_generate(
        actor_id=owner.id, championship_id=championship.id, draw=DrawOptions(**draw)
    )
    return championship, entrants


def names(championship: Championship) -> list[tuple[str, list[tuple[str | None, str | None]]]]:
    drawn = bracket.bracket_for_championship(championship_id=championship.id)
    return [
        (
            r.name,
            [
                (
                    e.match.home_team.name if e.match.home_team else None,
                    e.match.away_team.name if e.match.away_team else None,
                )
                for e in r.matches
            ],
        )
        for r in drawn.rounds
    ]


def ids(match: Match) -> dict[str, Any]:
    return {
        "actor_id": match.championship.owner_id,
        "championship_id": match.championship_id,
        "match_id": match.id,
    }


def play(match: Match, home: int, away: int, **kwargs: Any) -> Match:
    match.refresh_from_db()
    return commands.match_complete(**ids(match), home_score=home, away_score=away, **kwargs)


def round_matches(championship: Championship, bracket_round: int) -> list[Match]:
    return list(
        Match.objects.filter(
            championship=championship, stage="knockout", bracket_round=bracket_round
        ).order_by("bracket_position", "leg")
    )


def final(championship: Championship) -> Match:
    return (
        Match.objects.filter(championship=championship, stage="knockout")
        .order_by("-bracket_round", "-leg")
        .first()
    ) or pytest.fail("no knockout match")


# --- the draw ------------------------------------------------------------------------


def test_sixteen_teams_meet_in_bracket_order_with_rounds_named_by_size(owner, event_bus):
    championship, _ = cup(owner, 16, third_place_match=True)

    drawn = names(championship)

    assert [name for name, _ in drawn] == ["Round of 16", "Quarter-finals", "Semi-finals", "Final"]
    assert drawn[0][1] == [(f"T{i:02d}", f"T{i + 1:02d}") for i in range(1, 17, 2)]
    assert all(pair == (None, None) for _, pairs in drawn[1:] for pair in pairs)
    assert [len(pairs) for _, pairs in drawn] == [8, 4, 2, 1]
    third = bracket.bracket_for_championship(championship_id=championship.id).third_place
    assert third is not None
    assert third.match.stage == "third_place"
    drawn_event = event_bus.published_data(BracketDrawn)[0]
    assert drawn_event.third_place_match
    assert drawn_event.legs == (1, 1, 1, 1)


def test_the_winner_of_the_upper_match_of_a_pair_is_the_home_side_next(owner):
    championship, _ = cup(owner, 8)
    first, second = round_matches(championship, 1)[:2]
    semi = round_matches(championship, 2)[0]

    assert (first.next_match_id, first.next_slot) == (semi.id, "home")
    assert (second.next_match_id, second.next_slot) == (semi.id, "away")


def test_twelve_teams_give_the_four_top_teams_byes_into_the_quarter_finals(owner):
    championship, _ = cup(owner, 12)

    drawn = names(championship)

    assert drawn[0] == (
        "Round of 16",
        [("T05", "T06"), ("T07", "T08"), ("T09", "T10"), ("T11", "T12")],
    )
    assert drawn[1] == (
        "Quarter-finals",
        [("T01", None), ("T02", None), ("T03", None), ("T04", None)],
    )


def test_standard_seeding_keeps_the_top_seeds_apart_until_late(owner):
    championship, _ = cup(owner, 16, seeding="standard")

    first_round = names(championship)[0][1]

    assert first_round == [
        ("T01", "T16"),
        ("T08", "T09"),
        ("T04", "T13"),
        ("T05", "T12"),
        ("T02", "T15"),
        ("T07", "T10"),
        ("T03", "T14"),
        ("T06", "T11"),
    ]


def test_two_teams_play_only_a_final(owner):
    championship, _ = cup(owner, 2)

    drawn = bracket.bracket_for_championship(championship_id=championship.id)

    assert [(r.name, len(r.matches)) for r in drawn.rounds] == [("Final", 1)]
    assert drawn.third_place is None


@pytest.mark.parametrize("teams", [2, 3])
def test_a_third_place_match_needs_two_semi_finals(owner, teams):
    # With three teams one semi-final is a bye: there is no second loser.
    with pytest.raises(InvalidCommand) as refused:
        cup(owner, teams, third_place_match=True)

    assert refused.value.field == "third_place_match"


def test_a_bad_draw_option_is_a_field_error(owner):
    championship = ChampionshipFactory.create(actor_id=owner.id, format="knockout")
    TeamFactory.create_batch(4, championship=championship)

    with pytest.raises(InvalidCommand) as refused:
        commands.fixtures_generate(
            actor_id=owner.id, championship_id=championship.id, draw=DrawOptions(legs=[1, 3])
        )

    assert refused.value.field == "legs"


# --- results ---------------------------------------------------------------------------


def test_a_knockout_match_that_ends_level_needs_penalties(owner):
    championship, _ = cup(owner, 4)
    semi = round_matches(championship, 1)[0]

    with pytest.raises(InvalidCommand, match="cannot end level") as refused:
        play(semi, 1, 1, extra_time=True)

    assert refused.value.field == "penalties"
    assert Match.objects.get(id=semi.id).status == "scheduled"


def test_penalties_on_a_match_that_was_not_level_are_refused(owner):
    championship, _ = cup(owner, 4)
    semi = round_matches(championship, 1)[0]

    with pytest.raises(InvalidCommand, match="only when the tie is level"):
        play(semi, 2, 1, penalties=(4, 2))


def test_a_shoot_out_needs_a_winner(owner):
    championship, _ = cup(owner, 4)

    with pytest.raises(InvalidCommand, match="has a winner"):
        play(round_matches(championship, 1)[0], 1, 1, penalties=(3, 3))


def test_a_league_match_takes_neither_penalties_nor_extra_time(owner, championship):
    home, away = TeamFactory.create_batch(2, championship=championship)
    match = commands.match_schedule(
        actor_id=owner.id,
        championship_id=championship.id,
        home_team_id=home.id,
        away_team_id=away.id,
    )

    with pytest.raises(InvalidCommand) as pens:
        play(match, 1, 1, penalties=(4, 2))
    with pytest.raises(InvalidCommand) as extra:
        play(match, 1, 1, extra_time=True)

    assert (pens.value.field, extra.value.field) == ("penalties", "extra_time")


def test_a_match_whose_teams_are_undecided_cannot_start(owner):
    championship, _ = cup(owner, 4)

    with pytest.raises(InvalidState, match="not decided"):
        commands.match_start(**ids(final(championship)))


def test_knockout_results_stay_out_of_the_standings(owner, event_bus):
    championship, _ = cup(owner, 4)
    play(round_matches(championship, 1)[0], 3, 0)

    event_bus.deliver()

    assert set(
        Standing.objects.filter(championship_id=championship.id).values_list("played", flat=True)
    ) == {0}


# --- advancement ------------------------------------------------------------------------


def test_the_winner_advances_by_the_subscription_not_by_the_command(owner, event_bus):
    championship, teams = cup(owner, 4)
    semi = round_matches(championship, 1)[0]

    completed = play(semi, 1, 1, extra_time=True, penalties=(4, 2))

    assert final(championship).home_team_id is None  # the command placed nobody
    event_bus.deliver()
    assert final(championship).home_team_id == teams[0].id
    advanced = event_bus.published(TeamAdvanced)
    assert [r.data for r in advanced] == [
        TeamAdvanced(
            match_id=final(championship).id,
            championship_id=championship.id,
            slot="home",
            team_id=teams[0].id,
            previous_team_id=None,
            from_match_id=semi.id,
            source="winner",
        )
    ]
    assert roundtrip(advanced) == [r.data for r in advanced]
    completion = event_bus.published_data(ev.MatchCompleted)[0]
    assert (completion.extra_time, completion.penalties_home, completion.penalties_away) == (
        True,
        4,
        2,
    )
    assert advanced[0].metadata.causation_id == str(
        event_bus.published(ev.MatchCompleted)[0].event_id
    )
    assert completed.winner_id == teams[0].id


def test_redelivery_never_advances_a_team_twice(owner, event_bus):
    championship, teams = cup(owner, 4)
    play(round_matches(championship, 1)[1], 0, 2)
    event_bus.deliver()
    before = len(event_bus.published(TeamAdvanced))

    Checkpoint.objects.filter(subscription=ADVANCEMENT).update(version=0)
    delivery.deliver_all()

    assert len(event_bus.published(TeamAdvanced)) == before == 1
    assert final(championship).away_team_id == teams[3].id


def test_a_bye_team_waits_in_the_next_round_and_the_champion_is_the_final_winner(owner, event_bus):
    championship, teams = cup(owner, 3)
    only_first_round = round_matches(championship, 1)
    assert [(m.home_team_id, m.away_team_id) for m in only_first_round] == [
        (teams[1].id, teams[2].id)
    ]

    play(only_first_round[0], 0, 1)
    event_bus.deliver()
    the_final = final(championship)
    assert (the_final.home_team_id, the_final.away_team_id) == (teams[0].id, teams[2].id)
    play(the_final, 2, 3, extra_time=True)
    event_bus.deliver()

    drawn = bracket.bracket_for_championship(championship_id=championship.id)
    assert drawn.champion == teams[2]


def test_semi_final_losers_meet_for_third_place(owner, event_bus):
    championship, teams = cup(owner, 4, third_place_match=True)
    first, second = round_matches(championship, 1)
    play(first, 2, 0)
    play(second, 0, 0, penalties=(5, 4))
    event_bus.deliver()

    third_place = Match.objects.get(championship=championship, stage="third_place")
    assert (third_place.home_team_id, third_place.away_team_id) == (teams[1].id, teams[3].id)
    the_final = final(championship)
    assert (the_final.home_team_id, the_final.away_team_id) == (teams[0].id, teams[2].id)


def test_a_correction_before_the_next_match_starts_moves_the_right_team(owner, event_bus):
    championship, teams = cup(owner, 4, third_place_match=True)
    semi = round_matches(championship, 1)[0]
    play(semi, 2, 1)
    event_bus.deliver()

    commands.match_correct_result(**ids(semi), home_score=2, away_score=3, reason="goal ruled out")
    event_bus.deliver()

    the_final = final(championship)
    third_place = Match.objects.get(championship=championship, stage="third_place")
    assert the_final.home_team_id == teams[1].id
    assert third_place.home_team_id == teams[0].id
    moved = event_bus.published_data(TeamAdvanced)[-2:]
    assert {(m.team_id, m.previous_team_id) for m in moved} == {
        (teams[1].id, teams[0].id),
        (teams[0].id, teams[1].id),
    }


def test_a_correction_that_changes_the_winner_after_the_next_match_started_is_refused(
    owner, event_bus
):
    championship, _ = cup(owner, 4)
    first, second = round_matches(championship, 1)
    play(first, 2, 1)
    play(second, 1, 0)
    event_bus.deliver()
    commands.match_start(**ids(final(championship)))

    with pytest.raises(InvalidState, match="has already started"):
        commands.match_correct_result(**ids(first), home_score=0, away_score=1, reason="late VAR")

    # A correction that keeps the winner is still fine.
    corrected = commands.match_correct_result(
        **ids(first), home_score=3, away_score=1, reason="a goal missed"
    )
    assert corrected.home_score == 3


def test_kick_off_waits_until_the_subscription_has_moved_a_corrected_winner(owner, event_bus):
    championship, teams = cup(owner, 4)
    first, second = round_matches(championship, 1)
    play(first, 2, 1)
    play(second, 1, 0)
    event_bus.deliver()
    commands.match_correct_result(**ids(first), home_score=0, away_score=1, reason="own goal")

    with pytest.raises(InvalidState, match="try again in a moment"):
        commands.match_start(**ids(final(championship)))

    event_bus.deliver()
    started = commands.match_start(**ids(final(championship)))
    assert (started.status, started.home_team_id) == ("live", teams[1].id)


# --- two-legged ties --------------------------------------------------------------------


def two_legged(owner: Any, *, away_goals: bool) -> tuple[Championship, list[Team]]:
    return cup(owner, 4, legs=2, away_goals=away_goals)


def legs_of_first_tie(championship: Championship) -> tuple[Match, Match]:
    first, second = round_matches(championship, 1)[:2]
    assert (first.leg, second.leg) == (1, 2)
    assert (second.home_team_id, second.away_team_id) == (first.away_team_id, first.home_team_id)
    return first, second


def test_a_two_legged_tie_is_decided_on_aggregate(owner, event_bus):
    championship, teams = two_legged(owner, away_goals=False)
    first, second = legs_of_first_tie(championship)
    play(first, 2, 0)  # T01 2-0 T02
    event_bus.deliver()
    assert final(championship).home_team_id is None  # nothing decided after one leg

    play(second, 1, 0)  # T02 1-0 T01: 2-1 on aggregate for T01
    event_bus.deliver()

    assert final(championship).home_team_id == teams[0].id


def test_no_extra_time_in_a_first_leg(owner):
    championship, _ = two_legged(owner, away_goals=False)
    first, _second = legs_of_first_tie(championship)

    # Before: stored, and shown as "a.e.t." on a first leg
    with pytest.raises(InvalidCommand, match="second leg") as refused:
        play(first, 2, 1, extra_time=True)
    assert refused.value.field == "extra_time"
    assert play(first, 2, 1).extra_time is False


def test_a_first_leg_correction_must_leave_the_second_legs_end_valid(owner, event_bus):
    championship, teams = two_legged(owner, away_goals=False)
    first, second = legs_of_first_tie(championship)
    play(first, 2, 0)  # T01 2-0 T02
    play(second, 1, 0)  # T02 1-0 T01: 2-1 on aggregate, no shoot-out
    event_bus.deliver()

    # Before: accepted; the tie was then level with no shoot-out, no winner, and the
    # final (its team kept) could never start
    with pytest.raises(InvalidState, match="would have no winner"):
        commands.match_correct_result(**ids(first), home_score=1, away_score=0, reason="typo")
    # A correction that keeps a winner is taken
    commands.match_correct_result(**ids(first), home_score=3, away_score=0, reason="typo")
    event_bus.deliver()
    assert final(championship).home_team_id == teams[0].id

    # And a shoot-out that the corrected first leg makes pointless is refused too
    championship, _ = two_legged(owner, away_goals=False)
    first, second = legs_of_first_tie(championship)
    play(first, 1, 0)
    play(second, 1, 0, penalties=(5, 4))
    with pytest.raises(InvalidState, match="count for nothing"):
        commands.match_correct_result(**ids(first), home_score=2, away_score=0, reason="typo")
    # While a forfeit of the first leg, which decides the tie alone, is taken
    assert first.away_team_id is not None
    awarded = commands.match_award(
        **ids(first),
        awarded_to_team_id=first.away_team_id,
        home_score=0,
        away_score=3,
        reason="ineligible player",
    )
    assert awarded.status == "awarded"


def test_after_a_forfeited_first_leg_the_second_needs_no_shoot_out(owner, event_bus):
    championship, teams = two_legged(owner, away_goals=False)
    first, second = legs_of_first_tie(championship)
    commands.match_award(
        **ids(first),
        awarded_to_team_id=teams[0].id,
        home_score=3,
        away_score=0,
        reason="ineligible player",
    )

    # Before: 3-0 for the other side was refused ("give the penalty shoot-out"), though
    # the forfeit decides the tie whatever the second leg says
    with pytest.raises(InvalidCommand, match="only when the tie is level"):
        play(second, 3, 0, penalties=(5, 4))
    play(second, 3, 0)
    event_bus.deliver()
    assert final(championship).home_team_id == teams[0].id


def test_a_two_legged_tie_is_decided_on_away_goals_when_the_rules_say_so(owner, event_bus):
    championship, teams = two_legged(owner, away_goals=True)
    first, second = legs_of_first_tie(championship)
    play(first, 1, 2)  # T01 1-2 T02
    play(second, 0, 1)  # T02 0-1 T01: 2-2, away goals T01 1, T02 2
    event_bus.deliver()

    assert final(championship).home_team_id == teams[1].id


def test_a_two_legged_tie_level_on_aggregate_goes_to_penalties_in_the_second_leg(owner, event_bus):
    championship, teams = two_legged(owner, away_goals=False)
    first, second = legs_of_first_tie(championship)
    play(first, 1, 2)

    with pytest.raises(InvalidCommand, match="cannot end level"):
        play(second, 0, 1, extra_time=True)  # 2-2 on aggregate, away goals not counted
    play(second, 0, 1, extra_time=True, penalties=(3, 4))
    event_bus.deliver()

    assert final(championship).home_team_id == teams[0].id  # T01 won the shoot-out away


def test_the_first_leg_may_end_level_but_takes_no_penalties(owner):
    championship, _ = two_legged(owner, away_goals=False)
    first, second = legs_of_first_tie(championship)

    with pytest.raises(InvalidCommand, match="penalties decide only"):
        play(first, 1, 1, penalties=(4, 3))
    with pytest.raises(InvalidState, match="first leg"):
        play(second, 1, 1)
    assert play(first, 1, 1).status == "completed"


def test_the_bracket_lists_both_legs_with_the_winner_on_the_second(owner, event_bus):
    championship, teams = two_legged(owner, away_goals=False)
    first, second = legs_of_first_tie(championship)
    play(first, 0, 1)
    play(second, 3, 0)  # T02 wins 3-1 on aggregate
    event_bus.deliver()

    body = bracket.bracket_json(bracket.bracket_for_championship(championship_id=championship.id))

    semis = body["rounds"][0]["matches"]
    assert [m["id"] for m in semis[:2]] == [str(first.id), str(second.id)]
    assert semis[0]["winner"] is None
    assert semis[1]["winner"] == {"id": str(teams[1].id), "name": "T02"}
    assert (semis[0]["next_match"], semis[1]["next_match"]) == (None, str(final(championship).id))


# --- withdrawals: walkovers, never a stuck bracket (review of the formats) -------------


@pytest.mark.parametrize("policy", ["expunge", "award_remaining"])
def test_a_team_withdrawn_from_a_knockout_gives_its_opponent_a_walkover(owner, event_bus, policy):
    championship, teams = cup(owner, 4)
    if policy != "expunge":  # the default
        commands.championship_update(
            actor_id=owner.id, championship_id=championship.id, withdrawal_policy=policy
        )
    semi = round_matches(championship, 1)[0]  # T01 v T02

    commands.team_withdraw(actor_id=owner.id, championship_id=championship.id, team_id=teams[0].id)
    play(round_matches(championship, 1)[1], 2, 0)  # T03 beats T04
    event_bus.deliver()

    # Before (expunge): the semi was cancelled and the final waited for its winner for good
    semi.refresh_from_db()
    assert (semi.status, semi.awarded_to_id) == ("awarded", teams[1].id)
    the_final = final(championship)
    assert (the_final.home_team_id, the_final.away_team_id) == (teams[1].id, teams[2].id)
    assert commands.match_start(**ids(the_final)).status == "live"


@pytest.mark.parametrize("policy", ["expunge", "award_remaining"])
def test_a_bye_team_withdrawn_gets_its_walkover_once_its_opponent_is_known(
    owner, event_bus, policy
):
    championship, teams = cup(owner, 3)  # T01 has a bye into the final
    if policy != "expunge":  # the default
        commands.championship_update(
            actor_id=owner.id, championship_id=championship.id, withdrawal_policy=policy
        )

    # Before: refused under award_remaining ("not decided yet"); under expunge the final
    # was cancelled, then placing its other team failed for good (a dead letter)
    commands.team_withdraw(actor_id=owner.id, championship_id=championship.id, team_id=teams[0].id)
    assert final(championship).status == "scheduled"
    play(round_matches(championship, 1)[0], 1, 0)  # T02 beats T03
    event_bus.deliver()

    the_final = final(championship)
    assert (the_final.status, the_final.awarded_to_id) == ("awarded", teams[1].id)
    assert not DeadLetter.objects.exists()
    assert not Checkpoint.objects.filter(attempts__gt=0).exists()


def test_a_knockout_match_is_not_cancelled(owner):
    championship, _ = cup(owner, 4)

    with pytest.raises(InvalidState, match="not cancelled"):
        commands.match_cancel(**ids(round_matches(championship, 1)[0]), reason="no referee")


def test_a_match_between_two_withdrawn_teams_still_has_a_winner(owner, event_bus):
    championship, teams = cup(owner, 4)
    play(round_matches(championship, 1)[0], 1, 0)  # T01 through
    event_bus.deliver()
    commands.team_withdraw(actor_id=owner.id, championship_id=championship.id, team_id=teams[0].id)
    play(round_matches(championship, 1)[1], 1, 0)  # T03 through
    commands.team_withdraw(actor_id=owner.id, championship_id=championship.id, team_id=teams[2].id)
    event_bus.deliver()

    # Before: scheduled for good, every command refused ("has withdrawn")
    the_final = final(championship)
    assert (the_final.status, the_final.awarded_to_id) == ("awarded", teams[0].id)
    assert not DeadLetter.objects.exists()
    assert not Checkpoint.objects.filter(attempts__gt=0).exists()
