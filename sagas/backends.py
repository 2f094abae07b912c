"""Signing in with the username as it was signed up with."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest


class NormalisedUsernameBackend(ModelBackend):
    """Django's backend, the username NFKC-normalised first as ``create_user`` stored it:
    somebody who signed up as "ﬃ_player" (stored "ffi_player") signs in with the name
    they typed, on the token endpoint, the sign-in page and the admin alike."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        if isinstance(username, str):
            username = get_user_model().normalize_username(username)
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None and username is not None:
            # Settled here: Django's backend, listed after this one for the sessions it
            # signed in, would only hash the same password a second time to say no.
            raise PermissionDenied
        return user
