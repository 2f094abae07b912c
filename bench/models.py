from __future__ import annotations

from django.db import models


class ProbeCounter(models.Model):
    """The probe projection: how many events of a probe stream were applied, and in
    which order. Used by the delivery tests and the dispatch benchmark."""

    stream_id = models.CharField(max_length=128, primary_key=True)
    applied = models.PositiveIntegerField(default=0)
    versions = models.JSONField(default=list)
    # The processes that applied its events (each pid once): how many worker processes
    # delivered, recorded by the delivering process itself.
    pids = models.JSONField(default=list)

    def __str__(self) -> str:
        return f"{self.stream_id}: {self.applied}"


class ProbeFault(models.Model):
    """While a row names (stream, version), the probe handler fails on that event."""

    stream_id = models.CharField(max_length=128)
    version = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["stream_id", "version"], name="probe_fault_once")
        ]

    def __str__(self) -> str:
        return f"fail {self.stream_id}@{self.version}"
