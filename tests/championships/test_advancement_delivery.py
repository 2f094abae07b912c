"""The advancement subscription under delivery's failure modes: real worker processes
redelivering results never advance a team twice; a poison event is parked as a dead
letter and holds its part of the bracket (the rest flows) until an organiser retries it."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

from championships import advancement, commands
from championships.advancement import SUBSCRIPTION
from championships.aggregates.bracket import DrawOptions
from championships.knockout_events import TeamAdvanced
from championships.models import Championship, Match, Team
from events import delivery, store
from events.clock import DatabaseNow
from events.deadletters import dead_letter_retry
from events.models import Checkpoint, DeadLetter, StoredEvent
from events.tasks import deliver_stream_task
from tests.championships.factories import ChampionshipFactory, TeamFactory, UserFactory
from tests.events.workers import Worker, wait_for

REDIS_BROKER = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


def cup(teams: int) -> tuple[Championship, list[Team]]:
    owner = UserFactory.create()
    championship = ChampionshipFactory.create(actor_id=owner.id, format="knockout")
    entrants = [TeamFactory.create(championship=championship, name=f"T{i}") for i in range(teams)]
    commands.fixtures_generate(
        actor_id=owner.id, championship_id=championship.id, draw=DrawOptions()
    )
    return championship, entrants


def first_round(championship: Championship) -> list[Match]:
    return list(
        Match.objects.filter(championship=championship, bracket_round=1).order_by(
            "bracket_position"
        )
    )


def complete(match: Match, home: int, away: int, **kwargs: Any) -> Match:
    return commands.match_complete(
        actor_id=match.championship.owner_id,
        championship_id=match.championship_id,
        match_id=match.id,
        home_score=home,
        away_score=away,
        **kwargs,
    )


def advanced(championship: Championship) -> int:
    return StoredEvent.objects.filter(
        event_type=TeamAdvanced.event_type,
        stream_id__in=[str(m.id) for m in Match.objects.filter(championship=championship)],
    ).count()


def second_round_filled(championship: Championship) -> bool:
    matches = Match.objects.filter(championship=championship, bracket_round=2)
    return all(m.home_team_id and m.away_team_id for m in matches)


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.live_delivery
@pytest.mark.django_db(transaction=True)
@pytest.mark.xdist_group("workers")
def test_real_workers_redelivering_results_never_advance_a_team_twice(
    workers: Callable[..., Worker],
):
    # Given two real workers that moved the winners of the quarter-finals on
    championship, teams = cup(8)
    for name in ("a", "b"):
        workers(name, REDIS_BROKER).wait_ready()
    for match in first_round(championship):
        complete(match, 1, 1, extra_time=True, penalties=(3, 5))
    wait_for(lambda: second_round_filled(championship), 60, "the workers to advance the winners")
    assert advanced(championship) == 4
    semis = {
        m.id: m.version for m in Match.objects.filter(championship=championship, bracket_round=2)
    }

    # When every result is delivered to the subscription again, twice at once
    streams = [str(m.id) for m in first_round(championship)]
    Checkpoint.objects.filter(subscription=SUBSCRIPTION, stream_id__in=streams).update(version=0)
    for stream in streams:
        for _ in range(2):
            deliver_stream_task.apply_async(args=(stream, "match", None))
    wait_for(
        lambda: all(
            Checkpoint.objects.get(subscription=SUBSCRIPTION, stream_id=s).version
            == store.stream_version(s)
            for s in streams
        ),
        60,
        "the workers to redeliver every result",
    )

    # Then nobody advanced again: the same four teams, the semi-finals unchanged
    assert advanced(championship) == 4
    after = Match.objects.filter(championship=championship, bracket_round=2)
    assert {m.id: m.version for m in after} == semis
    placed = {t for m in after for t in (m.home_team_id, m.away_team_id)}
    assert placed == {teams[1].id, teams[3].id, teams[5].id, teams[7].id}


def deliver(stream: Match) -> delivery.StreamResult:
    return delivery.deliver_stream(str(stream.id), "match", only=SUBSCRIPTION)


@pytest.mark.django_db
def test_a_poison_result_is_parked_and_holds_its_place_in_the_bracket_until_retried(
    monkeypatch: pytest.MonkeyPatch, event_bus: Any
):
    championship, teams = cup(4)
    event_bus.deliver()
    poisoned, healthy = first_round(championship)
    real_advance = advancement._advance_tie

    def faulty(match: Match) -> None:
        if match.id == poisoned.id:
            raise RuntimeError("a bug in advancing this tie")
        real_advance(match)

    monkeypatch.setattr(advancement, "_advance_tie", faulty)
    complete(poisoned, 2, 0)
    complete(healthy, 0, 1)

    # The healthy semi-final's winner goes through; the poisoned one is retried, then parked
    assert deliver(healthy).delivered > 0
    policy_attempts = 5
    for _ in range(policy_attempts):
        result = deliver(poisoned)
        Checkpoint.objects.filter(subscription=SUBSCRIPTION, stream_id=str(poisoned.id)).update(
            next_attempt_at=DatabaseNow(-1)
        )
    assert result.blocked == [SUBSCRIPTION]
    letter = DeadLetter.objects.get(subscription=SUBSCRIPTION)
    assert letter.stream_id == str(poisoned.id)
    final = Match.objects.get(championship=championship, bracket_round=2)
    assert (final.home_team_id, final.away_team_id) == (None, teams[3].id)

    # A later event of the same stream waits behind the dead letter
    commands.match_correct_result(
        actor_id=championship.owner_id,
        championship_id=championship.id,
        match_id=poisoned.id,
        home_score=2,
        away_score=3,
        reason="two goals ruled out",
    )
    assert deliver(poisoned).delivered == 0
    final.refresh_from_db()
    assert final.home_team_id is None

    # Fixed and retried: the held place is filled once, with the winner as corrected
    monkeypatch.setattr(advancement, "_advance_tie", real_advance)
    dead_letter_retry(dead_letter_id=letter.id, note="fixed")
    deliver(poisoned)
    final.refresh_from_db()
    assert final.home_team_id == teams[1].id
    moves = [
        e
        for e in event_bus.published_data(TeamAdvanced)
        if e.match_id == final.id and e.slot == "home"
    ]
    assert len(moves) == 1
    checkpoint = Checkpoint.objects.get(subscription=SUBSCRIPTION, stream_id=str(poisoned.id))
    assert (checkpoint.blocked, checkpoint.version) == (
        False,
        store.stream_version(str(poisoned.id)),
    )


@pytest.mark.django_db
def test_a_league_result_moves_nobody_on_and_costs_no_query(django_assert_num_queries):
    owner = UserFactory.create()
    championship = ChampionshipFactory.create(actor_id=owner.id)
    home, away = (TeamFactory.create(championship=championship) for _ in range(2))
    match = commands.match_schedule(
        actor_id=owner.id,
        championship_id=championship.id,
        home_team_id=home.id,
        away_team_id=away.id,
    )
    complete(Match.objects.get(id=match.id), 2, 1)
    completed = store.load(str(match.id))[-1]
    assert completed.event_type == "MatchCompleted"

    with django_assert_num_queries(0):
        advancement.advance_on_result(completed)
