"""API tokens that expire (``TOKEN_TTL_HOURS`` after they were issued) and can be revoked.

One token per user (DRF's ``authtoken``): logging in again returns the same token until
it expires, then a new one; revoking it signs every client of that user out.

A token's check is cached in the shared cache (Redis) for ``TOKEN_CACHE_SECONDS``: an
authenticated request then costs one cache read instead of a database query, and the
user is read from the database only if the request needs more of it than its id.
Whatever ends a token's validity forgets it everywhere at once:

- deleting the token (revoking it, a new token replacing an expired one, deleting the
  user) and saving its user (deactivated, made staff or not) replace the cached entry
  with a tombstone for as long as an entry lives;
- an entry is only ever *added* (SET NX), so a request that read the token just before
  it was deleted cannot bring it back over the tombstone;
- the cached entry keeps the token's issue time, so expiry is checked as before.

When the cache cannot be reached, tokens are checked in the database.

Which user a token belongs to never changes, so each process remembers it once a token
checked out; for such a token, on a view the user throttle guards, the token's cache
entry is read in the same round trip as the request is counted against its user's rate
(``throttling.count_and_get``). Only the user is remembered, never the token's validity:
that is read from the shared cache on every request, as above.
"""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone
from redis.exceptions import RedisError
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.request import Request

from championships.api.throttling import PRECOUNTED, UserThrottle, count_and_get, current_window
from easychamp.redis_guard import log_failure

logger = logging.getLogger(__name__)

_FAILURES = (RedisError, OSError)
_TOMBSTONE = "revoked"
EXPIRED = "Token expired: get a new one from POST /api/v1/auth/token/."


def token_expires_at(token: Token) -> datetime:
    return token.created + timedelta(hours=settings.TOKEN_TTL_HOURS)


def token_for(user: Any) -> Token:
    """The user's token, a new one if it had expired."""
    token, created = Token.objects.get_or_create(user=user)
    if not created and token_expires_at(token) <= timezone.now():
        token.delete()
        try:
            with transaction.atomic():
                token = Token.objects.create(user=user)
        except IntegrityError:
            # Another sign-in (the same user's other device) replaced it meanwhile.
            token = Token.objects.get(user=user)
    return token


class TokenUser:
    """The user of a cached token. Its id answers without a query; any other attribute
    reads the user from the database, once."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, user_id: int) -> None:
        self.id = self.pk = user_id
        self._user: Any = None

    def __getattr__(self, name: str) -> Any:
        # Only called for what the instance does not have: the user's other fields.
        if name.startswith("__") or name == "_user":
            raise AttributeError(name)
        if self._user is None:
            self._user = get_user_model()._default_manager.get(pk=self.pk)
        return getattr(self._user, name)

    def __str__(self) -> str:
        return str(self.__getattr__("get_username")())


def _key(token_key: str) -> str:
    # The cache holds no usable token: its key is the token's hash.
    return "api:token:" + hashlib.sha256(token_key.encode()).hexdigest()


def cached_token(token_key: str) -> tuple[int, datetime] | None:
    """(user id, issue time) of a valid token checked recently; None when unknown."""
    try:
        entry = cache.get(_key(token_key))
    except _FAILURES as exc:
        log_failure(logger, exc, "token cache unreachable; checking the token in the database")
        return None
    return _entry(entry)


def _entry(entry: Any) -> tuple[int, datetime] | None:
    if not isinstance(entry, tuple):
        return None  # unknown, or a tombstone
    user_id, created = entry
    return int(user_id), datetime.fromisoformat(created)


# Token cache key -> its user's id, for tokens this process checked: a token never
# changes user. Bounded: forgotten wholesale when full (then learnt again).
_token_users: dict[str, int] = {}
MAX_KNOWN_TOKENS = 10_000


def _known_user(cache_key: str, user_id: int) -> None:
    if len(_token_users) >= MAX_KNOWN_TOKENS:
        _token_users.clear()
    _token_users[cache_key] = user_id


def _cached_and_counted(
    request: Request | None, token_key: str, cache_key: str
) -> tuple[int, datetime] | None:
    """``cached_token``, and, for a token of a known user on a view the user throttle
    guards, the request counted against the user's rate in the same round trip (the
    count left on the request for the throttle). ``cache_key`` is ``_key(token_key)``."""
    user_id = _token_users.get(cache_key)
    window = None
    if user_id is not None and request is not None:
        view = request.parser_context.get("view")
        classes = getattr(view, "throttle_classes", ())
        if any(issubclass(c, UserThrottle) for c in classes):
            window = current_window(UserThrottle.scope, str(user_id), time.time())
    if window is None:
        return cached_token(token_key)
    try:
        found = count_and_get(window, cache_key)
    except _FAILURES as exc:
        log_failure(logger, exc, "token cache unreachable; checking the token in the database")
        return None
    if found is None:
        return cached_token(token_key)
    entry, count = found
    setattr(request, PRECOUNTED, {window.key: count})
    return _entry(entry)


def remember_token(token: Token) -> None:
    """Cache a token just checked in the database, unless it was forgotten meanwhile."""
    try:
        cache.add(
            _key(token.key),
            (token.user_id, token.created.isoformat()),
            settings.TOKEN_CACHE_SECONDS,
        )
    except _FAILURES as exc:
        log_failure(logger, exc, "token cache unreachable; token not cached")


def forget_token(token_key: str) -> None:
    """No request authenticates with ``token_key`` from the cache any more."""
    try:
        cache.set(_key(token_key), _TOMBSTONE, settings.TOKEN_CACHE_SECONDS)
    except _FAILURES:
        # The entry lives at most TOKEN_CACHE_SECONDS; nothing better can be done here.
        logger.error("token cache unreachable: %s not forgotten", _key(token_key))


def _forget_now_and_after_commit(token_key: str) -> None:
    forget_token(token_key)
    # From now on no request adds the token (SET NX fails on the tombstone). Again after
    # the commit: while the deletion was uncommitted, requests still read the token, and
    # in a transaction longer than the tombstone lives one of them could add it back.
    transaction.on_commit(lambda: forget_token(token_key))


@receiver(post_delete, sender=Token)
def _token_deleted(sender: type[Token], instance: Token, **kwargs: Any) -> None:
    _forget_now_and_after_commit(instance.key)


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def _user_saved(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    if created:
        return
    for token_key in Token.objects.filter(user_id=instance.pk).values_list("key", flat=True):
        _forget_now_and_after_commit(token_key)


class ExpiringTokenAuthentication(TokenAuthentication):
    """``Authorization: Token <key>``; an expired token is refused (401)."""

    _request: Request | None = None

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        # DRF makes an authenticator per request: the request is this one's own.
        self._request = request
        return super().authenticate(request)

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        cache_key = _key(key)
        cached = _cached_and_counted(self._request, key, cache_key)
        if cached is not None:
            user_id, created = cached
            if created + timedelta(hours=settings.TOKEN_TTL_HOURS) <= timezone.now():
                raise exceptions.AuthenticationFailed(EXPIRED)
            if cache_key not in _token_users:
                _known_user(cache_key, user_id)
            return TokenUser(user_id), key
        user, token = super().authenticate_credentials(key)
        if token_expires_at(token) <= timezone.now():
            raise exceptions.AuthenticationFailed(EXPIRED)
        remember_token(token)
        _known_user(cache_key, token.user_id)
        return user, token
