from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

import pytest

from events.registry import Event, registry


@dataclass(frozen=True)
class ThingHappened(Event):
    event_type = "test.ThingHappened"
    stream_type = "thing"

    thing_id: UUID
    count: int
    note: str = ""


@dataclass(frozen=True)
class PriceSet(Event):
    event_type = "test.PriceSet"
    stream_type = "thing"

    amount: Decimal
    currency: str


@pytest.fixture(autouse=True)
def test_events() -> Iterator[None]:
    registry.register(ThingHappened)
    registry.register(PriceSet)
    yield
    registry.unregister(ThingHappened.event_type)
    registry.unregister(PriceSet.event_type)


from tests.events.workers import celery_queue, producer_broker, workers  # noqa: E402, F401
