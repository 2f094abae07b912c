from django.apps import AppConfig


class SagasConfig(AppConfig):
    name = "sagas"
    verbose_name = "Sagas"

    def ready(self) -> None:
        from django.db.models.signals import post_delete

        from championships.commands import championship as championship_commands
        from events.registry import registry
        from sagas import checks, engine, entries, registration  # noqa: F401 (checks)
        from sagas.events import ALL_EVENTS
        from sagas.models import PlayerProfile

        for event_class in ALL_EVENTS:
            registry.register(event_class)
        engine.register(registration.PlayerRegistrationSaga)
        post_delete.connect(
            registration.leave_league_when_deleted,
            sender=PlayerProfile,
            dispatch_uid="sagas.leave_league_when_deleted",
        )
        engine.register(entries.TeamEntrySaga)
        entries.closing.register()
        if entries.entry_names_held not in championship_commands.name_holders:
            championship_commands.name_holders.append(entries.entry_names_held)
