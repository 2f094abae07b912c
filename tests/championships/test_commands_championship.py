"""Championship-stream commands: create, update, organisers, teams, fixtures, scheduling."""

from __future__ import annotations

import uuid

import pytest

from championships import commands
from championships import events as ev
from championships.exceptions import InvalidCommand, InvalidState, NotFound, PermissionDenied
from championships.models import Championship, Match, Team
from events import store
from tests.championships.conftest import roundtrip
from tests.championships.factories import ChampionshipFactory, TeamFactory, UserFactory

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
        ("format", "knockout", "format"),
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
            championship_id=championship.id, team_id=team.id, group="", reason="bankrupt"
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

    updated = commands.team_deduct_points(
        actor_id=championship.owner_id,
        championship_id=championship.id,
        team_id=team.id,
        points=6,
        reason="financial rules",
    )

    assert event_bus.published_data(ev.PointsDeducted) == [
        ev.PointsDeducted(
            championship_id=championship.id,
            team_id=team.id,
            group="",
            points=6,
            reason="financial rules",
        )
    ]
    assert updated.points_deducted == 6


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
    assert all(m.home_team.group == m.away_team.group == m.group for m in matches)


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
