"""Commands on the championship stream: rules, organisers, teams, fixtures."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime

from django.db import connection
from django.db.models import Q
from django.utils import timezone

from championships import events as ev
from championships.aggregates import championship as agg
from championships.aggregates import match as match_agg
from championships.aggregates.bracket import DrawOptions
from championships.commands import knockout
from championships.commands.streams import (
    authorise,
    championship_state,
    check_expected,
    command,
    create_matches,
    get_championship,
    match_state,
    save_championship,
    save_match,
    user_exists,
)
from championships.exceptions import InvalidCommand, InvalidState, NotFound
from championships.models import (
    BRACKET_FORMATS,
    Championship,
    ChampionshipFormat,
    Deduction,
    Match,
    MatchStatus,
    Team,
)
from championships.tiebreakers import DEFAULT_PRESET
from events import store


@command
def championship_create(
    *,
    actor_id: int,
    name: str,
    season: str,
    format: str = ChampionshipFormat.ROUND_ROBIN,
    points_win: int = 3,
    points_draw: int = 1,
    points_loss: int = 0,
    tie_breakers: str | Sequence[str] = DEFAULT_PRESET,
    head_to_head_reapply: bool | None = None,
    visibility: str | None = None,
    withdrawal_policy: str | None = None,
    award_score: tuple[int, int] | None = None,
    championship_id: uuid.UUID | None = None,
    expected_version: int | None = None,
) -> Championship:
    """Create a championship owned by ``actor_id``. ``tie_breakers`` is a preset name
    (``fifa_2022``, ``uefa``, ``premier_league``) or a list of criteria. ``visibility``
    ``draft`` hides it from everyone but its organisers until published (default
    ``published``); ``withdrawal_policy`` (default ``expunge``) and ``award_score``
    (default 3-0) decide what a withdrawal does to the team's matches."""
    championship_id = championship_id or uuid.uuid4()
    check_expected(str(championship_id), expected_version, 0)
    if not user_exists(actor_id):
        raise NotFound(f"user {actor_id} does not exist")
    events = agg.create(
        championship_id=championship_id,
        owner_id=actor_id,
        name=name,
        season=season,
        format=format,
        points_win=points_win,
        points_draw=points_draw,
        points_loss=points_loss,
        tie_breakers=tie_breakers,
        head_to_head_reapply=head_to_head_reapply,
        visibility=visibility,
        withdrawal_policy=withdrawal_policy,
        award_score=award_score,
    )
    store.append(str(championship_id), events, 0, stream_type=ev.CHAMPIONSHIP_STREAM)
    state = agg.replay_championship(events)
    assert state is not None
    return Championship.objects.create(
        id=championship_id,
        name=state.name,
        season=state.season,
        format=state.format,
        owner_id=actor_id,
        points_win=state.points_win,
        points_draw=state.points_draw,
        points_loss=state.points_loss,
        tie_breakers=list(state.tie_breakers),
        head_to_head_reapply=state.head_to_head_reapply,
        tie_break_preset=state.tie_break_preset,
        visibility=state.visibility,
        withdrawal_policy=state.withdrawal_policy,
        withdrawal_award_for=state.award_for,
        withdrawal_award_against=state.award_against,
        version=state.version,
        created_at=timezone.now(),
    )


def _load(championship_id: uuid.UUID, actor_id: int, expected_version: int | None) -> Championship:
    row = get_championship(championship_id)
    authorise(row, actor_id)
    check_expected(str(row.id), expected_version, row.version)
    return row


@command
def championship_update(
    *,
    actor_id: int,
    championship_id: uuid.UUID,
    name: str | None = None,
    season: str | None = None,
    points_win: int | None = None,
    points_draw: int | None = None,
    points_loss: int | None = None,
    tie_breakers: str | Sequence[str] | None = None,
    head_to_head_reapply: bool | None = None,
    visibility: str | None = None,
    withdrawal_policy: str | None = None,
    award_score: tuple[int, int] | None = None,
    expected_version: int | None = None,
) -> Championship:
    """Change names, rules, visibility or the withdrawal policy; standings are re-ranked
    with new rules."""
    row = _load(championship_id, actor_id, expected_version)
    state = championship_state(row)
    events = agg.update(
        state,
        name=name,
        season=season,
        points_win=points_win,
        points_draw=points_draw,
        points_loss=points_loss,
        tie_breakers=tie_breakers,
        head_to_head_reapply=head_to_head_reapply,
        visibility=visibility,
        withdrawal_policy=withdrawal_policy,
        award_score=award_score,
    )
    save_championship(row, state, events)
    return row


@command
def championship_add_organiser(
    *,
    actor_id: int,
    championship_id: uuid.UUID,
    user_id: int,
    expected_version: int | None = None,
) -> Championship:
    """Let ``user_id`` organise the championship alongside its owner."""
    row = _load(championship_id, actor_id, expected_version)
    if not user_exists(user_id):
        raise NotFound(f"user {user_id} does not exist")
    state = championship_state(row)
    save_championship(row, state, agg.add_organiser(state, user_id=user_id))
    return row


@command
def championship_remove_organiser(
    *,
    actor_id: int,
    championship_id: uuid.UUID,
    user_id: int,
    expected_version: int | None = None,
) -> Championship:
    """Stop ``user_id`` organising the championship (the owner cannot be removed)."""
    row = _load(championship_id, actor_id, expected_version)
    state = championship_state(row)
    save_championship(row, state, agg.remove_organiser(state, user_id=user_id))
    return row


def _has_matches(championship: Championship, team_id: uuid.UUID) -> bool:
    return Match.objects.filter(
        Q(home_team_id=team_id) | Q(away_team_id=team_id), championship=championship
    ).exists()


# Team names held outside the championship's own state: sagas.entries registers its
# live entries' here. Each holder answers the name keys (agg.team_name_key) it holds in
# a championship, except the one that will register as ``team_id`` (an entry's own).
NameHolder = Callable[[uuid.UUID, uuid.UUID], set[str]]
name_holders: list[NameHolder] = []


def lock_team_name(championship_id: uuid.UUID, name: str) -> None:
    """Be the only transaction checking and taking this team name in this championship
    until it ends: an organiser's team and a manager's entry taking one name at the same
    moment check in turn, each seeing what the other wrote. PostgreSQL only (a lock of
    the name alone, taken after any row lock); SQLite runs one writer at a time."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
            [f"team-name:{championship_id}:{agg.team_name_key(name)}"],
        )


def _refuse_a_held_name(championship_id: uuid.UUID, team_id: uuid.UUID, name: str) -> None:
    key = agg.team_name_key(name)
    lock_team_name(championship_id, name)
    if any(key in holder(championship_id, team_id) for holder in name_holders):
        raise InvalidState(f"a team named {' '.join(name.split())!r} is already entered")


@command
def team_update(
    *,
    actor_id: int,
    championship_id: uuid.UUID,
    team_id: uuid.UUID,
    name: str | None = None,
    group: str | None = None,
    expected_version: int | None = None,
) -> Team:
    """Rename a team (any time) or move it to another group (before fixtures and
    matches exist). Groups are normalised like at registration."""
    row = _load(championship_id, actor_id, expected_version)
    state = championship_state(row)
    if name is not None:
        _refuse_a_held_name(row.id, team_id, name)
    events = agg.update_team(
        state,
        team_id=team_id,
        name=name,
        group=group,
        has_matches=_has_matches(row, team_id),
    )
    save_championship(row, state, events)
    return Team.objects.get(id=team_id, championship=row)


@command
def team_remove(
    *,
    actor_id: int,
    championship_id: uuid.UUID,
    team_id: uuid.UUID,
    expected_version: int | None = None,
) -> Championship:
    """Take out a team entered by mistake, before fixtures and matches exist (later:
    ``team_withdraw``)."""
    row = _load(championship_id, actor_id, expected_version)
    state = championship_state(row)
    events = agg.remove_team(state, team_id=team_id, has_matches=_has_matches(row, team_id))
    save_championship(row, state, events)
    return row


@command
def team_register(
    *,
    actor_id: int,
    championship_id: uuid.UUID,
    name: str,
    group: str = "",
    team_id: uuid.UUID | None = None,
    expected_version: int | None = None,
) -> Team:
    """Register a team (name unique in the championship, ignoring case). A team of a
    ``groups`` championship names its group."""
    row = _load(championship_id, actor_id, expected_version)
    state = championship_state(row)
    team_id = team_id or uuid.uuid4()
    _refuse_a_held_name(row.id, team_id, name)
    save_championship(row, state, agg.register_team(state, team_id=team_id, name=name, group=group))
    return Team.objects.get(id=team_id, championship=row)


@command
def team_withdraw(
    *,
    actor_id: int,
    championship_id: uuid.UUID,
    team_id: uuid.UUID,
    reason: str = "",
    expected_version: int | None = None,
) -> Team:
    """Withdraw a team under the championship's withdrawal policy, in one transaction:
    TeamWithdrawn on the championship stream, and on each of the team's matches not yet
    decided MatchCancelled (``expunge``: all its results are annulled) or MatchAwarded to
    the opponent by the policy's score (``award_remaining``: played results stand). The
    team can no longer be scheduled and ranks below every active team."""
    row = _load(championship_id, actor_id, expected_version)
    state = championship_state(row)
    events = agg.withdraw_team(state, team_id=team_id, reason=reason)
    save_championship(row, state, events)
    team = Team.objects.get(id=team_id, championship=row)
    why = f"{team.name} withdrew" + (f": {reason.strip()}" if reason.strip() else "")
    remaining = (
        Match.objects.select_related("home_team", "away_team")
        .select_for_update(of=("self",))
        .filter(
            Q(home_team_id=team_id) | Q(away_team_id=team_id),
            championship=row,
            status__in=agg.REMAINING_STATUSES,
        )
        .order_by("id")
    )
    groups = knockout.championship_groups(row) if row.format in BRACKET_FORMATS else []
    for match in remaining:
        if knockout.placed_from_group(match, team_id, groups):
            # A group's qualifier: the withdrawal changes the group's table, and the
            # bracket places whoever now qualifies (championships.advancement); a
            # walkover here would hand the tie to an opponent before the table says who.
            continue
        match_state_now = match_state(match)
        decided = match_agg.withdrawal(
            match_state_now,
            team_id=team_id,
            policy=state.withdrawal_policy,
            award_score=(state.award_for, state.award_against),
            reason=why,
        )
        if decided:  # none for a knockout match whose opponent is not known yet
            save_match(match, match_state_now, decided)
    return team


@command
def team_deduct_points(
    *,
    actor_id: int,
    championship_id: uuid.UUID,
    team_id: uuid.UUID,
    points: int,
    reason: str,
    effective_at: datetime | None = None,
    deduction_id: uuid.UUID | None = None,
    expected_version: int | None = None,
) -> Deduction:
    """Deduct points from a team (a sanction); the standings subtract them and show a
    footnote (reason, date). ``effective_at`` defaults to now."""
    row = _load(championship_id, actor_id, expected_version)
    state = championship_state(row)
    deduction_id = deduction_id or uuid.uuid4()
    events = agg.deduct_points(
        state,
        deduction_id=deduction_id,
        team_id=team_id,
        points=points,
        reason=reason,
        effective_at=effective_at or timezone.now(),
    )
    save_championship(row, state, events)
    return Deduction.objects.get(id=deduction_id, championship=row)


@command
def deduction_amend(
    *,
    actor_id: int,
    championship_id: uuid.UUID,
    deduction_id: uuid.UUID,
    points: int,
    reason: str,
    effective_at: datetime | None = None,
    expected_version: int | None = None,
) -> Deduction:
    """Change a deduction (e.g. reduced on appeal); 0 points withdraws it. The original
    stays in the history. ``effective_at`` defaults to now."""
    row = _load(championship_id, actor_id, expected_version)
    state = championship_state(row)
    events = agg.amend_deduction(
        state,
        deduction_id=deduction_id,
        points=points,
        reason=reason,
        effective_at=effective_at or timezone.now(),
    )
    save_championship(row, state, events)
    return Deduction.objects.get(id=deduction_id, championship=row)


@command
def fixtures_generate(
    *,
    actor_id: int,
    championship_id: uuid.UUID,
    double_round_robin: bool | None = None,
    first_kickoff: datetime | None = None,
    days_between_rounds: int = 7,
    draw: DrawOptions | None = None,
    expected_version: int | None = None,
) -> list[Match]:
    """Generate every round-robin match (per group for ``groups``) by the circle method.

    ``double_round_robin`` defaults to the championship's format. With an odd number of
    teams each team has one bye per round robin. Kickoffs are spaced by round when a
    ``first_kickoff`` is given.

    ``knockout`` and ``groups_knockout``: the bracket is drawn with ``draw`` (seeding,
    third-place match, legs, qualifiers and their slots; ``championships.knockout``),
    every match of it scheduled, its later teams to be decided."""
    if isinstance(days_between_rounds, bool) or not 0 <= days_between_rounds <= 365:
        raise InvalidCommand("days_between_rounds must be from 0 to 365")
    row = _load(championship_id, actor_id, expected_version)
    _refuse_what_does_not_apply(row.format, draw, double_round_robin)
    state = championship_state(row)
    if row.format in BRACKET_FORMATS:
        return knockout.draw(
            row,
            state,
            options=draw or DrawOptions(),
            new_id=uuid.uuid4,
            first_kickoff=first_kickoff,
            days_between_rounds=days_between_rounds,
        )
    events, scheduled = agg.generate_fixtures(
        state,
        double_round_robin=double_round_robin,
        new_id=uuid.uuid4,
        first_kickoff=first_kickoff,
        days_between_rounds=days_between_rounds,
    )
    save_championship(row, state, events)
    return create_matches(row, scheduled)


# The draw's options each format takes (the others would be silently ignored).
_DRAW_OPTIONS = {
    ChampionshipFormat.KNOCKOUT: {"seeding", "third_place_match", "legs", "away_goals", "seeds"},
    ChampionshipFormat.GROUPS_KNOCKOUT: {
        "seeding",
        "third_place_match",
        "legs",
        "away_goals",
        "qualifiers_per_group",
        "knockout_slots",
    },
}


def _refuse_what_does_not_apply(
    format: str, draw: DrawOptions | None, double_round_robin: bool | None
) -> None:
    """An option given that the championship's format does not take is a 400 on its
    field, not silently ignored (``legs: 2`` on a round robin; slots on a knockout)."""
    if double_round_robin and format in BRACKET_FORMATS:
        raise InvalidCommand(
            f"double_round_robin does not apply to a {format} championship",
            field="double_round_robin",
        )
    if draw is None:
        return
    takes = _DRAW_OPTIONS.get(ChampionshipFormat(format), set())
    for option in dataclasses.fields(draw):
        if getattr(draw, option.name) != option.default and option.name not in takes:
            raise InvalidCommand(
                f"{option.name} does not apply to a {format} championship",
                field=option.name,
            )


@command
def match_schedule(
    *,
    actor_id: int,
    championship_id: uuid.UUID,
    home_team_id: uuid.UUID,
    away_team_id: uuid.UUID,
    round: int | None = None,
    kickoff: datetime | None = None,
    allow_duplicate: bool = False,
    match_id: uuid.UUID | None = None,
    expected_version: int | None = None,
) -> Match:
    """Schedule one match between two active teams of the championship (same group). A
    fixture the round robin already has is refused unless ``allow_duplicate`` (a
    play-off, a replay).

    ``expected_version`` is the championship's version (the teams checked against)."""
    row = _load(championship_id, actor_id, expected_version)
    state = championship_state(row)
    existing = (
        Match.objects.filter(championship=row)
        .exclude(status=MatchStatus.CANCELLED)
        .filter(
            Q(home_team_id__in=[home_team_id, away_team_id])
            & Q(away_team_id__in=[home_team_id, away_team_id])
        )
        .values_list("home_team_id", "away_team_id")
    )
    scheduled = agg.schedule_match(
        state,
        match_id=match_id or uuid.uuid4(),
        home_team_id=home_team_id,
        away_team_id=away_team_id,
        round=round,
        kickoff=kickoff,
        existing=list(existing),
        double_round_robin=row.format == ChampionshipFormat.DOUBLE_ROUND_ROBIN,
        allow_duplicate=allow_duplicate,
    )
    return create_matches(row, [scheduled])[0]
