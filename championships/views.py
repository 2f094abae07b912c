"""Public pages for spectators: server-rendered, read-only, live through the websockets of
``championships.consumers`` (the page's script keeps them current; docs/live.md).

Each page renders the stream versions it shows, read before (or with) what it shows: a
page is never ahead of its versions, so catching up can only repeat, never skip.
"""

from __future__ import annotations

from itertools import groupby
from typing import Any
from uuid import UUID

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.clickjacking import xframe_options_exempt

from championships import bracket, selectors, stats, timeline
from championships.api.serializers import footnote
from championships.events import standings_stream_id
from championships.exceptions import NotFound
from championships.models import BRACKET_FORMATS, Championship, ChampionshipFormat, Match
from events import store


def _championship(championship_id: UUID, request: HttpRequest) -> Championship:
    try:
        return selectors.championship_get_visible(
            championship_id=championship_id, user=request.user
        )
    except NotFound as exc:
        raise Http404(str(exc)) from exc


def _match(match_id: UUID, request: HttpRequest) -> Match:
    try:
        match = selectors.match_page_get(match_id=match_id)
        selectors.check_visible(match.championship, request.user)
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    return match


# Championships the home page lists (the live ones always).
HOME_LISTED = 100


def championship_index(request: HttpRequest) -> HttpResponse:
    live = selectors.live_matches()
    live_ids = list(dict.fromkeys(m.championship_id for m in live))
    visible = selectors.championships_visible_to(user=None).order_by("-season", "name")
    # The live ones first, wherever they come in the list; then the others, to a hundred.
    championships = list(visible.filter(id__in=live_ids))
    championships += visible.exclude(id__in=live_ids)[: max(0, HOME_LISTED - len(championships))]
    scoreboards = [
        (championship, [m for m in live if m.championship_id == championship.id])
        for championship in championships
        if championship.id in live_ids
    ]
    return render(
        request,
        "championships/index.html",
        {
            "championships": championships,
            "scoreboards": [
                {
                    "championship": c,
                    "matches": matches,
                    "versions": {str(m.id): m.version for m in matches},
                    "versions_id": f"live-versions-{c.id}",
                }
                for c, matches in scoreboards
            ],
        },
    )


def _tables(championship_id: UUID) -> dict[str, Any]:
    version = selectors.standings_version(championship_id=championship_id)
    standings = selectors.standings_for_championship(championship_id=championship_id)
    tables = [(group, list(rows)) for group, rows in groupby(standings, key=lambda r: r.group)]
    notes = [
        {
            "number": number,
            "deduction_id": note.deduction_id,
            "team_id": note.team_id,
            "group": note.group,
            "text": footnote(
                note.team_name,  # type: ignore[attr-defined]  # annotated by the selector
                note.points,
                note.reason,
                note.effective_at,
            ),
        }
        for number, note in enumerate(
            selectors.deduction_notes_for_championship(championship_id=championship_id), start=1
        )
    ]
    return {"tables": tables, "standings_version": version, "notes": notes}


def championship_detail(request: HttpRequest, championship_id: UUID) -> HttpResponse:
    championship = _championship(championship_id, request)
    tables = _tables(championship_id)
    matches = list(
        selectors.matches_for_championship(championship_id=championship_id).order_by(
            "round", "stage", "bracket_position", "kickoff", "id"
        )
    )
    titles = bracket.round_titles(matches)
    rounds = [
        (titles.get(number, f"Round {number}" if number else "Unscheduled round"), list(ms))
        for number, ms in groupby(matches, key=lambda m: m.round)
    ]
    versions = {
        str(championship.id): championship.version,
        standings_stream_id(championship.id): tables["standings_version"],
        **{str(m.id): m.version for m in matches},
    }
    knockout: dict[str, Any] = {}
    if championship.format in BRACKET_FORMATS:
        columns, third_place, champion = bracket.bracket_columns(championship_id=championship.id)
        knockout = {"bracket_columns": columns, "third_place": third_place, "champion": champion}
    return render(
        request,
        "championships/detail.html",
        {
            "championship": championship,
            "rounds": rounds,
            "live_matches": [m for m in matches if m.status == "live"],
            "versions": versions,
            # A knockout cup has no table; groups_knockout shows its groups above.
            "show_tables": championship.format != ChampionshipFormat.KNOCKOUT,
            "scorers": stats.scorers_for_championship(championship_id=championship.id, limit=10),
            **knockout,
            **tables,
        },
    )


def championship_bracket(request: HttpRequest, championship_id: UUID) -> HttpResponse:
    """The bracket alone: what a page swaps in when a knockout result comes in."""
    championship = _championship(championship_id, request)
    columns, third_place, champion = bracket.bracket_columns(championship_id=championship.id)
    return render(
        request,
        "championships/_bracket.html",
        {"bracket_columns": columns, "third_place": third_place, "champion": champion},
    )


def championship_tables(request: HttpRequest, championship_id: UUID) -> HttpResponse:
    """The standings tables alone: what a page swaps in when the standings change."""
    championship = _championship(championship_id, request)
    return render(
        request,
        "championships/_tables.html",
        {"championship": championship, **_tables(championship_id)},
    )


def _match_context(match: Match) -> dict[str, Any]:
    names = {t.id: t.name for t in (match.home_team, match.away_team) if t is not None}
    # Only what the row shows: the page stays at the row's version.
    events = store.load(str(match.id))[: match.version]
    return {
        "match": match,
        "timeline": timeline.timeline(events, match.home_team_id, names),
        "clock": timeline.clock(events),
        "versions": {str(match.id): match.version},
    }


def match_detail(request: HttpRequest, match_id: UUID) -> HttpResponse:
    return render(request, "championships/match.html", _match_context(_match(match_id, request)))


def match_scoreboard(request: HttpRequest, match_id: UUID) -> HttpResponse:
    """The scoreboard and timeline alone: what a match page swaps in for an event its
    script does not model (live.js, ``refreshMatch``)."""
    match = _match(match_id, request)
    return render(request, "championships/_scoreboard.html", _match_context(match))


def match_fixture(request: HttpRequest, match_id: UUID) -> HttpResponse:
    """One fixture row alone: what a championship or home page swaps in, as above."""
    return render(request, "championships/_fixture.html", {"m": _match(match_id, request)})


# Organisers put these in an iframe on their own site: framing is allowed here only.
FRAME_ANCESTORS = "frame-ancestors *"


@xframe_options_exempt
def embed_match(request: HttpRequest, match_id: UUID) -> HttpResponse:
    response = render(request, "embed/match.html", _match_context(_match(match_id, request)))
    response["Content-Security-Policy"] = FRAME_ANCESTORS
    return response


@xframe_options_exempt
def embed_standings(request: HttpRequest, championship_id: UUID) -> HttpResponse:
    championship = _championship(championship_id, request)
    tables = _tables(championship_id)
    versions = {standings_stream_id(championship.id): tables["standings_version"]}
    response = render(
        request,
        "embed/standings.html",
        {"championship": championship, "versions": versions, **tables},
    )
    response["Content-Security-Policy"] = FRAME_ANCESTORS
    return response
