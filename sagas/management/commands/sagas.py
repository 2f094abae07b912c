from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db.models import Q
from django.utils import timezone

from events.management.arguments import at_least
from sagas.models import SagaInstance, SagaStatus


class Command(BaseCommand):
    help = "List saga instances (type, correlation key, status, current step, deadline)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="one JSON object per run")
        parser.add_argument(
            "--stuck", action="store_true", help="only those past their deadline or failed"
        )
        parser.add_argument("--type", help="only this saga type")
        parser.add_argument("--status", choices=SagaStatus.values)
        parser.add_argument("--limit", type=at_least(0), default=1000)

    def handle(self, *args: Any, **options: Any) -> None:
        sagas = SagaInstance.objects.order_by("created_at")
        if options["stuck"]:
            sagas = sagas.filter(
                Q(status=SagaStatus.FAILED)
                | Q(
                    status__in=[SagaStatus.RUNNING, SagaStatus.COMPENSATING],
                    deadline__lt=timezone.now(),
                )
            )
        if options["type"]:
            sagas = sagas.filter(saga_type=options["type"])
        if options["status"]:
            sagas = sagas.filter(status=options["status"])
        rows = [
            {
                "id": str(saga.id),
                "type": saga.saga_type,
                "correlation_key": saga.correlation_key,
                "status": saga.status,
                "current_step": saga.current_step,
                "deadline": saga.deadline.isoformat() if saga.deadline else None,
                "reason": saga.reason,
            }
            for saga in sagas[: options["limit"]]
        ]
        if options["json"]:
            self.stdout.write(json.dumps({"sagas": rows}))
            return
        for row in rows:
            self.stdout.write(
                f"{row['type']:<20} {row['correlation_key']:<38} {row['status']:<12} "
                f"{row['current_step']:<24} {row['deadline'] or '-'}"
            )
