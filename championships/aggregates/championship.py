"""The championship aggregate: rules, organisers, teams, fixtures, deductions."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from championships import events as ev
from championships import knockout_events as kev
from championships import scheduling, tiebreakers
from championships.exceptions import InvalidCommand, InvalidState, NotFound
from championships.models import GROUP_FORMATS, ChampionshipFormat
from events.registry import Event

MAX_POINTS = 10


@dataclass(frozen=True)
class TeamState:
    team_id: UUID
    name: str
    group: str
    withdrawn: bool = False
    points_deducted: int = 0


@dataclass(frozen=True)
class DeductionState:
    deduction_id: UUID
    team_id: UUID
    points: int


@dataclass(frozen=True)
class ChampionshipState:
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
    organiser_ids: frozenset[int] = frozenset()
    teams: dict[UUID, TeamState] = field(default_factory=dict)
    fixtures_generated: bool = False
    visibility: str = ev.PUBLISHED
    withdrawal_policy: str = ev.EXPUNGE
    award_for: int = 3
    award_against: int = 0
    deductions: dict[UUID, DeductionState] = field(default_factory=dict)
    version: int = 0

    def may_organise(self, user_id: int) -> bool:
        return user_id == self.owner_id or user_id in self.organiser_ids

    def team(self, team_id: UUID) -> TeamState:
        try:
            return self.teams[team_id]
        except KeyError:
            raise NotFound(f"team {team_id} is not registered in this championship") from None

    def deduction(self, deduction_id: UUID) -> DeductionState:
        try:
            return self.deductions[deduction_id]
        except KeyError:
            raise NotFound(
                f"deduction {deduction_id} does not exist in this championship"
            ) from None

    def groups(self) -> list[str]:
        return sorted({t.group for t in self.teams.values()})

    def active_teams(self, group: str | None = None) -> list[TeamState]:
        return [
            t
            for t in self.teams.values()
            if not t.withdrawn and (group is None or t.group == group)
        ]


# --- decisions ----------------------------------------------------------------------


def _text(value: str, what: str, max_length: int) -> str:
    cleaned = " ".join(value.split()) if isinstance(value, str) else ""
    if not cleaned:
        raise InvalidCommand(f"{what} must not be blank")
    if len(cleaned) > max_length:
        raise InvalidCommand(f"{what} must be at most {max_length} characters")
    return cleaned


def _points(win: int, draw: int, loss: int) -> tuple[int, int, int]:
    for label, value in (("win", win), ("draw", draw), ("loss", loss)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_POINTS:
            raise InvalidCommand(f"points for a {label} must be an integer from 0 to {MAX_POINTS}")
    if not win >= draw >= loss:
        raise InvalidCommand("points must satisfy win >= draw >= loss")
    return win, draw, loss


def _rules(
    tie_breakers: str | Sequence[str], head_to_head_reapply: bool | None
) -> tuple[tuple[str, ...], bool, str]:
    try:
        criteria, reapply, preset = tiebreakers.resolve(tie_breakers)
    except ValueError as exc:
        raise InvalidCommand(str(exc)) from None
    if head_to_head_reapply is not None and not preset:
        reapply = head_to_head_reapply
    return criteria, reapply, preset


def create(
    *,
    championship_id: UUID,
    owner_id: int,
    name: str,
    season: str,
    format: str,
    points_win: int,
    points_draw: int,
    points_loss: int,
    tie_breakers: str | Sequence[str],
    head_to_head_reapply: bool | None,
    visibility: str | None = None,
    withdrawal_policy: str | None = None,
    award_score: tuple[int, int] | None = None,
) -> list[Event]:
    if format not in ChampionshipFormat.values:
        raise InvalidCommand(f"format must be one of {ChampionshipFormat.values}")
    win, draw, loss = _points(points_win, points_draw, points_loss)
    criteria, reapply, preset = _rules(tie_breakers, head_to_head_reapply)
    return [
        ev.ChampionshipCreated(
            championship_id=championship_id,
            name=_text(name, "name", 200),
            season=_text(season, "season", 50),
            format=format,
            owner_id=owner_id,
            points_win=win,
            points_draw=draw,
            points_loss=loss,
            tie_breakers=criteria,
            head_to_head_reapply=reapply,
            tie_break_preset=preset,
        ),
        *_settings(
            championship_id,
            current=(ev.PUBLISHED, ev.EXPUNGE, DEFAULT_AWARD),
            visibility=visibility,
            withdrawal_policy=withdrawal_policy,
            award_score=award_score,
        ),
    ]


DEFAULT_AWARD = (3, 0)


def _settings(
    championship_id: UUID,
    *,
    current: tuple[str, str, tuple[int, int]],
    visibility: str | None,
    withdrawal_policy: str | None,
    award_score: tuple[int, int] | None,
) -> list[Event]:
    """Events for the visibility and withdrawal settings that differ from ``current``."""
    events: list[Event] = []
    if visibility is not None and visibility != current[0]:
        if visibility not in (ev.DRAFT, ev.PUBLISHED):
            raise InvalidCommand(f"visibility must be {ev.DRAFT!r} or {ev.PUBLISHED!r}")
        events.append(
            ev.ChampionshipVisibilityChanged(championship_id=championship_id, visibility=visibility)
        )
    policy = current[1] if withdrawal_policy is None else withdrawal_policy
    if policy not in ev.WITHDRAWAL_POLICIES:
        raise InvalidCommand(f"withdrawal_policy must be one of {list(ev.WITHDRAWAL_POLICIES)}")
    score = current[2] if award_score is None else tuple(award_score)
    if len(score) != 2 or any(
        isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= MAX_AWARD for v in score
    ):
        raise InvalidCommand(f"the award score must be two integers from 0 to {MAX_AWARD}")
    if score[0] <= score[1]:
        raise InvalidCommand("the award score must have the awarded team winning, e.g. 3-0")
    if (policy, score) != (current[1], current[2]):
        events.append(
            ev.WithdrawalPolicyChanged(
                championship_id=championship_id,
                policy=policy,
                award_for=score[0],
                award_against=score[1],
            )
        )
    return events


MAX_AWARD = 99


def update(
    state: ChampionshipState,
    *,
    name: str | None,
    season: str | None,
    points_win: int | None,
    points_draw: int | None,
    points_loss: int | None,
    tie_breakers: str | Sequence[str] | None,
    head_to_head_reapply: bool | None,
    visibility: str | None = None,
    withdrawal_policy: str | None = None,
    award_score: tuple[int, int] | None = None,
) -> list[Event]:
    win, draw, loss = _points(
        state.points_win if points_win is None else points_win,
        state.points_draw if points_draw is None else points_draw,
        state.points_loss if points_loss is None else points_loss,
    )
    if tie_breakers is None:
        criteria, preset = state.tie_breakers, state.tie_break_preset
        reapply = state.head_to_head_reapply
        if head_to_head_reapply is not None and not preset:
            reapply = head_to_head_reapply
    else:
        criteria, reapply, preset = _rules(tie_breakers, head_to_head_reapply)
    event = ev.ChampionshipUpdated(
        championship_id=state.championship_id,
        name=state.name if name is None else _text(name, "name", 200),
        season=state.season if season is None else _text(season, "season", 50),
        points_win=win,
        points_draw=draw,
        points_loss=loss,
        tie_breakers=criteria,
        head_to_head_reapply=reapply,
        tie_break_preset=preset,
    )
    unchanged = dataclasses.replace(
        event,
        name=state.name,
        season=state.season,
        points_win=state.points_win,
        points_draw=state.points_draw,
        points_loss=state.points_loss,
        tie_breakers=state.tie_breakers,
        head_to_head_reapply=state.head_to_head_reapply,
        tie_break_preset=state.tie_break_preset,
    )
    settings = _settings(
        state.championship_id,
        current=(
            state.visibility,
            state.withdrawal_policy,
            (state.award_for, state.award_against),
        ),
        visibility=visibility,
        withdrawal_policy=withdrawal_policy,
        award_score=award_score,
    )
    if event == unchanged:
        if not settings:
            raise InvalidCommand("nothing to change")
        return settings
    return [event, *settings]


def add_organiser(state: ChampionshipState, *, user_id: int) -> list[Event]:
    if state.may_organise(user_id):
        raise InvalidState(f"user {user_id} already organises this championship")
    return [ev.OrganiserAdded(championship_id=state.championship_id, user_id=user_id)]


def remove_organiser(state: ChampionshipState, *, user_id: int) -> list[Event]:
    if user_id == state.owner_id:
        raise InvalidState("the owner cannot be removed; only co-organisers can")
    if user_id not in state.organiser_ids:
        raise NotFound(f"user {user_id} is not a co-organiser of this championship")
    return [ev.OrganiserRemoved(championship_id=state.championship_id, user_id=user_id)]


def normalise_group(state: ChampionshipState, group: str, *, exclude: UUID | None = None) -> str:
    """Trimmed, inner spaces collapsed, and spelled as an existing group of the same name
    ignoring case ("a" and "A " are group A); a new group starts with a capital."""
    cleaned = " ".join(group.split()) if isinstance(group, str) else ""
    if state.format in GROUP_FORMATS:
        if not cleaned:
            raise InvalidCommand("a team of a group championship needs a group")
        if len(cleaned) > 20:
            raise InvalidCommand("group must be at most 20 characters")
    elif cleaned:
        raise InvalidCommand(
            "groups are only for championships in the groups or groups_knockout format"
        )
    for team in sorted(state.teams.values(), key=lambda t: (t.group, t.team_id)):
        if team.team_id != exclude and team.group.casefold() == cleaned.casefold():
            return team.group
    spelled = cleaned[:1].upper() + cleaned[1:]
    # Capitals can be longer than the letter ("ﬃ" is "FFI"): checked as stored.
    if len(spelled) > 20:
        raise InvalidCommand("group must be at most 20 characters")
    return spelled


def team_name_key(name: str) -> str:
    """What makes two team names the same: inner spaces collapsed, case folded (the
    team entries' check uses it too, so an entry is refused by the same rule)."""
    return " ".join(name.split()).casefold()


def _unique_name(state: ChampionshipState, name: str, *, exclude: UUID | None = None) -> str:
    clean = _text(name, "team name", 100)
    key = team_name_key(clean)
    if any(team_name_key(t.name) == key and t.team_id != exclude for t in state.teams.values()):
        raise InvalidState(f"a team named {clean!r} is already registered")
    return clean


def register_team(state: ChampionshipState, *, team_id: UUID, name: str, group: str) -> list[Event]:
    clean = _text(name, "team name", 100)
    group = normalise_group(state, group)
    if state.fixtures_generated:
        raise InvalidState("fixtures are generated: no more teams can register")
    clean = _unique_name(state, clean)
    return [
        ev.TeamRegistered(
            championship_id=state.championship_id, team_id=team_id, name=clean, group=group
        )
    ]


def update_team(
    state: ChampionshipState,
    *,
    team_id: UUID,
    name: str | None,
    group: str | None,
    has_matches: bool,
) -> list[Event]:
    """Rename a team (any time), or move it to another group (before it has matches)."""
    team = state.team(team_id)
    new_name = team.name if name is None else _unique_name(state, name, exclude=team_id)
    new_group = team.group if group is None else normalise_group(state, group, exclude=team_id)
    if new_group != team.group and (state.fixtures_generated or has_matches):
        raise InvalidState("a team cannot change group once fixtures or matches exist")
    if (new_name, new_group) == (team.name, team.group):
        raise InvalidCommand("nothing to change")
    return [
        ev.TeamUpdated(
            championship_id=state.championship_id,
            team_id=team_id,
            name=new_name,
            group=new_group,
            previous_group=team.group,
        )
    ]


def remove_team(state: ChampionshipState, *, team_id: UUID, has_matches: bool) -> list[Event]:
    """Take out a team entered by mistake: only before fixtures and matches exist."""
    team = state.team(team_id)
    if state.fixtures_generated or has_matches:
        raise InvalidState(
            f"{team.name} cannot be removed once fixtures or matches exist: withdraw it instead"
        )
    return [
        ev.TeamRemoved(championship_id=state.championship_id, team_id=team_id, group=team.group)
    ]


def withdraw_team(state: ChampionshipState, *, team_id: UUID, reason: str) -> list[Event]:
    """The championship's withdrawal policy is recorded with the withdrawal; what it does
    to the team's matches is decided by ``withdrawal_match_events``."""
    team = state.team(team_id)
    if team.withdrawn:
        raise InvalidState(f"{team.name} has already withdrawn")
    return [
        ev.TeamWithdrawn(
            championship_id=state.championship_id,
            team_id=team_id,
            group=team.group,
            reason=reason.strip() if isinstance(reason, str) else "",
            policy=state.withdrawal_policy,
        )
    ]


# A withdrawn team's matches not yet decided: they can no longer be played.
REMAINING_STATUSES = ("scheduled", "postponed", "live")


def deduct_points(
    state: ChampionshipState,
    *,
    deduction_id: UUID,
    team_id: UUID,
    points: int,
    reason: str,
    effective_at: datetime | None,
) -> list[Event]:
    team = state.team(team_id)
    if isinstance(points, bool) or not isinstance(points, int) or not 1 <= points <= MAX_DEDUCTION:
        raise InvalidCommand(f"points to deduct must be an integer from 1 to {MAX_DEDUCTION}")
    if deduction_id in state.deductions:
        raise InvalidState(f"deduction {deduction_id} already exists")
    return [
        ev.PointsDeducted(
            championship_id=state.championship_id,
            team_id=team_id,
            group=team.group,
            points=points,
            reason=_text(reason, "reason", 500),
            deduction_id=deduction_id,
            effective_at=effective_at,
        )
    ]


MAX_DEDUCTION = 1000


def amend_deduction(
    state: ChampionshipState,
    *,
    deduction_id: UUID,
    points: int,
    reason: str,
    effective_at: datetime | None,
) -> list[Event]:
    """A new number of points (0 withdraws the deduction), e.g. reduced on appeal."""
    deduction = state.deduction(deduction_id)
    if isinstance(points, bool) or not isinstance(points, int) or not 0 <= points <= MAX_DEDUCTION:
        raise InvalidCommand(f"points must be an integer from 0 to {MAX_DEDUCTION}")
    team = state.team(deduction.team_id)
    return [
        ev.DeductionAmended(
            championship_id=state.championship_id,
            deduction_id=deduction_id,
            team_id=deduction.team_id,
            group=team.group,
            previous_points=deduction.points,
            points=points,
            reason=_text(reason, "reason", 500),
            effective_at=effective_at,
        )
    ]


def generate_fixtures(
    state: ChampionshipState,
    *,
    double_round_robin: bool | None,
    new_id: Callable[[], UUID],
    first_kickoff: datetime | None,
    days_between_rounds: int,
) -> tuple[list[Event], list[ev.MatchScheduled]]:
    """Championship-stream events, and one MatchScheduled per new match stream."""
    if state.fixtures_generated:
        raise InvalidState("fixtures have already been generated")
    double = (
        state.format == ChampionshipFormat.DOUBLE_ROUND_ROBIN
        if double_round_robin is None
        else double_round_robin
    )
    groups = sorted({t.group for t in state.active_teams()})
    scheduled: list[ev.MatchScheduled] = []
    rounds_total = 0
    for group in groups:
        teams = sorted(state.active_teams(group), key=lambda t: (t.name.casefold(), t.team_id))
        if len(teams) < 2:
            raise InvalidState(f"group {group or '(all)'} needs at least two teams")
        ids = [t.team_id for t in teams]
        rounds = (
            scheduling.double_round_robin(ids) if double else scheduling.single_round_robin(ids)
        )
        rounds_total = max(rounds_total, len(rounds))
        for number, pairs in enumerate(rounds, start=1):
            kickoff = round_kickoff(first_kickoff, days_between_rounds, number)
            scheduled += [
                ev.MatchScheduled(
                    match_id=new_id(),
                    championship_id=state.championship_id,
                    group=group,
                    round=number,
                    home_team_id=home,
                    away_team_id=away,
                    kickoff=kickoff,
                )
                for home, away in pairs
            ]
    if not groups:
        raise InvalidState("register at least two teams before generating fixtures")
    summary = ev.FixturesGenerated(
        championship_id=state.championship_id,
        double_round_robin=double,
        groups=tuple(groups),
        rounds=rounds_total,
        match_ids=tuple(m.match_id for m in scheduled),
    )
    return [summary], scheduled


def round_kickoff(first: datetime | None, days_between: int, number: int) -> datetime | None:
    """Round ``number``'s kickoff, ``days_between`` days per round after ``first``."""
    if first is None:
        return None
    try:
        return first + timedelta(days=days_between * (number - 1))
    except OverflowError:
        raise InvalidCommand(
            f"first_kickoff_at is too late: round {number} would fall after the year 9999"
        ) from None


def schedule_match(
    state: ChampionshipState,
    *,
    match_id: UUID,
    home_team_id: UUID,
    away_team_id: UUID,
    round: int | None,
    kickoff: datetime | None,
    existing: Sequence[tuple[UUID, UUID]] = (),
    double_round_robin: bool = False,
    allow_duplicate: bool = False,
) -> ev.MatchScheduled:
    """``existing``: (home, away) of the matches already scheduled and not cancelled.
    Once the round robin is generated, a fixture it already has (the same pair; in a
    double round robin the same home and away) is refused unless ``allow_duplicate`` (a
    play-off, a replay). Before that, matches are the organiser's own schedule."""
    if home_team_id == away_team_id:
        raise InvalidCommand("a team cannot play itself")
    home, away = state.team(home_team_id), state.team(away_team_id)
    for team in (home, away):
        if team.withdrawn:
            raise InvalidState(f"{team.name} has withdrawn")
    if home.group != away.group:
        raise InvalidCommand("both teams must be in the same group")
    if round is not None and (isinstance(round, bool) or not 1 <= round <= 1000):
        raise InvalidCommand("round must be from 1 to 1000")
    if state.fixtures_generated and not allow_duplicate:
        wanted = (home_team_id, away_team_id)
        same = [
            pair
            for pair in existing
            if pair == wanted or (not double_round_robin and pair == wanted[::-1])
        ]
        if same:
            raise InvalidState(
                f"{home.name} v {away.name} is already scheduled in this round robin; "
                "set allow_duplicate for a play-off or a replay"
            )
    return ev.MatchScheduled(
        match_id=match_id,
        championship_id=state.championship_id,
        group=home.group,
        round=round,
        home_team_id=home_team_id,
        away_team_id=away_team_id,
        kickoff=kickoff,
    )


# --- evolution ----------------------------------------------------------------------


def apply_championship(state: ChampionshipState | None, event: Event) -> ChampionshipState:
    """The state after ``event`` (a championship-stream event)."""
    if isinstance(event, ev.ChampionshipCreated):
        return ChampionshipState(
            championship_id=event.championship_id,
            name=event.name,
            season=event.season,
            format=event.format,
            owner_id=event.owner_id,
            points_win=event.points_win,
            points_draw=event.points_draw,
            points_loss=event.points_loss,
            tie_breakers=tuple(event.tie_breakers),
            head_to_head_reapply=event.head_to_head_reapply,
            tie_break_preset=event.tie_break_preset,
            version=1,
        )
    if state is None:
        raise InvalidState(f"{event.event_type} before ChampionshipCreated")
    bumped = dataclasses.replace(state, version=state.version + 1)
    if isinstance(event, ev.ChampionshipUpdated):
        return dataclasses.replace(
            bumped,
            name=event.name,
            season=event.season,
            points_win=event.points_win,
            points_draw=event.points_draw,
            points_loss=event.points_loss,
            tie_breakers=tuple(event.tie_breakers),
            head_to_head_reapply=event.head_to_head_reapply,
            tie_break_preset=event.tie_break_preset,
        )
    if isinstance(event, ev.OrganiserAdded):
        return dataclasses.replace(bumped, organiser_ids=state.organiser_ids | {event.user_id})
    if isinstance(event, ev.OrganiserRemoved):
        return dataclasses.replace(bumped, organiser_ids=state.organiser_ids - {event.user_id})
    if isinstance(event, ev.ChampionshipVisibilityChanged):
        return dataclasses.replace(bumped, visibility=event.visibility)
    if isinstance(event, ev.WithdrawalPolicyChanged):
        return dataclasses.replace(
            bumped,
            withdrawal_policy=event.policy,
            award_for=event.award_for,
            award_against=event.award_against,
        )
    if isinstance(event, ev.TeamUpdated):
        team = dataclasses.replace(state.teams[event.team_id], name=event.name, group=event.group)
        return dataclasses.replace(bumped, teams={**state.teams, event.team_id: team})
    if isinstance(event, ev.TeamRemoved):
        teams = {k: v for k, v in state.teams.items() if k != event.team_id}
        return dataclasses.replace(bumped, teams=teams)
    if isinstance(event, ev.TeamRegistered):
        team = TeamState(team_id=event.team_id, name=event.name, group=event.group)
        return dataclasses.replace(bumped, teams={**state.teams, event.team_id: team})
    if isinstance(event, ev.TeamWithdrawn):
        team = dataclasses.replace(state.teams[event.team_id], withdrawn=True)
        return dataclasses.replace(bumped, teams={**state.teams, event.team_id: team})
    if isinstance(event, ev.PointsDeducted | ev.DeductionAmended):
        previous = event.previous_points if isinstance(event, ev.DeductionAmended) else 0
        old = state.teams[event.team_id]
        team = dataclasses.replace(
            old, points_deducted=old.points_deducted + event.points - previous
        )
        deduction = DeductionState(event.deduction_id, event.team_id, event.points)
        return dataclasses.replace(
            bumped,
            teams={**state.teams, event.team_id: team},
            deductions={**state.deductions, event.deduction_id: deduction},
        )
    if isinstance(event, ev.FixturesGenerated):
        return dataclasses.replace(bumped, fixtures_generated=True)
    if isinstance(event, kev.BracketDrawn | kev.LotsDrawn):
        return bumped
    raise TypeError(f"{event.event_type} is not a championship event")


def replay_championship(events: Iterable[Event]) -> ChampionshipState | None:
    state: ChampionshipState | None = None
    for event in events:
        state = apply_championship(state, event)
    return state
