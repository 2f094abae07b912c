"""Standings (cached by version), the event feed, and the exports."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from championships import selectors
from championships.api import exports, schema
from championships.api import serializers as s
from championships.api.caching import cache_get, cache_set, standings_key
from championships.api.etags import not_modified
from championships.api.renderers import CSVRenderer, ICalendarRenderer, JSONRenderer
from championships.api.views.base import int_param, with_etag
from championships.models import Standing

FEED_LIMIT = 100
FEED_MAX_LIMIT = 1000
MAX_POSITION = 2**63 - 1


def standings_body(championship_id: UUID, version: int) -> dict[str, Any]:
    """The tables at ``version`` (the standings stream's) as JSON, built by
    ``StandingsSerializer``; from the cache when there."""
    key = standings_key(championship_id, version)
    body = cache_get(key)
    if body is None:
        rows = list(selectors.standings_for_championship(championship_id=championship_id))
        notes = selectors.deduction_notes_for_championship(championship_id=championship_id)
        body = json.loads(
            json.dumps(
                s.StandingsSerializer(
                    {
                        "championship": championship_id,
                        "version": version,
                        "groups": list(dict.fromkeys(r.group for r in rows)),
                        "rows": rows,
                        "deductions": notes,
                    }
                ).data
            )
        )
        # Cache only tables read wholly at this version (no delivery committed meanwhile).
        if selectors.standings_version(championship_id=championship_id) == version:
            cache_set(key, body)
    return body


@extend_schema(tags=["standings"], parameters=[schema.ID])
class StandingsView(generics.GenericAPIView[Standing]):
    serializer_class = s.StandingsSerializer

    @extend_schema(
        summary="The standings: rows ordered by group, then position",
        parameters=[schema.IF_NONE_MATCH, schema.ETAG],
        responses={200: s.StandingsSerializer, 304: None, **schema.READ_ERRORS},
    )
    def get(self, request: Request, pk: UUID) -> Response:
        championship_id, version = selectors.championship_standings_version(
            championship_id=pk, user=request.user
        )
        unchanged = not_modified(request, version)
        if unchanged is not None:
            return unchanged
        return with_etag(standings_body(championship_id, version), version)


@extend_schema(tags=["events"], parameters=[schema.ID])
class EventFeedView(generics.GenericAPIView[Standing]):
    serializer_class = s.EventFeedSerializer

    @extend_schema(
        summary="The championship's events (its own, its matches', its standings') in order",
        description="Each event's metadata (which organiser acted, correlation ids) is "
        "shown only to the championship's organisers; others get metadata {}.",
        parameters=[
            OpenApiParameter(
                "after",
                int,
                description="The last feed_position seen (the previous page's next_after; "
                "default 0). Feed positions follow commit order: resuming from one never "
                "skips an event that committed late.",
            ),
            OpenApiParameter(
                "limit", int, description=f"1 to {FEED_MAX_LIMIT}, default {FEED_LIMIT}."
            ),
        ],
        responses={200: s.EventFeedSerializer, **schema.READ_ERRORS},
    )
    def get(self, request: Request, pk: UUID) -> Response:
        championship = selectors.championship_get_visible(championship_id=pk, user=request.user)
        after = int_param(request, "after", maximum=MAX_POSITION) or 0
        limit = int_param(request, "limit", minimum=1, maximum=FEED_MAX_LIMIT) or FEED_LIMIT
        # One more than asked: whether there is more (a page exactly full said so).
        recorded = selectors.championship_events(
            championship_id=championship.id, after=after, limit=limit + 1
        )
        has_more = len(recorded) > limit
        recorded = recorded[:limit]
        return Response(
            {
                "events": selectors.envelopes(
                    recorded,
                    with_metadata=selectors.championship_organised_by(
                        championship=championship, user=request.user
                    ),
                ),
                "next_after": recorded[-1].feed_position if recorded else after,
                "has_more": has_more,
            }
        )


_TEXT = OpenApiTypes.STR


class _ExportView(generics.GenericAPIView[Standing]):
    """A text export; its errors are still JSON (with a JSON content type)."""

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        if isinstance(response, Response) and response.status_code >= 400:
            response.accepted_renderer = JSONRenderer()
            response.accepted_media_type = "application/json"
        return response


@extend_schema(tags=["exports"], parameters=[schema.ID])
class FixturesICalendarView(_ExportView):
    renderer_classes = [ICalendarRenderer]

    @extend_schema(
        summary="Fixtures as an iCalendar feed (RFC 5545)",
        responses={(200, "text/calendar"): OpenApiResponse(_TEXT), **schema.JSON_READ_ERRORS},
    )
    def get(self, request: Request, pk: UUID) -> Response:
        championship = selectors.championship_get_visible(championship_id=pk, user=request.user)
        matches = selectors.matches_for_championship(championship_id=championship.id)
        body = exports.fixtures_ics(championship, matches, host=request.get_host().split(":")[0])
        return Response(body, content_type="text/calendar; charset=utf-8")


@extend_schema(tags=["exports"], parameters=[schema.ID])
class FixturesCSVView(_ExportView):
    renderer_classes = [CSVRenderer]

    @extend_schema(
        summary="Fixtures as CSV",
        responses={(200, "text/csv"): OpenApiResponse(_TEXT), **schema.JSON_READ_ERRORS},
    )
    def get(self, request: Request, pk: UUID) -> Response:
        championship = selectors.championship_get_visible(championship_id=pk, user=request.user)
        matches = selectors.matches_for_championship(championship_id=championship.id)
        return _attachment(exports.fixtures_csv(matches), "fixtures.csv")


@extend_schema(tags=["exports"], parameters=[schema.ID])
class StandingsCSVView(_ExportView):
    renderer_classes = [CSVRenderer]

    @extend_schema(
        summary="Standings as CSV",
        responses={(200, "text/csv"): OpenApiResponse(_TEXT), **schema.JSON_READ_ERRORS},
    )
    def get(self, request: Request, pk: UUID) -> Response:
        championship = selectors.championship_get_visible(championship_id=pk, user=request.user)
        version = selectors.standings_version(championship_id=championship.id)
        body = standings_body(championship.id, version)
        return _attachment(exports.standings_csv(body["rows"]), "standings.csv")


def _attachment(text: str, filename: str) -> Response:
    return Response(
        text,
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
