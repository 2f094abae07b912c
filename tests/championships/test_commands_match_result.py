"""Match commands after or instead of play: corrections, postponement, cancellation, forfeit."""

from __future__ import annotations

import uuid

import pytest

from championships import commands
from championships import events as ev
from championships.exceptions import InvalidCommand, InvalidState
from championships.models import Goal
from tests.championships.conftest import completed, ids, live, roundtrip
from tests.championships.factories import MatchFactory

pytestmark = pytest.mark.django_db


# --- match_correct_result -----------------------------------------------------------------


def test_correcting_a_result_records_old_and_new_score_and_reason(match, event_bus):
    completed(match, 2, 1)

    corrected = commands.match_correct_result(
        **ids(match), home_score=2, away_score=2, reason="goal line technology"
    )

    assert event_bus.published_data(ev.MatchResultCorrected) == [
        ev.MatchResultCorrected(
            match_id=match.id,
            championship_id=match.championship_id,
            group="",
            home_team_id=match.home_team_id,
            away_team_id=match.away_team_id,
            previous_home_score=2,
            previous_away_score=1,
            home_score=2,
            away_score=2,
            reason="goal line technology",
            round=match.round,
            kickoff=match.kickoff,
        )
    ]
    assert (corrected.home_score, corrected.away_score, corrected.status) == (2, 2, "completed")
    assert roundtrip(event_bus.published()) == [r.data for r in event_bus.published()]


def test_only_a_recorded_result_can_be_corrected(match):
    with pytest.raises(InvalidState, match="scheduled"):
        commands.match_correct_result(**ids(match), home_score=1, away_score=0, reason="x")


@pytest.mark.parametrize(
    ("home", "away", "reason", "message"),
    [(2, 1, "typo", "equals"), (1, 1, "  ", "reason"), (-1, 1, "typo", "negative")],
)
def test_bad_corrections_are_rejected(match, home, away, reason, message):
    completed(match, 2, 1)

    with pytest.raises(InvalidCommand, match=message):
        commands.match_correct_result(**ids(match), home_score=home, away_score=away, reason=reason)


# --- match_postpone / match_cancel / match_award -------------------------------------------


def test_postponing_records_the_new_kickoff(match, event_bus):
    from django.utils import timezone

    kickoff = timezone.now()

    postponed = commands.match_postpone(**ids(match), reason="snow", kickoff=kickoff)

    assert event_bus.published_data(ev.MatchPostponed) == [
        ev.MatchPostponed(
            match_id=match.id, championship_id=match.championship_id, reason="snow", kickoff=kickoff
        )
    ]
    assert (postponed.status, postponed.kickoff) == ("postponed", kickoff)
    assert roundtrip(event_bus.published()) == [r.data for r in event_bus.published()]


def test_postponing_a_live_match_voids_its_score(match):
    live(match)
    commands.match_record_goal(**ids(match), team_id=match.home_team_id, minute=5)

    postponed = commands.match_postpone(**ids(match), reason="floodlights failed")

    assert (postponed.status, postponed.home_score, postponed.minute) == ("postponed", 0, None)
    assert not Goal.objects.filter(match=match).exists()


def test_a_completed_match_cannot_be_postponed_or_cancelled(match):
    completed(match)

    with pytest.raises(InvalidState):
        commands.match_postpone(**ids(match))
    with pytest.raises(InvalidState):
        commands.match_cancel(**ids(match))


def test_cancelling_records_match_cancelled(match, event_bus):
    cancelled = commands.match_cancel(**ids(match), reason="team folded")

    assert event_bus.published_data(ev.MatchCancelled) == [
        ev.MatchCancelled(
            match_id=match.id, championship_id=match.championship_id, reason="team folded"
        )
    ]
    assert cancelled.status == "cancelled"


def test_cancelling_twice_is_a_state_error(match):
    commands.match_cancel(**ids(match))

    with pytest.raises(InvalidState, match="cancelled"):
        commands.match_cancel(**ids(match))


def test_awarding_records_the_stated_score(match, event_bus):
    awarded = commands.match_award(
        **ids(match),
        awarded_to_team_id=match.away_team_id,
        home_score=0,
        away_score=3,
        reason="home team did not turn up",
    )

    assert event_bus.published_data(ev.MatchAwarded) == [
        ev.MatchAwarded(
            match_id=match.id,
            championship_id=match.championship_id,
            group="",
            home_team_id=match.home_team_id,
            away_team_id=match.away_team_id,
            home_score=0,
            away_score=3,
            awarded_to_team_id=match.away_team_id,
            reason="home team did not turn up",
            round=match.round,
            kickoff=match.kickoff,
        )
    ]
    assert (awarded.status, awarded.awarded_to_id, awarded.away_score) == (
        "awarded",
        match.away_team_id,
        3,
    )
    assert roundtrip(event_bus.published()) == [r.data for r in event_bus.published()]


def test_a_completed_match_can_be_awarded_afterwards(match):
    completed(match, 2, 0)

    awarded = commands.match_award(
        **ids(match),
        awarded_to_team_id=match.away_team_id,
        home_score=0,
        away_score=3,
        reason="ineligible player",
    )

    assert (awarded.status, awarded.home_score, awarded.away_score) == ("awarded", 0, 3)


@pytest.mark.parametrize(
    ("winner", "home", "away", "reason", "message"),
    [
        ("home", 0, 3, "x", "winning"),
        ("home", 3, 3, "x", "winning"),
        ("stranger", 3, 0, "x", "home or the away"),
        ("home", 3, 0, " ", "reason"),
        ("home", 3, -1, "x", "negative"),
    ],
)
def test_bad_awards_are_rejected(match, winner, home, away, reason, message):
    team_id = {"home": match.home_team_id, "stranger": uuid.uuid4()}[winner]

    with pytest.raises(InvalidCommand, match=message):
        commands.match_award(
            **ids(match),
            awarded_to_team_id=team_id,
            home_score=home,
            away_score=away,
            reason=reason,
        )


def test_awarding_twice_or_a_cancelled_match_is_a_state_error(match, championship):
    other = MatchFactory.create(championship=championship)
    commands.match_award(
        **ids(match), awarded_to_team_id=match.home_team_id, home_score=3, away_score=0, reason="x"
    )
    commands.match_cancel(**ids(other))

    with pytest.raises(InvalidState):
        commands.match_award(
            **ids(match),
            awarded_to_team_id=match.home_team_id,
            home_score=3,
            away_score=0,
            reason="x",
        )
    with pytest.raises(InvalidState):
        commands.match_award(
            **ids(other),
            awarded_to_team_id=other.home.id,
            home_score=3,
            away_score=0,
            reason="x",
        )


def test_an_awarded_result_can_be_corrected_and_stays_awarded(match):
    commands.match_award(
        **ids(match), awarded_to_team_id=match.home_team_id, home_score=3, away_score=0, reason="x"
    )

    corrected = commands.match_correct_result(
        **ids(match), home_score=5, away_score=0, reason="regulation says 5-0"
    )

    assert (corrected.status, corrected.home_score) == ("awarded", 5)


@pytest.mark.parametrize(("home", "away"), [(0, 3), (1, 1)])
def test_a_correction_cannot_contradict_an_award(match, home, away):
    commands.match_award(
        **ids(match), awarded_to_team_id=match.home_team_id, home_score=3, away_score=0, reason="x"
    )

    with pytest.raises(InvalidState, match="keep the awarded team winning"):
        commands.match_correct_result(**ids(match), home_score=home, away_score=away, reason="r")
