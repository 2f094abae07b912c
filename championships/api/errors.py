"""Domain errors → HTTP, in one place (``REST_FRAMEWORK["EXCEPTION_HANDLER"]``).

NotFound → 404, InvalidCommand → 400, InvalidState → 409, PermissionDenied → 403.
``ConcurrencyError`` → 412 when the request carried ``If-Match`` (the client's version
is stale), else 409 (a concurrent writer kept winning). A database that cannot be
reached (or a pool with no free connection in time) → 503 with ``Retry-After``
(``easychamp.unavailable``). Bodies are ``{"detail": ...}``.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.db import DatabaseError
from rest_framework import exceptions, status
from rest_framework.permissions import SAFE_METHODS
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from championships import exceptions as domain
from championships import selectors
from championships.models import Championship, Visibility
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
    return _hidden_draft(response, context) or response


# Client errors of a write that could tell whether its object exists.
_REVEALING = {400, 403, 409, 412, 415, 422}
# The first segment of a path under /api/v1/ whose <pk> names the object.
_OWNERS = {"championships": "championship", "matches": "match", "deductions": "deduction"}
# The championship of each, by the object's id.
_LOOKUPS = {"championship": "id", "match": "matches__id", "deduction": "deductions__id"}


def _hidden_draft(response: Response, context: dict[str, Any]) -> Response | None:
    """A write to an object that does not exist for the user (none with that id, or
    under somebody else's draft) fails with the same 404 whatever its body: bodies are
    validated before the object is read, so a 400 or 409 for a draft where a random id
    got the same told nothing, but a draft's 403 or a random id's 404 did; here both are
    the 404. Runs on error paths only."""
    request = context.get("request")
    pk = (context.get("kwargs") or {}).get("pk")
    if (
        request is None
        or pk is None
        or request.method in SAFE_METHODS
        or response.status_code not in _REVEALING
    ):
        return None
    # path_info: without the prefix a proxy serves the site under (SCRIPT_NAME).
    kind = _OWNERS.get(request.path_info.removeprefix("/api/v1/").split("/", 1)[0])
    if kind is None:
        return None
    not_found = Response(
        {"detail": f"{kind} {pk} does not exist"}, status=status.HTTP_404_NOT_FOUND
    )
    try:
        object_id = pk if isinstance(pk, uuid.UUID) else uuid.UUID(str(pk))
    except ValueError:
        return not_found  # no object has such an id (the sagas' routes take any string)
    try:
        championship = Championship.objects.filter(**{_LOOKUPS[kind]: object_id}).first()
        if championship is None:
            return not_found
        if championship.visibility != Visibility.DRAFT:
            return None
        if selectors.championship_organised_by(championship=championship, user=request.user):
            return None
    except DatabaseError:
        return None  # the error as it was: better than a 500 for this check
    return not_found


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
