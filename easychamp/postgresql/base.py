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
    """When a connection came back (``returned``, called by the backend as it hands the
    connection back) and the pool's ``check`` (a connection goes out: an empty query if
    it was back for long enough).

    Not the pool's ``reset`` callback: with one, psycopg_pool hands every returned
    connection to its maintenance thread (a thread wake-up per request, some 5 % of a
    web process's CPU under load, and the connection unavailable until that thread ran).
    Without one, the connection is rolled back if need be and put back in the caller's
    thread."""

    def __init__(self, idle_seconds: float) -> None:
        self.idle_seconds = idle_seconds
        self._returned: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()

    def returned(self, conn: Any) -> None:
        self._returned[conn] = time.monotonic()

    def check(self, conn: Any) -> None:
        returned = self._returned.get(conn)
        if returned is None or time.monotonic() - returned >= self.idle_seconds:
            ConnectionPool.check_connection(conn)


# Each pool's IdleCheck (a pool is replaced when the settings change, in tests).
_idle_checks: weakref.WeakKeyDictionary[ConnectionPool[Any], IdleCheck] = (
    weakref.WeakKeyDictionary()
)


class DatabaseWrapper(base.DatabaseWrapper):
    def _close(self) -> None:
        # The pool the connection came from: Django's _close hands it back there.
        pool = getattr(self.connection, "_pool", None)
        idle = None if pool is None else _idle_checks.get(pool)
        if idle is not None:
            idle.returned(self.connection)
        super()._close()  # type: ignore[misc]  # untyped in django-stubs

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
                **options,
            )
            if checks:
                _idle_checks[pool] = idle
            # The first of racing threads wins, as in Django.
            pools.setdefault(self.alias, pool)
        pool_: ConnectionPool[Any] = pools[self.alias]
        return pool_
