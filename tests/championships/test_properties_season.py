"""Property: any sequence of valid organiser commands (results, corrections, awards,
postponements, rescheduling, swaps, renames, deductions and their amendments,
withdrawals under either policy, rule changes), delivered at any points in between,
leaves the standings equal to a from-scratch recomputation from the matches and teams,
and equal to a rebuild from the store (issue #9)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from championships import commands, projections
from championships import events as ev
from championships.exceptions import DomainError
from championships.models import Championship, Deduction, Match, MatchStatus, Standing, Team
from events import store
from tests.championships.conftest import standings_snapshot
from tests.championships.factories import ChampionshipFactory, TeamFactory

OPERATIONS = (
    "complete",
    "complete",
    "complete",
    "correct",
    "award",
    "postpone",
    "reschedule",
    "swap",
    "start_and_goal",
    "rename",
    "deduct",
    "amend",
    "withdraw",
    "points_rule",
    "deliver",
)

steps = st.lists(
    st.tuples(
        st.sampled_from(OPERATIONS), st.integers(0, 10**6), st.integers(0, 4), st.integers(0, 4)
    ),
    min_size=1,
    max_size=25,
)


class Season:
    """Runs one step on the championship; a step the rules refuse changes nothing."""

    def __init__(self, championship: Championship, event_bus: Any) -> None:
        self.championship = championship
        self.owner = championship.owner_id
        self.event_bus = event_bus
        self.ids: dict[str, Any] = {"actor_id": self.owner, "championship_id": championship.id}

    def matches(self) -> list[Match]:
        return list(Match.objects.filter(championship=self.championship).order_by("id"))

    def teams(self) -> list[Team]:
        return list(Team.objects.filter(championship=self.championship).order_by("id"))

    def run(self, op: str, pick: int, x: int, y: int) -> None:
        matches, teams = self.matches(), self.teams()
        match = matches[pick % len(matches)]
        team = teams[pick % len(teams)]
        on_match: dict[str, Any] = {**self.ids, "match_id": match.id}
        try:
            if op == "complete":
                commands.match_complete(**on_match, home_score=x, away_score=y)
            elif op == "correct":
                commands.match_correct_result(**on_match, home_score=x, away_score=y, reason="r")
            elif op == "award":
                home_wins = x >= y
                commands.match_award(
                    **on_match,
                    awarded_to_team_id=match.home.id if home_wins else match.away.id,
                    home_score=3 if home_wins else 0,
                    away_score=0 if home_wins else 3,
                    reason="forfeit",
                )
            elif op == "postpone":
                commands.match_postpone(**on_match, reason="weather")
            elif op == "reschedule":
                kickoff = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(days=x * 7 + y)
                commands.match_reschedule(**on_match, kickoff=kickoff)
            elif op == "swap":
                commands.match_swap_venues(**on_match)
            elif op == "start_and_goal":
                commands.match_start(**on_match)
                commands.match_record_goal(**on_match, team_id=match.home.id, minute=x)
            elif op == "rename":
                commands.team_update(**self.ids, team_id=team.id, name=f"{team.name[:1]}{x}{y}")
            elif op == "deduct":
                commands.team_deduct_points(**self.ids, team_id=team.id, points=x + 1, reason="r")
            elif op == "amend":
                deductions = list(Deduction.objects.filter(championship=self.championship))
                if deductions:
                    deduction = deductions[pick % len(deductions)]
                    commands.deduction_amend(
                        **self.ids, deduction_id=deduction.id, points=x, reason="appeal"
                    )
            elif op == "withdraw":
                commands.team_withdraw(**self.ids, team_id=team.id)
            elif op == "points_rule":
                win = max(x, y, 1)
                commands.championship_update(
                    **self.ids, points_win=win, points_draw=min(x, y, win), points_loss=0
                )
            elif op == "deliver":
                self.event_bus.deliver()
        except DomainError:
            pass


def recomputed(championship: Championship) -> dict[Any, tuple[object, ...]]:
    """Each team's (played, won, drawn, lost, gf, ga, points) from the write model alone."""
    championship.refresh_from_db()
    # The policy in force when each team withdrew (it may change during a season).
    expunged = {
        r.data.team_id
        for r in store.load(str(championship.id))
        if isinstance(r.data, ev.TeamWithdrawn) and r.data.policy == ev.EXPUNGE
    }
    totals: dict[Any, list[int]] = defaultdict(lambda: [0] * 6)
    for m in Match.objects.filter(
        championship=championship, status__in=[MatchStatus.COMPLETED, MatchStatus.AWARDED]
    ):
        if {m.home_team_id, m.away_team_id} & expunged:
            continue
        for team_id, scored, conceded in (
            (m.home_team_id, m.home_score, m.away_score),
            (m.away_team_id, m.away_score, m.home_score),
        ):
            row = totals[team_id]
            row[0] += 1
            row[1 if scored > conceded else 3 if scored < conceded else 2] += 1
            row[4] += scored
            row[5] += conceded
    result: dict[Any, tuple[object, ...]] = {}
    for team in Team.objects.filter(championship=championship):
        played, won, drawn, lost, gf, ga = totals[team.id]
        points = (
            won * championship.points_win
            + drawn * championship.points_draw
            + lost * championship.points_loss
            - team.points_deducted
        )
        result[team.id] = (team.name, played, won, drawn, lost, gf, ga, points, team.withdrawn)
    return result


def projected(championship: Championship) -> dict[Any, tuple[object, ...]]:
    return {
        r.team_id: (
            r.team_name,
            r.played,
            r.won,
            r.drawn,
            r.lost,
            r.goals_for,
            r.goals_against,
            r.points,
            r.withdrawn,
        )
        for r in Standing.objects.filter(championship_id=championship.id)
    }


@pytest.mark.django_db
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    policy=st.sampled_from(["expunge", "award_remaining"]),
    steps=steps,
)
def test_any_sequence_of_organiser_commands_leaves_standings_equal_to_a_recomputation(
    owner, event_bus, policy, steps
):
    championship = ChampionshipFactory.create(
        actor_id=owner.id, format="double_round_robin", withdrawal_policy=policy
    )
    for name in ("Ajax", "Benfica", "Celtic", "Dynamo"):
        TeamFactory.create(championship=championship, name=name)
    commands.fixtures_generate(actor_id=owner.id, championship_id=championship.id)
    season = Season(championship, event_bus)

    for step in steps:
        season.run(*step)
    event_bus.deliver()

    assert projected(championship) == recomputed(championship)
    rows = sorted(
        Standing.objects.filter(championship_id=championship.id), key=lambda r: r.position
    )
    # Competition ranking ("1, 1, 3, 4"): a row shares the place above it (teams level on
    # every criterion, marked tied) or has its own.
    for place, row in enumerate(rows, start=1):
        above = rows[place - 2].position if place > 1 else 1
        assert row.position in (place, above)
        assert row.tied == any(other.position == row.position for other in rows if other != row)
    live = standings_snapshot(championship.id)
    projections.rebuild_standings(championship.id)
    assert standings_snapshot(championship.id) == live
