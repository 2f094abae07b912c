"""Property-based tests: fixtures, ranking and standings invariants."""

from __future__ import annotations

import itertools
import random
import uuid
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from championships import commands, projections, selectors
from championships.scheduling import (
    double_round_robin,
    single_round_robin,
    three_in_a_row_count,
    venue_sequences,
)
from championships.tiebreakers import CRITERIA, OVERALL_CRITERIA, Result, TeamRecord, rank
from tests.championships.conftest import standings_snapshot
from tests.championships.factories import ChampionshipFactory, MatchFactory, TeamFactory

team_counts = st.integers(min_value=2, max_value=24)


# --- fixtures ------------------------------------------------------------------------------


@given(team_counts)
def test_single_round_robin_every_pair_meets_once_and_no_team_twice_a_round(n):
    rounds = single_round_robin(list(range(n)))

    pairs = Counter(frozenset(p) for rnd in rounds for p in rnd)
    assert set(pairs) == {frozenset(p) for p in itertools.combinations(range(n), 2)}
    assert set(pairs.values()) == {1}
    assert all(len({t for p in rnd for t in p}) == 2 * len(rnd) for rnd in rounds)
    assert len(rounds) == (n if n % 2 else n - 1)


@given(team_counts.filter(lambda n: n % 2 == 1))
def test_odd_counts_give_each_team_one_bye(n):
    rounds = single_round_robin(list(range(n)))

    resting = [set(range(n)) - {t for p in rnd for t in p} for rnd in rounds]
    assert all(len(r) == 1 for r in resting)
    assert sorted(t for r in resting for t in r) == list(range(n))


@given(team_counts)
def test_double_round_robin_mirrors_venues_and_balances_home_and_away(n):
    rounds = double_round_robin(list(range(n)))

    games = Counter(p for rnd in rounds for p in rnd)
    assert set(games) == {(a, b) for a in range(n) for b in range(n) if a != b}
    assert set(games.values()) == {1}
    assert all(len({t for p in rnd for t in p}) == 2 * len(rnd) for rnd in rounds)
    assert all(v.count("H") == v.count("A") for v in venue_sequences(rounds).values())
    assert three_in_a_row_count(rounds) == 0


@given(team_counts)
def test_single_round_robin_venues_alternate(n):
    rounds = single_round_robin(list(range(n)))

    assert all(abs(v.count("H") - v.count("A")) <= 1 for v in venue_sequences(rounds).values())
    assert three_in_a_row_count(rounds) == 0


# --- ranking (pure) ------------------------------------------------------------------------

records = st.lists(
    st.builds(
        TeamRecord,
        team_id=st.uuids(),
        name=st.sampled_from(["A", "b", "B", "c"]),
        points=st.integers(0, 9),
        won=st.integers(0, 3),
        goals_for=st.integers(0, 9),
        goals_against=st.integers(0, 9),
        away_goals_for=st.integers(0, 4),
        withdrawn=st.booleans(),
    ),
    min_size=1,
    max_size=8,
    unique_by=lambda t: t.team_id,
)


def _results_for(teams: list[TeamRecord], seed: int) -> list[Result]:
    rng = random.Random(seed)
    return [
        Result(a.team_id, b.team_id, rng.randint(0, 3), rng.randint(0, 3))
        for a in teams
        for b in teams
        if a != b and rng.random() < 0.5
    ]


@given(
    records,
    st.lists(st.sampled_from(CRITERIA), unique=True, min_size=1),
    st.booleans(),
    st.integers(0, 10**6),
    st.randoms(),
)
def test_rank_is_a_total_order_independent_of_input_order(teams, criteria, reapply, seed, shuffler):
    results = _results_for(teams, seed)

    def among(ids: frozenset[uuid.UUID]) -> list[Result]:
        return [r for r in results if r.home_team_id in ids and r.away_team_id in ids]

    def ranked(order: list[TeamRecord]) -> list[TeamRecord]:
        return rank(
            order,
            criteria=criteria,
            head_to_head_reapply=reapply,
            points_for=(3, 1, 0),
            results_among=among,
        )

    shuffled = list(teams)
    shuffler.shuffle(shuffled)

    assert ranked(teams) == ranked(shuffled)
    assert sorted(ranked(teams), key=lambda t: t.team_id) == sorted(teams, key=lambda t: t.team_id)


@given(records, st.lists(st.sampled_from(OVERALL_CRITERIA), unique=True, min_size=1))
def test_rank_on_overall_criteria_sorts_by_them_then_name_then_id(teams, criteria):
    ordered = rank(
        teams,
        criteria=criteria,
        head_to_head_reapply=False,
        points_for=(3, 1, 0),
        results_among=lambda ids: [],
    )

    def key(t: TeamRecord) -> tuple[object, ...]:
        values = {
            "points": t.points,
            "goal_difference": t.goal_difference,
            "goals_for": t.goals_for,
            "wins": t.won,
            "away_goals": t.away_goals_for,
            "fair_play": t.fair_play,
        }
        return (t.withdrawn, *(-values[c] for c in criteria), t.name.casefold(), str(t.team_id))

    assert ordered == sorted(teams, key=key)


# --- standings through the commands -----------------------------------------------------------

scores = st.tuples(st.integers(0, 5), st.integers(0, 5))
# How many of (points, goal difference, goals for) lead each preset's criteria.
LEADING_OVERALL_CRITERIA = {"fifa_2022": 3, "premier_league": 3, "uefa": 1}


@pytest.mark.django_db
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    n=st.integers(2, 6),
    played=st.lists(scores, min_size=1, max_size=15),
    preset=st.sampled_from(["fifa_2022", "uefa", "premier_league"]),
    points=st.sampled_from([(3, 1, 0), (2, 1, 0)]),
)
def test_standings_invariants(owner, event_bus, n, played, preset, points):
    championship = ChampionshipFactory.create(
        actor_id=owner.id,
        format="double_round_robin",
        tie_breakers=preset,
        points_win=points[0],
        points_draw=points[1],
        points_loss=points[2],
    )
    TeamFactory.create_batch(n, championship=championship)
    matches = commands.fixtures_generate(actor_id=owner.id, championship_id=championship.id)
    completed = list(zip(matches, played, strict=False))
    for match, (home, away) in completed:
        commands.match_complete(
            actor_id=owner.id,
            championship_id=championship.id,
            match_id=match.id,
            home_score=home,
            away_score=away,
        )

    event_bus.deliver()

    rows = list(selectors.standings_for_championship(championship_id=championship.id))
    wins = sum(1 for _, (h, a) in completed if h != a)
    draws = len(completed) - wins
    # Positions count up; teams level on everything (tied) share the first of theirs.
    for place, row in enumerate(rows, start=1):
        assert row.position == place or (row.tied and row.position < place)
    assert all(
        [r for r in rows if r.position == row.position and r.tied] != [row]
        for row in rows
        if row.tied
    )
    assert sum(r.played for r in rows) == 2 * len(completed)
    assert all(r.played == r.won + r.drawn + r.lost for r in rows)
    assert sum(r.won for r in rows) == sum(r.lost for r in rows) == wins
    assert sum(r.drawn for r in rows) == 2 * draws
    assert sum(r.points for r in rows) == wins * (points[0] + points[2]) + 2 * draws * points[1]
    assert sum(r.goal_difference for r in rows) == 0
    assert sum(r.goals_for for r in rows) == sum(h + a for _, (h, a) in completed)
    leading = LEADING_OVERALL_CRITERIA[preset]
    assert all(
        (a.points, a.goal_difference, a.goals_for)[:leading]
        >= (b.points, b.goal_difference, b.goals_for)[:leading]
        for a, b in itertools.pairwise(rows)
    )
    live = standings_snapshot(championship.id)
    projections.rebuild_standings(championship.id)
    assert standings_snapshot(championship.id) == live


@pytest.mark.django_db
@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(results=st.lists(scores, min_size=2, max_size=5, unique=True))
def test_corrections_leave_the_same_table_as_the_final_result_alone(owner, event_bus, results):
    corrected, direct = (ChampionshipFactory.create(actor_id=owner.id) for _ in range(2))
    for championship, history in ((corrected, results), (direct, results[-1:])):
        home, away = (
            TeamFactory.create(championship=championship, name=name) for name in ("H", "A")
        )
        match = MatchFactory.create(championship=championship, home_team=home, away_team=away)
        commands.match_complete(
            actor_id=owner.id,
            championship_id=championship.id,
            match_id=match.id,
            home_score=history[0][0],
            away_score=history[0][1],
        )
        for h, a in history[1:]:
            commands.match_correct_result(
                actor_id=owner.id,
                championship_id=championship.id,
                match_id=match.id,
                home_score=h,
                away_score=a,
                reason="amended",
            )

    event_bus.deliver()

    def stats(championship_id: uuid.UUID) -> list[tuple[object, ...]]:
        return [row[3:] for row in standings_snapshot(championship_id)]

    assert stats(corrected.id) == stats(direct.id)
