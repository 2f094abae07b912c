"""The ASGI application: HTTP through Django, websockets through Channels."""

import asyncio
import gc
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import django
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.base import BaseHandler
from django.db import connections
from django.http import FileResponse, HttpResponseBase, JsonResponse
from django.urls import set_script_prefix

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "easychamp.settings")
django.setup(set_prefix=False)


class OneHopASGIHandler(ASGIHandler):
    """Django's ASGI handler, serving each request in one hop to a thread of a fixed pool.

    Stock Django adapts each synchronous middleware on its own in an async chain, and
    runs the request_started signal, the chain and the response's close in a thread
    created for the request: with our eleven middleware a request crossed between the
    event loop and threads some twenty times, about 4 ms of CPU for a bare /healthz.
    Every HTTP view here is synchronous, so one thread of WEB_THREADS runs all of a
    request at once: the signal, the middleware, the view and, for a response already
    rendered, its close (request_finished hands the database connection back to the
    pool before the bytes go out). Each thread holds at most one database connection,
    so WEB_THREADS defaults to the pool's size.

    The hop is asgiref's ``sync_to_async``, inside the ThreadSensitiveContext stock
    Django enters for each request, not a bare ``run_in_executor``: it carries the
    request's Locals (the script prefix) over to the thread and tells the thread the
    server's loop, and the context gives a streaming response's thread-sensitive calls
    (the SSE stream's reads) a thread of the request's own, not one for the process.
    """

    def __init__(self) -> None:
        BaseHandler.__init__(self)
        self.load_middleware(is_async=False)
        self.executor = ThreadPoolExecutor(settings.WEB_THREADS, thread_name_prefix="request")
        # Made once: asgiref's wrapper inspects the function when it is made.
        self._respond = sync_to_async(self.respond, thread_sensitive=False, executor=self.executor)

    async def handle(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if _declared_too_large(scope):
            # Refused before reading a byte (nor a 100 Continue sent).
            await self.send_response(_too_large(), send)
            return
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        except _BodyTooLarge:
            await self.send_response(_too_large(), send)
            return
        set_script_prefix(get_script_prefix(scope))
        try:
            response = await self._respond(scope, body_file)
            if response.streaming:
                await self._stream(response, receive, send)
            else:
                await self.send_response(response, send)
        finally:
            body_file.close()

    async def read_body(self, receive: Any) -> Any:
        """The body, spooled to a file past FILE_UPLOAD_MAX_MEMORY_SIZE, as Django reads
        it; but no more than DATA_UPLOAD_MAX_MEMORY_SIZE bytes (no view here takes file
        uploads): stock Django would spool a body of any size to disk, announced or
        chunked, before anything looked at it."""
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        # Handed to the caller, which closes it.
        body_file = tempfile.SpooledTemporaryFile(  # noqa: SIM115
            max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE, mode="w+b"
        )
        size = 0
        try:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise RequestAborted()
                chunk = message.get("body", b"")
                size += len(chunk)
                if limit is not None and size > limit:
                    raise _BodyTooLarge()
                body_file.write(chunk)
                if not message.get("more_body", False):
                    break
        except BaseException:
            body_file.close()
            raise
        body_file.seek(0)
        return body_file

    async def _stream(self, response: HttpResponseBase, receive: Any, send: Any) -> None:
        """Send a streaming response (the SSE stream) until it ends or the client leaves.

        The server's ``send`` to a closed connection returns without an error, so only
        the ``http.disconnect`` message tells that the client is gone; then the
        response's generator is cancelled (its ``finally`` leaves the channel group) and
        the request's thread is let go. Stock Django listens the same way."""
        sending = asyncio.ensure_future(self.send_response(response, send))
        listening = asyncio.ensure_future(self.listen_for_disconnect(receive))
        try:
            await asyncio.wait({sending, listening}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sending, listening):
                task.cancel()
            await asyncio.gather(sending, listening, return_exceptions=True)
            await sync_to_async(response.close)()
        failure = None if sending.cancelled() else sending.exception()
        if failure is not None:
            raise failure

    def respond(self, scope: dict[str, Any], body_file: Any) -> HttpResponseBase:
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, error_response = self.create_request(scope, body_file)
        if request is not None and not request.META.get("CONTENT_LENGTH"):
            # A chunked body has no Content-Length, and DRF reads no body without one:
            # its data would silently be {}. The body is whole here: tell its length.
            size = body_file.seek(0, os.SEEK_END)
            body_file.seek(0)
            if size:
                request.META["CONTENT_LENGTH"] = str(size)
        response: Any = error_response if request is None else self.get_response(request)
        response._handler_class = self.__class__
        if isinstance(response, FileResponse):
            response.block_size = self.chunk_size
        if response.streaming:
            # Sent, then closed (request_finished) from other threads: whatever the view
            # used here (the SSE stream's visibility check) goes back to the pool now,
            # not when this thread happens to serve another request.
            connections.close_all()
        else:
            response.close()
        return response


class _BodyTooLarge(Exception):
    pass


def _declared_too_large(scope: dict[str, Any]) -> bool:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if limit is None:
        return False
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return value.isdigit() and (len(value) > 18 or int(value) > limit)
    return False


def _too_large() -> JsonResponse:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    response = JsonResponse(
        {"detail": f"the request body is too large: at most {limit} bytes"}, status=413
    )
    # The rest of the body is not read: the server closes the connection after this
    # response instead of reading (and discarding) it for keep-alive.
    response["Connection"] = "close"
    return response


django_asgi_app = OneHopASGIHandler()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from easychamp.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # The live channels are public (no scope user): without Channels' auth stack,
        # a connect reads no session and no user on the process's shared thread.
        "websocket": AllowedHostsOriginValidator(URLRouter(websocket_urlpatterns)),
    }
)

# What start-up built (Django, DRF, the URL patterns, the models: some 130,000 objects)
# lives as long as the process: moved out of the collector's reach, a full collection
# no longer walks it (55 ms, with every request of the process waiting on the GIL).
gc.freeze()
