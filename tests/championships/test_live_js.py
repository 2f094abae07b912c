"""live.js on pages rendered by the real views, fed the envelopes the live pusher sends.

Headless chromium runs the page; its websocket is a stand-in the test feeds with
``live.encode`` of recorded events, and every other request the page makes (fragments it
fetches again) goes to the real views through the Django test client. So no web process
or worker is needed: an open page must end up showing what a reload shows.
Skipped, with the reason, where chromium or Playwright is missing (as tests/browser/).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from championships import commands, live
from championships.events import standings_stream_id
from championships.models import Match
from events import store
from tests.browser import conftest as browser_conftest
from tests.browser.conftest import missing
from tests.championships.conftest import ids, play
from tests.championships.factories import ChampionshipFactory, MatchFactory, TeamFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db,
    pytest.mark.skipif(bool(missing()), reason=missing() or "-"),
]

# The module's chromium (the fixture tests/browser/ uses).
browser = browser_conftest.browser
STATIC = Path(__file__).resolve().parents[2] / "championships/static/championships"
ORIGIN = "http://testserver"
DEADLINE_S = 10.0

FAKE_WS = """
window.__ws = [];
class FakeWebSocket {
  constructor(url) {
    this.url = url; this.readyState = 0; this.sent = [];
    window.__ws.push(this);
    setTimeout(() => { this.readyState = 1; if (this.onopen) this.onopen(); }, 0);
  }
  send(data) { this.sent.push(data); }
  close() {}
}
FakeWebSocket.OPEN = 1;
window.WebSocket = FakeWebSocket;
"""

Route = Callable[[str], tuple[int, str, str] | None]


class LivePage:
    """A page rendered by the test client, open in chromium with a stand-in websocket."""

    def __init__(
        self, browser: Any, client: Client, html: str, width: int, route: Route, clock: bool
    ):
        self.client = client
        self.html = html
        self.route = route
        self.pending: list[Any] = []
        self.page = browser.new_page(viewport={"width": width, "height": 800})
        if clock:
            # The page's timers under the test's control (page.clock.fast_forward).
            self.page.clock.install()
        self.page.add_init_script(FAKE_WS)
        self.page.route("**/*", self._handle)
        self.page.goto(f"{ORIGIN}/page")
        self.page.wait_for_function("window.__ws.length > 0 && window.__ws[0].readyState === 1")

    def _handle(self, route: Any) -> None:
        url = route.request.url
        path = url.removeprefix(ORIGIN)
        if path.startswith("/static/championships/"):
            name = path.rsplit("/", 1)[1]
            kind = "text/css" if name.endswith(".css") else "application/javascript"
            route.fulfill(body=(STATIC / name).read_text(), content_type=kind)
        elif path == "/page":
            route.fulfill(body=self.html, content_type="text/html")
        elif (answer := self.route(path)) is not None:
            status, body, kind = answer
            route.fulfill(status=status, body=body, content_type=kind)
        elif url.startswith(ORIGIN):
            # A fragment: answered by the real view from the test's own greenlet (this
            # callback runs in Playwright's, with another database connection, outside
            # the test's transaction).
            self.pending.append(route)
        else:
            route.fulfill(status=404, body="")

    def push(self, texts: list[str]) -> None:
        for text in texts:
            self.page.evaluate("t => window.__ws[0].onmessage({data: t})", text)

    def serve_pending(self) -> None:
        while self.pending:
            route = self.pending.pop(0)
            response = self.client.get(route.request.url.removeprefix(ORIGIN))
            route.fulfill(
                status=response.status_code,
                body=response.content,
                content_type=response.get("Content-Type", "text/html"),
            )

    def settled(self, script: str, expected: object, deadline: float = DEADLINE_S) -> object:
        """``script``'s value once it equals ``expected``, or its last value at the deadline
        (the page's requests for fragments are answered meanwhile)."""
        end = time.monotonic() + deadline
        while True:
            self.serve_pending()
            shown = self.page.evaluate(script)
            if shown == expected or time.monotonic() > end:
                return shown
            self.page.wait_for_timeout(50)


@pytest.fixture
def open_page(browser: Any, client: Client) -> Iterator[Callable[..., LivePage]]:
    pages: list[LivePage] = []

    def open_page(
        html: str, *, width: int = 1280, route: Route = lambda path: None, clock: bool = False
    ) -> LivePage:
        os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        pages.append(LivePage(browser, client, html, width, route, clock))
        return pages[-1]

    yield open_page
    for page in pages:
        page.page.close()


def pushed_since(match: Match, version: int) -> list[str]:
    return [live.encode(r) for r in store.load(str(match.id), version)]


SCOREBOARD = """() => {
  const b = document.querySelector('.scoreboard');
  const t = s => (b.querySelector(s) || {textContent: ''}).textContent.replace(/\\s+/g, ' ').trim();
  const names = [...b.querySelectorAll('[data-team-name]')].map(e => e.textContent.trim());
  const decided = b.querySelector('.decided');
  const timeline = [...document.querySelectorAll('.timeline li')].map(
    li => [li.className.replace(' goal-flash', ''), li.textContent.replace(/\\s+/g, ' ').trim()]);
  return {home: names[0], away: names[1], home_score: t('[data-field=home_score]'),
          away_score: t('[data-field=away_score]'), status: t('[data-field=status]'),
          decided: decided ? decided.textContent.replace(/\\s+/g, ' ').trim() : '',
          timeline: timeline};
}"""

FIXTURES = """() => [...document.querySelectorAll('.rounds .fixture')].map(
  f => f.textContent.replace(/\\s+/g, ' ').trim())"""


def clean(html: str) -> str:
    text = re.sub(r"<[^>]+>", "", html)
    text = text.replace("&ndash;", "\N{EN DASH}").replace("&prime;", "\N{PRIME}")
    return re.sub(r"\s+", " ", text.replace("&#x27;", "'")).strip()


def rendered_scoreboard(client: Client, match: Match) -> dict[str, object]:
    """What a reload of the match page shows, read from the server's HTML."""
    body = client.get(f"/matches/{match.id}/").content.decode()
    board = re.search(r'<section class="card scoreboard".*?</section>', body, re.S)
    assert board is not None
    names = re.findall(r'data-team-name="[^"]*">([^<]*)<', board.group(0))

    def field(name: str) -> str:
        found = re.search(rf'data-field="{name}"[^>]*>([^<]*)<', board.group(0))
        return found.group(1).strip() if found else ""

    decided = re.search(r'<p class="decided">(.*?)</p>', board.group(0), re.S)
    timeline = re.findall(r'<li class="([^"]*)" data-version="\d+">(.*?)</li>', body, re.S)
    return {
        "home": names[0].strip(),
        "away": names[1].strip(),
        "home_score": field("home_score"),
        "away_score": field("away_score"),
        "status": field("status"),
        "decided": clean(decided.group(1)) if decided else "",
        "timeline": [[kind, clean(text)] for kind, text in timeline],
    }


def rendered_fixtures(client: Client, championship_id: object) -> list[str]:
    body = client.get(f"/championships/{championship_id}/").content.decode()
    rounds = body[body.index('<section class="rounds"') :]
    return [clean(f) for f in re.findall(r'<a class="fixture".*?</a>', rounds, re.S)]


def test_an_open_match_page_shows_home_and_away_swapped(client, open_page):
    # Given the match page of Ajax v Benfica, open
    championship = ChampionshipFactory.create()
    home = TeamFactory.create(championship=championship, name="Ajax")
    away = TeamFactory.create(championship=championship, name="Benfica")
    match = MatchFactory.create(championship=championship, home_team=home, away_team=away)
    page = open_page(client.get(f"/matches/{match.id}/").content.decode())
    before = match.version

    # When the organiser swaps home and away, the match starts and Benfica score
    commands.match_swap_venues(**ids(match))
    commands.match_start(**ids(match))
    commands.match_record_goal(**ids(match), team_id=away.id, minute=5)
    match.refresh_from_db()
    page.push(pushed_since(match, before))

    # Then the page shows what a reload shows: Benfica 1-0 Ajax
    expected = rendered_scoreboard(client, match)
    assert expected["home"] == "Benfica"
    assert expected["home_score"] == "1"
    # Before: the names were only server-rendered, so the page said "Ajax 1-0 Benfica"
    # (the goal credited to the wrong team) until reloaded.
    assert page.settled(SCOREBOARD, expected) == expected


def test_an_open_championship_page_shows_a_fixture_swapped_and_moved(client, open_page):
    championship = ChampionshipFactory.create()
    home = TeamFactory.create(championship=championship, name="Ajax")
    away = TeamFactory.create(championship=championship, name="Benfica")
    match = MatchFactory.create(championship=championship, home_team=home, away_team=away)
    page = open_page(client.get(f"/championships/{championship.id}/").content.decode())
    before = match.version

    commands.match_swap_venues(**ids(match))
    kickoff = timezone.now().replace(microsecond=0) + timedelta(days=3)
    commands.match_reschedule(**ids(match), kickoff=kickoff)
    match.refresh_from_db()
    page.push(pushed_since(match, before))

    expected = rendered_fixtures(client, championship.id)
    assert expected[0].startswith("Benfica")
    # Before: the fixture row kept "Ajax v Benfica" and its old kick-off.
    assert page.settled(FIXTURES, expected) == expected


@pytest.mark.parametrize("path", ["matches", "embed/matches"])
def test_a_match_page_with_long_club_names_fits_a_360px_phone(client, open_page, tmp_path, path):
    # Given a live match between two clubs with ordinary long names
    championship = ChampionshipFactory.create()
    home = TeamFactory.create(championship=championship, name="Borussia Mönchengladbach")
    away = TeamFactory.create(championship=championship, name="Wolverhampton Wanderers")
    match = MatchFactory.create(championship=championship, home_team=home, away_team=away)
    commands.match_start(**ids(match))

    # When its page (or its embed) is shown on a 360 px phone
    page = open_page(client.get(f"/{path}/{match.id}/").content.decode(), width=360)
    kept = Path(os.environ.get("EASYCHAMP_SCREENSHOTS") or tmp_path)  # to look at
    page.page.screenshot(path=kept / f"long-names-{path.replace('/', '-')}-360.png")

    # Then it does not scroll sideways
    # Before: both names stayed on one line (grid columns 1fr auto 1fr keep their content's
    # minimum width), 88-94 px wider than the phone.
    assert page.page.evaluate("document.documentElement.scrollWidth - window.innerWidth") == 0


def test_an_open_final_page_shows_the_team_that_went_through(client, owner, event_bus, open_page):
    # Given the final's page of a four-team cup, open while its teams are undecided
    championship = ChampionshipFactory.create(actor_id=owner.id, format="knockout")
    for i in (1, 2, 3, 4):
        TeamFactory.create(championship=championship, name=f"Club{i}")
    commands.fixtures_generate(actor_id=owner.id, championship_id=championship.id)
    event_bus.deliver()
    knockout = Match.objects.filter(championship=championship, stage="knockout")
    final = knockout.order_by("-bracket_round").first()
    semi = knockout.filter(bracket_round=1).order_by("bracket_position").first()
    assert final is not None
    assert semi is not None
    page = open_page(client.get(f"/matches/{final.id}/").content.decode())
    before = final.version

    # When a semi-final is won (TeamAdvanced on the final's stream)
    commands.match_complete(**ids(semi), home_score=2, away_score=0)
    event_bus.deliver()
    final.refresh_from_db()
    page.push(pushed_since(final, before))

    # Then the page names the winner where a reload does, timeline included
    expected = rendered_scoreboard(client, final)
    assert semi.home_team is not None
    assert expected["home"] == semi.home_team.name
    # Before: the page kept "To be decided" and "A team goes through"; its goals would
    # have had no team name and all been marked away (data-home was "None").
    assert page.settled(SCOREBOARD, expected) == expected


def test_an_open_match_page_shows_an_abandoned_matchs_void_score(client, open_page):
    # Given a live match's page, open
    match = MatchFactory.create()
    commands.match_start(**ids(match))
    match.refresh_from_db()
    page = open_page(client.get(f"/matches/{match.id}/").content.decode())
    before = match.version

    # When the home side scores twice, then the match is abandoned (postponed while live)
    assert match.home_team_id is not None
    commands.match_record_goal(**ids(match), team_id=match.home_team_id, minute=5)
    commands.match_record_goal(**ids(match), team_id=match.home_team_id, minute=9)
    commands.match_postpone(**ids(match), reason="floodlights")
    match.refresh_from_db()
    page.push(pushed_since(match, before))

    # Then the page shows the void score a reload shows
    expected = rendered_scoreboard(client, match)
    assert (expected["home_score"], expected["away_score"]) == ("0", "0")
    # Before: the page kept "2-0 · Postponed" (MatchPostponed only set the status).
    assert page.settled(SCOREBOARD, expected) == expected


def test_an_open_match_page_shows_extra_time_and_the_shoot_out(client, owner, open_page):
    # Given a live knockout final's page, open
    championship = ChampionshipFactory.create(actor_id=owner.id, format="knockout")
    for i in (1, 2):
        TeamFactory.create(championship=championship, name=f"T{i}")
    commands.fixtures_generate(actor_id=owner.id, championship_id=championship.id)
    match = Match.objects.get(championship=championship, stage="knockout")
    commands.match_start(**ids(match))
    match.refresh_from_db()
    page = open_page(client.get(f"/matches/{match.id}/").content.decode())
    before = match.version

    # When it ends 0-0 after extra time, 4-2 on penalties
    commands.match_complete(**ids(match), extra_time=True, penalties=(4, 2))
    match.refresh_from_db()
    page.push(pushed_since(match, before))

    # Then the page says so, as a reload does
    expected = rendered_scoreboard(client, match)
    assert "4\N{EN DASH}2 pens" in str(expected["decided"])
    # Before: the page showed "0-0 Completed" and nothing said who won the shoot-out.
    assert page.settled(SCOREBOARD, expected) == expected


def test_an_open_championship_page_keeps_fetching_its_tables_until_it_gets_them(
    client, event_bus, open_page
):
    # Given a championship page, open while its tables cannot be fetched for a while (a
    # deploy: the web processes answer 503 to the first eight requests)
    championship = ChampionshipFactory.create()
    ajax = TeamFactory.create(championship=championship, name="Ajax")
    benfica = TeamFactory.create(championship=championship, name="Benfica")
    event_bus.deliver()
    stream = standings_stream_id(championship.id)
    before = store.stream_version(stream)
    refused = {"left": 8}

    def route(path: str) -> tuple[int, str, str] | None:
        if path.endswith("/tables/") and refused["left"]:
            refused["left"] -= 1
            return 503, "", "text/html"
        return None

    page = open_page(
        client.get(f"/championships/{championship.id}/").content.decode(), route=route, clock=True
    )

    # When a result moves the standings, and minutes pass
    play(championship, ajax, benfica, "0-3")
    event_bus.deliver()
    page.push([live.encode(r) for r in store.load(stream, before)])
    end = time.monotonic() + DEADLINE_S
    while refused["left"] and time.monotonic() < end:
        page.page.clock.fast_forward(60_000)
        page.page.wait_for_timeout(20)
    page.page.clock.fast_forward(60_000)

    # Then the page shows the tables a reload shows
    # Before: it gave up after six failed fetches (about 15 s), for good
    expected = clean(client.get(f"/championships/{championship.id}/tables/").content.decode())
    shown = page.settled(
        "() => document.querySelector('[data-standings]').textContent.replace(/\\s+/g, ' ').trim()",
        expected,
    )
    assert refused["left"] == 0
    assert shown == expected


def _final_on_penalties(owner) -> tuple[object, Match]:
    championship = ChampionshipFactory.create(actor_id=owner.id, format="knockout")
    for name in ("Ajax", "Benfica"):
        TeamFactory.create(championship=championship, name=name)
    commands.fixtures_generate(actor_id=owner.id, championship_id=championship.id)
    match = Match.objects.get(championship=championship, stage="knockout")
    commands.match_start(**ids(match))
    commands.match_complete(**ids(match), extra_time=True, penalties=(4, 2))
    match.refresh_from_db()
    return championship.id, match


def _award_to_away(match: Match) -> None:
    assert match.away_team_id is not None
    commands.match_award(
        **ids(match),
        awarded_to_team_id=match.away_team_id,
        home_score=0,
        away_score=3,
        reason="ineligible player",
    )
    match.refresh_from_db()


def test_an_open_match_page_drops_the_shoot_out_when_the_result_is_awarded(
    client, owner, open_page
):
    # Given a final decided 0-0 a.e.t., 4-2 on penalties, its page open
    _, match = _final_on_penalties(owner)
    page = open_page(client.get(f"/matches/{match.id}/").content.decode())
    before = match.version

    # When the result is replaced by an award (which has no extra time nor penalties)
    _award_to_away(match)
    page.push(pushed_since(match, before))

    # Then the page shows what a reload shows
    # Before: "After extra time · 4-2 pens" stayed under the awarded score
    expected = rendered_scoreboard(client, match)
    assert expected["decided"] == ""
    assert page.settled(SCOREBOARD, expected) == expected


def test_an_open_championship_page_drops_the_shoot_out_of_an_awarded_fixture(
    client, owner, open_page
):
    championship_id, match = _final_on_penalties(owner)
    page = open_page(client.get(f"/championships/{championship_id}/").content.decode())
    before = match.version

    _award_to_away(match)
    page.push(pushed_since(match, before))

    # Before: the fixture row kept "a.e.t. 4-2 pens"
    expected = rendered_fixtures(client, championship_id)
    assert page.settled(FIXTURES, expected) == expected


def test_an_open_championship_page_shows_a_live_match_cancelled_as_a_reload_does(client, open_page):
    match = MatchFactory.create()
    commands.match_start(**ids(match))
    assert match.home_team_id is not None
    commands.match_record_goal(**ids(match), team_id=match.home_team_id, minute=5)
    match.refresh_from_db()
    page = open_page(client.get(f"/championships/{match.championship_id}/").content.decode())
    before = match.version

    commands.match_cancel(**ids(match), reason="pitch invasion")
    match.refresh_from_db()
    page.push(pushed_since(match, before))

    # Before: the row kept the void score ("Ajax 1-0 Benfica Cancelled")
    expected = rendered_fixtures(client, match.championship_id)
    assert page.settled(FIXTURES, expected) == expected


def test_an_open_championship_page_shows_a_team_renamed(client, event_bus, open_page):
    # Given a championship page, open, with a result in its table
    championship = ChampionshipFactory.create()
    ajax = TeamFactory.create(championship=championship, name="Ajax")
    benfica = TeamFactory.create(championship=championship, name="Benfica")
    play(championship, ajax, benfica, "2-1")
    event_bus.deliver()
    page = open_page(client.get(f"/championships/{championship.id}/").content.decode())
    before = store.stream_version(str(championship.id))

    # When the organiser renames a team
    commands.team_update(
        actor_id=championship.owner_id,
        championship_id=championship.id,
        team_id=ajax.id,
        name="AFC Ajax",
    )
    event_bus.deliver()
    page.push([live.encode(r) for r in store.load(str(championship.id), before)])

    # Then its fixtures and the table show the new name, as a reload does
    # Before: the old name stayed until a reload
    expected = rendered_fixtures(client, championship.id)
    assert expected[0].startswith("AFC Ajax")
    assert page.settled(FIXTURES, expected) == expected
    table = "() => document.querySelector('[data-standings]').textContent.includes('AFC Ajax')"
    assert page.settled(table, True) is True
