"""Both sagas on the real stack: Celery worker processes (with beat where deadlines or
lost tasks matter), PostgreSQL, the Redis broker, and for payments a real web process
that the fake provider calls back. Emails are the files the workers' email backend
writes, so "sent once" counts what really left the process."""

from __future__ import annotations

import email
import email.policy
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest
from django.test import Client

from championships.models import Championship, Team
from events.models import Checkpoint, StoredEvent
from sagas import entries, registration
from sagas.events import SagaCompensationDone
from sagas.models import (
    CommandRecord,
    EntryWindow,
    Payment,
    PlayerProfile,
    SagaInstance,
    SagaStep,
    TeamEntry,
)
from sagas.payments import breaker, fake, signing
from tests.championships.factories import ChampionshipFactory, UserFactory
from tests.championships.servers import WebServer
from tests.events.workers import Worker, behind, wait_for
from tests.sagas import worker_main

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.slow,
    pytest.mark.live_delivery,
    pytest.mark.django_db(transaction=True),
    pytest.mark.xdist_group("workers"),
]

REDIS_BROKER = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
STRONG = "correct-horse-battery-9"
TIMEOUT = 60


@dataclass
class Stack:
    tmp: Path
    start_worker: Callable[..., Worker]
    env: dict[str, str]
    started: list[Worker] = field(default_factory=list)

    @property
    def mail_dir(self) -> Path:
        return self.tmp / "mail"

    def worker(self, name: str, *, beat: bool = False, env: dict[str, str] | None = None) -> Worker:
        worker: Worker = self.start_worker(
            name,
            REDIS_BROKER,
            beat=beat,
            main="tests.sagas.worker_main",
            extra_env={**self.env, **(env or {})},
        )
        worker.wait_ready()
        self.started.append(worker)
        return worker

    def wait(self, condition: Callable[[], object], what: str) -> None:
        """Poll until ``condition`` (a deadline of TIMEOUT); on timeout, the workers' logs."""
        try:
            wait_for(condition, TIMEOUT, what)
        except AssertionError as exc:
            logs = "\n".join(f"--- {w.name}\n{w.log()[-6000:]}" for w in self.started)
            pending = list(
                CommandRecord.objects.exclude(status="done").values_list(
                    "name", "status", "last_error"
                )
            )
            sagas = list(
                SagaInstance.objects.values_list("saga_type", "status", "current_step", "state")
            )
            raise AssertionError(
                f"{exc}\nbehind: {behind()}\ncommands: {pending}\nsagas: {sagas}\n{logs}"
            ) from None

    def emails(self) -> list[tuple[str, str]]:
        """(to, subject) of every email the workers sent."""
        sent = []
        for path in sorted(self.mail_dir.glob("*.log")):
            for text in path.read_text().split("-" * 79):
                message = email.message_from_string(text.strip(), policy=email.policy.default)
                if message["To"]:
                    sent.append((str(message["To"]), str(message["Subject"])))
        return sent


@pytest.fixture
def stack(tmp_path: Path, workers, settings, worker_id: str) -> Iterator[Stack]:
    name = f"test-{worker_id}-{os.getpid()}-{time.monotonic_ns()}"
    settings.PAYMENTS_BREAKER_NAME = name  # this process reads the same circuit as workers
    (tmp_path / "mail").mkdir()
    env = {
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(tmp_path / "mail"),
        "PAYMENTS_BREAKER_NAME": name,
        worker_main.DIR_ENV: str(tmp_path),
    }
    yield Stack(tmp_path, workers, env)
    breaker.reset()
    fake.set_down(False)


def sign_up(username: str) -> int:
    response = Client().post(
        "/api/v1/auth/register/",
        {"username": username, "email": f"{username}@example.com", "password": STRONG},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    return int(response.json()["user"]["id"])


def registration_of(user_id: int) -> str:
    return registration.registration_status(user_id)


def completed(*user_ids: int) -> Callable[[], bool]:
    return lambda: all(registration_of(u) == "completed" for u in user_ids)


def assert_each_step_once() -> None:
    seen = list(SagaStep.objects.exclude(event_id=None).values_list("saga_id", "event_id"))
    assert len(seen) == len(set(seen))


# --- registration ---------------------------------------------------------------------


def test_registration_happy_path_end_to_end(stack: Stack) -> None:
    league = registration.league_create(name="Players", capacity=10, is_default=True)
    stack.worker("w1")
    user_id = sign_up("alice")

    stack.wait(completed(user_id), "alice's registration to complete")

    profile = PlayerProfile.objects.get(user_id=user_id)
    assert profile.league_id == league.id
    assert stack.emails() == [("alice@example.com", "Welcome to Players")]
    saga = SagaInstance.objects.get(correlation_key=str(user_id))
    assert saga.status == "completed"
    assert list(saga.steps.values_list("step", flat=True)) == [
        "on_user_registered",
        "on_profile_created",
        "on_league_assigned",
        "on_email_sent",
    ]
    assert_each_step_once()


def test_league_full_waiting_list_then_a_place_frees_and_the_first_is_assigned(
    stack: Stack,
) -> None:
    registration.league_create(name="Players", capacity=1, is_default=True)
    stack.worker("w1")
    first = sign_up("first")
    stack.wait(completed(first), "the first registration")
    second, third = sign_up("second"), sign_up("third")
    stack.wait(
        lambda: (
            registration_of(second) == registration_of(third) == "waiting_list"
            and len(stack.emails()) == 3
        ),
        "two players on the waiting list, with their emails",
    )

    registration.player_leave_league(user_id=first)

    stack.wait(completed(second), "the first on the list to be assigned")
    assert registration_of(third) == "waiting_list"
    assert sorted(stack.emails()) == [
        ("first@example.com", "Welcome to Players"),
        ("second@example.com", "Welcome to Players"),
        ("second@example.com", "You are on the waiting list of Players"),
        ("third@example.com", "You are on the waiting list of Players"),
    ]
    assert_each_step_once()


def test_a_step_handler_that_crashes_once_still_completes_once(stack: Stack) -> None:
    registration.league_create(name="Players", capacity=10, is_default=True)
    worker = stack.worker("w1", env={worker_main.CRASH_ONCE_ENV: "on_profile_created"})
    user_id = sign_up("crashy")

    stack.wait(completed(user_id), "the registration to complete after the crash")

    assert "crashes once" in worker.log()
    saga = SagaInstance.objects.get(correlation_key=str(user_id))
    assert saga.steps.filter(step="on_profile_created").count() == 1
    assert CommandRecord.objects.filter(saga=saga, name="AssignToDefaultLeague").count() == 1
    assert stack.emails() == [("crashy@example.com", "Welcome to Players")]
    assert_each_step_once()


def test_a_worker_killed_mid_saga_completes_after_restart_each_email_once(stack: Stack) -> None:
    registration.league_create(name="Players", capacity=10, is_default=True)
    first = stack.worker("first", env={worker_main.HOLD_ENV: "SendWelcomeEmail"})
    users = [sign_up(name) for name in ("kim", "lee", "max")]
    held = stack.tmp / worker_main.HELD_MARKER
    stack.wait(held.exists, "the first worker to be inside SendWelcomeEmail")

    first.kill()
    assert CommandRecord.objects.filter(name="SendWelcomeEmail", status="done").count() == 0
    # The killed task is not acknowledged: the dispatcher (beat) sends it again.
    stack.worker("second", beat=True)

    stack.wait(completed(*users), "every registration to complete after the restart")
    assert sorted(stack.emails()) == [
        (f"{name}@example.com", "Welcome to Players") for name in ("kim", "lee", "max")
    ]
    assert CommandRecord.objects.filter(name="SendWelcomeEmail", status="done").count() == 3
    assert_each_step_once()


# --- team entry -----------------------------------------------------------------------


@pytest.fixture
def web(tmp_path: Path, celery_queue: str, stack: Stack) -> Iterator[WebServer]:
    server = WebServer("web", celery_queue, tmp_path)
    stack.env["PAYMENTS_FAKE_WEBHOOK_URL"] = f"{server.url}/api/v1/webhooks/payments/"
    yield server
    server.stop()


def championship_open(deadline_seconds: int = 60, capacity: int = 4) -> Championship:
    organiser = UserFactory.create()
    championship = ChampionshipFactory.create(actor_id=organiser.id)
    entries.entries_open(
        actor_id=organiser.id,
        championship_id=championship.id,
        fee=Decimal("30.00"),
        currency="EUR",
        payment_deadline_seconds=deadline_seconds,
        capacity=capacity,
    )
    return championship


def enter(championship: Championship, team_name: str) -> TeamEntry:
    manager = UserFactory.create(username=f"manager-{team_name.lower().replace(' ', '-')}")
    return entries.team_entry_request(
        actor_id=manager.id, championship_id=championship.id, team_name=team_name
    )


def status_of(entry: TeamEntry) -> str:
    return str(TeamEntry.objects.get(id=entry.id).status)


def saga_of(entry: TeamEntry) -> SagaInstance:
    saga = SagaInstance.objects.filter(saga_type="team_entry", correlation_key=str(entry.id))
    return saga.get() if saga.exists() else SagaInstance(state={})


def post_webhook(server: WebServer, body: bytes, signature: str | None) -> int:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers[signing.HEADER] = signature
    request = urllib.request.Request(
        f"{server.url}/api/v1/webhooks/payments/", data=body, headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def processed_count(entry: TeamEntry) -> int:
    return StoredEvent.objects.filter(
        event_type="PaymentProcessed", stream_id=f"entry-{entry.id}"
    ).count()


def test_paid_entry_is_registered_and_a_replayed_webhook_changes_nothing(
    stack: Stack, web: WebServer
) -> None:
    championship = championship_open()
    stack.worker("w1")
    entry = enter(championship, "Lions")

    stack.wait(lambda: saga_of_done(entry), "the entry saga to complete")

    assert status_of(entry) == "registered"
    assert Team.objects.get(id=entry.id).name == "Lions"
    assert stack.emails() == [("manager-lions@example.com", "Lions is entered: payment received")]
    payment = Payment.objects.get(entry=entry)
    body = json.dumps(
        {"payment_id": payment.provider_payment_id, "status": "succeeded", "amount": "30.00"}
    ).encode()
    for _ in range(2):
        assert (
            post_webhook(web, body, signing.sign(body, "insecure-dev-only-webhook-secret")) == 200
        )
    assert processed_count(entry) == 1
    assert Payment.objects.get(entry=entry).webhooks_received == 3
    assert_each_step_once()


def saga_of_done(entry: TeamEntry) -> bool:
    saga = SagaInstance.objects.filter(correlation_key=str(entry.id)).first()
    return saga is not None and saga.status in ("completed", "compensated", "timed_out")


def test_bad_signature_and_stale_timestamp_are_refused_by_the_web_process(
    stack: Stack, web: WebServer
) -> None:
    championship = championship_open()
    entry = enter(championship, "NoPay Owls")  # the fake provider never calls back
    stack.worker("w1")
    stack.wait(
        lambda: saga_of(entry).state.get("phase") == "awaiting_payment",
        "the saga to wait for the payment",
    )
    payment = Payment.objects.get(entry=entry)
    body = json.dumps({"payment_id": payment.provider_payment_id, "status": "succeeded"}).encode()
    secret = "insecure-dev-only-webhook-secret"
    events = StoredEvent.objects.count()

    assert post_webhook(web, body, signing.sign(body, "not-the-secret")) == 401
    assert post_webhook(web, body, None) == 401
    assert post_webhook(web, body, signing.sign(body, secret, int(time.time()) - 3600)) == 401

    assert StoredEvent.objects.count() == events
    assert Payment.objects.get(entry=entry).webhooks_received == 0
    assert status_of(entry) == "awaiting_payment"


def test_failed_payment_cancels_releases_the_slot_and_notifies_compensating_in_reverse(
    stack: Stack, web: WebServer
) -> None:
    championship = championship_open(capacity=1)
    declined = enter(championship, "Decline Rovers")
    waiting = enter(championship, "Wanderers")
    # With beat, as deployed. This test used to stall, every delivery caught up (4 runs
    # in 6 on 2026-11-30): the worker's two processes ran the two entries' ReserveSlot
    # at once and the later entry could take the only slot, leaving the declined one
    # waiting for good. Slots now go in the order entries were requested.
    stack.worker("w1", beat=True)

    stack.wait(lambda: saga_of_done(declined), "the declined entry to be compensated")
    stack.wait(lambda: saga_of_done(waiting), "the waiting entry to get the slot and pay")

    assert saga_of(declined).status == "compensated"
    assert status_of(declined) == "cancelled"
    assert status_of(waiting) == "registered"
    compensations = [
        json.loads(json.dumps(e.payload))["command"]
        for e in StoredEvent.objects.filter(
            event_type=SagaCompensationDone.event_type, stream_id=f"saga-{saga_of(declined).id}"
        ).order_by("version")
    ]
    assert compensations == ["VoidPayment", "ReleaseSlot"]
    stack.wait(lambda: len(stack.emails()) == 2, "the two managers' emails")
    assert sorted(stack.emails()) == [
        (
            "manager-decline-rovers@example.com",
            "The entry of Decline Rovers is cancelled: payment failed: card declined",
        ),
        ("manager-wanderers@example.com", "Wanderers is entered: payment received"),
    ]
    assert not Team.objects.filter(id=declined.id).exists()


def test_no_payment_before_the_deadline_cancels_the_entry(stack: Stack, web: WebServer) -> None:
    championship = championship_open(deadline_seconds=2)
    entry = enter(championship, "NoPay Eagles")
    stack.worker("w1", beat=True)

    stack.wait(lambda: saga_of_done(entry), "the deadline to pass")

    assert saga_of(entry).status == "timed_out"
    assert status_of(entry) == "cancelled"
    assert Payment.objects.get(entry=entry).status == "voided"
    stack.wait(lambda: len(stack.emails()) == 1, "the manager's email")
    assert stack.emails()[0][1].startswith("The entry of NoPay Eagles is cancelled")
    assert EntryWindow.objects.get(championship=championship).capacity == 4


def test_provider_down_opens_the_breaker_entries_wait_then_recover(
    stack: Stack, web: WebServer
) -> None:
    championship = championship_open()
    fake.set_down(True)
    entry = enter(championship, "Patient Bees")
    stack.worker(
        "w1",
        beat=True,
        env={"PAYMENTS_RETRY_SECONDS": "0.2", "PAYMENTS_BREAKER_RESET_SECONDS": "3"},
    )

    stack.wait(lambda: breaker.state().state == "open", "the breaker to open")
    request = CommandRecord.objects.get(name="RequestPayment", saga=saga_of(entry))
    assert (request.status, request.attempts) == ("pending", 0)
    assert status_of(entry) == "reserved"
    assert saga_of(entry).status == "running"

    fake.set_down(False)

    stack.wait(lambda: saga_of_done(entry), "the entry to be paid once the provider is up")
    assert status_of(entry) == "registered"
    assert breaker.state().state == "closed"
    assert processed_count(entry) == 1
    assert not Checkpoint.objects.filter(blocked=True).exists()
