"""The standings projection: incremental, idempotent, rebuildable."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from championships import commands, handlers, projections, selectors
from championships import events as ev
from championships.exceptions import NotFound
from championships.models import AppliedResult, Standing
from events import delivery, store
from events.subscriptions import subscriptions
from tests.championships.conftest import play, roundtrip, standings_snapshot, table
from tests.championships.factories import ChampionshipFactory, MatchFactory, TeamFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def teams(championship):
    return [
        TeamFactory.create(championship=championship, name=name)
        for name in ("Ajax", "Benfica", "Celtic", "Dynamo")
    ]


def test_the_standings_subscription_follows_results_teams_rules_and_deductions():
    subscription = subscriptions.get(handlers.STANDINGS_SUBSCRIPTION)

    assert subscription.handler is handlers.standings_on_event
    assert subscription.event_types == frozenset(projections.HANDLED_TYPES)
    assert subscription.stream_types == frozenset({"championship", "match"})


def test_registered_teams_appear_with_empty_rows_in_name_order(championship, teams, event_bus):
    event_bus.deliver()

    assert table(championship) == [
        (1, "Ajax", 0, 0, 0, 0, 0, 0, 0),
        (2, "Benfica", 0, 0, 0, 0, 0, 0, 0),
        (3, "Celtic", 0, 0, 0, 0, 0, 0, 0),
        (4, "Dynamo", 0, 0, 0, 0, 0, 0, 0),
    ]


def test_a_completed_match_updates_both_teams_and_the_order(championship, teams, event_bus):
    ajax, benfica, celtic, dynamo = teams
    play(championship, dynamo, celtic, "3-1")
    play(championship, benfica, ajax, "0-0")

    event_bus.deliver()

    # Ajax and Benfica are level on every criterion: they share second place (FIFA:
    # until lots are drawn).
    assert table(championship) == [
        (1, "Dynamo", 1, 1, 0, 0, 3, 1, 3),
        (2, "Ajax", 1, 0, 1, 0, 0, 0, 1),
        (2, "Benfica", 1, 0, 1, 0, 0, 0, 1),
        (4, "Celtic", 1, 0, 0, 1, 1, 3, 0),
    ]
    assert [r.tied for r in Standing.objects.order_by("position", "team_name")] == [
        False,
        True,
        True,
        False,
    ]
    dynamo_row = Standing.objects.get(team_id=dynamo.id)
    assert (dynamo_row.goal_difference, dynamo_row.form, dynamo_row.away_goals_for) == (2, "W", 0)
    assert Standing.objects.get(team_id=celtic.id).away_goals_for == 1


def test_standings_updated_is_caused_by_the_result_on_the_standings_stream(
    championship, teams, event_bus
):
    ajax, benfica, *_ = teams
    event_bus.deliver()
    match = play(championship, ajax, benfica, "2-0")

    event_bus.deliver()

    (completed,) = event_bus.published(ev.MatchCompleted)
    updated = event_bus.published(ev.StandingsUpdated)[-1]
    assert updated.stream_id == f"standings-{championship.id}"
    assert updated.stream_type == "standings"
    assert updated.metadata.causation_id == str(completed.event_id)
    assert updated.metadata.correlation_id == completed.metadata.correlation_id
    assert updated.data.team_ids[0] == ajax.id
    assert updated.data.points[0] == 3
    assert roundtrip([updated]) == [updated.data]
    assert completed.stream_id == str(match.id)


def test_a_correction_applies_the_difference(championship, teams, event_bus):
    ajax, benfica, *_ = teams
    match = play(championship, ajax, benfica, "2-1")
    event_bus.deliver()

    commands.match_correct_result(
        actor_id=championship.owner_id,
        championship_id=championship.id,
        match_id=match.id,
        home_score=1,
        away_score=3,
        reason="wrong scorer sheet",
    )
    event_bus.deliver()

    assert table(championship) == [
        (1, "Benfica", 1, 1, 0, 0, 3, 1, 3),
        (2, "Celtic", 0, 0, 0, 0, 0, 0, 0),
        (3, "Dynamo", 0, 0, 0, 0, 0, 0, 0),
        (4, "Ajax", 1, 0, 0, 1, 1, 3, 0),
    ]
    assert [Standing.objects.get(team_id=t.id).form for t in (ajax, benfica)] == ["L", "W"]


def test_an_award_replaces_the_played_result(championship, teams, event_bus):
    ajax, benfica, *_ = teams
    match = play(championship, ajax, benfica, "4-0")
    event_bus.deliver()

    commands.match_award(
        actor_id=championship.owner_id,
        championship_id=championship.id,
        match_id=match.id,
        awarded_to_team_id=benfica.id,
        home_score=0,
        away_score=3,
        reason="ineligible player",
    )
    event_bus.deliver()

    assert table(championship) == [
        (1, "Benfica", 1, 1, 0, 0, 3, 0, 3),
        (2, "Celtic", 0, 0, 0, 0, 0, 0, 0),
        (3, "Dynamo", 0, 0, 0, 0, 0, 0, 0),
        (4, "Ajax", 1, 0, 0, 1, 0, 3, 0),
    ]


def test_redelivering_an_event_changes_nothing(championship, teams, event_bus):
    ajax, benfica, *_ = teams
    match = play(championship, ajax, benfica, "2-1")
    commands.team_deduct_points(
        actor_id=championship.owner_id,
        championship_id=championship.id,
        team_id=ajax.id,
        points=1,
        reason="x",
    )
    event_bus.deliver()
    before = standings_snapshot(championship.id)
    published = len(event_bus.published(ev.StandingsUpdated))
    recorded = [
        *store.load(str(match.id)),
        *store.load(str(championship.id)),
    ]

    for event in recorded:
        handlers.standings_on_event(event)

    assert standings_snapshot(championship.id) == before
    assert len(event_bus.published(ev.StandingsUpdated)) == published


def test_a_deduction_subtracts_points(championship, teams, event_bus):
    ajax, benfica, *_ = teams
    play(championship, ajax, benfica, "1-0")

    commands.team_deduct_points(
        actor_id=championship.owner_id,
        championship_id=championship.id,
        team_id=ajax.id,
        points=4,
        reason="administration",
    )
    event_bus.deliver()

    ajax_row = Standing.objects.get(team_id=ajax.id)
    assert (ajax_row.points, ajax_row.points_deducted, ajax_row.position) == (-1, 4, 4)


def test_a_withdrawn_team_ranks_last_and_keeps_its_results_under_award_remaining(
    championship, teams, event_bus
):
    ajax, benfica, *_ = teams
    play(championship, ajax, benfica, "5-0")
    commands.championship_update(
        actor_id=championship.owner_id,
        championship_id=championship.id,
        withdrawal_policy="award_remaining",
    )

    commands.team_withdraw(
        actor_id=championship.owner_id, championship_id=championship.id, team_id=ajax.id
    )
    event_bus.deliver()

    ajax_row = Standing.objects.get(team_id=ajax.id)
    assert (ajax_row.position, ajax_row.withdrawn, ajax_row.points) == (4, True, 3)
    assert table(championship)[0][1] == "Celtic"


def test_changing_the_points_rule_recomputes_points(championship, teams, event_bus):
    ajax, benfica, celtic, _ = teams
    play(championship, ajax, benfica, "1-0")
    play(championship, celtic, benfica, "1-1")

    commands.championship_update(
        actor_id=championship.owner_id, championship_id=championship.id, points_win=2
    )
    event_bus.deliver()

    assert [(row[1], row[-1]) for row in table(championship)] == [
        ("Ajax", 2),
        ("Celtic", 1),
        ("Benfica", 1),
        ("Dynamo", 0),
    ]


def test_form_lists_the_last_five_results_oldest_first(championship, teams, event_bus):
    ajax, benfica, celtic, dynamo = teams
    for opponent, score in [
        (benfica, "1-0"),
        (celtic, "0-1"),
        (dynamo, "2-2"),
        (benfica, "3-0"),
        (celtic, "0-0"),
        (dynamo, "0-4"),
    ]:
        play(championship, ajax, opponent, score)

    event_bus.deliver()

    assert Standing.objects.get(team_id=ajax.id).form == "LDWDL"
    assert Standing.objects.get(team_id=ajax.id).played == 6


def test_groups_have_their_own_tables(owner, event_bus):
    championship = ChampionshipFactory.create(actor_id=owner.id, format="groups")
    a1, a2 = (TeamFactory.create(championship=championship, group="A") for _ in range(2))
    b1, b2 = (TeamFactory.create(championship=championship, group="B") for _ in range(2))
    play(championship, a1, a2, "0-2")
    play(championship, b1, b2, "1-0")

    event_bus.deliver()

    assert [
        r.team_id
        for r in selectors.standings_for_championship(championship_id=championship.id, group="A")
    ] == [a2.id, a1.id]
    assert [
        r.team_id
        for r in selectors.standings_for_championship(championship_id=championship.id, group="B")
    ] == [b1.id, b2.id]


def test_results_delivered_before_their_teams_end_in_the_same_table(championship, teams):
    """Different streams are delivered independently: a result may arrive first."""
    ajax, benfica, *_ = teams
    match = play(championship, ajax, benfica, "2-2")

    delivery.deliver_stream(str(match.id), "match")
    delivery.deliver_stream(str(championship.id), "championship")
    out_of_order = standings_snapshot(championship.id)
    projections.rebuild_standings(championship.id)

    assert standings_snapshot(championship.id) == out_of_order
    assert {row[3] for row in out_of_order} == {"Ajax", "Benfica", "Celtic", "Dynamo"}


def test_rebuild_equals_the_live_projection(championship, teams, event_bus):
    ajax, benfica, celtic, dynamo = teams
    first = play(championship, ajax, benfica, "2-1")
    play(championship, celtic, dynamo, "0-0")
    play(championship, benfica, celtic, "3-3")
    forfeit = play(championship, dynamo, ajax, "1-0")
    commands.match_correct_result(
        actor_id=championship.owner_id,
        championship_id=championship.id,
        match_id=first.id,
        home_score=2,
        away_score=2,
        reason="r",
    )
    commands.match_award(
        actor_id=championship.owner_id,
        championship_id=championship.id,
        match_id=forfeit.id,
        awarded_to_team_id=ajax.id,
        home_score=0,
        away_score=3,
        reason="r",
    )
    commands.team_deduct_points(
        actor_id=championship.owner_id,
        championship_id=championship.id,
        team_id=celtic.id,
        points=2,
        reason="r",
    )
    commands.championship_update(
        actor_id=championship.owner_id, championship_id=championship.id, tie_breakers="uefa"
    )
    event_bus.deliver()
    live = standings_snapshot(championship.id)
    standings_version = store.stream_version(f"standings-{championship.id}")

    replayed = projections.rebuild_standings(championship.id)

    assert standings_snapshot(championship.id) == live
    # created, 4 teams, 4 results, correction, award, deduction, rules
    assert replayed == 1 + 4 + 4 + 1 + 1 + 1 + 1
    # The rebuilt table is published (one group): readers see a new version at once.
    assert store.stream_version(f"standings-{championship.id}") == standings_version + 1
    assert selectors.standings_version(championship_id=championship.id) == standings_version + 1
    play(championship, ajax, celtic, "1-0")
    assert event_bus.deliver() > 0


def test_rebuild_of_everything_equals_the_live_projection(championship, teams, event_bus):
    grouped = ChampionshipFactory.create(actor_id=championship.owner_id, format="groups")
    a1, a2, a3 = (TeamFactory.create(championship=grouped, group="A") for _ in range(3))
    b1, b2 = (TeamFactory.create(championship=grouped, group="B") for _ in range(2))
    play(grouped, a1, a2, "1-2")
    play(grouped, a3, a1, "0-0")
    play(grouped, b2, b1, "3-1")
    commands.team_withdraw(actor_id=grouped.owner_id, championship_id=grouped.id, team_id=a2.id)
    play(championship, teams[0], teams[1], "0-1")
    event_bus.deliver()
    live = [standings_snapshot(championship.id), standings_snapshot(grouped.id)]
    progress: list[int] = []

    replayed = projections.rebuild_standings(progress=progress.append)

    assert [standings_snapshot(championship.id), standings_snapshot(grouped.id)] == live
    assert progress == [replayed]
    assert replayed == (1 + 4 + 1) + (1 + 5 + 3 + 1)


def test_one_more_result_costs_the_same_queries_however_long_the_season(owner, event_bus):
    """Incremental: the handler reads as much after 13 results as after 2 (how many rows
    change position, and so the writes, depends on the results themselves)."""
    championship = ChampionshipFactory.create(
        actor_id=owner.id, tie_breakers=["points", "goal_difference", "goals_for"]
    )
    teams = TeamFactory.create_batch(6, championship=championship)
    counts = []
    for season_so_far in (1, 12):
        for i in range(season_so_far):
            play(championship, teams[i % 6], teams[(i + 1) % 6], f"{i % 4}-{i % 3}")
        event_bus.deliver()
        match = MatchFactory.create(
            championship=championship, home_team=teams[0], away_team=teams[3]
        )
        commands.match_complete(
            actor_id=owner.id,
            championship_id=championship.id,
            match_id=match.id,
            home_score=1,
            away_score=0,
        )
        (recorded,) = store.load(str(match.id), after_version=1)
        with CaptureQueriesContext(connection) as queries:
            projections.apply_standings(recorded)
        counts.append(sum(1 for q in queries if q["sql"].startswith("SELECT")))
        event_bus.deliver()

    assert counts[0] == counts[1]
    assert AppliedResult.objects.filter(championship_id=championship.id).count() == 15


def test_selectors_find_a_championship_and_its_match_or_say_not_found(championship, teams):
    match = play(championship, teams[0], teams[1], "1-0")

    found = selectors.match_get(championship_id=championship.id, match_id=match.id)

    assert found.home.name == "Ajax"
    assert selectors.championship_get(championship_id=championship.id) == championship
    with pytest.raises(NotFound):
        selectors.match_get(championship_id=championship.id, match_id=uuid.uuid4())
    with pytest.raises(NotFound):
        selectors.championship_get(championship_id=uuid.uuid4())


def test_form_follows_the_order_matches_were_played_not_entered(championship, teams, event_bus):
    ajax, benfica, celtic, _ = teams
    early = commands.match_schedule(
        actor_id=championship.owner_id,
        championship_id=championship.id,
        home_team_id=ajax.id,
        away_team_id=benfica.id,
        round=1,
        kickoff=datetime(2025, 3, 1, 15, tzinfo=UTC),
    )
    late = commands.match_schedule(
        actor_id=championship.owner_id,
        championship_id=championship.id,
        home_team_id=ajax.id,
        away_team_id=celtic.id,
        round=2,
        kickoff=datetime(2025, 3, 8, 15, tzinfo=UTC),
    )
    # The later match's result is entered first, the earlier match's afterwards.
    for match, score in ((late, (0, 1)), (early, (2, 0))):
        commands.match_complete(
            actor_id=championship.owner_id,
            championship_id=championship.id,
            match_id=match.id,
            home_score=score[0],
            away_score=score[1],
        )
    event_bus.deliver()

    assert Standing.objects.get(team_id=ajax.id).form == "WL"  # played W, then L
    live = standings_snapshot(championship.id)
    projections.rebuild_standings(championship.id)
    assert standings_snapshot(championship.id) == live
