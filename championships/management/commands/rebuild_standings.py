from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from championships.management.options import chosen_championships
from championships.models import Championship
from championships.projections import rebuild_standings


class Command(BaseCommand):
    help = "Rebuild the standings projection from the event store, showing progress."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--championship", help="only this championship (its id)")

    def handle(self, *args: Any, **options: Any) -> None:
        championship_id = None
        if options["championship"] is not None:
            chosen = chosen_championships(options["championship"], Championship.objects.all())
            championship_id = chosen.get().id
        started = time.perf_counter()

        def progress(replayed: int) -> None:
            rate = replayed / max(time.perf_counter() - started, 1e-9)
            self.stderr.write(f"\r{replayed} events replayed ({rate:,.0f}/s)", ending="")
            self.stderr.flush()

        replayed = rebuild_standings(championship_id, progress=progress)
        elapsed = time.perf_counter() - started
        self.stderr.write("")
        self.stdout.write(f"Rebuilt the standings from {replayed} events in {elapsed:.2f}s.")
