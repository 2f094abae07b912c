"""Contract tests: /api/v1/championships/ and /api/v1/championships/{id}/."""

from __future__ import annotations

import pytest

from championships import commands
from championships.models import Championship
from tests.championships.api.conftest import client_for, event_count, url
from tests.championships.factories import ChampionshipFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_create_returns_201_with_id_etag_and_location(api, owner, event_bus):
    response = api.post(
        url("championships/"),
        {
            "name": "Sunday League",
            "season": "2025",
            "format": "double_round_robin",
            "points_for_win": 2,
            "points_for_draw": 1,
            "points_for_loss": 0,
            "tiebreak_preset": "uefa",
        },
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    created = Championship.objects.get(id=body["id"])
    assert (created.name, created.owner_id, created.points_win) == ("Sunday League", owner.id, 2)
    assert body["tiebreak_preset"] == "uefa"
    assert body["version"] == 1
    assert response["ETag"] == '"1"'
    assert response["Location"] == f"/api/v1/championships/{created.id}/"
    assert [r.event_type for r in event_bus.published()] == ["ChampionshipCreated"]


def test_create_with_a_list_of_tiebreakers(api):
    response = api.post(
        url("championships/"),
        {"name": "Cup", "tiebreakers": ["points", "head_to_head_points", "goals_for"]},
        format="json",
    )

    assert response.status_code == 201
    assert response.json()["tiebreakers"] == ["points", "head_to_head_points", "goals_for"]
    assert response.json()["tiebreak_preset"] == ""


def test_create_without_season_uses_the_current_year(api):
    response = api.post(url("championships/"), {"name": "Cup"}, format="json")

    assert response.status_code == 201
    assert len(response.json()["season"]) == 4


def test_create_anonymously_is_401_and_writes_nothing(anonymous):
    before = event_count()

    response = anonymous.post(url("championships/"), {"name": "Cup"}, format="json")

    assert response.status_code == 401
    assert "detail" in response.json()
    assert event_count() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": "Cup", "format": "swiss"}, "format"),
        ({"name": "Cup", "tiebreak_preset": "coin_toss"}, "tiebreak_preset"),
        ({"name": "Cup", "tiebreakers": ["alphabet"]}, "tiebreakers"),
        ({"name": "Cup", "points_for_win": "three"}, "points_for_win"),
    ],
)
def test_create_with_bad_fields_is_400_per_field(api, body, field):
    before = event_count()

    response = api.post(url("championships/"), body, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert event_count() == before


def test_create_with_preset_and_list_is_400(api):
    response = api.post(
        url("championships/"),
        {"name": "Cup", "tiebreak_preset": "uefa", "tiebreakers": ["points"]},
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {
        "non_field_errors": ["give tiebreak_preset or tiebreakers, not both"]
    }


def test_domain_rule_violation_is_400_with_detail(api):
    before = event_count()

    response = api.post(
        url("championships/"),
        {"name": "Cup", "points_for_win": 1, "points_for_draw": 3},
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {"points_for_draw": ["points must satisfy win >= draw >= loss"]}
    assert event_count() == before


def test_invalid_json_is_400(api):
    response = api.post(url("championships/"), data='{"name": ', content_type="application/json")

    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]


def test_json_nested_deeper_than_the_parser_goes_is_400(api):
    nested = '{"name": ' + "[" * 100_000 + "]" * 100_000 + "}"

    response = api.post(url("championships/"), data=nested, content_type="application/json")

    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]


def test_a_lone_surrogate_echoed_in_an_error_is_a_json_400(api):
    # The 400 repeats the invalid choice, which cannot be written as UTF-8 (it was an
    # HTML 500): the body escapes it instead
    data = '{"name": "Cup", "visibility": "\\ud800"}'

    response = api.post(url("championships/"), data=data, content_type="application/json")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert "\ud800" in response.json()["visibility"][0]


def test_a_json_list_instead_of_an_object_is_400(api):
    response = api.post(url("championships/"), ["Cup"], format="json")

    assert response.status_code == 400
    assert "non_field_errors" in response.json()


def test_a_non_json_content_type_is_415(api):
    response = api.post(url("championships/"), data="name=Cup", content_type="text/plain")

    assert response.status_code == 415
    assert "detail" in response.json()


def test_list_is_public_paginated_and_filtered(anonymous, owner):
    ChampionshipFactory.create(actor_id=owner.id, name="Spring Cup", season="2024")
    ChampionshipFactory.create(actor_id=owner.id, name="Autumn League", season="2024")
    ChampionshipFactory.create(
        actor_id=owner.id, name="Winter League", season="2025", format="double_round_robin"
    )

    everything = anonymous.get(url("championships/")).json()
    by_season = anonymous.get(url("championships/?season=2024")).json()
    by_format = anonymous.get(url("championships/?format=double_round_robin")).json()
    by_search = anonymous.get(url("championships/?search=league")).json()
    first_page = anonymous.get(url("championships/?limit=2")).json()

    assert everything["count"] == 3
    assert {c["name"] for c in by_season["results"]} == {"Spring Cup", "Autumn League"}
    assert [c["name"] for c in by_format["results"]] == ["Winter League"]
    assert {c["name"] for c in by_search["results"]} == {"Autumn League", "Winter League"}
    assert len(first_page["results"]) == 2
    assert first_page["next"] is not None


def test_list_with_an_unknown_format_is_400(anonymous):
    response = anonymous.get(url("championships/?format=bogus"))

    # Before: 200 with an empty list, although the schema lists the formats
    assert response.status_code == 400
    assert "round_robin" in response.json()["detail"]


def test_detail_is_public_with_etag(anonymous, championship):
    response = anonymous.get(url(f"championships/{championship.id}/"))

    assert response.status_code == 200
    assert response.json()["id"] == str(championship.id)
    assert response["ETag"] == f'"{championship.version}"'


def test_detail_with_current_if_none_match_is_304(anonymous, championship):
    response = anonymous.get(
        url(f"championships/{championship.id}/"), HTTP_IF_NONE_MATCH=f'"{championship.version}"'
    )

    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == f'"{championship.version}"'


def test_unknown_id_is_404_with_detail(anonymous):
    pk = "00000000-0000-0000-0000-000000000000"
    response = anonymous.get(url(f"championships/{pk}/"))

    assert response.status_code == 404
    assert response.json() == {"detail": f"championship {pk} does not exist"}


@pytest.mark.parametrize(
    "path",
    [
        "championships/not-a-uuid/",
        "championships/not-a-uuid/standings/",
        "championships/12/teams/x/",
        "matches/nope/",
        "deductions/nope/amend/",
        "no-such-endpoint/",
    ],
)
def test_malformed_ids_and_unknown_urls_are_a_json_404(anonymous, path):
    response = anonymous.get(url(path))

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": f"no such resource: /api/v1/{path}"}
    # No resource, so no methods to list (before: all of them, OPTIONS twice)
    assert not response.has_header("Allow")


def test_a_bad_host_under_the_api_is_a_json_400(anonymous):
    response = anonymous.get(url("championships/"), HTTP_HOST="evil.example")
    page = anonymous.get("/", HTTP_HOST="evil.example")

    # Before: Django's HTML page
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert "Host" in response.json()["detail"]
    assert page.status_code == 400
    assert page["Content-Type"].startswith("text/html")


def test_patch_by_owner_changes_rules_and_bumps_etag(api, championship, event_bus):
    response = api.patch(
        url(f"championships/{championship.id}/"),
        {"name": "Renamed", "points_for_win": 2},
        format="json",
        HTTP_IF_MATCH='"1"',
    )

    assert response.status_code == 200
    assert response.json()["name"] == "Renamed"
    assert response.json()["points_for_win"] == 2
    assert response["ETag"] == '"2"'
    assert [r.event_type for r in event_bus.published()] == ["ChampionshipUpdated"]


def test_patch_cannot_change_the_format(api, championship):
    before = event_count()

    response = api.patch(
        url(f"championships/{championship.id}/"),
        {"format": "double_round_robin", "name": "Renamed"},
        format="json",
    )

    assert response.status_code == 400
    assert "format" in response.json()
    assert event_count() == before


def test_patch_with_stale_if_match_is_412_and_writes_nothing(api, championship):
    before = event_count()

    response = api.patch(
        url(f"championships/{championship.id}/"),
        {"name": "Renamed"},
        format="json",
        HTTP_IF_MATCH='"7"',
    )

    assert response.status_code == 412
    assert response.json()["current_version"] == 1
    assert response["ETag"] == '"1"'
    assert event_count() == before


def test_patch_with_malformed_if_match_is_400(api, championship):
    response = api.patch(
        url(f"championships/{championship.id}/"),
        {"name": "Renamed"},
        format="json",
        HTTP_IF_MATCH="version one",
    )

    assert response.status_code == 400
    assert "If-Match" in response.json()["detail"]


def test_patch_with_nothing_to_change_is_400(api, championship):
    response = api.patch(url(f"championships/{championship.id}/"), {}, format="json")

    assert response.status_code == 400
    assert response.json() == {"detail": "nothing to change"}


def test_patch_by_another_organiser_is_403_and_writes_nothing(stranger, championship):
    before = event_count()

    response = stranger.patch(
        url(f"championships/{championship.id}/"), {"name": "Mine"}, format="json"
    )

    assert response.status_code == 403
    assert "owner or a co-organiser" in response.json()["detail"]
    assert event_count() == before


def test_patch_anonymously_is_401(anonymous, championship):
    response = anonymous.patch(
        url(f"championships/{championship.id}/"), {"name": "Mine"}, format="json"
    )

    assert response.status_code == 401


def test_co_organiser_added_through_the_api_may_write(api, championship):
    helper = UserFactory.create()

    added = api.post(
        url(f"championships/{championship.id}/organisers/"), {"user": helper.id}, format="json"
    )
    response = client_for(helper).patch(
        url(f"championships/{championship.id}/"), {"season": "2026"}, format="json"
    )

    assert added.status_code == 200
    assert added.json()["organisers"] == [helper.id]
    assert response.status_code == 200
    assert response.json()["season"] == "2026"


def test_superuser_may_write_any_championship(championship):
    admin = UserFactory.create(is_superuser=True, is_staff=True)

    response = client_for(admin).patch(
        url(f"championships/{championship.id}/"), {"season": "2030"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["season"] == "2030"


def test_adding_an_organiser_twice_is_409(api, championship):
    helper = UserFactory.create()
    commands.championship_add_organiser(
        actor_id=championship.owner_id, championship_id=championship.id, user_id=helper.id
    )

    response = api.post(
        url(f"championships/{championship.id}/organisers/"), {"user": helper.id}, format="json"
    )

    assert response.status_code == 409
    assert "already organises" in response.json()["detail"]


def test_session_authentication_works_for_writes(owner):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_login(owner)

    response = client.post(url("championships/"), {"name": "Session Cup"}, format="json")

    assert response.status_code == 201


def test_token_endpoint_returns_a_token_for_valid_credentials(anonymous):
    user = UserFactory.create()
    user.set_password("s3cret-pass")
    user.save(update_fields=["password"])

    response = anonymous.post(
        url("auth/token/"), {"username": user.username, "password": "s3cret-pass"}, format="json"
    )
    rejected = anonymous.post(
        url("auth/token/"), {"username": user.username, "password": "wrong"}, format="json"
    )

    assert response.status_code == 200
    assert len(response.json()["token"]) == 40
    assert rejected.status_code == 400
    assert "non_field_errors" in rejected.json()
