"""Ids parsed at the URL: a malformed id matches no route, so it gets the API's JSON 404
(``championships.api.views.base.not_found``) like an unknown one, in one place."""

from __future__ import annotations

from uuid import UUID


class UUIDConverter:
    """Any path segment; only a valid UUID matches (any case, with or without hyphens)."""

    regex = "[^/]+"

    def to_python(self, value: str) -> UUID:
        return UUID(value)  # ValueError: no match

    def to_url(self, value: UUID | str) -> str:
        return str(value)


class UserIdConverter:
    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int | str) -> str:
        return str(value)
