"""DATABASE_STATEMENT_TIMEOUT: set on PostgreSQL connections as they start; the web
processes default to 30 s, every other process to none."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from bench.workers import database_url
from easychamp import web
from easychamp.database import database_from_url
from easychamp.env import env_seconds

ROOT = Path(__file__).resolve().parents[2]


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

    with psycopg.connect(database_url(), options=options) as conn:
        shown = conn.execute("SHOW statement_timeout").fetchone()
        with pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute("SELECT pg_sleep(5)")

    assert shown == ("250ms",)


@pytest.fixture
def ran_web(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, object]]:
    calls: list[dict[str, object]] = []
    monkeypatch.setattr(web.uvicorn, "run", lambda *args, **kwargs: calls.append(kwargs))
    return calls


@pytest.mark.parametrize("unset", [None, "", "  "])
def test_the_web_processes_default_to_thirty_seconds(monkeypatch, ran_web, unset):
    # Set first, so that monkeypatch restores the environment as it was after the test.
    monkeypatch.setenv("DATABASE_STATEMENT_TIMEOUT", "unset below")
    if unset is None:
        monkeypatch.delenv("DATABASE_STATEMENT_TIMEOUT")
    else:
        monkeypatch.setenv("DATABASE_STATEMENT_TIMEOUT", unset)

    web.main()

    assert ran_web, "uvicorn was not started"
    assert os.environ["DATABASE_STATEMENT_TIMEOUT"] == "30"


def test_a_timeout_set_for_the_web_processes_is_kept(monkeypatch, ran_web):
    monkeypatch.setenv("DATABASE_STATEMENT_TIMEOUT", "5")

    web.main()

    assert os.environ["DATABASE_STATEMENT_TIMEOUT"] == "5"


# uvicorn runs a single worker (WEB_CONCURRENCY=1) in the process that called main():
# the settings that process builds must see the web default.
SETTINGS_AFTER_MAIN = """
import sys, uvicorn
import easychamp.web
assert "easychamp.settings" not in sys.modules, "imported before main() set its defaults"
def run(*args, **kwargs):
    from django.conf import settings
    print(settings.DATABASES["default"]["OPTIONS"].get("options"))
uvicorn.run = run
easychamp.web.main()
"""


def test_a_single_web_worker_in_the_main_process_gets_the_default():
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_STATEMENT_TIMEOUT"}
    env |= {"DATABASE_URL": "postgres://u@db.invalid/x", "WEB_CONCURRENCY": "1"}

    done = subprocess.run(
        [sys.executable, "-c", SETTINGS_AFTER_MAIN],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "-c statement_timeout=30000"


@pytest.mark.parametrize(
    ("raw", "expected"), [("", 7.0), ("0", 0.0), ("2.5", 2.5), (" 30 ", 30.0), ("100", 100.0)]
)
def test_durations_from_the_environment(monkeypatch, raw, expected):
    monkeypatch.setenv("SOME_TIMEOUT", raw)

    assert env_seconds("SOME_TIMEOUT", default=7, maximum=100) == expected


@pytest.mark.parametrize("raw", ["30s", "abc", "-1", "nan", "inf", "101"])
def test_a_duration_that_is_not_one_is_refused_by_name(monkeypatch, raw):
    monkeypatch.setenv("SOME_TIMEOUT", raw)

    with pytest.raises(ImproperlyConfigured, match="SOME_TIMEOUT"):
        env_seconds("SOME_TIMEOUT", default=7, maximum=100)
