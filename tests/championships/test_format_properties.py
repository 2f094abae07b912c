"""Property-based tests of every format's fixtures (pure, no database): each pair meets
the right number of times, no team plays twice in a round, byes only where they must be,
and the bracket is a tree whose every path ends in the final."""

from __future__ import annotations

import itertools
import uuid
from collections import Counter, defaultdict
from uuid import UUID

from hypothesis import given
from hypothesis import strategies as st

from championships import events as ev
from championships import knockout
from championships.aggregates import ChampionshipState, TeamState
from championships.aggregates.bracket import DrawOptions, draw
from championships.aggregates.championship import generate_fixtures

entrant_counts = st.integers(min_value=2, max_value=70)
seedings = st.sampled_from(knockout.SEEDINGS)


def entrants(n: int) -> list[knockout.Entrant]:
    return [knockout.Entrant(uuid.UUID(int=i + 1)) for i in range(n)]


def seed_of(e: knockout.Entrant | None) -> int:
    assert e is not None
    assert e.team_id is not None
    return e.team_id.int


def state(fmt: str, groups: dict[str, int]) -> ChampionshipState:
    teams = {}
    number = 0
    for group, size in groups.items():
        for _ in range(size):
            number += 1
            team_id = uuid.UUID(int=number)
            teams[team_id] = TeamState(team_id, f"Team {number:03d}", group)
    return ChampionshipState(
        championship_id=uuid.uuid4(),
        name="Cup",
        season="2026",
        format=fmt,
        owner_id=1,
        points_win=3,
        points_draw=1,
        points_loss=0,
        tie_breakers=("points",),
        head_to_head_reapply=False,
        tie_break_preset="",
        teams=teams,
    )


def no_team_twice_a_round(scheduled: list[ev.MatchScheduled]) -> None:
    by_round: dict[int | None, list[UUID]] = defaultdict(list)
    for m in scheduled:
        by_round[m.round] += [t for t in (m.home_team_id, m.away_team_id) if t is not None]
    for teams in by_round.values():
        assert len(teams) == len(set(teams))


# --- knockout -------------------------------------------------------------------------


@given(entrant_counts, seedings, st.booleans(), st.sampled_from([1, 2]))
def test_every_entrant_starts_once_and_byes_go_to_the_top_entrants_only(n, seeding, third, legs):
    size = knockout.bracket_size(n)
    rounds = size.bit_length() - 1
    planned = knockout.plan(
        entrants(n),
        seeding=seeding,
        third_place_match=third,
        legs=[legs] * rounds,
        new_id=uuid.uuid4,
    )
    first_round = [m for m in planned if m.bracket_round == 1 and m.leg in (0, 1)]
    later = [m for m in planned if m.bracket_round == 2 and m.leg in (0, 1)]
    playing = [seed_of(e) for m in first_round for e in (m.home, m.away)]
    byes = [seed_of(e) for m in later for e in (m.home, m.away) if e is not None]

    # Each entrant appears once: in the first round, or (a bye) straight in the second.
    assert sorted(playing + byes) == list(range(1, n + 1))
    # Exactly the byes the bracket size needs, and they are the top entrants.
    assert sorted(byes) == list(range(1, size - n + 1))
    # A first-round match always has two entrants: no bye is a match.
    assert all(m.home is not None and m.away is not None for m in first_round)
    # Nothing is known beyond the second round.
    assert all(
        m.home is None and m.away is None
        for m in planned
        if m.bracket_round > 2 or m.stage != "knockout"
    )


@given(entrant_counts, seedings, st.booleans(), st.sampled_from([1, 2]))
def test_the_bracket_is_a_tree_into_the_final(n, seeding, third, legs):
    size = knockout.bracket_size(n)
    rounds = size.bit_length() - 1
    planned = knockout.plan(
        entrants(n),
        seeding=seeding,
        third_place_match=third,
        legs=[legs] * rounds,
        new_id=uuid.uuid4,
    )
    by_id = {m.match_id: m for m in planned}
    ties = [m for m in planned if m.stage == "knockout" and m.leg in (0, 2)]
    final = [m for m in ties if m.bracket_round == rounds]
    feeds: Counter[tuple[UUID, str]] = Counter()

    assert len(final) == 1
    assert final[0].leg == 0  # the final is one match
    for tie in ties:
        if tie is final[0]:
            assert tie.next_match_id is None
            continue
        target = by_id[tie.next_match_id]  # type: ignore[index]
        assert target.bracket_round == tie.bracket_round + 1
        assert target.bracket_position == tie.bracket_position // 2
        feeds[target.match_id, tie.next_slot] += 1
    # No place is fed twice, and every place of a later round is fed or holds a bye.
    assert set(feeds.values()) <= {1}
    for m in planned:
        if m.stage == "knockout" and m.bracket_round > 1 and m.leg in (0, 1):
            for slot, entrant in (("home", m.home), ("away", m.away)):
                assert (feeds[m.match_id, slot] == 1) != (entrant is not None)
    third_places = [m for m in planned if m.stage == "third_place"]
    assert len(third_places) == (1 if third and n >= 4 else 0)
    losers = [m for m in planned if m.loser_next_match_id is not None]
    assert len(losers) == len(third_places) * 2
    # Legs: a two-legged tie swaps home and away in its second leg.
    for m in planned:
        if m.leg == 2:
            first = next(
                o
                for o in planned
                if o.leg == 1
                and (o.bracket_round, o.bracket_position) == (m.bracket_round, m.bracket_position)
            )
            assert (m.home, m.away) == (first.away, first.home)


@given(st.integers(min_value=1, max_value=7))
def test_standard_seeding_keeps_the_top_two_seeds_apart_until_the_final(rounds):
    size = 2**rounds
    order = knockout.standard_order(size)

    assert sorted(order) == list(range(1, size + 1))
    if size >= 2:
        assert order.index(1) < size // 2 <= order.index(2)
    # Each first-round pair adds up to size + 1 (1 v 16, 8 v 9, ...).
    assert {order[i] + order[i + 1] for i in range(0, size, 2)} == {size + 1}


# --- leagues and groups, and groups into the bracket ---------------------------------


@given(st.lists(st.integers(min_value=2, max_value=8), min_size=1, max_size=8), st.booleans())
def test_group_fixtures_each_pair_meets_once_per_round_robin(sizes, double):
    groups = {chr(ord("A") + i): size for i, size in enumerate(sizes)}
    _, scheduled = generate_fixtures(
        state("groups", groups),
        double_round_robin=double,
        new_id=uuid.uuid4,
        first_kickoff=None,
        days_between_rounds=7,
    )

    meetings = Counter(frozenset((m.home_team_id, m.away_team_id)) for m in scheduled)
    by_group: defaultdict[str, set[UUID | None]] = defaultdict(set)
    for m in scheduled:
        by_group[m.group] |= {m.home_team_id, m.away_team_id}
    for teams in by_group.values():
        for a, b in itertools.combinations(teams, 2):
            assert meetings[frozenset((a, b))] == (2 if double else 1)
    assert sum(meetings.values()) == sum(
        (2 if double else 1) * size * (size - 1) // 2 for size in sizes
    )
    # Byes only for odd groups: a team of an even group plays every round of its group.
    rounds_played: dict[UUID | None, set[int | None]] = defaultdict(set)
    for m in scheduled:
        rounds_played[m.home_team_id].add(m.round)
        rounds_played[m.away_team_id].add(m.round)
    for group, size in groups.items():
        expected = (size - 1 if size % 2 == 0 else size) * (2 if double else 1)
        members = [m for m in scheduled if m.group == group]
        assert len({m.round for m in members}) == expected
        for team in by_group[group]:
            missed = expected - len(rounds_played[team])
            assert missed == (0 if size % 2 == 0 else (2 if double else 1))
    no_team_twice_a_round(scheduled)


@given(
    st.integers(min_value=1, max_value=8).map(lambda g: 2 * g),
    st.integers(min_value=3, max_value=5),
)
def test_groups_into_a_bracket_meet_once_in_groups_and_fill_every_slot_once(groups, size):
    names = [f"G{i}" for i in range(groups)]
    events, scheduled = draw(
        state("groups_knockout", dict.fromkeys(names, size)),
        options=DrawOptions(third_place_match=True),
        registration_order=[],
        new_id=uuid.uuid4,
        first_kickoff=None,
        days_between_rounds=7,
    )

    knockout_matches = [m for m in scheduled if m.stage]
    group_matches = [m for m in scheduled if not m.stage]
    labels = [s for m in knockout_matches for s in (m.home_source, m.away_source) if s]
    assert sorted(labels) == sorted(f"{p}{g}" for g in names for p in (1, 2))
    byes = knockout.bracket_size(2 * groups) - 2 * groups
    assert len(knockout_matches) == knockout.bracket_size(2 * groups) - 1 - byes + (groups >= 2)
    assert len(group_matches) == groups * size * (size - 1) // 2
    # The bracket's rounds come after the group stage's.
    assert min(m.round or 0 for m in knockout_matches) > max(m.round or 0 for m in group_matches)
    # Teams of one group are in opposite halves (they can meet only in the final).
    half = len([m for m in knockout_matches if m.bracket_round == 1]) // 2
    for g in names:
        positions = [
            m.bracket_position or 0
            for m in knockout_matches
            if m.bracket_round == 1 and g in (m.home_source[1:], m.away_source[1:])
        ]
        if byes == 0 and half:
            assert {p < half for p in positions} == {True, False}
    drawn = events[0]
    assert sorted(drawn.knockout_slots) == sorted(labels)  # type: ignore[attr-defined]
    no_team_twice_a_round(scheduled)
