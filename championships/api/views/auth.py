"""Token authentication: POST username and password, get the user's token; revoke it."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import permissions, serializers
from rest_framework.authentication import BaseAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from championships.api.authentication import token_expires_at, token_for
from championships.api.parsers import JSONParser
from championships.api.throttling import LoginThrottle
from championships.api.views.base import actor

THROTTLED = OpenApiResponse(description="Too many requests: retry after Retry-After seconds.")


class TokenView(ObtainAuthToken):
    throttle_classes = [LoginThrottle]
    # Signing in asks for no credentials but the body's: a client still sending its
    # expired or revoked token got that token's 401 from the very endpoint it is told to
    # get a new one from.
    authentication_classes: list[type[BaseAuthentication]] = []
    # JSON only, through the API's parser (depth limit, 415 for anything else), as on
    # every other endpoint: DRF's own form and multipart parsers answered 500 on more
    # than 1,000 fields.
    parser_classes = [JSONParser]

    @extend_schema(
        tags=["auth"],
        auth=[],
        summary="Get your API token (then send Authorization: Token <token>)",
        description="The same token until it expires (TOKEN_TTL_HOURS after it was "
        "issued, see expires_at), then a new one. Attempts are limited per address.",
        responses={
            200: inline_serializer(
                "Token",
                {"token": serializers.CharField(), "expires_at": serializers.DateTimeField()},
            ),
            400: OpenApiResponse(description="Wrong username or password."),
            429: THROTTLED,
        },
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token = token_for(serializer.validated_data["user"])
        expires_at = serializers.DateTimeField().to_representation(token_expires_at(token))
        return Response({"token": token.key, "expires_at": expires_at})


class TokenRevokeView(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        tags=["auth"],
        summary="Revoke your API token (every client using it is signed out)",
        request=None,
        responses={
            204: OpenApiResponse(description="Revoked."),
            401: OpenApiResponse(description="Not authenticated."),
        },
    )
    def post(self, request: Request) -> Response:
        Token.objects.filter(user_id=actor(request)).delete()
        return Response(status=204)
