"""Lock order on PostgreSQL: a payment webhook and the saga's commands take an entry's
row before its payment's, so neither ever holds one while waiting for the other."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from django.db import connection

from bench.workers import database_url
from events.testing import EventBus
from sagas import entries
from sagas.models import Payment
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
