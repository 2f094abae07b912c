from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from events import store
from events.registry import Event, EventDecodingError, EventRegistrationError, registry

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class ScoreSetV1(Event):
    event_type = "test.ScoreSet"
    schema_version = 1
    stream_type = "thing"

    score: str  # "2-1"


@dataclass(frozen=True)
class ScoreSetV2(Event):
    event_type = "test.ScoreSet"
    schema_version = 2
    stream_type = "thing"

    home: int
    away: int


def split_score(payload: dict[str, Any]) -> dict[str, Any]:
    home, away = payload.pop("score").split("-")
    return {**payload, "home": int(home), "away": int(away)}


@pytest.fixture
def v1_stored() -> Iterator[None]:
    """A v1 payload written by the old code, then the code moves on to v2."""
    registry.register(ScoreSetV1)
    store.append("score-1", [ScoreSetV1(score="2-1")], 0)
    registry.unregister(ScoreSetV1.event_type)
    yield
    registry.unregister(ScoreSetV1.event_type)


def test_a_stored_v1_payload_loads_as_the_v2_class(v1_stored):
    registry.register(ScoreSetV2)
    registry.register_upcaster("test.ScoreSet", 1, split_score)

    [loaded] = store.load("score-1")

    assert loaded.data == ScoreSetV2(home=2, away=1)
    assert loaded.schema_version == 2
    assert registry.missing_upcasters() == []


def test_a_missing_upcaster_is_reported_by_name_and_version(v1_stored):
    registry.register(ScoreSetV2)

    assert ("test.ScoreSet", 1) in registry.missing_upcasters()
    with pytest.raises(EventDecodingError, match=r"no upcaster registered for test\.ScoreSet v1"):
        store.load("score-1")


def test_an_upcaster_producing_a_bad_shape_fails_clearly(v1_stored):
    registry.register(ScoreSetV2)
    registry.register_upcaster("test.ScoreSet", 1, lambda payload: payload)

    with pytest.raises(EventDecodingError, match="invalid"):
        store.load("score-1")


def test_a_type_name_cannot_be_taken_by_another_class():
    registry.register(ScoreSetV1)
    try:
        with pytest.raises(EventRegistrationError, match="already registered"):
            registry.register(ScoreSetV2)
    finally:
        registry.unregister(ScoreSetV1.event_type)


def test_only_frozen_dataclasses_can_be_registered():
    @dataclass
    class Mutable(Event):
        event_type = "test.Mutable"

    with pytest.raises(EventRegistrationError, match="frozen"):
        registry.register(Mutable)
