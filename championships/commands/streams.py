"""Loading aggregates from their rows and saving rows + events in one transaction."""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import ParamSpec, TypeVar
from uuid import UUID

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from championships import events as ev
from championships import rows
from championships.aggregates import (
    ChampionshipState,
    DeductionState,
    GoalState,
    MatchState,
    TeamState,
    apply_championship,
    apply_match,
)
from championships.exceptions import NotFound, PermissionDenied
from championships.models import (
    Championship,
    Deduction,
    DeductionChange,
    Goal,
    Match,
    MatchStatus,
    Team,
    Visibility,
)
from events import store
from events.registry import Event

P = ParamSpec("P")
R = TypeVar("R")

# Without an expected_version a lost race is retried with fresh state, with backoff and
# jitter, until this many seconds have passed since the first attempt: concurrent writers
# on one stream (8 goals at once on a live match) then all succeed in turn.
RETRY_DEADLINE_SECONDS = 5.0
RETRY_BASE_DELAY = 0.005
RETRY_MAX_DELAY = 0.2


def retry_delay(attempt: int) -> float:
    """Exponential backoff, drawn from the upper half (jitter) so racers spread out."""
    ceiling = min(RETRY_MAX_DELAY, RETRY_BASE_DELAY * 2 ** (attempt - 1))
    return random.uniform(ceiling / 2, ceiling)


def command(fn: Callable[P, R]) -> Callable[P, R]:
    """Run ``fn`` in one transaction. Without an ``expected_version`` a lost race on the
    stream is retried with fresh state (backoff and jitter, until a deadline); with one,
    the ConcurrencyError reaches the caller at once (HTTP If-Match: the client decides)."""

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        retry = kwargs.get("expected_version") is None
        deadline = time.monotonic() + RETRY_DEADLINE_SECONDS
        attempt = 0
        while True:
            attempt += 1
            try:
                with transaction.atomic():
                    return fn(*args, **kwargs)
            except store.ConcurrencyError:
                delay = retry_delay(attempt)
                if not retry or time.monotonic() + delay > deadline:
                    raise
            time.sleep(delay)

    return run


def check_expected(stream_id: str, expected_version: int | None, actual_version: int) -> None:
    if expected_version is not None and expected_version != actual_version:
        raise store.ConcurrencyError(stream_id, expected_version, actual_version)


def user_exists(user_id: int) -> bool:
    return get_user_model().objects.filter(id=user_id, is_active=True).exists()


def authorise(championship: Championship, actor_id: int) -> None:
    """Owner, co-organisers and superusers may change a championship."""
    if championship.owner_id == actor_id:
        return
    if championship.organisers.filter(id=actor_id).exists():
        return
    if get_user_model().objects.filter(id=actor_id, is_superuser=True, is_active=True).exists():
        return
    if championship.visibility == Visibility.DRAFT:
        # A draft does not exist for anybody else, writing or reading (404, not 403).
        raise NotFound(f"championship {championship.id} does not exist")
    raise PermissionDenied("only the owner or a co-organiser may change this championship")


# --- championship -------------------------------------------------------------------


def get_championship(championship_id: UUID) -> Championship:
    try:
        return Championship.objects.get(id=championship_id)
    except (Championship.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound(f"championship {championship_id} does not exist") from None


def championship_state(row: Championship) -> ChampionshipState:
    return ChampionshipState(
        championship_id=row.id,
        name=row.name,
        season=row.season,
        format=row.format,
        owner_id=row.owner_id,
        points_win=row.points_win,
        points_draw=row.points_draw,
        points_loss=row.points_loss,
        tie_breakers=tuple(row.tie_breakers),
        head_to_head_reapply=row.head_to_head_reapply,
        tie_break_preset=row.tie_break_preset,
        organiser_ids=frozenset(row.organisers.values_list("id", flat=True)),
        # Plain values, not model instances: a championship may have many teams.
        teams={
            team[0]: TeamState(*team)
            for team in Team.objects.filter(championship=row).values_list(
                "id", "name", "group", "withdrawn", "points_deducted"
            )
        },
        fixtures_generated=row.fixtures_generated,
        visibility=row.visibility,
        withdrawal_policy=row.withdrawal_policy,
        award_for=row.withdrawal_award_for,
        award_against=row.withdrawal_award_against,
        deductions={
            d[0]: DeductionState(*d)
            for d in Deduction.objects.filter(championship=row).values_list(
                "id", "team_id", "points"
            )
        },
        version=row.version,
    )


_CHAMPIONSHIP_FIELDS = [
    "name",
    "season",
    "points_win",
    "points_draw",
    "points_loss",
    "tie_breakers",
    "head_to_head_reapply",
    "tie_break_preset",
    "fixtures_generated",
    "visibility",
    "withdrawal_policy",
    "withdrawal_award_for",
    "withdrawal_award_against",
]


def save_championship(
    row: Championship, state: ChampionshipState, events: Sequence[Event]
) -> ChampionshipState:
    """Append ``events`` at the row's version, then bring the row (and its teams) up to
    the new state. Raises ConcurrencyError (writing nothing) if the stream moved."""
    recorded = store.append(str(row.id), events, row.version, stream_type=ev.CHAMPIONSHIP_STREAM)
    now = recorded[0].occurred_at if recorded else timezone.now()
    for event in events:
        state = apply_championship(state, event)
        if isinstance(event, ev.TeamRegistered):
            Team.objects.create(
                id=event.team_id, championship=row, name=event.name, group=event.group
            )
        elif isinstance(event, ev.TeamUpdated):
            Team.objects.filter(id=event.team_id, championship=row).update(
                name=event.name, group=event.group
            )
        elif isinstance(event, ev.TeamRemoved):
            Team.objects.filter(id=event.team_id, championship=row).delete()
        elif isinstance(event, ev.TeamWithdrawn):
            Team.objects.filter(id=event.team_id, championship=row).update(withdrawn=True)
        elif isinstance(event, ev.PointsDeducted):
            Team.objects.filter(id=event.team_id, championship=row).update(
                points_deducted=F("points_deducted") + event.points
            )
            deduction = Deduction.objects.create(
                id=event.deduction_id,
                championship=row,
                team_id=event.team_id,
                points=event.points,
                reason=event.reason,
                effective_at=event.effective_at,
                recorded_at=now,
            )
            _deduction_change(deduction, event, now)
        elif isinstance(event, ev.DeductionAmended):
            Team.objects.filter(id=event.team_id, championship=row).update(
                points_deducted=F("points_deducted") + event.points - event.previous_points
            )
            deduction = Deduction.objects.get(id=event.deduction_id, championship=row)
            deduction.points, deduction.reason = event.points, event.reason
            deduction.effective_at = event.effective_at
            deduction.save(update_fields=["points", "reason", "effective_at"])
            _deduction_change(deduction, event, now)
        elif isinstance(event, ev.OrganiserAdded):
            row.organisers.add(event.user_id)
        elif isinstance(event, ev.OrganiserRemoved):
            row.organisers.remove(event.user_id)
    row.name, row.season = state.name, state.season
    row.points_win, row.points_draw = state.points_win, state.points_draw
    row.points_loss = state.points_loss
    row.tie_breakers = list(state.tie_breakers)
    row.head_to_head_reapply = state.head_to_head_reapply
    row.tie_break_preset = state.tie_break_preset
    row.fixtures_generated = state.fixtures_generated
    row.visibility = state.visibility
    row.withdrawal_policy = state.withdrawal_policy
    row.withdrawal_award_for = state.award_for
    row.withdrawal_award_against = state.award_against
    row.version = state.version
    row.save(update_fields=[*_CHAMPIONSHIP_FIELDS, "version"])
    return state


def _deduction_change(
    deduction: Deduction, event: ev.PointsDeducted | ev.DeductionAmended, now: datetime
) -> None:
    DeductionChange.objects.create(
        deduction=deduction,
        sequence=deduction.changes.count(),
        points=event.points,
        reason=event.reason,
        effective_at=event.effective_at,
        recorded_at=now,
    )


# --- match --------------------------------------------------------------------------


def get_match(championship_id: UUID | None, match_id: UUID) -> Match:
    """The match row, locked by nothing (its stream's version decides races), with its
    championship and teams (one join: the API's response is built from the row a command
    returns). ``championship_id`` scopes the lookup when the caller has one; the API's
    ``/matches/{id}/`` has only the match. Read with SQL built once (``rows``): a live
    match takes a command per goal."""
    try:
        match_uuid = _uuid(match_id)
        scope = None if championship_id is None else _uuid(championship_id)
    except ValidationError:
        raise match_not_found(championship_id, match_id) from None
    row = rows.match_with_teams(match_uuid, scope)
    if row is None:
        raise match_not_found(championship_id, match_id)
    return row


def match_not_found(championship_id: UUID | None, match_id: UUID) -> NotFound:
    """What a command says of a match that does not exist (for the actor)."""
    where = "" if championship_id is None else f" in championship {championship_id}"
    return NotFound(f"match {match_id} does not exist{where}")


def _uuid(value: object) -> UUID:
    parsed = Match._meta.pk.to_python(value)
    if not isinstance(parsed, UUID):
        raise ValidationError("not a UUID")
    return parsed


def match_state(row: Match) -> MatchState:
    goals: tuple[GoalState, ...] = ()
    # Goals exist only once a match has gone live (postponing voids them).
    if row.status not in (MatchStatus.SCHEDULED, MatchStatus.POSTPONED):
        read = row.read_goals if row.read_goals is not None else rows.match_goals(row.id)
        goals = tuple(GoalState(*goal) for goal in read)
    return MatchState(
        match_id=row.id,
        championship_id=row.championship_id,
        group=row.group,
        round=row.round,
        home_team_id=row.home_team_id,
        away_team_id=row.away_team_id,
        kickoff=row.kickoff,
        status=row.status,
        home_score=row.home_score,
        away_score=row.away_score,
        minute=row.minute,
        goals=goals,
        awarded_to_team_id=row.awarded_to_id,
        version=row.version,
        stage=row.stage,
        leg=row.leg,
        extra_time=row.extra_time,
        penalties_home=row.penalties_home,
        penalties_away=row.penalties_away,
    )


def create_matches(
    championship: Championship, scheduled: Sequence[ev.MatchScheduled]
) -> list[Match]:
    """One new stream and one row per MatchScheduled."""
    rows = []
    for event in scheduled:
        store.append(str(event.match_id), [event], 0, stream_type=ev.MATCH_STREAM)
        rows.append(
            Match(
                id=event.match_id,
                championship=championship,
                group=event.group,
                round=event.round,
                home_team_id=event.home_team_id,
                away_team_id=event.away_team_id,
                kickoff=event.kickoff,
                version=1,
                stage=event.stage,
                bracket_round=event.bracket_round,
                bracket_position=event.bracket_position,
                leg=event.leg,
                next_match_id=event.next_match_id,
                next_slot=event.next_slot,
                loser_next_match_id=event.loser_next_match_id,
                loser_next_slot=event.loser_next_slot,
                home_source=event.home_source,
                away_source=event.away_source,
            )
        )
    return Match.objects.bulk_create(rows)


def save_match(row: Match, state: MatchState, events: Sequence[Event]) -> MatchState:
    store.append(str(row.id), events, row.version, stream_type=ev.MATCH_STREAM)
    # New goals are written with the row (rows.update_match); a postponement voids the
    # goals written before it.
    new_goals: list[rows.GoalRow] = []
    for event in events:
        state = apply_match(state, event)
        if isinstance(event, ev.GoalScored):
            new_goals.append(
                (
                    row.id,
                    len(state.goals),
                    event.team_id,
                    event.minute,
                    event.player,
                    event.own_goal,
                    event.penalty,
                )
            )
        elif isinstance(event, ev.MatchPostponed):
            new_goals.clear()
            Goal.objects.filter(match=row).delete()
    # The goals as written, so the response need not read them back.
    row.written_goals = state.goals
    row.status = state.status
    row.home_score, row.away_score = state.home_score, state.away_score
    row.minute, row.kickoff = state.minute, state.kickoff
    row.awarded_to_id = state.awarded_to_team_id
    if (row.home_team_id, row.away_team_id) != (state.home_team_id, state.away_team_id):
        row.home_team, row.away_team = row.away_team, row.home_team
    row.version = state.version
    row.home_team_id, row.away_team_id = state.home_team_id, state.away_team_id
    row.extra_time = state.extra_time
    row.penalties_home, row.penalties_away = state.penalties_home, state.penalties_away
    rows.update_match(row, new_goals)
    return state
