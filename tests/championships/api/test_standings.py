"""Standings: shape, ETag/304, and the version-keyed cache (stale never served)."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import override_settings

from championships import projections
from championships.api.caching import match_key, standings_key
from tests.championships.api.conftest import url

pytestmark = pytest.mark.django_db

UNREACHABLE_REDIS = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
    }
}


def _complete(api, match, home_score, away_score):
    return api.post(
        url(f"matches/{match.id}/complete/"),
        {"home_score": home_score, "away_score": away_score},
        format="json",
    )


def test_standings_rows_in_position_order(
    anonymous, api, championship, match, home, away, event_bus
):
    _complete(api, match, 2, 1)
    event_bus.deliver()

    response = anonymous.get(url(f"championships/{championship.id}/standings/"))

    assert response.status_code == 200
    body = response.json()
    assert body["groups"] == [""]
    assert [
        (
            r["position"],
            r["team"],
            r["played"],
            r["won"],
            r["lost"],
            r["goal_difference"],
            r["points"],
            r["form"],
        )
        for r in body["rows"]
    ] == [
        (1, {"id": str(home.id), "name": "Home FC"}, 1, 1, 0, 1, 3, "W"),
        (2, {"id": str(away.id), "name": "Away FC"}, 1, 0, 1, -1, 0, "L"),
    ]
    assert response["ETag"] == f'"{body["version"]}"'


def test_standings_of_an_unknown_championship_is_404(anonymous):
    response = anonymous.get(url("championships/bad-id/standings/"))

    assert response.status_code == 404


def test_standings_with_current_if_none_match_is_304(anonymous, championship, home, event_bus):
    event_bus.deliver()
    etag = anonymous.get(url(f"championships/{championship.id}/standings/"))["ETag"]

    response = anonymous.get(
        url(f"championships/{championship.id}/standings/"), HTTP_IF_NONE_MATCH=etag
    )

    assert response.status_code == 304
    assert response["ETag"] == etag


def test_standings_are_cached_under_their_version(anonymous, championship, home, event_bus):
    event_bus.deliver()

    body = anonymous.get(url(f"championships/{championship.id}/standings/")).json()

    assert cache.get(standings_key(championship.id, body["version"])) == body


def test_a_cached_read_runs_no_standings_query(
    anonymous, championship, home, event_bus, django_assert_max_num_queries
):
    event_bus.deliver()
    first = anonymous.get(url(f"championships/{championship.id}/standings/")).json()

    # championship (404 check) + standings version; the rows come from the cache
    with django_assert_max_num_queries(2):
        second = anonymous.get(url(f"championships/{championship.id}/standings/")).json()

    assert second == first


def test_a_new_result_is_never_hidden_by_the_cache(anonymous, api, championship, match, event_bus):
    event_bus.deliver()
    before = anonymous.get(url(f"championships/{championship.id}/standings/"))
    _complete(api, match, 0, 3)
    event_bus.deliver()

    after = anonymous.get(
        url(f"championships/{championship.id}/standings/"), HTTP_IF_NONE_MATCH=before["ETag"]
    )

    assert after.status_code == 200
    assert after["ETag"] != before["ETag"]
    assert [r["team"]["name"] for r in after.json()["rows"]] == ["Away FC", "Home FC"]


def test_match_reads_are_cached_by_match_version(anonymous, api, match, home):
    first = anonymous.get(url(f"matches/{match.id}/")).json()
    api.post(url(f"matches/{match.id}/start/"), format="json")

    second = anonymous.get(url(f"matches/{match.id}/")).json()

    assert cache.get(match_key(match.id, 1)) == first
    assert cache.get(match_key(match.id, 2)) == second
    assert second["status"] == "live"


def test_reads_fall_back_to_the_database_when_redis_is_down(
    anonymous, api, championship, match, event_bus
):
    _complete(api, match, 1, 1)
    event_bus.deliver()

    with override_settings(CACHES=UNREACHABLE_REDIS):
        standings = anonymous.get(url(f"championships/{championship.id}/standings/"))
        match_read = anonymous.get(url(f"matches/{match.id}/"))

    assert standings.status_code == 200
    assert [r["drawn"] for r in standings.json()["rows"]] == [1, 1]
    assert match_read.status_code == 200
    assert match_read.json()["status"] == "completed"


@pytest.mark.redis
def test_standings_are_cached_in_the_real_redis(anonymous, championship, home, event_bus, settings):
    from django.core.cache import caches

    real = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": settings.REDIS_URL,
            "KEY_PREFIX": f"easychamp-test-{championship.id}",
        }
    }
    event_bus.deliver()

    with override_settings(CACHES=real):
        body = anonymous.get(url(f"championships/{championship.id}/standings/")).json()
        stored = caches["default"].get(standings_key(championship.id, body["version"]))
        caches["default"].delete(standings_key(championship.id, body["version"]))

    assert stored == body


def test_grouped_standings_carry_the_group_on_every_row(api, anonymous, owner, event_bus):
    from tests.championships.factories import ChampionshipFactory, TeamFactory

    grouped = ChampionshipFactory.create(actor_id=owner.id, format="groups")
    for name, group in [("A1", "A"), ("A2", "A"), ("B1", "B"), ("B2", "B")]:
        TeamFactory.create(championship=grouped, name=name, group=group)
    api.post(url(f"championships/{grouped.id}/fixtures/"), {}, format="json")
    event_bus.deliver()

    body = anonymous.get(url(f"championships/{grouped.id}/standings/")).json()

    assert body["groups"] == ["A", "B"]
    assert [(r["group"], r["position"]) for r in body["rows"]] == [
        ("A", 1),
        ("A", 2),
        ("B", 1),
        ("B", 2),
    ]


def test_a_rebuild_is_visible_to_readers_at_once(anonymous, api, championship, match, event_bus):
    _complete(api, match, 2, 1)
    event_bus.deliver()
    first = anonymous.get(url(f"championships/{championship.id}/standings/"))
    etag = first["ETag"]

    projections.rebuild_standings(championship.id)
    again = anonymous.get(
        url(f"championships/{championship.id}/standings/"), HTTP_IF_NONE_MATCH=etag
    )

    assert again.status_code == 200
    assert again["ETag"] != etag
    assert again.json()["rows"] == first.json()["rows"]
    assert again.json()["version"] > first.json()["version"]


def test_the_form_column_follows_kickoffs_not_entry_order(
    anonymous, api, championship, home, away, event_bus
):
    first = api.post(
        url(f"championships/{championship.id}/matches/"),
        {
            "home_team": str(home.id),
            "away_team": str(away.id),
            "round": 1,
            "kickoff_at": "2025-03-01T15:00:00Z",
        },
        format="json",
    ).json()["id"]
    second = api.post(
        url(f"championships/{championship.id}/matches/"),
        {
            "home_team": str(away.id),
            "away_team": str(home.id),
            "round": 2,
            "kickoff_at": "2025-03-08T15:00:00Z",
        },
        format="json",
    ).json()["id"]
    # Round 2 entered first (a home loss), round 1 afterwards (a home win)
    api.post(url(f"matches/{second}/complete/"), {"home_score": 2, "away_score": 0}, format="json")
    api.post(url(f"matches/{first}/complete/"), {"home_score": 1, "away_score": 0}, format="json")
    event_bus.deliver()

    rows = anonymous.get(url(f"championships/{championship.id}/standings/")).json()["rows"]

    assert {r["team"]["name"]: r["form"] for r in rows} == {"Home FC": "WL", "Away FC": "LW"}
