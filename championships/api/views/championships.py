"""Championships, their teams, organisers, fixtures and the matches list."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from championships import commands, selectors
from championships.aggregates.bracket import DrawOptions
from championships.api import schema
from championships.api import serializers as s
from championships.api.etags import expected_version, not_modified
from championships.api.idempotency import idempotent
from championships.api.views.base import (
    actor,
    choice_param,
    int_param,
    parse,
    text_param,
    with_etag,
)
from championships.models import Championship, ChampionshipFormat, Match, Team

MAX_ROUND = 1000


def _championship_out(championship: Championship) -> Any:
    return s.ChampionshipSerializer(championship).data


@extend_schema(tags=["championships"])
class ChampionshipListView(generics.ListAPIView[Championship]):
    serializer_class = s.ChampionshipSerializer

    def get_queryset(self) -> QuerySet[Championship]:
        request = self.request
        return selectors.championship_search(
            user=request.user,
            format=choice_param(request, "format", ChampionshipFormat.values),
            season=text_param(request, "season"),
            search=text_param(request, "search"),
        )

    @extend_schema(
        summary="List championships",
        parameters=[
            OpenApiParameter("format", str, enum=ChampionshipFormat.values),
            OpenApiParameter("season", str),
            OpenApiParameter("search", str, description="In the name (or the exact season)."),
        ],
        responses={200: s.ChampionshipSerializer(many=True), **schema.LIST_ERRORS},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Create a championship (you become its owner)",
        request=s.ChampionshipCreateSerializer,
        responses={201: s.ChampionshipSerializer, **schema.WRITE_ERRORS},
        parameters=[schema.IDEMPOTENCY_KEY, schema.ETAG],
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = parse(s.ChampionshipCreateSerializer, request).command_kwargs()
        data.setdefault("season", str(timezone.now().year))
        championship = commands.championship_create(actor_id=actor(request), **data)
        location = reverse("api:championship-detail", args=[championship.id])
        return with_etag(
            _championship_out(championship), championship.version, 201, Location=location
        )


@extend_schema(tags=["championships"], parameters=[schema.ID])
class ChampionshipDetailView(generics.GenericAPIView[Championship]):
    serializer_class = s.ChampionshipSerializer

    @extend_schema(
        summary="Read a championship",
        parameters=[schema.IF_NONE_MATCH, schema.ETAG],
        responses={200: s.ChampionshipSerializer, 304: None, **schema.READ_ERRORS},
    )
    def get(self, request: Request, pk: UUID) -> Response:
        championship = selectors.championship_get_visible(championship_id=pk, user=request.user)
        return not_modified(request, championship.version) or with_etag(
            _championship_out(championship), championship.version
        )

    @extend_schema(
        summary="Change names or rules (standings are re-ranked)",
        request=s.ChampionshipUpdateSerializer,
        responses={200: s.ChampionshipSerializer, **schema.WRITE_ERRORS},
        parameters=[schema.IF_MATCH, schema.ETAG],
    )
    def patch(self, request: Request, pk: UUID) -> Response:
        current = selectors.championship_get(championship_id=pk)
        data = parse(s.ChampionshipUpdateSerializer, request, championship=current).command_kwargs()
        championship = commands.championship_update(
            actor_id=actor(request),
            championship_id=pk,
            expected_version=expected_version(request),
            **data,
        )
        return with_etag(_championship_out(championship), championship.version)


@extend_schema(tags=["championships"], parameters=[schema.ID])
class OrganiserAddView(generics.GenericAPIView[Championship]):
    serializer_class = s.OrganiserAddSerializer

    @extend_schema(
        summary="Add a co-organiser",
        request=s.OrganiserAddSerializer,
        responses={200: s.ChampionshipSerializer, **schema.WRITE_ERRORS},
        parameters=[schema.IF_MATCH, schema.IDEMPOTENCY_KEY, schema.ETAG],
    )
    @idempotent
    def post(self, request: Request, pk: UUID) -> Response:
        data = parse(s.OrganiserAddSerializer, request).validated_data
        championship = commands.championship_add_organiser(
            actor_id=actor(request),
            championship_id=pk,
            user_id=data["user"],
            expected_version=expected_version(request),
        )
        return with_etag(_championship_out(championship), championship.version)


@extend_schema(tags=["teams"], parameters=[schema.ID])
class TeamListView(generics.ListAPIView[Team]):
    serializer_class = s.TeamSerializer

    def get_queryset(self) -> QuerySet[Team]:
        championship = selectors.championship_get_visible(
            championship_id=self.kwargs["pk"], user=self.request.user
        )
        return selectors.teams_for_championship(championship_id=championship.id)

    @extend_schema(
        summary="List the teams", responses={200: s.TeamSerializer(many=True), **schema.READ_ERRORS}
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Register a team",
        request=s.TeamRegisterSerializer,
        responses={201: s.TeamSerializer, **schema.WRITE_ERRORS},
        parameters=[schema.IF_MATCH, schema.IDEMPOTENCY_KEY, schema.ETAG],
    )
    @idempotent
    def post(self, request: Request, pk: UUID) -> Response:
        data = parse(s.TeamRegisterSerializer, request).validated_data
        team = commands.team_register(
            actor_id=actor(request),
            championship_id=pk,
            name=data["name"],
            group=data["group"],
            expected_version=expected_version(request),
        )
        version = selectors.championship_version(championship_id=pk)
        return with_etag(s.TeamSerializer(team).data, version, 201)


@extend_schema(tags=["matches"], parameters=[schema.ID])
class FixturesGenerateView(generics.GenericAPIView[Match]):
    serializer_class = s.FixturesGenerateSerializer

    @extend_schema(
        summary="Generate the round robin (per group), or draw the bracket (knockout formats)",
        request=s.FixturesGenerateSerializer,
        responses={201: s.FixturesGeneratedSerializer, **schema.WRITE_ERRORS},
        parameters=[schema.IF_MATCH, schema.IDEMPOTENCY_KEY, schema.ETAG],
    )
    @idempotent
    def post(self, request: Request, pk: UUID) -> Response:
        data = parse(s.FixturesGenerateSerializer, request).validated_data
        matches = commands.fixtures_generate(
            actor_id=actor(request),
            championship_id=pk,
            double_round_robin=data["double_round_robin"],
            first_kickoff=data["first_kickoff_at"],
            days_between_rounds=data["days_between_rounds"],
            draw=DrawOptions(
                seeding=data["seeding"],
                third_place_match=data["third_place_match"],
                legs=data.get("legs", 1),
                away_goals=data["away_goals"],
                qualifiers_per_group=data["qualifiers_per_group"],
                knockout_slots=data["knockout_slots"],
                seeds=data["seeds"],
            ),
            expected_version=expected_version(request),
        )
        listed = selectors.matches_for_championship(championship_id=matches[0].championship_id)
        version = selectors.championship_version(championship_id=pk)
        return with_etag({"matches": s.MatchSerializer(listed, many=True).data}, version, 201)


@extend_schema(tags=["matches"], parameters=[schema.ID])
class MatchListView(generics.ListAPIView[Match]):
    serializer_class = s.MatchSerializer

    def get_queryset(self) -> QuerySet[Match]:
        championship = selectors.championship_get_visible(
            championship_id=self.kwargs["pk"], user=self.request.user
        )
        return selectors.matches_filtered(
            championship_id=championship.id,
            round=int_param(self.request, "round", minimum=1, maximum=MAX_ROUND),
            status=choice_param(self.request, "status", s.MATCH_STATUSES),
            group=text_param(self.request, "group"),
        )

    @extend_schema(
        summary="List the matches",
        parameters=[schema.ROUND, schema.STATUS, schema.GROUP],
        responses={200: s.MatchSerializer(many=True), **schema.READ_ERRORS},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Schedule one match",
        request=s.MatchScheduleSerializer,
        responses={201: s.MatchDetailSerializer, **schema.WRITE_ERRORS},
        parameters=[schema.IF_MATCH, schema.IDEMPOTENCY_KEY, schema.ETAG],
    )
    @idempotent
    def post(self, request: Request, pk: UUID) -> Response:
        # The two teams read at once (a championship that does not exist has none); a
        # body that does not validate is a 404 first if the championship is missing.
        try:
            data = parse(
                s.MatchScheduleSerializer,
                request,
                championship_id=pk,
                teams=s.teams_named_in(request.data, pk, ("home_team", "away_team")),
            ).validated_data
        except ValidationError:
            selectors.championship_get(championship_id=pk)
            raise
        match = commands.match_schedule(
            actor_id=actor(request),
            championship_id=pk,
            home_team_id=data["home_team"].id,
            away_team_id=data["away_team"].id,
            round=data.get("round"),
            kickoff=data.get("kickoff_at"),
            allow_duplicate=data["allow_duplicate"],
            expected_version=expected_version(request),
        )
        location = reverse("api:match-detail", args=[match.id])
        scheduled = selectors.match_with_teams(match_id=match.id)
        scheduled.written_goals = ()  # a match just scheduled has none
        return with_etag(s.match_detail_json(scheduled), match.version, 201, Location=location)
