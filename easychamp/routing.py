"""Websocket routes of every app, collected in one place for the ASGI router."""

from django.urls import URLPattern, re_path

from championships.consumers import refuse_websocket
from championships.routing import websocket_urlpatterns as championship_routes

websocket_urlpatterns: list[URLPattern] = [
    *championship_routes,
    # Anything else is refused (4404), not a "No route found" error logged per attempt.
    re_path(r"", refuse_websocket),  # type: ignore[arg-type]  # an ASGI app, as Channels routes
]
