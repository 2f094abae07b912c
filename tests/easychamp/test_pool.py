"""The PostgreSQL connection pool: prepared statements survive it, and a request that
cannot get a connection in time is a clean 503."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from django.db import OperationalError, connection
from django.test import Client
from psycopg_pool import ConnectionPool

from bench.probe import ProbeTicked
from events import store

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

APPEND = "%INSERT INTO event_store%"


@pytest.fixture
def one_connection_pool() -> Iterator[ConnectionPool]:
    """This process's pool replaced by one of one connection, with a short wait for it."""
    yield from _one_connection_pool(check_idle=1.0)


def _one_connection_pool(check_idle: float) -> Iterator[ConnectionPool]:
    wrapper: Any = connection  # the PostgreSQL backend's pool API
    options = wrapper.settings_dict["OPTIONS"]
    saved = options["pool"]
    wrapper.close()
    wrapper.close_pool()
    options["pool"] = {"min_size": 1, "max_size": 1, "timeout": 0.3, "check_idle": check_idle}
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


@pytest.fixture
def checked_every_time() -> Iterator[ConnectionPool]:
    yield from _one_connection_pool(check_idle=0.0)


@pytest.fixture
def checked_after_an_hour() -> Iterator[ConnectionPool]:
    yield from _one_connection_pool(check_idle=3600.0)


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid: int = cursor.fetchone()[0]
    return pid


def _terminate(pid: int) -> None:
    """Break a pooled connection as a database restart would, from another connection."""
    settings = connection.settings_dict
    with psycopg.connect(
        host=settings["HOST"],
        port=settings["PORT"] or 5432,
        user=settings["USER"],
        dbname=settings["NAME"],
        autocommit=True,
    ) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
        # Gone once the server no longer lists it.
        for _ in range(200):
            gone = other.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid])
            if gone.fetchone() is None:
                return
            other.execute("SELECT pg_sleep(0.01)")
    raise AssertionError(f"backend {pid} still running")


def test_a_connection_that_sat_idle_is_checked_and_a_broken_one_replaced(checked_every_time):
    # Given the pool's connection, back in the pool, broken behind its back
    pid = _backend_pid()
    connection.close()
    _terminate(pid)

    # When the next request takes a connection (it sat idle for longer than check_idle)
    new_pid = _backend_pid()

    # Then the check saw it broken and the pool handed out a new one
    assert new_pid != pid


def test_a_connection_handed_back_a_moment_ago_is_handed_out_unchecked(checked_after_an_hour):
    # Given the pool's connection, back in the pool, broken behind its back
    pid = _backend_pid()
    connection.close()
    _terminate(pid)

    # When the next request takes it (handed back less than check_idle ago): no round
    # trip proved it alive, so the request's own query is the one that fails
    with pytest.raises(OperationalError):
        _backend_pid()
    connection.close()

    # Then the pool discarded it, and the request after gets a working connection
    assert _backend_pid() != pid


def test_a_connection_is_back_in_the_pool_as_soon_as_it_is_handed_back(checked_every_time):
    # Given the pool's only connection, in use
    pid = _backend_pid()
    assert checked_every_time.get_stats()["pool_available"] == 0

    # When the request hands it back
    connection.close()

    # Then it is available at once: put back in this thread, not queued for the pool's
    # maintenance thread (a wake-up per request, and a connection out of reach meanwhile)
    assert checked_every_time.get_stats()["pool_available"] == 1
    # and, having been back for longer than check_idle (0), it is checked and handed out
    assert _backend_pid() == pid


def test_a_connection_handed_back_inside_a_transaction_is_rolled_back(checked_every_time):
    # Given a connection returned while its transaction was still open
    connection.ensure_connection()
    raw: Any = connection.connection
    raw.execute("BEGIN")
    raw.execute("CREATE TEMPORARY TABLE handed_back (n int)")
    connection.close()

    # When the next request takes it
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_tables WHERE tablename = 'handed_back'")
        (found,) = cursor.fetchone()

    # Then the open transaction was rolled back by the pool, not carried into it
    assert found == 0
