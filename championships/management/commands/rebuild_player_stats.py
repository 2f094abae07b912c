from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from championships.management.options import chosen_championships
from championships.models import Championship
from championships.projections.players import rebuild_player_stats


class Command(BaseCommand):
    help = "Rebuild the player statistics (scorers, cards) from the event store."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--championship", help="only this championship (its id)")

    def handle(self, *args: Any, **options: Any) -> None:
        championships = chosen_championships(
            options["championship"], Championship.objects.order_by("id")
        )
        started = time.perf_counter()
        replayed = 0
        # One transaction per championship: each holds only its own championship's lock.
        for championship_id in championships.values_list("id", flat=True):
            replayed += rebuild_player_stats(championship_id)
        elapsed = time.perf_counter() - started
        self.stdout.write(
            f"Rebuilt the player statistics from {replayed} events in {elapsed:.2f}s."
        )
