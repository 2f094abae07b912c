from django.apps import AppConfig
from django.conf import settings


class ChampionshipsConfig(AppConfig):
    name = "championships"
    verbose_name = "Championships"

    def ready(self) -> None:
        from championships import handlers
        from championships.api import authentication  # noqa: F401 (its signal receivers)
        from championships.events import ALL_EVENTS, UPCASTERS
        from championships.knockout_events import KNOCKOUT_EVENTS, register_upcasters
        from events.registry import registry

        for event_class in (*ALL_EVENTS, *KNOCKOUT_EVENTS):
            registry.register(event_class)
        for event_type, from_version, upcaster in UPCASTERS:
            registry.register_upcaster(event_type, from_version, upcaster)
        register_upcasters()
        handlers.register()
        if settings.LIVE_PUSH_ON_COMMIT:
            from championships import live
            from events import store

            store.on_events_committed(live.push_committed)
