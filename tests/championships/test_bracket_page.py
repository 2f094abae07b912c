"""The bracket on the championship page: rounds as columns, byes kept in place, winners
highlighted, penalties as "4-2 pens" (an en dash), the champion; group tables above it for
groups_knockout, none for a knockout cup."""

from __future__ import annotations

import pytest

from championships import commands
from championships.aggregates.bracket import DrawOptions
from championships.models import Match
from tests.championships.factories import ChampionshipFactory, TeamFactory
from tests.championships.test_pages import text

pytestmark = pytest.mark.django_db


def test_the_bracket_page_shows_rounds_byes_penalties_and_the_champion(client, owner, event_bus):
    cup = ChampionshipFactory.create(actor_id=owner.id, name="Spring Cup", format="knockout")
    for name in ("Ajax", "Benfica", "Celtic"):
        TeamFactory.create(championship=cup, name=name)
    commands.fixtures_generate(actor_id=owner.id, championship_id=cup.id, draw=DrawOptions())
    semi = Match.objects.get(championship=cup, bracket_round=1)
    ids = {"actor_id": owner.id, "championship_id": cup.id}
    commands.match_complete(
        **ids, match_id=semi.id, home_score=1, away_score=1, extra_time=True, penalties=(4, 2)
    )
    event_bus.deliver()
    final = Match.objects.get(championship=cup, bracket_round=2)
    commands.match_complete(**ids, match_id=final.id, home_score=0, away_score=2)
    event_bus.deliver()

    response = client.get(f"/championships/{cup.id}/")
    page = text(response)

    assert response.status_code == 200
    assert "Semi-finals" in page
    assert "Final" in page
    assert "Ajax bye" in page  # the first team waits in the final
    assert "a.e.t. · 4\N{EN DASH}2 pens" in page
    assert "Champion: Benfica" in page
    assert page.count("Winner: ") == 2
    assert b'class="standings"' not in response.content  # a cup has no table


def test_groups_knockout_shows_the_group_tables_above_the_bracket(client, owner, event_bus):
    cup = ChampionshipFactory.create(actor_id=owner.id, format="groups_knockout")
    for group in "AB":
        for i in (1, 2):
            TeamFactory.create(championship=cup, name=f"{group}{i}", group=group)
    commands.fixtures_generate(actor_id=owner.id, championship_id=cup.id)
    event_bus.deliver()

    content = client.get(f"/championships/{cup.id}/").content.decode()

    assert content.index('class="standings"') < content.index("bracket-scroll")
    assert content.count('title="1A">1A<') == 1


def test_a_knockout_match_page_shows_undecided_teams_and_the_shoot_out(client, owner, event_bus):
    cup = ChampionshipFactory.create(actor_id=owner.id, format="knockout")
    for name in ("Ajax", "Benfica", "Celtic", "Dynamo"):
        TeamFactory.create(championship=cup, name=name)
    commands.fixtures_generate(actor_id=owner.id, championship_id=cup.id, draw=DrawOptions())
    semi = Match.objects.filter(championship=cup, bracket_round=1).order_by("bracket_position")[0]
    final = Match.objects.get(championship=cup, bracket_round=2)
    commands.match_complete(
        actor_id=owner.id,
        championship_id=cup.id,
        match_id=semi.id,
        home_score=0,
        away_score=0,
        extra_time=True,
        penalties=(5, 3),
    )
    event_bus.deliver()

    semi_page = text(client.get(f"/matches/{semi.id}/"))
    final_page = text(client.get(f"/matches/{final.id}/"))

    assert "After extra time · 5\N{EN DASH}3 pens" in semi_page
    assert "Full time 0\N{EN DASH}0 a.e.t. (5\N{EN DASH}3 pens)" in semi_page
    assert "Ajax goes through" not in semi_page  # that is the final's timeline
    assert "Ajax 0\N{EN DASH}0 To be decided" in final_page
    assert "Ajax goes through" in final_page
