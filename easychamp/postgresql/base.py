"""Django's PostgreSQL backend whose pool checks a connection only after it sat idle.

Django's pool (``CONN_HEALTH_CHECKS``) checks every connection it hands out with an
empty query: one more round trip per request, for connections that were in use a
millisecond earlier. Here a connection is checked only when it was returned to the pool
more than ``check_idle`` seconds ago (the ``pool`` option, seconds; 0 checks every
time): after a quiet spell, the likely time for a database restart to have broken it
unseen. A connection broken while busy fails its request (the API answers 503) and is
discarded by the pool as it comes back, as with Django's check.
"""

from __future__ import annotations

import time
import weakref
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db.backends.base.base import NO_DB_ALIAS
from django.db.backends.postgresql import base
from psycopg_pool import ConnectionPool

DEFAULT_CHECK_IDLE_SECONDS = 1.0


class IdleCheck:
    """The pool's ``reset`` (a connection comes back: note when) and ``check`` (a
    connection goes out: an empty query if it was back for long enough)."""

    def __init__(self, idle_seconds: float) -> None:
        self.idle_seconds = idle_seconds
        self._returned: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()

    def reset(self, conn: Any) -> None:
        self._returned[conn] = time.monotonic()

    def check(self, conn: Any) -> None:
        returned = self._returned.get(conn)
        if returned is None or time.monotonic() - returned >= self.idle_seconds:
            ConnectionPool.check_connection(conn)


class DatabaseWrapper(base.DatabaseWrapper):
    @property
    def pool(self) -> ConnectionPool[Any] | None:
        options = self.settings_dict["OPTIONS"].get("pool")
        if self.alias == NO_DB_ALIAS or not options:
            return None
        django_wrapper: Any = self  # its pool internals are untyped in django-stubs
        pools: dict[str, ConnectionPool[Any]] = django_wrapper._connection_pools
        if self.alias not in pools:
            if self.settings_dict.get("CONN_MAX_AGE", 0) != 0:
                raise ImproperlyConfigured("Pooling doesn't support persistent connections.")
            options = {} if options is True else dict(options)
            idle = IdleCheck(float(options.pop("check_idle", DEFAULT_CHECK_IDLE_SECONDS)))
            checks = self.settings_dict["CONN_HEALTH_CHECKS"]
            connect_kwargs = self.get_connection_params()
            # As Django: autocommit until Django sets it per use.
            connect_kwargs["autocommit"] = True
            pool = ConnectionPool(
                kwargs=connect_kwargs,
                open=False,
                configure=django_wrapper._configure_connection,
                check=idle.check if checks else None,
                reset=idle.reset if checks else None,
                **options,
            )
            # The first of racing threads wins, as in Django.
            pools.setdefault(self.alias, pool)
        pool_: ConnectionPool[Any] = pools[self.alias]
        return pool_
