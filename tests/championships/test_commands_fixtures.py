"""Fixture generation and one-by-one scheduling."""

from __future__ import annotations

import pytest

from championships import commands
from championships import events as ev
from championships.exceptions import InvalidCommand, InvalidState, NotFound
from championships.models import Match
from tests.championships.conftest import roundtrip
from tests.championships.factories import ChampionshipFactory, TeamFactory

pytestmark = pytest.mark.django_db


# --- fixtures_generate / match_schedule ----------------------------------------------------


def test_generate_double_round_robin_schedules_every_pair_twice(owner, event_bus):
    championship = ChampionshipFactory.create(actor_id=owner.id, format="double_round_robin")
    teams = TeamFactory.create_batch(4, championship=championship)

    matches = commands.fixtures_generate(actor_id=owner.id, championship_id=championship.id)

    assert len(matches) == 12
    assert {(m.home_team_id, m.away_team_id) for m in matches} == {
        (a.id, b.id) for a in teams for b in teams if a != b
    }
    (summary,) = event_bus.published_data(ev.FixturesGenerated)
    assert summary.rounds == 6
    assert summary.double_round_robin is True
    assert set(summary.match_ids) == {m.id for m in matches}
    scheduled = event_bus.published(ev.MatchScheduled)
    assert {r.stream_id for r in scheduled} == {str(m.id) for m in matches}
    assert {r.version for r in scheduled} == {1}
    assert {r.stream_type for r in scheduled} == {"match"}
    assert roundtrip(event_bus.published()) == [r.data for r in event_bus.published()]
    assert Match.objects.filter(championship=championship, version=1).count() == 12


def test_generate_with_an_odd_team_count_gives_one_bye_per_round(championship):
    TeamFactory.create_batch(5, championship=championship)

    matches = commands.fixtures_generate(
        actor_id=championship.owner_id, championship_id=championship.id
    )

    rounds = sorted({m.round or 0 for m in matches})
    assert rounds == [1, 2, 3, 4, 5]
    assert [sum(1 for m in matches if m.round == r) for r in rounds] == [2] * 5


def test_generate_per_group(owner):
    championship = ChampionshipFactory.create(actor_id=owner.id, format="groups")
    for group in "AB":
        TeamFactory.create_batch(4, championship=championship, group=group)

    matches = commands.fixtures_generate(actor_id=owner.id, championship_id=championship.id)

    assert len(matches) == 12
    assert all(m.home.group == m.away.group == m.group for m in matches)


def test_generate_skips_withdrawn_teams_and_spaces_kickoffs(championship):
    from datetime import timedelta

    from django.utils import timezone

    teams = TeamFactory.create_batch(4, championship=championship)
    commands.team_withdraw(
        actor_id=championship.owner_id, championship_id=championship.id, team_id=teams[0].id
    )
    start = timezone.now()

    matches = commands.fixtures_generate(
        actor_id=championship.owner_id,
        championship_id=championship.id,
        first_kickoff=start,
        days_between_rounds=3,
    )

    assert len(matches) == 3
    assert teams[0].id not in {m.home_team_id for m in matches} | {m.away_team_id for m in matches}
    assert {(m.kickoff or start) - start for m in matches} == {timedelta(days=d) for d in (0, 3, 6)}
    assert all(m.kickoff is not None for m in matches)


def test_generate_twice_is_a_state_error(championship):
    TeamFactory.create_batch(2, championship=championship)
    commands.fixtures_generate(actor_id=championship.owner_id, championship_id=championship.id)

    with pytest.raises(InvalidState, match="already"):
        commands.fixtures_generate(actor_id=championship.owner_id, championship_id=championship.id)


def test_generate_needs_two_teams(championship):
    TeamFactory.create(championship=championship)

    with pytest.raises(InvalidState, match="two teams"):
        commands.fixtures_generate(actor_id=championship.owner_id, championship_id=championship.id)


def test_generate_without_teams_is_a_state_error(championship):
    with pytest.raises(InvalidState):
        commands.fixtures_generate(actor_id=championship.owner_id, championship_id=championship.id)


def test_generate_rejects_a_bad_spacing(championship):
    with pytest.raises(InvalidCommand):
        commands.fixtures_generate(
            actor_id=championship.owner_id, championship_id=championship.id, days_between_rounds=-1
        )


def test_schedule_records_match_scheduled_on_a_new_match_stream(championship, event_bus):
    home, away = TeamFactory.create_batch(2, championship=championship)

    match = commands.match_schedule(
        actor_id=championship.owner_id,
        championship_id=championship.id,
        home_team_id=home.id,
        away_team_id=away.id,
        round=3,
    )

    (recorded,) = event_bus.published(ev.MatchScheduled)
    assert recorded.data == ev.MatchScheduled(
        match_id=match.id,
        championship_id=championship.id,
        group="",
        round=3,
        home_team_id=home.id,
        away_team_id=away.id,
        kickoff=None,
    )
    assert (recorded.stream_id, recorded.stream_type, recorded.version) == (
        str(match.id),
        "match",
        1,
    )
    assert roundtrip([recorded]) == [recorded.data]
    assert match.status == "scheduled"


def test_a_team_cannot_play_itself(championship):
    team = TeamFactory.create(championship=championship)

    with pytest.raises(InvalidCommand, match="itself"):
        commands.match_schedule(
            actor_id=championship.owner_id,
            championship_id=championship.id,
            home_team_id=team.id,
            away_team_id=team.id,
        )


def test_scheduling_a_team_of_another_championship_is_not_found(championship):
    home = TeamFactory.create(championship=championship)
    foreign = TeamFactory.create()

    with pytest.raises(NotFound):
        commands.match_schedule(
            actor_id=championship.owner_id,
            championship_id=championship.id,
            home_team_id=home.id,
            away_team_id=foreign.id,
        )


def test_scheduling_a_withdrawn_team_is_a_state_error(championship):
    home, away = TeamFactory.create_batch(2, championship=championship)
    commands.team_withdraw(
        actor_id=championship.owner_id, championship_id=championship.id, team_id=away.id
    )

    with pytest.raises(InvalidState, match="withdrawn"):
        commands.match_schedule(
            actor_id=championship.owner_id,
            championship_id=championship.id,
            home_team_id=home.id,
            away_team_id=away.id,
        )


def test_scheduling_across_groups_is_rejected(owner):
    championship = ChampionshipFactory.create(actor_id=owner.id, format="groups")
    home = TeamFactory.create(championship=championship, group="A")
    away = TeamFactory.create(championship=championship, group="B")

    with pytest.raises(InvalidCommand, match="same group"):
        commands.match_schedule(
            actor_id=owner.id,
            championship_id=championship.id,
            home_team_id=home.id,
            away_team_id=away.id,
        )


def test_scheduling_rejects_a_bad_round(championship):
    home, away = TeamFactory.create_batch(2, championship=championship)

    with pytest.raises(InvalidCommand, match="round"):
        commands.match_schedule(
            actor_id=championship.owner_id,
            championship_id=championship.id,
            home_team_id=home.id,
            away_team_id=away.id,
            round=0,
        )
