"""A celery worker for the delivery tests: ``python -m tests.events.worker_main`` takes the
arguments of ``python -m celery``.

Before celery's main runs, it registers the test subscriptions below (in the worker only:
they follow stream types nothing else writes) and, when ``EASYCHAMP_TEST_CLOCK_SKEW`` is
set, moves this process's clock — and only this process's — that many seconds away from
the machine's, hence from the database's (time-machine; the forked pool process keeps it).
"""

from __future__ import annotations

import contextlib
import logging
import os
from datetime import UTC, datetime, timedelta

CLOCK_SKEW_ENV = "EASYCHAMP_TEST_CLOCK_SKEW"

# Swallows a database error on streams named "*-bad" (so its checkpoint advance fails),
# counts the events of the others like the probe projection.
SWALLOWING = "test.worker.swallowing"
SWALLOWING_STREAMS = "swallowing"
SWALLOWING_MAX_ATTEMPTS = 3

# Fails the first two attempts at each stream's first event, then succeeds; logs the
# database's time and the worker's of each attempt at it.
FLAKY = "test.worker.flaky"
FLAKY_STREAMS = "flaky"
FLAKY_FAILURES = 2
FLAKY_BASE_DELAY = 2.0
FLAKY_ATTEMPT_LOG = "flaky attempt"

logger = logging.getLogger(__name__)


class FlakyFailure(RuntimeError):
    pass


def register() -> None:
    from django.db import DatabaseError, connection

    from bench.probe import apply_probe
    from events.models import Checkpoint
    from events.store import RecordedEvent
    from events.subscriptions import RetryPolicy, subscribe

    def swallowing(event: RecordedEvent) -> None:
        if event.stream_id.endswith("-bad"):
            # The mistake under test: no savepoint, so the transaction stays aborted.
            with connection.cursor() as cursor, contextlib.suppress(DatabaseError):
                cursor.execute("SELECT 1/0")
            return
        apply_probe(event)

    def flaky(event: RecordedEvent) -> None:
        if event.version == 1:
            with connection.cursor() as cursor:
                cursor.execute("SELECT clock_timestamp()")
                (attempted_at,) = cursor.fetchone()
            logger.warning(
                "%s %s db=%s worker=%s",
                FLAKY_ATTEMPT_LOG,
                event.stream_id,
                attempted_at.isoformat(),
                datetime.now(UTC).isoformat(),
            )
            failed = Checkpoint.objects.get(subscription=FLAKY, stream_id=event.stream_id).attempts
            if failed < FLAKY_FAILURES:
                raise FlakyFailure(f"attempt {failed + 1} at {event.stream_id}@1 fails")
        apply_probe(event)

    subscribe(
        SWALLOWING,
        swallowing,
        stream_types=[SWALLOWING_STREAMS],
        retry=RetryPolicy(max_attempts=SWALLOWING_MAX_ATTEMPTS, base_delay=0.1),
    )
    subscribe(
        FLAKY,
        flaky,
        stream_types=[FLAKY_STREAMS],
        retry=RetryPolicy(max_attempts=5, base_delay=FLAKY_BASE_DELAY),
    )


def main() -> None:
    skew = float(os.environ.get(CLOCK_SKEW_ENV) or 0)
    if skew:
        import time_machine

        time_machine.travel(datetime.now(UTC) + timedelta(seconds=skew), tick=True).start()
    import django

    django.setup()
    register()
    from celery.__main__ import main as celery_main

    celery_main()


if __name__ == "__main__":
    main()
