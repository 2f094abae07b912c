"""The ASGI application: HTTP through Django, websockets through Channels."""

import gc
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import django
from asgiref.sync import sync_to_async
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.base import BaseHandler
from django.http import FileResponse, HttpResponseBase
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
        from django.conf import settings

        self.executor = ThreadPoolExecutor(settings.WEB_THREADS, thread_name_prefix="request")
        # Made once: asgiref's wrapper inspects the function when it is made.
        self._respond = sync_to_async(self.respond, thread_sensitive=False, executor=self.executor)

    async def handle(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        set_script_prefix(get_script_prefix(scope))
        try:
            response = await self._respond(scope, body_file)
            await self.send_response(response, send)
            if response.streaming:
                await sync_to_async(response.close)()
        finally:
            body_file.close()

    def respond(self, scope: dict[str, Any], body_file: Any) -> HttpResponseBase:
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, error_response = self.create_request(scope, body_file)
        response: Any = error_response if request is None else self.get_response(request)
        response._handler_class = self.__class__
        if isinstance(response, FileResponse):
            response.block_size = self.chunk_size
        if not response.streaming:
            response.close()
        return response


django_asgi_app = OneHopASGIHandler()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from easychamp.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)

# What start-up built (Django, DRF, the URL patterns, the models: some 130,000 objects)
# lives as long as the process: moved out of the collector's reach, a full collection
# no longer walks it (55 ms, with every request of the process waiting on the GIL).
gc.freeze()
