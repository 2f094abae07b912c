"""The bracket page in a browser: a 16-team cup half played (extra time, penalties,
teams still to be decided), on a phone and on a desktop. Only the bracket scrolls
sideways; the page never does. Real web process and worker (the worker moves the
winners on), headless chromium; screenshots for docs/screenshots."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from championships import commands
from championships.aggregates.bracket import DrawOptions
from championships.models import Championship, Match
from tests.browser.conftest import WaitDelivered, browser_marks
from tests.championships.factories import ChampionshipFactory, TeamFactory, UserFactory
from tests.championships.servers import WebServer

pytestmark = browser_marks

with contextlib.suppress(ImportError):  # skipped with the reason (tests/browser/conftest.py)
    from playwright.sync_api import Page, expect

CLUBS = [
    "Real Madrid",
    "Borussia Mönchengladbach",
    "Paris Saint-Germain",
    "Ajax",
    "Bayern München",
    "Celtic",
    "Internazionale",
    "Benfica",
    "Manchester City",
    "Porto",
    "Atlético de Madrid",
    "Feyenoord",
    "Juventus",
    "Sporting CP",
    "Olympique Lyonnais",
    "Club Brugge",
]


def half_played_cup() -> Championship:
    owner = UserFactory.create()
    cup = ChampionshipFactory.create(
        actor_id=owner.id, name="Champions Cup", season="2026", format="knockout"
    )
    for name in CLUBS:
        TeamFactory.create(championship=cup, name=name)
    commands.fixtures_generate(
        actor_id=owner.id,
        championship_id=cup.id,
        draw=DrawOptions(seeding="standard", third_place_match=True),
    )
    results = [(2, 0, {}), (1, 1, {"extra_time": True, "penalties": (4, 2)}), (0, 1, {})] * 3
    first_round = Match.objects.filter(championship=cup, bracket_round=1).order_by(
        "bracket_position"
    )
    for match, (home, away, extra) in zip(first_round, results[:8], strict=True):
        commands.match_complete(
            actor_id=owner.id,
            championship_id=cup.id,
            match_id=match.id,
            home_score=home,
            away_score=away,
            **extra,  # type: ignore[arg-type]
        )
    return cup


def quarter_finals_filled(cup: Championship) -> bool:
    quarters = Match.objects.filter(championship=cup, bracket_round=2)
    return all(m.home_team_id and m.away_team_id for m in quarters)


def winner_moved_on(match: Match) -> bool:
    assert match.next_match_id is not None
    following = Match.objects.get(id=match.next_match_id)
    slot = following.home_team_id if match.next_slot == "home" else following.away_team_id
    return slot is not None


@pytest.mark.parametrize(("device", "width"), [("phone", 375), ("desktop", 1280)])
def test_the_bracket_page_fits_a_phone_and_a_desktop(
    page: Page,
    web: WebServer,
    wait_delivered: WaitDelivered,
    screenshots: Path,
    device: str,
    width: int,
):
    # Given a cup whose first round is played, the winners moved on by the worker
    cup = half_played_cup()
    wait_delivered(lambda: quarter_finals_filled(cup), "the worker to move the winners on")
    owner_id = cup.owner_id
    quarter = Match.objects.filter(championship=cup, bracket_round=2).order_by("bracket_position")[
        0
    ]
    commands.match_complete(
        actor_id=owner_id,
        championship_id=cup.id,
        match_id=quarter.id,
        home_score=2,
        away_score=2,
        extra_time=True,
        penalties=(5, 4),
    )
    # (the page is loaded once the worker moved its winner on: a live update arriving
    # after the load would redraw the bracket under the test's feet)
    wait_delivered(lambda: winner_moved_on(quarter), "the worker to move the winner on")
    page.set_viewport_size({"width": width, "height": 900})

    # When the championship page is shown at this width
    page.goto(f"{web.url}/championships/{cup.id}/")
    bracket = page.locator(".bracket-scroll")
    expect(bracket).to_be_visible()
    bracket.scroll_into_view_if_needed()
    page.screenshot(path=screenshots / f"bracket-page-{device}.png", full_page=True)

    # Then the page does not scroll sideways, the bracket does on a phone
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") == 0
    bracket_overflow = bracket.evaluate("el => el.scrollWidth - el.clientWidth")
    assert (bracket_overflow > 0) == (device == "phone")
    expect(page.locator(".bracket-round h3")).to_have_text(
        ["Round of 16", "Quarter-finals", "Semi-finals", "Final"]
    )
    expect(page.locator(".tie-note").filter(has_text="4\N{EN DASH}2 pens")).to_have_count(3)
    expect(page.locator(".tie-team.winner")).to_have_count(9)
    # Lines join each pair of ties to the next round: the ] sits at the pair's edge
    pair = page.locator(".bracket-round.first .bracket-pair").first
    line_height = pair.evaluate("el => parseFloat(getComputedStyle(el, '::after').height)")
    assert line_height > 0


def test_the_bracket_moves_on_by_itself_when_a_result_comes_in(
    page: Page, web: WebServer, wait_delivered: WaitDelivered
):
    # Given the bracket page open, the quarter-finals filled by the worker
    cup = half_played_cup()
    wait_delivered(lambda: quarter_finals_filled(cup), "the worker to move the winners on")
    page.goto(f"{web.url}/championships/{cup.id}/")
    expect(page.locator('[data-live-connection="open"]').first).to_be_visible(timeout=30_000)
    page.evaluate("window.__notReloaded = true")
    semi = page.locator(".bracket-round").nth(2).locator(".tie").first
    expect(semi.locator(".tie-name").first).to_have_text("Winner QF 1")

    # When a quarter-final is decided on penalties (through the command, as the API does)
    quarter = Match.objects.filter(championship=cup, bracket_round=2).order_by("bracket_position")[
        0
    ]
    commands.match_complete(
        actor_id=cup.owner_id,
        championship_id=cup.id,
        match_id=quarter.id,
        home_score=0,
        away_score=0,
        extra_time=True,
        penalties=(2, 4),
    )

    # Then the winner appears in the semi-final without a reload
    assert quarter.away_team is not None
    expect(semi.locator(".tie-name").first).to_have_text(quarter.away_team.name, timeout=30_000)
    assert page.evaluate("window.__notReloaded === true")
