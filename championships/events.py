"""Championship and match events: frozen dataclasses of ids and primitives.

Championship stream (stream_id = str(championship_id)): rules, teams, fixtures, deductions.
Match stream (stream_id = str(match_id)): the match's live events and its result.
Standings stream (stream_id = ``standings-<championship_id>``): projection output.
Result events carry the championship, group and both teams so that projections never
need to read the write model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

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
class OrganiserRemoved(Event):
    event_type = "OrganiserRemoved"
    stream_type = CHAMPIONSHIP_STREAM

    championship_id: UUID
    user_id: int


# Visibility: ``draft`` (organisers only) or ``published`` (everyone).
DRAFT = "draft"
PUBLISHED = "published"


@dataclass(frozen=True)
class ChampionshipVisibilityChanged(Event):
    """A championship without this event is published (as before drafts existed)."""

    event_type = "ChampionshipVisibilityChanged"
    stream_type = CHAMPIONSHIP_STREAM

    championship_id: UUID
    visibility: str


# Withdrawal policies (what happens to a withdrawn team's matches).
EXPUNGE = "expunge"
AWARD_REMAINING = "award_remaining"
WITHDRAWAL_POLICIES = (EXPUNGE, AWARD_REMAINING)


@dataclass(frozen=True)
class WithdrawalPolicyChanged(Event):
    """The rule applied when a team withdraws. A championship without this event uses
    ``expunge``. ``award_for``-``award_against`` is the score of an awarded match."""

    event_type = "WithdrawalPolicyChanged"
    stream_type = CHAMPIONSHIP_STREAM

    championship_id: UUID
    policy: str
    award_for: int
    award_against: int


@dataclass(frozen=True)
class TeamRegistered(Event):
    event_type = "TeamRegistered"
    stream_type = CHAMPIONSHIP_STREAM

    championship_id: UUID
    team_id: UUID
    name: str
    group: str


@dataclass(frozen=True)
class TeamUpdated(Event):
    """The team's full new name and group (a rename, or a move before fixtures)."""

    event_type = "TeamUpdated"
    stream_type = CHAMPIONSHIP_STREAM

    championship_id: UUID
    team_id: UUID
    name: str
    group: str
    previous_group: str


@dataclass(frozen=True)
class TeamRemoved(Event):
    """A team taken out before it has any match (entered by mistake)."""

    event_type = "TeamRemoved"
    stream_type = CHAMPIONSHIP_STREAM

    championship_id: UUID
    team_id: UUID
    group: str


@dataclass(frozen=True)
class TeamWithdrawn(Event):
    """v2 adds the policy applied. ``expunge``: every result of the team is annulled
    (its remaining matches are cancelled on their streams); ``award_remaining``: played
    results stand, the remaining matches are awarded to the opponents (MatchAwarded on
    their streams). v1 events (policy ``""``): results stand, nothing awarded."""

    event_type = "TeamWithdrawn"
    schema_version = 2
    stream_type = CHAMPIONSHIP_STREAM

    championship_id: UUID
    team_id: UUID
    group: str
    reason: str
    policy: str


@dataclass(frozen=True)
class PointsDeducted(Event):
    """v2 adds ``deduction_id`` (what amendments name) and ``effective_at`` (the date
    the sanction takes effect, shown in the table's footnote)."""

    event_type = "PointsDeducted"
    schema_version = 2
    stream_type = CHAMPIONSHIP_STREAM

    championship_id: UUID
    team_id: UUID
    group: str
    points: int
    reason: str
    deduction_id: UUID
    effective_at: datetime | None


@dataclass(frozen=True)
class DeductionAmended(Event):
    """A deduction changed (on appeal): the new points, reason and date. The original
    PointsDeducted stays in the history; ``points`` 0 withdraws the deduction."""

    event_type = "DeductionAmended"
    stream_type = CHAMPIONSHIP_STREAM

    championship_id: UUID
    deduction_id: UUID
    team_id: UUID
    group: str
    previous_points: int
    points: int
    reason: str
    effective_at: datetime | None


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
    """v2 adds the match's ``round`` and ``kickoff`` (the order the form column follows),
    ``stage`` (knockout results stay out of the tables), ``extra_time`` (the scores are
    after extra time) and the penalty shoot-out's score."""

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
    round: int | None
    kickoff: datetime | None
    stage: str = ""
    extra_time: bool = False
    penalties_home: int | None = None
    penalties_away: int | None = None


@dataclass(frozen=True)
class MatchResultCorrected(Event):
    """v2 adds ``round`` and ``kickoff``, and the corrected extra time and penalties (as
    MatchCompleted)."""

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
    round: int | None
    kickoff: datetime | None
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
class MatchRescheduled(Event):
    """A new kickoff for a match not yet started (the status is unchanged)."""

    event_type = "MatchRescheduled"
    stream_type = MATCH_STREAM

    match_id: UUID
    championship_id: UUID
    previous_kickoff: datetime | None
    kickoff: datetime | None


@dataclass(frozen=True)
class MatchVenuesSwapped(Event):
    """Home and away exchanged before kickoff: the new home and away teams."""

    event_type = "MatchVenuesSwapped"
    stream_type = MATCH_STREAM

    match_id: UUID
    championship_id: UUID
    home_team_id: UUID
    away_team_id: UUID


@dataclass(frozen=True)
class MatchCancelled(Event):
    event_type = "MatchCancelled"
    stream_type = MATCH_STREAM

    match_id: UUID
    championship_id: UUID
    reason: str


@dataclass(frozen=True)
class MatchAwarded(Event):
    """A forfeit: the result is the stated score, whatever was played. v2 adds ``round``,
    ``kickoff`` (as MatchCompleted) and ``stage``."""

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
    round: int | None
    kickoff: datetime | None
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
    OrganiserRemoved,
    ChampionshipVisibilityChanged,
    WithdrawalPolicyChanged,
    TeamRegistered,
    TeamUpdated,
    TeamRemoved,
    TeamWithdrawn,
    PointsDeducted,
    DeductionAmended,
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
    MatchRescheduled,
    MatchVenuesSwapped,
    MatchCancelled,
    MatchAwarded,
)


def _deduction_v1_to_v2(payload: dict[str, Any]) -> dict[str, Any]:
    # v1 deductions had no id: derive a stable one from what they recorded.
    key = (
        f"{payload['championship_id']}:{payload['team_id']}:{payload['points']}:{payload['reason']}"
    )
    return {
        **payload,
        "deduction_id": str(uuid5(NAMESPACE_URL, f"deduction:{key}")),
        "effective_at": None,
    }


def _withdrawal_v1_to_v2(payload: dict[str, Any]) -> dict[str, Any]:
    return {**payload, "policy": ""}


def _result_v1_to_v2(payload: dict[str, Any]) -> dict[str, Any]:
    # Unknown for old results: the form orders them by when they were entered.
    return {**payload, "round": None, "kickoff": None}


UPCASTERS: tuple[tuple[str, int, Callable[[dict[str, Any]], dict[str, Any]]], ...] = (
    (PointsDeducted.event_type, 1, _deduction_v1_to_v2),
    (TeamWithdrawn.event_type, 1, _withdrawal_v1_to_v2),
    (MatchCompleted.event_type, 1, _result_v1_to_v2),
    (MatchResultCorrected.event_type, 1, _result_v1_to_v2),
    (MatchAwarded.event_type, 1, _result_v1_to_v2),
)

ALL_EVENTS: tuple[type[Event], ...] = (*CHAMPIONSHIP_EVENTS, *MATCH_EVENTS, StandingsUpdated)
