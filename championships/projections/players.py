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

from django.db import transaction
from django.db.models import F

from championships import events as ev
from championships import knockout_events as kev
from championships.models import Match, PlayerMatchStat, PlayerStatsApplied, PlayerStatsHead
from events import store
from events.registry import Event
from events.replay import Delivered

SUBSCRIPTION = "championships.player_stats"
HANDLED_EVENTS: tuple[type[Event], ...] = (ev.GoalScored, kev.CardShown, ev.MatchPostponed)
HANDLED_TYPES = tuple(cls.event_type for cls in HANDLED_EVENTS)
_CARD_FIELDS = {"yellow": "yellow", "second_yellow": "second_yellow", "red": "red"}


def _lock(championship_id: UUID) -> None:
    PlayerStatsHead.objects.select_for_update().get_or_create(championship_id=championship_id)


def apply_player_stats(recorded: store.RecordedEvent) -> None:
    """Count one goal or card, or void a postponed match's (idempotent)."""
    event = recorded.data
    championship_id: UUID = getattr(event, "championship_id")  # noqa: B009
    match_id: UUID = getattr(event, "match_id")  # noqa: B009
    with transaction.atomic(savepoint=False):
        _lock(championship_id)
        applied = PlayerStatsApplied.objects.filter(match_id=match_id).first()
        if applied is not None and applied.version >= recorded.version:
            return
        _apply(event)
        PlayerStatsApplied.objects.update_or_create(
            match_id=match_id,
            defaults={"championship_id": championship_id, "version": recorded.version},
        )


def _apply(event: Event) -> None:
    if isinstance(event, ev.MatchPostponed):
        PlayerMatchStat.objects.filter(match_id=event.match_id).delete()
        return
    if isinstance(event, ev.GoalScored):
        team_id = event.team_id
        if event.own_goal:
            # The scorer plays for the other team; the goal counts for this one.
            team_id = _other_team(event.match_id, event.team_id)
        field = "own_goals" if event.own_goal else "goals"
        _add(event.championship_id, event.match_id, team_id, event.player, field)
        if event.penalty:
            _add(event.championship_id, event.match_id, team_id, event.player, "penalty_goals")
    elif isinstance(event, kev.CardShown):
        field = _CARD_FIELDS[event.card]
        _add(event.championship_id, event.match_id, event.team_id, event.player, field)


def _other_team(match_id: UUID, team_id: UUID) -> UUID:
    home, away = Match.objects.values_list("home_team_id", "away_team_id").get(id=match_id)
    other = away if home == team_id else home
    assert other is not None
    return other


def _add(championship_id: UUID, match_id: UUID, team_id: UUID, player: str, field: str) -> None:
    row, _ = PlayerMatchStat.objects.get_or_create(
        match_id=match_id,
        team_id=team_id,
        player=player,
        defaults={"championship_id": championship_id},
    )
    PlayerMatchStat.objects.filter(pk=row.pk).update(**{field: F(field) + 1})


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
