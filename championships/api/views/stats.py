"""Match details and player statistics: cards (write), top scorers and discipline (read)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from championships import commands, selectors, stats
from championships.api import schema
from championships.api.etags import expected_version
from championships.api.idempotency import idempotent
from championships.api.views.base import actor, parse, with_etag
from championships.api.views.matches import MatchActionView, _action
from championships.knockout_events import CARD_KINDS
from championships.models import Championship


class CardSerializer(serializers.Serializer[Any]):
    team = serializers.UUIDField(help_text="The player's team.")
    player = serializers.CharField(max_length=100)
    minute = serializers.IntegerField()
    card = serializers.ChoiceField(choices=list(CARD_KINDS))


@_action("Show a card (yellow, second_yellow, red) in a live or completed match", CardSerializer)
class MatchCardView(MatchActionView):
    command = commands.match_show_card
    serializer_class = CardSerializer

    def arguments(self, data: dict[str, Any]) -> dict[str, Any]:
        data["team_id"] = data.pop("team")
        return data


def _team(team_id: object, name: str) -> dict[str, str]:
    return {"id": str(team_id), "name": name}


_SCORERS = inline_serializer(
    "Scorers",
    {
        "scorers": serializers.ListField(
            child=serializers.DictField(),
            help_text='[{"player", "team": {"id", "name"}, "goals", "penalty_goals"}], '
            "most goals first (own goals not counted)",
        )
    },
)
_CARDS = inline_serializer(
    "Discipline",
    {
        "players": serializers.ListField(child=serializers.DictField()),
        "teams": serializers.ListField(child=serializers.DictField()),
    },
)


class LotsSerializer(serializers.Serializer[Any]):
    group = serializers.CharField(
        max_length=20, required=False, default="", allow_blank=True, help_text='"" outside groups'
    )
    teams = serializers.ListField(
        child=serializers.UUIDField(),
        min_length=2,
        max_length=64,
        help_text="The tied teams in the order the lots gave, best first.",
    )


@extend_schema(tags=["championships"], parameters=[schema.ID])
class LotsView(generics.GenericAPIView[Championship]):
    serializer_class = LotsSerializer

    @extend_schema(
        summary="Record a drawing of lots among teams level on every criterion",
        request=LotsSerializer,
        responses={201: LotsSerializer, **schema.WRITE_ERRORS},
        parameters=[schema.IF_MATCH, schema.IDEMPOTENCY_KEY, schema.ETAG],
    )
    @idempotent
    def post(self, request: Request, pk: str) -> Response:
        data = parse(LotsSerializer, request).validated_data
        championship = commands.championship_draw_lots(
            actor_id=actor(request),
            championship_id=pk,  # type: ignore[arg-type]
            group=data["group"],
            team_ids=data["teams"],
            expected_version=expected_version(request),
        )
        body = {"group": data["group"], "teams": [str(t) for t in data["teams"]]}
        return with_etag(body, championship.version, 201)


@extend_schema(tags=["championships"], parameters=[schema.ID])
class ScorersView(generics.GenericAPIView[Championship]):
    @extend_schema(summary="Top scorers", responses={200: _SCORERS, **schema.READ_ERRORS})
    def get(self, request: Request, pk: UUID) -> Response:
        championship = selectors.championship_get_visible(championship_id=pk, user=request.user)
        scorers = stats.scorers_for_championship(championship_id=championship.id)
        return Response(
            {
                "scorers": [
                    {
                        "player": r.player,
                        "team": _team(r.team_id, r.team_name),
                        "goals": r.goals,
                        "penalty_goals": r.penalty_goals,
                    }
                    for r in scorers
                ]
            }
        )


@extend_schema(tags=["championships"], parameters=[schema.ID])
class CardsView(generics.GenericAPIView[Championship]):
    @extend_schema(
        summary="Cards and FIFA fair-play points per player and per team",
        responses={200: _CARDS, **schema.READ_ERRORS},
    )
    def get(self, request: Request, pk: UUID) -> Response:
        championship = selectors.championship_get_visible(championship_id=pk, user=request.user)
        players, teams = stats.discipline_for_championship(championship_id=championship.id)

        def row(d: stats.Discipline) -> dict[str, Any]:
            return {
                "team": _team(d.team_id, d.team_name),
                "yellow": d.yellow,
                "second_yellow": d.second_yellow,
                "red": d.red,
                "fair_play": d.fair_play,
            }

        return Response(
            {
                "players": [{"player": d.player, **row(d)} for d in players],
                "teams": [row(d) for d in teams],
            }
        )
