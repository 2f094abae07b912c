"""Webhook signatures: ``X-Payment-Signature: t=<unix seconds>,v1=<hex>`` where the hex
is HMAC-SHA256 over ``<t>.<raw body>`` with the shared secret (``PAYMENTS_WEBHOOK_SECRET``).
A timestamp outside ``PAYMENTS_WEBHOOK_TOLERANCE_SECONDS`` of our clock is refused, so a
captured request cannot be replayed later."""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "X-Payment-Signature"


class InvalidSignature(Exception):
    pass


def sign(body: bytes, secret: str, timestamp: int | None = None) -> str:
    """The header value for ``body`` (what the provider sends)."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={_digest(body, secret, t)}"


def verify(body: bytes, header: str | None, secret: str, tolerance: float) -> None:
    """Raise ``InvalidSignature`` unless ``header`` signs ``body`` recently enough."""
    if not header:
        raise InvalidSignature("missing signature")
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        parts.setdefault(key, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError):
        raise InvalidSignature("malformed signature: no timestamp") from None
    expected = _digest(body, secret, timestamp).encode()
    # Compared as bytes: compare_digest refuses (TypeError) a str that is not ASCII.
    given = [v.encode("utf-8", "replace") for v in parts.get("v1", [])]
    if not any(hmac.compare_digest(expected, g) for g in given):
        raise InvalidSignature("signature does not match")
    if abs(time.time() - timestamp) > tolerance:
        raise InvalidSignature("timestamp outside the tolerance")


def _digest(body: bytes, secret: str, timestamp: int) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
