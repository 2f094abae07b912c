"""The database settings for a DATABASE_URL (SQLite when none is given)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

# PostgreSQL keeps statement_timeout in milliseconds, in a 32-bit integer.
MAX_STATEMENT_TIMEOUT = 2_147_483


@dataclass(frozen=True)
class Pool:
    """Django's native PostgreSQL pool (psycopg_pool), one per process.

    Each process holds at most ``max_size`` connections, whatever its number of threads:
    a request waits up to ``timeout`` seconds for one, then gets a 503 (PoolTimeout).
    """

    min_size: int = 1
    max_size: int = 8
    timeout: float = 5.0
    # A connection handed out is checked (one empty round trip) only if it sat in the
    # pool for this long (easychamp.postgresql).
    check_idle: float = 1.0

    def __post_init__(self) -> None:
        # psycopg_pool would refuse these only at the first connection, on every request.
        if not 0 <= self.min_size <= self.max_size or self.max_size < 1:
            raise ImproperlyConfigured(
                f"the pool's sizes must be 0 <= minimum <= maximum and maximum >= 1, not "
                f"{self.min_size} and {self.max_size} (DATABASE_POOL_MIN_SIZE, _MAX_SIZE)"
            )

    def options(self) -> dict[str, Any]:
        return {
            "min_size": self.min_size,
            "max_size": self.max_size,
            "timeout": self.timeout,
            "check_idle": self.check_idle,
        }


def database_from_url(
    url: str,
    *,
    prepared_statements: bool = True,
    pool: Pool | None = None,
    statement_timeout: float = 0,
) -> dict[str, Any]:
    """Django's settings for ``url``. ``statement_timeout`` (seconds; 0: none): on
    PostgreSQL, a statement that runs (or waits for a lock) longer is cancelled by the
    server, so a request holds its thread and its connection for at most that long."""
    config: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=60))
    if config["ENGINE"] == "django.db.backends.sqlite3":
        config["CONN_MAX_AGE"] = 0
        config["OPTIONS"] = {
            # Writers take the lock at BEGIN, so concurrent writers wait (up to the
            # timeout) instead of failing on the read-to-write lock upgrade.
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
        return config
    options = config.setdefault("OPTIONS", {})
    # Django's backend, but with a pool that checks a connection as it hands it out
    # only when it sat idle (easychamp.postgresql): a connection broken by a database
    # restart is replaced, not used, without a round trip per request.
    if config["ENGINE"] == "django.db.backends.postgresql":
        config["ENGINE"] = "easychamp.postgresql"
    config["CONN_HEALTH_CHECKS"] = True
    if pool is not None:
        # A closed connection goes back to the pool (its prepared statements with it),
        # so "persistent" connections are the pool's business.
        config["CONN_MAX_AGE"] = 0
        options["pool"] = pool.options()
    # Django's own queries bind client-side and are never prepared; this lets the
    # event store prepare its few hot statements (events.store), once per physical
    # connection: a pooled connection keeps them from one request to the next. Turn it
    # off behind a pooler in transaction mode (PgBouncer), which cannot keep them.
    if prepared_statements:
        options["prepare_threshold"] = 100
    if statement_timeout > 0 and config["ENGINE"] == "easychamp.postgresql":
        # Sent as the connection starts (libpq's options): no round trip per request.
        # PgBouncer refuses startup options: behind it, set 0 and give the role a
        # statement_timeout on the server (README, "Configuration").
        setting = f"-c statement_timeout={max(1, round(statement_timeout * 1000))}"
        options["options"] = f"{options.get('options', '')} {setting}".strip()
    return config
