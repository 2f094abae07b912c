"""Bad input to the formats' endpoints is a 400 with field errors, never a 500."""

from __future__ import annotations

from typing import Any

import pytest

from championships import commands
from championships.aggregates.bracket import DrawOptions
from championships.models import Match
from tests.championships.api.conftest import url
from tests.championships.factories import ChampionshipFactory, TeamFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def cup(owner):
    championship = ChampionshipFactory.create(actor_id=owner.id, format="knockout")
    TeamFactory.create_batch(4, championship=championship)
    return championship


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"seeding": "random"}, "seeding"),
        ({"legs": "two"}, "legs"),
        ({"legs": [1, 2, 2, 1, 1, 1, 1, 1, 1]}, "legs"),
        ({"legs": [1, 3]}, "legs"),
        ({"legs": [True, 1]}, "legs"),
        ({"legs": None}, "legs"),
        ({"third_place_match": "maybe"}, "third_place_match"),
        ({"seeds": ["not-a-uuid"]}, "seeds"),
        ({"seeds": ["00000000-0000-0000-0000-000000000001"]}, "seeds"),
        ({"knockout_slots": ["x" * 30]}, "knockout_slots"),
        ({"qualifiers_per_group": 0}, "qualifiers_per_group"),
    ],
)
def test_bad_draw_options(api, cup, body: dict[str, Any], field: str):
    response = api.post(url(f"championships/{cup.id}/fixtures/"), body, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert not Match.objects.filter(championship=cup).exists()


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (
            "complete",
            {"home_score": 1, "away_score": 1, "penalties": {"home": -1, "away": 2}},
            "penalties",
        ),
        ("complete", {"home_score": 1, "away_score": 1, "penalties": [4, 2]}, "penalties"),
        ("complete", {"home_score": 1, "away_score": 1, "extra_time": "long"}, "extra_time"),
        (
            "correct",
            {"home_score": 1, "away_score": 0, "reason": "x", "penalties": "4-2"},
            "penalties",
        ),
        ("cards", {"team": "nope", "player": "A", "minute": 1, "card": "yellow"}, "team"),
        ("cards", {"player": "A", "minute": 1, "card": "yellow"}, "team"),
    ],
)
def test_bad_knockout_results_and_cards(
    api, owner, cup, path: str, body: dict[str, Any], field: str
):
    commands.fixtures_generate(actor_id=owner.id, championship_id=cup.id, draw=DrawOptions())
    semi = Match.objects.filter(championship=cup, bracket_round=1).first()
    assert semi is not None

    response = api.post(url(f"matches/{semi.id}/{path}/"), body, format="json")

    assert response.status_code == 400
    assert field in response.json()


@pytest.mark.parametrize(
    "body",
    [
        {"teams": []},
        {"teams": ["nope", "nope"]},
        {"group": "x" * 21, "teams": []},
        {"teams": ["00000000-0000-0000-0000-000000000001"] * 65},
    ],
)
def test_bad_lots(api, cup, body: dict[str, Any]):
    response = api.post(url(f"championships/{cup.id}/lots/"), body, format="json")

    assert response.status_code == 400
    assert set(response.json()) <= {"group", "teams"}


def test_reads_of_an_unknown_championship_are_404(api):
    for path in ("bracket", "scorers", "cards"):
        response = api.get(url(f"championships/nope/{path}/"))
        assert response.status_code == 404
