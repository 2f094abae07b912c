"""Lock orders on PostgreSQL: whatever two paths lock the same rows take them in the
same order, so neither holds one while waiting for the other (no deadlock to abort)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import psycopg
import pytest
from django.db import connection

from bench.workers import database_url
from events.testing import EventBus
from sagas import bus, engine, entries, registration
from sagas.models import CommandRecord, Payment
from tests.sagas.conftest import settle
from tests.sagas.test_entries import request_entry

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("clean_breaker"),
]


def waiting_for_a_lock(other_than: int) -> bool:
    """Whether a session of this database other than ``other_than`` waits for a lock."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND pid <> %s",
            [other_than],
        )
        row = cursor.fetchone()
    return bool(row and row[0])


def test_a_webhook_waiting_for_its_entry_holds_no_lock_on_the_payment(
    event_bus: EventBus, open_championship
) -> None:
    # Given an entry awaiting its payment, its row held by a saga command (VoidPayment
    # locks the entry, then the payment)
    entry = request_entry(open_championship, "Lockers")
    settle(event_bus)
    payment = Payment.objects.get(entry=entry)
    with psycopg.connect(database_url()) as command:
        command.execute("SELECT 1 FROM sagas_teamentry WHERE id = %s FOR UPDATE", [entry.id])
        holder = command.info.backend_pid

        # When the provider's webhook arrives meanwhile
        recorded: list[bool] = []

        def webhook() -> None:
            try:
                recorded.append(
                    entries.payment_webhook_record(
                        provider_payment_id=payment.provider_payment_id,
                        status="succeeded",
                        amount=str(payment.amount),
                        currency=payment.currency,
                    )
                )
            finally:
                connection.close()

        thread = threading.Thread(target=webhook)
        thread.start()
        deadline = time.monotonic() + 10
        while not waiting_for_a_lock(holder):
            assert time.monotonic() < deadline, "the webhook never waited for the entry"
            time.sleep(0.05)

        # Then the command can still take the payment's row (the webhook holds nothing)
        command.execute("SELECT 1 FROM sagas_payment WHERE id = %s FOR UPDATE NOWAIT", [payment.id])
        command.rollback()
    thread.join(10)
    assert recorded == [True]
    assert Payment.objects.get(id=payment.id).status == "succeeded"


def test_an_operators_retry_while_a_worker_finishes_the_command_does_not_deadlock(
    event_bus: EventBus, default_league, monkeypatch
) -> None:
    # Given a saga whose command a worker is running for the last time, and will fail
    registration.player_register(username="dl", email="dl@example.com", password="x9-Tq!mz-77")
    event_bus.deliver()
    record = CommandRecord.objects.get(name="CreatePlayerProfile")
    CommandRecord.objects.filter(id=record.id).update(attempts=bus.MAX_ATTEMPTS - 1)
    started, go = threading.Event(), threading.Event()

    def slow_failing(command: CommandRecord) -> None:
        started.set()
        go.wait(10)
        raise RuntimeError("the database of the profile service is down")

    monkeypatch.setitem(bus._handlers, "CreatePlayerProfile", slow_failing)
    errors: list[BaseException] = []

    def in_thread(work: Callable[[], object]) -> threading.Thread:
        def run() -> None:
            try:
                work()
            except BaseException as exc:  # noqa: BLE001 - reported by the test
                errors.append(exc)
            finally:
                connection.close()

        thread = threading.Thread(target=run)
        thread.start()
        return thread

    worker = in_thread(lambda: bus.run(record.id))
    assert started.wait(10)

    # When an operator retries the saga's step meanwhile
    saga_id = record.saga_id
    assert saga_id is not None
    operator = in_thread(lambda: engine.saga_retry_step(saga_id=saga_id, actor="ops"))
    deadline = time.monotonic() + 10
    while not waiting_for_a_lock(connection.connection.info.backend_pid):
        assert time.monotonic() < deadline, "the operator never waited for the command"
        time.sleep(0.05)
    go.set()
    worker.join(20)
    operator.join(20)

    # Then both finish: the command failed for good, and the operator's retry sent it again
    assert errors == []
    assert CommandRecord.objects.get(id=record.id).attempts == 0
