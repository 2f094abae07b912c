from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from championships import commands, selectors
from championships.events import GoalScored, MatchCompleted, MatchStarted
from championships.management.commands.load_demo import DEMO_CHAMPIONSHIP_ID
from championships.models import Championship, Match
from events.models import StoredEvent
from tests.championships.factories import ChampionshipFactory, TeamFactory

pytestmark = pytest.mark.django_db


def test_load_demo_creates_a_played_double_round_robin_once(event_bus):
    call_command("load_demo")
    events_after_first_run = StoredEvent.objects.count()

    call_command("load_demo")
    event_bus.deliver()

    assert Championship.objects.filter(id=DEMO_CHAMPIONSHIP_ID).count() == 1
    matches = Match.objects.filter(championship_id=DEMO_CHAMPIONSHIP_ID)
    assert matches.count() == 56
    assert matches.filter(status="completed").count() == 12
    assert matches.filter(status="live", home_score=1).count() == 1
    assert StoredEvent.objects.exclude(stream_type="standings").count() == events_after_first_run
    rows = selectors.standings_for_championship(championship_id=DEMO_CHAMPIONSHIP_ID)
    assert sorted(r.played for r in rows) == [3] * 8


def test_simulate_match_plays_the_live_match_to_full_time_through_the_commands(event_bus):
    call_command("load_demo")
    live = Match.objects.get(championship_id=DEMO_CHAMPIONSHIP_ID, status="live")

    call_command("simulate_match", "--seconds", "0", "--goals", "3", "--seed", "7")

    live.refresh_from_db()
    goals = [g for g in event_bus.published_data(GoalScored) if g.match_id == live.id]
    completed = event_bus.assert_published(MatchCompleted, match_id=live.id)
    assert live.status == "completed"
    assert len(goals) == 1 + 3  # the demo's goal, then three more
    assert (completed.data.home_score, completed.data.away_score) == (
        goals[-1].home_score,
        goals[-1].away_score,
    )
    assert [g.minute for g in goals] == sorted(g.minute for g in goals)


def test_simulate_match_starts_a_scheduled_match(event_bus):
    call_command("load_demo")
    scheduled = Match.objects.filter(championship_id=DEMO_CHAMPIONSHIP_ID, round=5).first()
    assert scheduled is not None

    call_command("simulate_match", str(scheduled.id), "--seconds", "0", "--goals", "0")

    scheduled.refresh_from_db()
    event_bus.assert_published(MatchStarted, match_id=scheduled.id)
    assert (scheduled.status, scheduled.home_score, scheduled.away_score) == ("completed", 0, 0)


def test_simulate_match_refuses_what_it_cannot_play_with_a_message(owner, event_bus):
    call_command("load_demo")
    live = Match.objects.get(championship_id=DEMO_CHAMPIONSHIP_ID, status="live")
    commands.match_update(
        actor_id=live.championship.owner_id,
        championship_id=live.championship_id,
        match_id=live.id,
        minute=90,
    )

    # Before: tracebacks (ValueError from random.sample; the undecided bracket match's
    # InvalidState)
    with pytest.raises(CommandError, match="0 or more"):
        call_command("simulate_match", "--goals", "-2")
    call_command("simulate_match", str(live.id), "--seconds", "0", "--goals", "2")
    live.refresh_from_db()
    assert live.status == "completed"  # at minute 90: no minute left for goals

    cup = ChampionshipFactory.create(actor_id=owner.id, format="knockout")
    for n in range(4):
        TeamFactory.create(championship=cup, name=f"T{n}")
    commands.fixtures_generate(actor_id=owner.id, championship_id=cup.id)
    final = Match.objects.get(championship=cup, bracket_round=2)
    with pytest.raises(CommandError, match="not decided yet"):
        call_command("simulate_match", str(final.id), "--seconds", "0")


def test_simulate_match_ends_a_level_knockout_match_on_penalties(owner, event_bus):
    cup = ChampionshipFactory.create(actor_id=owner.id, format="knockout")
    for n in range(2):
        TeamFactory.create(championship=cup, name=f"T{n}")
    commands.fixtures_generate(actor_id=owner.id, championship_id=cup.id)
    the_final = Match.objects.get(championship=cup)

    # Before: "a knockout match cannot end level", the match left live at minute 90
    call_command("simulate_match", str(the_final.id), "--seconds", "0", "--goals", "0")

    the_final.refresh_from_db()
    assert the_final.status == "completed"
    assert {the_final.penalties_home, the_final.penalties_away} == {4, 5}
