"""Every non-trivial read of the domain: championships, teams, matches, deductions,
standings and the event feed (pages, API and admin alike). Ids come parsed (the URL's
converters, the admin's forms): a malformed id never reaches a query."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.db import connection
from django.db.models import OuterRef, Q, QuerySet, Subquery

from championships import events as ev
from championships import rows
from championships.exceptions import NotFound
from championships.models import (
    Championship,
    Deduction,
    DeductionNote,
    Goal,
    Match,
    MatchStatus,
    Standing,
    StandingsHead,
    Team,
    Visibility,
)
from events import feed, store


def championship_list() -> QuerySet[Championship]:
    return Championship.objects.select_related("owner").order_by("-created_at", "id")


def championship_get(*, championship_id: UUID) -> Championship:
    try:
        return Championship.objects.select_related("owner").get(id=championship_id)
    except Championship.DoesNotExist:
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
    except Match.DoesNotExist:
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
    except Match.DoesNotExist:
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
    except Deduction.DoesNotExist:
        raise NotFound(f"deduction {deduction_id} does not exist") from None


# --- the API's reads ---------------------------------------------------------------


def championship_search(
    *,
    user: Any = None,
    format: str | None = None,
    season: str | None = None,
    search: str | None = None,
) -> QuerySet[Championship]:
    """Championships ``user`` may see (published, and the drafts they organise)."""
    championships = championships_visible_to(user=user).prefetch_related("organisers", "teams")
    if format:
        championships = championships.filter(format=format)
    if season:
        championships = championships.filter(season=season)
    if search:
        championships = championships.filter(Q(name__icontains=search) | Q(season=search))
    return championships


def championship_version(*, championship_id: UUID) -> int:
    return championship_get(championship_id=championship_id).version


def match_version_visible(*, match_id: UUID, user: Any) -> int:
    """The match's version, in one query; NotFound for a match of a draft championship
    that ``user`` does not organise."""
    found = (
        Match.objects.filter(id=match_id)
        .values_list("version", "championship__visibility", "championship_id")
        .first()
    )
    if found is None:
        raise NotFound(f"match {match_id} does not exist")
    version, visibility, championship_id = found
    if visibility == Visibility.DRAFT:
        try:
            championship_get_visible(championship_id=championship_id, user=user)
        except NotFound:
            raise NotFound(f"match {match_id} does not exist") from None
    return int(version)


def match_version(*, match_id: UUID) -> int:
    version = Match.objects.filter(id=match_id).values_list("version", flat=True).first()
    if version is None:
        raise NotFound(f"match {match_id} does not exist")
    return version


def match_with_teams(*, match_id: UUID) -> Match:
    """The match with its championship and teams, in one query built once (``rows``)."""
    match = rows.match_with_teams(match_id, None)
    if match is None:
        raise NotFound(f"match {match_id} does not exist")
    return match


def matches_filtered(
    *, championship_id: UUID, round: int | None, status: str | None, group: str | None
) -> QuerySet[Match]:
    matches = matches_for_championship(championship_id=championship_id, round=round, group=group)
    if status:
        matches = matches.filter(status=status)
    return matches


def standings_version(*, championship_id: UUID) -> int:
    """The version of the ``standings-<id>`` stream the tables reflect (0: none yet)."""
    version = (
        StandingsHead.objects.filter(championship_id=championship_id)
        .values_list("version", flat=True)
        .first()
    )
    return version or 0


def championship_standings_version(*, championship_id: UUID, user: Any = None) -> tuple[UUID, int]:
    """An existing championship's id and the version of its standings (0: none yet), in
    one query; NotFound when there is no such championship (or it is a draft ``user``
    does not organise). Hand-written SQL: it runs on every standings read, and the ORM
    took longer to build it than the database to answer."""
    key = championship_id
    with connection.cursor() as cursor:
        # SQLite stores UUIDs as 32 hex digits.
        cursor.execute(_STANDINGS_VERSION, [key if connection.vendor == "postgresql" else key.hex])
        found = cursor.fetchone()
    if found is None:
        raise NotFound(f"championship {championship_id} does not exist")
    if found[2] == Visibility.DRAFT:
        championship_get_visible(championship_id=key, user=user)
    return UUID(str(found[0])), found[1] or 0


_STANDINGS_VERSION = f"""
    SELECT c.id, h.version, c.visibility
    FROM {Championship._meta.db_table} c
    LEFT JOIN {StandingsHead._meta.db_table} h ON h.championship_id = c.id
    WHERE c.id = %s
"""


def championship_events(
    *, championship_id: UUID, after: int, limit: int
) -> list[store.RecordedEvent]:
    """The championship's events, its matches' and its standings', in global order."""
    stream_ids = [
        str(championship_id),
        ev.standings_stream_id(championship_id),
        *(
            str(m)
            for m in Match.objects.filter(championship_id=championship_id).values_list(
                "id", flat=True
            )
        ),
    ]
    return feed.read(after, limit, stream_ids=stream_ids)


def envelopes(recorded: list[store.RecordedEvent], *, with_metadata: bool) -> list[dict[str, Any]]:
    """Envelopes for the feed: the metadata (which organiser acted, correlation and
    causation ids, trace context) only ``with_metadata`` (the championship's organisers),
    else ``{}``: public readers get the domain facts."""
    if with_metadata:
        return [r.envelope() for r in recorded]
    return [{**r.envelope(), "metadata": {}} for r in recorded]
