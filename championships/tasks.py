"""Periodic housekeeping of the championships app."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from championships.models import IdempotencyRecord


@shared_task(name="championships.purge_idempotency_records", ignore_result=True)
def purge_idempotency_records_task() -> int:
    """Forget Idempotency-Key responses older than IDEMPOTENCY_TTL_HOURS (24 by default):
    a client retries within minutes, not days."""
    cutoff = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_TTL_HOURS)
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted
