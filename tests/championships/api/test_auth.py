"""Tokens that expire and can be revoked; throttles per user, per address and on login,
counted in the shared cache, answering 429 with Retry-After."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.test import override_settings
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.championships.api.conftest import client_for, url
from tests.championships.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "s3cret-pass"


@pytest.fixture
def user() -> Any:
    user = UserFactory.create()
    user.set_password(PASSWORD)
    user.save(update_fields=["password"])
    return user


def _login(client: APIClient, user: Any, password: str = PASSWORD) -> Any:
    return client.post(
        url("auth/token/"), {"username": user.username, "password": password}, format="json"
    )


def _with_token(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def _rates(**rates: str) -> Any:
    return override_settings(
        REST_FRAMEWORK={
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {"anon": "off", "user": "off", "login": "off", **rates},
        }
    )


def test_login_tells_when_the_token_expires(anonymous, user):
    before = timezone.now()

    response = _login(anonymous, user)

    assert response.status_code == 200
    expires_at = response.json()["expires_at"]
    ttl = timedelta(hours=settings.TOKEN_TTL_HOURS)
    assert before + ttl <= datetime.fromisoformat(expires_at) <= timezone.now() + ttl


def test_an_expired_token_is_refused_and_logging_in_again_gives_a_new_one(anonymous, user):
    old = Token.objects.create(user=user)
    Token.objects.filter(pk=old.pk).update(
        created=timezone.now() - timedelta(hours=settings.TOKEN_TTL_HOURS, minutes=1)
    )

    refused = _with_token(old.key).post(url("auth/token/revoke/"))
    renewed = _login(anonymous, user).json()["token"]
    accepted = _with_token(renewed).post(url("auth/token/revoke/"))

    assert refused.status_code == 401
    assert "expired" in refused.json()["detail"]
    assert renewed != old.key
    assert accepted.status_code == 204


def test_a_client_still_sending_its_expired_or_revoked_token_can_sign_in_again(user):
    # Given a client whose token expired, and one whose token was revoked, both still
    # sending it (as a client generated from the schema does)
    old = Token.objects.create(user=user)
    Token.objects.filter(pk=old.pk).update(
        created=timezone.now() - timedelta(hours=settings.TOKEN_TTL_HOURS, minutes=1)
    )
    expired = _with_token(old.key)
    renewed = _login(expired, user)
    revoked = _with_token(renewed.json()["token"])
    assert revoked.post(url("auth/token/revoke/")).status_code == 204

    # When they sign in with their password
    again = _login(revoked, user)

    # Then each gets a new token (before: the stale token's 401, "get a new one from
    # POST /api/v1/auth/token/", from that very endpoint)
    assert renewed.status_code == again.status_code == 200
    assert len({old.key, renewed.json()["token"], again.json()["token"]}) == 3


def test_signing_in_takes_json_only_and_never_answers_500(anonymous, user):
    many_fields = "&".join(f"f{i}=1" for i in range(1200))
    deep = "[" * 100_000 + "]" * 100_000

    form = anonymous.post(
        url("auth/token/"), many_fields, content_type="application/x-www-form-urlencoded"
    )
    nested = anonymous.post(url("auth/token/"), deep, content_type="application/json")

    # Before: DRF's form parser gave a 500 on more than 1,000 fields, its JSON parser a
    # 500 on the recursion; now as on every other endpoint
    assert form.status_code == 415
    assert nested.status_code == 400
    assert "detail" in form.json()
    assert "detail" in nested.json()


def test_a_token_still_valid_is_returned_again(anonymous, user):
    first = _login(anonymous, user).json()["token"]

    second = _login(anonymous, user).json()["token"]

    assert second == first


def test_a_revoked_token_no_longer_authenticates(anonymous, user):
    key = _login(anonymous, user).json()["token"]
    client = _with_token(key)

    revoked = client.post(url("auth/token/revoke/"))
    afterwards = client.post(url("auth/token/revoke/"))

    assert revoked.status_code == 204
    assert afterwards.status_code == 401
    assert not Token.objects.filter(user=user).exists()


def test_revoking_needs_authentication(anonymous):
    response = anonymous.post(url("auth/token/revoke/"))

    assert response.status_code == 401


def _one_window(seconds: int) -> Any:
    """The requests of a test inside one fixed throttle window: from 1 s after the start
    of the current one (a test that ran across a window's end counted in two, and its
    last request passed: seen once in CI)."""
    now = datetime.now(UTC).timestamp()
    start = datetime.fromtimestamp(now - now % seconds + 1, tz=UTC)
    return time_machine.travel(start, tick=True)


def test_login_attempts_are_limited_per_address(anonymous, user):
    with _rates(login="2/min"), _one_window(60):
        wrong = [_login(anonymous, user, "wrong").status_code for _ in range(2)]
        throttled = _login(anonymous, user)

    assert wrong == [400, 400]
    assert throttled.status_code == 429
    assert 1 <= int(throttled["Retry-After"]) <= 60
    assert "throttled" in throttled.json()["detail"]


def test_a_user_over_their_rate_gets_429_and_another_user_does_not(championship):
    busy, other = client_for(UserFactory.create()), client_for(UserFactory.create())
    path = url(f"championships/{championship.id}/")

    with _rates(user="3/hour"), _one_window(3600):
        allowed = [busy.get(path).status_code for _ in range(3)]
        throttled = busy.get(path)
        others = other.get(path)

    assert allowed == [200, 200, 200]
    assert throttled.status_code == 429
    assert 1 <= int(throttled["Retry-After"]) <= 3600
    assert others.status_code == 200


def test_anonymous_reads_are_limited_per_address(championship):
    path = url(f"championships/{championship.id}/")
    here, elsewhere = APIClient(REMOTE_ADDR="10.0.0.1"), APIClient(REMOTE_ADDR="10.0.0.2")

    with _rates(anon="2/min"), _one_window(60):
        allowed = [here.get(path).status_code for _ in range(2)]
        throttled = here.get(path, HTTP_X_FORWARDED_FOR="10.9.9.9")
        others = elsewhere.get(path)

    assert allowed == [200, 200]
    # X-Forwarded-For is the server's business (trusted proxies only), not DRF's.
    assert throttled.status_code == 429
    assert others.status_code == 200


@pytest.fixture
def redis_cache() -> Iterator[None]:
    """The real Redis cache (shared by every web process), under a prefix of its own."""
    # (these unit tests run on an in-process cache otherwise: see conftest.py)
    cache = {
        "BACKEND": "easychamp.cache.RedisCache",
        "LOCATION": settings.REDIS_URL,
        "KEY_PREFIX": f"test-{uuid.uuid4().hex}",
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
    with override_settings(CACHES={"default": cache}):
        yield


@pytest.mark.redis
def test_throttles_count_in_redis(redis_cache, anonymous, user):
    # Three attempts in one window (each hashes a password: on a busy machine they
    # could otherwise straddle the start of a minute, and count in two windows).
    with _rates(login="2/min"), _one_window(60):
        statuses = [_login(anonymous, user, "wrong").status_code for _ in range(3)]

    assert statuses == [400, 400, 429]


def test_requests_pass_when_the_throttles_cache_is_unreachable(anonymous, user):
    unreachable = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:9/0",
        "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
    }

    with override_settings(CACHES={"default": unreachable}), _rates(login="1/min"):
        statuses = [_login(anonymous, user, "wrong").status_code for _ in range(3)]

    assert statuses == [400, 400, 400]


# --- the token cache ---------------------------------------------------------------


def _token_queries(queries: Any) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if "authtoken_token" in q["sql"]]


def test_a_checked_token_authenticates_from_the_cache_without_a_query(user):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    key = Token.objects.create(user=user).key
    client = _with_token(key)
    client.get(url("championships/"))  # checked in the database, then cached

    with CaptureQueriesContext(connection) as queries:
        response = client.post(url("championships/"), {"name": "Cached"}, format="json")

    assert response.status_code == 201
    assert response.json()["owner"] == user.id
    assert _token_queries(queries) == []


def test_revoking_a_cached_token_signs_it_out_at_once(user):
    key = Token.objects.create(user=user).key
    client = _with_token(key)
    assert client.get(url("championships/")).status_code == 200  # cached now

    assert client.post(url("auth/token/revoke/")).status_code == 204

    assert client.post(url("championships/"), {"name": "Nope"}, format="json").status_code == 401


def test_deactivating_the_user_of_a_cached_token_signs_it_out_at_once(user):
    key = Token.objects.create(user=user).key
    client = _with_token(key)
    assert client.get(url("championships/")).status_code == 200

    user.is_active = False
    user.save(update_fields=["is_active"])

    assert client.post(url("championships/"), {"name": "Nope"}, format="json").status_code == 401


def test_a_token_read_before_its_deletion_is_not_cached_again_after_it(user):
    from championships.api.authentication import cached_token, remember_token

    token = Token.objects.create(user=user)
    stale = Token.objects.get(pk=token.pk)  # a request read it from the database...
    token.delete()  # ...the token is revoked...
    remember_token(stale)  # ...and that request tries to cache what it read

    assert cached_token(stale.key) is None
    assert _with_token(stale.key).post(url("auth/token/revoke/")).status_code == 401


def test_a_cached_token_still_expires(user):
    token = Token.objects.create(user=user)
    client = _with_token(token.key)
    assert client.get(url("championships/")).status_code == 200  # cached with its issue time
    later = timezone.now() + timedelta(hours=settings.TOKEN_TTL_HOURS, minutes=1)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(timezone, "now", lambda: later)
        refused = client.post(url("auth/token/revoke/"))

    assert refused.status_code == 401
    assert "expired" in refused.json()["detail"]


def test_without_the_cache_tokens_are_checked_in_the_database(user, settings):
    from django.core.cache import caches

    key = Token.objects.create(user=user).key
    settings.CACHES = {
        **settings.CACHES,
        "default": {**settings.CACHES["default"], "LOCATION": "redis://127.0.0.1:1/0"},
    }
    caches["default"].close()
    try:
        response = _with_token(key).post(url("championships/"), {"name": "No cache"}, format="json")
    finally:
        caches["default"].close()

    assert response.status_code == 201


# --- a known token: checked and counted in one round trip ---------------------------


def _user_window_count(user_id: int) -> int:
    from django.core.cache import cache

    from championships.api.throttling import current_window

    window = current_window("user", str(user_id), time.time())
    assert window is not None
    return int(cache.get(window.key) or 0)


@pytest.mark.redis
def test_a_known_tokens_requests_are_counted_once_each_against_its_user(redis_cache, user):
    from championships.api import authentication
    from championships.api.throttling import count_and_get

    key = Token.objects.create(user=user).key
    client = _with_token(key)
    hour = datetime.now(UTC).replace(minute=0, second=1, microsecond=0)

    combined: list[Any] = []

    def spy(window: Any, cache_key: str) -> Any:
        found = count_and_get(window, cache_key)
        combined.append((cache_key, found is not None))
        return found

    with _rates(user="1000/hour"), time_machine.travel(hour, tick=True):
        assert client.get(url("championships/")).status_code == 200  # checked, user learnt
        assert authentication._token_users[authentication._key(key)] == user.id
        before = _user_window_count(user.id)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(authentication, "count_and_get", spy)
            statuses = [client.get(url("championships/")).status_code for _ in range(3)]
        after = _user_window_count(user.id)

    # Each checked its token and counted itself in the one pipeline, counted once
    assert statuses == [200, 200, 200]
    assert combined == [(authentication._key(key), True)] * 3
    assert after - before == 3


@pytest.mark.redis
def test_a_view_without_the_user_throttle_does_not_count_a_known_tokens_request(redis_cache, user):
    key = Token.objects.create(user=user).key
    client = _with_token(key)
    hour = datetime.now(UTC).replace(minute=0, second=1, microsecond=0)

    with _rates(user="1000/hour"), time_machine.travel(hour, tick=True):
        assert client.get(url("championships/")).status_code == 200
        before = _user_window_count(user.id)
        # The login view has the login throttle only.
        login = client.post(
            url("auth/token/"), {"username": user.username, "password": PASSWORD}, format="json"
        )
        after = _user_window_count(user.id)

    assert login.status_code == 200
    assert after == before


@pytest.mark.redis
def test_a_known_token_revoked_elsewhere_is_refused_at_once(redis_cache, user):
    key = Token.objects.create(user=user).key
    client = _with_token(key)
    assert client.get(url("championships/")).status_code == 200  # its user is known now

    Token.objects.filter(key=key).delete()  # another process revokes it

    refused = client.post(url("championships/"), {"name": "Nope"}, format="json")
    assert refused.status_code == 401


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_sign_ins_at_once_after_the_token_expired_both_get_the_new_token(monkeypatch):
    # Given a user whose token has expired
    from django.db import connection

    from championships.api import authentication

    user = UserFactory.create(username="expiring")
    user.set_password(PASSWORD)
    user.save(update_fields=["password"])
    token = Token.objects.create(user=user)
    Token.objects.filter(pk=token.pk).update(
        created=timezone.now() - timedelta(hours=settings.TOKEN_TTL_HOURS + 1)
    )
    both_found_it_expired = threading.Barrier(2, timeout=20)
    expires_at = authentication.token_expires_at

    def expired_then_wait(token: Token) -> datetime:
        found = expires_at(token)
        both_found_it_expired.wait()
        return found

    monkeypatch.setattr(authentication, "token_expires_at", expired_then_wait)
    keys: list[str] = []
    statuses: list[int] = []

    def sign_in() -> None:
        try:
            response = APIClient().post(
                url("auth/token/"), {"username": "expiring", "password": PASSWORD}, format="json"
            )
            statuses.append(response.status_code)
            keys.append(response.json().get("token", ""))
        finally:
            connection.close()

    # When the phone app and the web client sign in at the same moment
    with override_settings(
        REST_FRAMEWORK={
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {"anon": "off", "user": "off", "login": "off"},
        }
    ):
        threads = [threading.Thread(target=sign_in) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)

    # Then both get the one new token
    # Before: the second creation broke the one-token-per-user constraint (a 500)
    assert statuses == [200, 200]
    assert keys[0] == keys[1] == Token.objects.get(user=user).key != token.key


@pytest.mark.parametrize(
    ("path", "answer"),
    [("/admin/login/", 200), ("/signup/", 200), ("/api/v1/auth/register/", 400)],
)
def test_sign_ins_and_sign_ups_count_their_attempts_with_the_apis(
    path, answer, anonymous, user, client
):
    # Given an address that made one attempt at the API's token endpoint
    body = {"username": user.username, "password": "wrong"}
    with _rates(login="3/min"), _one_window(60):
        first = _login(anonymous, user, "wrong")
        # When it tries the page (or the API's sign-up) twice more, then once again
        tries = [
            client.post(path, body, content_type="application/json").status_code
            if path.startswith("/api/")
            else client.post(path, body).status_code
            for _ in range(3)
        ]

    # Then the attempt over the rate is refused
    # Before: the admin's, the sign-up page's and the API sign-up's were never limited
    assert first.status_code == 400
    assert tries == [answer, answer, 429]
