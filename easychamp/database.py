"""The database settings for a DATABASE_URL (SQLite when none is given)."""

from __future__ import annotations

from typing import Any

import dj_database_url


def database_from_url(url: str, *, prepared_statements: bool = True) -> dict[str, Any]:
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
    else:
        config["CONN_HEALTH_CHECKS"] = True
        # Django's own queries bind client-side and are never prepared; this lets the
        # event store prepare its few hot statements (events.store). Turn it off behind a
        # pooler in transaction mode (PgBouncer), which cannot keep prepared statements.
        if prepared_statements:
            config.setdefault("OPTIONS", {})["prepare_threshold"] = 100
    return config
