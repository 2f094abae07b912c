"""Plain SQL for the hot paths, prepared where the database can.

Django binds its parameters on the client, so PostgreSQL parses and plans every
statement it runs anew. The few statements every goal runs (a match command's reads
and writes, the player statistics) go through here instead: on PostgreSQL straight to
the driver with server-side binding, prepared once per physical connection (a pooled
connection keeps them), as the event store's appends are; elsewhere (SQLite) through
Django's cursor. ``DATABASE_PREPARED=0`` (a pooler in transaction mode) turns the
preparing off with the rest (``easychamp.database``).

Django's query log and execute wrappers do not see these statements; errors are the
driver's (``DatabaseUnavailableMiddleware`` knows psycopg's).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from django.db import connection


def fetch(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Run ``sql`` in the current transaction and return its rows."""
    if connection.vendor == "postgresql":
        connection.ensure_connection()
        with psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(sql, params, prepare=True)
            return cursor.fetchall()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def execute(sql: str, params: Sequence[Any]) -> None:
    """Run ``sql`` (a write that returns no rows) in the current transaction."""
    if connection.vendor == "postgresql":
        connection.ensure_connection()
        with psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(sql, params, prepare=True)
        return
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
