"""``python -m tests.load.seed CHAMPIONSHIPS MATCHES``: organisers with live matches in
the database of DATABASE_URL (a load test's own); prints them as JSON."""

from __future__ import annotations

import json
import os
import sys
import uuid


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "easychamp.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from championships import commands

    championships, matches_each = int(sys.argv[1]), int(sys.argv[2])
    organisers = []
    for n in range(championships):
        user = get_user_model().objects.create_user(f"load-{n}-{uuid.uuid4().hex[:6]}")
        token = Token.objects.create(user=user)
        championship = commands.championship_create(
            actor_id=user.id, name=f"load {n}", season=uuid.uuid4().hex[:8]
        )
        teams = [
            commands.team_register(
                actor_id=user.id, championship_id=championship.id, name=f"Team {t}"
            ).id
            for t in range(2 * matches_each)
        ]
        matches = []
        for m in range(matches_each):
            match = commands.match_schedule(
                actor_id=user.id,
                championship_id=championship.id,
                home_team_id=teams[2 * m],
                away_team_id=teams[2 * m + 1],
            )
            commands.match_start(
                actor_id=user.id, championship_id=championship.id, match_id=match.id
            )
            matches.append(
                {"id": str(match.id), "home": str(teams[2 * m]), "away": str(teams[2 * m + 1])}
            )
        organisers.append(
            {"token": token.key, "championship": str(championship.id), "matches": matches}
        )
    print(json.dumps(organisers))


if __name__ == "__main__":
    main()
