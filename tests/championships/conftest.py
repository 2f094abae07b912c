from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import pytest

from championships import commands, selectors
from championships.models import Championship, Match, Standing, Team
from events.registry import registry
from events.store import RecordedEvent
from tests.championships.factories import (
    ChampionshipFactory,
    MatchFactory,
    TeamFactory,
    UserFactory,
)


@pytest.fixture
def owner():
    return UserFactory.create()


@pytest.fixture
def championship(owner) -> Championship:
    return ChampionshipFactory.create(actor_id=owner.id)


def roundtrip(recorded: Sequence[RecordedEvent]) -> list[object]:
    """Each event's payload through JSON and back (fails on an unserialisable payload)."""
    return [
        registry.decode(r.event_type, r.schema_version, registry.encode(r.data)) for r in recorded
    ]


def play(championship: Championship, home: Team, away: Team, score: str) -> Match:
    """Schedule ``home`` v ``away`` and enter the result ("2-1") through the commands."""
    home_score, away_score = (int(x) for x in score.split("-"))
    match = commands.match_schedule(
        actor_id=championship.owner_id,
        championship_id=championship.id,
        home_team_id=home.id,
        away_team_id=away.id,
    )
    return commands.match_complete(
        actor_id=championship.owner_id,
        championship_id=championship.id,
        match_id=match.id,
        home_score=home_score,
        away_score=away_score,
    )


def tournament(
    owner_id: int,
    *,
    teams: Sequence[str],
    results: Sequence[tuple[str, str, str]],
    tie_breakers: str,
    group: str = "",
) -> Championship:
    """A championship with these teams and (home, score, away) results, all completed."""
    fmt = "groups" if group else "round_robin"
    championship = ChampionshipFactory.create(
        actor_id=owner_id, format=fmt, tie_breakers=tie_breakers
    )
    by_name = {
        name: TeamFactory.create(championship=championship, name=name, group=group)
        for name in teams
    }
    for home, score, away in results:
        play(championship, by_name[home], by_name[away], score)
    return championship


def table(championship: Championship, group: str | None = None) -> list[tuple[object, ...]]:
    """(position, team, played, won, drawn, lost, gf, ga, points) per row."""
    return [
        (
            r.position,
            r.team_name,
            r.played,
            r.won,
            r.drawn,
            r.lost,
            r.goals_for,
            r.goals_against,
            r.points,
        )
        for r in selectors.standings_for_championship(championship_id=championship.id, group=group)
    ]


def standings_snapshot(championship_id: uuid.UUID) -> list[tuple[object, ...]]:
    fields = [f.name for f in Standing._meta.fields if f.name != "id"]
    return list(
        Standing.objects.filter(championship_id=championship_id)
        .order_by("group", "position", "team_name", "team_id")
        .values_list(*fields)
    )


@pytest.fixture
def match(championship) -> Match:
    return MatchFactory.create(championship=championship)


def ids(match: Match) -> dict[str, Any]:
    return {
        "actor_id": match.championship.owner_id,
        "championship_id": match.championship_id,
        "match_id": match.id,
    }


def live(match: Match) -> Match:
    return commands.match_start(**ids(match))


def draft(match: Match) -> None:
    """The organiser makes the match's championship a draft."""
    commands.championship_update(
        actor_id=match.championship.owner_id,
        championship_id=match.championship_id,
        visibility="draft",
    )


def completed(match: Match, home: int = 2, away: int = 1) -> Match:
    return commands.match_complete(**ids(match), home_score=home, away_score=away)


def assert_recorded(event_bus, match: Match, expected: list[object]) -> None:
    recorded = [r for r in event_bus.published() if r.stream_id == str(match.id)]
    assert [r.data for r in recorded] == expected
    assert roundtrip(recorded) == expected
    assert {r.stream_type for r in recorded} == {"match"}
    assert Match.objects.get(id=match.id).version == recorded[-1].version


# Real worker processes (tests/events/workers.py), for tests that need them here too.
from tests.championships.servers import web_servers  # noqa: E402, F401
from tests.events.workers import celery_queue, producer_broker, workers  # noqa: E402, F401
