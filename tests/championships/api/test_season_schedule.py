"""Rescheduling, swapping venues, co-organiser removal, draft championships and duplicate
fixtures through the API (issue #9)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from championships import commands
from championships import events as ev
from championships.models import Championship, Match
from tests.championships.api.conftest import client_for, event_count, url
from tests.championships.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


# --- rescheduling -------------------------------------------------------------------


def test_reschedule_changes_the_kickoff_and_keeps_the_status(api, match, event_bus):
    response = api.post(
        url(f"matches/{match.id}/reschedule/"),
        {"kickoff_at": "2025-05-04T15:00:00Z"},
        format="json",
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["kickoff_at"], body["status"]) == ("2025-05-04T15:00:00Z", "scheduled")
    assert response["ETag"] == f'"{match.version + 1}"'
    event_bus.assert_published(ev.MatchRescheduled, match_id=match.id, previous_kickoff=None)


def test_a_postponed_match_is_rescheduled(api, match):
    api.post(url(f"matches/{match.id}/postpone/"), {"reason": "frozen pitch"}, format="json")

    response = api.post(
        url(f"matches/{match.id}/reschedule/"),
        {"kickoff_at": "2025-05-11T15:00:00Z"},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["status"] == "postponed"
    assert response.json()["kickoff_at"] == "2025-05-11T15:00:00Z"


@pytest.mark.parametrize("action", ["reschedule", "swap"])
def test_a_started_match_cannot_be_rescheduled_or_swapped(api, match, action):
    api.post(url(f"matches/{match.id}/start/"), format="json")
    before = event_count()

    response = api.post(
        url(f"matches/{match.id}/{action}/"),
        {"kickoff_at": "2025-05-04T15:00:00Z"},
        format="json",
    )

    assert response.status_code == 409
    assert event_count() == before


def test_reschedule_needs_a_valid_kickoff(api, match):
    response = api.post(
        url(f"matches/{match.id}/reschedule/"), {"kickoff_at": "tomorrow"}, format="json"
    )

    assert response.status_code == 400
    assert "kickoff_at" in response.json()


def test_swap_exchanges_home_and_away_and_the_result_follows(
    api, anonymous, match, home, away, event_bus
):
    swapped = api.post(url(f"matches/{match.id}/swap/"), format="json")
    api.post(
        url(f"matches/{match.id}/complete/"), {"home_score": 2, "away_score": 0}, format="json"
    )
    event_bus.deliver()

    assert swapped.status_code == 200
    assert (swapped.json()["home_team"]["id"], swapped.json()["away_team"]["id"]) == (
        str(away.id),
        str(home.id),
    )
    rows = anonymous.get(url(f"championships/{match.championship_id}/standings/")).json()["rows"]
    assert rows[0]["team"]["id"] == str(away.id)  # the new home side won 2-0
    event_bus.assert_published(ev.MatchVenuesSwapped, home_team_id=away.id)


# --- co-organisers ------------------------------------------------------------------


def test_remove_a_co_organiser(api, owner, championship, event_bus):
    helper = UserFactory.create()
    api.post(
        url(f"championships/{championship.id}/organisers/"), {"user": helper.id}, format="json"
    )

    removed = api.delete(url(f"championships/{championship.id}/organisers/{helper.id}/"))
    denied = client_for(helper).post(
        url(f"championships/{championship.id}/teams/"), {"name": "Late"}, format="json"
    )

    assert removed.status_code == 200
    assert removed.json()["organisers"] == []
    assert denied.status_code == 403
    event_bus.assert_published(ev.OrganiserRemoved, user_id=helper.id)


def test_removing_the_owner_or_a_stranger_fails_clearly(api, owner, championship):
    owner_removed = api.delete(url(f"championships/{championship.id}/organisers/{owner.id}/"))
    nobody = api.delete(url(f"championships/{championship.id}/organisers/999999/"))
    malformed = api.delete(url(f"championships/{championship.id}/organisers/abc/"))

    assert owner_removed.status_code == 409
    assert nobody.status_code == 404
    assert malformed.status_code == 404


# --- draft and published --------------------------------------------------------------


def test_a_draft_is_visible_to_its_organisers_only_until_published(
    api, anonymous, stranger, championship, match
):
    api.patch(url(f"championships/{championship.id}/"), {"visibility": "draft"}, format="json")
    paths = [
        f"championships/{championship.id}/",
        f"championships/{championship.id}/teams/",
        f"championships/{championship.id}/matches/",
        f"championships/{championship.id}/standings/",
        f"championships/{championship.id}/events/",
        f"championships/{championship.id}/deductions/",
        f"championships/{championship.id}/fixtures.csv",
        f"championships/{championship.id}/fixtures.ics",
        f"championships/{championship.id}/standings.csv",
        f"championships/{championship.id}/scorers/",
        f"championships/{championship.id}/cards/",
        f"championships/{championship.id}/bracket/",
        f"matches/{match.id}/",
    ]

    hidden = {p: anonymous.get(url(p)).status_code for p in paths}
    hidden_from_stranger = {p: stranger.get(url(p)).status_code for p in paths}
    shown = {p: api.get(url(p)).status_code for p in paths}
    listed_anonymous = [c["id"] for c in anonymous.get(url("championships/")).json()["results"]]
    listed_owner = [c["id"] for c in api.get(url("championships/")).json()["results"]]
    page = anonymous.get(f"/championships/{championship.id}/")

    assert set(hidden.values()) == {404}
    assert set(hidden_from_stranger.values()) == {404}
    assert set(shown.values()) == {200}
    assert str(championship.id) not in listed_anonymous
    assert str(championship.id) in listed_owner
    assert page.status_code == 404

    published = api.patch(
        url(f"championships/{championship.id}/"), {"visibility": "published"}, format="json"
    )
    assert published.status_code == 200
    assert {anonymous.get(url(p)).status_code for p in paths} == {200}


def test_writing_to_a_draft_of_somebody_else_is_a_404_not_a_403(api, stranger, championship, match):
    # A 403 told that the draft exists; reads already answered 404
    api.patch(url(f"championships/{championship.id}/"), {"visibility": "draft"}, format="json")
    writes = [
        ("patch", f"championships/{championship.id}/", {"name": "Mine now"}),
        ("post", f"championships/{championship.id}/teams/", {"name": "Intruders"}),
        ("post", f"matches/{match.id}/start/", {}),
    ]

    statuses = [
        getattr(stranger, m)(url(p), body, format="json").status_code for m, p, body in writes
    ]

    assert statuses == [404, 404, 404]
    # a draft's match, as unknown as any: its championship not named
    detail = stranger.post(url(f"matches/{match.id}/start/"), {}, format="json").json()["detail"]
    assert detail == f"match {match.id} does not exist"
    published = api.patch(
        url(f"championships/{championship.id}/"), {"visibility": "published"}, format="json"
    )
    assert published.status_code == 200
    assert stranger.post(url(f"matches/{match.id}/start/"), {}, format="json").status_code == 403


def _draft_writes(championship: Any, match: Any, deduction_id: str) -> list[tuple[str, str, dict]]:
    """Writes with invalid bodies, under ``championship`` (and its match, deduction)."""
    return [
        ("patch", f"championships/{championship}/", {"name": ""}),
        ("post", f"championships/{championship}/deductions/", {}),
        ("post", f"championships/{championship}/matches/", {}),
        ("post", f"championships/{championship}/teams/", {}),
        ("post", f"championships/{championship}/fixtures/", {"legs": "x"}),
        ("post", f"championships/{championship}/entries/", {}),
        ("post", f"championships/{championship}/entries/open/", {"slots": "x"}),
        ("post", f"matches/{match}/goals/", {}),
        ("post", f"deductions/{deduction_id}/amend/", {"points": "x"}),
    ]


def test_an_invalid_write_to_a_draft_is_answered_as_for_an_unknown_id(
    api, stranger, championship, match
):
    # Bodies are validated before the object is read: a draft must answer exactly what
    # an id nobody has answers, or the difference tells that the draft exists
    api.patch(url(f"championships/{championship.id}/"), {"visibility": "draft"}, format="json")
    deduction = api.post(
        url(f"championships/{championship.id}/deductions/"),
        {"team": str(match.home_team_id), "points": 1, "reason": "late"},
        format="json",
    ).json()
    draft = _draft_writes(championship.id, match.id, deduction["id"])
    unknown = _draft_writes(uuid.uuid4(), uuid.uuid4(), str(uuid.uuid4()))

    def answers(client: Any, writes: list[tuple[str, str, dict]]) -> list[tuple[int, str]]:
        found = []
        for method, path, body in writes:
            response = getattr(client, method)(url(path), body, format="json")
            found.append((response.status_code, response.json().get("detail", "")))
        return found

    to_draft, to_unknown = answers(stranger, draft), answers(stranger, unknown)

    assert [status for status, _ in to_draft] == [404] * len(draft)
    assert [status for status, _ in to_unknown] == [404] * len(unknown)
    assert all(detail.endswith("does not exist") for _, detail in to_draft + to_unknown)
    # the organiser still gets the validation errors
    assert [status for status, _ in answers(api, draft)] == [400] * len(draft)


def test_a_write_to_an_id_that_is_no_uuid_under_championships_is_a_404(stranger):
    # The entries routes take any string as the id (it was a 500 from the check above)
    response = stranger.post(url("championships/not-a-uuid/entries/"), {}, format="json")

    assert response.status_code == 404


def test_a_draft_is_hidden_under_a_script_prefix_too(api, stranger, championship, match):
    api.patch(url(f"championships/{championship.id}/"), {"visibility": "draft"}, format="json")

    response = stranger.post(
        url(f"matches/{match.id}/goals/"), {}, format="json", SCRIPT_NAME="/ec"
    )

    assert response.status_code == 404


def test_a_championship_can_be_created_as_a_draft(api, anonymous, event_bus):
    response = api.post(
        url("championships/"), {"name": "Secret Cup", "visibility": "draft"}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["visibility"] == "draft"
    assert anonymous.get(url(f"championships/{response.json()['id']}/")).status_code == 404
    event_bus.assert_published(ev.ChampionshipVisibilityChanged, visibility="draft")


# --- duplicate fixtures -------------------------------------------------------------


@pytest.fixture
def generated(owner, championship):
    teams = [TeamFactory.create(championship=championship, name=n) for n in ("A", "B", "C")]
    commands.fixtures_generate(actor_id=owner.id, championship_id=championship.id)
    return teams


def _schedule(api, championship, home, away, **extra):
    return api.post(
        url(f"championships/{championship.id}/matches/"),
        {"home_team": str(home.id), "away_team": str(away.id), **extra},
        format="json",
    )


def test_a_duplicate_of_a_generated_fixture_is_refused(api, championship, generated):
    a, b, _ = generated
    before = Match.objects.filter(championship=championship).count()

    same = _schedule(api, championship, a, b)
    reversed_ = _schedule(api, championship, b, a)

    assert same.status_code == reversed_.status_code == 409
    assert "allow_duplicate" in same.json()["detail"]
    assert Match.objects.filter(championship=championship).count() == before


def test_a_replay_is_scheduled_when_explicitly_allowed(api, championship, generated):
    a, b, _ = generated

    response = _schedule(api, championship, a, b, allow_duplicate=True, round=9)

    assert response.status_code == 201


def test_in_a_double_round_robin_the_return_match_is_not_a_duplicate(api, owner):
    cid = api.post(
        url("championships/"), {"name": "Double", "format": "double_round_robin"}, format="json"
    ).json()["id"]
    championship = Championship.objects.get(id=cid)
    for name in ("A", "B"):
        TeamFactory.create(championship=championship, name=name)
    commands.fixtures_generate(actor_id=owner.id, championship_id=championship.id)
    first_leg = Match.objects.get(championship=championship, round=1)
    api.post(url(f"matches/{first_leg.id}/cancel/"), {"reason": "void"}, format="json")

    rescheduled = _schedule(api, championship, first_leg.home_team, first_leg.away_team)
    duplicate = _schedule(api, championship, first_leg.away_team, first_leg.home_team)

    # The cancelled first leg no longer counts; the return leg still stands.
    assert rescheduled.status_code == 201
    assert duplicate.status_code == 409
