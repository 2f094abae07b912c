"""Contract tests: /api/v1/matches/{id}/ and its actions."""

from __future__ import annotations

import pytest

from championships import commands
from championships import events as ev
from tests.championships.api.conftest import event_count, url
from tests.championships.factories import TeamFactory

pytestmark = pytest.mark.django_db


def _start(match):
    return commands.match_start(
        actor_id=match.championship.owner_id,
        championship_id=match.championship_id,
        match_id=match.id,
    )


def test_match_detail_is_public_with_goals_and_etag(anonymous, match):
    response = anonymous.get(url(f"matches/{match.id}/"))

    assert response.status_code == 200
    assert response.json()["status"] == "scheduled"
    assert response.json()["goals"] == []
    assert response["ETag"] == '"1"'


def test_match_detail_with_current_if_none_match_is_304(anonymous, match):
    response = anonymous.get(url(f"matches/{match.id}/"), HTTP_IF_NONE_MATCH='W/"1"')

    assert response.status_code == 304
    assert response.content == b""


def test_unknown_match_is_404(anonymous):
    pk = "00000000-0000-0000-0000-000000000000"
    response = anonymous.get(url(f"matches/{pk}/"))

    assert response.status_code == 404
    assert response.json() == {"detail": f"match {pk} does not exist"}


def test_start_record_goal_and_complete(api, match, home, event_bus):
    started = api.post(url(f"matches/{match.id}/start/"), format="json")
    goal = api.post(
        url(f"matches/{match.id}/goals/"),
        {"team": str(home.id), "minute": 12, "player": "Striker", "penalty": True},
        format="json",
    )
    completed = api.post(url(f"matches/{match.id}/complete/"), {}, format="json")

    assert started.status_code == 200
    assert started.json()["status"] == "live"
    assert started["ETag"] == '"2"'
    assert goal.status_code == 200
    assert goal.json()["goals"] == [
        {
            "sequence": 1,
            "team": str(home.id),
            "minute": 12,
            "player": "Striker",
            "own_goal": False,
            "penalty": True,
        }
    ]
    assert completed.json()["status"] == "completed"
    assert (completed.json()["home_score"], completed.json()["away_score"]) == (1, 0)
    assert completed["ETag"] == '"4"'
    assert [r.event_type for r in event_bus.published()] == [
        "MatchStarted",
        "GoalScored",
        "MatchCompleted",
    ]


def test_complete_straight_from_scheduled_with_scores(api, match, event_bus):
    response = api.post(
        url(f"matches/{match.id}/complete/"), {"home_score": 3, "away_score": 2}, format="json"
    )

    assert response.status_code == 200
    assert (response.json()["home_score"], response.json()["away_score"]) == (3, 2)
    assert event_bus.assert_published(ev.MatchCompleted, home_score=3, away_score=2)


def test_complete_from_scheduled_without_scores_is_400(api, match):
    response = api.post(url(f"matches/{match.id}/complete/"), {}, format="json")

    assert response.status_code == 400
    assert "needs home_score and away_score" in response.json()["detail"]


def test_complete_twice_is_409_and_writes_nothing(api, match):
    api.post(
        url(f"matches/{match.id}/complete/"), {"home_score": 1, "away_score": 0}, format="json"
    )
    before = event_count()

    response = api.post(
        url(f"matches/{match.id}/complete/"), {"home_score": 1, "away_score": 0}, format="json"
    )

    assert response.status_code == 409
    assert "already completed" in response.json()["detail"]
    assert event_count() == before


@pytest.mark.parametrize(("home_score", "away_score"), [(-1, 0), (0, -3)])
def test_negative_scores_are_400_and_write_nothing(api, match, home_score, away_score):
    before = event_count()

    response = api.post(
        url(f"matches/{match.id}/complete/"),
        {"home_score": home_score, "away_score": away_score},
        format="json",
    )

    assert response.status_code == 400
    field = "home_score" if home_score < 0 else "away_score"
    assert response.json() == {field: ["Ensure this value is greater than or equal to 0."]}
    assert event_count() == before


def test_non_integer_score_is_400_per_field(api, match):
    response = api.post(
        url(f"matches/{match.id}/complete/"), {"home_score": "two", "away_score": 0}, format="json"
    )

    assert response.status_code == 400
    assert "home_score" in response.json()


def test_goal_in_a_match_that_is_not_live_is_409(api, match, home):
    before = event_count()

    response = api.post(
        url(f"matches/{match.id}/goals/"), {"team": str(home.id), "minute": 5}, format="json"
    )

    assert response.status_code == 409
    assert "scheduled" in response.json()["detail"]
    assert event_count() == before


def test_goal_for_a_team_not_in_the_match_is_400(api, match, championship):
    _start(match)
    third = TeamFactory.create(championship=championship, name="Third FC")

    response = api.post(
        url(f"matches/{match.id}/goals/"), {"team": str(third.id), "minute": 5}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"detail": "the goal must count for the home or the away team"}


def test_goal_with_a_malformed_team_is_400(api, match):
    _start(match)

    response = api.post(
        url(f"matches/{match.id}/goals/"), {"team": "home", "minute": 5}, format="json"
    )

    assert response.status_code == 400
    assert "team" in response.json()


def test_correct_a_result_with_a_reason(api, match, event_bus):
    api.post(
        url(f"matches/{match.id}/complete/"), {"home_score": 1, "away_score": 0}, format="json"
    )

    response = api.post(
        url(f"matches/{match.id}/correct/"),
        {"home_score": 1, "away_score": 1, "reason": "goal line review"},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["away_score"] == 1
    assert event_bus.assert_published(ev.MatchResultCorrected, reason="goal line review")


def test_correct_without_a_reason_is_400(api, match):
    response = api.post(
        url(f"matches/{match.id}/correct/"), {"home_score": 1, "away_score": 1}, format="json"
    )

    assert response.status_code == 400
    assert "reason" in response.json()


def test_correct_a_match_without_result_is_409(api, match):
    response = api.post(
        url(f"matches/{match.id}/correct/"),
        {"home_score": 1, "away_score": 1, "reason": "typo"},
        format="json",
    )

    assert response.status_code == 409


def test_postpone_with_a_new_kickoff(api, match, event_bus):
    response = api.post(
        url(f"matches/{match.id}/postpone/"),
        {"reason": "frozen pitch", "kickoff_at": "2025-02-01T14:00:00Z"},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["status"] == "postponed"
    assert response.json()["kickoff_at"] == "2025-02-01T14:00:00Z"
    assert event_bus.assert_published(ev.MatchPostponed, reason="frozen pitch")


def test_cancel(api, match, event_bus):
    response = api.post(url(f"matches/{match.id}/cancel/"), {"reason": "merger"}, format="json")

    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert event_bus.assert_published(ev.MatchCancelled, reason="merger")


def test_award(api, match, away, event_bus):
    response = api.post(
        url(f"matches/{match.id}/award/"),
        {"awarded_to": str(away.id), "home_score": 0, "away_score": 3, "reason": "no show"},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["status"] == "awarded"
    assert response.json()["awarded_to"] == str(away.id)
    assert event_bus.assert_published(ev.MatchAwarded, awarded_to_team_id=away.id)


def test_award_with_the_loser_winning_is_400(api, match, away):
    response = api.post(
        url(f"matches/{match.id}/award/"),
        {"awarded_to": str(away.id), "home_score": 3, "away_score": 0, "reason": "no show"},
        format="json",
    )

    assert response.status_code == 400
    assert "awarded team winning" in response.json()["detail"]


def test_clock(api, match):
    _start(match)

    response = api.post(url(f"matches/{match.id}/clock/"), {"minute": 45}, format="json")

    assert response.status_code == 200
    assert response.json()["minute"] == 45


def test_action_on_an_unknown_match_is_404(api):
    response = api.post(url("matches/00000000-0000-0000-0000-000000000000/start/"), format="json")

    assert response.status_code == 404


def test_action_by_another_organiser_is_403_and_writes_nothing(stranger, match):
    before = event_count()

    response = stranger.post(url(f"matches/{match.id}/start/"), format="json")

    assert response.status_code == 403
    assert event_count() == before


def test_action_anonymously_is_401(anonymous, match):
    response = anonymous.post(url(f"matches/{match.id}/start/"), format="json")

    assert response.status_code == 401


def test_action_with_stale_if_match_is_412(api, match):
    _start(match)
    before = event_count()

    response = api.post(
        url(f"matches/{match.id}/complete/"),
        {"home_score": 1, "away_score": 0},
        format="json",
        HTTP_IF_MATCH='"1"',
    )

    assert response.status_code == 412
    assert response.json()["current_version"] == 2
    assert event_count() == before


def test_action_with_current_if_match_succeeds(api, match):
    response = api.post(url(f"matches/{match.id}/start/"), format="json", HTTP_IF_MATCH='"1"')

    assert response.status_code == 200
    assert response["ETag"] == '"2"'


def test_a_correction_contradicting_an_award_is_409_and_writes_nothing(api, match, home):
    api.post(
        url(f"matches/{match.id}/award/"),
        {"awarded_to": str(home.id), "home_score": 3, "away_score": 0, "reason": "forfeit"},
        format="json",
    )
    before = event_count()

    response = api.post(
        url(f"matches/{match.id}/correct/"),
        {"home_score": 0, "away_score": 2, "reason": "typo"},
        format="json",
    )

    assert response.status_code == 409
    assert "keep the awarded team winning" in response.json()["detail"]
    assert event_count() == before
    body = api.get(url(f"matches/{match.id}/")).json()
    assert (body["status"], body["awarded_to"], body["home_score"]) == ("awarded", str(home.id), 3)
