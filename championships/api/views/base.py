"""What every view shares: the acting user, parsing, and responses with ETags."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Sequence
from typing import Any

from django.http import HttpRequest, HttpResponseBase, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import serializers
from rest_framework.decorators import api_view, permission_classes, schema
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from championships.api.errors import BadRequest
from championships.api.etags import etag


@api_view(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
@permission_classes([AllowAny])
@schema(None)
def _no_route(request: Request, *args: Any, **kwargs: Any) -> Response:
    raise NotFound(f"no such resource: {request.path}")


@csrf_exempt
def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
    """Any /api/v1/ URL no route matches, a malformed id included: a JSON 404, without
    the Allow header DRF adds (it listed every method, twice OPTIONS, for no resource)."""
    response = _no_route(request, *args, **kwargs)
    if response.has_header("Allow"):
        del response["Allow"]
    return response


def allow_methods(*methods: str) -> Callable[[Any], Any]:
    """For the plain Django views under /api/v1/ (not DRF): another method is a JSON 405
    with ``Allow``, like the rest of the API (Django's require_GET answers an empty
    text/html one). Sync or async views."""

    def decorate(view: Any) -> Any:
        def refused(request: HttpRequest) -> JsonResponse | None:
            if request.method in methods:
                return None
            response = JsonResponse(
                {"detail": f'Method "{request.method}" not allowed.'}, status=405
            )
            response["Allow"] = ", ".join(methods)
            return response

        if asyncio.iscoroutinefunction(view):

            @functools.wraps(view)
            async def async_view(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
                return refused(request) or await view(request, *args, **kwargs)

            return async_view

        @functools.wraps(view)
        def sync_view(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            return refused(request) or view(request, *args, **kwargs)

        return sync_view

    return decorate


def actor(request: Request) -> int:
    user_id = request.user.pk
    assert isinstance(user_id, int), "writes need an authenticated user (permission classes)"
    return user_id


def parse(
    serializer_class: type[serializers.Serializer[Any]], request: Request, **context: Any
) -> Any:
    serializer = serializer_class(data=request.data, context={"request": request, **context})
    serializer.is_valid(raise_exception=True)
    return serializer


def with_etag(data: Any, version: int, status: int = 200, **headers: str) -> Response:
    return Response(data, status=status, headers={"ETag": etag(version), **headers})


def text_param(request: Request, name: str) -> str | None:
    """A query parameter as text (None when absent or empty); NUL is refused."""
    value = request.query_params.get(name)
    if value and "\x00" in value:
        raise BadRequest(f"{name} must not contain NUL characters")
    return value or None


def choice_param(request: Request, name: str, choices: Sequence[str]) -> str | None:
    """A query parameter that must be one of ``choices`` (None when absent or empty): any
    other value is a 400, as a bad integer is, not an empty list."""
    value = text_param(request, name)
    if value is not None and value not in choices:
        raise BadRequest(f"{name} must be one of {', '.join(choices)}; got {value!r}")
    return value


def int_param(
    request: Request, name: str, *, minimum: int = 0, maximum: int | None = None
) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer") from None
    if value < minimum or (maximum is not None and value > maximum):
        bound = f" and at most {maximum}" if maximum is not None else ""
        raise BadRequest(f"{name} must be at least {minimum}{bound}")
    return value
