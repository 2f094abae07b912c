from __future__ import annotations

import uuid

import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

from events.models import StoredEvent

pytestmark = pytest.mark.django_db

BODY = {"name": "Spring Cup", "season": "2026", "format": "round_robin"}


@pytest.fixture
def token() -> tuple[str, str]:
    user = get_user_model().objects.create_user("org", password="pw-12345678")
    return Token.objects.create(user=user).key, str(user.pk)


def test_a_given_correlation_id_is_returned_and_stamped_with_the_user_on_every_event(client, token):
    key, user_id = token

    response = client.post(
        "/api/v1/championships/",
        BODY,
        content_type="application/json",
        headers={"Authorization": f"Token {key}", "X-Correlation-ID": "match-day-42"},
    )

    assert response.status_code == 201
    assert response["X-Correlation-ID"] == "match-day-42"
    metadata = list(StoredEvent.objects.values_list("metadata", flat=True))
    assert metadata
    assert {m["correlation_id"] for m in metadata} == {"match-day-42"}
    assert {m["user_id"] for m in metadata} == {user_id}


def test_without_a_header_a_correlation_id_is_made_and_returned(client, token):
    key, _ = token

    response = client.post(
        "/api/v1/championships/",
        BODY,
        content_type="application/json",
        headers={"Authorization": f"Token {key}"},
    )

    made = response["X-Correlation-ID"]
    assert uuid.UUID(made)
    assert StoredEvent.objects.get().metadata["correlation_id"] == made


@pytest.mark.parametrize("bad", ["x" * 200, "has spaces", "<script>"])
def test_an_untrustworthy_correlation_id_is_replaced(client, bad):
    response = client.get("/healthz", headers={"X-Correlation-ID": bad})

    assert response["X-Correlation-ID"] != bad
    assert uuid.UUID(response["X-Correlation-ID"])


def test_trace_context_is_carried_into_event_metadata(client, token):
    key, _ = token
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    client.post(
        "/api/v1/championships/",
        BODY,
        content_type="application/json",
        headers={"Authorization": f"Token {key}", "traceparent": traceparent},
    )

    assert StoredEvent.objects.get().metadata["trace"] == {"traceparent": traceparent}
