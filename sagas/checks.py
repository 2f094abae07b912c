"""Deploy checks of the sagas' settings (``manage.py check --deploy``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks

MIN_SECRET_LENGTH = 32


@checks.register(checks.Tags.security, deploy=True)
def payment_webhook_secret(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    """Anyone who knows the webhook secret can report payments: the development default
    (or a short one) must not reach production."""
    secret = settings.PAYMENTS_WEBHOOK_SECRET
    if "insecure" in secret or len(secret) < MIN_SECRET_LENGTH:
        return [
            checks.Warning(
                "PAYMENTS_WEBHOOK_SECRET is the development default or shorter than "
                f"{MIN_SECRET_LENGTH} characters: anyone could sign payment webhooks.",
                hint="Set PAYMENTS_WEBHOOK_SECRET to the secret your payment provider signs with.",
                id="sagas.W001",
            )
        ]
    return []
