from django.apps import AppConfig


class SagasConfig(AppConfig):
    name = "sagas"
    verbose_name = "Sagas"

    def ready(self) -> None:
        from events.registry import registry
        from sagas import checks, engine, entries, registration  # noqa: F401 (checks)
        from sagas.events import ALL_EVENTS

        for event_class in ALL_EVENTS:
            registry.register(event_class)
        engine.register(registration.PlayerRegistrationSaga)
        engine.register(entries.TeamEntrySaga)
        entries.closing.register()
