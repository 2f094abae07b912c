"""Reads: championships, teams, matches and standings."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db.models import OuterRef, Q, QuerySet, Subquery

from championships.exceptions import NotFound
from championships.models import (
    Championship,
    Deduction,
    DeductionNote,
    Goal,
    Match,
    MatchStatus,
    Standing,
    Team,
    Visibility,
)


def championship_list() -> QuerySet[Championship]:
    return Championship.objects.select_related("owner").order_by("-created_at", "id")


def championship_get(*, championship_id: UUID) -> Championship:
    try:
        return Championship.objects.select_related("owner").get(id=championship_id)
    except (Championship.DoesNotExist, ValidationError, ValueError):
        raise NotFound(f"championship {championship_id} does not exist") from None


def championship_get_visible(*, championship_id: UUID, user: Any) -> Championship:
    """The championship if ``user`` may see it: a draft only for its organisers (for
    anybody else a draft does not exist: NotFound)."""
    championship = championship_get(championship_id=championship_id)
    check_visible(championship, user)
    return championship


def check_visible(championship: Championship, user: Any) -> None:
    if championship.visibility == Visibility.DRAFT and not championship_organised_by(
        championship=championship, user=user
    ):
        raise NotFound(f"championship {championship.id} does not exist")


def championships_visible_to(*, user: Any) -> QuerySet[Championship]:
    """Published championships, and the drafts ``user`` organises."""
    visible = Q(visibility=Visibility.PUBLISHED)
    if user is not None and user.is_authenticated:
        if user.is_superuser:
            return championship_list()
        visible |= Q(owner_id=user.pk) | Q(organisers__id=user.pk)
    return championship_list().filter(visible).distinct()


def championships_organised_by(*, user_id: int) -> QuerySet[Championship]:
    return (
        Championship.objects.filter(Q(owner_id=user_id) | Q(organisers__id=user_id))
        .distinct()
        .order_by("-created_at", "id")
    )


def championship_organised_by(*, championship: Championship, user: Any) -> bool:
    """Whether ``user`` (maybe anonymous) may organise ``championship``: its owner, a
    co-organiser or a superuser."""
    if user is None or not user.is_authenticated:
        return False
    if user.is_superuser or championship.owner_id == user.pk:
        return True
    return championship.organisers.filter(id=user.pk).exists()


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
    """Rows ordered by group, then position (1 = top)."""
    rows = Standing.objects.filter(championship_id=championship_id)
    if group is not None:
        rows = rows.filter(group=group)
    return rows.order_by("group", "position")


def live_matches() -> QuerySet[Match]:
    """Live matches of published championships (the public pages' list)."""
    return (
        Match.objects.filter(status=MatchStatus.LIVE, championship__visibility=Visibility.PUBLISHED)
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


def deduction_notes_for_championship(*, championship_id: UUID) -> QuerySet[DeductionNote]:
    """The table's footnotes: deductions in force (points > 0), in recorded order, with
    the team's name as the table shows it."""
    name = Standing.objects.filter(
        championship_id=championship_id, team_id=OuterRef("team_id")
    ).values("team_name")[:1]
    return (
        DeductionNote.objects.filter(championship_id=championship_id, points__gt=0)
        .annotate(team_name=Subquery(name))
        .order_by("sequence", "deduction_id")
    )


def deductions_for_championship(*, championship_id: UUID) -> QuerySet[Deduction]:
    return (
        Deduction.objects.filter(championship_id=championship_id)
        .select_related("team", "championship")
        .prefetch_related("changes")
        .order_by("recorded_at", "id")
    )


def deduction_get(*, deduction_id: UUID) -> Deduction:
    try:
        return Deduction.objects.select_related("team").get(id=deduction_id)
    except (Deduction.DoesNotExist, ValidationError, ValueError):
        raise NotFound(f"deduction {deduction_id} does not exist") from None
