"""The advancement process manager: results move teams through the bracket.

Subscribed (``championships.handlers``) to MatchCompleted, MatchResultCorrected and
MatchAwarded. It reconciles rather than counts: from the tie's (or the group's) current
results it works out who belongs in each later slot and appends TeamAdvanced to that
match's stream only where the slot holds someone else. So a redelivered event, or an
older event handled after a newer one, appends nothing; a correction that changes a
winner moves the right team (the commands refuse it once the next match has started).

A slot that would have to change in a match already under way cannot be: the handler
raises, delivery retries with backoff, then parks the event as a dead letter, and the
bracket stays as it was until an organiser retries or skips it.
"""

from __future__ import annotations

from championships import events as ev
from championships.commands import knockout
from championships.models import ChampionshipFormat, Match
from events.registry import Event
from events.store import RecordedEvent

SUBSCRIPTION = "championships.advancement"
HANDLED_EVENTS: tuple[type[Event], ...] = (
    ev.MatchCompleted,
    ev.MatchResultCorrected,
    ev.MatchAwarded,
)


def advance_on_result(recorded: RecordedEvent) -> None:
    """Place the winner (and loser, for a third-place match) or a group's qualifiers."""
    event = recorded.data
    assert isinstance(event, ev.MatchCompleted | ev.MatchResultCorrected | ev.MatchAwarded)
    if not event.stage and not event.group:
        # A league match (a group championship's teams all have a group): no bracket
        # to place anyone in, and no query to learn it.
        return
    match = (
        Match.objects.select_related("championship")
        .filter(id=event.match_id, championship_id=event.championship_id)
        .first()
    )
    if match is None:
        return
    if match.is_knockout:
        _advance_tie(match)
    elif match.group and match.championship.format == ChampionshipFormat.GROUPS_KNOCKOUT:
        _advance_group(match)


def _advance_tie(match: Match) -> None:
    legs = knockout.tie_legs(match)
    result = knockout.outcome(legs, away_goals=knockout.rules_for(match.championship_id).away_goals)
    if result is None:
        return
    for target, slot, team, source in knockout.destinations(legs[-1], result):
        assert team is not None
        knockout.place(target, slot, team, from_match_id=legs[-1].id, source=source)


def _advance_group(match: Match) -> None:
    championship = match.championship
    ranking = knockout.group_ranking(championship, match.group)
    if ranking is None:
        return
    for target, side, team, label in knockout.qualifier_places(championship, match.group, ranking):
        # A second leg is placed with its first (home and away swapped).
        if team is not None and target.leg != 2:
            knockout.place(target.id, side, team, from_match_id=None, source=label)
