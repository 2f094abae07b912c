"""Domain errors raised by commands. The API maps them: NotFound → 404,
InvalidCommand → 400, InvalidState → 409, PermissionDenied → 403.
A stale ``expected_version`` raises ``events.store.ConcurrencyError`` (409/412)."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every championships domain error."""


class NotFound(DomainError):
    """The championship, team or match does not exist (in this championship)."""


class InvalidCommand(DomainError):
    """The input itself is wrong (negative score, unknown criterion, same team twice).

    ``field``: the input field at fault, when one is (the API answers ``{field: [msg]}``).
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InvalidState(DomainError):
    """The input is fine but not allowed now (goal in a scheduled match, completing twice)."""


class PermissionDenied(DomainError):
    """The actor is neither the owner nor a co-organiser of the championship."""
