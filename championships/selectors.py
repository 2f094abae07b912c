"""Reads: championships, teams, matches and standings."""

from __future__ import annotations

from uuid import UUID

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from championships.exceptions import NotFound
from championships.models import Championship, Goal, Match, MatchStatus, Standing, Team


def championship_list() -> QuerySet[Championship]:
    return Championship.objects.select_related("owner").order_by("-created_at", "id")


def championship_get(*, championship_id: UUID) -> Championship:
    try:
        return Championship.objects.select_related("owner").get(id=championship_id)
    except (Championship.DoesNotExist, ValidationError, ValueError):
        raise NotFound(f"championship {championship_id} does not exist") from None


def championships_organised_by(*, user_id: int) -> QuerySet[Championship]:
    return (
        Championship.objects.filter(Q(owner_id=user_id) | Q(organisers__id=user_id))
        .distinct()
        .order_by("-created_at", "id")
    )


def teams_for_championship(*, championship_id: UUID) -> QuerySet[Team]:
    return Team.objects.filter(championship_id=championship_id).order_by("group", "name")


def matches_for_championship(
    *, championship_id: UUID, group: str | None = None, round: int | None = None
) -> QuerySet[Match]:
    matches = Match.objects.filter(championship_id=championship_id).select_related(
        "home_team", "away_team"
    )
    if group is not None:
        matches = matches.filter(group=group)
    if round is not None:
        matches = matches.filter(round=round)
    return matches.order_by("group", "round", "kickoff", "id")


def matches_for_team(*, championship_id: UUID, team_id: UUID) -> QuerySet[Match]:
    return (
        Match.objects.filter(championship_id=championship_id)
        .filter(Q(home_team_id=team_id) | Q(away_team_id=team_id))
        .select_related("home_team", "away_team")
        .order_by("round", "kickoff", "id")
    )


def match_get(*, championship_id: UUID, match_id: UUID) -> Match:
    try:
        return Match.objects.select_related("home_team", "away_team", "championship").get(
            id=match_id, championship_id=championship_id
        )
    except (Match.DoesNotExist, ValidationError, ValueError):
        raise NotFound(f"match {match_id} does not exist") from None


def goals_for_match(*, match_id: UUID) -> QuerySet[Goal]:
    return Goal.objects.filter(match_id=match_id).order_by("sequence")


def standings_for_championship(
    *, championship_id: UUID, group: str | None = None
) -> QuerySet[Standing]:
    """Rows ordered by group, then position (1 = top; tied teams share one, by name)."""
    rows = Standing.objects.filter(championship_id=championship_id)
    if group is not None:
        rows = rows.filter(group=group)
    return rows.order_by("group", "position", "team_name", "team_id")


def live_matches() -> QuerySet[Match]:
    return (
        Match.objects.filter(status=MatchStatus.LIVE)
        .select_related("home_team", "away_team")
        .order_by("championship_id", "kickoff", "id")
    )


def match_page_get(*, match_id: UUID) -> Match:
    """A match with its teams and championship (a public page knows only the match id)."""
    try:
        return Match.objects.select_related("home_team", "away_team", "championship").get(
            id=match_id
        )
    except (Match.DoesNotExist, ValidationError, ValueError):
        raise NotFound(f"match {match_id} does not exist") from None
