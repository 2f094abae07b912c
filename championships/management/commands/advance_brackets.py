from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from championships import advancement
from championships.exceptions import DomainError
from championships.management.options import chosen_championships
from championships.models import BRACKET_FORMATS, Championship


class Command(BaseCommand):
    help = (
        "Place the bracket's teams as the results and group tables now say, in the ties "
        "not kicked off (after an upgrade of the ranking rules, or a skipped dead letter)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--championship", help="only this championship (its id)")

    def handle(self, *args: Any, **options: Any) -> None:
        championships = chosen_championships(
            options["championship"],
            Championship.objects.filter(format__in=BRACKET_FORMATS).order_by("id"),
        )
        appended = refused = 0
        for championship in championships:
            try:
                # One transaction per championship: all of its bracket or none of it.
                with transaction.atomic():
                    appended += advancement.reconcile(championship)
            except DomainError as exc:
                refused += 1
                self.stderr.write(f"{championship}: left as it is: {exc}")
        self.stdout.write(
            f"Bracket placements: {appended} events appended; {refused} championship(s) "
            "left as they were."
        )
        if refused:
            raise CommandError(f"{refused} championship(s) could not be reconciled")
