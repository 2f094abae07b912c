from django.apps import AppConfig
from django.conf import settings


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = "Event store"

    def ready(self) -> None:
        from events import store, wakeup

        if getattr(settings, "EVENTS_WAKE_ON_COMMIT", True):
            store.on_append_committed(wakeup.request)
