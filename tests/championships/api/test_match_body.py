"""A match's body is built without DRF's field machinery (every goal's response is one):
it must say exactly what MatchDetailSerializer, which the schema documents, says."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from championships import commands, selectors
from championships.api.serializers import MatchDetailSerializer, match_detail_json

pytestmark = pytest.mark.django_db


def _both(match_id):
    match = selectors.match_with_teams(match_id=match_id)
    return match_detail_json(match), dict(MatchDetailSerializer(match).data)


def test_a_live_match_with_goals_reads_the_same(owner, championship, match, home, away):
    ids = {"actor_id": owner.id, "championship_id": championship.id, "match_id": match.id}
    commands.match_start(**ids)
    commands.match_record_goal(**ids, team_id=home.id, minute=12, player="Ada Lovelace")
    commands.match_record_goal(**ids, team_id=away.id, minute=80, own_goal=True)

    built, serialised = _both(match.id)

    assert built == serialised
    assert len(built["goals"]) == 2


def test_a_scheduled_match_with_a_kickoff_reads_the_same(owner, championship, match):
    commands.match_postpone(
        actor_id=owner.id,
        championship_id=championship.id,
        match_id=match.id,
        kickoff=datetime(2031, 5, 4, 18, 30, 15, 123456, tzinfo=UTC),
    )

    built, serialised = _both(match.id)

    assert built == serialised
    assert built["kickoff_at"] == "2031-05-04T18:30:15.123456Z"


def test_an_awarded_match_reads_the_same(owner, championship, match, home):
    commands.match_award(
        actor_id=owner.id,
        championship_id=championship.id,
        match_id=match.id,
        awarded_to_team_id=home.id,
        home_score=3,
        away_score=0,
        reason="forfeit",
    )

    built, serialised = _both(match.id)

    assert built == serialised
    assert built["awarded_to"] == str(home.id)
