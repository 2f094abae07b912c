"""The OpenAPI schema and the interactive docs."""

from __future__ import annotations

import pytest
import yaml
from drf_spectacular.validation import validate_schema
from openapi_spec_validator import validate

from tests.championships.api.conftest import url

pytestmark = pytest.mark.django_db


def test_schema_is_a_valid_openapi_document(anonymous):
    response = anonymous.get(url("schema/"), HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    schema = response.json()
    validate_schema(schema)
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/championships/{id}/standings/" in schema["paths"]
    assert "/api/v1/matches/{id}/goals/" in schema["paths"]
    goal_parameters = {
        p["name"] for p in schema["paths"]["/api/v1/matches/{id}/goals/"]["post"]["parameters"]
    }
    assert {"If-Match", "Idempotency-Key"} <= goal_parameters


def test_schema_shows_token_expiry_revocation_and_throttling(anonymous):
    schema = anonymous.get(url("schema/"), HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    login = schema["paths"]["/api/v1/auth/token/"]["post"]
    assert "expires_at" in schema["components"]["schemas"]["Token"]["properties"]
    assert "429" in login["responses"]
    assert "204" in schema["paths"]["/api/v1/auth/token/revoke/"]["post"]["responses"]
    assert "429" in schema["paths"]["/api/v1/matches/{id}/goals/"]["post"]["responses"]


def test_schema_as_yaml(anonymous):
    response = anonymous.get(url("schema/"))

    assert response.status_code == 200
    assert yaml.safe_load(response.content)["info"]["title"] == "EasyChamp API"


def test_docs_page_serves_swagger_ui_from_the_sidecar(anonymous):
    response = anonymous.get(url("docs/"))

    assert response.status_code == 200
    assert b"swagger-ui" in response.content
    assert b"/static/drf_spectacular_sidecar/" in response.content


def _schema(client):
    return client.get(url("schema/"), HTTP_ACCEPT="application/vnd.oai.openapi+json").json()


def _request_schema(schema, path, method="post"):
    body = schema["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
    return schema["components"]["schemas"][body["$ref"].split("/")[-1]]


def test_schema_shows_the_limits_the_commands_enforce(anonymous):
    schema = _schema(anonymous)

    goal = _request_schema(schema, "/api/v1/matches/{id}/goals/")["properties"]
    correct = _request_schema(schema, "/api/v1/matches/{id}/correct/")["properties"]
    fixtures = _request_schema(schema, "/api/v1/championships/{id}/fixtures/")["properties"]
    created = _request_schema(schema, "/api/v1/championships/")["properties"]
    deduction = _request_schema(schema, "/api/v1/championships/{id}/deductions/")["properties"]

    assert (goal["minute"]["minimum"], goal["minute"]["maximum"]) == (0, 150)
    assert (correct["home_score"]["minimum"], correct["home_score"]["maximum"]) == (0, 999)
    days = fixtures["days_between_rounds"]
    assert (days["minimum"], days["maximum"]) == (0, 365)
    win = created["points_for_win"]
    assert (win["minimum"], win["maximum"]) == (0, 10)
    assert created["tiebreakers"]["minItems"] == 1
    assert (deduction["points"]["minimum"], deduction["points"]["maximum"]) == (1, 1000)


def test_schema_documents_the_error_bodies(anonymous):
    schema = _schema(anonymous)
    responses = schema["paths"]["/api/v1/matches/{id}/goals/"]["post"]["responses"]

    def ref(status):
        content = responses[status]["content"]["application/json"]["schema"]
        return schema["components"]["schemas"][content["$ref"].split("/")[-1]]

    assert "current_version" in ref("409")["properties"]
    assert "current_version" in ref("412")["properties"]
    assert "non_field_errors" in ref("400")["properties"]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("matches/{match}/goals/", {"team": "{home}", "minute": 151}, "minute"),
        ("matches/{match}/complete/", {"home_score": 1000, "away_score": 0}, "home_score"),
        (
            "championships/{championship}/fixtures/",
            {"days_between_rounds": 366},
            "days_between_rounds",
        ),
        (
            "championships/{championship}/fixtures/",
            {"days_between_rounds": -1},
            "days_between_rounds",
        ),
    ],
)
def test_out_of_range_input_is_a_400_on_its_field(
    api, championship, match, home, path, body, field
):
    names = {"match": match.id, "home": home.id, "championship": championship.id}
    body = {k: v.format(**names) if isinstance(v, str) else v for k, v in body.items()}

    response = api.post(url(path.format(**names)), body, format="json")

    assert response.status_code == 400
    assert field in response.json()


@pytest.mark.parametrize(
    "body",
    [
        {"points_for_win": 11},
        {"points_for_loss": -1},
        {"points_for_win": 1, "points_for_draw": 2},
        {"tiebreakers": []},
    ],
)
def test_bad_rules_are_a_400_per_field(api, championship, body):
    response = api.patch(url(f"championships/{championship.id}/"), body, format="json")

    assert response.status_code == 400
    assert set(response.json()) <= {*body, "points_for_draw"}


def test_schema_declares_the_errors_every_endpoint_can_answer(anonymous):
    schema = anonymous.get(url("schema/"), HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    paths = schema["paths"]

    goal = paths["/api/v1/matches/{id}/goals/"]["post"]["responses"]
    standings = paths["/api/v1/championships/{id}/standings/"]["get"]["responses"]
    entry = paths["/api/v1/championships/{id}/entries/"]["post"]
    entry_names = {p["name"] for p in entry["parameters"]}

    # Before: no 413/415/406 anywhere, 429/503 without a body, reads without 400/401, and
    # the entries' POSTs declared their success alone (and ignored Idempotency-Key)
    assert {"400", "401", "403", "404", "406", "409", "412", "413", "415", "422"} <= set(goal)
    assert {"400", "401", "404", "406", "429", "503"} <= set(standings)
    assert "content" in goal["429"]
    assert "content" in standings["503"]
    assert {"400", "401", "404", "409", "415"} <= set(entry["responses"])
    assert "Idempotency-Key" in entry_names


def test_the_schema_is_valid_openapi_3_1_with_nullable_references(anonymous):
    schema = anonymous.get(url("schema/"), HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    # The whole document against the specification's own schema (before: 3.0.3 with a
    # default the field's own minLength refused, and nullable references without a type)
    validate(schema)
    assert schema["openapi"] == "3.1.0"
    home_team = schema["components"]["schemas"]["Match"]["properties"]["home_team"]
    assert {"type": "null"} in home_team["oneOf"]
    page = schema["components"]["schemas"]["PaginatedMatchList"]["properties"]["next"]
    assert page["type"] == ["string", "null"]


def test_the_exports_errors_are_declared_as_json(anonymous):
    schema = anonymous.get(url("schema/"), HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    for path in ("fixtures.csv", "fixtures.ics", "standings.csv"):
        responses = schema["paths"][f"/api/v1/championships/{{id}}/{path}"]["get"]["responses"]
        # Before: the 404 declared as text/csv or text/calendar, and sent as JSON
        assert set(responses["404"]["content"]) == {"application/json"}
        assert set(responses["200"]["content"]) != {"application/json"}
