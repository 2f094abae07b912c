"""What the match page shows of a match stream: the timeline and the clock.

The page's script (championships/static/championships/live.js, ``timelineEntry``) builds
the same entries from live events; keep the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from championships import events as ev
from events.store import RecordedEvent


@dataclass(frozen=True)
class Entry:
    version: int
    minute: int | None
    kind: str
    side: str  # "home", "away" or "" (the whole match)
    text: str


@dataclass(frozen=True)
class Clock:
    """The minute at ``since``: the page's clock runs on from there while live."""

    minute: int
    since: datetime


def _score(home: int, away: int) -> str:
    return f"{home}\N{EN DASH}{away}"


def _with_reason(text: str, reason: str) -> str:
    return f"{text}: {reason}" if reason else text


def entry(recorded: RecordedEvent, home_team_id: UUID, names: dict[UUID, str]) -> Entry | None:
    data = recorded.data
    v = recorded.version
    match data:
        case ev.MatchStarted():
            return Entry(v, 0, "start", "", "Kick-off")
        case ev.GoalScored():
            side = "home" if data.team_id == home_team_id else "away"
            extra = " (pen.)" if data.penalty else " (o.g.)" if data.own_goal else ""
            team = names.get(data.team_id, "")
            score = _score(data.home_score, data.away_score)
            return Entry(
                v,
                data.minute,
                "goal",
                side,
                f"{data.player or 'Goal'}{extra} \N{MIDDLE DOT} {team} {score}",
            )
        case ev.MatchCompleted():
            return Entry(
                v, None, "end", "", "Full time " + _score(data.home_score, data.away_score)
            )
        case ev.MatchResultCorrected():
            text = "Result corrected to " + _score(data.home_score, data.away_score)
            return Entry(v, None, "note", "", _with_reason(text, data.reason))
        case ev.MatchAwarded():
            text = "Awarded " + _score(data.home_score, data.away_score)
            return Entry(v, None, "note", "", _with_reason(text, data.reason))
        case ev.MatchPostponed():
            return Entry(v, None, "note", "", _with_reason("Postponed", data.reason))
        case ev.MatchCancelled():
            return Entry(v, None, "note", "", _with_reason("Cancelled", data.reason))
    return None


def timeline(
    events: list[RecordedEvent], home_team_id: UUID, names: dict[UUID, str]
) -> list[Entry]:
    entries = (entry(recorded, home_team_id, names) for recorded in events)
    return [e for e in entries if e is not None]


def clock(events: list[RecordedEvent]) -> Clock | None:
    """From the last clock event: kick-off (minute 0) or a clock update."""
    for recorded in reversed(events):
        match recorded.data:
            case ev.MatchStarted(started_at=started_at):
                return Clock(0, started_at)
            case ev.MatchUpdated(minute=minute):
                return Clock(minute, recorded.occurred_at)
    return None
