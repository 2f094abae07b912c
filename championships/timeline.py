"""What the match page shows of a match stream: the timeline and the clock.

The page's script (championships/static/championships/live.js, ``timelineEntry``) builds
the same entries from live events; keep the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from championships import events as ev
from championships import knockout_events as kev
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


_CARDS = {"yellow": "Yellow card", "second_yellow": "Second yellow card", "red": "Red card"}


def _result_extra(data: ev.MatchCompleted | ev.MatchResultCorrected) -> str:
    text = " a.e.t." if data.extra_time else ""
    if data.penalties_home is not None and data.penalties_away is not None:
        text += f" ({_score(data.penalties_home, data.penalties_away)} pens)"
    return text


def entry(
    recorded: RecordedEvent, home_team_id: UUID | None, names: dict[UUID, str]
) -> Entry | None:
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
        case kev.CardShown():
            side = "home" if data.team_id == home_team_id else "away"
            team = names.get(data.team_id, "")
            label = _CARDS.get(data.card, data.card)
            return Entry(
                v,
                data.minute,
                f"card-{data.card}",
                side,
                f"{label}: {data.player or 'unnamed'} \N{MIDDLE DOT} {team}",
            )
        case kev.TeamAdvanced():
            return Entry(v, None, "note", "", f"{names.get(data.team_id, 'A team')} goes through")
        case ev.MatchCompleted():
            text = "Full time " + _score(data.home_score, data.away_score) + _result_extra(data)
            return Entry(v, None, "end", "", text)
        case ev.MatchResultCorrected():
            text = "Result corrected to " + _score(data.home_score, data.away_score)
            text += _result_extra(data)
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
    events: list[RecordedEvent], home_team_id: UUID | None, names: dict[UUID, str]
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
