"""Standings rows say when teams are still level after every tie-break criterion
(issues #9, #10): they share a position until lots are drawn."""

from __future__ import annotations

import pytest

from championships import commands, projections
from tests.championships.api.conftest import url
from tests.championships.conftest import standings_snapshot
from tests.championships.factories import TeamFactory

pytestmark = pytest.mark.django_db


def _rows(client, championship):
    body = client.get(url(f"championships/{championship.id}/standings/")).json()
    return [(r["team"]["name"], r["tied"]) for r in body["rows"]]


def test_teams_level_on_every_criterion_are_tied(anonymous, api, championship, event_bus):
    a, b, c = (TeamFactory.create(championship=championship, name=n) for n in ("A", "B", "C"))
    for home, away, score in [(a, b, (1, 1)), (c, a, (2, 0))]:
        match = commands.match_schedule(
            actor_id=championship.owner_id,
            championship_id=championship.id,
            home_team_id=home.id,
            away_team_id=away.id,
        )
        commands.match_complete(
            actor_id=championship.owner_id,
            championship_id=championship.id,
            match_id=match.id,
            home_score=score[0],
            away_score=score[1],
        )
    event_bus.deliver()

    # C: 3 points. A and B: 1 point each, but A conceded 2 more: not tied.
    assert _rows(anonymous, championship) == [("C", False), ("B", False), ("A", False)]


def test_a_table_before_any_result_is_not_tied_and_a_result_orders_it(
    anonymous, championship, event_bus
):
    a, b = (TeamFactory.create(championship=championship, name=n) for n in ("A", "B"))
    event_bus.deliver()
    before = _rows(anonymous, championship)

    match = commands.match_schedule(
        actor_id=championship.owner_id,
        championship_id=championship.id,
        home_team_id=a.id,
        away_team_id=b.id,
    )
    commands.match_complete(
        actor_id=championship.owner_id,
        championship_id=championship.id,
        match_id=match.id,
        home_score=0,
        away_score=1,
    )
    event_bus.deliver()

    # Before a ball is kicked nobody is level on anything yet: plain order, not tied.
    assert before == [("A", False), ("B", False)]
    assert _rows(anonymous, championship) == [("B", False), ("A", False)]
    live = standings_snapshot(championship.id)
    projections.rebuild_standings(championship.id)
    assert standings_snapshot(championship.id) == live


def test_a_drawn_match_leaves_both_teams_tied(anonymous, championship, event_bus):
    a, b = (TeamFactory.create(championship=championship, name=n) for n in ("Zeta", "Alpha"))
    match = commands.match_schedule(
        actor_id=championship.owner_id,
        championship_id=championship.id,
        home_team_id=a.id,
        away_team_id=b.id,
    )
    commands.match_complete(
        actor_id=championship.owner_id,
        championship_id=championship.id,
        match_id=match.id,
        home_score=2,
        away_score=2,
    )
    event_bus.deliver()

    # Level on points, goal difference, goals for and head to head: by name, tied.
    assert _rows(anonymous, championship) == [("Alpha", True), ("Zeta", True)]
