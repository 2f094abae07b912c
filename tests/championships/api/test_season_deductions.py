"""Points deductions with appeals through the API (issue #9): the 2023-24 Premier League
case, one club deducted 10 points in November, reduced to 6 on appeal in February, then
2 more in April."""

from __future__ import annotations

import pytest

from championships import events as ev
from championships import projections
from championships.models import Championship
from events.models import StoredEvent
from tests.championships.api.conftest import event_count, url
from tests.championships.conftest import standings_snapshot

pytestmark = pytest.mark.django_db

NOVEMBER = "2023-11-17T12:00:00Z"
FEBRUARY = "2024-02-26T12:00:00Z"
APRIL = "2024-04-08T12:00:00Z"


def _deduct(api, championship, team, points, reason, when):
    return api.post(
        url(f"championships/{championship.id}/deductions/"),
        {"team": str(team.id), "points": points, "reason": reason, "effective_at": when},
        format="json",
    )


def _amend(api, deduction_id, points, reason, when):
    return api.post(
        url(f"deductions/{deduction_id}/amend/"),
        {"points": points, "reason": reason, "effective_at": when},
        format="json",
    )


def _row(client, championship, team):
    body = client.get(url(f"championships/{championship.id}/standings/")).json()
    return next(r for r in body["rows"] if r["team"]["id"] == str(team.id)), body


def test_deduct_amend_on_appeal_then_deduct_again(
    api, anonymous, championship, home, away, event_bus
):
    first = _deduct(api, championship, home, 10, "breach of financial rules", NOVEMBER)
    deduction_id = first.json()["id"]
    amended = _amend(api, deduction_id, 6, "reduced on appeal", FEBRUARY)
    second = _deduct(api, championship, home, 2, "second breach", APRIL)
    event_bus.deliver()

    assert first.status_code == 201
    assert first.json()["points"] == 10
    assert first["ETag"] == f'"{Championship.objects.get(id=championship.id).version - 2}"'
    assert amended.status_code == 200
    assert amended.json()["points"] == 6
    assert amended.json()["original"]["points"] == 10
    assert [a["points"] for a in amended.json()["amendments"]] == [6]
    assert second.status_code == 201
    event_bus.assert_published(ev.PointsDeducted, points=10)
    event_bus.assert_published(ev.DeductionAmended, previous_points=10, points=6)
    types = list(
        StoredEvent.objects.filter(stream_id=str(championship.id))
        .order_by("version")
        .values_list("event_type", flat=True)
    )
    assert types[-3:] == ["PointsDeducted", "DeductionAmended", "PointsDeducted"]

    row, body = _row(anonymous, championship, home)
    assert (row["points_deducted"], row["points"]) == (8, -8)
    assert [(n["points"], n["reason"], n["effective_at"][:10]) for n in body["deductions"]] == [
        (6, "reduced on appeal", "2024-02-26"),
        (2, "second breach", "2024-04-08"),
    ]
    assert (
        body["deductions"][0]["note"]
        == "Home FC: 6 points deducted (reduced on appeal), 26 Feb 2024"
    )
    assert body["deductions"][0]["original_points"] == 10

    listed = anonymous.get(url(f"championships/{championship.id}/deductions/")).json()
    assert listed["count"] == 2
    assert [
        (d["points"], d["original"]["points"], len(d["amendments"])) for d in listed["results"]
    ] == [
        (6, 10, 1),
        (2, 2, 0),
    ]


def test_amending_to_zero_withdraws_the_deduction(api, anonymous, championship, home, event_bus):
    deduction_id = _deduct(api, championship, home, 3, "late registration", NOVEMBER).json()["id"]

    response = _amend(api, deduction_id, 0, "overturned on appeal", FEBRUARY)
    event_bus.deliver()

    assert response.status_code == 200
    row, body = _row(anonymous, championship, home)
    assert (row["points_deducted"], row["points"]) == (0, 0)
    assert body["deductions"] == []
    listed = anonymous.get(url(f"championships/{championship.id}/deductions/")).json()
    assert listed["results"][0]["points"] == 0


def test_deductions_and_amendments_survive_a_rebuild(api, championship, home, away, event_bus):
    deduction_id = _deduct(api, championship, home, 10, "breach", NOVEMBER).json()["id"]
    _amend(api, deduction_id, 6, "reduced on appeal", FEBRUARY)
    _deduct(api, championship, away, 1, "fielding an ineligible player", APRIL)
    event_bus.deliver()
    live = standings_snapshot(championship.id)
    notes = api.get(url(f"championships/{championship.id}/standings/")).json()["deductions"]

    projections.rebuild_standings(championship.id)

    assert standings_snapshot(championship.id) == live
    assert api.get(url(f"championships/{championship.id}/standings/")).json()["deductions"] == notes


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"points": 0, "reason": "x"}, "points"),
        ({"points": 1001, "reason": "x"}, "points"),
        ({"points": 3}, "reason"),
        ({"points": 3, "reason": "x", "effective_at": "soon"}, "effective_at"),
        ({"points": 3, "reason": "x", "team": "not-a-uuid"}, "team"),
        ({"points": 3, "reason": "x", "team": "00000000-0000-0000-0000-000000000000"}, "team"),
    ],
)
def test_bad_deductions_are_400_per_field(api, championship, home, body, field):
    before = event_count()
    body = {"team": str(home.id), **body}

    response = api.post(url(f"championships/{championship.id}/deductions/"), body, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert event_count() == before


def test_amend_checks_its_input_and_its_deduction(api, championship, home):
    deduction_id = _deduct(api, championship, home, 3, "x", NOVEMBER).json()["id"]

    negative = _amend(api, deduction_id, -1, "x", FEBRUARY)
    unknown = _amend(api, "00000000-0000-0000-0000-000000000000", 1, "x", FEBRUARY)
    malformed = api.post(url("deductions/nope/amend/"), {}, format="json")

    assert negative.status_code == 400
    assert "points" in negative.json()
    assert unknown.status_code == 404
    assert malformed.status_code == 404


def test_only_organisers_deduct_or_amend(api, stranger, anonymous, championship, home):
    deduction_id = _deduct(api, championship, home, 3, "x", NOVEMBER).json()["id"]

    assert _deduct(stranger, championship, home, 1, "x", NOVEMBER).status_code == 403
    assert _amend(stranger, deduction_id, 1, "x", FEBRUARY).status_code == 403
    assert _deduct(anonymous, championship, home, 1, "x", NOVEMBER).status_code == 401


def test_a_stale_if_match_on_amend_is_412(api, championship, home):
    deduction_id = _deduct(api, championship, home, 3, "x", NOVEMBER).json()["id"]

    response = api.post(
        url(f"deductions/{deduction_id}/amend/"),
        {"points": 1, "reason": "appeal"},
        format="json",
        HTTP_IF_MATCH='"1"',
    )

    assert response.status_code == 412
    assert (
        response.json()["current_version"] == Championship.objects.get(id=championship.id).version
    )
