"""Standings against published final tables, results fed through the commands.

Sources: the official FIFA World Cup 2018 and UEFA EURO 2012 / 2016 / 2020 match
reports and final group tables (as reproduced on each group's Wikipedia page,
e.g. "2018 FIFA World Cup Group B"). Scores are listed home team first.
"""

from __future__ import annotations

import pytest

from tests.championships.conftest import table, tournament

pytestmark = pytest.mark.django_db

WORLD_CUP_2018_GROUP_B = [
    ("Morocco", "0-1", "Iran"),
    ("Portugal", "3-3", "Spain"),
    ("Portugal", "1-0", "Morocco"),
    ("Iran", "0-1", "Spain"),
    ("Iran", "1-1", "Portugal"),
    ("Spain", "2-2", "Morocco"),
]
WORLD_CUP_2018_GROUP_F = [
    ("Germany", "0-1", "Mexico"),
    ("Sweden", "1-0", "South Korea"),
    ("South Korea", "1-2", "Mexico"),
    ("Germany", "2-1", "Sweden"),
    ("South Korea", "2-0", "Germany"),
    ("Mexico", "0-3", "Sweden"),
]
EURO_2012_GROUP_A = [
    ("Poland", "1-1", "Greece"),
    ("Russia", "4-1", "Czech Republic"),
    ("Greece", "1-2", "Czech Republic"),
    ("Poland", "1-1", "Russia"),
    ("Czech Republic", "1-0", "Poland"),
    ("Greece", "1-0", "Russia"),
]
EURO_2016_GROUP_E = [
    ("Republic of Ireland", "1-1", "Sweden"),
    ("Belgium", "0-2", "Italy"),
    ("Italy", "1-0", "Sweden"),
    ("Belgium", "3-0", "Republic of Ireland"),
    ("Italy", "0-1", "Republic of Ireland"),
    ("Sweden", "0-1", "Belgium"),
]
EURO_2020_GROUP_B = [
    ("Denmark", "0-1", "Finland"),
    ("Belgium", "3-0", "Russia"),
    ("Finland", "0-1", "Russia"),
    ("Denmark", "1-2", "Belgium"),
    ("Russia", "1-4", "Denmark"),
    ("Finland", "0-2", "Belgium"),
]
EURO_2020_GROUP_D = [
    ("England", "1-0", "Croatia"),
    ("Scotland", "0-2", "Czech Republic"),
    ("Croatia", "1-1", "Czech Republic"),
    ("England", "0-0", "Scotland"),
    ("Croatia", "3-1", "Scotland"),
    ("Czech Republic", "0-1", "England"),
]
EURO_2020_GROUP_F = [
    ("Hungary", "0-3", "Portugal"),
    ("France", "1-0", "Germany"),
    ("Hungary", "1-1", "France"),
    ("Portugal", "2-4", "Germany"),
    ("Portugal", "2-2", "France"),
    ("Germany", "2-2", "Hungary"),
]


def teams_of(results: list[tuple[str, str, str]]) -> list[str]:
    return sorted({home for home, _, _ in results} | {away for _, _, away in results})


def test_world_cup_2018_group_b_decided_on_goals_scored(owner, event_bus):
    # Spain and Portugal: 5 points, GD +1 each; Spain scored 6, Portugal 5.
    championship = tournament(
        owner.id,
        teams=teams_of(WORLD_CUP_2018_GROUP_B),
        results=WORLD_CUP_2018_GROUP_B,
        tie_breakers="fifa_2022",
        group="B",
    )

    event_bus.deliver()

    assert table(championship, "B") == [
        (1, "Spain", 3, 1, 2, 0, 6, 5, 5),
        (2, "Portugal", 3, 1, 2, 0, 5, 4, 5),
        (3, "Iran", 3, 1, 1, 1, 2, 2, 4),
        (4, "Morocco", 3, 0, 1, 2, 2, 4, 1),
    ]


def test_world_cup_2018_group_f_decided_on_goal_difference(owner, event_bus):
    # Sweden and Mexico on 6 points (GD +3 / -1); South Korea and Germany on 3 (0 / -2).
    championship = tournament(
        owner.id,
        teams=teams_of(WORLD_CUP_2018_GROUP_F),
        results=WORLD_CUP_2018_GROUP_F,
        tie_breakers="fifa_2022",
        group="F",
    )

    event_bus.deliver()

    assert table(championship, "F") == [
        (1, "Sweden", 3, 2, 0, 1, 5, 2, 6),
        (2, "Mexico", 3, 2, 0, 1, 3, 4, 6),
        (3, "South Korea", 3, 1, 0, 2, 3, 3, 3),
        (4, "Germany", 3, 1, 0, 2, 2, 4, 3),
    ]


EURO_2012_GROUP_A_TABLE = [
    (1, "Czech Republic", 3, 2, 0, 1, 4, 5, 6),
    (2, "Greece", 3, 1, 1, 1, 3, 3, 4),
    (3, "Russia", 3, 1, 1, 1, 5, 3, 4),
    (4, "Poland", 3, 0, 2, 1, 2, 3, 2),
]


def test_euro_2012_group_a_decided_head_to_head_against_goal_difference(owner, event_bus):
    # Greece (GD 0) beat Russia (GD +2) 1-0, and UEFA ranks head-to-head first.
    championship = tournament(
        owner.id,
        teams=teams_of(EURO_2012_GROUP_A),
        results=EURO_2012_GROUP_A,
        tie_breakers="uefa",
        group="A",
    )

    event_bus.deliver()

    assert table(championship, "A") == EURO_2012_GROUP_A_TABLE


def test_euro_2012_group_a_under_fifa_rules_goal_difference_puts_russia_second(owner, event_bus):
    championship = tournament(
        owner.id,
        teams=teams_of(EURO_2012_GROUP_A),
        results=EURO_2012_GROUP_A,
        tie_breakers="fifa_2022",
        group="A",
    )

    event_bus.deliver()

    assert [row[1] for row in table(championship, "A")] == [
        "Czech Republic",
        "Russia",
        "Greece",
        "Poland",
    ]


def test_euro_2016_group_e_decided_head_to_head_against_goals_scored(owner, event_bus):
    # Italy and Belgium: 6 points, GD +2 each; Belgium scored more, Italy won 2-0.
    championship = tournament(
        owner.id,
        teams=teams_of(EURO_2016_GROUP_E),
        results=EURO_2016_GROUP_E,
        tie_breakers="uefa",
        group="E",
    )

    event_bus.deliver()

    assert table(championship, "E") == [
        (1, "Italy", 3, 2, 0, 1, 3, 1, 6),
        (2, "Belgium", 3, 2, 0, 1, 4, 2, 6),
        (3, "Republic of Ireland", 3, 1, 1, 1, 2, 4, 4),
        (4, "Sweden", 3, 0, 1, 2, 1, 3, 1),
    ]


def test_euro_2020_group_b_three_way_tie_on_the_head_to_head_mini_table(owner, event_bus):
    # Denmark, Finland, Russia on 3 points each; 3 h2h points each, h2h GD +2 / 0 / -2.
    championship = tournament(
        owner.id,
        teams=teams_of(EURO_2020_GROUP_B),
        results=EURO_2020_GROUP_B,
        tie_breakers="uefa",
        group="B",
    )

    event_bus.deliver()

    assert table(championship, "B") == [
        (1, "Belgium", 3, 3, 0, 0, 7, 1, 9),
        (2, "Denmark", 3, 1, 0, 2, 5, 4, 3),
        (3, "Finland", 3, 1, 0, 2, 1, 3, 3),
        (4, "Russia", 3, 1, 0, 2, 2, 7, 3),
    ]


def test_euro_2020_group_d_level_head_to_head_then_goals_scored(owner, event_bus):
    # Croatia and Czech Republic drew 1-1 and both have GD +1; Croatia scored 4, Czechs 3.
    championship = tournament(
        owner.id,
        teams=teams_of(EURO_2020_GROUP_D),
        results=EURO_2020_GROUP_D,
        tie_breakers="uefa",
        group="D",
    )

    event_bus.deliver()

    assert table(championship, "D") == [
        (1, "England", 3, 2, 1, 0, 2, 0, 7),
        (2, "Croatia", 3, 1, 1, 1, 4, 3, 4),
        (3, "Czech Republic", 3, 1, 1, 1, 3, 2, 4),
        (4, "Scotland", 3, 0, 1, 2, 1, 5, 1),
    ]


def test_euro_2020_group_f_head_to_head_puts_germany_above_portugal(owner, event_bus):
    # Germany and Portugal: 4 points, GD +1 each, Portugal scored more; Germany won 4-2.
    championship = tournament(
        owner.id,
        teams=teams_of(EURO_2020_GROUP_F),
        results=EURO_2020_GROUP_F,
        tie_breakers="uefa",
        group="F",
    )

    event_bus.deliver()

    assert table(championship, "F") == [
        (1, "France", 3, 1, 2, 0, 4, 3, 5),
        (2, "Germany", 3, 1, 1, 1, 6, 5, 4),
        (3, "Portugal", 3, 1, 1, 1, 7, 6, 4),
        (4, "Hungary", 3, 0, 2, 1, 3, 6, 2),
    ]
