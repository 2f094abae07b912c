"""What a spectator sees: live scores, reconnect catch-up, standings that reorder, and
pages that fit a phone. Real daphne, real worker, headless chromium."""

from __future__ import annotations

import contextlib
import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from championships.management.commands.load_demo import DEMO_CHAMPIONSHIP_ID
from championships.models import Championship, Match, Standing
from tests.browser.conftest import WaitDelivered, browser_marks
from tests.championships.conftest import live, play
from tests.championships.factories import ChampionshipFactory, MatchFactory, TeamFactory
from tests.championships.servers import WebServer

pytestmark = browser_marks

with contextlib.suppress(ImportError):  # skipped with the reason (tests/browser/conftest.py)
    from playwright.sync_api import Page, expect

TIMEOUT_MS = 30_000


def token(match: Match) -> str:
    owner = Championship.objects.get(id=match.championship_id).owner
    return Token.objects.get_or_create(user=owner)[0].key


def post(server: WebServer, match: Match, action: str, body: dict[str, Any]) -> None:
    """An organiser's API call to the web process."""
    request = urllib.request.Request(
        f"{server.url}/api/v1/matches/{match.id}/{action}/",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Token {token(match)}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=20) as response:
        assert response.status == 200


def open_live(page: Page, url: str) -> None:
    """Open a page and wait until its websocket has caught up; mark the document so a
    reload would show (the mark would be gone)."""
    page.goto(url)
    expect(page.locator('[data-live-connection="open"]').first).to_be_visible(timeout=TIMEOUT_MS)
    page.evaluate("window.__notReloaded = true")


def not_reloaded(page: Page) -> bool:
    return bool(page.evaluate("window.__notReloaded === true"))


@pytest.fixture
def live_match() -> Match:
    match = MatchFactory.create()
    live(match)
    return Match.objects.get(id=match.id)


def test_a_goal_posted_through_the_api_shows_on_the_match_page(
    page: Page, web: WebServer, live_match: Match
):
    # Given a spectator on the match page
    open_live(page, f"{web.url}/matches/{live_match.id}/")

    # When the organiser posts a goal through the API
    post(
        web,
        live_match,
        "goals",
        {"team": str(live_match.away_team_id), "minute": 23, "player": "Eve"},
    )

    # Then the score and the timeline show it, without a reload
    board = page.locator(".scoreboard")
    expect(board.locator('[data-field="away_score"]')).to_have_text("1", timeout=TIMEOUT_MS)
    expect(board.locator('[data-field="home_score"]')).to_have_text("0")
    expect(page.locator(".timeline .kind-goal")).to_have_count(1)
    expect(page.locator(".timeline .kind-goal")).to_contain_text("Eve")
    expect(page.locator(".timeline .kind-goal .minute")).to_have_text("23\N{PRIME}")
    assert not_reloaded(page)


def test_after_the_web_process_restarts_the_page_shows_every_goal_once(
    page: Page, web: WebServer, live_match: Match
):
    # Given a spectator on the match page, which has seen one goal live
    open_live(page, f"{web.url}/matches/{live_match.id}/")
    post(web, live_match, "goals", {"team": str(live_match.home_team_id), "minute": 10})
    expect(page.locator(".timeline .kind-goal")).to_have_count(1, timeout=TIMEOUT_MS)

    # When the web process goes away while two more goals are posted, then comes back
    web.stop()
    expect(page.locator('[data-live-connection="closed"]')).to_have_count(1, timeout=TIMEOUT_MS)
    organiser = APIClient()
    organiser.credentials(HTTP_AUTHORIZATION=f"Token {token(live_match)}")
    for minute in (30, 31):
        response = organiser.post(
            f"/api/v1/matches/{live_match.id}/goals/",
            {"team": str(live_match.away_team_id), "minute": minute},
            format="json",
        )
        assert response.status_code == 200
    web.start()

    # Then the page reconnects, catches up, and shows all three goals, each once
    board = page.locator(".scoreboard")
    expect(board.locator('[data-field="away_score"]')).to_have_text("2", timeout=TIMEOUT_MS)
    expect(board.locator('[data-field="home_score"]')).to_have_text("1")
    expect(page.locator(".timeline .kind-goal")).to_have_count(3)
    versions = page.locator(".timeline li").evaluate_all("els => els.map(e => e.dataset.version)")
    assert sorted(versions, key=int) == ["2", "3", "4", "5"]  # kick-off, then the goals
    assert not_reloaded(page)


def test_a_completed_match_reorders_the_standings_live(
    page: Page, web: WebServer, wait_delivered: WaitDelivered
):
    # Given Ajax on top after beating Celtic, and Benfica v Ajax live
    championship = ChampionshipFactory.create()
    ajax, benfica, celtic = (
        TeamFactory.create(championship=championship, name=name)
        for name in ("Ajax", "Benfica", "Celtic")
    )
    play(championship, ajax, celtic, "1-0")
    match = MatchFactory.create(championship=championship, home_team=benfica, away_team=ajax)
    live(match)
    wait_delivered(
        lambda: Standing.objects.filter(championship_id=championship.id, played=1).count() == 2,
        "the worker to update the standings",
    )
    open_live(page, f"{web.url}/championships/{championship.id}/")
    leader = page.locator(".standings tbody tr").first.locator(".team")
    expect(leader).to_have_text("Ajax")

    # When Benfica beat Ajax 2-0 (a full-time score posted through the API)
    post(web, match, "complete", {"home_score": 2, "away_score": 0})

    # Then the table reorders without a reload: Benfica lead on goal difference
    expect(leader).to_have_text("Benfica", timeout=TIMEOUT_MS)
    rows = page.locator(".standings tbody tr .team")
    expect(rows).to_have_text(["Benfica", "Ajax", "Celtic"])
    assert not_reloaded(page)


@pytest.mark.parametrize(("device", "width"), [("phone", 375), ("desktop", 1280)])
def test_the_pages_fit_phone_and_desktop_widths(
    page: Page,
    web: WebServer,
    wait_delivered: WaitDelivered,
    screenshots: Path,
    device: str,
    width: int,
):
    # Given the demo (long team names, played rounds, a live match) with its standings
    call_command("load_demo")
    wait_delivered(
        lambda: (
            Standing.objects.filter(championship_id=DEMO_CHAMPIONSHIP_ID, played=3).count() == 8
        ),
        "the worker to deliver the demo standings",
    )
    match = Match.objects.get(championship_id=DEMO_CHAMPIONSHIP_ID, status="live")
    pages = {
        "home": "/",
        "championship-page": f"/championships/{DEMO_CHAMPIONSHIP_ID}/",
        "match-page": f"/matches/{match.id}/",
        "embed-standings": f"/embed/championships/{DEMO_CHAMPIONSHIP_ID}/standings/",
        "embed-match": f"/embed/matches/{match.id}/",
    }
    page.set_viewport_size({"width": width, "height": 900})
    overflowing = {}

    # When each page is shown at this width
    for name, path in pages.items():
        open_live(page, f"{web.url}{path}")
        page.screenshot(path=screenshots / f"{name}-{device}.png")
        overflowing[name] = page.evaluate(
            "document.documentElement.scrollWidth - window.innerWidth"
        )

    # Then none scrolls sideways (a wide table scrolls inside its own box)
    assert overflowing == dict.fromkeys(pages, 0)


def test_a_page_whose_championship_becomes_a_draft_stops_and_says_so(
    page: Page, web: WebServer, live_match: Match
):
    # Given a spectator on the match page
    open_live(page, f"{web.url}/matches/{live_match.id}/")

    # When the organiser makes the championship a draft through the API
    championship = Championship.objects.get(id=live_match.championship_id)
    request = urllib.request.Request(
        f"{web.url}/api/v1/championships/{championship.id}/",
        data=json.dumps({"visibility": "draft"}).encode(),
        headers={"Authorization": f"Token {token(live_match)}", "Content-Type": "application/json"},
        method="PATCH",
    )
    with urllib.request.urlopen(request, timeout=20) as response:
        assert response.status == 200

    # Then the page is closed and says it no longer updates; "gone", not "closed": a
    # reconnect says "Reconnecting…" at once (a page closed with 4404 retried for good)
    state = page.locator("[data-live-state]")
    expect(state).to_have_attribute("data-state", "gone", timeout=TIMEOUT_MS)
    expect(state).to_contain_text("No longer available")
    assert not_reloaded(page)
