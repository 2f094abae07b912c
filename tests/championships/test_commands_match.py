"""Match-stream commands: kick-off, live events, the final whistle."""

from __future__ import annotations

import uuid

import pytest

from championships import commands
from championships import events as ev
from championships.exceptions import InvalidCommand, InvalidState, NotFound, PermissionDenied
from championships.models import Goal, Match
from events import store
from tests.championships.conftest import assert_recorded, completed, ids, live, roundtrip
from tests.championships.factories import MatchFactory, UserFactory

pytestmark = pytest.mark.django_db


# --- match_start / match_record_goal / match_update ---------------------------------------


def test_start_makes_the_match_live(match, event_bus):
    started = live(match)

    (recorded,) = event_bus.published(ev.MatchStarted)
    assert recorded.data.match_id == match.id
    assert recorded.version == 2
    assert (started.status, started.minute) == ("live", 0)
    assert roundtrip([recorded]) == [recorded.data]


def test_starting_a_live_match_is_a_state_error(match):
    live(match)

    with pytest.raises(InvalidState, match="live"):
        live(match)


def test_a_postponed_match_can_start(match):
    commands.match_postpone(**ids(match), reason="rain")

    assert live(match).status == "live"


def test_goals_count_for_their_team_and_carry_the_score(match, event_bus):
    live(match)

    commands.match_record_goal(
        **ids(match), team_id=match.home_team_id, minute=12, player=" Ada  Lovelace", penalty=True
    )
    updated = commands.match_record_goal(
        **ids(match), team_id=match.away_team_id, minute=30, own_goal=True
    )

    assert event_bus.published_data(ev.GoalScored) == [
        ev.GoalScored(
            match_id=match.id,
            championship_id=match.championship_id,
            team_id=match.home_team_id,
            minute=12,
            player="Ada Lovelace",
            own_goal=False,
            penalty=True,
            home_score=1,
            away_score=0,
        ),
        ev.GoalScored(
            match_id=match.id,
            championship_id=match.championship_id,
            team_id=match.away_team_id,
            minute=30,
            player="",
            own_goal=True,
            penalty=False,
            home_score=1,
            away_score=1,
        ),
    ]
    assert (updated.home_score, updated.away_score, updated.minute) == (1, 1, 30)
    assert list(Goal.objects.filter(match=match).values_list("sequence", "minute")) == [
        (1, 12),
        (2, 30),
    ]


def test_goals_only_while_live(match):
    with pytest.raises(InvalidState, match="scheduled"):
        commands.match_record_goal(**ids(match), team_id=match.home_team_id, minute=5)

    assert not Goal.objects.exists()


def test_a_goal_after_the_final_whistle_is_a_state_error(match):
    live(match)
    commands.match_complete(**ids(match))

    with pytest.raises(InvalidState, match="completed"):
        commands.match_record_goal(**ids(match), team_id=match.home_team_id, minute=95)


@pytest.mark.parametrize(
    ("team", "minute", "own_goal", "penalty", "message"),
    [
        ("stranger", 10, False, False, "home or the away"),
        ("home", -1, False, False, "minute"),
        ("home", 151, False, False, "minute"),
        ("home", 10, True, True, "both"),
    ],
)
def test_bad_goals_are_rejected(match, team, minute, own_goal, penalty, message):
    live(match)
    team_id = {"home": match.home_team_id, "stranger": uuid.uuid4()}[team]

    with pytest.raises(InvalidCommand, match=message):
        commands.match_record_goal(
            **ids(match), team_id=team_id, minute=minute, own_goal=own_goal, penalty=penalty
        )


def test_update_moves_the_clock(match, event_bus):
    live(match)

    updated = commands.match_update(**ids(match), minute=63)

    assert event_bus.published_data(ev.MatchUpdated) == [
        ev.MatchUpdated(match_id=match.id, championship_id=match.championship_id, minute=63)
    ]
    assert updated.minute == 63


def test_update_only_while_live(match):
    with pytest.raises(InvalidState):
        commands.match_update(**ids(match), minute=10)


# --- match_complete -----------------------------------------------------------------------


def test_completing_a_live_match_keeps_the_live_score(match, event_bus):
    live(match)
    commands.match_record_goal(**ids(match), team_id=match.away_team_id, minute=50)

    done = commands.match_complete(**ids(match))

    completed_event = ev.MatchCompleted(
        match_id=match.id,
        championship_id=match.championship_id,
        group="",
        home_team_id=match.home_team_id,
        away_team_id=match.away_team_id,
        home_score=0,
        away_score=1,
        round=match.round,
        kickoff=match.kickoff,
    )
    assert event_bus.published_data(ev.MatchCompleted) == [completed_event]
    assert (done.status, done.home_score, done.away_score) == ("completed", 0, 1)


def test_a_scheduled_match_completes_with_a_result_entered_afterwards(match, event_bus):
    done = completed(match, 3, 3)

    assert_recorded(
        event_bus,
        match,
        [
            ev.MatchCompleted(
                match_id=match.id,
                championship_id=match.championship_id,
                group="",
                home_team_id=match.home_team_id,
                away_team_id=match.away_team_id,
                home_score=3,
                away_score=3,
                round=match.round,
                kickoff=match.kickoff,
            )
        ],
    )
    assert done.status == "completed"


def test_completing_a_scheduled_match_needs_both_scores(match):
    with pytest.raises(InvalidCommand, match="needs home_score"):
        commands.match_complete(**ids(match))
    with pytest.raises(InvalidCommand, match="both scores"):
        commands.match_complete(**ids(match), home_score=1)


@pytest.mark.parametrize(("home", "away"), [(-1, 0), (0, -2), (1000, 0), (1.5, 0), (True, 0)])
def test_bad_scores_are_rejected(match, home, away):
    with pytest.raises(InvalidCommand):
        commands.match_complete(**ids(match), home_score=home, away_score=away)

    assert Match.objects.get(id=match.id).status == "scheduled"


def test_completing_twice_is_a_state_error(match):
    completed(match)

    with pytest.raises(InvalidState, match="already completed"):
        completed(match)


def test_a_cancelled_match_cannot_complete(match):
    commands.match_cancel(**ids(match), reason="pitch")

    with pytest.raises(InvalidState, match="cancelled"):
        completed(match)


def test_complete_with_a_stale_expected_version_conflicts_and_writes_nothing(match):
    live(match)

    with pytest.raises(store.ConcurrencyError):
        commands.match_complete(**ids(match), expected_version=1)

    assert Match.objects.get(id=match.id).status == "live"
    assert store.stream_version(str(match.id)) == 2


def test_complete_with_the_current_expected_version_succeeds(match):
    done = commands.match_complete(**ids(match), home_score=1, away_score=0, expected_version=1)

    assert done.version == 2


def test_a_stranger_may_not_enter_results(match):
    with pytest.raises(PermissionDenied):
        commands.match_complete(
            actor_id=UserFactory.create().id,
            championship_id=match.championship_id,
            match_id=match.id,
            home_score=1,
            away_score=0,
        )


def test_a_match_is_looked_up_within_its_championship(match):
    other = MatchFactory.create()

    with pytest.raises(NotFound):
        commands.match_start(
            actor_id=match.championship.owner_id,
            championship_id=match.championship_id,
            match_id=other.id,
        )


def test_a_malformed_match_id_is_not_found(championship):
    with pytest.raises(NotFound):
        commands.match_start(
            actor_id=championship.owner_id,
            championship_id=championship.id,
            match_id="1; DROP",  # type: ignore[arg-type]  # what a careless caller might pass
        )


def test_an_unknown_match_is_not_found(championship):
    with pytest.raises(NotFound):
        commands.match_start(
            actor_id=championship.owner_id, championship_id=championship.id, match_id=uuid.uuid4()
        )
