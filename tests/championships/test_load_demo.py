from __future__ import annotations

import pytest
from django.core.management import call_command

from championships import selectors
from championships.management.commands.load_demo import DEMO_CHAMPIONSHIP_ID
from championships.models import Championship, Match
from events.models import StoredEvent

pytestmark = pytest.mark.django_db


def test_load_demo_creates_a_played_double_round_robin_once(event_bus):
    call_command("load_demo")
    events_after_first_run = StoredEvent.objects.count()

    call_command("load_demo")
    event_bus.deliver()

    assert Championship.objects.filter(id=DEMO_CHAMPIONSHIP_ID).count() == 1
    matches = Match.objects.filter(championship_id=DEMO_CHAMPIONSHIP_ID)
    assert matches.count() == 30
    assert matches.filter(status="completed").count() == 6
    assert matches.filter(status="live", home_score=1).count() == 1
    assert StoredEvent.objects.exclude(stream_type="standings").count() == events_after_first_run
    rows = selectors.standings_for_championship(championship_id=DEMO_CHAMPIONSHIP_ID)
    assert sorted(r.played for r in rows) == [2] * 6
