"""The match aggregate: schedule, live events, result, corrections, forfeits."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TypedDict
from uuid import UUID

from championships import events as ev
from championships import knockout_events as kev
from championships.exceptions import InvalidCommand, InvalidState
from championships.models import MatchStatus
from events.registry import Event

MAX_SCORE = 999
MAX_MINUTE = 150

# Statuses a result can be counted in.
RESULT_STATUSES = (MatchStatus.COMPLETED, MatchStatus.AWARDED)


@dataclass(frozen=True)
class GoalState:
    team_id: UUID
    minute: int
    player: str
    own_goal: bool
    penalty: bool


class ResultFields(TypedDict):
    """What every result event (completed, corrected, awarded) says of its match."""

    match_id: UUID
    championship_id: UUID
    group: str
    home_team_id: UUID
    away_team_id: UUID
    round: int | None
    kickoff: datetime | None
    stage: str


@dataclass(frozen=True)
class MatchState:
    match_id: UUID
    championship_id: UUID
    group: str
    round: int | None
    home_team_id: UUID | None
    away_team_id: UUID | None
    kickoff: datetime | None
    status: str = MatchStatus.SCHEDULED
    home_score: int = 0
    away_score: int = 0
    minute: int | None = None
    goals: tuple[GoalState, ...] = ()
    awarded_to_team_id: UUID | None = None
    version: int = 0
    stage: str = ""
    leg: int = 0
    extra_time: bool = False
    penalties_home: int | None = None
    penalties_away: int | None = None

    def teams(self) -> tuple[UUID, UUID]:
        if self.home_team_id is None or self.away_team_id is None:
            raise InvalidState("the teams of this match are not decided yet")
        return self.home_team_id, self.away_team_id

    def result_fields(self) -> ResultFields:
        """This match's part of a result event (its teams must be decided)."""
        home_team, away_team = self.teams()
        return ResultFields(
            match_id=self.match_id,
            championship_id=self.championship_id,
            group=self.group,
            home_team_id=home_team,
            away_team_id=away_team,
            round=self.round,
            kickoff=self.kickoff,
            stage=self.stage,
        )


@dataclass(frozen=True)
class Decider:
    """How a knockout match (or the second leg of a tie) must end, from the command that
    knows the tie: ``level(home, away)`` says whether that score leaves the tie level,
    so that penalties must decide it."""

    level: Callable[[int, int], bool]


Penalties = tuple[int, int]


def _score(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidCommand(f"{what} must be an integer")
    if value < 0:
        raise InvalidCommand(f"{what} must not be negative")
    if value > MAX_SCORE:
        raise InvalidCommand(f"{what} must be at most {MAX_SCORE}")
    return value


def _minute(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_MINUTE:
        raise InvalidCommand(f"minute must be an integer from 0 to {MAX_MINUTE}")
    return value


def _status_error(state: MatchState, action: str) -> InvalidState:
    return InvalidState(f"cannot {action} a match that is {state.status}")


def start(state: MatchState, *, started_at: datetime) -> list[Event]:
    if state.status not in (MatchStatus.SCHEDULED, MatchStatus.POSTPONED):
        raise _status_error(state, "start")
    state.teams()
    return [
        ev.MatchStarted(
            match_id=state.match_id, championship_id=state.championship_id, started_at=started_at
        )
    ]


def record_goal(
    state: MatchState, *, team_id: UUID, minute: int, player: str, own_goal: bool, penalty: bool
) -> list[Event]:
    if state.status != MatchStatus.LIVE:
        raise _status_error(state, "record a goal in")
    if team_id not in state.teams():
        raise InvalidCommand("the goal must count for the home or the away team")
    if own_goal and penalty:
        raise InvalidCommand("a goal cannot be both an own goal and a penalty")
    home = state.home_score + (team_id == state.home_team_id)
    away = state.away_score + (team_id == state.away_team_id)
    return [
        ev.GoalScored(
            match_id=state.match_id,
            championship_id=state.championship_id,
            team_id=team_id,
            minute=_minute(minute),
            player=" ".join(player.split())[:100],
            own_goal=own_goal,
            penalty=penalty,
            home_score=home,
            away_score=away,
        )
    ]


def update(state: MatchState, *, minute: int) -> list[Event]:
    if state.status != MatchStatus.LIVE:
        raise _status_error(state, "update")
    return [
        ev.MatchUpdated(
            match_id=state.match_id, championship_id=state.championship_id, minute=_minute(minute)
        )
    ]


def _decided(
    state: MatchState,
    home: int,
    away: int,
    *,
    extra_time: bool,
    penalties: Penalties | None,
    decider: Decider | None,
) -> tuple[bool, int | None, int | None]:
    """Check extra time and penalties against the match: (extra_time, pens home, away)."""
    if decider is None:
        if penalties is not None:
            raise InvalidCommand(
                "penalties decide only a knockout match or the second leg of a tie",
                field="penalties",
            )
        if extra_time and (not state.stage or state.leg == 1):
            raise InvalidCommand(
                "extra time is played only in a knockout match or a tie's second leg",
                field="extra_time",
            )
        return extra_time, None, None
    level = decider.level(home, away)
    if penalties is None:
        if level:
            raise InvalidCommand(
                "a knockout match cannot end level: give the penalty shoot-out's score "
                '(penalties: {"home": ..., "away": ...})',
                field="penalties",
            )
        return extra_time, None, None
    if not level:
        raise InvalidCommand(
            "penalties are taken only when the tie is level (after extra time)",
            field="penalties",
        )
    pens_home, pens_away = (_score(p, "penalties") for p in penalties)
    if pens_home == pens_away:
        raise InvalidCommand("a penalty shoot-out has a winner", field="penalties")
    return extra_time, pens_home, pens_away


def complete(
    state: MatchState,
    *,
    home_score: int | None,
    away_score: int | None,
    extra_time: bool = False,
    penalties: Penalties | None = None,
    decider: Decider | None = None,
) -> list[Event]:
    """From live the live score is final unless a score is given; from scheduled (or
    postponed) both scores are required (a result entered afterwards). A knockout match
    (``decider`` given) that ends level needs ``penalties``."""
    if state.status in RESULT_STATUSES:
        raise InvalidState("the match is already completed; correct the result instead")
    if state.status == MatchStatus.CANCELLED:
        raise _status_error(state, "complete")
    if (home_score is None) != (away_score is None):
        raise InvalidCommand("give both scores or neither")
    if home_score is None or away_score is None:
        if state.status != MatchStatus.LIVE:
            raise InvalidCommand("a match that was not live needs home_score and away_score")
        home, away = state.home_score, state.away_score
    else:
        home, away = _score(home_score, "home_score"), _score(away_score, "away_score")
    result = state.result_fields()
    et, pens_home, pens_away = _decided(
        state, home, away, extra_time=extra_time, penalties=penalties, decider=decider
    )
    return [
        ev.MatchCompleted(
            **result,
            home_score=home,
            away_score=away,
            extra_time=et,
            penalties_home=pens_home,
            penalties_away=pens_away,
        )
    ]


def correct_result(
    state: MatchState,
    *,
    home_score: int,
    away_score: int,
    reason: str,
    extra_time: bool | None = None,
    penalties: Penalties | None = None,
    decider: Decider | None = None,
) -> list[Event]:
    """``extra_time`` None keeps the recorded one; ``penalties`` are the corrected
    shoot-out (required again when the corrected knockout result is level)."""
    if state.status not in RESULT_STATUSES:
        raise _status_error(state, "correct the result of")
    home, away = _score(home_score, "home_score"), _score(away_score, "away_score")
    if not reason or not reason.strip():
        raise InvalidCommand("a correction needs a reason")
    et, pens_home, pens_away = _decided(
        state,
        home,
        away,
        extra_time=state.extra_time if extra_time is None else extra_time,
        penalties=penalties,
        decider=decider,
    )
    before = (state.home_score, state.away_score, state.extra_time)
    if (home, away, et) == before and (pens_home, pens_away) == (
        state.penalties_home,
        state.penalties_away,
    ):
        raise InvalidCommand("the corrected result equals the recorded one")
    if state.status == MatchStatus.AWARDED:
        # The award stands (status, awarded team): only its score may be corrected, and
        # the score must still have the awarded team winning, or the match would say
        # one thing and its score another.
        awarded_home = state.awarded_to_team_id == state.home_team_id
        if (home > away) != awarded_home or home == away:
            raise InvalidState(
                "this match was awarded (forfeit): a corrected score must keep the awarded "
                "team winning"
            )
    result = state.result_fields()
    return [
        ev.MatchResultCorrected(
            **result,
            previous_home_score=state.home_score,
            previous_away_score=state.away_score,
            home_score=home,
            away_score=away,
            reason=reason.strip(),
            extra_time=et,
            penalties_home=pens_home,
            penalties_away=pens_away,
        )
    ]


def advance_team(
    state: MatchState, *, slot: str, team_id: UUID, from_match_id: UUID | None, source: str
) -> list[Event]:
    """Put ``team_id`` in a slot of this knockout match (the advancement subscription)."""
    if not state.stage:
        raise InvalidCommand("teams advance only into knockout matches")
    current = state.home_team_id if slot == "home" else state.away_team_id
    if current == team_id:
        return []
    if state.status not in (MatchStatus.SCHEDULED, MatchStatus.POSTPONED):
        raise _status_error(state, "change the teams of")
    return [
        kev.TeamAdvanced(
            match_id=state.match_id,
            championship_id=state.championship_id,
            slot=slot,
            team_id=team_id,
            previous_team_id=current,
            from_match_id=from_match_id,
            source=source,
        )
    ]


def postpone(state: MatchState, *, reason: str, kickoff: datetime | None) -> list[Event]:
    """Also for an abandoned live match: its live score is void."""
    if state.status not in (MatchStatus.SCHEDULED, MatchStatus.POSTPONED, MatchStatus.LIVE):
        raise _status_error(state, "postpone")
    return [
        ev.MatchPostponed(
            match_id=state.match_id,
            championship_id=state.championship_id,
            reason=reason.strip(),
            kickoff=kickoff,
        )
    ]


NOT_STARTED = (MatchStatus.SCHEDULED, MatchStatus.POSTPONED)


def reschedule(state: MatchState, *, kickoff: datetime | None) -> list[Event]:
    """A new kickoff (None: to be fixed) for a match that has not started."""
    if state.status not in NOT_STARTED:
        raise _status_error(state, "reschedule")
    if kickoff == state.kickoff:
        raise InvalidCommand("the match already has this kickoff")
    return [
        ev.MatchRescheduled(
            match_id=state.match_id,
            championship_id=state.championship_id,
            previous_kickoff=state.kickoff,
            kickoff=kickoff,
        )
    ]


def swap_venues(state: MatchState) -> list[Event]:
    if state.status not in NOT_STARTED:
        raise _status_error(state, "swap home and away in")
    if state.stage:
        raise InvalidCommand("a knockout match's home side is set by the bracket")
    home_team, away_team = state.teams()
    return [
        ev.MatchVenuesSwapped(
            match_id=state.match_id,
            championship_id=state.championship_id,
            home_team_id=away_team,
            away_team_id=home_team,
        )
    ]


def withdrawal(
    state: MatchState, *, team_id: UUID, policy: str, award_score: tuple[int, int], reason: str
) -> list[Event]:
    """What a team's withdrawal does to one of its matches not yet decided: cancelled
    (``expunge``: its results do not count anyway) or awarded to the opponent by
    ``award_score`` (``award_remaining``). Decided matches are left as they are.

    A knockout match is never cancelled (the bracket would wait for a winner for good):
    under either policy it is a walkover, awarded to the opponent, or, while the
    opponent is not decided yet, nothing now: the walkover is given when the bracket
    places the opponent (``commands.knockout.place``)."""
    if state.status not in (*NOT_STARTED, MatchStatus.LIVE):
        return []
    if state.stage and (state.home_team_id is None or state.away_team_id is None):
        return []
    if policy == ev.AWARD_REMAINING or state.stage:
        home_team, away_team = state.teams()
        opponent = away_team if team_id == home_team else home_team
        winner, loser = award_score
        home, away = (winner, loser) if opponent == home_team else (loser, winner)
        return award(
            state, awarded_to_team_id=opponent, home_score=home, away_score=away, reason=reason
        )
    return cancel(state, reason=reason)


def cancel(state: MatchState, *, reason: str) -> list[Event]:
    if state.status not in (MatchStatus.SCHEDULED, MatchStatus.POSTPONED, MatchStatus.LIVE):
        raise _status_error(state, "cancel")
    if state.stage:
        raise InvalidState(
            "a knockout match is not cancelled (the bracket would wait for its winner for "
            "good): award it, or withdraw the team that will not play"
        )
    return [
        ev.MatchCancelled(
            match_id=state.match_id, championship_id=state.championship_id, reason=reason.strip()
        )
    ]


def award(
    state: MatchState, *, awarded_to_team_id: UUID, home_score: int, away_score: int, reason: str
) -> list[Event]:
    """A forfeit with a stated score, also replacing a result already recorded."""
    if state.status in (MatchStatus.CANCELLED, MatchStatus.AWARDED):
        raise _status_error(state, "award")
    home, away = _score(home_score, "home_score"), _score(away_score, "away_score")
    state.teams()
    if awarded_to_team_id == state.home_team_id:
        winner_ahead = home > away
    elif awarded_to_team_id == state.away_team_id:
        winner_ahead = away > home
    else:
        raise InvalidCommand("the match must be awarded to the home or the away team")
    if not winner_ahead:
        raise InvalidCommand("the stated score must have the awarded team winning")
    if not reason or not reason.strip():
        raise InvalidCommand("an award needs a reason")
    result = state.result_fields()
    return [
        ev.MatchAwarded(
            **result,
            home_score=home,
            away_score=away,
            awarded_to_team_id=awarded_to_team_id,
            reason=reason.strip(),
        )
    ]


def apply_match(state: MatchState | None, event: Event) -> MatchState:
    """The state after ``event`` (a match-stream event)."""
    if isinstance(event, ev.MatchScheduled):
        return MatchState(
            match_id=event.match_id,
            championship_id=event.championship_id,
            group=event.group,
            round=event.round,
            home_team_id=event.home_team_id,
            away_team_id=event.away_team_id,
            kickoff=event.kickoff,
            version=1,
            stage=event.stage,
            leg=event.leg,
        )
    if state is None:
        raise InvalidState(f"{event.event_type} before MatchScheduled")
    bumped = dataclasses.replace(state, version=state.version + 1)
    if isinstance(event, ev.MatchStarted):
        return dataclasses.replace(bumped, status=MatchStatus.LIVE, minute=0)
    if isinstance(event, ev.GoalScored):
        goal = GoalState(event.team_id, event.minute, event.player, event.own_goal, event.penalty)
        return dataclasses.replace(
            bumped,
            home_score=event.home_score,
            away_score=event.away_score,
            minute=max(state.minute or 0, event.minute),
            goals=(*state.goals, goal),
        )
    if isinstance(event, ev.MatchUpdated):
        return dataclasses.replace(bumped, minute=event.minute)
    if isinstance(event, ev.MatchCompleted | ev.MatchResultCorrected):
        status = MatchStatus.AWARDED if state.status == MatchStatus.AWARDED else None
        return dataclasses.replace(
            bumped,
            status=status or MatchStatus.COMPLETED,
            home_score=event.home_score,
            away_score=event.away_score,
            extra_time=event.extra_time,
            penalties_home=event.penalties_home,
            penalties_away=event.penalties_away,
        )
    if isinstance(event, kev.TeamAdvanced):
        if event.slot == "home":
            return dataclasses.replace(bumped, home_team_id=event.team_id)
        return dataclasses.replace(bumped, away_team_id=event.team_id)
    if isinstance(event, kev.CardShown):
        return bumped
    if isinstance(event, ev.MatchPostponed):
        return dataclasses.replace(
            bumped,
            status=MatchStatus.POSTPONED,
            kickoff=event.kickoff or state.kickoff,
            home_score=0,
            away_score=0,
            minute=None,
            goals=(),
        )
    if isinstance(event, ev.MatchRescheduled):
        return dataclasses.replace(bumped, kickoff=event.kickoff)
    if isinstance(event, ev.MatchVenuesSwapped):
        return dataclasses.replace(
            bumped, home_team_id=event.home_team_id, away_team_id=event.away_team_id
        )
    if isinstance(event, ev.MatchCancelled):
        return dataclasses.replace(bumped, status=MatchStatus.CANCELLED)
    if isinstance(event, ev.MatchAwarded):
        return dataclasses.replace(
            bumped,
            status=MatchStatus.AWARDED,
            home_score=event.home_score,
            away_score=event.away_score,
            awarded_to_team_id=event.awarded_to_team_id,
            extra_time=False,
            penalties_home=None,
            penalties_away=None,
        )
    raise TypeError(f"{event.event_type} is not a match event")


def replay_match(events: Iterable[Event]) -> MatchState | None:
    state: MatchState | None = None
    for event in events:
        state = apply_match(state, event)
    return state
