"""Public pages for spectators: server-rendered, read-only."""

from __future__ import annotations

from itertools import groupby
from uuid import UUID

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from championships import selectors
from championships.exceptions import NotFound


def championship_index(request: HttpRequest) -> HttpResponse:
    championships = selectors.championship_list().order_by("-season", "name")[:100]
    return render(request, "championships/index.html", {"championships": championships})


def championship_detail(request: HttpRequest, championship_id: UUID) -> HttpResponse:
    try:
        championship = selectors.championship_get(championship_id=championship_id)
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    standings = selectors.standings_for_championship(championship_id=championship_id)
    matches = selectors.matches_for_championship(championship_id=championship_id).order_by(
        "round", "kickoff", "id"
    )
    tables = [(group, list(rows)) for group, rows in groupby(standings, key=lambda r: r.group)]
    rounds = [(number, list(ms)) for number, ms in groupby(matches, key=lambda m: m.round)]
    return render(
        request,
        "championships/detail.html",
        {"championship": championship, "tables": tables, "rounds": rounds},
    )
