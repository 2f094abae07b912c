"""Championship-stream commands: create, update, organisers, teams, fixtures, scheduling."""

from __future__ import annotations

import uuid

import pytest

from championships import commands
from championships import events as ev
from championships.exceptions import InvalidCommand, InvalidState, NotFound, PermissionDenied
from championships.models import Championship
from events import store
from tests.championships.conftest import roundtrip
from tests.championships.factories import UserFactory

pytestmark = pytest.mark.django_db


# --- championship_create ---------------------------------------------------------------


def test_create_records_championship_created_with_the_preset_rules(owner, event_bus):
    championship = commands.championship_create(
        actor_id=owner.id, name="  Premier   League ", season="2023/24", tie_breakers="uefa"
    )

    recorded = event_bus.published()
    assert [r.data for r in recorded] == [
        ev.ChampionshipCreated(
            championship_id=championship.id,
            name="Premier League",
            season="2023/24",
            format="round_robin",
            owner_id=owner.id,
            points_win=3,
            points_draw=1,
            points_loss=0,
            tie_breakers=(
                "points",
                "head_to_head_points",
                "head_to_head_goal_difference",
                "head_to_head_goals_for",
                "goal_difference",
                "goals_for",
                "wins",
            ),
            head_to_head_reapply=True,
            tie_break_preset="uefa",
        )
    ]
    assert roundtrip(recorded) == [r.data for r in recorded]
    assert recorded[0].stream_id == str(championship.id)
    assert recorded[0].stream_type == "championship"
    assert championship.version == 1
    assert Championship.objects.get(id=championship.id).name == "Premier League"


def test_create_with_custom_criteria_and_points(owner):
    championship = commands.championship_create(
        actor_id=owner.id,
        name="Cup",
        season="2024",
        format="groups",
        points_win=2,
        points_draw=1,
        points_loss=0,
        tie_breakers=["points", "wins", "head_to_head_points"],
        head_to_head_reapply=True,
    )

    championship.refresh_from_db()
    assert championship.tie_breakers == ["points", "wins", "head_to_head_points"]
    assert championship.head_to_head_reapply is True
    assert championship.tie_break_preset == ""
    assert (championship.points_win, championship.format) == (2, "groups")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "   ", "name"),
        ("season", "", "season"),
        ("format", "swiss", "format"),
        ("points_win", -1, "win"),
        ("points_draw", 5, "win >= draw"),
        ("points_loss", 11, "loss"),
        ("tie_breakers", "bundesliga", "preset"),
        ("tie_breakers", ["points", "coin_toss"], "unknown"),
        ("tie_breakers", ["points", "points"], "once"),
        ("tie_breakers", [], "at least one"),
    ],
)
def test_create_rejects_bad_input_and_records_nothing(owner, event_bus, field, value, message):
    arguments = {"actor_id": owner.id, "name": "League", "season": "2024", field: value}

    with pytest.raises(InvalidCommand, match=message):
        commands.championship_create(**arguments)

    assert event_bus.published() == []
    assert not Championship.objects.exists()


def test_create_by_an_unknown_user_is_not_found(event_bus):
    with pytest.raises(NotFound):
        commands.championship_create(actor_id=987654, name="League", season="2024")

    assert event_bus.published() == []


def test_create_with_an_expected_version_other_than_zero_conflicts(owner):
    with pytest.raises(store.ConcurrencyError):
        commands.championship_create(
            actor_id=owner.id, name="League", season="2024", expected_version=3
        )

    assert not Championship.objects.exists()


# --- championship_update / championship_add_organiser ---------------------------------------


def test_update_records_the_full_new_rules(championship, event_bus):
    updated = commands.championship_update(
        actor_id=championship.owner_id,
        championship_id=championship.id,
        name="Renamed",
        points_win=2,
        tie_breakers="premier_league",
        expected_version=1,
    )

    (recorded,) = event_bus.published()
    assert recorded.data == ev.ChampionshipUpdated(
        championship_id=championship.id,
        name="Renamed",
        season=championship.season,
        points_win=2,
        points_draw=1,
        points_loss=0,
        tie_breakers=(
            "points",
            "goal_difference",
            "goals_for",
            "head_to_head_points",
            "head_to_head_away_goals",
        ),
        head_to_head_reapply=False,
        tie_break_preset="premier_league",
    )
    assert roundtrip([recorded]) == [recorded.data]
    assert updated.version == 2
    assert Championship.objects.get(id=championship.id).points_win == 2


def test_update_with_nothing_to_change_is_rejected(championship):
    with pytest.raises(InvalidCommand, match="nothing to change"):
        commands.championship_update(
            actor_id=championship.owner_id,
            championship_id=championship.id,
            name=championship.name,
        )


def test_update_with_a_stale_expected_version_conflicts_and_writes_nothing(championship):
    with pytest.raises(store.ConcurrencyError) as info:
        commands.championship_update(
            actor_id=championship.owner_id,
            championship_id=championship.id,
            name="Renamed",
            expected_version=7,
        )

    assert (info.value.expected_version, info.value.actual_version) == (7, 1)
    assert Championship.objects.get(id=championship.id).name == championship.name
    assert store.stream_version(str(championship.id)) == 1


@pytest.mark.parametrize("championship_id", ["not-a-uuid", 42])
def test_a_malformed_championship_id_is_not_found(owner, championship_id):
    with pytest.raises(NotFound):
        commands.championship_update(actor_id=owner.id, championship_id=championship_id, name="X")


def test_a_stranger_may_not_update(championship):
    stranger = UserFactory.create()

    with pytest.raises(PermissionDenied):
        commands.championship_update(
            actor_id=stranger.id, championship_id=championship.id, name="Mine now"
        )


def test_a_superuser_may_update(championship):
    admin = UserFactory.create(is_superuser=True)

    updated = commands.championship_update(
        actor_id=admin.id, championship_id=championship.id, season="2025"
    )

    assert updated.season == "2025"


def test_updating_an_unknown_championship_is_not_found(owner):
    with pytest.raises(NotFound):
        commands.championship_update(actor_id=owner.id, championship_id=uuid.uuid4(), name="X")


def test_a_co_organiser_may_change_the_championship(championship, event_bus):
    helper = UserFactory.create()

    commands.championship_add_organiser(
        actor_id=championship.owner_id, championship_id=championship.id, user_id=helper.id
    )
    team = commands.team_register(actor_id=helper.id, championship_id=championship.id, name="X")

    assert event_bus.published_data(ev.OrganiserAdded) == [
        ev.OrganiserAdded(championship_id=championship.id, user_id=helper.id)
    ]
    assert list(championship.organisers.values_list("id", flat=True)) == [helper.id]
    assert team.name == "X"


def test_adding_an_organiser_twice_or_the_owner_is_a_state_error(championship):
    helper = UserFactory.create()
    commands.championship_add_organiser(
        actor_id=championship.owner_id, championship_id=championship.id, user_id=helper.id
    )

    with pytest.raises(InvalidState):
        commands.championship_add_organiser(
            actor_id=championship.owner_id, championship_id=championship.id, user_id=helper.id
        )
    with pytest.raises(InvalidState):
        commands.championship_add_organiser(
            actor_id=championship.owner_id,
            championship_id=championship.id,
            user_id=championship.owner_id,
        )


def test_adding_an_unknown_user_as_organiser_is_not_found(championship):
    with pytest.raises(NotFound):
        commands.championship_add_organiser(
            actor_id=championship.owner_id, championship_id=championship.id, user_id=424242
        )


def test_a_stranger_may_not_add_organisers(championship):
    stranger = UserFactory.create()

    with pytest.raises(PermissionDenied):
        commands.championship_add_organiser(
            actor_id=stranger.id, championship_id=championship.id, user_id=stranger.id
        )
