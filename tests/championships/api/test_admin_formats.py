"""The organisers' admin for the new formats: drawing a bracket with its options,
knockout results with penalties, cards; player statistics read-only."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from championships import events as ev
from championships.knockout_events import BracketDrawn, CardShown, LotsDrawn
from championships.models import Match
from events.models import StoredEvent
from tests.championships.api.test_admin import _action, browser, messages_of, organiser
from tests.championships.factories import ChampionshipFactory, TeamFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def cup():
    user = organiser()
    championship = ChampionshipFactory.create(actor_id=user.id, name="My Cup", format="knockout")
    for name in ("Lions", "Tigers", "Bears", "Wolves"):
        TeamFactory.create(championship=championship, name=name)
    return user, championship


def test_the_draw_action_asks_for_the_options_then_draws_the_bracket(cup, event_bus):
    me, championship = cup

    asked = _action(browser(me), "championship", "draw_bracket", [championship.id])
    drawn = _action(
        browser(me),
        "championship",
        "draw_bracket",
        [championship.id],
        apply="yes",
        seeding="standard",
        third_place_match="on",
        legs="1",
        qualifiers_per_group="2",
    )

    assert b"My Cup 2024: draw the bracket" in asked.content
    assert drawn.status_code == 302
    assert any("4 matches scheduled" in m for m in messages_of(drawn))
    rules = event_bus.published_data(BracketDrawn)[0]
    assert (rules.seeding, rules.third_place_match) == ("standard", True)
    page = browser(me).get(
        reverse("admin:championships_championship_change", args=[championship.id])
    )
    assert b'id="knockout_rules-heading"' in page.content


def test_a_knockout_result_with_penalties_and_a_card_through_the_admin(cup, event_bus):
    me, championship = cup
    _action(
        browser(me),
        "championship",
        "draw_bracket",
        [championship.id],
        apply="yes",
        seeding="bracket",
        legs="1",
        qualifiers_per_group="2",
    )
    semi = Match.objects.filter(championship=championship, bracket_round=1).first()
    assert semi is not None

    level = _action(
        browser(me),
        "match",
        "complete_with_score",
        [semi.id],
        apply="yes",
        home_score=1,
        away_score=1,
        extra_time="on",
    )
    _action(
        browser(me),
        "match",
        "complete_with_score",
        [semi.id],
        apply="yes",
        home_score=1,
        away_score=1,
        extra_time="on",
        penalties_home=4,
        penalties_away=2,
    )
    _action(
        browser(me),
        "match",
        "show_card",
        [semi.id],
        apply="yes",
        team_id=str(semi.home_team_id),
        player="Davids",
        minute=93,
        card="yellow",
    )

    assert any("cannot end level" in m for m in messages_of(level))
    completed = event_bus.assert_published(ev.MatchCompleted, match_id=semi.id).data
    assert (completed.extra_time, completed.penalties_home, completed.penalties_away) == (
        True,
        4,
        2,
    )
    assert event_bus.assert_published(CardShown, player="Davids", minute=93)
    event_bus.deliver()
    stats = browser(me).get(reverse("admin:championships_playermatchstat_changelist"))
    assert b"Davids" in stats.content


def _lots_in_the_admin(names: tuple[str, str], teams: str) -> tuple[Any, Any]:
    """A league of two teams named ``names``; its organiser draws lots in the admin,
    listing ``teams`` as typed. The championship and the response."""
    me = organiser()
    championship = ChampionshipFactory.create(actor_id=me.id, name="My League")
    for name in names:
        TeamFactory.create(championship=championship, name=name)
    response = _action(
        browser(me),
        "championship",
        "draw_lots",
        [championship.id],
        apply="yes",
        group="",
        teams=teams,
    )
    return championship, response


def test_lots_through_the_admin(event_bus):
    championship, response = _lots_in_the_admin(("Lions", "Tigers"), "tigers, Lions")

    assert any("lots recorded" in m for m in messages_of(response))
    drawn = event_bus.published_data(LotsDrawn)[0]
    assert [t.name for t in championship.teams.filter(id__in=drawn.team_ids)] == ["Lions", "Tigers"]
    assert drawn.team_ids[0] == championship.teams.get(name="Tigers").id


def test_lots_through_the_admin_for_a_team_whose_name_has_a_comma(event_bus):
    # One name per line (before: split on commas only, "Unknown teams: Brighton, Hove")
    championship, response = _lots_in_the_admin(
        ("Brighton, Hove", "Tigers"), "Tigers\r\nBrighton, Hove\r\n"
    )

    assert any("lots recorded" in m for m in messages_of(response))
    drawn = event_bus.published_data(LotsDrawn)[0]
    assert drawn.team_ids == (
        championship.teams.get(name="Tigers").id,
        championship.teams.get(name="Brighton, Hove").id,
    )


def test_the_round_robin_action_does_not_draw_a_bracket(cup):
    me, championship = cup
    before = Match.objects.filter(championship=championship).count()

    response = _action(browser(me), "championship", "generate_fixtures", [championship.id])

    # Before: a bracket drawn with every option at its default, for good
    assert any("Draw the bracket" in m for m in messages_of(response))
    assert Match.objects.filter(championship=championship).count() == before == 0


def test_the_event_history_pages_through_every_event(cup, monkeypatch):
    me, championship = cup
    monkeypatch.setattr("championships.admin.EVENT_HISTORY_PAGE", 3)
    client = browser(me)
    url = reverse("admin:championships_championship_events", args=[championship.id])
    seen: list[str] = []
    page = client.get(url)
    pages = 1
    while True:
        body = page.content.decode()
        seen += [row["event"].event_id for row in page.context["rows"]]
        if page.context["next_after"] is None:
            break
        assert "Next page" in body
        page = client.get(url, {"after": page.context["next_after"]})
        pages += 1

    # Before: the first 2,000 events only, the newest never shown
    streams = {str(championship.id)}
    total = StoredEvent.objects.filter(stream_id__in=streams).count()
    assert total > 3
    assert len(seen) == len(set(seen)) == total
    assert pages == -(-total // 3)
    assert client.get(url, {"after": "garbage"}).status_code == 200
