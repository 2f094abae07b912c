"""Domain errors → HTTP, in one place (``REST_FRAMEWORK["EXCEPTION_HANDLER"]``).

NotFound → 404, InvalidCommand → 400, InvalidState → 409, PermissionDenied → 403.
``ConcurrencyError`` → 412 when the request carried ``If-Match`` (the client's version
is stale), else 409 (a concurrent writer kept winning). A database that cannot be
reached (or a pool with no free connection in time) → 503 with ``Retry-After``
(``easychamp.unavailable``). Bodies are ``{"detail": ...}``.
"""

from __future__ import annotations

import logging
from typing import Any

from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from championships import exceptions as domain
from easychamp.unavailable import DETAIL, RETRY_AFTER_SECONDS, is_unavailable
from events.store import ConcurrencyError

logger = logging.getLogger("championships.api")


class BadRequest(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "The request is invalid."
    default_code = "invalid"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "The resource has changed since the version given in If-Match."
    default_code = "precondition_failed"


_DOMAIN: list[tuple[type[domain.DomainError], type[exceptions.APIException]]] = [
    (domain.NotFound, exceptions.NotFound),
    (domain.InvalidCommand, BadRequest),
    (domain.InvalidState, Conflict),
    (domain.PermissionDenied, exceptions.PermissionDenied),
]


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    response = _handle(exc, context)
    if response is None:
        # Not an error this API expects: logged with its traceback, answered in JSON.
        logger.error("unhandled error in the API", exc_info=exc)
        return Response(
            {"detail": "internal server error"},
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    return response


def _handle(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ConcurrencyError):
        return _concurrency(exc, context)
    if is_unavailable(exc):
        return Response(
            {"detail": DETAIL},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    if isinstance(exc, domain.InvalidCommand) and exc.field:
        return Response({exc.field: [str(exc)]}, status=status.HTTP_400_BAD_REQUEST)
    for domain_class, api_class in _DOMAIN:
        if isinstance(exc, domain_class):
            exc = api_class(detail=str(exc))
            break
    return drf_exception_handler(exc, context)


def _concurrency(exc: ConcurrencyError, context: dict[str, Any]) -> Response:
    request = context.get("request")
    stale = request is not None and "If-Match" in request.headers
    api_exc: exceptions.APIException
    if stale:
        api_exc = PreconditionFailed(
            detail=f"the resource is at version {exc.actual_version}, "
            f"not {exc.expected_version}: reload it and try again"
        )
    else:
        api_exc = Conflict(detail="another change to this resource won the race: try again")
    return Response(
        {"detail": api_exc.detail, "current_version": exc.actual_version},
        status=api_exc.status_code,
        headers={"ETag": f'"{exc.actual_version}"'},
    )
