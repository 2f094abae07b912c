"""The organisers' admin: scoped to their championships, writes through the commands."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from championships import commands
from championships import events as ev
from championships.admin import ORGANISERS_GROUP
from championships.models import Championship, Match
from events.models import StoredEvent
from tests.championships.api.conftest import event_count
from tests.championships.factories import ChampionshipFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


def organiser():
    user = UserFactory.create(is_staff=True)
    user.groups.add(Group.objects.get(name=ORGANISERS_GROUP))
    return user


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def mine():
    user = organiser()
    return user, ChampionshipFactory.create(actor_id=user.id, name="My League")


@pytest.fixture
def theirs():
    user = organiser()
    return user, ChampionshipFactory.create(actor_id=user.id, name="Their League")


def _changelist(client) -> str:
    return client.get(reverse("admin:championships_championship_changelist")).content.decode()


def test_organiser_sees_only_own_and_co_organised_championships(mine, theirs):
    me, _ = mine
    other_owner, _ = theirs
    shared = ChampionshipFactory.create(actor_id=other_owner.id, name="Shared Cup")
    commands.championship_add_organiser(
        actor_id=other_owner.id, championship_id=shared.id, user_id=me.id
    )

    page = _changelist(browser(me))

    assert "My League" in page
    assert "Shared Cup" in page
    assert "Their League" not in page


def test_superuser_sees_every_championship(mine, theirs):
    root = UserFactory.create(is_staff=True, is_superuser=True)

    page = _changelist(browser(root))

    assert "My League" in page
    assert "Their League" in page


def test_another_organisers_championship_is_not_reachable(mine, theirs):
    me, _ = mine
    _, their_championship = theirs

    change = browser(me).get(
        reverse("admin:championships_championship_change", args=[their_championship.id])
    )
    history = browser(me).get(
        reverse("admin:championships_championship_events", args=[their_championship.id])
    )

    assert change.status_code == 302
    assert history.status_code == 404


def test_staff_outside_the_organisers_group_get_no_access(mine):
    staff = UserFactory.create(is_staff=True)

    response = browser(staff).get(reverse("admin:championships_championship_changelist"))

    assert response.status_code == 403


def test_change_page_shows_team_and_match_inlines(mine):
    me, championship = mine
    home = TeamFactory.create(championship=championship, name="Lions")
    away = TeamFactory.create(championship=championship, name="Tigers")
    commands.match_schedule(
        actor_id=me.id, championship_id=championship.id, home_team_id=home.id, away_team_id=away.id
    )

    page = (
        browser(me)
        .get(reverse("admin:championships_championship_change", args=[championship.id]))
        .content.decode()
    )

    assert "Lions vs Tigers" in page
    assert "Event history" in page


def test_adding_a_championship_goes_through_the_command(event_bus):
    me = organiser()

    response = browser(me).post(
        reverse("admin:championships_championship_add"),
        {
            "name": "Admin Cup",
            "season": "2025",
            "format": "round_robin",
            "points_win": 3,
            "points_draw": 1,
            "points_loss": 0,
            "tie_break_preset": "uefa",
            "visibility": "published",
            "withdrawal_policy": "expunge",
            "withdrawal_award_for": 3,
            "withdrawal_award_against": 0,
            "teams-TOTAL_FORMS": 0,
            "teams-INITIAL_FORMS": 0,
            "matches-TOTAL_FORMS": 0,
            "matches-INITIAL_FORMS": 0,
        },
    )

    assert response.status_code == 302
    created = Championship.objects.get(name="Admin Cup")
    assert (created.owner_id, created.tie_break_preset, created.version) == (me.id, "uefa", 1)
    assert event_bus.assert_published(ev.ChampionshipCreated, name="Admin Cup", owner_id=me.id)


def _edit(client, championship, **changes):
    data = {
        "name": championship.name,
        "season": championship.season,
        "points_win": championship.points_win,
        "points_draw": championship.points_draw,
        "points_loss": championship.points_loss,
        "tie_break_preset": championship.tie_break_preset,
        "visibility": championship.visibility,
        "withdrawal_policy": championship.withdrawal_policy,
        "withdrawal_award_for": championship.withdrawal_award_for,
        "withdrawal_award_against": championship.withdrawal_award_against,
        "version": championship.version,
        "teams-TOTAL_FORMS": 0,
        "teams-INITIAL_FORMS": 0,
        "matches-TOTAL_FORMS": 0,
        "matches-INITIAL_FORMS": 0,
        **changes,
    }
    return client.post(
        reverse("admin:championships_championship_change", args=[championship.id]), data
    )


def test_editing_a_championship_goes_through_the_command(mine, event_bus):
    me, championship = mine

    response = _edit(browser(me), championship, name="Renamed League", points_win=2)

    assert response.status_code == 302
    assert event_bus.assert_published(ev.ChampionshipUpdated, name="Renamed League", points_win=2)
    assert Championship.objects.get(id=championship.id).name == "Renamed League"


def test_editing_a_stale_form_is_an_error_message_not_a_500(mine):
    me, championship = mine
    before = event_count()

    response = _edit(browser(me), championship, name="Renamed", version=99)

    assert response.status_code == 302
    assert any("not the expected version 99" in m for m in messages_of(response))
    assert event_count() == before


def _action(client, model, action, ids, **extra):
    return client.post(
        reverse(f"admin:championships_{model}_changelist"),
        {"action": action, "_selected_action": [str(i) for i in ids], **extra},
    )


def test_generate_fixtures_action_records_events(mine, event_bus):
    me, championship = mine
    for name in ["A", "B", "C"]:
        TeamFactory.create(championship=championship, name=name)

    response = _action(browser(me), "championship", "generate_fixtures", [championship.id])

    assert response.status_code == 302
    assert Match.objects.filter(championship=championship).count() == 3
    assert len(event_bus.published(ev.FixturesGenerated)) == 1
    assert any("3 matches scheduled" in m for m in messages_of(response))


def test_generate_fixtures_without_teams_is_an_error_message(mine):
    me, championship = mine

    response = _action(browser(me), "championship", "generate_fixtures", [championship.id])

    assert response.status_code == 302
    assert any("at least two teams" in m for m in messages_of(response))


@pytest.fixture
def my_match(mine):
    me, championship = mine
    home = TeamFactory.create(championship=championship, name="Lions")
    away = TeamFactory.create(championship=championship, name="Tigers")
    return commands.match_schedule(
        actor_id=me.id, championship_id=championship.id, home_team_id=home.id, away_team_id=away.id
    )


def test_start_action_records_match_started(mine, my_match, event_bus):
    me, _ = mine

    _action(browser(me), "match", "start", [my_match.id])

    assert event_bus.assert_published(ev.MatchStarted, match_id=my_match.id)
    assert Match.objects.get(id=my_match.id).status == "live"


def test_complete_action_asks_for_the_score_first(mine, my_match):
    me, _ = mine

    response = _action(browser(me), "match", "complete_with_score", [my_match.id])

    assert response.status_code == 200
    assert b"Lions vs Tigers: final score" in response.content
    assert Match.objects.get(id=my_match.id).status == "scheduled"


def test_complete_action_with_the_score_records_match_completed(mine, my_match, event_bus):
    me, _ = mine

    _action(
        browser(me),
        "match",
        "complete_with_score",
        [my_match.id],
        apply="yes",
        home_score=2,
        away_score=2,
    )

    assert event_bus.assert_published(ev.MatchCompleted, home_score=2, away_score=2)


def test_correct_action_with_a_reason_records_the_correction(mine, my_match, event_bus):
    me, championship = mine
    commands.match_complete(
        actor_id=me.id,
        championship_id=championship.id,
        match_id=my_match.id,
        home_score=1,
        away_score=0,
    )

    _action(
        browser(me),
        "match",
        "correct_with_reason",
        [my_match.id],
        apply="yes",
        home_score=1,
        away_score=1,
        reason="referee report",
    )

    assert event_bus.assert_published(ev.MatchResultCorrected, reason="referee report")


def test_an_action_that_breaks_a_rule_is_an_error_message(mine, my_match):
    me, _ = mine
    before = event_count()

    response = _action(
        browser(me),
        "match",
        "correct_with_reason",
        [my_match.id],
        apply="yes",
        home_score=1,
        away_score=1,
        reason="typo",
    )

    assert response.status_code == 302
    assert any("correct the result" in m for m in messages_of(response))
    assert event_count() == before


def test_actions_on_another_organisers_match_do_nothing(theirs, my_match):
    other, _ = theirs
    before = event_count()

    _action(browser(other), "match", "start", [my_match.id])

    assert event_count() == before
    assert Match.objects.get(id=my_match.id).status == "scheduled"


def test_event_history_lists_championship_and_match_events(mine, my_match):
    me, championship = mine
    commands.match_start(actor_id=me.id, championship_id=championship.id, match_id=my_match.id)

    page = (
        browser(me)
        .get(reverse("admin:championships_championship_events", args=[championship.id]))
        .content.decode()
    )

    for event_type in ["ChampionshipCreated", "TeamRegistered", "MatchScheduled", "MatchStarted"]:
        assert event_type in page


def test_add_page_renders_for_an_organiser():
    me = organiser()

    response = browser(me).get(reverse("admin:championships_championship_add"))

    assert response.status_code == 200
    assert b"tie_break_preset" in response.content


def test_match_changelist_shows_only_own_matches(mine, theirs, my_match):
    other, their_championship = theirs
    home = TeamFactory.create(championship=their_championship, name="Sharks")
    away = TeamFactory.create(championship=their_championship, name="Eagles")
    commands.match_schedule(
        actor_id=other.id,
        championship_id=their_championship.id,
        home_team_id=home.id,
        away_team_id=away.id,
    )
    me, _ = mine

    page = browser(me).get(reverse("admin:championships_match_changelist")).content.decode()

    assert "Lions vs Tigers" in page
    assert "Sharks vs Eagles" not in page


def test_championships_cannot_be_deleted_in_the_admin(mine):
    me, championship = mine

    response = browser(me).get(
        reverse("admin:championships_championship_delete", args=[championship.id])
    )

    assert response.status_code == 403
    assert Championship.objects.filter(id=championship.id).exists()


def test_a_match_page_reads_but_never_saves_the_row(mine, my_match):
    # Given a live match whose page an organiser opened, and a goal committed since
    me, championship = mine
    commands.match_start(actor_id=me.id, championship_id=championship.id, match_id=my_match.id)
    client = browser(me)
    url = reverse("admin:championships_match_change", args=[my_match.id])
    page = client.get(url)
    commands.match_record_goal(
        actor_id=me.id,
        championship_id=championship.id,
        match_id=my_match.id,
        team_id=my_match.home_team_id,
        minute=10,
    )
    before = Match.objects.get(id=my_match.id)

    # When the page's form is posted (Save)
    saved = client.post(url, {"_save": "Save"})

    # Then nothing is written (before: every column went back as the page read it,
    # 0-0 at the old version, and every later command on the match failed)
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert saved.status_code == 403
    after = Match.objects.get(id=my_match.id)
    assert (after.home_score, after.version) == (before.home_score, before.version) == (1, 3)


def test_an_action_form_left_open_over_a_change_saves_nothing(mine, my_match, event_bus):
    # Given a completed match whose correction page an organiser opened
    me, championship = mine
    commands.match_complete(
        actor_id=me.id,
        championship_id=championship.id,
        match_id=my_match.id,
        home_score=2,
        away_score=1,
    )
    client = browser(me)
    page = _action(client, "match", "correct_with_reason", [my_match.id])
    shown = Match.objects.get(id=my_match.id).version
    assert f'name="expected_version" value="{shown}"' in page.content.decode()

    # When another organiser corrects it first, then the page is submitted
    commands.match_correct_result(
        actor_id=me.id,
        championship_id=championship.id,
        match_id=my_match.id,
        home_score=3,
        away_score=1,
        reason="goal missed",
    )
    stale = _action(
        client,
        "match",
        "correct_with_reason",
        [my_match.id],
        apply="yes",
        home_score=2,
        away_score=2,
        reason="late equaliser",
        expected_version=shown,
    )

    # Then the page's correction is refused (before: it silently replaced the other)
    assert stale.status_code == 302
    assert any("changed while this page was open" in m for m in messages_of(stale))
    after = Match.objects.get(id=my_match.id)
    assert (after.home_score, after.away_score) == (3, 1)
    corrections = StoredEvent.objects.filter(event_type=ev.MatchResultCorrected.event_type)
    assert [e.payload["reason"] for e in corrections] == ["goal missed"]
