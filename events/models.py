from __future__ import annotations

import uuid

from django.db import models

from events.clock import DatabaseNow


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


class Checkpoint(models.Model):
    """How far one subscription has handled one stream.

    The row is also the delivery lock (``SELECT ... FOR UPDATE SKIP LOCKED``) and holds
    the retry state of the event after ``version`` while its delivery keeps failing.
    ``next_attempt_at`` and ``updated_at`` are written with the database's clock, never a
    process's (see ``events.clock``): every write sets ``updated_at=DatabaseNow()``.
    """

    subscription = models.CharField(max_length=100)
    stream_id = models.CharField(max_length=128)
    stream_type = models.CharField(max_length=64)
    version = models.PositiveIntegerField(default=0)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    failing_since = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    blocked = models.BooleanField(
        default=False, help_text="A dead letter parks this stream for this subscription."
    )
    updated_at = models.DateTimeField(db_default=DatabaseNow())

    class Meta:
        db_table = "event_checkpoint"
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "stream_id"], name="checkpoint_subscription_stream"
            )
        ]

    def __str__(self) -> str:
        return f"{self.subscription} {self.stream_id}@{self.version}"


class DeadLetter(models.Model):
    """An event a subscription could not handle after its last retry.

    Later events of the same stream wait behind it for that subscription (sequenced dead
    letters) until staff retry it (deliver again) or skip it (move past it).
    """

    class Status(models.TextChoices):
        PARKED = "parked", "Parked"
        RETRIED = "retried", "Retried"
        SKIPPED = "skipped", "Skipped"

    subscription = models.CharField(max_length=100)
    stream_id = models.CharField(max_length=128)
    stream_type = models.CharField(max_length=64)
    event_id = models.UUIDField()
    event_position = models.BigIntegerField()
    event_version = models.PositiveIntegerField()
    event_type = models.CharField(max_length=128)
    attempts = models.PositiveIntegerField()
    last_error = models.TextField()
    traceback = models.TextField(blank=True)
    first_failed_at = models.DateTimeField()
    last_failed_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PARKED)
    resolved_by = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_note = models.TextField(blank=True)

    class Meta:
        db_table = "event_dead_letter"
        ordering = ["-last_failed_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "stream_id"],
                condition=models.Q(status="parked"),
                name="one_parked_dead_letter_per_stream",
            )
        ]
        indexes = [models.Index(fields=["status", "subscription"], name="dead_letter_status")]

    def __str__(self) -> str:
        return f"{self.subscription}: {self.event_type} {self.stream_id}@{self.event_version}"


class SweepCursor(models.Model):
    """Per subscription: every stream written before ``swept_until`` was caught up (or
    parked behind a dead letter) at the last sweep."""

    subscription = models.CharField(max_length=100, primary_key=True)
    swept_until = models.DateTimeField()

    class Meta:
        db_table = "event_sweep_cursor"

    def __str__(self) -> str:
        return f"{self.subscription} swept until {self.swept_until}"


class FeedEntry(models.Model):
    """An event's place in the global feed: feed positions are handed out in the order
    events become visible (see ``events.feed``), so a reader resuming after the last
    one it saw never skips an event that committed late."""

    feed_position = models.BigIntegerField(primary_key=True)
    event = models.OneToOneField(
        StoredEvent,
        on_delete=models.DO_NOTHING,
        db_column="position",
        db_constraint=False,
        related_name="feed_entry",
    )

    class Meta:
        db_table = "event_feed"
        ordering = ["feed_position"]

    def __str__(self) -> str:
        return f"feed {self.feed_position} = event {self.event_id}"


class FeedState(models.Model):
    """The sequencer's progress (one row, also its lock): every stored position up to
    ``high_position`` is in the feed, or is a ``FeedHole`` not yet visible."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_feed_position = models.BigIntegerField(default=0)
    high_position = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(null=True)

    class Meta:
        db_table = "event_feed_state"

    def __str__(self) -> str:
        return f"feed at {self.last_feed_position}, store scanned to {self.high_position}"


class FeedHole(models.Model):
    """A position allocated below ``high_position`` whose event was not visible when the
    sequencer passed it: its transaction was still running, or it rolled back.

    ``horizon`` is the first transaction id not yet started at that pass (xid8 as an
    integer): once every transaction older than it has ended and the event is still not
    there, it never will be, and the hole is forgotten."""

    position = models.BigIntegerField(primary_key=True)
    horizon = models.BigIntegerField()

    class Meta:
        db_table = "event_feed_hole"

    def __str__(self) -> str:
        return f"hole at {self.position}"
