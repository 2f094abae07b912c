"""One clock for delivery: the database's.

Retry times and checkpoint timestamps are compared by the database (``clock_timestamp()``
on PostgreSQL), so they are written and measured by it too: a worker whose clock is
ahead would otherwise schedule a retry the database never finds due (and drop it), one
whose clock is behind would retry before the backoff has passed. Workers only ever see
durations ("retry in 1.3 s"), which mean the same on every clock.

On SQLite the database runs in the process, so its clock is the machine's; the same
expressions keep the SQL identical in shape and the stored text format Django's.

Here: the expressions and ``database_now``; the SQL each database reads its clock with
is in its backend (``events.backends.postgresql``, ``events.backends.sqlite``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import DateTimeField, Expression, F, FloatField, Func
from django.db.models.sql.compiler import SQLCompiler

from events.backends import recorder

# (sql, params): Django concatenates params as lists, whatever django-stubs says.
SQL = tuple[str, Any]


class DatabaseNow(Func):
    """The database's current time, optionally plus ``seconds`` (computed in SQL).

    On PostgreSQL ``clock_timestamp()`` rather than ``now()``: the time of the write,
    not of the start of the (possibly long) delivery transaction.
    """

    output_field = DateTimeField()

    def __init__(self, seconds: float = 0.0) -> None:
        super().__init__()
        self.seconds = float(seconds)

    def as_sql(
        self,
        compiler: SQLCompiler,
        connection: BaseDatabaseWrapper,
        function: str | None = None,
        template: str | None = None,
        arg_joiner: str | None = None,
        **extra_context: Any,
    ) -> SQL:
        return recorder(connection.vendor).now_sql(self.seconds)

    def deconstruct(self) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
        kwargs = {"seconds": self.seconds} if self.seconds else {}
        return "events.clock.DatabaseNow", (), kwargs


class SecondsUntil(Func):
    """Seconds from the database's now until a datetime column (0 if past or NULL)."""

    output_field = FloatField()

    def __init__(self, column: str | Expression) -> None:
        super().__init__(F(column) if isinstance(column, str) else column)

    def as_sql(
        self,
        compiler: SQLCompiler,
        connection: BaseDatabaseWrapper,
        function: str | None = None,
        template: str | None = None,
        arg_joiner: str | None = None,
        **extra_context: Any,
    ) -> SQL:
        column_sql, params = compiler.compile(self.source_expressions[0])
        return seconds_until_sql(column_sql, connection.vendor), list(params)


def seconds_until_sql(column_sql: str, vendor: str) -> str:
    """SQL for the seconds from the database's now until ``column_sql`` (0 if past/NULL)."""
    return recorder(vendor).seconds_until_sql(column_sql)


def database_now(using: str = DEFAULT_DB_ALIAS) -> datetime:
    """The database's current time (aware, UTC)."""
    connection = connections[using]
    with connection.cursor() as cursor:
        return recorder(connection.vendor).database_now(cursor)
