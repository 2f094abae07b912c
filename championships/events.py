"""Championship and match events: frozen dataclasses of ids and primitives.

Championship stream (stream_id = str(championship_id)): rules, teams, fixtures, deductions.
Match stream (stream_id = str(match_id)): the match's live events and its result.
Standings stream (stream_id = ``standings-<championship_id>``): projection output.
Result events carry the championship, group and both teams so that projections never
need to read the write model.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from events.registry import Event

CHAMPIONSHIP_STREAM = "championship"
MATCH_STREAM = "match"
STANDINGS_STREAM = "standings"


def standings_stream_id(championship_id: UUID) -> str:
    return f"standings-{championship_id}"


@dataclass(frozen=True)
class ChampionshipCreated(Event):
    event_type = "ChampionshipCreated"
    stream_type = CHAMPIONSHIP_STREAM

    championship_id: UUID
    name: str
    season: str
    format: str
    owner_id: int
    points_win: int
    points_draw: int
    points_loss: int
    tie_breakers: tuple[str, ...]
    head_to_head_reapply: bool
    tie_break_preset: str


@dataclass(frozen=True)
class ChampionshipUpdated(Event):
    """The full new rules and names (not a patch), so readers need no earlier state."""

    event_type = "ChampionshipUpdated"
    stream_type = CHAMPIONSHIP_STREAM

    championship_id: UUID
    name: str
    season: str
    points_win: int
    points_draw: int
    points_loss: int
    tie_breakers: tuple[str, ...]
    head_to_head_reapply: bool
    tie_break_preset: str


@dataclass(frozen=True)
class OrganiserAdded(Event):
    event_type = "OrganiserAdded"
    stream_type = CHAMPIONSHIP_STREAM

    championship_id: UUID
    user_id: int


@dataclass(frozen=True)
class TeamRegistered(Event):
    event_type = "TeamRegistered"
    stream_type = CHAMPIONSHIP_STREAM

    championship_id: UUID
    team_id: UUID
    name: str
    group: str


@dataclass(frozen=True)
class TeamWithdrawn(Event):
    event_type = "TeamWithdrawn"
    stream_type = CHAMPIONSHIP_STREAM

    championship_id: UUID
    team_id: UUID
    group: str
    reason: str


@dataclass(frozen=True)
class PointsDeducted(Event):
    event_type = "PointsDeducted"
    stream_type = CHAMPIONSHIP_STREAM

    championship_id: UUID
    team_id: UUID
    group: str
    points: int
    reason: str


@dataclass(frozen=True)
class FixturesGenerated(Event):
    """Summary on the championship stream; each match gets MatchScheduled on its own."""

    event_type = "FixturesGenerated"
    stream_type = CHAMPIONSHIP_STREAM

    championship_id: UUID
    double_round_robin: bool
    groups: tuple[str, ...]
    rounds: int
    match_ids: tuple[UUID, ...]


@dataclass(frozen=True)
class MatchScheduled(Event):
    """v2: knockout matches (``championships.knockout``): teams may be undecided
    (None, filled later by TeamAdvanced), and the match knows its place in the bracket."""

    event_type = "MatchScheduled"
    schema_version = 2
    stream_type = MATCH_STREAM

    match_id: UUID
    championship_id: UUID
    group: str
    round: int | None
    home_team_id: UUID | None
    away_team_id: UUID | None
    kickoff: datetime | None
    stage: str = ""
    bracket_round: int | None = None
    bracket_position: int | None = None
    leg: int = 0
    next_match_id: UUID | None = None
    next_slot: str = ""
    loser_next_match_id: UUID | None = None
    loser_next_slot: str = ""
    home_source: str = ""
    away_source: str = ""


@dataclass(frozen=True)
class MatchStarted(Event):
    event_type = "MatchStarted"
    stream_type = MATCH_STREAM

    match_id: UUID
    championship_id: UUID
    started_at: datetime


@dataclass(frozen=True)
class GoalScored(Event):
    """``team_id`` is the team the goal counts for; ``own_goal`` means the scorer plays
    for the other team. The score after the goal is included for live pages."""

    event_type = "GoalScored"
    stream_type = MATCH_STREAM

    match_id: UUID
    championship_id: UUID
    team_id: UUID
    minute: int
    player: str
    own_goal: bool
    penalty: bool
    home_score: int
    away_score: int


@dataclass(frozen=True)
class MatchUpdated(Event):
    event_type = "MatchUpdated"
    stream_type = MATCH_STREAM

    match_id: UUID
    championship_id: UUID
    minute: int


@dataclass(frozen=True)
class MatchCompleted(Event):
    """v2: ``stage`` (knockout results stay out of the tables), ``extra_time`` (the
    scores are after extra time) and the penalty shoot-out's score."""

    event_type = "MatchCompleted"
    schema_version = 2
    stream_type = MATCH_STREAM

    match_id: UUID
    championship_id: UUID
    group: str
    home_team_id: UUID
    away_team_id: UUID
    home_score: int
    away_score: int
    stage: str = ""
    extra_time: bool = False
    penalties_home: int | None = None
    penalties_away: int | None = None


@dataclass(frozen=True)
class MatchResultCorrected(Event):
    """v2: as MatchCompleted v2 (the corrected extra time and penalties)."""

    event_type = "MatchResultCorrected"
    schema_version = 2
    stream_type = MATCH_STREAM

    match_id: UUID
    championship_id: UUID
    group: str
    home_team_id: UUID
    away_team_id: UUID
    previous_home_score: int
    previous_away_score: int
    home_score: int
    away_score: int
    reason: str
    stage: str = ""
    extra_time: bool = False
    penalties_home: int | None = None
    penalties_away: int | None = None


@dataclass(frozen=True)
class MatchPostponed(Event):
    event_type = "MatchPostponed"
    stream_type = MATCH_STREAM

    match_id: UUID
    championship_id: UUID
    reason: str
    kickoff: datetime | None


@dataclass(frozen=True)
class MatchCancelled(Event):
    event_type = "MatchCancelled"
    stream_type = MATCH_STREAM

    match_id: UUID
    championship_id: UUID
    reason: str


@dataclass(frozen=True)
class MatchAwarded(Event):
    """A forfeit: the result is the stated score, whatever was played. v2: ``stage``."""

    event_type = "MatchAwarded"
    schema_version = 2
    stream_type = MATCH_STREAM

    match_id: UUID
    championship_id: UUID
    group: str
    home_team_id: UUID
    away_team_id: UUID
    home_score: int
    away_score: int
    awarded_to_team_id: UUID
    reason: str
    stage: str = ""


@dataclass(frozen=True)
class StandingsUpdated(Event):
    """One group's new order: ``team_ids`` ranked, with ``points`` in the same order."""

    event_type = "StandingsUpdated"
    stream_type = STANDINGS_STREAM

    championship_id: UUID
    group: str
    team_ids: tuple[UUID, ...]
    points: tuple[int, ...]


CHAMPIONSHIP_EVENTS: tuple[type[Event], ...] = (
    ChampionshipCreated,
    ChampionshipUpdated,
    OrganiserAdded,
    TeamRegistered,
    TeamWithdrawn,
    PointsDeducted,
    FixturesGenerated,
)
MATCH_EVENTS: tuple[type[Event], ...] = (
    MatchScheduled,
    MatchStarted,
    GoalScored,
    MatchUpdated,
    MatchCompleted,
    MatchResultCorrected,
    MatchPostponed,
    MatchCancelled,
    MatchAwarded,
)
ALL_EVENTS: tuple[type[Event], ...] = (*CHAMPIONSHIP_EVENTS, *MATCH_EVENTS, StandingsUpdated)
