"""POST /championships/{id}/matches/: the two teams are read in one query, and a missing
championship is a 404 whatever the body."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from championships.models import Team
from tests.championships.api.conftest import url
from tests.championships.factories import ChampionshipFactory, TeamFactory

pytestmark = pytest.mark.django_db


def _schedule(api: Any, championship_id: Any, body: Any) -> Any:
    return api.post(url(f"championships/{championship_id}/matches/"), body, format="json")


def test_scheduling_reads_both_teams_in_one_query(api, championship, home, away):
    team_table = Team._meta.db_table

    with CaptureQueriesContext(connection) as queries:
        response = _schedule(api, championship.id, {"home_team": home.id, "away_team": away.id})

    assert response.status_code == 201, response.json()
    assert response.json()["home_team"]["id"] == str(home.id)
    team_reads = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith("SELECT") and f'FROM "{team_table}"' in q["sql"]
    ]
    # The body's two teams, then the command's state of the championship's teams.
    assert len(team_reads) == 2, team_reads


@pytest.mark.parametrize(
    "body",
    [
        {"home_team": str(uuid.uuid4()), "away_team": str(uuid.uuid4())},
        {"home_team": "not a uuid"},
        [],
    ],
)
def test_a_championship_that_does_not_exist_is_404_whatever_the_body(api, body):
    response = _schedule(api, uuid.uuid4(), body)

    assert response.status_code == 404
    assert "does not exist" in response.json()["detail"]


def test_a_team_of_another_championship_is_a_400_on_its_field(api, owner, championship, home):
    elsewhere = TeamFactory.create(championship=ChampionshipFactory.create(actor_id=owner.id))

    response = _schedule(api, championship.id, {"home_team": home.id, "away_team": elsewhere.id})

    assert response.status_code == 400
    assert response.json() == {
        "away_team": [f"team {elsewhere.id} is not registered in this championship"]
    }


@pytest.mark.parametrize("bad", ["nope", 12, True, None, {"id": 1}])
def test_a_team_id_that_is_not_a_uuid_is_a_400_on_its_field(api, championship, home, bad):
    response = _schedule(api, championship.id, {"home_team": home.id, "away_team": bad})

    assert response.status_code == 400
    assert list(response.json()) == ["away_team"]
