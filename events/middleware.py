"""Correlation ids for HTTP requests."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase

from events.context import event_context, new_correlation_id

HEADER = "X-Correlation-ID"
_VALID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
# W3C Trace Context: version, trace id, parent id and flags in lower-case hex (a later
# version may append fields, which are not kept); all-zero ids and version ff are invalid.
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}")
_TRACESTATE = re.compile(r"[\x20-\x7e]{1,512}")


def _correlation_id(request: HttpRequest) -> str:
    given = request.headers.get(HEADER, "")
    # An id we cannot trust to be short and printable is replaced rather than stored.
    return given if _VALID.fullmatch(given) else new_correlation_id()


def _user_lookup(request: HttpRequest) -> Callable[[], str | None]:
    def lookup() -> str | None:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return str(user.pk)
        return None

    return lookup


def _trace(request: HttpRequest) -> dict[str, str]:
    """The request's trace context, if it is valid: it is stored on every event the
    request appends and on every event derived from them, so a header that is not a
    W3C traceparent (and the tracestate beside it) is dropped, as is a tracestate over
    the 512 characters the specification lets a vendor truncate to."""
    header = request.headers.get("traceparent", "").strip()
    parent = _TRACEPARENT.match(header)
    if parent is None:
        return {}
    version, trace_id, parent_id = parent.groups()
    if version == "ff" or trace_id == "0" * 32 or parent_id == "0" * 16:
        return {}
    if version == "00" and len(header) != parent.end():
        return {}
    trace = {"traceparent": parent.group(0)}
    state = request.headers.get("tracestate", "").strip()
    if _TRACESTATE.fullmatch(state):
        trace["tracestate"] = state
    return trace


class CorrelationIdMiddleware:
    """Reads ``X-Correlation-ID`` (or makes one), stamps it on every event appended while
    the request runs, and returns it in the response."""

    sync_capable = True
    async_capable = True

    def __init__(
        self,
        get_response: Callable[[HttpRequest], HttpResponseBase]
        | Callable[[HttpRequest], Awaitable[HttpResponseBase]],
    ) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        if self.is_async:
            return self.__acall__(request)
        correlation_id = _correlation_id(request)
        request.correlation_id = correlation_id  # type: ignore[attr-defined]
        with event_context(
            correlation_id=correlation_id, user_lookup=_user_lookup(request), trace=_trace(request)
        ):
            response = self.get_response(request)
        assert isinstance(response, HttpResponseBase)
        response[HEADER] = correlation_id
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        correlation_id = _correlation_id(request)
        request.correlation_id = correlation_id  # type: ignore[attr-defined]
        with event_context(
            correlation_id=correlation_id, user_lookup=_user_lookup(request), trace=_trace(request)
        ):
            response = await self.get_response(request)  # type: ignore[misc]
        response[HEADER] = correlation_id
        return response
