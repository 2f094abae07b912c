"""A database that cannot be reached answers 503 with a JSON body, never a 500.

PostgreSQL restarting or down, or every pooled connection busy for longer than the
pool's timeout (psycopg_pool.PoolTimeout): the request failed before or without a
commit, so the client may retry it (with its Idempotency-Key, when it wrote).
Django wraps the driver's errors in ``django.db`` ones; the event store's hot statements
use the driver directly, so both families are recognised.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import psycopg
from django import db
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import server_error

RETRY_AFTER_SECONDS = 2
DETAIL = "The service is briefly unavailable (database unreachable or busy): retry shortly."

UNAVAILABLE: tuple[type[BaseException], ...] = (
    db.OperationalError,
    db.InterfaceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
)


def is_unavailable(exc: BaseException) -> bool:
    return isinstance(exc, UNAVAILABLE)


def unavailable_response() -> JsonResponse:
    response = JsonResponse({"detail": DETAIL}, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class DatabaseUnavailableMiddleware:
    """503 instead of 500 for the views outside the API (pages, /healthz), DEBUG or not."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        return unavailable_response() if is_unavailable(exception) else None


def handler500(request: HttpRequest) -> HttpResponse:
    """The last resort (DEBUG off): an error raised outside a view, e.g. in a middleware
    saving the session, is a 503 too when the database is the cause."""
    exc = sys.exc_info()[1]
    if exc is not None and is_unavailable(exc):
        return unavailable_response()
    return server_error(request)
