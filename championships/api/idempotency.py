"""``Idempotency-Key`` on POST: a retried request gets the first response back.

The record is claimed (inserted) at the start of the request's transaction and filled
with the response before it commits, in the same transaction as the command: so a key
has a stored response exactly when the write committed, and a request that failed can
be retried with the same key. A concurrent duplicate blocks on the record's unique
index (PostgreSQL) or on the write lock (SQLite) until the first commits, then replays
it: the command never runs twice. The same key with another method, path or body is
refused with 422. Keys are per user.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from typing import Any, TypeVar

from django.db import transaction
from django.utils import timezone
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from championships.api.errors import BadRequest
from championships.api.views.base import actor
from championships.models import IdempotencyRecord

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
_KEPT_HEADERS = ("ETag", "Location")

V = TypeVar("V", bound=APIView)
Handler = Callable[..., Response]


class KeyReused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = (
        "this Idempotency-Key was already used for a different request "
        "(another path or body): use a new key for a new request"
    )
    default_code = "idempotency_key_reused"


def idempotent(handler: Handler) -> Handler:
    """Wrap a view's ``post``: replay the stored response for a known key."""

    @functools.wraps(handler)
    def run(view: APIView, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get(HEADER)
        if key is None:
            return handler(view, request, *args, **kwargs)
        key = key.strip()
        if not key or len(key) > MAX_KEY_LENGTH or not (key.isascii() and key.isprintable()):
            raise BadRequest(f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable ASCII characters")
        fingerprint = _fingerprint(request)
        with transaction.atomic():
            record = _claim(actor(request), key, fingerprint)
            if record.status_code:
                if record.fingerprint != fingerprint:
                    raise KeyReused()
                return _replay(record)
            response = handler(view, request, *args, **kwargs)
            record.status_code = response.status_code
            record.body = response.data
            record.headers = {h: response[h] for h in _KEPT_HEADERS if response.has_header(h)}
            record.save(update_fields=["status_code", "body", "headers"])
        return response

    return run


def _fingerprint(request: Request) -> str:
    body = json.dumps(request.data, sort_keys=True, separators=(",", ":"), default=str)
    text = f"{request.method}\n{request.get_full_path()}\n{body}"
    return hashlib.sha256(text.encode()).hexdigest()


def _claim(user_id: int, key: str, fingerprint: str) -> IdempotencyRecord:
    """This request's new record (status 0), or the committed one of an earlier request.

    ON CONFLICT DO NOTHING waits for a concurrent holder of the same key to commit or
    roll back, and raises nothing, so the enclosing transaction stays usable."""
    IdempotencyRecord.objects.bulk_create(
        [
            IdempotencyRecord(
                user_id=user_id, key=key, fingerprint=fingerprint, created_at=timezone.now()
            )
        ],
        ignore_conflicts=True,
    )
    return IdempotencyRecord.objects.get(user_id=user_id, key=key)


def _replay(record: IdempotencyRecord) -> Response:
    headers = {**record.headers, REPLAYED_HEADER: "true"}
    return Response(record.body, status=record.status_code, headers=headers)
