"""What the championships' management commands share."""

from __future__ import annotations

import uuid

from django.core.management.base import CommandError
from django.db.models import QuerySet

from championships.models import Championship


def chosen_championships(
    value: str | None, championships: QuerySet[Championship]
) -> QuerySet[Championship]:
    """The championships a command's ``--championship <id>`` names (all of them without
    it); a malformed or unknown id is a CommandError."""
    if value is None:
        return championships
    try:
        championship_id = uuid.UUID(value)
    except ValueError:
        raise CommandError(f"{value!r} is not a valid id") from None
    chosen = championships.filter(id=championship_id)
    if not chosen.exists():
        raise CommandError(f"no championship with id {championship_id}")
    return chosen
