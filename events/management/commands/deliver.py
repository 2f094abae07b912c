from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from events import delivery
from events.management.arguments import at_least


class Command(BaseCommand):
    help = (
        "Deliver every pending event to every subscription now, in this process "
        "(catching up without workers, e.g. after loading data)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rounds", type=at_least(1), default=20, help="passes at most")

    def handle(self, *args: Any, **options: Any) -> None:
        total, settled = delivery.deliver_all(options["rounds"])
        self.stdout.write(f"Delivered {total} events.")
        if not settled:
            self.stderr.write("Handlers were still appending events after the last pass.")
