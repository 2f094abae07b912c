"""Match details and player statistics: cards (write), top scorers and discipline (read)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from championships import commands, selectors, stats
from championships.api import schema
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


@extend_schema(tags=["championships"], parameters=[schema.ID])
class ScorersView(generics.GenericAPIView[Championship]):
    @extend_schema(summary="Top scorers", responses={200: _SCORERS, **schema.READ_ERRORS})
    def get(self, request: Request, pk: str) -> Response:
        championship = selectors.championship_get(championship_id=pk)  # type: ignore[arg-type]
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
    def get(self, request: Request, pk: str) -> Response:
        championship = selectors.championship_get(championship_id=pk)  # type: ignore[arg-type]
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
