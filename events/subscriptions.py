"""Subscriptions: named subscribers to event types, registered explicitly at start-up.

A subscription's handler runs inside the delivery transaction: its own database writes
commit together with the checkpoint advance, so they happen exactly once however often
the event is delivered. Effects outside the database (websocket push, email, broker
publish) must be safe to repeat: key them by ``event.event_id`` or defer them with
``transaction.on_commit``. A handler may append new events; they carry the handled
event's correlation id, and its event id as causation id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from events.registry import Event, EventRegistrationError
from events.store import RecordedEvent

Handler = Callable[[RecordedEvent], None]
BatchHandler = Callable[[list[RecordedEvent]], None]


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter: attempt n waits up to base * 2**(n-1)."""

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 300.0

    def delay(self, attempt: int, rand: float) -> float:
        """Seconds before retry ``attempt`` (1-based); ``rand`` is uniform in [0, 1)."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        # Half fixed, half random: delays still grow, while retries of many streams
        # that failed together spread out instead of hammering in lockstep.
        return ceiling / 2 + ceiling / 2 * rand


@dataclass(frozen=True)
class Subscription:
    """A named subscriber. ``event_types`` empty means every type.

    ``stream_types`` limits which streams it follows (None: all). ``batch_size`` caps how
    many events one delivery transaction handles. ``batch_handler``, if given, receives
    all the wanted events of a delivery at once (one write instead of one per event);
    when it fails, the batch is handled again one event at a time with ``handler`` to
    find the failing event, so both must have the same effect.
    """

    name: str
    handler: Handler
    event_types: frozenset[str] = frozenset()
    stream_types: frozenset[str] | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    batch_size: int = 500
    batch_handler: BatchHandler | None = None

    def wants(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types

    def follows(self, stream_type: str) -> bool:
        return self.stream_types is None or stream_type in self.stream_types


class SubscriptionRegistry:
    def __init__(self) -> None:
        self._subscriptions: dict[str, Subscription] = {}

    def register(self, subscription: Subscription) -> Subscription:
        existing = self._subscriptions.get(subscription.name)
        if existing is not None and existing.handler is not subscription.handler:
            handler = existing.handler
            raise EventRegistrationError(
                f"subscription {subscription.name!r} is already registered "
                f"to {handler.__module__}.{handler.__qualname__}"
            )
        self._subscriptions[subscription.name] = subscription
        return subscription

    def unregister(self, name: str) -> None:
        """Remove a subscription (tests only)."""
        self._subscriptions.pop(name, None)

    def get(self, name: str) -> Subscription:
        try:
            return self._subscriptions[name]
        except KeyError:
            raise EventRegistrationError(f"no subscription named {name!r}") from None

    def all(self) -> list[Subscription]:
        return list(self._subscriptions.values())

    def following(self, stream_type: str) -> list[Subscription]:
        return [s for s in self._subscriptions.values() if s.follows(stream_type)]


subscriptions = SubscriptionRegistry()


def subscribe(
    name: str,
    handler: Handler,
    *,
    event_types: Iterable[type[Event] | str] = (),
    stream_types: Iterable[str] | None = None,
    retry: RetryPolicy | None = None,
    batch_size: int = 500,
    batch_handler: BatchHandler | None = None,
) -> Subscription:
    """Register ``handler`` under ``name`` for these event types (classes or type names)."""
    types = frozenset(t if isinstance(t, str) else t.event_type for t in event_types)
    return subscriptions.register(
        Subscription(
            name=name,
            handler=handler,
            event_types=types,
            stream_types=frozenset(stream_types) if stream_types is not None else None,
            retry=retry or RetryPolicy(),
            batch_size=batch_size,
            batch_handler=batch_handler,
        )
    )
