"""A request that waits on a lock gives up after DATABASE_STATEMENT_TIMEOUT with a 503,
in a web process as deployed, instead of holding its thread for as long as the lock is
held; nothing of it is written, and the same request succeeds once the lock is gone."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from email.message import Message

import psycopg
import pytest
from django.db import connection
from rest_framework.authtoken.models import Token

from bench.workers import database_url
from championships.models import Match
from events import store
from tests.championships.conftest import live
from tests.championships.factories import MatchFactory
from tests.championships.servers import WebServer

TIMEOUT = 2.0

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.xdist_group("workers"),
]


def post_goal(server: WebServer, match: Match, token: str) -> tuple[int, Message, bytes]:
    request = urllib.request.Request(
        f"{server.url}/api/v1/matches/{match.id}/goals/",
        data=json.dumps({"team": str(match.home_team_id), "minute": 30}).encode(),
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def test_a_goal_waiting_on_a_locked_match_gets_a_503_and_writes_nothing(
    web_servers: Callable[..., WebServer],
):
    if connection.vendor != "postgresql":
        pytest.fail("needs DATABASE_URL=postgres://...")
    match = live(MatchFactory.create())
    token = Token.objects.create(user=match.championship.owner).key
    # Long enough that no statement of a healthy request on a loaded machine reaches it.
    server = web_servers("timeout", {"DATABASE_STATEMENT_TIMEOUT": str(TIMEOUT)})
    # Given another transaction holding the match's row (an organiser's long edit)
    with psycopg.connect(database_url()) as holder:
        holder.execute(f"SELECT 1 FROM {Match._meta.db_table} WHERE id = %s FOR UPDATE", [match.id])

        # When a goal is posted for it
        started = time.monotonic()
        status, headers, body = post_goal(server, match, token)
        waited = time.monotonic() - started

        # Then the request gives up with a 503 the client may retry, once the statement
        # waited for the timeout (not at once, for some other reason)
        assert status == 503, body
        assert waited >= TIMEOUT
        assert headers.get("Content-Type") == "application/json"
        assert headers.get("Retry-After") == "2"
        assert "retry" in json.loads(body)["detail"]
        holder.rollback()

    # and nothing of it was written: once the lock is gone the same goal is the next event
    assert store.stream_version(str(match.id)) == match.version
    status, _, body = post_goal(server, match, token)
    assert status == 200, body
    assert json.loads(body)["home_score"] == 1
    assert store.stream_version(str(match.id)) == match.version + 1
