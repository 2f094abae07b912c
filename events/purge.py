"""The one way to delete stored events: ``allow_event_purge()``.

The event store is append-only, and the database enforces it (migration
``0005_append_only``): a trigger refuses every UPDATE of ``event_store``, and every
DELETE (and, on PostgreSQL, TRUNCATE) unless the current transaction has turned on the
purge switch. Normal code never turns it on. Tests, benchmarks and ``manage.py flush``
(which the test framework uses to empty the database after a transactional test) do,
through this context manager::

    with allow_event_purge():
        StoredEvent.objects.filter(stream_id__startswith=prefix).delete()

The switch lasts until the block ends, and only for this transaction:

- PostgreSQL: ``SET LOCAL easychamp.event_store_purge = 'on'`` (a transaction-local
  setting the trigger reads), switched off again when the block ends;
- SQLite: a row in ``event_store_purge`` that the trigger looks for, inserted in the
  block's transaction and deleted before it ends, so no other connection ever sees it.

Each switch is its database's (``events.backends.postgresql``, ``events.backends.sqlite``).

UPDATE stays refused even then: a stored event never changes (a new payload shape gets
an upcaster instead).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import QuerySet

from events.backends import recorder
from events.models import FeedEntry, StoredEvent


@contextmanager
def allow_event_purge(using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """Inside (one transaction), events may be deleted. Tests and benchmarks only."""
    connection = connections[using]
    backend = recorder(connection.vendor)
    with transaction.atomic(using=using):
        with connection.cursor() as cursor:
            backend.set_purge(cursor, allowed=True)
        yield
        # Inside an outer transaction the switch would otherwise outlive the block.
        with connection.cursor() as cursor:
            backend.set_purge(cursor, allowed=False)


def purge_events(events: QuerySet[StoredEvent]) -> int:
    """Delete these stored events and their places in the feed (tests and benchmarks)."""
    with allow_event_purge(using=events.db):
        FeedEntry.objects.using(events.db).filter(event__in=events).delete()
        deleted, _ = events.delete()
    return deleted
