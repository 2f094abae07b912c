"""A whole season without a shell (issue #9, "Done when"): teams entered with a typo
then fixed, fixtures, results, a postponement, a rescheduling, a deduction and its
appeal, a withdrawal under each policy, a correction and a rebuild, through the API of a
real web process and the admin, with a real Celery worker keeping the standings on
PostgreSQL and Redis."""

from __future__ import annotations

import importlib
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token

from championships.admin import ORGANISERS_GROUP
from championships.models import Match, MatchStatus
from tests.championships.factories import UserFactory
from tests.championships.servers import WebServer
from tests.championships.test_properties_season import projected, recomputed
from tests.events.workers import Worker

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.slow,
    pytest.mark.live_delivery,
    pytest.mark.django_db(transaction=True),
    pytest.mark.xdist_group("workers"),
]

REDIS_BROKER = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


class Api:
    """A JSON client of a real web process, with the organiser's token."""

    def __init__(self, server: WebServer, token: str) -> None:
        self.base = f"{server.url}/api/v1/"
        self.token = token

    def call(self, method: str, path: str, body: Any = None, **headers: str) -> tuple[int, Any]:
        request = urllib.request.Request(
            self.base + path,
            data=None if body is None else json.dumps(body).encode(),
            headers={
                **({"Authorization": f"Token {self.token}"} if self.token else {}),
                "Content-Type": "application/json",
                **headers,
            },
            method=method,
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            return exc.code, json.loads(raw) if raw else None

    def ok(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        code, data = self.call(method, path, body)
        assert code == status, (method, path, code, data)
        return data


def admin_action(client: Client, model: str, action: str, ids: list[Any], **extra: Any) -> None:
    response = client.post(
        reverse(f"admin:championships_{model}_changelist"),
        {"action": action, "_selected_action": [str(i) for i in ids], **extra},
    )
    assert response.status_code == 302, response.content[:500]


def organisers_group() -> Group:
    """The Organisers group as its migrations make it (a transactional test before this
    one may have flushed it; flushing recreates permissions, not groups)."""
    group, _ = Group.objects.get_or_create(name=ORGANISERS_GROUP)
    for module in ("0003_organisers_group", "0006_season_organiser_permissions"):
        migration = importlib.import_module(f"championships.migrations.{module}")
        for app_label, model, actions in migration.PERMISSIONS:
            group.permissions.add(
                *Permission.objects.filter(
                    content_type__app_label=app_label,
                    codename__in=[f"{action}_{model}" for action in actions],
                )
            )
    return group


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_a_whole_season_through_the_api_and_the_admin(
    web_servers: Callable[[str], WebServer], workers: Callable[..., Worker]
) -> None:
    workers("season", REDIS_BROKER).wait_ready()
    server = web_servers("season")
    organiser = UserFactory.create(is_staff=True, username="organiser")
    organiser.groups.add(organisers_group())
    token, _ = Token.objects.get_or_create(user=organiser)
    api = Api(server, token.key)
    admin = Client()
    admin.force_login(organiser)

    # A draft championship; teams, one with a typo and one entered by mistake.
    cid = api.ok(
        "POST",
        "championships/",
        {"name": "Sunday League", "visibility": "draft", "tiebreak_preset": "premier_league"},
        status=201,
    )["id"]
    names = ["Lions", "Tigres", "Bears", "Wolves", "Eagles", "Sharks", "Mistake"]
    teams = {
        n: api.ok("POST", f"championships/{cid}/teams/", {"name": n}, status=201)["id"]
        for n in names
    }
    # The typo is fixed in the admin, the mistake removed through the API.
    response = admin.post(
        reverse("admin:championships_team_change", args=[teams["Tigres"]]),
        {"name": "Tigers", "group": ""},
    )
    assert response.status_code == 302
    teams["Tigers"] = teams.pop("Tigres")
    api.ok("DELETE", f"championships/{cid}/teams/{teams.pop('Mistake')}/", status=204)

    # Fixtures, then published.
    fixtures = api.ok(
        "POST",
        f"championships/{cid}/fixtures/",
        {"first_kickoff_at": "2025-03-01T15:00:00Z"},
        status=201,
    )["matches"]
    assert len(fixtures) == 15
    api.ok("PATCH", f"championships/{cid}/", {"visibility": "published"})

    def match_of(a: str, b: str) -> dict[str, Any]:
        pair = {teams[a], teams[b]}
        return next(m for m in fixtures if {m["home_team"]["id"], m["away_team"]["id"]} == pair)

    def result(a: str, b: str, a_goals: int, b_goals: int) -> None:
        m = match_of(a, b)
        home_is_a = m["home_team"]["id"] == teams[a]
        score = (a_goals, b_goals) if home_is_a else (b_goals, a_goals)
        api.ok(
            "POST",
            f"matches/{m['id']}/complete/",
            {"home_score": score[0], "away_score": score[1]},
        )

    # Round one, live for one match, entered afterwards for the others.
    first = match_of("Lions", "Tigers")
    api.ok("POST", f"matches/{first['id']}/start/", {})
    lions_id = teams["Lions"]
    api.ok("POST", f"matches/{first['id']}/goals/", {"team": lions_id, "minute": 12})
    api.ok("POST", f"matches/{first['id']}/complete/", {})
    result("Bears", "Wolves", 2, 2)
    result("Eagles", "Sharks", 0, 1)

    # A postponement through the API, the new kickoff through the admin.
    postponed = match_of("Lions", "Bears")
    api.ok("POST", f"matches/{postponed['id']}/postpone/", {"reason": "frozen pitch"})
    admin_action(
        admin, "match", "reschedule", [postponed["id"]], apply="yes", kickoff="2025-04-30 19:45"
    )
    assert Match.objects.get(id=postponed["id"]).kickoff is not None
    result("Lions", "Bears", 3, 0)
    result("Tigers", "Wolves", 1, 0)

    # A deduction through the API, its appeal in the admin.
    deduction = api.ok(
        "POST",
        f"championships/{cid}/deductions/",
        {
            "team": teams["Wolves"],
            "points": 10,
            "reason": "financial rules",
            "effective_at": "2025-03-20T12:00:00Z",
        },
        status=201,
    )
    admin_action(
        admin, "deduction", "amend", [deduction["id"]], apply="yes", points=6, reason="appeal"
    )

    # Sharks withdraw mid-season under expunge (the default): their results are annulled.
    api.ok("POST", f"championships/{cid}/teams/{teams['Sharks']}/withdraw/", {"reason": "folded"})
    # Later the organiser adopts award_remaining (3-0); Eagles withdraw in the admin.
    api.ok(
        "PATCH",
        f"championships/{cid}/",
        {"withdrawal_policy": "award_remaining", "withdrawal_award_score": [3, 0]},
    )
    result("Eagles", "Lions", 0, 2)
    admin_action(admin, "team", "withdraw", [teams["Eagles"]], apply="yes", reason="bankrupt")

    # A correction in the admin.
    admin_action(
        admin,
        "match",
        "correct_with_reason",
        [match_of("Tigers", "Wolves")["id"]],
        apply="yes",
        home_score=2,
        away_score=0,
        reason="goal missed by the referee's report",
    )
    corrected = Match.objects.get(id=match_of("Tigers", "Wolves")["id"])
    assert sorted([corrected.home_score, corrected.away_score]) == [0, 2]

    # The remaining matches through the API.
    for m in Match.objects.filter(championship_id=cid, status=MatchStatus.SCHEDULED):
        api.ok("POST", f"matches/{m.id}/complete/", {"home_score": 1, "away_score": 1})
    assert not Match.objects.filter(
        championship_id=cid, status__in=[MatchStatus.SCHEDULED, MatchStatus.POSTPONED]
    ).exists()

    # The worker catches up: the public table equals a recomputation from the matches.
    from championships.models import Championship

    championship = Championship.objects.get(id=cid)

    def caught_up() -> bool:
        return projected(championship) == recomputed(championship)

    try:
        wait_until(caught_up, "the worker to bring the standings up to date")
    except AssertionError:
        assert projected(championship) == recomputed(championship)  # shows the difference
        raise
    code, table = Api(server, "").call("GET", f"championships/{cid}/standings/")
    assert code == 200
    rows = {r["team"]["name"]: r for r in table["rows"]}
    assert rows["Sharks"]["played"] == 0
    assert rows["Sharks"]["withdrawn"] is True
    assert rows["Eagles"]["withdrawn"] is True
    assert rows["Eagles"]["played"] == 4  # two played + two awarded to their opponents
    assert rows["Wolves"]["points_deducted"] == 6
    assert [n["points"] for n in table["deductions"]] == [6]
    assert [r["team"]["name"] for r in table["rows"][-2:]] == ["Eagles", "Sharks"] or [
        r["team"]["name"] for r in table["rows"][-2:]
    ] == ["Sharks", "Eagles"]

    # A rebuild from the admin gives the same table.
    admin_action(admin, "championship", "rebuild_standings", [cid])
    assert projected(championship) == recomputed(championship)
    code, rebuilt = Api(server, "").call("GET", f"championships/{cid}/standings/")
    assert rebuilt["rows"] == table["rows"]
