"""Plain SQL for the hot paths, prepared where the database can.

Django binds its parameters on the client, so PostgreSQL parses and plans every
statement it runs anew. The few statements every goal runs (a match command's reads
and writes, the player statistics) go through here instead: on PostgreSQL through the
event store's ``run_prepared`` (server-side binding, prepared once per physical
connection, which a pooled connection keeps); elsewhere (SQLite) through Django's
cursor. ``DATABASE_PREPARED=0`` (a pooler in transaction mode) turns the preparing off
with the rest (``easychamp.database``).

Django's query log and execute wrappers do not see these statements; errors are the
driver's (``DatabaseUnavailableMiddleware`` knows psycopg's).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from django.db import connection
from django.db.models import UUIDField

from events.backends.postgresql import run_prepared

_UUID_FIELD = UUIDField()


def fetch(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Run ``sql`` in the current transaction and return its rows."""
    return _run(sql, params, rows=True)


def execute(sql: str, params: Sequence[Any]) -> None:
    """Run ``sql`` (a write that returns no rows) in the current transaction."""
    _run(sql, params, rows=False)


def uuid_param(value: UUID) -> Any:
    """A UUID as the database takes it as a parameter (hex text on SQLite)."""
    return _UUID_FIELD.get_db_prep_value(value, connection, prepared=False)


def _run(sql: str, params: Sequence[Any], *, rows: bool) -> list[tuple[Any, ...]]:
    if connection.vendor == "postgresql":
        return run_prepared(sql, params, rows=rows)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if rows else []
