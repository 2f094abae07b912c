from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from events.registry import Event


@dataclass(frozen=True)
class BenchGoalScored(Event):
    """Shaped like a live-match event, so payload encoding costs what it costs in real use."""

    event_type = "bench.GoalScored"
    stream_type = "bench"

    match_id: UUID
    team_id: UUID
    minute: int
    player: str
