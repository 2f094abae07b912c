"""A rebuild while results are written and delivered, with a long unrelated transaction
open: it hands over to live delivery without losing or doubling an event."""

from __future__ import annotations

import os
import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import connection, transaction
from django.db.models import Sum

from championships import commands, projections
from championships.handlers import STANDINGS_SUBSCRIPTION
from championships.models import Championship, Standing, Team
from events import delivery
from events.models import Checkpoint, EventStream
from tests.championships.conftest import standings_snapshot
from tests.championships.factories import ChampionshipFactory, TeamFactory, UserFactory
from tests.events.workers import wait_for

REDIS_BROKER = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
MATCHES = 30


@contextmanager
def a_long_transaction_open() -> Iterator[None]:
    """An unrelated transaction holding a transaction id, open for the whole block."""
    opened, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT pg_current_xact_id()")
                opened.set()
                release.wait(timeout=120)
        finally:
            connection.close()

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    try:
        assert opened.wait(timeout=30)
        yield
    finally:
        release.set()
        holder.join(timeout=30)


def play_at_random(rng: random.Random, championship: Championship, teams: list[Team]) -> None:
    """Schedule two of the teams and complete the match with a random score."""
    home, away = rng.sample(teams, 2)
    match = commands.match_schedule(
        actor_id=championship.owner_id,
        championship_id=championship.id,
        home_team_id=home.id,
        away_team_id=away.id,
    )
    commands.match_complete(
        actor_id=championship.owner_id,
        championship_id=championship.id,
        match_id=match.id,
        home_score=rng.randint(0, 4),
        away_score=rng.randint(0, 4),
    )


def test_rebuild_during_writes_and_deliveries_equals_live_and_keeps_checkpoints():
    owner = UserFactory.create()
    championship = ChampionshipFactory.create(actor_id=owner.id)
    teams = TeamFactory.create_batch(6, championship=championship)
    delivery.deliver_all()
    writers_done = threading.Event()
    errors: list[Exception] = []

    def write_results() -> None:
        rng = random.Random(7)
        try:
            for _ in range(MATCHES):
                play_at_random(rng, championship, teams)
        except Exception as exc:  # noqa: BLE001 (asserted empty below)
            errors.append(exc)
        finally:
            writers_done.set()
            connection.close()

    def deliver_live() -> None:
        try:
            while not writers_done.is_set():
                delivery.deliver_all(max_rounds=1)
        except Exception as exc:  # noqa: BLE001 (asserted empty below)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write_results), threading.Thread(target=deliver_live)]
    rebuilt_mid_way = 0
    with a_long_transaction_open():
        for thread in threads:
            thread.start()
        while not writers_done.is_set():
            rebuilt_mid_way += projections.rebuild_standings(championship.id) > 0
        for thread in threads:
            thread.join(timeout=120)

    delivery.deliver_all()
    live = standings_snapshot(championship.id)
    projections.rebuild_standings(championship.id)

    assert errors == []
    assert rebuilt_mid_way >= 3
    assert standings_snapshot(championship.id) == live
    played = Standing.objects.filter(championship_id=championship.id).aggregate(n=Sum("played"))
    assert played["n"] == 60  # 30 matches, two teams each
    heads = dict(EventStream.objects.values_list("stream_id", "version"))
    checkpoints = Checkpoint.objects.filter(subscription=STANDINGS_SUBSCRIPTION)
    assert checkpoints.count() == 31
    assert all(heads[c.stream_id] == c.version for c in checkpoints)


def _caught_up() -> bool:
    heads = dict(EventStream.objects.values_list("stream_id", "version"))
    checkpoints = Checkpoint.objects.filter(subscription=STANDINGS_SUBSCRIPTION)
    return checkpoints.count() == MATCHES + 1 and all(
        heads[c.stream_id] == c.version for c in checkpoints
    )


@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.live_delivery
@pytest.mark.xdist_group("workers")
def test_rebuild_beside_real_workers_with_a_long_transaction_open_equals_live(workers):
    owner = UserFactory.create()
    championship = ChampionshipFactory.create(actor_id=owner.id)
    teams = TeamFactory.create_batch(6, championship=championship)
    worker = workers("live", REDIS_BROKER)
    worker.wait_ready()
    rng = random.Random(11)
    rebuilt_behind_live = 0

    with a_long_transaction_open():
        for _ in range(MATCHES):
            play_at_random(rng, championship, teams)
            projections.rebuild_standings(championship.id)
            rebuilt_behind_live += not _caught_up()
        wait_for(_caught_up, 60, "the worker to deliver every result")
        live = standings_snapshot(championship.id)
        projections.rebuild_standings(championship.id)

    assert rebuilt_behind_live >= 1
    assert standings_snapshot(championship.id) == live
    played = Standing.objects.filter(championship_id=championship.id).aggregate(n=Sum("played"))
    assert played["n"] == 2 * MATCHES
