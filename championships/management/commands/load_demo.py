from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from championships import commands
from championships.models import Championship

# Fixed ids make the command idempotent: a second run finds the demo and stops.
DEMO_CHAMPIONSHIP_ID = uuid.UUID("6d0c3b8e-2f6a-4c55-9a51-6e2a1c0de000")
DEMO_TEAMS = [
    "Northfield Rovers",
    "Riverside Athletic",
    "Eastbrook United",
    "Westgate Wanderers",
    "Southport City",
    "Hillcrest Albion",
    "Lakeside Town",
    "Kingsbridge FC",
]
# Scores of the first three rounds (4 matches each), in fixture order.
DEMO_RESULTS = [
    *("2-1", "0-0", "1-3", "4-2"),
    *("1-1", "0-1", "3-0", "2-2"),
    *("1-0", "2-3", "0-2", "1-1"),
]
PLAYED_ROUNDS = (1, 2, 3)
LIVE_ROUND = 4


class Command(BaseCommand):
    help = "Load the demo: an admin user (admin / admin) and a demo championship."

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        admin = User.objects.filter(username="admin").first()
        if admin is None:
            admin = User.objects.create_superuser("admin", "admin@example.com", "admin")
            self.stdout.write("Created superuser admin / admin (change the password!)")
        if Championship.objects.filter(id=DEMO_CHAMPIONSHIP_ID).exists():
            self.stdout.write("Demo championship already loaded.")
        else:
            with transaction.atomic():
                self._championship(admin.id)
            self.stdout.write(
                f"Created the demo championship ({len(DEMO_TEAMS)} teams, double round robin)."
            )
        self._players_league()
        self.stdout.write("Demo data loaded.")

    def _players_league(self) -> None:
        # Sign-ups (/signup/, POST /api/v1/auth/register/) join the default league.
        from sagas.registration import default_league_ensure

        if default_league_ensure() is not None:
            self.stdout.write("Created the default players' league (100 places).")

    def _championship(self, owner_id: int) -> None:
        championship = commands.championship_create(
            actor_id=owner_id,
            championship_id=DEMO_CHAMPIONSHIP_ID,
            name="EasyChamp Demo League",
            season=str(timezone.now().year),
            format="double_round_robin",
            tie_breakers="premier_league",
        )
        for name in DEMO_TEAMS:
            commands.team_register(actor_id=owner_id, championship_id=championship.id, name=name)
        matches = commands.fixtures_generate(
            actor_id=owner_id,
            championship_id=championship.id,
            first_kickoff=timezone.now() - timedelta(days=21),
        )
        played = [m for m in matches if m.round in PLAYED_ROUNDS]
        for score, match in zip(DEMO_RESULTS, played, strict=True):
            home_score, away_score = (int(goals) for goals in score.split("-"))
            commands.match_complete(
                actor_id=owner_id,
                championship_id=championship.id,
                match_id=match.id,
                home_score=home_score,
                away_score=away_score,
            )
        live = next(m for m in matches if m.round == LIVE_ROUND)
        commands.match_start(actor_id=owner_id, championship_id=championship.id, match_id=live.id)
        commands.match_update(
            actor_id=owner_id, championship_id=championship.id, match_id=live.id, minute=17
        )
        commands.match_record_goal(
            actor_id=owner_id,
            championship_id=championship.id,
            match_id=live.id,
            team_id=live.home.id,
            minute=17,
            player="A. Demo",
        )
