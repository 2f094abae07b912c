"""Points deductions: record, amend (on appeal), list with their history."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from championships import commands, selectors
from championships.api import schema
from championships.api import serializers as s
from championships.api.etags import expected_version
from championships.api.idempotency import idempotent
from championships.api.views.base import actor, parse, with_etag
from championships.models import Deduction


def _deduction_out(deduction: Deduction, status: int = 200) -> Response:
    fresh = selectors.deductions_for_championship(championship_id=deduction.championship_id).get(
        id=deduction.id
    )
    return with_etag(s.DeductionSerializer(fresh).data, fresh.championship.version, status)


@extend_schema(tags=["deductions"], parameters=[schema.ID])
class DeductionListView(generics.ListAPIView[Deduction]):
    serializer_class = s.DeductionSerializer

    def get_queryset(self) -> QuerySet[Deduction]:
        championship = selectors.championship_get_visible(
            championship_id=self.kwargs["pk"], user=self.request.user
        )
        return selectors.deductions_for_championship(championship_id=championship.id)

    @extend_schema(
        summary="List the points deductions with their amendments",
        responses={200: s.DeductionSerializer(many=True), **schema.READ_ERRORS},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Deduct points from a team (PointsDeducted)",
        request=s.DeductionCreateSerializer,
        responses={201: s.DeductionSerializer, **schema.WRITE_ERRORS},
        parameters=[schema.IF_MATCH, schema.IDEMPOTENCY_KEY, schema.ETAG],
    )
    @idempotent
    def post(self, request: Request, pk: UUID) -> Response:
        championship = selectors.championship_get(championship_id=pk)
        data = parse(
            s.DeductionCreateSerializer, request, championship_id=championship.id
        ).validated_data
        deduction = commands.team_deduct_points(
            actor_id=actor(request),
            championship_id=championship.id,
            team_id=data["team"].id,
            points=data["points"],
            reason=data["reason"],
            effective_at=data["effective_at"],
            expected_version=expected_version(request),
        )
        return _deduction_out(deduction, 201)


@extend_schema(tags=["deductions"], parameters=[schema.ID])
class DeductionAmendView(generics.GenericAPIView[Deduction]):
    serializer_class = s.DeductionAmendSerializer

    @extend_schema(
        summary="Amend a deduction (DeductionAmended; 0 points withdraws it)",
        request=s.DeductionAmendSerializer,
        responses={200: s.DeductionSerializer, **schema.WRITE_ERRORS},
        parameters=[schema.IF_MATCH, schema.IDEMPOTENCY_KEY, schema.ETAG],
    )
    @idempotent
    def post(self, request: Request, pk: UUID) -> Response:
        data = parse(s.DeductionAmendSerializer, request).validated_data
        deduction = selectors.deduction_get(deduction_id=pk)
        amended = commands.deduction_amend(
            actor_id=actor(request),
            championship_id=deduction.championship_id,
            deduction_id=deduction.id,
            points=data["points"],
            reason=data["reason"],
            effective_at=data["effective_at"],
            expected_version=expected_version(request),
        )
        return _deduction_out(amended)
