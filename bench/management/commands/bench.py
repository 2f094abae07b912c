from __future__ import annotations

import importlib
import json
import uuid
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from bench.scenarios import SCENARIOS
from bench.workers import private_queue


class Command(BaseCommand):
    help = "Run a benchmark scenario; with --json the last line is one JSON object."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("scenario", choices=SCENARIOS)
        parser.add_argument("--json", action="store_true", help="print the result as JSON")
        parser.add_argument(
            "--seconds", type=float, default=None, help="time per measured phase (scenario default)"
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=None,
            help="worker processes, for scenarios that start them (scenario default)",
        )
        parser.add_argument(
            "--clients",
            type=int,
            default=None,
            help="concurrent clients: API clients (api), websocket clients (e2e)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        scenario = options["scenario"]
        module = importlib.import_module(f"bench.scenarios.{scenario}")
        # The probe's tables exist only where the bench app was installed when migrating.
        call_command("migrate", "bench", verbosity=0)
        try:
            with private_queue(f"bench-{scenario}-{uuid.uuid4().hex[:8]}") as queue:
                result = module.run({**options, "queue": queue}, log=self._log)
        except RuntimeError as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps(result))
        else:
            for key, value in result.items():
                self.stdout.write(f"{key:>28}: {value}")

    def _log(self, message: str) -> None:
        self.stderr.write(message)
