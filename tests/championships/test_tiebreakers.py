"""The ranking function and the presets, on hand-made tables."""

from __future__ import annotations

import uuid

import pytest

from championships.tiebreakers import PRESETS, Result, TeamRecord, rank, resolve

XENON, YANKEE, ZULU = (uuid.UUID(int=i) for i in (1, 2, 3))


def ranked_names(teams: list[TeamRecord], results: list[Result], preset: str) -> list[str]:
    criteria, reapply, _ = resolve(preset)
    by_id = {t.team_id: t.name for t in teams}

    def among(ids: frozenset[uuid.UUID]) -> list[Result]:
        return [r for r in results if r.home_team_id in ids and r.away_team_id in ids]

    ordered = rank(
        teams,
        criteria=criteria,
        head_to_head_reapply=reapply,
        points_for=(3, 1, 0),
        results_among=among,
    )
    return [by_id[t.team_id] for t in ordered]


# Three teams level on points, GD and goals; in their mini-table Xenon scored least,
# while Zulu and Yankee stay level (3 pts, GD 0, GF 2) although Zulu beat Yankee.
LEVEL = [
    TeamRecord(XENON, "Xenon", points=4, goals_for=5, goals_against=5),
    TeamRecord(YANKEE, "Yankee", points=4, goals_for=5, goals_against=5),
    TeamRecord(ZULU, "Zulu", points=4, goals_for=5, goals_against=5),
]
CIRCLE = [
    Result(XENON, ZULU, 1, 0),
    Result(YANKEE, XENON, 1, 0),
    Result(ZULU, YANKEE, 2, 1),
]


def test_uefa_reapplies_head_to_head_to_the_teams_still_level():
    assert ranked_names(LEVEL, CIRCLE, "uefa") == ["Zulu", "Yankee", "Xenon"]


def test_fifa_uses_one_mini_table_then_the_last_resort():
    assert ranked_names(LEVEL, CIRCLE, "fifa_2022") == ["Yankee", "Zulu", "Xenon"]


def test_premier_league_ranks_on_away_goals_between_the_clubs():
    teams = [
        TeamRecord(XENON, "Xenon", points=2, goals_for=3, goals_against=3),
        TeamRecord(YANKEE, "Yankee", points=2, goals_for=3, goals_against=3),
    ]
    results = [Result(XENON, YANKEE, 1, 1), Result(YANKEE, XENON, 2, 2)]

    assert ranked_names(teams, results, "premier_league") == ["Xenon", "Yankee"]


def test_premier_league_ranks_goal_difference_before_head_to_head():
    teams = [
        TeamRecord(XENON, "Xenon", points=3, goals_for=1, goals_against=0),
        TeamRecord(YANKEE, "Yankee", points=3, goals_for=5, goals_against=1),
    ]
    results = [Result(XENON, YANKEE, 1, 0)]

    assert ranked_names(teams, results, "premier_league") == ["Yankee", "Xenon"]


def test_the_last_resort_is_the_name_ignoring_case_then_the_id():
    teams = [
        TeamRecord(ZULU, "alpha"),
        TeamRecord(YANKEE, "Alpha"),
        TeamRecord(XENON, "beta"),
    ]

    assert [
        t.team_id
        for t in rank(
            teams,
            criteria=["points"],
            head_to_head_reapply=False,
            points_for=(3, 1, 0),
            results_among=lambda ids: [],
        )
    ] == [YANKEE, ZULU, XENON]


def test_withdrawn_teams_rank_below_every_active_team():
    teams = [
        TeamRecord(XENON, "Xenon", points=9, withdrawn=True),
        TeamRecord(YANKEE, "Yankee", points=0),
    ]

    assert ranked_names(teams, [], "uefa") == ["Yankee", "Xenon"]


def test_custom_criteria_wins_and_away_goals():
    teams = [
        TeamRecord(XENON, "Xenon", points=4, won=1, away_goals_for=0),
        TeamRecord(YANKEE, "Yankee", points=4, won=1, away_goals_for=2),
        TeamRecord(ZULU, "Zulu", points=4, won=0),
    ]

    ordered = rank(
        teams,
        criteria=["points", "wins", "away_goals"],
        head_to_head_reapply=False,
        points_for=(3, 1, 0),
        results_among=lambda ids: [],
    )

    assert [t.name for t in ordered] == ["Yankee", "Xenon", "Zulu"]


def test_head_to_head_is_only_computed_for_tied_teams():
    asked: list[frozenset[uuid.UUID]] = []

    def among(ids: frozenset[uuid.UUID]) -> list[Result]:
        asked.append(ids)
        return []

    teams = [
        TeamRecord(XENON, "Xenon", points=6),
        TeamRecord(YANKEE, "Yankee", points=3),
        TeamRecord(ZULU, "Zulu", points=3),
    ]

    rank(
        teams,
        criteria=PRESETS["uefa"].criteria,
        head_to_head_reapply=True,
        points_for=(3, 1, 0),
        results_among=among,
    )

    assert asked == [frozenset({YANKEE, ZULU})]


@pytest.mark.parametrize(
    ("preset", "criteria"),
    [
        (
            "fifa_2022",
            (
                "points",
                "goal_difference",
                "goals_for",
                "head_to_head_points",
                "head_to_head_goal_difference",
                "head_to_head_goals_for",
                "fair_play",
            ),
        ),
        (
            "uefa",
            (
                "points",
                "head_to_head_points",
                "head_to_head_goal_difference",
                "head_to_head_goals_for",
                "goal_difference",
                "goals_for",
                "wins",
            ),
        ),
        (
            "premier_league",
            (
                "points",
                "goal_difference",
                "goals_for",
                "head_to_head_points",
                "head_to_head_away_goals",
            ),
        ),
    ],
)
def test_presets(preset, criteria):
    assert resolve(preset)[0] == criteria
    assert resolve(preset)[1] is (preset == "uefa")
