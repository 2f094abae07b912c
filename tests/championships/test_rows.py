"""The match rows a command loads with SQL built once (``championships.rows``) are the rows the
ORM builds, on PostgreSQL and SQLite alike."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.models import Model

from championships import commands, rows
from championships.commands import streams
from championships.exceptions import NotFound
from championships.models import Match
from tests.championships.conftest import ids, live
from tests.championships.factories import MatchFactory

pytestmark = pytest.mark.django_db


def fields(instance: Model | None) -> dict[str, object]:
    assert instance is not None
    return {f.attname: getattr(instance, f.attname) for f in type(instance)._meta.concrete_fields}


def test_the_match_its_championship_and_teams_are_what_the_orm_reads():
    match = MatchFactory.create(kickoff=datetime(2024, 5, 1, 18, 30, tzinfo=UTC))
    live(match)

    loaded = rows.match_with_teams(match.id, match.championship_id)
    orm = Match.objects.select_related("championship", "home_team", "away_team").get(id=match.id)

    assert loaded is not None
    assert fields(loaded) == fields(orm)
    assert fields(loaded.championship) == fields(orm.championship)
    assert fields(loaded.home_team) == fields(orm.home_team)
    assert fields(loaded.away_team) == fields(orm.away_team)
    assert loaded.championship.tie_breakers == orm.championship.tie_breakers  # JSON
    assert loaded.kickoff == datetime(2024, 5, 1, 18, 30, tzinfo=UTC)


def test_a_match_is_found_only_in_its_own_championship():
    match = MatchFactory.create()
    other = MatchFactory.create()

    assert rows.match_with_teams(match.id, other.championship_id) is None
    assert rows.match_with_teams(uuid.uuid4(), None) is None
    with pytest.raises(NotFound):
        streams.get_match(other.championship_id, match.id)
    with pytest.raises(NotFound):
        streams.get_match(None, "not-a-uuid")  # type: ignore[arg-type]


def test_goals_come_back_in_order_with_their_flags():
    match = live(MatchFactory.create())
    home, away = match.home.id, match.away.id
    commands.match_record_goal(**ids(match), team_id=home, minute=3, player="A")
    commands.match_record_goal(**ids(match), team_id=away, minute=7, own_goal=True)
    commands.match_record_goal(**ids(match), team_id=home, minute=9, penalty=True)

    expected = [
        (home, 3, "A", False, False),
        (away, 7, "", True, False),
        (home, 9, "", False, True),
    ]
    assert rows.match_goals(match.id) == expected
    # On PostgreSQL they also come with the match, in the same statement
    loaded = rows.match_with_teams(match.id, None)
    assert loaded is not None
    if connection.vendor == "postgresql":
        assert loaded.read_goals == expected
    else:
        assert loaded.read_goals is None


def test_new_goals_are_written_with_the_match_row_however_many():
    # Given a live match (as a command loads it)
    match = live(MatchFactory.create())
    home, away = match.home.id, match.away.id
    row = streams.get_match(match.championship_id, match.id)

    # When two goals and the new score are written at once (one statement on PostgreSQL)
    row.home_score, row.away_score, row.minute = 1, 1, 30
    rows.update_match(
        row,
        [
            (row.id, 1, home, 12, "Ana", False, False),
            (row.id, 2, away, 29, "", False, True),
        ],
    )

    # Then both goals are stored in order, and the row as updated
    assert rows.match_goals(match.id) == [
        (home, 12, "Ana", False, False),
        (away, 29, "", False, True),
    ]
    stored = Match.objects.get(id=match.id)
    assert (stored.home_score, stored.away_score, stored.minute) == (1, 1, 30)


def test_a_postponement_voids_the_goals_the_match_had():
    match = live(MatchFactory.create())
    commands.match_record_goal(**ids(match), team_id=match.home.id, minute=3)

    commands.match_postpone(**ids(match), reason="floodlights")

    assert rows.match_goals(match.id) == []
    assert Match.objects.get(id=match.id).status == "postponed"
