"""The OpenAPI schema and the interactive docs."""

from __future__ import annotations

import pytest
import yaml
from drf_spectacular.validation import validate_schema

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
