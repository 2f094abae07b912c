"""The admin runs a season without a shell (issue #9): teams, withdrawal, deductions,
rescheduling, co-organisers, visibility, and each add form starting from the defaults."""

from __future__ import annotations

import pytest
from django.urls import reverse

from championships import commands
from championships import events as ev
from championships.models import Championship, Deduction, Match, MatchStatus, Team
from tests.championships.api.conftest import event_count
from tests.championships.api.test_admin import _action, _edit, browser, organiser
from tests.championships.factories import ChampionshipFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def me():
    return organiser()


@pytest.fixture
def league(me):
    return ChampionshipFactory.create(actor_id=me.id, name="Admin League")


def test_the_add_form_starts_from_the_default_preset_after_viewing_another(me, league):
    client = browser(me)
    commands.championship_update(actor_id=me.id, championship_id=league.id, tie_breakers="uefa")
    client.get(reverse("admin:championships_championship_change", args=[league.id]))

    page = client.get(reverse("admin:championships_championship_add")).content.decode()

    assert '<option value="fifa_2022" selected>' in page
    assert '<option value="uefa" selected>' not in page


def test_register_rename_and_remove_a_team_in_the_admin(me, league, event_bus):
    client = browser(me)
    added = client.post(
        reverse("admin:championships_team_add"),
        {"championship": str(league.id), "name": "Lions  ", "group": ""},
    )
    team = Team.objects.get(championship=league, name="Lions")

    renamed = client.post(
        reverse("admin:championships_team_change", args=[team.id]),
        {"name": "Lions FC", "group": ""},
    )
    removed = client.post(
        reverse("admin:championships_team_delete", args=[team.id]), {"post": "yes"}
    )

    assert added.status_code == renamed.status_code == removed.status_code == 302
    event_bus.assert_published(ev.TeamRegistered, name="Lions")
    event_bus.assert_published(ev.TeamUpdated, name="Lions FC")
    event_bus.assert_published(ev.TeamRemoved, team_id=team.id)
    assert not Team.objects.filter(id=team.id).exists()


def test_removing_a_team_with_matches_is_refused_not_a_500(me, league):
    home, _away = (TeamFactory.create(championship=league, name=n) for n in ("H", "A"))
    commands.fixtures_generate(actor_id=me.id, championship_id=league.id)
    before = event_count()

    response = browser(me).post(
        reverse("admin:championships_team_delete", args=[home.id]), {"post": "yes"}
    )

    # The admin lists the matches that protect the team instead of deleting it.
    assert response.status_code == 200
    assert (
        "Cannot delete" in response.content.decode() or "would require" in response.content.decode()
    )
    assert Team.objects.filter(id=home.id).exists()
    assert event_count() == before


def test_withdraw_action_applies_the_championship_policy(me, league, event_bus):
    commands.championship_update(
        actor_id=me.id, championship_id=league.id, withdrawal_policy="award_remaining"
    )
    home, away = (TeamFactory.create(championship=league, name=n) for n in ("H", "A"))
    commands.fixtures_generate(actor_id=me.id, championship_id=league.id)

    response = _action(browser(me), "team", "withdraw", [home.id], apply="yes", reason="folded")

    assert response.status_code == 302
    event_bus.assert_published(ev.TeamWithdrawn, team_id=home.id, policy="award_remaining")
    match = Match.objects.get(championship=league)
    assert (match.status, match.awarded_to_id) == (MatchStatus.AWARDED, away.id)


def test_deduct_then_amend_in_the_admin(me, league, event_bus):
    team = TeamFactory.create(championship=league, name="Everton")
    client = browser(me)

    asked = _action(client, "team", "deduct_points", [team.id])
    deducted = _action(
        client, "team", "deduct_points", [team.id], apply="yes", points=10, reason="PSR breach"
    )
    deduction = Deduction.objects.get(team=team)
    amended = _action(
        client,
        "deduction",
        "amend",
        [deduction.id],
        apply="yes",
        points=6,
        reason="reduced on appeal",
    )

    assert asked.status_code == 200
    assert "Deduct points" in asked.content.decode() or "deduct points" in asked.content.decode()
    assert deducted.status_code == amended.status_code == 302
    event_bus.assert_published(ev.PointsDeducted, team_id=team.id, points=10)
    event_bus.assert_published(ev.DeductionAmended, previous_points=10, points=6)
    assert Team.objects.get(id=team.id).points_deducted == 6
    page = client.get(
        reverse("admin:championships_deduction_change", args=[deduction.id])
    ).content.decode()
    assert "PSR breach" in page
    assert "reduced on appeal" in page


def test_reschedule_and_swap_actions(me, league, event_bus):
    home, away = (TeamFactory.create(championship=league, name=n) for n in ("H", "A"))
    match = commands.match_schedule(
        actor_id=me.id, championship_id=league.id, home_team_id=home.id, away_team_id=away.id
    )
    client = browser(me)

    rescheduled = _action(
        client, "match", "reschedule", [match.id], apply="yes", kickoff="2025-05-04 15:00:00"
    )
    swapped = _action(client, "match", "swap_venues", [match.id])

    assert rescheduled.status_code == swapped.status_code == 302
    match.refresh_from_db()
    assert match.kickoff is not None
    assert (match.kickoff.month, match.kickoff.day) == (5, 4)
    assert (match.home_team_id, match.away_team_id) == (away.id, home.id)
    event_bus.assert_published(ev.MatchRescheduled, match_id=match.id)
    event_bus.assert_published(ev.MatchVenuesSwapped, match_id=match.id, home_team_id=away.id)


def test_add_and_remove_a_co_organiser_and_publish_in_the_admin(me, league, event_bus):
    helper = UserFactory.create(username="helper")
    client = browser(me)

    added = _edit(client, league, add_organiser="helper", visibility="draft")
    league.refresh_from_db()
    removed = _edit(client, league, remove_organisers=[helper.id], visibility="published")

    assert added.status_code == removed.status_code == 302
    event_bus.assert_published(ev.OrganiserAdded, user_id=helper.id)
    event_bus.assert_published(ev.OrganiserRemoved, user_id=helper.id)
    event_bus.assert_published(ev.ChampionshipVisibilityChanged, visibility="draft")
    league.refresh_from_db()
    assert list(league.organisers.all()) == []
    assert league.visibility == "published"


def test_the_withdrawal_policy_is_set_in_the_admin(me, league, event_bus):
    response = _edit(
        browser(me),
        league,
        withdrawal_policy="award_remaining",
        withdrawal_award_for=2,
        withdrawal_award_against=0,
    )

    assert response.status_code == 302
    event_bus.assert_published(
        ev.WithdrawalPolicyChanged, policy="award_remaining", award_for=2, award_against=0
    )
    assert Championship.objects.get(id=league.id).withdrawal_award_for == 2


def test_a_deduction_page_reads_but_never_saves_the_row(me, league):
    team = TeamFactory.create(championship=league, name="Everton")
    deduction = commands.team_deduct_points(
        actor_id=me.id, championship_id=league.id, team_id=team.id, points=6, reason="fine"
    )
    client = browser(me)
    url = reverse("admin:championships_deduction_change", args=[deduction.id])
    page = client.get(url)
    commands.deduction_amend(
        actor_id=me.id,
        championship_id=league.id,
        deduction_id=deduction.id,
        points=0,
        reason="appeal won",
    )

    saved = client.post(url, {"_save": "Save"})

    # Before: the row went back to 6 "fine" while its history and events said 0
    assert page.status_code == 200
    assert saved.status_code == 403
    assert Deduction.objects.get(id=deduction.id).points == 0


def test_a_stale_team_rename_is_refused(me, league):
    team = TeamFactory.create(championship=league, name="Everton")
    client = browser(me)
    url = reverse("admin:championships_team_change", args=[team.id])
    shown = Championship.objects.get(id=league.id).version
    assert f'name="version" value="{shown}"' in client.get(url).content.decode()
    commands.team_update(
        actor_id=me.id, championship_id=league.id, team_id=team.id, name="Everton FC"
    )

    response = client.post(url, {"name": "The Toffees", "group": "", "version": shown})

    assert response.status_code == 302
    assert Team.objects.get(id=team.id).name == "Everton FC"
