"""The bracket formats through the API: the bracket's shape, knockout results with
extra time and penalties (and their field errors), and a whole World Cup (8 groups of
4 into a 16-team bracket with a third-place match)."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.championships.api.conftest import url

pytestmark = pytest.mark.django_db

MATCH_KEYS = {
    "id",
    "home_team",
    "away_team",
    "home_score",
    "away_score",
    "extra_time",
    "penalties",
    "winner",
    "status",
    "next_match",
}


def create(api: APIClient, fmt: str, teams: list[tuple[str, str]], **draw: Any) -> str:
    response = api.post(
        url("championships/"), {"name": "Cup", "season": "2026", "format": fmt}, format="json"
    )
    assert response.status_code == 201, response.json()
    championship = response.json()["id"]
    for name, group in teams:
        response = api.post(
            url(f"championships/{championship}/teams/"),
            {"name": name, "group": group} if group else {"name": name},
            format="json",
        )
        assert response.status_code == 201, response.json()
    response = api.post(url(f"championships/{championship}/fixtures/"), draw, format="json")
    assert response.status_code == 201, response.json()
    return championship


def get_bracket(api: APIClient, championship: str) -> dict[str, Any]:
    response = api.get(url(f"championships/{championship}/bracket/"))
    assert response.status_code == 200
    return response.json()


def complete(api: APIClient, match_id: str, **body: Any) -> Any:
    return api.post(url(f"matches/{match_id}/complete/"), body, format="json")


def test_the_bracket_has_the_documented_shape(api, event_bus):
    championship = create(api, "knockout", [(f"T{i}", "") for i in range(1, 5)])

    body = get_bracket(api, championship)

    assert set(body) == {"rounds", "third_place", "champion"}
    assert [r["name"] for r in body["rounds"]] == ["Semi-finals", "Final"]
    semi, final = body["rounds"][0]["matches"][0], body["rounds"][1]["matches"][0]
    assert set(semi) == MATCH_KEYS
    assert semi["home_team"]["name"] == "T1"
    assert semi["away_team"]["name"] == "T2"
    assert (semi["home_score"], semi["winner"], semi["next_match"]) == (None, None, final["id"])
    assert (final["home_team"], final["away_team"], final["next_match"]) == (None, None, None)
    assert (body["third_place"], body["champion"]) == (None, None)


def test_a_level_knockout_result_without_penalties_is_a_field_error(api, event_bus):
    championship = create(api, "knockout", [(f"T{i}", "") for i in range(1, 5)])
    semi = get_bracket(api, championship)["rounds"][0]["matches"][0]["id"]

    level = complete(api, semi, home_score=1, away_score=1, extra_time=True)
    not_level = complete(api, semi, home_score=2, away_score=1, penalties={"home": 4, "away": 2})
    malformed = complete(api, semi, home_score=1, away_score=1, penalties={"home": "x"})

    assert level.status_code == 400
    assert "cannot end level" in level.json()["penalties"][0]
    assert not_level.status_code == 400
    assert "only when the tie is level" in not_level.json()["penalties"][0]
    assert malformed.status_code == 400
    assert set(malformed.json()["penalties"]) == {"home", "away"}


def test_penalties_show_in_the_bracket_and_the_winner_goes_through(api, event_bus):
    championship = create(api, "knockout", [(f"T{i}", "") for i in range(1, 5)])
    semi = get_bracket(api, championship)["rounds"][0]["matches"][0]["id"]

    response = complete(
        api, semi, home_score=2, away_score=2, extra_time=True, penalties={"home": 2, "away": 4}
    )
    event_bus.deliver()

    assert response.status_code == 200
    assert response.json()["penalties"] == {"home": 2, "away": 4}
    body = get_bracket(api, championship)
    played = body["rounds"][0]["matches"][0]
    assert (played["extra_time"], played["penalties"]) == (True, {"home": 2, "away": 4})
    assert played["winner"]["name"] == "T2"
    assert body["rounds"][1]["matches"][0]["home_team"]["name"] == "T2"


def test_a_bad_draw_option_is_a_field_error(api):
    response = api.post(
        url("championships/"),
        {"name": "Cup", "season": "2026", "format": "knockout"},
        format="json",
    )
    championship = response.json()["id"]

    bad = api.post(
        url(f"championships/{championship}/fixtures/"), {"seeding": "random"}, format="json"
    )
    legs = api.post(url(f"championships/{championship}/fixtures/"), {"legs": "two"}, format="json")

    assert bad.status_code == 400
    assert "seeding" in bad.json()
    assert legs.status_code == 400
    assert "legs" in legs.json()


# --- a World Cup ----------------------------------------------------------------------

GROUPS = "ABCDEFGH"


def all_matches(api: APIClient, championship: str) -> list[dict[str, Any]]:
    response = api.get(url(f"championships/{championship}/matches/?limit=200"))
    return list(response.json()["results"])


def play_group_stage(api: APIClient, championship: str) -> None:
    """In each group the team registered first wins every match 1-0, the second beats
    the third and fourth, the third beats the fourth: the table is the registration
    order."""
    for match in all_matches(api, championship):
        if match["stage"]:
            continue
        home, away = match["home_team"]["name"], match["away_team"]["name"]
        home_first = int(home[1]) < int(away[1])
        response = complete(
            api, match["id"], home_score=1 if home_first else 0, away_score=0 if home_first else 1
        )
        assert response.status_code == 200, response.json()


def play_round(api: APIClient, championship: str, index: int, results: list[dict[str, Any]]):
    matches = get_bracket(api, championship)["rounds"][index]["matches"]
    for match, result in zip(matches, results, strict=True):
        response = complete(api, match["id"], **result)
        assert response.status_code == 200, response.json()


def pairs(body: dict[str, Any], index: int) -> list[tuple[str, str]]:
    return [
        (m["home_team"]["name"], m["away_team"]["name"]) for m in body["rounds"][index]["matches"]
    ]


HOME_WINS = {"home_score": 2, "away_score": 1}
AWAY_ON_PENS = {
    "home_score": 1,
    "away_score": 1,
    "extra_time": True,
    "penalties": {"home": 3, "away": 4},
}


def test_a_world_cup_from_eight_groups_to_the_champion_through_the_api(api, event_bus):
    teams = [(f"{g}{i}", g) for g in GROUPS for i in range(1, 5)]
    championship = create(api, "groups_knockout", teams, third_place_match=True)
    assert len(all_matches(api, championship)) == 8 * 6 + 15 + 1

    play_group_stage(api, championship)
    event_bus.deliver()

    body = get_bracket(api, championship)
    assert [r["name"] for r in body["rounds"]] == [
        "Round of 16",
        "Quarter-finals",
        "Semi-finals",
        "Final",
    ]
    # The FIFA pattern: 1A 2B 1C 2D 1E 2F 1G 2H 1B 2A 1D 2C 1F 2E 1H 2G.
    assert pairs(body, 0) == [
        ("A1", "B2"),
        ("C1", "D2"),
        ("E1", "F2"),
        ("G1", "H2"),
        ("B1", "A2"),
        ("D1", "C2"),
        ("F1", "E2"),
        ("H1", "G2"),
    ]
    standings = api.get(url(f"championships/{championship}/standings/")).json()
    assert [(r["group"], r["team"]["name"]) for r in standings["rows"] if r["position"] == 1] == [
        (g, f"{g}1") for g in GROUPS
    ]

    play_round(api, championship, 0, [HOME_WINS, AWAY_ON_PENS] * 4)
    event_bus.deliver()
    assert pairs(get_bracket(api, championship), 1) == [
        ("A1", "D2"),
        ("E1", "H2"),
        ("B1", "C2"),
        ("F1", "G2"),
    ]
    play_round(api, championship, 1, [{"home_score": 3, "away_score": 2, "extra_time": True}] * 4)
    event_bus.deliver()
    assert pairs(get_bracket(api, championship), 2) == [("A1", "E1"), ("B1", "F1")]
    play_round(api, championship, 2, [{"home_score": 0, "away_score": 1}] * 2)
    event_bus.deliver()

    body = get_bracket(api, championship)
    assert pairs(body, 3) == [("E1", "F1")]
    third_place = body["third_place"]
    assert (third_place["home_team"]["name"], third_place["away_team"]["name"]) == ("A1", "B1")
    final = body["rounds"][3]["matches"][0]
    final_result = {
        "home_score": 2,
        "away_score": 2,
        "extra_time": True,
        "penalties": {"home": 4, "away": 2},
    }
    assert complete(api, final["id"], **final_result).status_code == 200
    assert complete(api, third_place["id"], home_score=1, away_score=0).status_code == 200
    event_bus.deliver()

    body = get_bracket(api, championship)
    assert body["champion"]["name"] == "E1"
    assert body["third_place"]["winner"]["name"] == "A1"
    assert body["rounds"][3]["matches"][0]["penalties"] == {"home": 4, "away": 2}
