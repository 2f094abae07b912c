"""The advancement process manager: results move teams through the bracket.

Subscribed (``championships.handlers``) to MatchCompleted, MatchResultCorrected,
MatchAwarded, MatchCancelled and CardShown on the match streams, and, as
``TABLES_SUBSCRIPTION``, to what changes a group's table on the championship's stream
(deductions and their amendments, withdrawals, lots, the rules). It reconciles rather
than counts: from the tie's (or the group's) current results it works out who belongs in
each later slot and appends TeamAdvanced to that match's stream only where the slot
holds someone else. So a redelivered event, or an older event handled after a newer one,
appends nothing; a correction that changes a winner moves the right team (the commands
refuse it once the next match has started).

A slot that would have to change in a match already under way cannot be. After a
knockout result, the handler raises, delivery retries with backoff, then parks the event
as a dead letter, and the bracket stays as it was until an organiser retries or skips it.
A group's qualifiers are placed only in ties that have not kicked off: a change to a
group's table afterwards (a deduction, a card after the whistle: facts no command
refuses) changes the table, not the tie, which keeps the teams it kicked off with.
"""

from __future__ import annotations

from championships import events as ev
from championships.commands import knockout
from championships.knockout_events import CardShown, LotsDrawn
from championships.models import Championship, ChampionshipFormat, Match
from events.registry import Event
from events.store import RecordedEvent

SUBSCRIPTION = "championships.advancement"
HANDLED_EVENTS: tuple[type[Event], ...] = (
    ev.MatchCompleted,
    ev.MatchResultCorrected,
    ev.MatchAwarded,
    # A card entered after the final whistle changes the group's fair play.
    CardShown,
    # A group's last match cancelled completes the group.
    ev.MatchCancelled,
)
TABLES_SUBSCRIPTION = "championships.advancement.tables"
TABLE_EVENTS: tuple[type[Event], ...] = (
    ev.PointsDeducted,
    ev.DeductionAmended,
    ev.TeamWithdrawn,
    ev.ChampionshipUpdated,
    LotsDrawn,
)


def advance_on_result(recorded: RecordedEvent) -> None:
    """Place the winner (and loser, for a third-place match) or a group's qualifiers."""
    event = recorded.data
    assert isinstance(
        event,
        ev.MatchCompleted
        | ev.MatchResultCorrected
        | ev.MatchAwarded
        | CardShown
        | ev.MatchCancelled,
    )
    if isinstance(event, CardShown) and event.stage:
        return  # fair play counts the group matches only
    if not isinstance(event, ev.MatchCancelled) and not event.stage and not event.group:
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
        if not isinstance(event, CardShown | ev.MatchCancelled):
            _advance_tie(match)
    elif match.group and match.championship.format == ChampionshipFormat.GROUPS_KNOCKOUT:
        # The commands refuse a result or correction that would move a qualifier whose
        # tie kicked off; a card after the whistle is a fact (as a deduction is), so a
        # tie under way keeps its teams whatever changed the table.
        _advance_group(match.championship, match.group)


def advance_on_table_change(recorded: RecordedEvent) -> None:
    """Place a group's qualifiers again after a change to its table, in the ties that
    have not kicked off."""
    event = recorded.data
    assert isinstance(
        event,
        ev.PointsDeducted
        | ev.DeductionAmended
        | ev.TeamWithdrawn
        | ev.ChampionshipUpdated
        | LotsDrawn,
    )
    championship = Championship.objects.filter(
        id=event.championship_id, format=ChampionshipFormat.GROUPS_KNOCKOUT
    ).first()
    if championship is None:
        return
    if isinstance(event, ev.ChampionshipUpdated):
        groups = knockout.championship_groups(championship)
    else:
        groups = [event.group] if event.group else []
    for group in groups:
        _advance_group(championship, group)


def _advance_tie(match: Match) -> int:
    legs = knockout.tie_legs(match)
    result = knockout.outcome(legs, away_goals=knockout.rules_for(match.championship_id).away_goals)
    if result is None:
        return 0
    appended = 0
    for target, slot, team, source in knockout.destinations(legs[-1], result):
        assert team is not None
        appended += knockout.place(target, slot, team, from_match_id=legs[-1].id, source=source)
    return appended


def reconcile(championship: Championship) -> int:
    """Place every group's qualifiers and every decided tie's teams as the results and
    tables now say (``manage.py advance_brackets``: a bracket placed before a change to
    these rules, or after an organiser skipped a dead letter). The events appended."""
    appended = 0
    if championship.format == ChampionshipFormat.GROUPS_KNOCKOUT:
        for group in knockout.championship_groups(championship):
            appended += _advance_group(championship, group)
    decided = Match.objects.filter(
        championship=championship, stage__in=("knockout", "third_place"), status__in=knockout.DONE
    ).select_related("championship")
    for match in decided.order_by("bracket_round", "bracket_position", "leg"):
        appended += _advance_tie(match)
    return appended


def _advance_group(championship: Championship, group: str) -> int:
    """Place the group's qualifiers as its table now says, in the ties not kicked off."""
    ranking = knockout.group_ranking(championship, group)
    if ranking is None:
        return 0
    appended = 0
    for target, side, team, label in knockout.qualifier_places(championship, group, ranking):
        # A second leg is placed with its first (home and away swapped).
        if team is None or target.leg == 2:
            continue
        if any(leg.status not in knockout.OPEN for leg in knockout.tie_legs(target)):
            continue
        appended += knockout.place(target.id, side, team, from_match_id=None, source=label)
    return appended
