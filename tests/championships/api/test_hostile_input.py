"""Hostile input never reaches the database as a 500: oversized numbers, NUL bytes."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.championships.api.conftest import url

pytestmark = pytest.mark.django_db

HUGE = "99999999999999999999999"


@pytest.mark.parametrize(
    "query",
    [
        f"championships/?offset={HUGE}",
        f"championships/?limit={HUGE}",
        "championships/?search=a%00b",
        "championships/?season=%00",
        "championships/?format=%00",
        "championships/{c}/matches/?round=" + HUGE,
        "championships/{c}/matches/?group=%00",
        "championships/{c}/matches/?status=%00",
        "championships/{c}/events/?after=" + HUGE,
        "championships/{c}/events/?limit=" + HUGE,
        "championships/%00/",
        "matches/%00/",
    ],
)
def test_hostile_query_is_a_client_error(anonymous, championship, query):
    response = anonymous.get(url(query.format(c=championship.id)))

    assert response.status_code in (200, 400, 404)
    assert response["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("championships/", {"name": "a\x00b"}),
        ("championships/", {"name": "Cup", "points_for_win": int(HUGE)}),
        ("championships/{c}/teams/", {"name": "x" * 101}),
        ("championships/{c}/fixtures/", {"days_between_rounds": int(HUGE)}),
        (
            "championships/{c}/matches/",
            {"home_team": "{h}", "away_team": "{a}", "round": int(HUGE)},
        ),
        ("championships/{c}/organisers/", {"user": int(HUGE)}),
        ("matches/{m}/complete/", {"home_score": int(HUGE), "away_score": 0}),
        ("matches/{m}/postpone/", {"reason": "r\x00"}),
    ],
)
def test_hostile_body_is_a_client_error(api, championship, match, home, away, path, body):
    ids = {"c": championship.id, "m": match.id, "h": home.id, "a": away.id}
    filled = {k: v.format(**ids) if isinstance(v, str) and "{" in v else v for k, v in body.items()}

    response = api.post(url(path.format(**ids)), filled, format="json")

    assert response.status_code in (400, 404)
    assert response.json()


def test_an_idempotency_key_with_control_characters_is_400(api, championship):
    response = api.post(
        url(f"championships/{championship.id}/teams/"),
        {"name": "Rovers"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="key\x01",
    )

    assert response.status_code == 400


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("patch", "championships/{c}/teams/{h}/", {"name": None}),
        ("patch", "championships/{c}/teams/{h}/", {"name": "a\x00b"}),
        ("patch", "championships/{c}/teams/{h}/", {"group": ["A"]}),
        ("patch", "championships/{c}/teams/{h}/", ["name"]),
        ("patch", "championships/{c}/", {"withdrawal_award_score": "3-0"}),
        ("patch", "championships/{c}/", {"withdrawal_award_score": [3, 0, 1]}),
        ("patch", "championships/{c}/", {"withdrawal_award_score": [int(HUGE), 0]}),
        ("patch", "championships/{c}/", {"visibility": "secret"}),
        ("post", "championships/{c}/teams/{h}/withdraw/", {"reason": "x" * 501}),
        ("post", "championships/{c}/teams/{h}/withdraw/", {"reason": "r\x00"}),
        (
            "post",
            "championships/{c}/deductions/",
            {"team": "{h}", "points": int(HUGE), "reason": "r"},
        ),
        ("post", "championships/{c}/deductions/", {"team": "{h}", "points": "ten", "reason": "r"}),
        ("post", "championships/{c}/deductions/", {"team": "{h}", "points": 1, "reason": "r\x00"}),
        (
            "post",
            "championships/{c}/deductions/",
            {"team": "{h}", "points": 1, "reason": "r", "effective_at": "99999-01-01T00:00:00Z"},
        ),
        ("post", "championships/{c}/deductions/", {"team": ["{h}"], "points": 1, "reason": "r"}),
        ("post", "matches/{m}/reschedule/", {"kickoff_at": "9999-12-31T23:59:59-14:00"}),
        ("post", "matches/{m}/reschedule/", {}),
        (
            "post",
            "championships/{c}/matches/",
            {"home_team": "{h}", "away_team": "{a}", "allow_duplicate": "maybe"},
        ),
    ],
)
def test_hostile_input_to_the_season_endpoints_is_a_client_error(
    api, championship, match, home, away, method, path, body
):
    ids = {"c": championship.id, "m": match.id, "h": home.id, "a": away.id}

    def fill(value: object) -> object:
        if isinstance(value, str) and "{" in value:
            return value.format(**ids)
        if isinstance(value, list):
            return [fill(v) for v in value]
        return value

    filled = {k: fill(v) for k, v in body.items()} if isinstance(body, dict) else body

    response = getattr(api, method)(url(path.format(**ids)), filled, format="json")

    assert response.status_code in (400, 404, 409)
    assert response["Content-Type"] == "application/json"
    assert response.json()


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("post", "matches/{m}/stream/", "GET"),
        ("delete", "matches/{m}/stream/", "GET"),
        ("options", "matches/{m}/stream/", "GET"),
        ("head", "matches/{m}/stream/", "GET"),
        ("get", "webhooks/payments/", "POST"),
        ("put", "webhooks/payments/", "POST"),
    ],
)
def test_the_plain_views_answer_another_method_with_a_json_405(match, method, path, allowed):
    # The SSE stream and the payment webhook are plain Django views: a POST to the
    # stream got Django's HTML CSRF page, other methods an empty text/html 405
    client = Client(enforce_csrf_checks=True)
    response = getattr(client, method)(url(path.format(m=match.id)))

    assert response.status_code == 405
    assert response["Allow"] == allowed
    assert response["Content-Type"] == "application/json"
    if method != "head":
        assert response.json() == {"detail": f'Method "{method.upper()}" not allowed.'}
