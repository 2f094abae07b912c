"""Cost of one more MatchCompleted (command + standings handler) as a season grows.

Two championships with the same 20 teams in one table: one with 10 completed matches,
one with 1,000. Measured completions alternate between them so machine noise hits both
alike; each figure is the median milliseconds per match. An incremental projection
keeps the ratio near 1 (target: <= 1.5).
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection, transaction

from bench.cleanup import remove_championships
from championships import commands, projections
from championships.events import standings_stream_id
from championships.models import (
    Match,
)
from events import store

TEAMS = 20
SIZES = (10, 1000)
MEASURED = 60


class _Season:
    def __init__(self, owner_id: int, completed: int, log: Callable[[str], None]) -> None:
        self.owner_id = owner_id
        self.championship = commands.championship_create(
            actor_id=owner_id,
            name=f"bench standings {completed}",
            season=uuid.uuid4().hex[:8],
            tie_breakers="uefa",
        )
        self.teams = [
            commands.team_register(
                actor_id=owner_id, championship_id=self.championship.id, name=f"Team {i:02d}"
            )
            for i in range(TEAMS)
        ]
        self.pending = [self._schedule(i) for i in range(completed + MEASURED)]
        for i in range(completed):
            self.complete(i)
            if (i + 1) % 200 == 0:
                log(f"  {i + 1}/{completed} matches completed")

    def _schedule(self, i: int) -> Match:
        home = self.teams[i % TEAMS]
        away = self.teams[(i + 1 + i // TEAMS) % TEAMS]
        if away.id == home.id:
            away = self.teams[(i + 2) % TEAMS]
        return commands.match_schedule(
            actor_id=self.owner_id,
            championship_id=self.championship.id,
            home_team_id=home.id,
            away_team_id=away.id,
        )

    def complete(self, i: int) -> None:
        """One MatchCompleted: the command's transaction, then the handler's."""
        match = self.pending[i]
        commands.match_complete(
            actor_id=self.owner_id,
            championship_id=self.championship.id,
            match_id=match.id,
            home_score=i % 4,
            away_score=(i * 7) % 3,
        )
        (recorded,) = store.load(str(match.id), after_version=1)
        with transaction.atomic():
            projections.apply_standings(recorded)

    def settle(self) -> None:
        """Deliver what setup left undelivered (teams, rules) so only results remain."""
        for recorded in store.load(str(self.championship.id)):
            with transaction.atomic():
                projections.apply_standings(recorded)

    def stream_ids(self) -> list[str]:
        return [
            str(self.championship.id),
            standings_stream_id(self.championship.id),
            *(str(m.id) for m in self.pending),
        ]


def _cleanup(seasons: list[_Season], owner_id: int | None) -> None:
    remove_championships(
        [season.championship.id for season in seasons], [] if owner_id is None else [owner_id]
    )


def run(options: dict[str, Any], log: Callable[[str], None]) -> dict[str, Any]:
    owner = get_user_model().objects.create_user(f"bench-{uuid.uuid4().hex[:12]}")
    seasons: list[_Season] = []
    try:
        for size in SIZES:
            log(f"setting up a season with {size} completed matches")
            season = _Season(owner.id, size, log)
            season.settle()
            seasons.append(season)
        timings: dict[int, list[float]] = {size: [] for size in SIZES}
        for k in range(MEASURED):
            for size, season in zip(SIZES, seasons, strict=True):
                start = time.perf_counter()
                season.complete(size + k)
                timings[size].append((time.perf_counter() - start) * 1000)
        small, large = (round(statistics.median(timings[size]), 3) for size in SIZES)
        log(f"median ms per match: {small} at {SIZES[0]}, {large} at {SIZES[1]}")
    finally:
        _cleanup(seasons, owner.id)
    return {
        "scenario": "standings",
        "database": connection.vendor,
        "ms_per_match_at_10": small,
        "ms_per_match_at_1000": large,
        "ratio": round(large / small, 3),
        "teams": TEAMS,
        "measured_matches": MEASURED,
    }
