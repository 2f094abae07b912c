"""One team: rename, move group, remove (before fixtures), withdraw; co-organiser removal."""

from __future__ import annotations

from uuid import UUID

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from championships import commands
from championships.api import schema
from championships.api import serializers as s
from championships.api.etags import etag, expected_version
from championships.api.idempotency import idempotent
from championships.api.views.base import actor, parse, with_etag
from championships.models import Championship, Team

TEAM = OpenApiParameter("team", OpenApiTypes.UUID, OpenApiParameter.PATH, description="Team id.")
USER = OpenApiParameter("user", OpenApiTypes.INT, OpenApiParameter.PATH, description="User id.")


def _team_out(team: Team, version: int, status: int = 200) -> Response:
    return with_etag(s.TeamSerializer(team).data, version, status)


@extend_schema(tags=["teams"], parameters=[schema.ID, TEAM])
class TeamDetailView(generics.GenericAPIView[Team]):
    serializer_class = s.TeamUpdateSerializer

    @extend_schema(
        summary="Rename a team, or move it to another group (before fixtures)",
        request=s.TeamUpdateSerializer,
        responses={200: s.TeamSerializer, **schema.WRITE_ERRORS},
        parameters=[schema.IF_MATCH, schema.ETAG],
    )
    def patch(self, request: Request, pk: UUID, team: UUID) -> Response:
        data = parse(s.TeamUpdateSerializer, request).validated_data
        updated = commands.team_update(
            actor_id=actor(request),
            championship_id=pk,
            team_id=team,
            name=data.get("name"),
            group=data.get("group"),
            expected_version=expected_version(request),
        )
        return _team_out(updated, updated.championship.version)

    @extend_schema(
        summary="Remove a team entered by mistake (before fixtures and matches exist)",
        request=None,
        responses={204: None, **schema.WRITE_ERRORS},
        parameters=[schema.IF_MATCH, schema.ETAG],
    )
    def delete(self, request: Request, pk: UUID, team: UUID) -> Response:
        championship = commands.team_remove(
            actor_id=actor(request),
            championship_id=pk,
            team_id=team,
            expected_version=expected_version(request),
        )
        return Response(status=204, headers={"ETag": etag(championship.version)})


@extend_schema(tags=["teams"], parameters=[schema.ID, TEAM])
class TeamWithdrawView(generics.GenericAPIView[Team]):
    serializer_class = s.WithdrawSerializer

    @extend_schema(
        summary="Withdraw a team under the championship's withdrawal policy",
        description="expunge: all the team's results are annulled and its remaining "
        "matches cancelled; award_remaining: played results stand and its remaining "
        "matches are awarded to the opponents by withdrawal_award_score. Either way its "
        "remaining matches can no longer be started, scored or completed.",
        request=s.WithdrawSerializer,
        responses={200: s.TeamSerializer, **schema.WRITE_ERRORS},
        parameters=[schema.IF_MATCH, schema.IDEMPOTENCY_KEY, schema.ETAG],
    )
    @idempotent
    def post(self, request: Request, pk: UUID, team: UUID) -> Response:
        data = parse(s.WithdrawSerializer, request).validated_data
        withdrawn = commands.team_withdraw(
            actor_id=actor(request),
            championship_id=pk,
            team_id=team,
            reason=data["reason"],
            expected_version=expected_version(request),
        )
        return _team_out(withdrawn, withdrawn.championship.version)


@extend_schema(tags=["championships"], parameters=[schema.ID, USER])
class OrganiserRemoveView(generics.GenericAPIView[Championship]):
    serializer_class = s.ChampionshipSerializer

    @extend_schema(
        summary="Remove a co-organiser",
        request=None,
        responses={200: s.ChampionshipSerializer, **schema.WRITE_ERRORS},
        parameters=[schema.IF_MATCH, schema.ETAG],
    )
    def delete(self, request: Request, pk: UUID, user: int) -> Response:
        championship = commands.championship_remove_organiser(
            actor_id=actor(request),
            championship_id=pk,
            user_id=user,
            expected_version=expected_version(request),
        )
        return with_etag(s.ChampionshipSerializer(championship).data, championship.version)
