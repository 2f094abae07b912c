from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from django.utils import timezone

from championships.models import Championship
from events.testing import EventBus
from sagas import bus, entries, registration
from sagas.models import CommandRecord, CommandStatus, EntryWindow, League
from sagas.payments import breaker, fake
from tests.championships.factories import ChampionshipFactory, UserFactory


def settle(event_bus: EventBus, rounds: int = 50, *, never: str = "") -> None:
    """In-process: deliver events to the sagas and run their due commands until nothing
    is left (what the workers do, without them). ``never``: a command name left pending
    (its worker or mail server hiccups on)."""
    for _ in range(rounds):
        delivered = event_bus.deliver()
        due = list(
            CommandRecord.objects.filter(status=CommandStatus.PENDING)
            .exclude(last_error__startswith="waiting")
            .exclude(name=never)
            .order_by("created_at")
            .values_list("id", flat=True)
        )
        for command_id in due:
            bus.run(command_id)
        if not delivered and not due:
            return
    raise AssertionError("sagas did not settle")


@pytest.fixture
def default_league(db: None) -> League:
    return registration.league_create(name="Players", capacity=2, is_default=True)


@pytest.fixture
def organiser():
    return UserFactory.create()


def open_entries(
    championship: Championship, organiser_id: int, capacity: int = 2, fee: str = "25.00"
) -> None:
    """Open (or change) the championship's entries: 25 EUR unless said, 60 s to pay."""
    entries.entries_open(
        actor_id=organiser_id,
        championship_id=championship.id,
        fee=Decimal(fee),
        currency="EUR",
        payment_deadline_seconds=60,
        capacity=capacity,
    )


@pytest.fixture
def open_championship(organiser) -> Championship:
    championship = ChampionshipFactory.create(actor_id=organiser.id)
    open_entries(championship, organiser.id)
    return championship


@pytest.fixture
def clean_breaker(settings, worker_id: str) -> Iterator[None]:
    """A breaker and a fake provider of this test's own (their state is in Redis)."""
    settings.PAYMENTS_BREAKER_NAME = f"test-{worker_id}-{timezone.now().timestamp()}"
    breaker.reset()
    fake.set_down(False)
    yield
    breaker.reset()
    fake.set_down(False)


def window(championship: Championship) -> EntryWindow:
    return EntryWindow.objects.get(championship=championship)


from tests.events.workers import celery_queue, producer_broker, workers  # noqa: E402, F401
