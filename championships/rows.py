"""The match rows a command reads and writes (and a match's response reads), with plain
SQL built once from the models.

A live match takes a command per goal, and the ORM compiled the same four statements
(the match with its championship and teams, its goals, the new goal, the match's
update) on every one: over 1 ms of a goal's CPU, more than running them costs. The SQL
here is built once per process from the models' metadata (and prepared, on PostgreSQL:
``easychamp.prepared``), and values go through the
ORM's own conversions both ways (``get_db_prep_save`` in; ``connection.ops`` and the
fields' converters out), so the instances are those the ORM would have built
(``Model.from_db``, the related rows in the field caches ``select_related`` fills) and
the rows those it would have written. No model here has save() logic or signals.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any, cast

from django.db import connection
from django.db.models import Model
from django.db.models.fields import Field

from championships.models import Championship, Goal, Match, Team
from easychamp import prepared

Converter = Callable[[Any, Any, Any], Any]


def _field(model: type[Model], name: str) -> Field[Any, Any]:
    field = model._meta.get_field(name)
    assert isinstance(field, Field)
    return field


def _column(field: Field[Any, Any]) -> str:
    assert field.column is not None
    return field.column


class _Columns:
    """A model's concrete fields as selected from one table alias, with their converters."""

    def __init__(self, model: type[Model], alias: str, fields: Sequence[str] | None = None):
        self.model = model
        concrete = model._meta.concrete_fields
        chosen = [f for f in concrete if fields is None or f.attname in fields]
        if fields is not None:
            chosen.sort(key=lambda f: list(fields).index(f.attname))
        self.fields: list[Field[Any, Any]] = chosen
        self.attnames = [f.attname for f in chosen]
        quote = connection.ops.quote_name
        self.sql = [f"{alias}.{quote(_column(f))}" for f in chosen]
        self.converters: list[tuple[Any, list[Converter]]] = []
        for f in chosen:
            col = f.get_col(alias)
            converters = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
            self.converters.append((col, converters))

    def values(self, row: Sequence[Any]) -> list[Any]:
        out = []
        for value, (col, converters) in zip(row, self.converters, strict=True):
            for converter in converters:
                value = converter(value, col, connection)
            out.append(value)
        return out

    def build(self, row: Sequence[Any]) -> Model:
        return self.model.from_db(connection.alias, self.attnames, self.values(row))


class _MatchQueries:
    """The SELECTs of one database (SQL differs in its quoting and converters)."""

    def __init__(self) -> None:
        quote = connection.ops.quote_name
        self.match = _Columns(Match, "m")
        self.championship = _Columns(Championship, "c")
        self.home = _Columns(Team, "h")
        self.away = _Columns(Team, "a")
        table = {m: quote(m._meta.db_table) for m in (Match, Championship, Team, Goal)}
        columns = [
            *self.match.sql,
            *self.championship.sql,
            *self.home.sql,
            *self.away.sql,
        ]
        self.goal = _Columns(Goal, "g", ["team_id", "minute", "player", "own_goal", "penalty"])
        # PostgreSQL: the match's goals come with it, one array per goal column, in
        # order (a command on a live match needs them: one round trip less).
        self.goals_with_match = connection.vendor == "postgresql"
        goal_arrays = (
            [
                f"ARRAY(SELECT {column} FROM {table[Goal]} g WHERE g.match_id = m.id "
                "ORDER BY g.sequence)"
                for column in self.goal.sql
            ]
            if self.goals_with_match
            else []
        )
        self.match_sql = (
            f"SELECT {', '.join([*columns, *goal_arrays])} FROM {table[Match]} m "
            f"JOIN {table[Championship]} c ON c.id = m.championship_id "
            f"LEFT JOIN {table[Team]} h ON h.id = m.home_team_id "
            f"LEFT JOIN {table[Team]} a ON a.id = m.away_team_id "
            "WHERE m.id = %s"
        )
        self.goals_sql = (
            f"SELECT {', '.join(self.goal.sql)} FROM {table[Goal]} g "
            "WHERE g.match_id = %s ORDER BY g.sequence"
        )
        widths = [len(c.fields) for c in (self.match, self.championship, self.home)]
        self.bounds = [0, widths[0], widths[0] + widths[1], sum(widths), len(columns)]
        self.saved = [_field(Match, name) for name in MATCH_SAVED_FIELDS]
        assignments = ", ".join(f"{quote(_column(f))} = %s" for f in self.saved)
        self.update_sql = f"UPDATE {table[Match]} SET {assignments} WHERE id = %s"
        self.goal_fields = [_field(Goal, name) for name in _GOAL_WRITTEN]
        self.goal_columns = f"({', '.join(quote(_column(f)) for f in self.goal_fields)})"
        self.goal_values = f"({', '.join('%s' for _ in self.goal_fields)})"
        self.goal_table = table[Goal]
        self.insert_goal_sql = (
            f"INSERT INTO {self.goal_table} {self.goal_columns} VALUES {self.goal_values}"
        )
        self._with_goals: dict[int, str] = {}

    def with_goals_sql(self, goals: int) -> str:
        """PostgreSQL: insert ``goals`` goals and update the match, in one statement."""
        sql = self._with_goals.get(goals)
        if sql is None:
            values = ", ".join([self.goal_values] * goals)
            sql = self._with_goals[goals] = (
                f"WITH new_goals AS (INSERT INTO {self.goal_table} {self.goal_columns} "
                f"VALUES {values}) {self.update_sql}"
            )
        return sql


# What a match command may change on its row (``save_match``).
MATCH_SAVED_FIELDS = (
    "home_team",
    "away_team",
    "status",
    "home_score",
    "away_score",
    "minute",
    "kickoff",
    "awarded_to",
    "version",
    "extra_time",
    "penalties_home",
    "penalties_away",
)
_GOAL_WRITTEN = ("match", "sequence", "team", "minute", "player", "own_goal", "penalty")


_queries: dict[str, _MatchQueries] = {}


def _for_connection() -> _MatchQueries:
    key = f"{connection.alias}:{connection.vendor}"
    queries = _queries.get(key)
    if queries is None:
        queries = _queries[key] = _MatchQueries()
    return queries


def match_with_teams(match_id: uuid.UUID, championship_id: uuid.UUID | None) -> Match | None:
    """The match with its championship and teams (None for a team slot still empty), or
    None if there is no such match (in that championship, when one is given)."""
    q = _for_connection()
    sql, params = q.match_sql, [prepared.uuid_param(match_id)]
    if championship_id is not None:
        sql += " AND m.championship_id = %s"
        params.append(prepared.uuid_param(championship_id))
    found = prepared.fetch(sql, params)
    if not found:
        return None
    row = found[0]
    b = q.bounds
    match = cast(Match, q.match.build(row[b[0] : b[1]]))
    Match.championship.field.set_cached_value(match, q.championship.build(row[b[1] : b[2]]))
    for side, columns, part in (
        (Match.home_team, q.home, row[b[2] : b[3]]),
        (Match.away_team, q.away, row[b[3] : b[4]]),
    ):
        side.field.set_cached_value(match, None if part[0] is None else columns.build(part))
    if q.goals_with_match:
        match.read_goals = [tuple(q.goal.values(goal)) for goal in zip(*row[b[4] :], strict=True)]
    return match


def match_goals(match_id: uuid.UUID) -> list[tuple[Any, ...]]:
    """The match's goals in order: (team_id, minute, player, own_goal, penalty)."""
    q = _for_connection()
    found = prepared.fetch(q.goals_sql, [prepared.uuid_param(match_id)])
    return [tuple(q.goal.values(row)) for row in found]


# A new goal's row: (match_id, sequence, team_id, minute, player, own_goal, penalty).
GoalRow = tuple[uuid.UUID, int, uuid.UUID, int, str, bool, bool]


def update_match(match: Match, new_goals: Sequence[GoalRow] = ()) -> None:
    """Insert ``new_goals`` and write ``MATCH_SAVED_FIELDS`` of ``match``
    (``save(update_fields=...)``'s UPDATE). On PostgreSQL one statement does both (the
    inserts in a WITH), so a goal costs one round trip less."""
    q = _for_connection()
    params = [f.get_db_prep_save(f.pre_save(match, False), connection) for f in q.saved]
    params.append(prepared.uuid_param(match.id))
    goal_params = [_goal_params(q, goal) for goal in new_goals]
    if not goal_params:
        prepared.execute(q.update_sql, params)
    elif connection.vendor == "postgresql":
        prepared.execute(
            q.with_goals_sql(len(goal_params)), [v for g in goal_params for v in g] + params
        )
    else:  # SQLite has no INSERT in a WITH
        for goal in goal_params:
            prepared.execute(q.insert_goal_sql, goal)
        prepared.execute(q.update_sql, params)


def _goal_params(q: _MatchQueries, goal: GoalRow) -> list[Any]:
    return [f.get_db_prep_save(v, connection) for f, v in zip(q.goal_fields, goal, strict=True)]
