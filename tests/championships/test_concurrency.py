"""Concurrent writers on PostgreSQL: real threads, each with its own connection."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connections, transaction

from championships import commands, projections, selectors
from championships.models import Championship, Match, StandingsHead
from events import store
from tests.championships.factories import ChampionshipFactory, MatchFactory, TeamFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def together(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls at the same moment in threads; each result or raised exception."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            outcomes[index] = call()
        except Exception as exc:  # noqa: BLE001 - the outcome under test
            outcomes[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


def register(championship: Championship, name: str, expected: int | None) -> Callable[[], Any]:
    return lambda: commands.team_register(
        actor_id=championship.owner_id,
        championship_id=championship.id,
        name=name,
        expected_version=expected,
    )


def test_with_the_same_expected_version_exactly_one_writer_wins(owner):
    championship = ChampionshipFactory.create(actor_id=owner.id)

    outcomes = together(*(register(championship, f"Team {i}", 1) for i in range(4)))

    conflicts = [o for o in outcomes if isinstance(o, store.ConcurrencyError)]
    assert len(conflicts) == 3
    assert [e.version for e in store.load(str(championship.id))] == [1, 2]
    assert Championship.objects.get(id=championship.id).version == 2
    assert selectors.teams_for_championship(championship_id=championship.id).count() == 1


def test_without_an_expected_version_losers_retry_on_fresh_state(owner):
    championship = ChampionshipFactory.create(actor_id=owner.id)

    outcomes = together(*(register(championship, f"Team {i}", None) for i in range(3)))

    assert not [o for o in outcomes if isinstance(o, Exception)]
    assert [e.version for e in store.load(str(championship.id))] == [1, 2, 3, 4]
    assert Championship.objects.get(id=championship.id).version == 4


def test_matches_of_one_championship_complete_in_parallel_without_conflict(owner):
    championship = ChampionshipFactory.create(actor_id=owner.id)
    teams = TeamFactory.create_batch(4, championship=championship)
    first, second = (
        MatchFactory.create(championship=championship, home_team=h, away_team=a)
        for h, a in ((teams[0], teams[1]), (teams[2], teams[3]))
    )

    outcomes = together(
        *(
            lambda m=m: commands.match_complete(
                actor_id=owner.id,
                championship_id=championship.id,
                match_id=m.id,
                home_score=1,
                away_score=0,
                expected_version=1,
            )
            for m in (first, second)
        )
    )

    assert all(isinstance(o, Match) for o in outcomes)
    assert {o.status for o in outcomes} == {"completed"}


def test_parallel_standings_deliveries_for_one_championship_take_turns(owner):
    championship = ChampionshipFactory.create(actor_id=owner.id)
    teams = TeamFactory.create_batch(4, championship=championship)
    for recorded in store.load(str(championship.id)):
        projections.apply_standings(recorded)
    results = []
    for home, away in ((teams[0], teams[1]), (teams[2], teams[3])):
        match = MatchFactory.create(championship=championship, home_team=home, away_team=away)
        commands.match_complete(
            actor_id=owner.id,
            championship_id=championship.id,
            match_id=match.id,
            home_score=2,
            away_score=0,
        )
        results += store.load(str(match.id), after_version=1)
    version_before = store.stream_version(f"standings-{championship.id}")

    def deliver(recorded: store.RecordedEvent) -> Callable[[], None]:
        def run() -> None:
            with transaction.atomic():
                projections.apply_standings(recorded)

        return run

    outcomes = together(*(deliver(r) for r in results))

    assert outcomes == [None, None]
    rows = list(selectors.standings_for_championship(championship_id=championship.id))
    assert [(r.played, r.points) for r in rows] == [(1, 3), (1, 3), (1, 0), (1, 0)]
    assert store.stream_version(f"standings-{championship.id}") == version_before + 2
    assert StandingsHead.objects.get(championship_id=championship.id).version == version_before + 2
