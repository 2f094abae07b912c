"""Lock orders on PostgreSQL: whatever two paths lock the same rows take them in the
same order, so neither holds one while waiting for the other (no deadlock to abort)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import psycopg
import pytest
from django.contrib.auth.models import User
from django.db import connection, transaction

from bench.workers import database_url
from championships.commands import team_register
from championships.exceptions import InvalidState
from championships.models import Team
from events.testing import EventBus
from sagas import bus, engine, entries, registration
from sagas.models import CommandRecord, Payment, PlayerProfile, TeamEntry
from tests.championships.factories import UserFactory
from tests.events.workers import wait_for
from tests.sagas.conftest import settle
from tests.sagas.test_entries import request_entry

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("clean_breaker"),
]


STRONG = "x9-Tq!mz-77"


def in_thread(work: Callable[[], object], errors: list[BaseException]) -> threading.Thread:
    """Run ``work`` in a thread of its own (a connection of its own); what it raises goes
    to ``errors``."""

    def run() -> None:
        try:
            work()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def own_pid() -> int:
    """The PostgreSQL backend of this thread's connection."""
    connection.ensure_connection()
    return int(connection.connection.info.backend_pid)


def waiting_for_a_lock(other_than: int) -> bool:
    """Whether a session of this database other than ``other_than`` waits for a lock."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND pid <> %s",
            [other_than],
        )
        row = cursor.fetchone()
    return bool(row and row[0])


def test_a_webhook_waiting_for_its_entry_holds_no_lock_on_the_payment(
    event_bus: EventBus, open_championship
) -> None:
    # Given an entry awaiting its payment, its row held by a saga command (VoidPayment
    # locks the entry, then the payment)
    entry = request_entry(open_championship, "Lockers")
    settle(event_bus)
    payment = Payment.objects.get(entry=entry)
    with psycopg.connect(database_url()) as command:
        command.execute("SELECT 1 FROM sagas_teamentry WHERE id = %s FOR UPDATE", [entry.id])
        holder = command.info.backend_pid

        # When the provider's webhook arrives meanwhile
        recorded: list[bool] = []
        errors: list[BaseException] = []
        thread = in_thread(
            lambda: recorded.append(
                entries.payment_webhook_record(
                    provider_payment_id=payment.provider_payment_id,
                    status="succeeded",
                    amount=str(payment.amount),
                    currency=payment.currency,
                )
            ),
            errors,
        )
        wait_for(lambda: waiting_for_a_lock(holder), 10, "the webhook to wait for the entry")

        # Then the command can still take the payment's row (the webhook holds nothing)
        command.execute("SELECT 1 FROM sagas_payment WHERE id = %s FOR UPDATE NOWAIT", [payment.id])
        command.rollback()
    thread.join(10)
    assert errors == []
    assert recorded == [True]
    assert Payment.objects.get(id=payment.id).status == "succeeded"


def test_an_operators_retry_while_a_worker_finishes_the_command_does_not_deadlock(
    event_bus: EventBus, default_league, monkeypatch
) -> None:
    # Given a saga whose command a worker is running for the last time, and will fail
    registration.player_register(username="dl", email="dl@example.com", password=STRONG)
    event_bus.deliver()
    record = CommandRecord.objects.get(name="CreatePlayerProfile")
    CommandRecord.objects.filter(id=record.id).update(attempts=bus.MAX_ATTEMPTS - 1)
    started, go = threading.Event(), threading.Event()

    def slow_failing(command: CommandRecord) -> None:
        started.set()
        go.wait(10)
        raise RuntimeError("the database of the profile service is down")

    monkeypatch.setitem(bus._handlers, "CreatePlayerProfile", slow_failing)
    errors: list[BaseException] = []
    worker = in_thread(lambda: bus.run(record.id), errors)
    assert started.wait(10)

    # When an operator retries the saga's step meanwhile
    saga_id = record.saga_id
    assert saga_id is not None
    operator = in_thread(lambda: engine.saga_retry_step(saga_id=saga_id, actor="ops"), errors)
    wait_for(lambda: waiting_for_a_lock(own_pid()), 10, "the operator to wait for the command")
    go.set()
    worker.join(20)
    operator.join(20)

    # Then both finish: the command failed for good, and the operator's retry sent it again
    assert errors == []
    assert CommandRecord.objects.get(id=record.id).attempts == 0


@pytest.mark.parametrize(
    ("first_name", "second_name"),
    # Equal ignoring case as sign-up compares them (iexact: upper() on PostgreSQL), the
    # last two not by lower() (the index before: both were created)
    [("Bob", "bob"), ("adm\u0131n", "ADMIN"), ("σοφος", "ΣΟΦΟΣ")],
)
def test_two_sign_ups_differing_only_in_case_at_the_same_moment_make_one_user(
    first_name: str, second_name: str
) -> None:
    # Given "Bob" signing up, his transaction not yet committed
    inside, release = threading.Event(), threading.Event()

    def bob() -> None:
        with transaction.atomic():
            registration.player_register(
                username=first_name, email="b1@example.com", password=STRONG
            )
            inside.set()
            release.wait(10)

    errors: list[BaseException] = []
    first = in_thread(bob, errors)
    assert inside.wait(10)

    # When "bob" signs up meanwhile (the check before the insert cannot see Bob yet)
    second = in_thread(
        lambda: registration.player_register(
            username=second_name, email="b2@example.com", password=STRONG
        ),
        errors,
    )
    # (or it did not wait: it got through, or was refused at once)
    wait_for(
        lambda: waiting_for_a_lock(own_pid()) or not second.is_alive(),
        10,
        "the second sign-up to wait or end",
    )
    release.set()
    first.join(10)
    second.join(10)

    # Then the second is refused as a taken name, and only Bob exists
    assert [type(e) for e in errors] == [registration.RegistrationInvalid]
    assert errors[0].args[0] == {"username": ["A user with that username already exists."]}
    assert list(User.objects.values_list("username", flat=True)) == [first_name]


def test_two_managers_entering_one_team_name_at_once_get_one_entry(
    event_bus: EventBus, open_championship
) -> None:
    # Given a manager entering "Lions", the request's transaction not yet committed
    inside, release = threading.Event(), threading.Event()
    managers = [UserFactory.create(), UserFactory.create()]

    def first_manager() -> None:
        with transaction.atomic():
            entries.team_entry_request(
                actor_id=managers[0].id, championship_id=open_championship.id, team_name="Lions"
            )
            inside.set()
            release.wait(10)

    errors: list[BaseException] = []
    first = in_thread(first_manager, errors)
    assert inside.wait(10)

    # When another manager enters "lions" meanwhile (the check cannot see the first yet)
    second = in_thread(
        lambda: entries.team_entry_request(
            actor_id=managers[1].id, championship_id=open_championship.id, team_name="lions"
        ),
        errors,
    )
    # (or it did not wait: it got through, or was refused at once)
    wait_for(
        lambda: waiting_for_a_lock(own_pid()) or not second.is_alive(),
        10,
        "the second entry request to wait or end",
    )
    release.set()
    first.join(10)
    second.join(10)

    # Then the second waits for the first's check and insert, and is refused
    # Before: both entries were created, both held a slot and could pay; the second's
    # RegisterTeam then failed and it was refunded
    assert [type(e) for e in errors] == [InvalidState]
    assert list(TeamEntry.objects.values_list("team_name", flat=True)) == ["Lions"]


@pytest.mark.parametrize("first_comes", ["organiser", "manager"])
def test_an_organisers_team_and_a_managers_entry_cannot_both_take_one_name(
    event_bus: EventBus, open_championship, first_comes: str
) -> None:
    # Given one of them taking "Lions", its transaction not yet committed
    inside, release = threading.Event(), threading.Event()
    manager = UserFactory.create()
    owner_id = open_championship.owner_id

    def organiser(name: str) -> object:
        return team_register(actor_id=owner_id, championship_id=open_championship.id, name=name)

    def entry(name: str) -> object:
        return entries.team_entry_request(
            actor_id=manager.id, championship_id=open_championship.id, team_name=name
        )

    take, then = (organiser, entry) if first_comes == "organiser" else (entry, organiser)

    def first() -> None:
        with transaction.atomic():
            take("Lions")
            inside.set()
            release.wait(10)

    errors: list[BaseException] = []
    one = in_thread(first, errors)
    assert inside.wait(10)

    # When the other takes "lions" meanwhile
    other = in_thread(lambda: then("lions"), errors)
    wait_for(
        lambda: waiting_for_a_lock(own_pid()) or not other.is_alive(),
        10,
        "the second to wait or end",
    )
    release.set()
    one.join(10)
    other.join(10)

    # Then the second is refused: one team or one entry holds the name
    # Before: both got it; the entry then paid, failed RegisterTeam and was refunded
    assert [type(e) for e in errors] == [InvalidState]
    teams = list(Team.objects.filter(championship=open_championship).values_list("name", flat=True))
    entered = list(TeamEntry.objects.values_list("team_name", flat=True))
    assert teams + entered == ["Lions"]


def test_a_player_deleted_while_being_given_a_place_passes_it_on(event_bus: EventBus) -> None:
    # Given a league of one place held by A, with B then C waiting
    league = registration.league_create(name="Tiny", capacity=1, is_default=True)
    for name in ("a", "b", "c"):
        registration.player_register(username=name, email=f"{name}@example.com", password=STRONG)
        settle(event_bus)
    inside, release = threading.Event(), threading.Event()

    def a_leaves() -> None:
        with transaction.atomic():
            registration.player_leave_league(user_id=User.objects.get(username="a").id)
            inside.set()  # B has the place, not committed yet
            release.wait(10)

    errors: list[BaseException] = []
    leaving = in_thread(a_leaves, errors)
    assert inside.wait(10)

    # When B's account is deleted meanwhile (read as waiting, deleted once A commits)
    deleting = in_thread(lambda: User.objects.get(username="b").delete(), errors)
    wait_for(
        lambda: waiting_for_a_lock(own_pid()) or not deleting.is_alive(),
        10,
        "the deletion to wait or end",
    )
    release.set()
    leaving.join(10)
    deleting.join(10)

    # Then C has the place
    # Before: the place went with B
    assert errors == []
    assert PlayerProfile.objects.get(user__username="c").league_id == league.id
