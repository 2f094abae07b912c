"""Exports: fixtures as iCalendar (RFC 5545), fixtures and standings as CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from icalendar import Calendar

from championships import commands
from tests.championships.api.conftest import url
from tests.championships.factories import MatchFactory, TeamFactory

pytestmark = pytest.mark.django_db

LONG_NAME = "Associazione Calcio Dilettantistica Polisportiva Valle dei Templi"


def test_fixtures_ics_is_a_valid_calendar(anonymous, championship, home, away):
    kickoff = datetime(2025, 4, 5, 15, 0, tzinfo=UTC)
    dated = MatchFactory.create(
        championship=championship, home_team=home, away_team=away, round=1, kickoff=kickoff
    )
    undated = MatchFactory.create(
        championship=championship, home_team=away, away_team=home, round=2
    )

    response = anonymous.get(url(f"championships/{championship.id}/fixtures.ics"))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    raw = response.content
    assert raw.startswith(b"BEGIN:VCALENDAR\r\n")
    assert raw.endswith(b"END:VCALENDAR\r\n")
    assert b"\n" not in raw.replace(b"\r\n", b"")
    calendar = Calendar.from_ical(raw)
    assert calendar["VERSION"] == "2.0"
    assert calendar["PRODID"]
    events = {str(e["UID"]): e for e in calendar.walk("VEVENT")}
    # RFC 5545 requires DTSTART: a match without a kickoff is left out until it has one.
    assert set(events) == {f"match-{dated.id}@testserver"}
    assert f"match-{undated.id}@testserver" not in events
    assert all("DTSTART" in e for e in calendar.walk("VEVENT"))
    first = events[f"match-{dated.id}@testserver"]
    assert str(first["SUMMARY"]) == "Home FC vs Away FC"
    assert first.decoded("DTSTART") == kickoff
    assert first.decoded("DTSTAMP")


def test_fixtures_ics_folds_long_lines(anonymous, championship):
    home = TeamFactory.create(championship=championship, name=LONG_NAME)
    away = TeamFactory.create(championship=championship, name=LONG_NAME + " B")
    MatchFactory.create(
        championship=championship,
        home_team=home,
        away_team=away,
        kickoff=datetime(2025, 4, 5, 15, 0, tzinfo=UTC),
    )

    raw = anonymous.get(url(f"championships/{championship.id}/fixtures.ics")).content

    lines = raw.split(b"\r\n")
    assert max(len(line) for line in lines) <= 75
    assert any(line.startswith(b" ") for line in lines)
    summary = next(iter(Calendar.from_ical(raw).walk("VEVENT")))["SUMMARY"]
    assert str(summary) == f"{LONG_NAME} vs {LONG_NAME} B"


def test_fixtures_csv(anonymous, championship, home, away, match):
    commands.match_complete(
        actor_id=championship.owner_id,
        championship_id=championship.id,
        match_id=match.id,
        home_score=2,
        away_score=0,
    )

    response = anonymous.get(url(f"championships/{championship.id}/fixtures.csv"))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="fixtures.csv"'
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [
        (r["round"], r["home_team"], r["away_team"], r["status"], r["home_score"], r["away_score"])
        for r in rows
    ] == [("1", "Home FC", "Away FC", "completed", "2", "0")]


def test_standings_csv(anonymous, championship, match, event_bus):
    commands.match_complete(
        actor_id=championship.owner_id,
        championship_id=championship.id,
        match_id=match.id,
        home_score=1,
        away_score=1,
    )
    event_bus.deliver()

    response = anonymous.get(url(f"championships/{championship.id}/standings.csv"))

    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(r["position"], r["team"], r["drawn"], r["points"], r["form"]) for r in rows] == [
        ("1", "Away FC", "1", "1", "D"),
        ("1", "Home FC", "1", "1", "D"),  # level on everything: they share first place
    ]


def test_export_of_an_unknown_championship_is_404(anonymous):
    response = anonymous.get(url("championships/nope/fixtures.ics"))

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "detail": "no such resource: /api/v1/championships/nope/fixtures.ics"
    }


@pytest.mark.parametrize("name", ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)"])
def test_csv_cells_that_look_like_formulas_are_neutralised(
    anonymous, championship, away, event_bus, name
):
    team = TeamFactory.create(championship=championship, name=name)
    match = MatchFactory.create(championship=championship, home_team=team, away_team=away)
    commands.match_complete(
        actor_id=championship.owner_id,
        championship_id=championship.id,
        match_id=match.id,
        home_score=0,
        away_score=3,
    )
    event_bus.deliver()

    standings = anonymous.get(url(f"championships/{championship.id}/standings.csv"))
    fixtures = anonymous.get(url(f"championships/{championship.id}/fixtures.csv"))

    rows = list(csv.DictReader(io.StringIO(standings.content.decode())))
    cleaned = " ".join(name.split())
    row = next(r for r in rows if r["team"].endswith(cleaned))
    assert row["team"] == "'" + cleaned
    assert row["goal_difference"] == "-3"  # a number stays a number
    fixture = next(csv.DictReader(io.StringIO(fixtures.content.decode())))
    assert fixture["home_team"] == "'" + cleaned
