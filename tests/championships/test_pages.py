from __future__ import annotations

import html
import json
import re
import uuid

import pytest

from championships import commands
from championships.events import standings_stream_id
from tests.championships.conftest import ids, live, play
from tests.championships.factories import (
    ChampionshipFactory,
    MatchFactory,
    TeamFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def text(response) -> str:
    """The page's visible text, whitespace collapsed."""
    body = re.sub(r"<(script|style)[^>]*>.*?</\1>", "", response.content.decode(), flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", "", body)))


def versions(response) -> dict[str, int]:
    found = re.search(
        r'<script id="live-versions" type="application/json">(.*?)</script>',
        response.content.decode(),
    )
    assert found is not None
    return json.loads(found.group(1))


def test_home_lists_the_championships(client):
    ChampionshipFactory.create(name="Spring Cup", season="2026")

    response = client.get("/")

    assert response.status_code == 200
    assert b"Spring Cup" in response.content


def test_home_shows_live_championships_first_with_their_scores(client):
    ChampionshipFactory.create(name="Aardvark Cup")
    match = MatchFactory.create(championship=ChampionshipFactory.create(name="Zebra League"))
    live(match)
    commands.match_record_goal(**ids(match), team_id=match.away.id, minute=3)

    page = text(client.get("/"))

    assert page.index("Zebra League") < page.index("Aardvark Cup")
    assert f"{match.home.name} 0\N{EN DASH}1 {match.away.name} Live" in page


def test_home_shows_a_live_championship_beyond_the_first_hundred_listed(client):
    organiser = UserFactory.create()
    for n in range(100):
        ChampionshipFactory.create(actor_id=organiser.id, name=f"Cup {n:03}", season="2026")
    match = MatchFactory.create(
        championship=ChampionshipFactory.create(name="Old League", season="2019")
    )
    live(match)

    page = text(client.get("/"))

    # Before: only the first hundred by season and name were read, the live one not among them
    assert page.index("Old League") < page.index("Cup 000")
    assert f"{match.home.name} 0\N{EN DASH}0 {match.away.name} Live" in page


def test_championship_page_shows_standings_and_results(client, event_bus):
    championship = ChampionshipFactory.create(name="Spring Cup")
    ajax, benfica = (
        TeamFactory.create(championship=championship, name=n) for n in ("Ajax", "Benfica")
    )
    match = play(championship, ajax, benfica, "3-1")
    event_bus.deliver()

    response = client.get(f"/championships/{championship.id}/")

    page = text(response)
    assert response.status_code == 200
    assert page.index("Ajax") < page.index("Benfica")  # the winner tops the table
    assert "Ajax 3\N{EN DASH}1 Benfica" in page
    assert '<span class="W" title="Won">W</span>' in response.content.decode()
    assert versions(response) == {
        str(championship.id): championship.version + 2,  # two teams registered
        standings_stream_id(championship.id): 3,
        str(match.id): 2,
    }
    assert response["X-Frame-Options"] == "DENY"


def test_the_tables_fragment_is_the_standings_alone(client, event_bus):
    championship = ChampionshipFactory.create()
    ajax, benfica = (
        TeamFactory.create(championship=championship, name=n) for n in ("Ajax", "Benfica")
    )
    play(championship, benfica, ajax, "0-2")
    event_bus.deliver()

    response = client.get(f"/championships/{championship.id}/tables/")

    assert response.status_code == 200
    assert "<html" not in response.content.decode()
    assert text(response).index("Ajax") < text(response).index("Benfica")


def test_match_page_shows_the_score_status_and_timeline(client):
    match = MatchFactory.create()
    live(match)
    commands.match_record_goal(
        **ids(match), team_id=match.home.id, minute=17, player="Ada", penalty=True
    )

    response = client.get(f"/matches/{match.id}/")

    page = text(response)
    assert response.status_code == 200
    assert f"{match.home.name} 1\N{EN DASH}0 {match.away.name}" in page
    assert f"17\N{PRIME}Ada (pen.) \N{MIDDLE DOT} {match.home.name} 1\N{EN DASH}0" in page
    assert "0\N{PRIME}Kick-off" in page
    assert versions(response) == {str(match.id): 3}
    assert 'data-minute="0"' in response.content.decode()


def test_embeds_may_be_framed_and_pages_may_not(client):
    match = MatchFactory.create()

    embeds = [
        client.get(f"/embed/matches/{match.id}/"),
        client.get(f"/embed/championships/{match.championship_id}/standings/"),
    ]
    page = client.get(f"/matches/{match.id}/")

    assert [r.status_code for r in embeds] == [200, 200]
    assert [r.get("X-Frame-Options") for r in embeds] == [None, None]
    assert {r["Content-Security-Policy"] for r in embeds} == {"frame-ancestors *"}
    assert page["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize(
    "path",
    ["/championships/{}/", "/matches/{}/", "/embed/matches/{}/", "/championships/{}/tables/"],
)
def test_an_unknown_championship_or_match_is_a_404(client, path):
    response = client.get(path.format(uuid.uuid4()))

    assert response.status_code == 404


@pytest.mark.parametrize("match_id", [uuid.uuid4(), "not-a-uuid"])
def test_the_sse_stream_of_an_unknown_match_is_a_404(client, match_id):
    response = client.get(f"/api/v1/matches/{match_id}/stream/")

    assert response.status_code == 404


@pytest.mark.parametrize(
    # past 4,300 digits int() itself refuses (it was a 500), however many leading zeros
    "last_event_id",
    ["-1", "x", "99999999999", "1.5", "9" * 4301, "0" * 4300 + "1" * 11],
)
def test_the_sse_stream_refuses_a_last_event_id_that_is_no_version(client, last_event_id):
    match = MatchFactory.create()

    response = client.get(
        f"/api/v1/matches/{match.id}/stream/", headers={"Last-Event-ID": last_event_id}
    )

    assert response.status_code == 400


def test_the_sse_stream_takes_a_version_with_thousands_of_leading_zeros(client):
    match = live(MatchFactory.create())

    response = client.get(
        f"/api/v1/matches/{match.id}/stream/", headers={"Last-Event-ID": "0" * 4301 + "1"}
    )

    assert response.status_code == 200
    response.close()


def test_a_draft_championships_pages_and_sse_stream_are_404(client):
    match = MatchFactory.create()
    commands.championship_update(
        actor_id=match.championship.owner_id,
        championship_id=match.championship_id,
        visibility="draft",
    )

    assert client.get(f"/championships/{match.championship_id}/").status_code == 404
    assert client.get(f"/matches/{match.id}/").status_code == 404
    assert client.get(f"/api/v1/matches/{match.id}/stream/").status_code == 404
    assert str(match.championship_id) not in client.get("/").content.decode()


def test_the_table_shows_a_footnote_per_deduction(client, event_bus):
    championship = ChampionshipFactory.create()
    everton = TeamFactory.create(championship=championship, name="Everton")
    TeamFactory.create(championship=championship, name="Fulham")
    deduction = commands.team_deduct_points(
        actor_id=championship.owner_id,
        championship_id=championship.id,
        team_id=everton.id,
        points=10,
        reason="financial rules",
    )
    commands.deduction_amend(
        actor_id=championship.owner_id,
        championship_id=championship.id,
        deduction_id=deduction.id,
        points=6,
        reason="reduced on appeal",
    )
    event_bus.deliver()

    page = client.get(f"/championships/{championship.id}/").content.decode()

    assert "Everton: 6 points deducted (reduced on appeal)" in page
    assert f'href="#deduction-{deduction.id}"' in page
