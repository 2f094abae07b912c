"""The PostgreSQL connection pool: prepared statements survive it, and a request that
cannot get a connection in time is a clean 503."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from psycopg_pool import ConnectionPool

from bench.probe import ProbeTicked
from events import store

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

APPEND = "%INSERT INTO event_store%"


@pytest.fixture
def one_connection_pool() -> Iterator[ConnectionPool]:
    """This process's pool replaced by one of one connection, with a short wait for it."""
    wrapper: Any = connection  # the PostgreSQL backend's pool API
    options = wrapper.settings_dict["OPTIONS"]
    saved = options["pool"]
    wrapper.close()
    wrapper.close_pool()
    options["pool"] = {"min_size": 1, "max_size": 1, "timeout": 0.3}
    try:
        pool = wrapper.pool
        assert pool is not None
        yield pool
    finally:
        wrapper.close()
        wrapper.close_pool()
        options["pool"] = saved


def _append_prepared() -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT prepare_time, generic_plans + custom_plans FROM pg_prepared_statements "
            "WHERE statement LIKE %s AND NOT from_sql ORDER BY prepare_time",
            [APPEND],
        )
        return cursor.fetchall()


def test_a_pooled_connection_keeps_the_event_stores_prepared_statements(one_connection_pool):
    # Given a stream appended to once, and its connection handed back to the pool
    stream_id = f"probe-{uuid.uuid4()}"
    store.append(stream_id, [ProbeTicked(n=1)], 0, stream_type="probe")
    (first,) = _append_prepared()
    connection.close()

    # When two later "requests" append, each on a connection from the pool
    for version in (1, 2):
        store.append(stream_id, [ProbeTicked(n=version + 1)], version, stream_type="probe")
        connection.close()

    # Then both statements (a new stream's, a moving one's) were each prepared once, on
    # the one physical connection, and the second ran twice
    create, move = _append_prepared()
    assert create == first
    assert move[1] == 2


def _get(path: str, results: list[Any]) -> None:
    results.append(Client().get(path, HTTP_ACCEPT="application/json"))


@pytest.mark.parametrize(
    "path", ["/healthz", "/api/v1/matches/6d0c3b8e-0000-4c55-9a51-6e2a1c0de001/"]
)
def test_no_free_connection_in_time_is_a_503_with_retry_after(one_connection_pool, path):
    # Given the pool's only connection held by this thread
    connection.ensure_connection()
    results: list[Any] = []

    # When a request in another thread needs one
    thread = threading.Thread(target=_get, args=(path, results))
    thread.start()
    thread.join(timeout=30)

    # Then it waits for the pool's timeout and answers 503 with a JSON body
    (response,) = results
    assert response.status_code == 503
    assert response["Retry-After"] == "2"
    assert "unavailable" in response.json()["detail"]
