from __future__ import annotations

import uuid

from django.db import models


class StoredEvent(models.Model):
    """One immutable event. Written only through ``events.store.append``."""

    position = models.BigAutoField(primary_key=True)
    event_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    stream_id = models.CharField(max_length=128)
    stream_type = models.CharField(max_length=64)
    version = models.PositiveIntegerField()
    event_type = models.CharField(max_length=128)
    schema_version = models.PositiveSmallIntegerField(default=1)
    occurred_at = models.DateTimeField()
    payload = models.JSONField()
    metadata = models.JSONField(default=dict)

    class Meta:
        db_table = "event_store"
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["stream_id", "version"], name="event_stream_version"),
            models.CheckConstraint(condition=models.Q(version__gte=1), name="event_version_gte_1"),
        ]
        indexes = [models.Index(fields=["event_type", "position"], name="event_type_position")]

    def __str__(self) -> str:
        return f"{self.event_type} {self.stream_id}@{self.version}"


class EventStream(models.Model):
    """The head of one stream: its current version. The row is the concurrency check
    (a conditional update serialises writers) and the sweeper's index of recent writes."""

    stream_id = models.CharField(max_length=128, primary_key=True)
    stream_type = models.CharField(max_length=64)
    version = models.PositiveIntegerField()
    updated_at = models.DateTimeField()

    class Meta:
        db_table = "event_stream"
        indexes = [models.Index(fields=["updated_at"], name="event_stream_updated_at")]

    def __str__(self) -> str:
        return f"{self.stream_type} {self.stream_id}@{self.version}"
