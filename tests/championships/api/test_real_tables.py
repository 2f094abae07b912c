"""Published final group tables, fed through the API and read through the API.

Results and expected tables are the domain's (tests/championships/test_real_tables.py):
every team is registered, every match scheduled and completed over HTTP, and the
standings are read from GET /standings/.
"""

from __future__ import annotations

import pytest

from tests.championships.api.conftest import url
from tests.championships.test_real_tables import (
    EURO_2012_GROUP_A,
    EURO_2012_GROUP_A_TABLE,
    EURO_2016_GROUP_E,
    WORLD_CUP_2018_GROUP_B,
    WORLD_CUP_2018_GROUP_F,
    teams_of,
)

pytestmark = pytest.mark.django_db


def play_group(api, results, *, group, tiebreak_preset):
    """Create a groups championship and play ``results`` through the API."""
    championship = api.post(
        url("championships/"),
        {"name": f"Group {group}", "format": "groups", "tiebreak_preset": tiebreak_preset},
        format="json",
    ).json()["id"]
    team_ids = {
        name: api.post(
            url(f"championships/{championship}/teams/"),
            {"name": name, "group": group},
            format="json",
        ).json()["id"]
        for name in teams_of(results)
    }
    for home, score, away in results:
        match = api.post(
            url(f"championships/{championship}/matches/"),
            {"home_team": team_ids[home], "away_team": team_ids[away]},
            format="json",
        ).json()["id"]
        home_score, away_score = (int(goals) for goals in score.split("-"))
        completed = api.post(
            url(f"matches/{match}/complete/"),
            {"home_score": home_score, "away_score": away_score},
            format="json",
        )
        assert completed.status_code == 200
    return championship


def table(client, championship):
    """(position, team, played, won, drawn, lost, gf, ga, points) per row, and the groups."""
    body = client.get(url(f"championships/{championship}/standings/")).json()
    rows = [
        (
            r["position"],
            r["team"]["name"],
            r["played"],
            r["won"],
            r["drawn"],
            r["lost"],
            r["goals_for"],
            r["goals_against"],
            r["points"],
        )
        for r in body["rows"]
    ]
    return rows, {r["group"] for r in body["rows"]}


def test_world_cup_2018_group_f_decided_on_goal_difference(api, anonymous, event_bus):
    championship = play_group(api, WORLD_CUP_2018_GROUP_F, group="F", tiebreak_preset="fifa_2022")
    event_bus.deliver()

    rows, groups = table(anonymous, championship)

    assert groups == {"F"}
    assert rows == [
        (1, "Sweden", 3, 2, 0, 1, 5, 2, 6),
        (2, "Mexico", 3, 2, 0, 1, 3, 4, 6),
        (3, "South Korea", 3, 1, 0, 2, 3, 3, 3),
        (4, "Germany", 3, 1, 0, 2, 2, 4, 3),
    ]


def test_world_cup_2018_group_b_decided_on_goals_scored(api, anonymous, event_bus):
    championship = play_group(api, WORLD_CUP_2018_GROUP_B, group="B", tiebreak_preset="fifa_2022")
    event_bus.deliver()

    rows, _ = table(anonymous, championship)

    assert rows == [
        (1, "Spain", 3, 1, 2, 0, 6, 5, 5),
        (2, "Portugal", 3, 1, 2, 0, 5, 4, 5),
        (3, "Iran", 3, 1, 1, 1, 2, 2, 4),
        (4, "Morocco", 3, 0, 1, 2, 2, 4, 1),
    ]


def test_euro_2012_group_a_head_to_head_puts_greece_above_russia_on_better_goal_difference(
    api, anonymous, event_bus
):
    # Greece (GD 0) beat Russia (GD +2) 1-0: goal difference alone would rank Russia 2nd.
    championship = play_group(api, EURO_2012_GROUP_A, group="A", tiebreak_preset="uefa")
    event_bus.deliver()

    rows, _ = table(anonymous, championship)

    assert rows == EURO_2012_GROUP_A_TABLE
    assert [r[1] for r in rows].index("Greece") < [r[1] for r in rows].index("Russia")


def test_euro_2016_group_e_head_to_head_against_goals_scored(api, anonymous, event_bus):
    championship = play_group(api, EURO_2016_GROUP_E, group="E", tiebreak_preset="uefa")
    event_bus.deliver()

    rows, _ = table(anonymous, championship)

    assert rows == [
        (1, "Italy", 3, 2, 0, 1, 3, 1, 6),
        (2, "Belgium", 3, 2, 0, 1, 4, 2, 6),
        (3, "Republic of Ireland", 3, 1, 1, 1, 2, 4, 4),
        (4, "Sweden", 3, 0, 1, 2, 1, 3, 1),
    ]
