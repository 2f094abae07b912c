"""DATABASE_STATEMENT_TIMEOUT: set on PostgreSQL connections as they start; the web
processes default to 30 s, every other process to none."""

from __future__ import annotations

import os

import psycopg
import pytest
from django.db import connection

from easychamp import web
from easychamp.database import database_from_url


def test_the_timeout_goes_into_libpq_options_in_milliseconds():
    config = database_from_url("postgres://u:p@db/champ", statement_timeout=1.5)

    assert config["OPTIONS"]["options"] == "-c statement_timeout=1500"


def test_options_from_the_url_are_kept():
    config = database_from_url(
        "postgres://u:p@db/champ?options=-c%20search_path%3Dx", statement_timeout=2
    )

    assert config["OPTIONS"]["options"] == "-c search_path=x -c statement_timeout=2000"


def test_no_timeout_by_default_and_none_for_sqlite(tmp_path):
    assert "options" not in database_from_url("postgres://u:p@db/champ")["OPTIONS"]
    sqlite = database_from_url(f"sqlite:///{tmp_path / 'db.sqlite3'}", statement_timeout=5)
    assert "options" not in sqlite["OPTIONS"]


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgresql_takes_the_option_as_the_connection_starts():
    if connection.vendor != "postgresql":
        pytest.fail("needs DATABASE_URL=postgres://...")
    options = database_from_url("postgres://x/y", statement_timeout=0.25)["OPTIONS"]["options"]
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("pool", None)
    params.pop("prepare_threshold", None)

    with psycopg.connect(**params, options=options) as conn:
        shown = conn.execute("SHOW statement_timeout").fetchone()
        with pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute("SELECT pg_sleep(5)")

    assert shown == ("250ms",)


@pytest.fixture
def ran_web(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, object]]:
    calls: list[dict[str, object]] = []
    monkeypatch.setattr(web.uvicorn, "run", lambda *args, **kwargs: calls.append(kwargs))
    return calls


def test_the_web_processes_default_to_thirty_seconds(monkeypatch, ran_web):
    # Set first, so that monkeypatch restores the environment as it was after the test.
    monkeypatch.setenv("DATABASE_STATEMENT_TIMEOUT", "unset below")
    monkeypatch.delenv("DATABASE_STATEMENT_TIMEOUT")

    web.main()

    assert ran_web, "uvicorn was not started"
    assert os.environ["DATABASE_STATEMENT_TIMEOUT"] == "30"


def test_a_timeout_set_for_the_web_processes_is_kept(monkeypatch, ran_web):
    monkeypatch.setenv("DATABASE_STATEMENT_TIMEOUT", "5")

    web.main()

    assert os.environ["DATABASE_STATEMENT_TIMEOUT"] == "5"
