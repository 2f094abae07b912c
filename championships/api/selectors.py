"""Reads the API needs beyond ``championships.selectors``."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Q, QuerySet

from championships import events as ev
from championships import selectors
from championships.exceptions import NotFound
from championships.models import Championship, Match, StandingsHead, Visibility
from events import feed, store


def championship_search(
    *,
    user: Any = None,
    format: str | None = None,
    season: str | None = None,
    search: str | None = None,
) -> QuerySet[Championship]:
    """Championships ``user`` may see (published, and the drafts they organise)."""
    championships = selectors.championships_visible_to(user=user).prefetch_related(
        "organisers", "teams"
    )
    if format:
        championships = championships.filter(format=format)
    if season:
        championships = championships.filter(season=season)
    if search:
        championships = championships.filter(Q(name__icontains=search) | Q(season=search))
    return championships


def championship_version(*, championship_id: UUID | str) -> int:
    return selectors.championship_get(championship_id=championship_id).version  # type: ignore[arg-type]


def match_championship_id(*, match_id: UUID | str) -> UUID:
    """The championship of a match (the commands are scoped by it)."""
    try:
        found = Match.objects.filter(id=match_id).values_list("championship_id", flat=True)
        championship_id = found.first()
    except (ValidationError, ValueError):
        championship_id = None
    if championship_id is None:
        raise NotFound(f"match {match_id} does not exist")
    return championship_id


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
            selectors.championship_get_visible(championship_id=championship_id, user=user)
        except NotFound:
            raise NotFound(f"match {match_id} does not exist") from None
    return int(version)


def match_version(*, match_id: UUID | str) -> int:
    try:
        version = Match.objects.filter(id=match_id).values_list("version", flat=True).first()
    except (ValidationError, ValueError):
        version = None
    if version is None:
        raise NotFound(f"match {match_id} does not exist")
    return version


def match_with_teams(*, match_id: UUID | str) -> Match:
    championship_id = match_championship_id(match_id=match_id)
    return selectors.match_get(championship_id=championship_id, match_id=match_id)  # type: ignore[arg-type]


def matches_filtered(
    *, championship_id: UUID, round: int | None, status: str | None, group: str | None
) -> QuerySet[Match]:
    matches = selectors.matches_for_championship(
        championship_id=championship_id, round=round, group=group
    )
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


def championship_standings_version(
    *, championship_id: UUID | str, user: Any = None
) -> tuple[UUID, int]:
    """An existing championship's id and the version of its standings (0: none yet), in
    one query; NotFound when there is no such championship (or it is a draft ``user``
    does not organise). Hand-written SQL: it runs on every standings read, and the ORM
    took longer to build it than the database to answer."""
    try:
        key = UUID(str(championship_id))
    except ValueError:
        raise NotFound(f"championship {championship_id} does not exist") from None
    with connection.cursor() as cursor:
        # SQLite stores UUIDs as 32 hex digits.
        cursor.execute(_STANDINGS_VERSION, [key if connection.vendor == "postgresql" else key.hex])
        found = cursor.fetchone()
    if found is None:
        raise NotFound(f"championship {championship_id} does not exist")
    if found[2] == Visibility.DRAFT:
        selectors.championship_get_visible(championship_id=key, user=user)
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
