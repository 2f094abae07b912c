"""Websocket routes of every app, collected in one place for the ASGI router."""

from django.urls import URLPattern

from championships.routing import websocket_urlpatterns as championship_routes

websocket_urlpatterns: list[URLPattern] = [*championship_routes]
