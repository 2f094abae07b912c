"""Play a match live, for the demo: kick-off, the clock, goals, full time, over about a
minute, through the same commands the API uses (so pages update as on match day)."""

from __future__ import annotations

import os
import random
import time
import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from championships import commands
from championships.exceptions import DomainError, InvalidCommand
from championships.models import Match, MatchStatus
from events.store import ConcurrencyError

MINUTES = 90


class Command(BaseCommand):
    help = "Play a match live with random goals (default: the live match, else the next one)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "match_id",
            nargs="?",
            type=uuid.UUID,
            help="default: the live match, else the next scheduled",
        )
        parser.add_argument("--seconds", type=float, default=60.0, help="real time for 90 minutes")
        parser.add_argument("--goals", type=int, default=None, help="default: 1 to 5 at random")
        parser.add_argument("--seed", type=int, default=None, help="for a repeatable match")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            self._play(options)
        except (DomainError, ConcurrencyError) as exc:  # a rule, said as the API says it
            raise CommandError(str(exc)) from exc

    def _play(self, options: dict[str, Any]) -> None:
        rng = random.Random(options["seed"])
        if options["goals"] is not None and options["goals"] < 0:
            raise CommandError("--goals must be 0 or more")
        match = self._match(options["match_id"])
        ids: dict[str, Any] = {
            "actor_id": match.championship.owner_id,
            "championship_id": match.championship_id,
            "match_id": match.id,
        }
        base = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/matches/{match.id}/"
        self.stdout.write(f"{match.home.name} v {match.away.name}: watch at {base}")
        if match.status != MatchStatus.LIVE:
            commands.match_start(**ids)
            self.stdout.write("Kick-off")
        first = (match.minute or 0) + 1
        goals = options["goals"] if options["goals"] is not None else rng.randint(1, 5)
        minutes_left = range(first, MINUTES + 1)  # empty once the clock shows 90
        goal_minutes = sorted(rng.sample(minutes_left, min(goals, len(minutes_left))))
        pause = max(0.0, options["seconds"]) / max(1, MINUTES - first + 1)
        for minute in range(first, MINUTES + 1):
            time.sleep(pause)
            if minute % 15 == 0:
                commands.match_update(**ids, minute=minute)
            for _ in range(goal_minutes.count(minute)):
                team = rng.choice([match.home, match.away])
                scored = commands.match_record_goal(
                    **ids, team_id=team.id, minute=minute, player=f"Player {rng.randint(2, 11)}"
                )
                self.stdout.write(
                    f"{minute}' goal for {team.name}: {scored.home_score}-{scored.away_score}"
                )
        try:
            final = commands.match_complete(**ids)
        except InvalidCommand as exc:
            if exc.field != "penalties":
                raise
            # A knockout tie level at the end: a shoot-out decides it.
            shootout = (5, 4) if rng.random() < 0.5 else (4, 5)
            final = commands.match_complete(**ids, penalties=shootout)
            self.stdout.write(f"Penalties: {shootout[0]}-{shootout[1]}")
        self.stdout.write(f"Full time: {final.home_score}-{final.away_score}")

    def _match(self, match_id: uuid.UUID | None) -> Match:
        matches = Match.objects.select_related("home_team", "away_team", "championship")
        if match_id is not None:
            match = matches.filter(id=match_id).first()
            if match is None:
                raise CommandError(f"no match {match_id}")
        else:
            ordered = matches.order_by("round", "kickoff", "id")
            # A bracket match whose teams are not decided yet cannot be played.
            ordered = ordered.filter(home_team__isnull=False, away_team__isnull=False)
            match = (
                ordered.filter(status=MatchStatus.LIVE).first()
                or ordered.filter(status=MatchStatus.SCHEDULED).first()
            )
            if match is None:
                raise CommandError("no scheduled match left to play")
        if match.status not in (MatchStatus.LIVE, MatchStatus.SCHEDULED, MatchStatus.POSTPONED):
            raise CommandError(f"the match is {match.status}: nothing to play")
        if match.home_team is None or match.away_team is None:
            raise CommandError("the teams of this match are not decided yet")
        return match
