"""Test helpers: an in-process event bus over the real store.

``event_bus`` (a pytest fixture; enable with ``pytest_plugins = ["events.testing"]``)
captures what is appended during a test and runs deliveries synchronously, like the
``TestEventBus`` of the architecture note — but through the real store, checkpoints and
handlers, so a unit test exercises the same path as a worker.
"""

from __future__ import annotations

from typing import Any, TypeVar

import pytest

from events import delivery
from events.models import StoredEvent
from events.registry import Event
from events.store import RecordedEvent, _recorded, text_rows

E = TypeVar("E", bound=Event)


class EventBus:
    def __init__(self) -> None:
        last = StoredEvent.objects.order_by("-position").values_list("position", flat=True).first()
        self.start_position = last or 0

    def published(self, event_class: type[Event] | None = None) -> list[RecordedEvent]:
        """Events appended since the bus was created, in position order."""
        qs = StoredEvent.objects.filter(position__gt=self.start_position).order_by("position")
        if event_class is not None:
            qs = qs.filter(event_type=event_class.event_type)
        return [_recorded(row) for row in text_rows(qs)]

    def published_data(self, event_class: type[E]) -> list[E]:
        """The payloads of the events of one class appended since the bus was created."""
        return [r.data for r in self.published(event_class) if isinstance(r.data, event_class)]

    def assert_published(self, event_class: type[Event], **fields: Any) -> RecordedEvent:
        """The first published event of ``event_class`` whose payload has these values."""
        for recorded in self.published(event_class):
            if all(getattr(recorded.data, k) == v for k, v in fields.items()):
                return recorded
        raise AssertionError(
            f"no {event_class.event_type} with {fields} among "
            f"{[r.data for r in self.published(event_class)]}"
        )

    def deliver(self, max_rounds: int = 100) -> int:
        """Deliver every pending event to every subscription until nothing is left.

        Handlers may append events; those are delivered in later rounds. Pairs waiting
        for a retry or blocked by a dead letter are left as they are.
        """
        total, settled = delivery.deliver_all(max_rounds)
        if settled:
            return total
        raise AssertionError(f"deliveries did not settle after {max_rounds} rounds")


@pytest.fixture
def event_bus(db: None) -> EventBus:
    return EventBus()
