"""Django's ``flush``, through the event store's purge switch.

Emptying the whole database is a deliberate purge: the append-only trigger would refuse
it otherwise (TRUNCATE on PostgreSQL, DELETE on SQLite). The test framework empties the
database with this command after each transactional test.
"""

from __future__ import annotations

from typing import Any

from django.core.management.commands import flush

from events.purge import allow_event_purge


class Command(flush.Command):
    def handle(self, **options: Any) -> None:
        with allow_event_purge(using=options["database"]):
            super().handle(**options)
