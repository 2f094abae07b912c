"""Commands on a match stream: live events, result, correction, postponement, forfeit."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from django.utils import timezone

from championships.aggregates import MatchState
from championships.aggregates import match as agg
from championships.commands import knockout
from championships.commands.streams import (
    authorise,
    check_expected,
    command,
    get_match,
    match_not_found,
    match_state,
    save_match,
)
from championships.exceptions import InvalidState, NotFound
from championships.models import Match, MatchStatus, WithdrawalPolicy
from events.registry import Event

Check = Callable[[Match, MatchState, list[Event]], None]


def _run(
    championship_id: uuid.UUID | None,
    match_id: uuid.UUID,
    actor_id: int,
    expected_version: int | None,
    decide: Callable[[MatchState], list[Event]] | None = None,
    *,
    decide_row: Callable[[Match, MatchState], list[Event]] | None = None,
    check: Check | None = None,
) -> Match:
    """``decide_row``: a decision that needs the row too (knockout rules); ``check``:
    a guard given the decided events before they are saved."""
    row = get_match(championship_id, match_id)
    try:
        authorise(row.championship, actor_id)
    except NotFound:
        # A draft's match: as unknown as any, its championship unnamed.
        raise match_not_found(championship_id, match_id) from None
    check_expected(str(row.id), expected_version, row.version)
    state = match_state(row)
    _refuse_if_withdrawn(row)
    if decide_row is not None:
        events = decide_row(row, state)
    else:
        assert decide is not None
        events = decide(state)
    if check is not None:
        check(row, state, events)
    save_match(row, state, events)
    return row


def _refuse_if_withdrawn(row: Match) -> None:
    """A withdrawn team's matches are decided by its withdrawal (cancelled or awarded):
    none can be started, scored, completed or re-decided. Under ``award_remaining`` a
    result played before the withdrawal stands and can still be corrected."""
    for team in (row.home_team, row.away_team):
        if team is None or not team.withdrawn:  # None: a knockout slot not yet decided
            continue
        played = row.status == MatchStatus.COMPLETED
        if played and row.championship.withdrawal_policy == WithdrawalPolicy.AWARD_REMAINING:
            continue
        raise InvalidState(f"{team.name} has withdrawn: this match can no longer change")


# For the commands on a match stream kept in other modules (cards).
run_on_match = _run


def _check_start(row: Match, state: MatchState, events: list[Event]) -> None:
    knockout.check_start(row)


@command
def match_start(
    *,
    actor_id: int,
    championship_id: uuid.UUID | None = None,
    match_id: uuid.UUID,
    expected_version: int | None = None,
) -> Match:
    """Kick off: the match goes live at minute 0."""
    now = timezone.now()

    def start(row: Match, state: MatchState) -> list[Event]:
        if row.home_team_id is None or row.away_team_id is None:
            knockout.refuse_an_undrawn_place(row)
        return agg.start(state, started_at=now)

    return _run(
        championship_id, match_id, actor_id, expected_version, decide_row=start, check=_check_start
    )


@command
def match_record_goal(
    *,
    actor_id: int,
    championship_id: uuid.UUID | None = None,
    match_id: uuid.UUID,
    team_id: uuid.UUID,
    minute: int,
    player: str = "",
    own_goal: bool = False,
    penalty: bool = False,
    expected_version: int | None = None,
) -> Match:
    """A goal in a live match, counting for ``team_id`` (for an own goal: the team that
    benefits, not the scorer's)."""
    return _run(
        championship_id,
        match_id,
        actor_id,
        expected_version,
        lambda s: agg.record_goal(
            s, team_id=team_id, minute=minute, player=player, own_goal=own_goal, penalty=penalty
        ),
    )


@command
def match_update(
    *,
    actor_id: int,
    championship_id: uuid.UUID | None = None,
    match_id: uuid.UUID,
    minute: int,
    expected_version: int | None = None,
) -> Match:
    """Move the clock of a live match."""
    return _run(
        championship_id,
        match_id,
        actor_id,
        expected_version,
        lambda s: agg.update(s, minute=minute),
    )


@command
def match_complete(
    *,
    actor_id: int,
    championship_id: uuid.UUID | None = None,
    match_id: uuid.UUID,
    home_score: int | None = None,
    away_score: int | None = None,
    extra_time: bool = False,
    penalties: tuple[int, int] | None = None,
    expected_version: int | None = None,
) -> Match:
    """Final whistle. A live match keeps its live score unless scores are given; a
    scheduled or postponed one needs both scores (a result entered afterwards).

    Knockout: the scores are after extra time when ``extra_time``; a match (or the
    second leg of a tie) left level needs ``penalties`` (home, away)."""
    return _run(
        championship_id,
        match_id,
        actor_id,
        expected_version,
        decide_row=lambda row, s: agg.complete(
            s,
            home_score=home_score,
            away_score=away_score,
            extra_time=extra_time,
            penalties=penalties,
            decider=knockout.decider(row),
        ),
        # A group match's first result can change qualifiers already kicked off.
        check=knockout.check_result_change,
    )


@command
def match_correct_result(
    *,
    actor_id: int,
    championship_id: uuid.UUID | None = None,
    match_id: uuid.UUID,
    home_score: int,
    away_score: int,
    reason: str,
    extra_time: bool | None = None,
    penalties: tuple[int, int] | None = None,
    expected_version: int | None = None,
) -> Match:
    """Amend a recorded result; the standings apply the difference. In a bracket the
    winner moves with it, unless the match they went to has started (refused)."""
    return _run(
        championship_id,
        match_id,
        actor_id,
        expected_version,
        decide_row=lambda row, s: agg.correct_result(
            s,
            home_score=home_score,
            away_score=away_score,
            reason=reason,
            extra_time=extra_time,
            penalties=penalties,
            decider=knockout.decider(row),
        ),
        check=knockout.check_result_change,
    )


@command
def match_postpone(
    *,
    actor_id: int,
    championship_id: uuid.UUID | None = None,
    match_id: uuid.UUID,
    reason: str = "",
    kickoff: datetime | None = None,
    expected_version: int | None = None,
) -> Match:
    """Postpone (or abandon, when live: the live score is void); optionally a new kickoff."""
    return _run(
        championship_id,
        match_id,
        actor_id,
        expected_version,
        lambda s: agg.postpone(s, reason=reason, kickoff=kickoff),
    )


@command
def match_cancel(
    *,
    actor_id: int,
    championship_id: uuid.UUID | None = None,
    match_id: uuid.UUID,
    reason: str = "",
    expected_version: int | None = None,
) -> Match:
    """Cancel a match that has no result; it will not be played."""
    return _run(
        championship_id,
        match_id,
        actor_id,
        expected_version,
        lambda s: agg.cancel(s, reason=reason),
    )


@command
def match_award(
    *,
    actor_id: int,
    championship_id: uuid.UUID | None = None,
    match_id: uuid.UUID,
    awarded_to_team_id: uuid.UUID,
    home_score: int,
    away_score: int,
    reason: str,
    expected_version: int | None = None,
) -> Match:
    """Award the match (forfeit) with a stated score, replacing any recorded result."""
    return _run(
        championship_id,
        match_id,
        actor_id,
        expected_version,
        lambda s: agg.award(
            s,
            awarded_to_team_id=awarded_to_team_id,
            home_score=home_score,
            away_score=away_score,
            reason=reason,
        ),
        check=knockout.check_result_change,
    )


@command
def match_reschedule(
    *,
    actor_id: int,
    championship_id: uuid.UUID | None = None,
    match_id: uuid.UUID,
    kickoff: datetime | None,
    expected_version: int | None = None,
) -> Match:
    """A new kickoff (None: to be fixed) for a match not yet started; its status stays."""
    return _run(
        championship_id,
        match_id,
        actor_id,
        expected_version,
        lambda s: agg.reschedule(s, kickoff=kickoff),
    )


@command
def match_swap_venues(
    *,
    actor_id: int,
    championship_id: uuid.UUID | None = None,
    match_id: uuid.UUID,
    expected_version: int | None = None,
) -> Match:
    """Exchange home and away of a match not yet started."""
    return _run(championship_id, match_id, actor_id, expected_version, lambda s: agg.swap_venues(s))
