"""The bracket of a knockout championship (``championships.bracket``)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from championships import bracket, selectors
from championships.api import schema
from championships.models import Championship

_TEAM = serializers.DictField(allow_null=True, help_text='{"id", "name"} or null (undecided)')
_BRACKET = inline_serializer(
    "Bracket",
    {
        "rounds": serializers.ListField(
            child=serializers.DictField(),
            help_text='[{"name": "Round of 16", "matches": [{"id", "home_team", "away_team", '
            '"home_score", "away_score", "extra_time", "penalties", "winner", "status", '
            '"next_match"}]}]',
        ),
        "third_place": serializers.DictField(allow_null=True),
        "champion": _TEAM,
    },
)


@extend_schema(tags=["championships"], parameters=[schema.ID])
class BracketView(generics.GenericAPIView[Championship]):
    @extend_schema(
        summary="The knockout bracket: rounds, third-place match, champion",
        responses={200: _BRACKET, **schema.READ_ERRORS},
    )
    def get(self, request: Request, pk: UUID) -> Response:
        championship = selectors.championship_get_visible(championship_id=pk, user=request.user)
        drawn = bracket.bracket_for_championship(championship_id=championship.id)
        body: dict[str, Any] = bracket.bracket_json(drawn)
        return Response(body)
