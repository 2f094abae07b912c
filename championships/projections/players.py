"""Player statistics: goals (top scorers) and cards (per player and per team, with
FIFA fair-play points), one row per player per match.

``apply_player_stats`` handles one event inside the delivery transaction; a match's
events are applied in version order and ``PlayerStatsApplied`` remembers the last one,
so a redelivered event changes nothing. A postponed (or abandoned) match's goals and
cards are void, as on the match itself. ``rebuild_player_stats`` replays what live
delivery has handled (``events.replay``), with the same ``_apply``.
"""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from django.db import connection, transaction

from championships import events as ev
from championships import knockout_events as kev
from championships.models import Match, PlayerMatchStat, PlayerStatsApplied, PlayerStatsHead
from easychamp import prepared
from events import store
from events.registry import Event
from events.replay import Delivered

SUBSCRIPTION = "championships.player_stats"
HANDLED_EVENTS: tuple[type[Event], ...] = (ev.GoalScored, kev.CardShown, ev.MatchPostponed)
HANDLED_TYPES = tuple(cls.event_type for cls in HANDLED_EVENTS)
_CARD_FIELDS = {"yellow": "yellow", "second_yellow": "second_yellow", "red": "red"}
_COUNTERS = ("goals", "penalty_goals", "own_goals", "yellow", "second_yellow", "red")


def _lock(championship_id: UUID) -> None:
    """Take the championship's turn (its head row, created on first use)."""
    head = PlayerStatsHead._meta.db_table
    key = prepared.uuid_param(championship_id)
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    if prepared.fetch(f"SELECT 1 FROM {head} WHERE championship_id = %s{lock}", [key]):
        return
    prepared.execute(
        f"INSERT INTO {head} (championship_id) VALUES (%s) "
        "ON CONFLICT (championship_id) DO UPDATE "
        "SET championship_id = excluded.championship_id",
        [key],
    )


def apply_player_stats(recorded: store.RecordedEvent) -> None:
    """Count one goal or card, or void a postponed match's (idempotent).

    The hot path of every goal: plain statements, prepared, rather than ORM reads and
    get_or_create: the turn, then (PostgreSQL) the applied version and the player's row
    in one statement, or (elsewhere) one each."""
    event = recorded.data
    championship_id: UUID = getattr(event, "championship_id")  # noqa: B009
    match_id: UUID = getattr(event, "match_id")  # noqa: B009
    with transaction.atomic(savepoint=False):
        _lock(championship_id)
        if isinstance(event, ev.GoalScored) and connection.vendor == "postgresql":
            # The version marked applied and the goal counted in one statement (the
            # count only if the mark was new).
            team_id, fields = _goal(event)
            _add(championship_id, match_id, team_id, event.player, fields, recorded.version)
            return
        if not _mark_applied(championship_id, match_id, recorded.version):
            return
        _apply(event)


def _mark_applied(championship_id: UUID, match_id: UUID, version: int) -> bool:
    """Record ``version`` as the match's last applied one; False if it already was (a
    redelivery: nothing to do)."""
    marked = prepared.fetch(
        _MARK_APPLIED,
        [prepared.uuid_param(match_id), prepared.uuid_param(championship_id), version],
    )
    return bool(marked)


_APPLIED = PlayerStatsApplied._meta.db_table
# A match's applied version moves forward only: a row back when it moved.
_MARK_APPLIED = (
    f"INSERT INTO {_APPLIED} (match_id, championship_id, version) VALUES (%s, %s, %s) "
    "ON CONFLICT (match_id) DO UPDATE SET version = excluded.version "
    f"WHERE {_APPLIED}.version < excluded.version RETURNING 1"
)


def _apply(event: Event) -> None:
    if isinstance(event, ev.MatchPostponed):
        PlayerMatchStat.objects.filter(match_id=event.match_id).delete()
        return
    if isinstance(event, ev.GoalScored):
        team_id, fields = _goal(event)
        _add(event.championship_id, event.match_id, team_id, event.player, fields)
    elif isinstance(event, kev.CardShown):
        fields = [_CARD_FIELDS[event.card]]
        _add(event.championship_id, event.match_id, event.team_id, event.player, fields)


def _goal(event: ev.GoalScored) -> tuple[UUID, list[str]]:
    """The scorer's team and the counters a goal adds to."""
    team_id = event.team_id
    if event.own_goal:
        # The scorer plays for the other team; the goal counts for this one.
        team_id = _other_team(event.match_id, event.team_id)
    fields = ["own_goals" if event.own_goal else "goals"]
    if event.penalty:
        fields.append("penalty_goals")
    return team_id, fields


def _other_team(match_id: UUID, team_id: UUID) -> UUID:
    home, away = Match.objects.values_list("home_team_id", "away_team_id").get(id=match_id)
    other = away if home == team_id else home
    assert other is not None
    return other


def _add(
    championship_id: UUID,
    match_id: UUID,
    team_id: UUID,
    player: str,
    fields: list[str],
    applied_version: int | None = None,
) -> None:
    """Add one to each of ``fields`` of the player's row for the match (created at 0).

    With ``applied_version`` (PostgreSQL): in the same statement, record it as the
    match's last applied version (``_mark_applied``), and add only if it was new."""
    table = PlayerMatchStat._meta.db_table
    counters = ", ".join(fields)
    ones = ", ".join("1" for _ in fields)
    increments = ", ".join(f"{f} = {table}.{f} + 1" for f in fields)
    zeros = [f for f in _COUNTERS if f not in fields]
    row = f"%s, %s, %s, %s, 0, {ones}, {', '.join('0' for _ in zeros)}"
    params: list[object] = [
        prepared.uuid_param(championship_id),
        prepared.uuid_param(match_id),
        prepared.uuid_param(team_id),
        player,
    ]
    source, mark = f"VALUES ({row})", ""
    if applied_version is not None:
        mark = f"WITH applied AS ({_MARK_APPLIED}) "
        source = f"SELECT {row} WHERE EXISTS (SELECT 1 FROM applied)"
        params = [params[1], params[0], applied_version, *params]
    prepared.execute(
        f"{mark}INSERT INTO {table} (championship_id, match_id, team_id, player, version, "
        f"{counters}, {', '.join(zeros)}) {source} "
        f"ON CONFLICT (match_id, team_id, player) DO UPDATE SET {increments}",
        params,
    )


def rebuild_player_stats(
    championship_id: UUID, *, progress: Callable[[int], None] | None = None
) -> int:
    """Rebuild one championship's player statistics from the store; the events replayed."""
    with transaction.atomic():
        _lock(championship_id)
        delivered = Delivered(SUBSCRIPTION)
        PlayerMatchStat.objects.filter(championship_id=championship_id).delete()
        PlayerStatsApplied.objects.filter(championship_id=championship_id).delete()
        match_ids = [
            str(m)
            for m in Match.objects.filter(championship_id=championship_id).values_list(
                "id", flat=True
            )
        ]
        last: dict[UUID, int] = {}
        replayed = 0
        for recorded in delivered.events(HANDLED_TYPES, match_ids):
            _apply(recorded.data)
            last[UUID(recorded.stream_id)] = recorded.version
            replayed += 1
            if progress is not None and replayed % 1000 == 0:
                progress(replayed)
        PlayerStatsApplied.objects.bulk_create(
            PlayerStatsApplied(match_id=m, championship_id=championship_id, version=v)
            for m, v in last.items()
        )
    return replayed
