"""Cards and player statistics: the card command's rules, top scorers and discipline
(FIFA fair-play points) as a projection that survives redelivery and rebuilds to the
same rows; the API, the championship page's top scorers and the match timeline."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from championships import commands, stats
from championships.exceptions import InvalidCommand, InvalidState
from championships.knockout_events import CardShown
from championships.models import Championship, Match, PlayerMatchStat, Team
from championships.projections.players import SUBSCRIPTION, rebuild_player_stats
from events import delivery
from events.models import Checkpoint
from tests.championships.api.conftest import client_for
from tests.championships.conftest import roundtrip
from tests.championships.factories import ChampionshipFactory, TeamFactory
from tests.championships.test_pages import text

pytestmark = pytest.mark.django_db


@pytest.fixture
def league(owner) -> tuple[Championship, Team, Team]:
    championship = ChampionshipFactory.create(actor_id=owner.id, name="Spring League")
    home = TeamFactory.create(championship=championship, name="Ajax")
    away = TeamFactory.create(championship=championship, name="Benfica")
    return championship, home, away


def live_match(championship: Championship, home: Team, away: Team) -> Match:
    match = commands.match_schedule(
        actor_id=championship.owner_id,
        championship_id=championship.id,
        home_team_id=home.id,
        away_team_id=away.id,
    )
    return commands.match_start(**ids(match))


def ids(match: Match) -> dict[str, Any]:
    return {
        "actor_id": match.championship.owner_id,
        "championship_id": match.championship_id,
        "match_id": match.id,
    }


def goal(match: Match, team: Team, player: str, **kwargs: Any) -> Match:
    return commands.match_record_goal(
        **ids(match), team_id=team.id, minute=10, player=player, **kwargs
    )


def card(match: Match, team: Team, player: str, kind: str, minute: int = 30) -> Match:
    return commands.match_show_card(
        **ids(match), team_id=team.id, player=player, minute=minute, card=kind
    )


def test_a_card_is_an_event_on_the_match_stream(league, event_bus):
    championship, home, _ = league
    match = live_match(championship, home, league[2])

    card(match, home, "  Edgar   Davids ", "yellow", minute=12)

    recorded = event_bus.published(CardShown)
    assert [r.data for r in recorded] == [
        CardShown(
            match_id=match.id,
            championship_id=championship.id,
            team_id=home.id,
            player="Edgar Davids",
            minute=12,
            card="yellow",
            group="",
            stage="",
        )
    ]
    assert roundtrip(recorded) == [recorded[0].data]
    assert recorded[0].stream_id == str(match.id)


def test_card_rules(league):
    championship, home, away = league
    match = live_match(championship, home, away)
    card(match, home, "Davids", "yellow")

    with pytest.raises(InvalidCommand) as no_yellow:
        card(match, away, "Rui Costa", "second_yellow")
    with pytest.raises(InvalidCommand) as two_yellows:
        card(match, home, "Davids", "yellow")
    card(match, home, "Davids", "second_yellow")
    with pytest.raises(InvalidState, match="already been sent off"):
        card(match, home, "Davids", "red")
    with pytest.raises(InvalidCommand) as unknown:
        card(match, home, "Litmanen", "orange")

    assert (no_yellow.value.field, two_yellows.value.field, unknown.value.field) == (
        "card",
        "card",
        "card",
    )


def test_no_card_in_a_match_that_has_not_started(league):
    championship, home, away = league
    match = commands.match_schedule(
        actor_id=championship.owner_id,
        championship_id=championship.id,
        home_team_id=home.id,
        away_team_id=away.id,
    )

    with pytest.raises(InvalidState):
        card(match, home, "Davids", "yellow")


def test_top_scorers_count_goals_not_own_goals_and_a_postponed_match_is_void(league, event_bus):
    championship, home, away = league
    first = live_match(championship, home, away)
    goal(first, home, "Litmanen")
    goal(first, home, "Litmanen", penalty=True)
    goal(first, away, "Rui Costa")
    goal(first, away, "Davids", own_goal=True)  # Davids (Ajax) scores for Benfica
    abandoned = live_match(championship, away, home)
    goal(abandoned, away, "Rui Costa")
    event_bus.deliver()
    before = stats.scorers_for_championship(championship_id=championship.id)
    assert [(s.player, s.goals) for s in before] == [("Litmanen", 2), ("Rui Costa", 2)]

    commands.match_postpone(**ids(abandoned), reason="floodlights failed")
    event_bus.deliver()

    scorers = stats.scorers_for_championship(championship_id=championship.id)
    assert [(s.player, s.team_name, s.goals, s.penalty_goals) for s in scorers] == [
        ("Litmanen", "Ajax", 2, 1),
        ("Rui Costa", "Benfica", 1, 0),
    ]
    own = PlayerMatchStat.objects.get(player="Davids")
    assert (own.team_id, own.own_goals, own.goals) == (home.id, 1, 0)


def test_fair_play_points_follow_fifa(league, event_bus):
    championship, home, away = league
    match = live_match(championship, home, away)
    card(match, home, "Davids", "yellow")
    card(match, home, "Davids", "red")  # yellow + direct red: -5
    card(match, home, "Overmars", "yellow")
    card(match, home, "Overmars", "second_yellow")  # indirect red: -3
    card(match, away, "Rui Costa", "red")  # direct red: -4
    card(match, away, "Paulo Sousa", "yellow")  # -1
    event_bus.deliver()

    players, teams = stats.discipline_for_championship(championship_id=championship.id)

    assert [(p.player, p.fair_play) for p in players] == [
        ("Davids", -5),
        ("Rui Costa", -4),
        ("Overmars", -3),
        ("Paulo Sousa", -1),
    ]
    assert [(t.team_name, t.fair_play, t.yellow, t.second_yellow, t.red) for t in teams] == [
        ("Benfica", -5, 1, 0, 1),
        ("Ajax", -8, 2, 1, 1),
    ]


def test_redelivery_counts_nothing_twice_and_a_rebuild_gives_the_same_rows(league, event_bus):
    championship, home, away = league
    match = live_match(championship, home, away)
    goal(match, home, "Litmanen")
    card(match, away, "Rui Costa", "yellow")
    event_bus.deliver()
    rows = player_rows()

    Checkpoint.objects.filter(subscription=SUBSCRIPTION).update(version=0)
    delivery.deliver_all()
    assert player_rows() == rows

    assert rebuild_player_stats(championship.id) == 2
    assert player_rows() == rows


def player_rows() -> list[tuple[object, ...]]:
    fields = ["player", "team_id", "goals", "own_goals", "yellow", "championship_id"]
    return sorted(PlayerMatchStat.objects.values_list(*fields))


def test_cards_scorers_and_the_pages_through_http(league, owner, client, event_bus):
    championship, home, away = league
    match = live_match(championship, home, away)
    goal(match, home, "Litmanen")
    api: APIClient = client_for(owner)

    shown = api.post(
        f"/api/v1/matches/{match.id}/cards/",
        {"team": str(away.id), "player": "Rui Costa", "minute": 55, "card": "yellow"},
        format="json",
    )
    bad = api.post(
        f"/api/v1/matches/{match.id}/cards/",
        {"team": str(away.id), "player": "Rui Costa", "minute": 56, "card": "orange"},
        format="json",
    )
    event_bus.deliver()

    assert shown.status_code == 200
    assert bad.status_code == 400
    assert "card" in bad.json()
    scorers = api.get(f"/api/v1/championships/{championship.id}/scorers/").json()
    assert scorers == {
        "scorers": [
            {
                "player": "Litmanen",
                "team": {"id": str(home.id), "name": "Ajax"},
                "goals": 1,
                "penalty_goals": 0,
            }
        ]
    }
    discipline = api.get(f"/api/v1/championships/{championship.id}/cards/").json()
    assert discipline["players"][0]["player"] == "Rui Costa"
    assert discipline["teams"][0]["fair_play"] == -1
    page = client.get(f"/championships/{championship.id}/").content.decode()
    assert '<th scope="row">Litmanen</th><td class="wrap">Ajax</td>' in page
    timeline = text(client.get(f"/matches/{match.id}/"))
    assert "55\N{PRIME}Yellow card: Rui Costa \N{MIDDLE DOT} Benfica" in timeline


def test_the_rebuild_command_replays_every_championship(league, event_bus):
    championship, home, away = league
    match = live_match(championship, home, away)
    goal(match, home, "Litmanen")
    event_bus.deliver()
    rows = player_rows()
    out = io.StringIO()

    call_command("rebuild_player_stats", stdout=out)

    assert player_rows() == rows
    assert "from 1 events" in out.getvalue()
    with pytest.raises(CommandError, match="not a valid id"):
        call_command("rebuild_player_stats", "--championship", "nope")
