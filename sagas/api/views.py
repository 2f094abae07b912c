"""API of the sagas: sign-up, the player's own profile, team entries, the payment
webhook. Views parse, call one command or selector, and render."""

from __future__ import annotations

import json
import logging
import uuid
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import permissions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from championships.api import schema
from championships.api.authentication import token_expires_at, token_for
from championships.api.idempotency import idempotent
from championships.api.throttling import AnonThrottle, LoginThrottle
from championships.api.views.base import actor, allow_methods, parse
from championships.exceptions import NotFound
from sagas import entries, registration
from sagas.models import PlayerProfile
from sagas.payments import signing

logger = logging.getLogger(__name__)


class RegisterSerializer(serializers.Serializer[Any]):
    username = serializers.CharField(max_length=150, trim_whitespace=False)
    email = serializers.CharField(max_length=254)
    password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)


class RegisterView(APIView):
    permission_classes = [permissions.AllowAny]
    authentication_classes: list[Any] = []
    # A sign-up hands out a token too: it counts as a login attempt of its address (as the
    # sign-up page does), besides the anonymous rate.
    throttle_classes = [AnonThrottle, LoginThrottle]

    @extend_schema(
        tags=["auth"],
        summary="Sign up: creates the user and starts the registration saga",
        request=RegisterSerializer,
        responses={
            201: inline_serializer(
                "Registered",
                {
                    "token": serializers.CharField(),
                    "expires_at": serializers.DateTimeField(),
                    "user": inline_serializer(
                        "RegisteredUser",
                        {
                            "id": serializers.IntegerField(),
                            "username": serializers.CharField(),
                            "email": serializers.CharField(),
                        },
                    ),
                },
            ),
            400: OpenApiResponse(description="Field errors: username, email, password."),
        },
    )
    def post(self, request: Request) -> Response:
        data = parse(RegisterSerializer, request).validated_data
        try:
            user = registration.player_register(
                username=data["username"], email=data["email"], password=data["password"]
            )
        except registration.RegistrationInvalid as exc:
            raise serializers.ValidationError(exc.errors) from None
        token = token_for(user)
        return Response(
            {
                "token": token.key,
                "expires_at": serializers.DateTimeField().to_representation(
                    token_expires_at(token)
                ),
                "user": {"id": user.id, "username": user.username, "email": user.email},
            },
            status=201,
        )


def me_data(request_user: Any) -> dict[str, Any]:
    # The API's user may be a cached token's stand-in: read the user by id.
    user = get_user_model().objects.get(pk=request_user.pk)
    profile = PlayerProfile.objects.select_related("league").filter(user=user).first()
    league = profile.league if profile is not None else None
    return {
        "id": user.id,
        "username": user.username,
        "email": user.email,
        "profile": {"display_name": profile.display_name} if profile is not None else None,
        "league": {"id": str(league.id), "name": league.name} if league is not None else None,
        "waiting_list_position": (
            registration.waiting_list_position(profile) if profile is not None else None
        ),
        "registration": registration.registration_status(user.id),
    }


class MeView(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        tags=["auth"],
        summary="Your player profile, league and where your registration is",
        responses={
            200: inline_serializer(
                "Me",
                {
                    "id": serializers.IntegerField(),
                    "username": serializers.CharField(),
                    "email": serializers.CharField(),
                    "profile": serializers.DictField(allow_null=True),
                    "league": serializers.DictField(allow_null=True),
                    "waiting_list_position": serializers.IntegerField(allow_null=True),
                    "registration": serializers.ChoiceField(
                        ["pending", "completed", "waiting_list"]
                    ),
                },
            )
        },
    )
    def get(self, request: Request) -> Response:
        return Response(me_data(request.user))


class EntriesOpenSerializer(serializers.Serializer[Any]):
    fee = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=Decimal("0"))
    currency = serializers.RegexField(r"^[A-Za-z]{3}$", max_length=3)
    payment_deadline_seconds = serializers.IntegerField(min_value=1, max_value=60 * 60 * 24 * 60)
    capacity = serializers.IntegerField(min_value=1, max_value=1000)


class EntriesOpenView(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        tags=["entries"],
        summary="Open entries (organisers): fee, currency, payment deadline, capacity",
        request=EntriesOpenSerializer,
        responses={200: EntriesOpenSerializer, **schema.WRITE_ERRORS},
        parameters=[schema.IDEMPOTENCY_KEY],
    )
    @idempotent
    def post(self, request: Request, pk: str) -> Response:
        data = parse(EntriesOpenSerializer, request).validated_data
        window = entries.entries_open(actor_id=actor(request), championship_id=_uuid(pk), **data)
        return Response(
            {
                "fee": str(window.fee),
                "currency": window.currency,
                "payment_deadline_seconds": window.payment_deadline_seconds,
                "capacity": window.capacity,
            }
        )


class EntrySerializer(serializers.Serializer[Any]):
    """An entry as the API shows it (``entries.entry_summary``)."""

    id = serializers.UUIDField()
    championship = serializers.UUIDField()
    team_name = serializers.CharField()
    status = serializers.CharField()
    fee = serializers.CharField()
    currency = serializers.CharField()
    cancel_reason = serializers.CharField()


class EntryRequestSerializer(serializers.Serializer[Any]):
    team_name = serializers.CharField(max_length=100)


class EntryRequestView(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        tags=["entries"],
        summary="Request a team's entry (team managers); the saga asks for the payment",
        request=EntryRequestSerializer,
        responses={201: EntrySerializer, **schema.WRITE_ERRORS},
        parameters=[schema.IDEMPOTENCY_KEY],
    )
    @idempotent
    def post(self, request: Request, pk: str) -> Response:
        data = parse(EntryRequestSerializer, request).validated_data
        entry = entries.team_entry_request(
            actor_id=actor(request), championship_id=_uuid(pk), team_name=data["team_name"]
        )
        return Response(entries.entry_summary(entry), status=201)


class EntryDetailView(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        tags=["entries"],
        summary="An entry you requested (or of a championship you organise), and its status",
        responses={200: EntrySerializer, **schema.READ_ERRORS},
    )
    def get(self, request: Request, pk: str) -> Response:
        entry = entries.entry_for_reader(
            entry_id=_uuid(pk), user_id=actor(request), is_superuser=request.user.is_superuser
        )
        if entry is None:
            raise NotFound(f"entry {pk} does not exist")
        return Response(entries.entry_summary(entry))


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound(f"{value} does not exist") from None


@csrf_exempt
@allow_methods("POST")
def payment_webhook(request: HttpRequest) -> JsonResponse:
    """The provider reports a payment: signed (HMAC-SHA256 over the raw body), recent,
    and recorded once per provider payment id (a replay answers 200, records nothing)."""
    raw = request.body
    try:
        signing.verify(
            raw,
            request.headers.get(signing.HEADER),
            settings.PAYMENTS_WEBHOOK_SECRET,
            settings.PAYMENTS_WEBHOOK_TOLERANCE_SECONDS,
        )
    except signing.InvalidSignature as exc:
        return JsonResponse({"detail": str(exc)}, status=401)
    try:
        body = json.loads(raw)
        if not isinstance(body, dict):
            raise ValueError("not an object")
    except (ValueError, RecursionError):
        return JsonResponse({"detail": "the body is not a JSON object"}, status=400)
    errors = {
        name: ["This field is required."]
        for name in ("payment_id", "status")
        if not isinstance(body.get(name), str) or not body.get(name)
    }
    if not errors and body["status"] not in ("succeeded", "failed"):
        errors["status"] = ['Must be "succeeded" or "failed".']
    if errors:
        return JsonResponse(errors, status=400)
    try:
        recorded = entries.payment_webhook_record(
            provider_payment_id=body["payment_id"][:100],
            status=body["status"],
            amount=str(body.get("amount", "")),
            currency=str(body.get("currency", "")),
            reason=str(body.get("reason", ""))[:200],
        )
    except entries.UnknownPayment:
        return JsonResponse({"detail": "unknown payment"}, status=404)
    return JsonResponse({"received": True, "recorded": recorded})
