"""Group stage into knockout: qualifiers take their slots when their group's last match
completes; a correction moves them until their knockout match has started, then it is
refused."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from championships import commands
from championships.aggregates.bracket import DrawOptions
from championships.commands import knockout as knockout_commands
from championships.exceptions import InvalidCommand, InvalidState
from championships.knockout_events import TeamAdvanced
from championships.models import Championship, Match, Standing, Team
from events.models import Checkpoint, DeadLetter
from tests.championships.factories import ChampionshipFactory, TeamFactory

pytestmark = pytest.mark.django_db


def world_cup(owner: Any, **draw: Any) -> tuple[Championship, dict[str, Team]]:
    championship = ChampionshipFactory.create(actor_id=owner.id, format="groups_knockout")
    teams = {
        f"{g}{i}": TeamFactory.create(championship=championship, name=f"{g}{i}", group=g)
        for g in "AB"
        for i in range(1, 4)
    }
    commands.fixtures_generate(
        actor_id=owner.id, championship_id=championship.id, draw=DrawOptions(**draw)
    )
    return championship, teams


def ids(match: Match) -> dict[str, Any]:
    return {
        "actor_id": match.championship.owner_id,
        "championship_id": match.championship_id,
        "match_id": match.id,
    }


def group_match(championship: Championship, a: Team, b: Team) -> Match:
    return Match.objects.get(
        championship=championship,
        home_team__in=[a, b],
        away_team__in=[a, b],
        stage="",
    )


def result(championship: Championship, winner: Team, loser: Team) -> Match:
    """``winner`` beats ``loser`` 1-0, whoever plays at home."""
    match = group_match(championship, winner, loser)
    home_won = match.home_team_id == winner.id
    return commands.match_complete(
        **ids(match), home_score=1 if home_won else 0, away_score=0 if home_won else 1
    )


def semis(championship: Championship) -> list[Match]:
    return list(
        Match.objects.filter(championship=championship, stage="knockout", bracket_round=1).order_by(
            "bracket_position"
        )
    )


def play_groups(championship: Championship, t: dict[str, Team]) -> Match:
    """Registration order is the table in both groups; returns A2 v A3 (A's last match)."""
    for g in "AB":
        result(championship, t[f"{g}1"], t[f"{g}2"])
        result(championship, t[f"{g}1"], t[f"{g}3"])
    result(championship, t["B2"], t["B3"])
    return result(championship, t["A2"], t["A3"])


def test_qualifiers_take_their_slots_when_their_groups_last_match_completes(owner, event_bus):
    championship, t = world_cup(owner)
    first, second = semis(championship)
    assert (first.home_source, first.away_source, second.home_source, second.away_source) == (
        "1A",
        "2B",
        "1B",
        "2A",
    )
    for g in "AB":
        result(championship, t[f"{g}1"], t[f"{g}2"])
        result(championship, t[f"{g}1"], t[f"{g}3"])
    event_bus.deliver()
    assert {m.home_team_id for m in semis(championship)} == {None}  # groups not finished

    result(championship, t["B2"], t["B3"])
    event_bus.deliver()

    first, second = semis(championship)
    assert (first.home_team_id, first.away_team_id) == (None, t["B2"].id)
    assert (second.home_team_id, second.away_team_id) == (t["B1"].id, None)
    sources = {e.source for e in event_bus.published_data(TeamAdvanced)}
    assert sources == {"1B", "2B"}


def test_a_group_correction_before_the_knockout_starts_moves_the_qualifiers(owner, event_bus):
    championship, t = world_cup(owner)
    last = play_groups(championship, t)
    event_bus.deliver()
    assert semis(championship)[1].away_team_id == t["A2"].id

    # A3 beat A2 after all: A3 is second in group A.
    commands.match_correct_result(
        **ids(last),
        home_score=last.away_score,
        away_score=last.home_score,
        reason="result entered the wrong way round",
    )
    event_bus.deliver()

    assert semis(championship)[1].away_team_id == t["A3"].id
    moved = event_bus.published_data(TeamAdvanced)[-1]
    assert (moved.team_id, moved.previous_team_id, moved.source) == (t["A3"].id, t["A2"].id, "2A")


def test_a_group_correction_after_the_qualifiers_match_started_is_refused(owner, event_bus):
    championship, t = world_cup(owner)
    last = play_groups(championship, t)
    event_bus.deliver()
    commands.match_start(**ids(semis(championship)[1]))

    with pytest.raises(InvalidState, match="has already started"):
        commands.match_correct_result(
            **ids(last),
            home_score=last.away_score,
            away_score=last.home_score,
            reason="result entered the wrong way round",
        )

    # A correction that leaves the qualifiers as they are is accepted.
    kept = commands.match_correct_result(
        **ids(last),
        home_score=last.home_score * 3,
        away_score=last.away_score * 3,
        reason="two goals missed",
    )
    assert kept.status == "completed"


def test_slots_must_list_each_qualifier_once(owner):
    championship = ChampionshipFactory.create(actor_id=owner.id, format="groups_knockout")
    for g in "AB":
        TeamFactory.create_batch(3, championship=championship, group=g)

    with pytest.raises(InvalidCommand) as refused:
        commands.fixtures_generate(
            actor_id=owner.id,
            championship_id=championship.id,
            draw=DrawOptions(knockout_slots=["1A", "2B", "1B", "1B"]),
        )

    assert refused.value.field == "knockout_slots"


def test_odd_groups_need_slots_given(owner):
    championship = ChampionshipFactory.create(actor_id=owner.id, format="groups_knockout")
    for g in "ABC":
        TeamFactory.create_batch(3, championship=championship, group=g)

    with pytest.raises(InvalidCommand, match="give knockout_slots"):
        commands.fixtures_generate(actor_id=owner.id, championship_id=championship.id)


# --- the bracket follows the group's table (review of the formats) --------------------


def all_but_a2_a3(championship: Championship, t: dict[str, Team]) -> None:
    """Every group match but A2 v A3: A1 beats both, group B as registered."""
    result(championship, t["A1"], t["A2"])
    result(championship, t["A1"], t["A3"])
    result(championship, t["B1"], t["B2"])
    result(championship, t["B1"], t["B3"])
    result(championship, t["B2"], t["B3"])


def level_a2_a3(championship: Championship, t: dict[str, Team], *, card_for: Team | None) -> None:
    """Group A: A1 beats both; A2 and A3 draw 1-1 (level on every criterion but fair play,
    which a card for ``card_for`` decides). Group B as registered."""
    all_but_a2_a3(championship, t)
    draw = group_match(championship, t["A2"], t["A3"])
    commands.match_start(**ids(draw))
    if card_for is not None:
        commands.match_show_card(
            **ids(draw), team_id=card_for.id, player="Davids", minute=30, card="yellow"
        )
    commands.match_complete(**ids(draw), home_score=1, away_score=1)


def test_fair_play_decides_a_qualifier_as_in_the_table(owner, event_bus):
    championship, t = world_cup(owner)

    level_a2_a3(championship, t, card_for=t["A2"])
    event_bus.deliver()

    # Before: the bracket ranked without fair play (A2 by name) while the table had A3
    table = Standing.objects.filter(championship_id=championship.id, group="A")
    assert table.get(position=2).team_id == t["A3"].id
    assert semis(championship)[1].away_team_id == t["A3"].id


def test_a_place_level_on_everything_waits_for_the_lots(owner, event_bus):
    championship, t = world_cup(owner)
    level_a2_a3(championship, t, card_for=None)
    event_bus.deliver()
    second = semis(championship)[1]

    # Nobody is second in group A yet (before: A2, by name, "for display only"), and
    # kicking off says why (before: "not decided yet", no word of the lots)
    assert second.away_team_id is None
    with pytest.raises(InvalidState, match=r"2A is shared .*: draw lots first"):
        commands.match_start(**ids(second))

    commands.championship_draw_lots(
        actor_id=owner.id,
        championship_id=championship.id,
        group="A",
        team_ids=[t["A3"].id, t["A2"].id],
    )
    event_bus.deliver()

    assert semis(championship)[1].away_team_id == t["A3"].id
    commands.match_start(**ids(semis(championship)[1]))


def test_a_deduction_moves_the_qualifiers_until_their_tie_kicks_off(owner, event_bus):
    championship, t = world_cup(owner)
    play_groups(championship, t)  # A1 6, A2 3, A3 0
    event_bus.deliver()
    assert semis(championship)[1].away_team_id == t["A2"].id

    # A deduction after the group's last match: A2 falls below A3
    commands.team_deduct_points(
        actor_id=owner.id,
        championship_id=championship.id,
        team_id=t["A2"].id,
        points=4,
        reason="ineligible player",
    )
    event_bus.deliver()

    # Before: the bracket kept A2, and its match could never start ("being updated")
    assert semis(championship)[1].away_team_id == t["A3"].id
    started = commands.match_start(**ids(semis(championship)[1]))
    assert started.status == "live"

    # Once it kicked off, a later deduction changes the table but not the tie
    commands.team_deduct_points(
        actor_id=owner.id,
        championship_id=championship.id,
        team_id=t["A3"].id,
        points=5,
        reason="late registration",
    )
    event_bus.deliver()
    assert semis(championship)[1].away_team_id == t["A3"].id
    assert not DeadLetter.objects.exists()
    assert not Checkpoint.objects.filter(attempts__gt=0).exists()


def test_an_expunged_teams_results_do_not_count_for_the_bracket(owner, event_bus):
    championship, t = world_cup(owner)
    thrashed = group_match(championship, t["A1"], t["A3"])
    a1_home = thrashed.home_team_id == t["A1"].id
    commands.match_complete(
        **ids(thrashed), home_score=5 if a1_home else 0, away_score=0 if a1_home else 5
    )
    commands.team_withdraw(actor_id=owner.id, championship_id=championship.id, team_id=t["A3"].id)
    result(championship, t["A2"], t["A1"])
    for g in "B":
        result(championship, t[f"{g}1"], t[f"{g}2"])
        result(championship, t[f"{g}1"], t[f"{g}3"])
        result(championship, t[f"{g}2"], t[f"{g}3"])
    event_bus.deliver()

    # A1's win over the expunged A3 is struck out: A2 (3 points) tops group A, as in the
    # table (before: A1, on the annulled 5-0)
    table = Standing.objects.filter(championship_id=championship.id, group="A")
    assert table.get(position=1).team_id == t["A2"].id
    first, second = semis(championship)
    assert (first.home_team_id, second.away_team_id) == (t["A2"].id, t["A1"].id)


def test_a_late_group_result_is_refused_once_its_qualifiers_kicked_off(owner, event_bus):
    championship, t = world_cup(owner)
    play_groups(championship, t)
    event_bus.deliver()
    commands.match_start(**ids(semis(championship)[1]))
    replay = commands.match_schedule(
        actor_id=owner.id,
        championship_id=championship.id,
        home_team_id=t["A3"].id,
        away_team_id=t["A2"].id,
        allow_duplicate=True,
    )
    commands.match_start(**ids(replay))

    # Before: accepted, then the bracket could not follow (a dead letter)
    with pytest.raises(InvalidState, match="has already started"):
        commands.match_complete(**ids(replay), home_score=5, away_score=0)


@pytest.mark.parametrize("names", [("Group A", "Group B"), ("Ä", "Ö"), ("10", "20"), ("1", "21")])
def test_any_group_names_send_their_qualifiers_into_the_bracket(owner, event_bus, names):
    # Given groups named as organisers name them, one qualifier each
    championship = ChampionshipFactory.create(actor_id=owner.id, format="groups_knockout")
    teams = {
        (g, i): TeamFactory.create(championship=championship, name=f"{g} {i}", group=g)
        for g in names
        for i in (1, 2)
    }
    commands.fixtures_generate(
        actor_id=owner.id,
        championship_id=championship.id,
        draw=DrawOptions(qualifiers_per_group=1),
    )

    # When every group match ends, the first team of each group winning
    for g in names:
        result(championship, teams[(g, 1)], teams[(g, 2)])
    event_bus.deliver()

    # Then the winners meet in the final (before: "1Group A" or "110" was no slot, and
    # the final waited for teams that never came)
    final = Match.objects.get(championship=championship, stage="knockout")
    assert {final.home_team_id, final.away_team_id} == {teams[(g, 1)].id for g in names}
    assert commands.match_start(**ids(final)).status == "live"


def test_group_names_whose_places_read_alike_are_refused_at_the_draw(owner):
    # "11A" is place 1 of group "1A" and place 11 of group "A"
    championship = ChampionshipFactory.create(actor_id=owner.id, format="groups_knockout")
    for g in ("A", "1A"):
        for i in range(11):
            TeamFactory.create(championship=championship, name=f"{g}-{i}", group=g)

    with pytest.raises(InvalidCommand, match="rename the groups") as refused:
        commands.fixtures_generate(
            actor_id=owner.id,
            championship_id=championship.id,
            draw=DrawOptions(
                qualifiers_per_group=11,
                knockout_slots=[f"{p}{g}" for g in ("A", "1A") for p in range(1, 12)],
            ),
        )
    assert refused.value.field == "groups"


# --- the review of those fixes -------------------------------------------------------


def test_a_card_after_the_whistle_leaves_a_tie_under_way_as_it_is(owner, event_bus):
    championship, t = world_cup(owner)
    level_a2_a3(championship, t, card_for=t["A3"])  # A2 second on fair play
    event_bus.deliver()
    semi = semis(championship)[1]
    assert semi.away_team_id == t["A2"].id
    commands.match_start(**ids(semi))

    # A red for A2 entered on the group match after the semi kicked off
    commands.match_show_card(
        **ids(group_match(championship, t["A2"], t["A3"])),
        team_id=t["A2"].id,
        player="Seedorf",
        minute=80,
        card="red",
    )
    event_bus.deliver()

    # Before: advancement tried to move A3 into the live semi, failed, retried and
    # parked the card as a dead letter
    assert semis(championship)[1].away_team_id == t["A2"].id
    assert not DeadLetter.objects.exists()
    assert not Checkpoint.objects.filter(attempts__gt=0).exists()  # no failed delivery
    # And a correction that moves no qualifier is still taken (before: refused, the tie
    # differing from the table)
    a1_a3 = group_match(championship, t["A1"], t["A3"])
    a1_home = a1_a3.home_team_id == t["A1"].id
    corrected = commands.match_correct_result(
        **ids(a1_a3),
        home_score=2 if a1_home else 0,
        away_score=0 if a1_home else 2,
        reason="a goal missed",
    )
    assert corrected.status == "completed"


@pytest.mark.parametrize("other_group_done", [True, False])
def test_a_qualifier_who_withdraws_before_the_knockout_is_replaced_from_the_table(
    owner, event_bus, other_group_done
):
    championship, t = world_cup(owner)
    result(championship, t["A1"], t["A2"])
    result(championship, t["A1"], t["A3"])
    result(championship, t["A2"], t["A3"])
    result(championship, t["B1"], t["B2"])
    result(championship, t["B1"], t["B3"])
    if other_group_done:
        result(championship, t["B2"], t["B3"])
    event_bus.deliver()

    commands.team_withdraw(actor_id=owner.id, championship_id=championship.id, team_id=t["A1"].id)
    if not other_group_done:
        result(championship, t["B2"], t["B3"])
    event_bus.deliver()

    # Group A now reads A2, A3 (A1 withdrawn, last): they qualify, whatever the timing
    # (before: A1's tie was awarded to B2 at once, and A2 left out, or not, by timing)
    first, second = semis(championship)
    assert (first.home_team_id, first.away_team_id) == (t["A2"].id, t["B2"].id)
    assert (second.home_team_id, second.away_team_id) == (t["B1"].id, t["A3"].id)
    assert {first.status, second.status} == {"scheduled"}


def test_a_slot_is_read_against_every_group(owner, event_bus):
    # "10A" is place 1 of group "0A", not place 10 of group "A"
    championship = ChampionshipFactory.create(actor_id=owner.id, format="groups_knockout")
    big = [
        TeamFactory.create(championship=championship, name=f"A{i}", group="A") for i in range(10)
    ]
    small = [
        TeamFactory.create(championship=championship, name=f"Z{i}", group="0A") for i in range(2)
    ]
    commands.fixtures_generate(
        actor_id=owner.id, championship_id=championship.id, draw=DrawOptions(qualifiers_per_group=1)
    )
    for group in (big, small):
        for i, first in enumerate(group):
            for second in group[i + 1 :]:
                result(championship, first, second)
    event_bus.deliver()

    final = Match.objects.get(championship=championship, stage="knockout")
    assert {final.home_team_id, final.away_team_id} == {big[0].id, small[0].id}


def test_a_group_whose_last_match_is_cancelled_sends_its_qualifiers(owner, event_bus):
    championship, t = world_cup(owner)
    all_but_a2_a3(championship, t)
    event_bus.deliver()

    commands.match_cancel(**ids(group_match(championship, t["A2"], t["A3"])), reason="storm")
    event_bus.deliver()

    # Before: nobody placed until some other change to the table came along
    first, second = semis(championship)
    assert first.home_team_id == t["A1"].id
    assert second.away_team_id is None  # A2 and A3 level on everything: lots first


def test_advance_brackets_places_a_bracket_left_behind_by_older_rules(owner, event_bus):
    # Given a bracket placed as the older rules did (A2 second "by name" though A3 is
    # ahead on fair play), which the subscriptions will not look at again
    championship, t = world_cup(owner)
    level_a2_a3(championship, t, card_for=t["A2"])
    event_bus.deliver()
    semi = semis(championship)[1]
    knockout_commands.place(semi.id, "away", t["A2"].id, from_match_id=None, source="2A")
    with pytest.raises(InvalidState, match="being updated"):
        commands.match_start(**ids(semis(championship)[1]))

    # When the command runs
    out = StringIO()
    call_command("advance_brackets", "--championship", str(championship.id), stdout=out)

    # Then the bracket says what the table says, and the tie can kick off
    assert semis(championship)[1].away_team_id == t["A3"].id
    assert "events appended" in out.getvalue()
    assert commands.match_start(**ids(semis(championship)[1])).status == "live"
    call_command("advance_brackets", stdout=StringIO())  # nothing left to do, no error
