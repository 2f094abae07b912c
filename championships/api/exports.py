"""Fixtures as iCalendar (RFC 5545) and fixtures/standings as CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.utils import timezone
from icalendar import Calendar, Event

from championships.models import Championship, Match

ICAL_PRODID = "-//EasyChamp//Fixtures//EN"
MATCH_DURATION_MINUTES = 105


def fixtures_ics(championship: Championship, matches: Iterable[Match], *, host: str) -> bytes:
    """One VEVENT per match with a kickoff: RFC 5545 requires DTSTART, so a match whose
    kickoff is not fixed yet is left out until it is. ``to_ical`` writes CRLF line
    endings and folds lines longer than 75 octets."""
    calendar = Calendar()
    calendar.add("prodid", ICAL_PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", str(championship))
    now = timezone.now()
    for match in matches:
        if match.kickoff is None:
            continue
        event = Event()
        event.add("uid", f"match-{match.id}@{host}")
        event.add("dtstamp", now)
        event.add("summary", f"{match.home_name} vs {match.away_name}")
        if match.kickoff is not None:
            event.add("dtstart", match.kickoff)
            event.add("duration", timedelta(minutes=MATCH_DURATION_MINUTES))
        description = [f"{championship}", f"Status: {match.get_status_display()}"]
        if match.round is not None:
            description.append(f"Round {match.round}")
        if match.group:
            description.append(f"Group {match.group}")
        if match.status in ("completed", "awarded", "live"):
            description.append(f"Score: {match.home_score}-{match.away_score}")
        event.add("description", "\n".join(description))
        event.add("sequence", match.version)
        if match.status == "cancelled":
            event.add("status", "CANCELLED")
        calendar.add_component(event)
    return calendar.to_ical()


FIXTURE_COLUMNS = [
    "match_id",
    "group",
    "round",
    "kickoff_at",
    "home_team",
    "away_team",
    "status",
    "home_score",
    "away_score",
]
STANDINGS_COLUMNS = [
    "group",
    "position",
    "team_id",
    "team",
    "played",
    "won",
    "drawn",
    "lost",
    "goals_for",
    "goals_against",
    "goal_difference",
    "points_deducted",
    "points",
    "form",
]


# A cell a spreadsheet would read as a formula (OWASP "CSV injection"): =, +, -, @, and
# tab / carriage return, which some spreadsheets strip before looking.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """Text that starts like a formula gets a leading apostrophe (shown, never run);
    numbers (a negative goal difference) are left alone."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _csv(columns: list[str], rows: Iterable[list[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    writer.writerows([neutralise(cell) for cell in row] for row in rows)
    return out.getvalue()


def fixtures_csv(matches: Iterable[Match]) -> str:
    played = ("completed", "awarded", "live")
    return _csv(
        FIXTURE_COLUMNS,
        (
            [
                m.id,
                m.group,
                m.round if m.round is not None else "",
                m.kickoff.isoformat() if m.kickoff else "",
                m.home_name,
                m.away_name,
                m.status,
                m.home_score if m.status in played else "",
                m.away_score if m.status in played else "",
            ]
            for m in matches
        ),
    )


def standings_csv(rows: Iterable[dict[str, Any]]) -> str:
    return _csv(
        STANDINGS_COLUMNS,
        (
            [
                r["group"],
                r["position"],
                r["team"]["id"],
                r["team"]["name"],
                r["played"],
                r["won"],
                r["drawn"],
                r["lost"],
                r["goals_for"],
                r["goals_against"],
                r["goal_difference"],
                r["points_deducted"],
                r["points"],
                r["form"],
            ]
            for r in rows
        ),
    )
