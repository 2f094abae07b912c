"""Websocket routes of every app, collected in one place for the ASGI router."""

from django.urls import URLPattern

websocket_urlpatterns: list[URLPattern] = []
