"""Conflicts over HTTP: a stale If-Match is 412, a lost race is 409, never a 500."""

from __future__ import annotations

import pytest

from championships.api.views import championships as championship_views
from championships.api.views import matches as match_views
from championships.models import Match
from events import store
from events.models import StoredEvent
from tests.championships.api.conftest import client_for, event_count, url
from tests.championships.test_concurrency import together


@pytest.mark.django_db
def test_concurrency_error_from_a_command_is_409_not_500(api, championship, monkeypatch):
    def lost_race(**kwargs):
        raise store.ConcurrencyError(str(kwargs["championship_id"]), 1, 2)

    monkeypatch.setattr(championship_views.commands, "team_register", lost_race)
    before = event_count()

    response = api.post(
        url(f"championships/{championship.id}/teams/"), {"name": "Rovers"}, format="json"
    )

    assert response.status_code == 409
    assert response.json() == {
        "detail": "another change to this resource won the race: try again",
        "current_version": 2,
    }
    assert event_count() == before


@pytest.mark.django_db
def test_concurrency_error_on_a_match_action_is_409(api, match, monkeypatch):
    def lost_race(**kwargs):
        raise store.ConcurrencyError(str(kwargs["match_id"]), 1, 2)

    monkeypatch.setattr(match_views.MatchStartView, "command", lost_race)

    response = api.post(url(f"matches/{match.id}/start/"), format="json")

    assert response.status_code == 409
    assert response["ETag"] == '"2"'


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_goals_with_the_same_if_match_one_wins_the_rest_get_412(owner, match, home):
    api_calls = [
        lambda: client_for(owner).post(
            url(f"matches/{match.id}/goals/"),
            {"team": str(home.id), "minute": 10},
            format="json",
            HTTP_IF_MATCH='"2"',
        )
        for _ in range(4)
    ]
    client_for(owner).post(url(f"matches/{match.id}/start/"), format="json")

    responses = together(*api_calls)

    assert sorted(r.status_code for r in responses) == [200, 412, 412, 412]
    assert Match.objects.get(id=match.id).home_score == 1
    assert [e.version for e in store.load(str(match.id))] == [1, 2, 3]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_completions_one_wins_the_rest_get_409(owner, match):
    api_calls = [
        lambda: client_for(owner).post(
            url(f"matches/{match.id}/complete/"),
            {"home_score": 2, "away_score": 1},
            format="json",
        )
        for _ in range(4)
    ]

    responses = together(*api_calls)

    assert sorted(r.status_code for r in responses) == [200, 409, 409, 409]
    completed = StoredEvent.objects.filter(stream_id=str(match.id), event_type="MatchCompleted")
    assert completed.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("header", ['W/"2"', '"1", "2"', '"2", W/"3"'])
def test_a_weak_or_list_valued_if_match_is_412(api, match, header):
    before = event_count()

    response = api.post(url(f"matches/{match.id}/start/"), format="json", HTTP_IF_MATCH=header)

    assert response.status_code == 412
    assert "If-Match" in response.json()["detail"]
    assert event_count() == before


@pytest.mark.django_db
def test_an_unexpected_error_in_the_api_is_a_json_500(api, match, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(match_views.MatchStartView, "command", broken)

    response = api.post(url(f"matches/{match.id}/start/"), format="json")

    assert response.status_code == 500
    assert response.json() == {"detail": "internal server error"}
