"""Idempotency-Key: a retry returns the first response and records no second event."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from championships.models import IdempotencyRecord, Team
from championships.tasks import purge_idempotency_records_task
from tests.championships.api.conftest import client_for, event_count, url
from tests.championships.test_concurrency import together


def _register(client, championship, name="Rovers", key="key-1"):
    return client.post(
        url(f"championships/{championship.id}/teams/"),
        {"name": name},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )


@pytest.mark.django_db
def test_a_retry_returns_the_first_response_and_writes_nothing(api, championship):
    first = _register(api, championship)
    after_first = event_count()

    retry = _register(api, championship)

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry["ETag"] == first["ETag"]
    assert retry["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")
    assert event_count() == after_first
    assert Team.objects.filter(championship=championship).count() == 1


@pytest.mark.django_db
def test_a_retried_create_returns_the_same_championship(api):
    body = {"name": "Cup", "season": "2025"}

    first = api.post(url("championships/"), body, format="json", HTTP_IDEMPOTENCY_KEY="c-1")
    retry = api.post(url("championships/"), body, format="json", HTTP_IDEMPOTENCY_KEY="c-1")

    assert retry.json()["id"] == first.json()["id"]
    assert retry["Location"] == first["Location"]
    assert api.get(url("championships/")).json()["count"] == 1


@pytest.mark.django_db
def test_a_retried_match_action_records_one_event(api, match):
    first = api.post(url(f"matches/{match.id}/start/"), format="json", HTTP_IDEMPOTENCY_KEY="s")
    after_first = event_count()

    retry = api.post(url(f"matches/{match.id}/start/"), format="json", HTTP_IDEMPOTENCY_KEY="s")

    assert retry.status_code == 200
    assert retry.json() == first.json()
    assert event_count() == after_first


@pytest.mark.django_db
def test_the_same_key_with_another_body_is_422(api, championship):
    _register(api, championship, name="Rovers")
    before = event_count()

    response = _register(api, championship, name="United")

    assert response.status_code == 422
    assert "already used for a different request" in response.json()["detail"]
    assert event_count() == before


@pytest.mark.django_db
def test_the_same_key_on_another_path_is_422(api, championship, match):
    _register(api, championship, key="shared")

    response = api.post(
        url(f"matches/{match.id}/start/"), format="json", HTTP_IDEMPOTENCY_KEY="shared"
    )

    assert response.status_code == 422


@pytest.mark.django_db
def test_keys_are_per_user(api, owner, championship):
    helper_client = client_for(owner)
    _register(api, championship, name="Rovers", key="k")

    response = _register(helper_client, championship, name="United", key="k")

    assert response.status_code == 422
    assert IdempotencyRecord.objects.filter(key="k").count() == 1


@pytest.mark.django_db
def test_another_user_may_use_the_same_key(api, stranger, championship):
    _register(api, championship, key="k")

    response = _register(stranger, championship, key="k")

    assert response.status_code == 403
    assert IdempotencyRecord.objects.filter(key="k").count() == 1


@pytest.mark.django_db
def test_a_failed_request_is_not_stored_so_the_key_can_be_retried(api, championship):
    failed = api.post(
        url(f"championships/{championship.id}/teams/"),
        {"name": ""},
        format="json",
        HTTP_IDEMPOTENCY_KEY="retry-me",
    )

    retried = _register(api, championship, name="Rovers", key="retry-me")

    assert failed.status_code == 400
    assert retried.status_code == 201
    assert not retried.has_header("Idempotent-Replayed")


@pytest.mark.django_db
def test_a_key_that_is_too_long_is_400(api, championship):
    response = _register(api, championship, key="k" * 256)

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["detail"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_run_the_command_once(owner, championship):
    calls = [lambda: _register(client_for(owner), championship, key="race") for _ in range(4)]
    before = event_count()

    responses = together(*calls)

    assert [r.status_code for r in responses] == [201, 201, 201, 201]
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum(r.has_header("Idempotent-Replayed") for r in responses) == 3
    assert event_count() == before + 1


@pytest.mark.django_db
def test_old_idempotency_records_are_purged_and_recent_ones_kept(api, championship):
    _register(api, championship, name="Old", key="old")
    _register(api, championship, name="New", key="new")
    IdempotencyRecord.objects.filter(key="old").update(
        created_at=timezone.now() - timedelta(hours=25)
    )

    purged = purge_idempotency_records_task.run()

    assert purged == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]
