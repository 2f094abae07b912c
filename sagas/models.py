"""Saga instances, their step history and the command bus's records; the read models of
player registration (leagues, profiles) and team entry (entry windows, entries, payments)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class SagaStatus(models.TextChoices):
    RUNNING = "running"
    COMPLETED = "completed"
    COMPENSATING = "compensating"
    COMPENSATED = "compensated"
    FAILED = "failed"
    TIMED_OUT = "timed_out"


class SagaInstance(models.Model):
    """One run of a saga. Its changes are events on the ``saga-<id>`` stream; ``version``
    is that stream's version (the row is locked while a step runs)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    saga_type = models.CharField(max_length=64)
    correlation_key = models.CharField(max_length=128)
    correlation_id = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=16, choices=SagaStatus.choices, default=SagaStatus.RUNNING)
    current_step = models.CharField(max_length=64, blank=True)
    state = models.JSONField(default=dict)
    deadline = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    version = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["saga_type", "correlation_key"], name="saga_correlation_unique"
            )
        ]
        indexes = [
            models.Index(fields=["status", "deadline"], name="saga_status_deadline"),
            models.Index(fields=["saga_type", "status"], name="saga_type_status"),
        ]

    def __str__(self) -> str:
        return f"{self.saga_type} {self.correlation_key} ({self.status})"


class SagaStep(models.Model):
    """One step of a saga's history: the event it handled (once: unique per saga) and
    the commands it sent."""

    saga = models.ForeignKey(SagaInstance, on_delete=models.CASCADE, related_name="steps")
    step = models.CharField(max_length=64)
    event_id = models.UUIDField(null=True, blank=True)
    event_type = models.CharField(max_length=128, blank=True)
    commands = models.JSONField(default=list)
    compensation = models.CharField(max_length=64, blank=True)
    status_after = models.CharField(max_length=16, choices=SagaStatus.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["saga", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["saga", "event_id"],
                condition=models.Q(event_id__isnull=False),
                name="saga_step_event_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.step} ({self.event_type or 'no event'})"


class CommandStatus(models.TextChoices):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class CommandRecord(models.Model):
    """A command sent on the bus. Written in the sender's transaction (an outbox row);
    its handler runs at most once to completion, keyed by ``id``."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=64)
    payload = models.JSONField(default=dict)
    saga = models.ForeignKey(
        SagaInstance, null=True, blank=True, on_delete=models.CASCADE, related_name="commands"
    )
    step = models.CharField(max_length=64, blank=True)
    compensation = models.BooleanField(default=False)
    correlation_id = models.CharField(max_length=64, blank=True)
    causation_id = models.CharField(max_length=64, blank=True)
    status = models.CharField(
        max_length=16, choices=CommandStatus.choices, default=CommandStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="command_due")]

    def __str__(self) -> str:
        return f"{self.name} {self.id} ({self.status})"


# --- player registration ---------------------------------------------------------------


class League(models.Model):
    """A players' league with a fixed number of places; the default one takes sign-ups."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100, unique=True)
    capacity = models.PositiveIntegerField()
    is_default = models.BooleanField(default=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=models.Q(is_default=True),
                name="one_default_league",
            )
        ]

    def __str__(self) -> str:
        return self.name


class PlayerProfile(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="player_profile"
    )
    display_name = models.CharField(max_length=150)
    league = models.ForeignKey(
        League, null=True, blank=True, on_delete=models.SET_NULL, related_name="players"
    )
    waiting_for = models.ForeignKey(
        League, null=True, blank=True, on_delete=models.SET_NULL, related_name="waiting"
    )
    waiting_since = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=0)  # of the player-<user id> stream

    def __str__(self) -> str:
        return self.display_name


class SentEmail(models.Model):
    """Every email the command bus sent, keyed by the command that sent it."""

    command_id = models.UUIDField(unique=True)
    kind = models.CharField(max_length=32)
    to = models.EmailField()
    subject = models.CharField(max_length=200)
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["sent_at"]

    def __str__(self) -> str:
        return f"{self.kind} to {self.to}"


# --- team entry ------------------------------------------------------------------------


class EntryWindow(models.Model):
    """A championship's open entries: fee, currency, payment deadline and capacity."""

    championship = models.OneToOneField(
        "championships.Championship", on_delete=models.CASCADE, related_name="entry_window"
    )
    fee = models.DecimalField(max_digits=10, decimal_places=2)
    currency = models.CharField(max_length=3)
    payment_deadline_seconds = models.PositiveIntegerField()
    capacity = models.PositiveIntegerField()
    is_open = models.BooleanField(default=True)
    version = models.PositiveIntegerField(default=0)  # of the entries-<championship> stream

    def __str__(self) -> str:
        return f"entries of {self.championship_id}"


class EntryStatus(models.TextChoices):
    REQUESTED = "requested"
    WAITING = "waiting"  # on the capacity waiting list
    RESERVED = "reserved"  # holds a slot, payment being requested
    AWAITING_PAYMENT = "awaiting_payment"
    PAID = "paid"
    REGISTERED = "registered"
    CANCELLED = "cancelled"


SLOT_HOLDING = (
    EntryStatus.RESERVED,
    EntryStatus.AWAITING_PAYMENT,
    EntryStatus.PAID,
)


class TeamEntry(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    championship = models.ForeignKey(
        "championships.Championship", on_delete=models.CASCADE, related_name="entries"
    )
    team_name = models.CharField(max_length=100)
    # Entries and their payments are records of money: a user who asked for one is
    # deactivated, not deleted (PROTECT), and so is an entry with payments.
    manager = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    fee = models.DecimalField(max_digits=10, decimal_places=2)
    currency = models.CharField(max_length=3)
    status = models.CharField(
        max_length=20, choices=EntryStatus.choices, default=EntryStatus.REQUESTED
    )
    waiting_since = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=200, blank=True)
    version = models.PositiveIntegerField(default=0)  # of the entry-<id> stream
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.team_name} ({self.status})"


class PaymentStatus(models.TextChoices):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    VOIDED = "voided"


class Payment(models.Model):
    """A payment asked of the provider; webhooks are idempotent on ``provider_payment_id``."""

    provider = models.CharField(max_length=32)
    provider_payment_id = models.CharField(max_length=100, unique=True)
    entry = models.ForeignKey(TeamEntry, on_delete=models.PROTECT, related_name="payments")
    amount = models.DecimalField(max_digits=10, decimal_places=2)
    currency = models.CharField(max_length=3)
    status = models.CharField(
        max_length=16, choices=PaymentStatus.choices, default=PaymentStatus.PENDING
    )
    webhooks_received = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.provider} {self.provider_payment_id} ({self.status})"
