"""Retry or skip a parked dead letter (from the admin or a management command)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from events import wakeup
from events.clock import DatabaseNow
from events.models import Checkpoint, DeadLetter, EventStream
from events.registry import EventError


class DeadLetterError(EventError):
    pass


def _parked(dead_letter_id: int) -> DeadLetter:
    try:
        letter = DeadLetter.objects.select_for_update().get(pk=dead_letter_id)
    except DeadLetter.DoesNotExist:
        raise DeadLetterError(f"dead letter {dead_letter_id} does not exist") from None
    if letter.status != DeadLetter.Status.PARKED:
        raise DeadLetterError(f"dead letter {dead_letter_id} is already {letter.status}")
    return letter


def _resolve(letter: DeadLetter, status: str, user: Any, note: str) -> None:
    letter.status = status
    letter.resolved_by = user if user is not None and user.is_authenticated else None
    letter.resolved_at = timezone.now()
    letter.resolution_note = note
    letter.save(update_fields=["status", "resolved_by", "resolved_at", "resolution_note"])


def _wake(letter: DeadLetter) -> None:
    """Wake the stream's delivery on commit, and mark the stream written now: the sweeper
    reads only streams written since its cursor, which passed this one while it was
    parked, so a lost wake-up would otherwise leave it waiting for the stream's next
    write."""
    EventStream.objects.filter(stream_id=letter.stream_id).update(updated_at=DatabaseNow())
    transaction.on_commit(lambda: wakeup.enqueue(letter.stream_id, letter.stream_type))


def dead_letter_retry(*, dead_letter_id: int, user: Any = None, note: str = "") -> DeadLetter:
    """Deliver the parked event again (with a fresh set of attempts)."""
    with transaction.atomic():
        letter = _parked(dead_letter_id)
        Checkpoint.objects.filter(
            subscription=letter.subscription, stream_id=letter.stream_id
        ).update(
            blocked=False,
            attempts=0,
            next_attempt_at=None,
            failing_since=None,
            updated_at=DatabaseNow(),
        )
        _resolve(letter, DeadLetter.Status.RETRIED, user, note)
        _wake(letter)
    return letter


def dead_letter_skip(*, dead_letter_id: int, user: Any = None, note: str) -> DeadLetter:
    """Move the subscription past the parked event without handling it."""
    if not note.strip():
        raise DeadLetterError("skipping an event needs a reason")
    with transaction.atomic():
        letter = _parked(dead_letter_id)
        moved = Checkpoint.objects.filter(
            subscription=letter.subscription,
            stream_id=letter.stream_id,
            version=letter.event_version - 1,
        ).update(
            version=letter.event_version,
            blocked=False,
            attempts=0,
            next_attempt_at=None,
            failing_since=None,
            last_error="",
            updated_at=DatabaseNow(),
        )
        if not moved:
            raise DeadLetterError(
                f"the checkpoint of {letter.subscription} on {letter.stream_id} is no longer "
                "at the dead letter's event"
            )
        _resolve(letter, DeadLetter.Status.SKIPPED, user, note)
        _wake(letter)
    return letter
