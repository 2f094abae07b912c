"""Who and what caused the events being written: carried in a context variable.

The correlation middleware sets it for a request; delivery sets it (with causation =
the event being handled) while a handler runs; ``append`` stamps it on every event.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

import msgspec


class Metadata(msgspec.Struct, frozen=True, omit_defaults=True):
    """Event metadata. ``trace`` holds W3C trace context (``traceparent``, ``tracestate``)."""

    correlation_id: str
    causation_id: str | None = None
    user_id: str | None = None
    trace: dict[str, str] = msgspec.field(default_factory=dict)


@dataclass(frozen=True)
class _Context:
    correlation_id: str
    causation_id: str | None = None
    user_id: str | None = None
    # Resolved only when an event is appended: DRF authenticates inside the view, after
    # the middleware has run, and an anonymous read never needs the user at all.
    user_lookup: Callable[[], str | None] | None = None
    trace: dict[str, str] = field(default_factory=dict)


_current: ContextVar[_Context | None] = ContextVar("easychamp_event_context", default=None)


def new_correlation_id() -> str:
    return str(uuid.uuid4())


def current_metadata() -> Metadata:
    """The metadata for events appended now; a fresh correlation id outside any context."""
    ctx = _current.get()
    if ctx is None:
        return Metadata(correlation_id=new_correlation_id())
    user_id = ctx.user_id
    if user_id is None and ctx.user_lookup is not None:
        user_id = ctx.user_lookup()
    return Metadata(
        correlation_id=ctx.correlation_id,
        causation_id=ctx.causation_id,
        user_id=user_id,
        trace=ctx.trace,
    )


def _inherit(outer: _Context | None, name: str) -> str | None:
    value: str | None = getattr(outer, name) if outer is not None else None
    return value


@contextmanager
def event_context(
    *,
    correlation_id: str | None = None,
    causation_id: str | None = None,
    user_id: str | None = None,
    user_lookup: Callable[[], str | None] | None = None,
    trace: dict[str, str] | None = None,
) -> Iterator[None]:
    """Events appended inside this block carry these ids (unset ones are inherited)."""
    outer = _current.get()
    ctx = _Context(
        correlation_id=correlation_id
        or (outer.correlation_id if outer else None)
        or new_correlation_id(),
        causation_id=causation_id if causation_id is not None else _inherit(outer, "causation_id"),
        user_id=user_id if user_id is not None else _inherit(outer, "user_id"),
        user_lookup=user_lookup or (outer.user_lookup if outer else None),
        trace=trace if trace is not None else (outer.trace if outer else {}),
    )
    token = _current.set(ctx)
    try:
        yield
    finally:
        _current.reset(token)
