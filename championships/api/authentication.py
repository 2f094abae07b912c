"""API tokens that expire (``TOKEN_TTL_HOURS`` after they were issued) and can be revoked.

One token per user (DRF's ``authtoken``): logging in again returns the same token until
it expires, then a new one; revoking it signs every client of that user out.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token


def token_expires_at(token: Token) -> datetime:
    return token.created + timedelta(hours=settings.TOKEN_TTL_HOURS)


def token_for(user: Any) -> Token:
    """The user's token, a new one if it had expired."""
    token, created = Token.objects.get_or_create(user=user)
    if not created and token_expires_at(token) <= timezone.now():
        token.delete()
        token = Token.objects.create(user=user)
    return token


class ExpiringTokenAuthentication(TokenAuthentication):
    """``Authorization: Token <key>``; an expired token is refused (401)."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Token]:
        user, token = super().authenticate_credentials(key)
        if token_expires_at(token) <= timezone.now():
            raise exceptions.AuthenticationFailed(
                "Token expired: get a new one from POST /api/v1/auth/token/."
            )
        return user, token
