"""The ASGI application runs Django's middleware and view in one thread hop."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import SyncToAsync, async_to_sync
from asgiref.testing import ApplicationCommunicator

from easychamp.asgi import application, django_asgi_app

pytestmark = pytest.mark.django_db(transaction=True)


async def _get(path: str) -> list[dict[str, Any]]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
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
    submitted: list[Any] = []
    asgiref_hops: list[Any] = []
    executor = django_asgi_app.executor
    original_submit = executor.submit
    original_call = SyncToAsync.__call__

    def counted_submit(fn: Any, *args: Any, **kwargs: Any) -> Any:
        submitted.append(args[0] if args else fn)
        return original_submit(fn, *args, **kwargs)

    def counted_call(self: SyncToAsync[Any, Any], *args: Any, **kwargs: Any) -> Any:
        asgiref_hops.append(self.func)
        return original_call(self, *args, **kwargs)

    monkeypatch.setattr(executor, "submit", counted_submit)
    monkeypatch.setattr(SyncToAsync, "__call__", counted_call)

    start, body = async_to_sync(_get)("/healthz")

    assert start["status"] == 200
    assert (b"X-Correlation-ID", b"one-hop") in start["headers"]
    assert body["body"] == b'{"status": "ok"}'
    # request_started, the middleware chain with the view and the response's close
    assert submitted == [django_asgi_app.respond]
    assert asgiref_hops == []


def test_start_up_objects_are_kept_out_of_the_collectors_way():
    import gc

    import easychamp.asgi  # noqa: F401 - imported by the web processes

    assert gc.get_freeze_count() > 50_000
