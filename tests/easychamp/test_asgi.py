"""The ASGI application runs Django's middleware and view in one thread hop."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from asgiref.sync import SyncToAsync, async_to_sync, sync_to_async
from asgiref.testing import ApplicationCommunicator
from django.urls import get_script_prefix

from easychamp.asgi import application, django_asgi_app

pytestmark = pytest.mark.django_db(transaction=True)


async def _get(path: str, root_path: str = "") -> list[dict[str, Any]]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": root_path,
        "headers": [(b"host", b"localhost"), (b"x-correlation-id", b"one-hop")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
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
