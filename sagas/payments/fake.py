"""The built-in fake payment provider, for development and tests: it answers at once and
calls our webhook back a moment later, signed like a real provider would.

The outcome is picked by the team's name, like a card number in a provider's test mode:
a name containing ``decline`` is declined, one containing ``nopay`` never gets a
callback (the payment deadline passes), anything else is paid. While the Redis key
``down_key()`` exists the provider is down (``ProviderUnavailable``), so the circuit
breaker can be watched opening and closing."""

from __future__ import annotations

import functools
import json
import logging
import uuid

import redis
from celery import current_app
from django.conf import settings
from django.db import transaction

from sagas.payments import CreatedPayment, PaymentRequest, ProviderUnavailable

logger = logging.getLogger(__name__)

CALLBACK_TASK = "sagas.fake_provider_callback"
CALLBACK_DELAY_SECONDS = 0.5


@functools.cache
def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)


def down_key() -> str:
    return f"easychamp:fakepay:{settings.PAYMENTS_BREAKER_NAME}:down"


def set_down(down: bool) -> None:
    client = _redis(settings.REDIS_URL)
    if down:
        client.set(down_key(), "1")
    else:
        client.delete(down_key())


def outcome_for(description: str) -> str:
    lowered = description.lower()
    if "decline" in lowered:
        return "failed"
    if "nopay" in lowered:
        return "none"
    return "succeeded"


class FakeProvider:
    name = "fake"

    def create_payment(self, request: PaymentRequest) -> CreatedPayment:
        try:
            down = bool(_redis(settings.REDIS_URL).exists(down_key()))
        except redis.RedisError as exc:
            raise ProviderUnavailable(f"fake provider: {exc}") from exc
        if down:
            raise ProviderUnavailable("fake provider is down")
        payment_id = "fake_" + uuid.uuid5(uuid.NAMESPACE_URL, request.idempotency_key).hex
        outcome = outcome_for(request.description)
        if outcome != "none":
            body = {
                "id": "evt_" + uuid.uuid4().hex,
                "payment_id": payment_id,
                "status": outcome,
                "amount": str(request.amount),
                "currency": request.currency,
                "reference": str(request.reference),
                "reason": "card declined" if outcome == "failed" else "",
            }
            # After our transaction commits: the webhook must find the payment.
            transaction.on_commit(lambda: _schedule_callback(body))
        return CreatedPayment(provider_payment_id=payment_id)

    def cancel_payment(self, provider_payment_id: str) -> None:
        logger.info("fake provider: payment %s voided", provider_payment_id)


def _schedule_callback(body: dict[str, str]) -> None:
    current_app.send_task(CALLBACK_TASK, args=[json.dumps(body)], countdown=CALLBACK_DELAY_SECONDS)
