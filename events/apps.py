from django.apps import AppConfig
from django.conf import settings


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = "Event store"

    def ready(self) -> None:
        from events import store, wakeup

        # The one process-wide registration of the wake-ups (see events.wakeup).
        if settings.EVENTS_WAKE_ON_COMMIT:
            store.on_append_committed(wakeup.request)
