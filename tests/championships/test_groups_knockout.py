"""Group stage into knockout: qualifiers take their slots when their group's last match
completes; a correction moves them until their knockout match has started, then it is
refused."""

from __future__ import annotations

from typing import Any

import pytest

from championships import commands
from championships.aggregates.bracket import DrawOptions
from championships.exceptions import InvalidCommand, InvalidState
from championships.knockout_events import TeamAdvanced
from championships.models import Championship, Match, Team
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
