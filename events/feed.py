"""The global feed: every stored event, in the order events became visible.

Why a feed of its own: a stored event's ``position`` is handed out when it is inserted,
but transactions commit in any order, so a reader that polls ``position > last_seen``
skips an event whose transaction allocated a low position and committed late. Filtering
by "transaction older than every running one" (the snapshot's xmin) does not save it
either: positions are not allocated in transaction-id order, and one long transaction
anywhere in the cluster would hold the feed back for everyone.

So on PostgreSQL a **sequencer** hands out feed positions in the order events become
visible. One pass (one transaction, serialised by an advisory lock)
reads, in one statement and so one snapshot:

- the events stored beyond ``high_position`` (the highest position passed so far), and
- the *holes*: positions below it that were not visible at an earlier pass (their
  transaction was still running, or it rolled back);

and gives every event it can now see, in position order, the next feed positions. A
position between the old and the new ``high_position`` that it cannot see becomes a
hole, stamped with the snapshot's ``xmax`` (the first transaction id not yet started).
A hole is forgotten only once every transaction older than that stamp has ended and the
event is still not there: it rolled back. (An append gets its transaction id when it
moves its stream's head, before the statement allocates positions, so the transaction
holding a hole is always older than the stamp.)

Why it never skips or repeats: each pass commits before the next one takes the lock, so
a reader's snapshot sees a prefix of the passes, and every later pass hands out higher
feed positions; an event is sequenced exactly once (``event_feed.position`` is unique).
A stream's events appear in version order, because version n+1 cannot be stored before
version n has committed. Nothing holds the feed back but its own passes: a long
transaction only keeps its own events (and a few holes) waiting until it ends.

What it costs: nothing on the append path. A pass writes one small row per event, in
bulk; readers run a pass before they read (skipping it when another process holds the
lock), and a periodic task keeps the feed current when nobody reads.

On SQLite writers are serialised (immediate transactions), so positions commit in order
and the feed is the store read by position: ``feed_position`` equals ``position``.

Here: reading the feed (``read``, ``sequence``). The sequencer and its SQL are
``PostgresFeed`` in ``events.backends.postgresql``; SQLite's ``SequentialFeed``, which
has nothing to sequence, is in ``events.backends.sqlite``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import F

from events.backends import Sequencer, recorder
from events.models import StoredEvent
from events.store import ROW_COLUMNS, RecordedEvent, decode_row_or_undecoded, text_rows

MAX_LIMIT = 10_000

_FEED_COLUMNS = (*ROW_COLUMNS, "feed_position")


def _filtered(qs: Any, stream_ids: Sequence[str] | None, event_types: Sequence[str] | None) -> Any:
    if stream_ids is not None:
        qs = qs.filter(stream_id__in=list(stream_ids))
    if event_types is not None:
        qs = qs.filter(event_type__in=list(event_types))
    return qs


def _decoded(qs: Any) -> list[RecordedEvent]:
    return [
        decode_row_or_undecoded(*row[:10], feed_position=row[10])
        for row in text_rows(qs, _FEED_COLUMNS)
    ]


def current() -> Sequencer:
    """The feed's sequencer for the default database's backend."""
    return recorder().feed


def sequence(*, wait: bool = False) -> int:
    """Bring the feed up to date with every visible event (the periodic task, tests)."""
    return current().sequence(wait=wait)


def read(
    after: int = 0,
    limit: int = 1000,
    *,
    stream_ids: Sequence[str] | None = None,
    event_types: Sequence[str] | None = None,
) -> list[RecordedEvent]:
    """Events after feed position ``after``, in feed order, with ``feed_position`` set.

    Resuming from the last ``feed_position`` seen never skips nor repeats an event. A
    stored row the code cannot decode comes back marked (``undecoded``), not raised."""
    if isinstance(after, bool) or not isinstance(after, int) or after < 0:
        raise ValueError(f"after must be an integer >= 0, not {after!r}")
    limit = max(1, min(int(limit), MAX_LIMIT))
    feed = current()
    # Sequence first (leaving it to a pass already running), so the page is current.
    feed.sequence()
    order = feed.order_field
    qs = StoredEvent.objects.filter(**{f"{order}__gt": after})
    qs = _filtered(qs, stream_ids, event_types).annotate(feed_position=F(order))
    return _decoded(qs.order_by(order)[:limit])
