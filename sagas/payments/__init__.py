"""Payment providers: the adapter interface, the provider in use (``PAYMENTS_PROVIDER``),
and the circuit breaker every call to it goes through (``sagas.payments.breaker``)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol
from uuid import UUID

from django.conf import settings
from django.utils.module_loading import import_string


class ProviderUnavailable(Exception):
    """The provider could not be reached or answered with an error: try again later."""


@dataclass(frozen=True)
class PaymentRequest:
    reference: UUID  # our entry id
    amount: Decimal
    currency: str
    description: str
    idempotency_key: str  # the command id: asking twice creates one payment


@dataclass(frozen=True)
class CreatedPayment:
    provider_payment_id: str


class PaymentProvider(Protocol):
    """What the team entry saga needs of a payment provider. The provider reports the
    outcome later, through the signed webhook (``POST /api/v1/webhooks/payments/``)."""

    name: str

    def create_payment(self, request: PaymentRequest) -> CreatedPayment:
        """Ask for a payment; raises ``ProviderUnavailable`` when it cannot."""
        ...

    def cancel_payment(self, provider_payment_id: str) -> None:
        """Void (or refund) a payment; asking twice is harmless."""
        ...


def provider() -> PaymentProvider:
    cls = import_string(settings.PAYMENTS_PROVIDER)
    instance: PaymentProvider = cls()
    return instance
