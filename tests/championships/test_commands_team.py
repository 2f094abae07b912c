"""Team commands on the championship stream: register, withdraw, deduct points."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from championships import commands
from championships import events as ev
from championships.exceptions import InvalidCommand, InvalidState, NotFound, PermissionDenied
from championships.models import Championship, Team
from tests.championships.conftest import roundtrip
from tests.championships.factories import ChampionshipFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


# --- team_register / team_withdraw / team_deduct_points ----------------------------------


def test_register_team_records_team_registered(championship, event_bus):
    team = commands.team_register(
        actor_id=championship.owner_id,
        championship_id=championship.id,
        name=" Real  Madrid ",
        expected_version=1,
    )

    (recorded,) = event_bus.published()
    assert recorded.data == ev.TeamRegistered(
        championship_id=championship.id, team_id=team.id, name="Real Madrid", group=""
    )
    assert roundtrip([recorded]) == [recorded.data]
    assert recorded.version == 2
    assert Championship.objects.get(id=championship.id).version == 2


def test_team_names_are_unique_ignoring_case(championship):
    TeamFactory.create(championship=championship, name="Arsenal")

    with pytest.raises(InvalidState, match="already registered"):
        TeamFactory.create(championship=championship, name="ARSENAL")

    assert Team.objects.filter(championship=championship).count() == 1


def test_the_same_team_name_may_play_in_another_championship(championship):
    TeamFactory.create(championship=championship, name="Arsenal")

    other = TeamFactory.create(name="Arsenal")

    assert other.championship_id != championship.id


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_register_rejects_a_bad_name(championship, name):
    with pytest.raises(InvalidCommand):
        TeamFactory.create(championship=championship, name=name)


def test_a_group_championship_needs_a_group_per_team(owner):
    championship = ChampionshipFactory.create(actor_id=owner.id, format="groups")

    with pytest.raises(InvalidCommand, match="needs a group"):
        TeamFactory.create(championship=championship, group="")


def test_a_league_team_cannot_have_a_group(championship):
    with pytest.raises(InvalidCommand, match="only for"):
        TeamFactory.create(championship=championship, group="A")


def test_no_registration_after_fixtures_are_generated(championship):
    TeamFactory.create_batch(2, championship=championship)
    commands.fixtures_generate(actor_id=championship.owner_id, championship_id=championship.id)

    with pytest.raises(InvalidState, match="fixtures"):
        TeamFactory.create(championship=championship)


def test_a_stranger_may_not_register_a_team(championship):
    with pytest.raises(PermissionDenied):
        commands.team_register(
            actor_id=UserFactory.create().id, championship_id=championship.id, name="Intruders"
        )


def test_withdraw_records_team_withdrawn(championship, event_bus):
    team = TeamFactory.create(championship=championship)

    withdrawn = commands.team_withdraw(
        actor_id=championship.owner_id,
        championship_id=championship.id,
        team_id=team.id,
        reason="bankrupt",
    )

    assert event_bus.published_data(ev.TeamWithdrawn) == [
        ev.TeamWithdrawn(
            championship_id=championship.id,
            team_id=team.id,
            group="",
            reason="bankrupt",
            policy="expunge",
        )
    ]
    assert roundtrip(event_bus.published()) == [r.data for r in event_bus.published()]
    assert withdrawn.withdrawn is True


def test_withdrawing_twice_is_a_state_error(championship):
    team = TeamFactory.create(championship=championship)
    commands.team_withdraw(
        actor_id=championship.owner_id, championship_id=championship.id, team_id=team.id
    )

    with pytest.raises(InvalidState, match="already"):
        commands.team_withdraw(
            actor_id=championship.owner_id, championship_id=championship.id, team_id=team.id
        )


def test_withdrawing_a_team_of_another_championship_is_not_found(championship):
    foreign = TeamFactory.create()

    with pytest.raises(NotFound):
        commands.team_withdraw(
            actor_id=championship.owner_id, championship_id=championship.id, team_id=foreign.id
        )


def test_deduct_points_records_points_deducted(championship, event_bus):
    team = TeamFactory.create(championship=championship)

    effective = datetime(2023, 11, 17, 12, 0, tzinfo=UTC)
    deduction = commands.team_deduct_points(
        actor_id=championship.owner_id,
        championship_id=championship.id,
        team_id=team.id,
        points=6,
        reason="financial rules",
        effective_at=effective,
    )

    assert event_bus.published_data(ev.PointsDeducted) == [
        ev.PointsDeducted(
            championship_id=championship.id,
            team_id=team.id,
            group="",
            points=6,
            reason="financial rules",
            deduction_id=deduction.id,
            effective_at=effective,
        )
    ]
    assert roundtrip(event_bus.published()) == [r.data for r in event_bus.published()]
    assert deduction.points == 6
    assert Team.objects.get(id=team.id).points_deducted == 6


@pytest.mark.parametrize(("points", "reason"), [(0, "x"), (-3, "x"), (True, "x"), (3, " ")])
def test_deduct_points_rejects_bad_input(championship, points, reason):
    team = TeamFactory.create(championship=championship)

    with pytest.raises(InvalidCommand):
        commands.team_deduct_points(
            actor_id=championship.owner_id,
            championship_id=championship.id,
            team_id=team.id,
            points=points,
            reason=reason,
        )
