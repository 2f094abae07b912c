"""Every aggregate row equals its stream replayed through the aggregate's ``apply``."""

from __future__ import annotations

import pytest

from championships import commands
from championships.aggregates import replay_championship, replay_match
from championships.commands.streams import championship_state, match_state
from championships.models import Championship, Match
from events import store
from tests.championships.factories import MatchFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def busy_season(championship):
    """A championship whose streams went through every kind of event."""
    owner = championship.owner_id
    cid = championship.id
    commands.championship_update(actor_id=owner, championship_id=cid, tie_breakers="uefa")
    commands.championship_add_organiser(
        actor_id=owner, championship_id=cid, user_id=UserFactory.create().id
    )
    a, b, c, d = TeamFactory.create_batch(4, championship=championship)
    commands.team_deduct_points(
        actor_id=owner, championship_id=cid, team_id=b.id, points=3, reason="x"
    )
    live = MatchFactory.create(championship=championship, home_team=a, away_team=b)
    commands.match_start(actor_id=owner, championship_id=cid, match_id=live.id)
    commands.match_record_goal(
        actor_id=owner, championship_id=cid, match_id=live.id, team_id=a.id, minute=9, player="P"
    )
    commands.match_update(actor_id=owner, championship_id=cid, match_id=live.id, minute=46)
    commands.match_record_goal(
        actor_id=owner,
        championship_id=cid,
        match_id=live.id,
        team_id=b.id,
        minute=88,
        own_goal=True,
    )
    commands.match_complete(actor_id=owner, championship_id=cid, match_id=live.id)
    commands.match_correct_result(
        actor_id=owner,
        championship_id=cid,
        match_id=live.id,
        home_score=2,
        away_score=1,
        reason="r",
    )
    abandoned = MatchFactory.create(championship=championship, home_team=c, away_team=d)
    commands.match_start(actor_id=owner, championship_id=cid, match_id=abandoned.id)
    commands.match_record_goal(
        actor_id=owner, championship_id=cid, match_id=abandoned.id, team_id=c.id, minute=3
    )
    commands.match_postpone(actor_id=owner, championship_id=cid, match_id=abandoned.id)
    cancelled = MatchFactory.create(championship=championship, home_team=b, away_team=c)
    commands.match_cancel(actor_id=owner, championship_id=cid, match_id=cancelled.id)
    forfeit = MatchFactory.create(championship=championship, home_team=d, away_team=a)
    commands.match_award(
        actor_id=owner,
        championship_id=cid,
        match_id=forfeit.id,
        awarded_to_team_id=a.id,
        home_score=0,
        away_score=3,
        reason="no show",
    )
    commands.team_withdraw(actor_id=owner, championship_id=cid, team_id=d.id)
    return championship


def test_every_championship_row_equals_its_replayed_stream(busy_season):
    for row in Championship.objects.all():
        replayed = replay_championship(r.data for r in store.load(str(row.id)))

        assert replayed == championship_state(row)
        assert row.version == store.stream_version(str(row.id))


def test_every_match_row_equals_its_replayed_stream(busy_season):
    rows = list(Match.objects.filter(championship=busy_season))

    assert len(rows) == 4
    for row in rows:
        replayed = replay_match(r.data for r in store.load(str(row.id)))

        assert replayed == match_state(row)
        assert row.version == store.stream_version(str(row.id))


def test_generated_fixtures_replay_to_their_rows(championship):
    TeamFactory.create_batch(5, championship=championship)
    commands.fixtures_generate(actor_id=championship.owner_id, championship_id=championship.id)

    championship.refresh_from_db()
    assert replay_championship(
        r.data for r in store.load(str(championship.id))
    ) == championship_state(championship)
    for row in Match.objects.filter(championship=championship):
        assert replay_match(r.data for r in store.load(str(row.id))) == match_state(row)
