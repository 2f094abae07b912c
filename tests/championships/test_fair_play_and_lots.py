"""Fair play as a tie-break criterion (FIFA 2022: after head-to-head, before lots) and
drawing of lots: teams level on everything share a position ("tied") until the organiser
records the lots, which then order them."""

from __future__ import annotations

from typing import Any

import pytest

from championships import commands, projections
from championships.exceptions import InvalidCommand, InvalidState
from championships.models import Championship, Match, Standing, Team
from tests.championships.api.conftest import client_for
from tests.championships.conftest import standings_snapshot
from tests.championships.factories import ChampionshipFactory, TeamFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def group(owner) -> tuple[Championship, dict[str, Team]]:
    championship = ChampionshipFactory.create(
        actor_id=owner.id, format="groups", tie_breakers="fifa_2022"
    )
    teams = {
        name: TeamFactory.create(championship=championship, name=name, group="A")
        for name in ("Ajax", "Benfica", "Celtic")
    }
    return championship, teams


def ids(match: Match) -> dict[str, Any]:
    return {
        "actor_id": match.championship.owner_id,
        "championship_id": match.championship_id,
        "match_id": match.id,
    }


def draw_between(championship: Championship, home: Team, away: Team) -> Match:
    match = commands.match_schedule(
        actor_id=championship.owner_id,
        championship_id=championship.id,
        home_team_id=home.id,
        away_team_id=away.id,
    )
    return commands.match_start(**ids(match))


def card(match: Match, team: Team, kind: str) -> None:
    commands.match_show_card(**ids(match), team_id=team.id, player="Davids", minute=5, card=kind)


def rows(championship: Championship) -> list[tuple[int, str, int, bool]]:
    return [
        (r.position, r.team_name, r.fair_play, r.tied)
        for r in Standing.objects.filter(championship_id=championship.id).order_by(
            "position", "team_name"
        )
    ]


def test_fair_play_separates_teams_level_on_everything_else(group, event_bus):
    championship, t = group
    match = draw_between(championship, t["Ajax"], t["Benfica"])
    commands.match_show_card(
        **ids(match), team_id=t["Ajax"].id, player="Davids", minute=5, card="yellow"
    )
    commands.match_complete(**ids(match), home_score=1, away_score=1)
    event_bus.deliver()

    assert rows(championship)[:2] == [(1, "Benfica", 0, False), (2, "Ajax", -1, False)]


def test_a_postponed_matchs_cards_are_void(group, event_bus):
    championship, t = group
    match = draw_between(championship, t["Ajax"], t["Benfica"])
    commands.match_show_card(
        **ids(match), team_id=t["Ajax"].id, player="Davids", minute=5, card="red"
    )
    event_bus.deliver()
    assert Standing.objects.get(team_id=t["Ajax"].id).fair_play == -4

    commands.match_postpone(**ids(match), reason="storm")
    event_bus.deliver()

    assert Standing.objects.get(team_id=t["Ajax"].id).fair_play == 0


def test_the_replay_of_a_postponed_match_starts_with_no_cards(group, event_bus):
    # Given a player sent off in a match that was then postponed (void), and replayed
    championship, t = group
    match = draw_between(championship, t["Ajax"], t["Benfica"])
    card(match, t["Ajax"], "yellow")
    card(match, t["Ajax"], "second_yellow")
    commands.match_postpone(**ids(match), reason="storm")
    replay = commands.match_start(**ids(match))

    # When he is booked in the replay, then booked again
    card(replay, t["Ajax"], "yellow")
    card(replay, t["Ajax"], "second_yellow")

    # Then both count, as in the fair-play table (before: "already sent off", the void
    # attempt's cards still counted)
    event_bus.deliver()
    assert Standing.objects.get(team_id=t["Ajax"].id).fair_play == -3
    with pytest.raises(InvalidState, match="sent off"):
        card(replay, t["Ajax"], "yellow")


def test_teams_level_on_everything_share_a_place_until_lots_are_drawn(group, owner, event_bus):
    championship, t = group
    match = draw_between(championship, t["Ajax"], t["Benfica"])
    commands.match_complete(**ids(match), home_score=2, away_score=2)
    event_bus.deliver()
    api = client_for(owner)
    standings = api.get(f"/api/v1/championships/{championship.id}/standings/").json()
    assert [(r["position"], r["team"]["name"], r["tied"]) for r in standings["rows"]] == [
        (1, "Ajax", True),
        (1, "Benfica", True),
        (3, "Celtic", False),
    ]

    response = api.post(
        f"/api/v1/championships/{championship.id}/lots/",
        {"group": "A", "teams": [str(t["Benfica"].id), str(t["Ajax"].id)]},
        format="json",
    )
    event_bus.deliver()

    assert response.status_code == 201
    assert rows(championship) == [
        (1, "Benfica", 0, False),
        (2, "Ajax", 0, False),
        (3, "Celtic", 0, False),
    ]
    live = standings_snapshot(championship.id)
    projections.rebuild_standings(championship.id)
    assert standings_snapshot(championship.id) == live


def test_lots_are_drawn_among_teams_of_one_group(group, owner):
    championship, t = group
    other = TeamFactory.create(championship=championship, name="Dynamo", group="B")
    api = client_for(owner)

    one = api.post(
        f"/api/v1/championships/{championship.id}/lots/",
        {"group": "A", "teams": [str(t["Ajax"].id)]},
        format="json",
    )
    with pytest.raises(InvalidCommand, match="not in group A") as elsewhere:
        commands.championship_draw_lots(
            actor_id=owner.id,
            championship_id=championship.id,
            group="A",
            team_ids=[t["Ajax"].id, other.id],
        )

    assert one.status_code == 400
    assert "teams" in one.json()
    assert elsewhere.value.field == "teams"


def test_cards_in_knockout_matches_stay_out_of_the_group_tables(owner, event_bus):
    cup = ChampionshipFactory.create(actor_id=owner.id, format="groups_knockout")
    for g in "AB":
        for i in (1, 2):
            TeamFactory.create(championship=cup, name=f"{g}{i}", group=g)
    commands.fixtures_generate(actor_id=owner.id, championship_id=cup.id)
    for match in Match.objects.filter(championship=cup, stage=""):
        commands.match_complete(**ids(match), home_score=1, away_score=0)
    event_bus.deliver()
    final = Match.objects.filter(championship=cup, stage="knockout").first()
    assert final is not None
    commands.match_start(**ids(final))
    commands.match_show_card(**ids(final), team_id=final.home.id, player="X", minute=3, card="red")
    event_bus.deliver()

    assert set(
        Standing.objects.filter(championship_id=cup.id).values_list("fair_play", flat=True)
    ) == {0}
