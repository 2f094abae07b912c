from __future__ import annotations

import uuid

import pytest

from tests.championships.conftest import play
from tests.championships.factories import ChampionshipFactory, TeamFactory

pytestmark = pytest.mark.django_db


def test_home_lists_the_championships(client):
    ChampionshipFactory.create(name="Spring Cup", season="2026")

    response = client.get("/")

    assert response.status_code == 200
    assert b"Spring Cup" in response.content


def test_championship_page_shows_standings_and_results(client, event_bus):
    championship = ChampionshipFactory.create(name="Spring Cup")
    ajax, benfica = (
        TeamFactory.create(championship=championship, name=n) for n in ("Ajax", "Benfica")
    )
    play(championship, ajax, benfica, "3-1")
    event_bus.deliver()

    response = client.get(f"/championships/{championship.id}/")

    html = response.content.decode()
    assert response.status_code == 200
    assert html.index("Ajax") < html.index("Benfica")  # the winner tops the table
    assert "3\N{EN DASH}1" in html
    assert '<span class="W">W</span>' in html


def test_an_unknown_championship_is_a_404(client):
    response = client.get(f"/championships/{uuid.uuid4()}/")

    assert response.status_code == 404
