"""Websocket routes of the live pages (collected by easychamp.routing)."""

from django.urls import URLPattern, path

from championships.consumers import ChampionshipConsumer, MatchConsumer

websocket_urlpatterns: list[URLPattern] = [
    path("ws/matches/<uuid:id>/", MatchConsumer.as_asgi()),
    path("ws/championships/<uuid:id>/", ChampionshipConsumer.as_asgi()),
]
