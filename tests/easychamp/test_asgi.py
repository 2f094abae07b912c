"""The ASGI application runs Django's middleware and view in one thread hop."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from typing import Any

import pytest
from asgiref.sync import SyncToAsync, async_to_sync, sync_to_async
from asgiref.testing import ApplicationCommunicator
from channels.db import database_sync_to_async
from django.db import connection
from django.urls import get_script_prefix
from rest_framework.authtoken.models import Token

from easychamp.asgi import application, django_asgi_app
from events import delivery
from tests.championships.conftest import draft, live
from tests.championships.factories import MatchFactory, UserFactory
from tests.events.workers import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def _scope(
    method: str, path: str, headers: Sequence[tuple[bytes, bytes]] = (), root_path: str = ""
) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": root_path,
        "headers": [(b"host", b"localhost"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


async def _get(path: str, root_path: str = "") -> list[dict[str, Any]]:
    scope = _scope("GET", path, [(b"x-correlation-id", b"one-hop")], root_path)
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "http.request", "body": b"", "more_body": False})
    messages = [await communicator.receive_output(10), await communicator.receive_output(10)]
    await communicator.wait(10)
    return messages


def test_a_request_crosses_to_a_thread_once_not_once_per_middleware(monkeypatch):
    hops: list[Any] = []
    original = SyncToAsync.__call__

    def counted(self: SyncToAsync[Any, Any], *args: Any, **kwargs: Any) -> Any:
        hops.append(self.func)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SyncToAsync, "__call__", counted)

    start, body = async_to_sync(_get)("/healthz")

    assert start["status"] == 200
    assert (b"X-Correlation-ID", b"one-hop") in start["headers"]
    assert body["body"] == b'{"status": "ok"}'
    # request_started, the middleware chain with the view and the response's close
    assert hops == [django_asgi_app.respond]


def test_the_script_prefix_reaches_the_request_thread(monkeypatch):
    # Served under a sub-path (a proxy's root_path): reverse(), Location headers and
    # redirects in the request's thread must carry it.
    prefixes: list[str] = []
    original = django_asgi_app.get_response

    def get_response(request: Any) -> Any:
        prefixes.append(get_script_prefix())
        return original(request)

    monkeypatch.setattr(django_asgi_app, "get_response", get_response)

    start, _ = async_to_sync(_get)("/sub/healthz", root_path="/sub")

    assert start["status"] == 200
    assert prefixes == ["/sub/"]


def test_a_requests_thread_sensitive_calls_get_a_thread_of_its_own(monkeypatch):
    # A streaming response (the SSE stream) reads the store with thread-sensitive calls
    # while it is sent: one request's must not queue behind every other's.
    threads: list[int] = []
    original = django_asgi_app.send_response

    async def send_response(response: Any, send: Any) -> None:
        threads.append(await sync_to_async(threading.get_ident)())
        await original(response, send)

    monkeypatch.setattr(django_asgi_app, "send_response", send_response)
    shared = SyncToAsync.single_thread_executor.submit(threading.get_ident).result()

    async_to_sync(_get)("/healthz")

    assert len(threads) == 1
    assert threads[0] not in {shared, threading.get_ident()}


def test_start_up_objects_are_kept_out_of_the_collectors_way():
    import gc

    import easychamp.asgi  # noqa: F401 - imported by the web processes

    assert gc.get_freeze_count() > 50_000


def _receiver(*messages: dict[str, Any]) -> Any:
    queue = list(messages)

    async def receive() -> dict[str, Any]:
        return queue.pop(0)

    return receive


def _read(*messages: dict[str, Any]) -> bytes:
    async def read() -> bytes:
        body_file = await django_asgi_app.read_body(_receiver(*messages))
        try:
            return bytes(body_file.read())
        finally:
            body_file.close()

    return async_to_sync(read)()


def test_a_body_in_one_message_is_read_whole():
    assert _read({"type": "http.request", "body": b'{"a": 1}'}) == b'{"a": 1}'
    assert _read({"type": "http.request"}) == b""


def test_a_body_in_several_messages_is_joined_in_order():
    body = _read(
        {"type": "http.request", "body": b'{"a":', "more_body": True},
        {"type": "http.request", "body": b"", "more_body": True},
        {"type": "http.request", "body": b" 1}"},
    )

    assert body == b'{"a": 1}'


def test_a_body_above_the_memory_limit_is_read_whole(settings):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1000
    big = b"x" * 1001

    assert _read({"type": "http.request", "body": big}) == big


def test_a_client_gone_before_its_body_ends_gets_no_request():
    from django.core.exceptions import RequestAborted

    with pytest.raises(RequestAborted):
        _read({"type": "http.disconnect"})
    with pytest.raises(RequestAborted):
        _read(
            {"type": "http.request", "body": b"{", "more_body": True},
            {"type": "http.disconnect"},
        )


async def _exchange(
    method: str, path: str, messages: list[dict[str, Any]], headers: list[tuple[bytes, bytes]]
) -> tuple[dict[str, Any], bytes]:
    """Send ``messages`` to the application and return the response's start and body."""
    communicator = ApplicationCommunicator(application, _scope(method, path, headers))
    for message in messages:
        await communicator.send_input(message)
    start = await communicator.receive_output(10)
    body = b""
    while True:
        part = await communicator.receive_output(10)
        body += part.get("body", b"")
        if not part.get("more_body"):
            break
    await communicator.wait(10)
    return start, body


def test_a_chunked_body_reaches_the_api_whole():
    # Given an organiser's token, and a body sent chunked (no Content-Length), in parts
    user = UserFactory.create()
    token = Token.objects.create(user=user)
    headers = [
        (b"authorization", f"Token {token.key}".encode()),
        (b"content-type", b"application/json"),
        (b"transfer-encoding", b"chunked"),
    ]
    parts = [
        {"type": "http.request", "body": b'{"name": "Chun', "more_body": True},
        {"type": "http.request", "body": b'ked Cup"}', "more_body": False},
    ]

    # When it is posted
    start, body = async_to_sync(_exchange)("POST", "/api/v1/championships/", parts, headers)

    # Then the API read it (before, DRF saw no Content-Length and parsed {}: 400 "name
    # is required", or for all-optional bodies a command run with the defaults)
    assert start["status"] == 201, body
    assert json.loads(body)["name"] == "Chunked Cup"


def test_a_body_over_the_upload_limit_is_refused_with_413_before_it_ends(settings):
    # Given a limit of 1,000 bytes, and a client that sends 1,001 and keeps sending
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    parts = [{"type": "http.request", "body": b"x" * 1001, "more_body": True}]

    # When the application has read that much
    start, body = async_to_sync(_exchange)(
        "POST", "/api/v1/championships/", parts, [(b"content-type", b"application/json")]
    )

    # Then it answers 413 in JSON at once (not after spooling the rest to disk, nor 500)
    assert start["status"] == 413
    assert json.loads(body) == {"detail": "the request body is too large: at most 1000 bytes"}


def test_an_sse_client_that_leaves_ends_its_stream():
    # Given a live match's SSE stream, open, its first frame received
    match = live(MatchFactory.create())
    path = f"/api/v1/matches/{match.id}/stream/"

    async def leave() -> tuple[int, bytes, bool]:
        communicator = ApplicationCommunicator(application, _scope("GET", path))
        await communicator.send_input({"type": "http.request", "body": b""})
        start = await communicator.receive_output(10)
        first = await communicator.receive_output(10)
        # When the client disconnects
        await communicator.send_input({"type": "http.disconnect"})
        # (wait() cancels an application still running after 10 s, silently)
        await communicator.wait(10)
        future = communicator.future
        return start["status"], first["body"], future.done() and not future.cancelled()

    status, first, ended_by_itself = async_to_sync(leave)()

    assert status == 200
    assert first.startswith(b"retry:")
    # Then the request ended by itself (its generator stopped, its thread let go):
    # before, the stream ran on for good, polling the store, as the server's send to a
    # closed connection does not fail
    assert ended_by_itself


async def _open_stream(match: Any) -> ApplicationCommunicator:
    """A client on ``match``'s SSE stream (scheduled, started), past what it had."""
    path = f"/api/v1/matches/{match.id}/stream/"
    communicator = ApplicationCommunicator(application, _scope("GET", path))
    await communicator.send_input({"type": "http.request", "body": b""})
    for _ in range(4):  # start, retry:, MatchScheduled, MatchStarted
        await communicator.receive_output(10)
    return communicator


async def _ends_by_itself(communicator: ApplicationCommunicator) -> bool:
    """Whether the response comes to its end (within 15 s) and the request with it."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        output = await communicator.receive_output(10)
        if not output.get("more_body"):
            break
    await communicator.wait(1)
    return communicator.future.done() and not communicator.future.cancelled()


def test_an_sse_stream_ends_when_its_championship_becomes_a_draft():
    # Given a live match's SSE stream, open
    match = live(MatchFactory.create())

    async def watch() -> bool:
        communicator = await _open_stream(match)
        # When the organiser makes the championship a draft, and that is delivered
        await database_sync_to_async(draft)(match)
        await database_sync_to_async(delivery.deliver_all)()
        # Then the stream ends by itself (before, it went on with the draft's goals)
        return await _ends_by_itself(communicator)

    assert async_to_sync(watch)()


def test_a_body_declared_over_the_upload_limit_is_refused_before_any_is_read(settings):
    # Given a limit of 1,000 bytes, and a request announcing 5,000 (nothing sent yet)
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    headers = [(b"content-type", b"application/json"), (b"content-length", b"5000")]

    # When it reaches the application
    start, body = async_to_sync(_exchange)("POST", "/api/v1/championships/", [], headers)

    # Then it is refused at once (no 100 Continue, nothing read), and the connection is
    # not kept alive for the server to read and discard the rest
    assert start["status"] == 413
    assert (b"Connection", b"close") in start["headers"]
    assert json.loads(body)["detail"].startswith("the request body is too large")


def _other_sessions() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        (count,) = cursor.fetchone()
    return int(count)


def test_an_sse_request_hands_its_database_connections_back():
    # Given a live match, and the sessions open on the database before its stream
    match = live(MatchFactory.create())
    before = _other_sessions()

    # When a client opens its SSE stream and leaves
    async def leave() -> None:
        communicator = await _open_stream(match)
        await communicator.send_input({"type": "http.disconnect"})
        await communicator.wait(10)

    async_to_sync(leave)()

    # Then no thread of the request keeps a connection: before, the thread that ran the
    # view kept the one its visibility check took, until it served another request
    # (with the pool's size of threads, a few streams took every pooled connection)
    wait_for(lambda: _other_sessions() <= before, 10, "the request's connections closed")


def test_an_sse_stream_whose_draft_notice_was_lost_ends_at_its_next_poll(monkeypatch):
    # Given an open SSE stream polling often, and its championship made a draft with
    # no push reaching it (pushes are at most once; here nothing is delivered)
    from championships.api.views import stream

    monkeypatch.setattr(stream, "POLL_SECONDS", 0.2)
    match = live(MatchFactory.create())

    async def watch() -> bool:
        communicator = await _open_stream(match)
        await database_sync_to_async(draft)(match)
        # When it polls: then it ends by itself
        return await _ends_by_itself(communicator)

    assert async_to_sync(watch)()
