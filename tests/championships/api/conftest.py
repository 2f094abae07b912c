from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.test import override_settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from championships.models import Championship, Match, Team
from events.models import StoredEvent
from tests.championships.factories import (
    ChampionshipFactory,
    MatchFactory,
    TeamFactory,
    UserFactory,
)

LOCMEM = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


@pytest.fixture(autouse=True)
def _locmem_cache() -> Iterator[None]:
    """Unit tests use an in-process cache (the machine may have no Redis)."""
    with override_settings(CACHES=LOCMEM):
        cache.clear()
        yield
        cache.clear()


def client_for(user: Any) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def anonymous() -> APIClient:
    return APIClient()


@pytest.fixture
def owner(db: None) -> Any:
    return UserFactory.create()


@pytest.fixture
def api(owner: Any) -> APIClient:
    """The owner's client."""
    return client_for(owner)


@pytest.fixture
def stranger(db: None) -> APIClient:
    """Another organiser: authenticated, organises nothing here."""
    return client_for(UserFactory.create())


@pytest.fixture
def championship(owner: Any) -> Championship:
    return ChampionshipFactory.create(actor_id=owner.id)


@pytest.fixture
def home(championship: Championship) -> Team:
    return TeamFactory.create(championship=championship, name="Home FC")


@pytest.fixture
def away(championship: Championship) -> Team:
    return TeamFactory.create(championship=championship, name="Away FC")


@pytest.fixture
def match(championship: Championship, home: Team, away: Team) -> Match:
    return MatchFactory.create(championship=championship, home_team=home, away_team=away, round=1)


def event_count() -> int:
    return StoredEvent.objects.count()


def url(path: str) -> str:
    return f"/api/v1/{path}"
