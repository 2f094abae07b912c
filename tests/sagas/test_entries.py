"""Team entry with payment in-process: each payment path, the webhook's checks, the
capacity waiting list and the circuit breaker."""

from __future__ import annotations

import json
import smtplib
import time
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.db.models import ProtectedError
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from championships.admin import ORGANISERS_GROUP
from championships.commands import (
    championship_update,
    fixtures_generate,
    team_register,
    team_update,
)
from championships.exceptions import InvalidState
from championships.models import Championship, Team
from events.models import Checkpoint, StoredEvent
from events.testing import EventBus
from sagas import bus, engine, entries, payments
from sagas.entries import handlers
from sagas.events import PaymentProcessed, SagaCompensationDone
from sagas.models import CommandRecord, EntryWindow, Payment, SagaInstance, TeamEntry
from sagas.payments import breaker, fake, signing
from tests.championships.factories import ChampionshipFactory, TeamFactory, UserFactory
from tests.sagas.conftest import open_entries, settle, window

pytestmark = [pytest.mark.django_db, pytest.mark.redis, pytest.mark.usefixtures("clean_breaker")]

SECRET = "insecure-dev-only-webhook-secret"


def request_entry(championship: Championship, name: str) -> TeamEntry:
    manager = UserFactory.create()
    return entries.team_entry_request(
        actor_id=manager.id, championship_id=championship.id, team_name=name
    )


def webhook(body: dict, *, secret: str = SECRET, timestamp: int | None = None, header=True):
    raw = json.dumps(body).encode()
    headers = {signing.HEADER: signing.sign(raw, secret, timestamp)} if header else {}
    return Client().post(
        "/api/v1/webhooks/payments/", raw, content_type="application/json", headers=headers
    )


def paid(entry: TeamEntry, status: str = "succeeded") -> dict:
    payment = Payment.objects.get(entry=entry)
    return {
        "id": "evt_1",
        "payment_id": payment.provider_payment_id,
        "status": status,
        "amount": str(payment.amount),
        "currency": payment.currency,
        "reference": str(entry.id),
    }


def saga_of(entry: TeamEntry) -> SagaInstance:
    return SagaInstance.objects.get(saga_type="team_entry", correlation_key=str(entry.id))


def test_paid_entry_registers_the_team(event_bus: EventBus, open_championship) -> None:
    entry = request_entry(open_championship, "Lions")
    settle(event_bus)
    entry.refresh_from_db()
    assert entry.status == "awaiting_payment"
    assert saga_of(entry).deadline is not None

    assert webhook(paid(entry)).status_code == 200
    settle(event_bus)

    entry.refresh_from_db()
    assert entry.status == "registered"
    team = Team.objects.get(id=entry.id)
    assert (team.name, team.championship_id) == ("Lions", open_championship.id)
    saga = saga_of(entry)
    assert (saga.status, saga.deadline) == ("completed", None)
    assert [m.subject for m in mail.outbox] == ["Lions is entered: payment received"]
    registered = StoredEvent.objects.get(event_type="TeamRegistered", payload__team_id=str(team.id))
    processed = event_bus.published(PaymentProcessed)[0]
    assert registered.metadata["causation_id"] == str(processed.event_id)
    assert registered.metadata["correlation_id"] == saga.correlation_id


def test_a_registered_teams_email_failing_for_good_stops_the_saga_undoing_nothing(
    event_bus: EventBus, open_championship, monkeypatch
) -> None:
    # Given a paid entry, and a mail server that refuses every attempt
    entry = request_entry(open_championship, "Lions")
    settle(event_bus)
    webhook(paid(entry))

    def refused(*args: object, **kwargs: object) -> int:
        raise smtplib.SMTPServerDisconnected("mail server away")

    working = handlers.send_mail
    monkeypatch.setattr(handlers, "send_mail", refused)

    # When the saga runs through every attempt of the manager's email
    settle(event_bus)

    # Then the team stays registered and paid, and the saga waits for an operator
    saga = saga_of(entry)
    assert (saga.status, saga.state["phase"]) == ("failed", "notification_failed")
    assert TeamEntry.objects.get(id=entry.id).status == "registered"
    assert Payment.objects.get(entry=entry).status == "succeeded"
    assert Team.objects.filter(id=entry.id).exists()
    assert not CommandRecord.objects.filter(name="VoidPayment").exists()

    # And once the mail server is back, the operator's retry sends the email and completes
    monkeypatch.setattr(handlers, "send_mail", working)
    assert engine.saga_retry_step(saga_id=saga.id, actor="ops") == 1
    settle(event_bus)
    assert saga_of(entry).status == "completed"
    assert [m.subject for m in mail.outbox] == ["Lions is entered: payment received"]


def test_an_operator_cannot_compensate_an_entry_past_its_registration(
    event_bus: EventBus, open_championship, monkeypatch
) -> None:
    # Given a paid, registered team whose confirmation email failed for good
    entry = request_entry(open_championship, "Lions")
    settle(event_bus)
    webhook(paid(entry))

    def refused(*args: object, **kwargs: object) -> int:
        raise smtplib.SMTPServerDisconnected("mail server away")

    monkeypatch.setattr(handlers, "send_mail", refused)
    settle(event_bus)
    saga = saga_of(entry)
    assert (saga.status, saga.state["phase"]) == ("failed", "notification_failed")

    # When an operator picks the admin's "Compensate" on it
    with pytest.raises(engine.SagaActionError, match="point of no return"):
        engine.saga_compensate(saga_id=saga.id, actor="organiser")
    settle(event_bus)

    # Then nothing is undone: the team stays registered with its payment and its entry
    # Before: accepted; the payment was voided and the entry "cancelled" while the team
    # stayed registered
    assert saga_of(entry).status == "failed"
    assert TeamEntry.objects.get(id=entry.id).status == "registered"
    assert Payment.objects.get(entry=entry).status == "succeeded"
    assert Team.objects.filter(id=entry.id).exists()


def test_compensations_leave_a_registered_entry_and_its_payment_alone(
    event_bus: EventBus, open_championship
) -> None:
    # Given a registered team
    entry = request_entry(open_championship, "Lions")
    settle(event_bus)
    webhook(paid(entry))
    settle(event_bus)
    assert TeamEntry.objects.get(id=entry.id).status == "registered"

    # When a VoidPayment and a CancelEntry for it run (an operator's compensation asked
    # for while RegisterTeam was committing, before the saga saw TeamEntryConfirmed)
    for name in ("VoidPayment", "CancelEntry"):
        bus.send(name, {"entry_id": str(entry.id), "reason": "operator"})
    settle(event_bus)

    # Then both are done and change nothing
    # Before: the payment was voided and the entry cancelled; the team stayed registered
    assert set(CommandRecord.objects.filter(saga=None).values_list("status", flat=True)) == {"done"}
    entry.refresh_from_db()
    assert (entry.status, entry.cancel_reason) == ("registered", "")
    assert Payment.objects.get(entry=entry).status == "succeeded"


def test_a_payment_voided_before_register_team_runs_registers_no_team(
    event_bus: EventBus, open_championship
) -> None:
    # Given a paid entry whose RegisterTeam has not run yet, and an operator compensating
    entry = request_entry(open_championship, "Lions")
    settle(event_bus)
    webhook(paid(entry))
    settle(event_bus, never="RegisterTeam")
    engine.saga_compensate(saga_id=saga_of(entry).id, actor="ops")

    # When its VoidPayment runs first, then its RegisterTeam
    assert bus.run(CommandRecord.objects.get(name="VoidPayment").id) == "done"
    assert bus.run(CommandRecord.objects.get(name="RegisterTeam").id) == "done"

    # Then no team is registered without its payment
    # Before: the entry, still "paid", was registered after its payment was voided
    assert not Team.objects.filter(id=entry.id).exists()
    settle(event_bus)
    assert TeamEntry.objects.get(id=entry.id).status == "cancelled"


def test_a_replayed_webhook_records_one_payment(event_bus: EventBus, open_championship) -> None:
    entry = request_entry(open_championship, "Tigers")
    settle(event_bus)
    body = paid(entry)
    answers = [webhook(body).status_code for _ in range(3)]
    settle(event_bus)
    assert answers == [200, 200, 200]
    assert len(event_bus.published(PaymentProcessed)) == 1
    assert Payment.objects.get(entry=entry).webhooks_received == 3
    assert Team.objects.filter(id=entry.id).count() == 1


@pytest.mark.parametrize(
    ("secret", "timestamp", "header"),
    [
        ("wrong-secret", None, True),
        (SECRET, None, False),
        (SECRET, int(time.time()) - 3600, True),
        (SECRET, int(time.time()) + 3600, True),
    ],
    ids=["bad-signature", "missing-signature", "stale-timestamp", "future-timestamp"],
)
def test_a_webhook_that_is_not_signed_now_is_refused_and_records_nothing(
    event_bus: EventBus, open_championship, secret: str, timestamp: int | None, header: bool
) -> None:
    entry = request_entry(open_championship, "Bears")
    settle(event_bus)
    events = StoredEvent.objects.count()
    response = webhook(paid(entry), secret=secret, timestamp=timestamp, header=header)
    assert response.status_code == 401
    assert "detail" in response.json()
    assert StoredEvent.objects.count() == events
    assert Payment.objects.get(entry=entry).webhooks_received == 0


def test_a_signature_that_is_not_ascii_is_refused_not_an_error() -> None:
    raw = b'{"payment_id": "x", "status": "succeeded"}'
    header = f"t={int(time.time())},v1=\u00e9t\u00e9".encode().decode("latin-1")
    response = Client().post(
        "/api/v1/webhooks/payments/",
        raw,
        content_type="application/json",
        HTTP_X_PAYMENT_SIGNATURE=header,
    )
    assert response.status_code == 401
    assert response.json() == {"detail": "signature does not match"}


def test_a_tampered_body_is_refused(event_bus: EventBus, open_championship) -> None:
    entry = request_entry(open_championship, "Wolves")
    settle(event_bus)
    raw = json.dumps(paid(entry)).encode()
    header = signing.sign(raw, SECRET)
    response = Client().post(
        "/api/v1/webhooks/payments/",
        raw.replace(b"succeeded", b"failed___"),
        content_type="application/json",
        HTTP_X_PAYMENT_SIGNATURE=header,
    )
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"not json", 400),
        (b"[1, 2]", 400),
        (b'{"payment_id": "x"}', 400),
        (b'{"payment_id": "x", "status": "maybe"}', 400),
        (b'{"payment_id": "nobody", "status": "succeeded"}', 404),
        # deeper than Python's parser goes (a RecursionError, it was a 500)
        (b"[" * 100_000 + b"]" * 100_000, 400),
    ],
)
def test_malformed_or_unknown_webhooks_get_json_errors(body: bytes, status: int) -> None:
    response = Client().post(
        "/api/v1/webhooks/payments/",
        body,
        content_type="application/json",
        HTTP_X_PAYMENT_SIGNATURE=signing.sign(body, SECRET),
    )
    assert response.status_code == status
    assert isinstance(response.json(), dict)


def test_failed_payment_compensates_in_reverse_and_frees_the_slot_for_the_waiting_list(
    event_bus: EventBus, open_championship
) -> None:
    first, _second, third = (request_entry(open_championship, n) for n in ("A", "B", "C"))
    settle(event_bus)
    third.refresh_from_db()
    assert third.status == "waiting"

    webhook(paid(first, "failed"))
    settle(event_bus)

    first.refresh_from_db()
    third.refresh_from_db()
    assert (first.status, first.cancel_reason) == ("cancelled", "payment failed: failed")
    assert third.status == "awaiting_payment"  # got the slot
    saga = saga_of(first)
    assert saga.status == "compensated"
    done = [e.command for e in event_bus.published_data(SagaCompensationDone)]
    assert done == ["VoidPayment", "ReleaseSlot"]  # the reverse of the steps' order
    assert [m.subject for m in mail.outbox] == [
        "The entry of A is cancelled: payment failed: failed"
    ]
    assert not Team.objects.filter(id=first.id).exists()


def test_slots_go_in_the_order_entries_were_requested_whichever_command_runs_first(
    event_bus: EventBus, open_championship
) -> None:
    # Given three entries for two slots, their sagas started (one ReserveSlot each)
    requested = [request_entry(open_championship, n) for n in ("First", "Second", "Third")]
    event_bus.deliver()
    reserve = {
        c.payload["entry_id"]: c.id for c in CommandRecord.objects.filter(name="ReserveSlot")
    }
    assert len(reserve) == 3

    # When a worker runs the last one's command first, then the others, newest first
    for entry in reversed(requested):
        bus.run(reserve[str(entry.id)])
    settle(event_bus)

    # Then the first two hold the slots and the third waits
    statuses = {e.team_name: e.status for e in TeamEntry.objects.filter(id__in=reserve)}
    assert statuses == {
        "First": "awaiting_payment",
        "Second": "awaiting_payment",
        "Third": "waiting",
    }
    assert [saga_of(e).state["phase"] for e in requested] == [
        "awaiting_payment",
        "awaiting_payment",
        "waiting_list",
    ]


def test_an_earlier_entry_decided_by_a_later_command_is_traced_to_its_own_saga(
    event_bus: EventBus, open_championship
) -> None:
    first, second = (request_entry(open_championship, n) for n in ("First", "Second"))
    event_bus.deliver()
    reserve = {
        c.payload["entry_id"]: c.id for c in CommandRecord.objects.filter(name="ReserveSlot")
    }

    bus.run(reserve[str(second.id)])  # the later entry's command runs first

    stream = f"entry-{first.id}"
    reserved = StoredEvent.objects.get(event_type="EntrySlotReserved", stream_id=stream)
    requested = StoredEvent.objects.get(stream_id=stream, version=1)
    assert reserved.metadata["correlation_id"] == saga_of(first).correlation_id
    assert reserved.metadata["causation_id"] == str(requested.event_id)


def test_an_earlier_entry_that_cannot_be_decided_does_not_hold_up_a_later_one(
    event_bus: EventBus, open_championship
) -> None:
    # Given two entries whose sagas run, the earlier one's row out of step with its stream
    first, second = (request_entry(open_championship, n) for n in ("First", "Second"))
    event_bus.deliver()
    TeamEntry.objects.filter(id=first.id).update(version=99)
    command = CommandRecord.objects.get(name="ReserveSlot", payload__entry_id=str(second.id))

    # When the later entry's command runs
    bus.run(command.id)

    # Then it decided its own entry and left the earlier one to its own command
    assert TeamEntry.objects.get(id=second.id).status == "reserved"
    assert TeamEntry.objects.get(id=first.id).status == "requested"


def test_an_entry_whose_saga_does_not_run_is_not_given_a_slot(
    event_bus: EventBus, open_championship
) -> None:
    # Given an entry whose request is parked for its saga (a dead letter), then two more
    parked = request_entry(open_championship, "Parked")
    Checkpoint.objects.create(
        subscription="sagas.team_entry",
        stream_id=f"entry-{parked.id}",
        stream_type="team_entry",
        version=0,
        blocked=True,
    )
    later = [request_entry(open_championship, n) for n in ("Second", "Third")]

    # When the others' sagas run, and the operator then skips the parked request
    settle(event_bus)
    Checkpoint.objects.filter(stream_id=f"entry-{parked.id}").update(version=1, blocked=False)
    settle(event_bus)

    # Then the two slots went to the entries whose sagas could use them
    statuses = [TeamEntry.objects.get(id=e.id).status for e in (parked, *later)]
    assert statuses == ["requested", "awaiting_payment", "awaiting_payment"]


def test_more_capacity_goes_to_the_waiting_list_before_a_newcomer(
    event_bus: EventBus, open_championship, organiser
) -> None:
    # Given two entries holding the two slots and a third waiting
    *_, waiting = (request_entry(open_championship, n) for n in ("A", "B", "C"))
    settle(event_bus)
    assert TeamEntry.objects.get(id=waiting.id).status == "waiting"

    # When the organiser makes room for a third team, and a fourth team enters
    open_entries(open_championship, organiser.id, capacity=3)
    newcomer = request_entry(open_championship, "D")
    settle(event_bus)

    # Then the waiting entry got the new slot and the newcomer waits
    assert TeamEntry.objects.get(id=waiting.id).status == "awaiting_payment"
    assert TeamEntry.objects.get(id=newcomer.id).status == "waiting"


def test_a_slot_freed_outside_the_sagas_goes_to_the_waiting_list_first(
    event_bus: EventBus, open_championship
) -> None:
    # Given a full championship with an entry waiting, and a team that then leaves
    # (removed by the organiser, not through a saga: no ReleaseSlot runs)
    team = TeamFactory.create(championship=open_championship)
    _holding, waiting = (request_entry(open_championship, n) for n in ("A", "B"))
    settle(event_bus)
    assert TeamEntry.objects.get(id=waiting.id).status == "waiting"
    Team.objects.filter(id=team.id).update(withdrawn=True)

    # When a newcomer enters
    newcomer = request_entry(open_championship, "C")
    settle(event_bus)

    # Then the waiting entry had the slot first
    assert TeamEntry.objects.get(id=waiting.id).status == "awaiting_payment"
    assert TeamEntry.objects.get(id=newcomer.id).status == "waiting"


def test_no_payment_before_the_deadline_times_out(event_bus: EventBus, open_championship) -> None:
    entry = request_entry(open_championship, "Late")
    settle(event_bus)
    SagaInstance.objects.filter(id=saga_of(entry).id).update(
        deadline=timezone.now() - timedelta(seconds=1)
    )
    assert engine.time_out_due() == 1
    settle(event_bus)

    entry.refresh_from_db()
    assert entry.status == "cancelled"
    assert saga_of(entry).status == "timed_out"
    assert Payment.objects.get(entry=entry).status == "voided"
    # A payment reported after the deadline changes nothing.
    assert webhook(paid(entry)).json() == {"received": True, "recorded": False}
    settle(event_bus)
    assert not Team.objects.filter(id=entry.id).exists()


def test_a_payment_recorded_before_the_deadline_is_not_voided_by_the_timeout(
    event_bus: EventBus, open_championship
) -> None:
    # Given an entry awaiting payment, and the provider's webhook recorded in time
    entry = request_entry(open_championship, "Lions")
    settle(event_bus)
    assert webhook(paid(entry)).json() == {"received": True, "recorded": True}

    # When beat's timeout runs before the saga's worker has delivered PaymentProcessed
    SagaInstance.objects.filter(id=saga_of(entry).id).update(
        deadline=timezone.now() - timedelta(seconds=1)
    )
    assert engine.time_out_due() == 1
    settle(event_bus)

    # Then the team that paid in time is registered, its payment kept
    # Before: timed out, its payment voided, its entry cancelled "no payment before the
    # deadline"
    entry.refresh_from_db()
    assert (entry.status, saga_of(entry).status) == ("registered", "completed")
    assert Payment.objects.get(entry=entry).status == "succeeded"


class VoidFailsProvider(fake.FakeProvider):
    failing = True

    def cancel_payment(self, provider_payment_id: str) -> None:
        if VoidFailsProvider.failing:
            raise RuntimeError("provider refuses the void")


def test_compensate_after_a_failed_compensation_finishes_it(
    event_bus: EventBus, open_championship, settings
) -> None:
    settings.PAYMENTS_PROVIDER = "tests.sagas.test_entries.VoidFailsProvider"
    VoidFailsProvider.failing = True
    # Given an unpaid entry past its deadline whose VoidPayment failed for good
    entry = request_entry(open_championship, "nopay")
    settle(event_bus)
    SagaInstance.objects.filter(id=saga_of(entry).id).update(
        deadline=timezone.now() - timedelta(seconds=1)
    )
    assert engine.time_out_due() == 1
    settle(event_bus)
    saga = saga_of(entry)
    assert saga.status == "failed"

    # When the provider is fixed and the operator picks "Compensate"
    VoidFailsProvider.failing = False
    engine.saga_compensate(saga_id=saga.id, actor="ops")
    settle(event_bus)

    # Then the failed VoidPayment is run again and the compensation ends
    # Before: the failed VoidPayment was found by its id, not sent again, and the saga
    # waited in "compensating" for ever
    assert saga_of(entry).status == "compensated"
    assert Payment.objects.get(entry=entry).status == "voided"
    assert TeamEntry.objects.get(id=entry.id).status == "cancelled"


class VoidDownProvider(fake.FakeProvider):
    def cancel_payment(self, provider_payment_id: str) -> None:
        raise payments.ProviderUnavailable("provider down")


def test_a_void_while_the_provider_is_down_waits_instead_of_failing_the_saga(
    event_bus: EventBus, open_championship, settings
) -> None:
    settings.PAYMENTS_PROVIDER = "tests.sagas.test_entries.VoidDownProvider"
    # Given an unpaid entry past its deadline while the provider is down for a while
    entry = request_entry(open_championship, "nopay")
    settle(event_bus)
    SagaInstance.objects.filter(id=saga_of(entry).id).update(
        deadline=timezone.now() - timedelta(seconds=1)
    )
    assert engine.time_out_due() == 1

    # When the compensation's VoidPayment runs
    settle(event_bus, never="ReleaseSlot")

    # Then it waits for the provider without using up attempts, the saga compensating
    # Before: the void bypassed the breaker; its 5 attempts were used up in seconds and
    # the saga stopped as failed halfway through its compensation
    void = CommandRecord.objects.get(name="VoidPayment")
    assert (void.status, void.attempts, saga_of(entry).status) == ("pending", 0, "compensating")
    assert void.last_error.startswith("waiting: payment provider unavailable")


def test_provider_down_opens_the_breaker_and_entries_wait_until_it_recovers(
    event_bus: EventBus, open_championship, settings
) -> None:
    settings.PAYMENTS_BREAKER_RESET_SECONDS = 0.5
    fake.set_down(True)
    entry = request_entry(open_championship, "Patient")
    settle(event_bus)
    request = CommandRecord.objects.get(name="RequestPayment")
    from sagas import bus

    for _ in range(5):
        assert bus.run(request.id) == "waiting"
    assert breaker.state().state == "open"
    request.refresh_from_db()
    assert (request.status, request.attempts) == ("pending", 0)
    assert "circuit open" in request.last_error

    fake.set_down(False)
    deadline = time.monotonic() + 10
    while bus.run(request.id) != "done":
        assert time.monotonic() < deadline, "the breaker never let a trial call through"
    assert breaker.state().state == "closed"
    entry.refresh_from_db()
    assert entry.status == "awaiting_payment"


class RejectsBadProvider(fake.FakeProvider):
    def create_payment(self, request: payments.PaymentRequest) -> payments.CreatedPayment:
        if "Bad" in request.description:
            raise ValueError("provider rejects this payment (400): currency not supported")
        return super().create_payment(request)


def test_a_payment_the_provider_rejects_fails_its_entry_without_opening_the_breaker(
    event_bus: EventBus, open_championship, settings
) -> None:
    settings.PAYMENTS_PROVIDER = "tests.sagas.test_entries.RejectsBadProvider"
    # Given one entry whose payment the (healthy) provider rejects, and a good one
    bad = request_entry(open_championship, "Bad")
    good = request_entry(open_championship, "Good")
    settle(event_bus, never="RequestPayment")
    bad_request = CommandRecord.objects.get(name="RequestPayment", payload__entry_id=str(bad.id))
    good_request = CommandRecord.objects.get(name="RequestPayment", payload__entry_id=str(good.id))

    # When the bad one's RequestPayment runs its attempts
    outcomes = [bus.run(bad_request.id) for _ in range(bus.MAX_ATTEMPTS)]

    # Then it fails for good and its saga compensates, the circuit stays closed, and the
    # good entry's payment goes through
    # Before: the third rejection opened the shared circuit; from then on the bad command
    # "waited" for ever without using attempts, and every other entry's payment waited too
    assert outcomes == ["retrying"] * (bus.MAX_ATTEMPTS - 1) + ["failed"]
    assert breaker.state().state == "closed"
    assert bus.run(good_request.id) == "done"
    settle(event_bus)
    assert saga_of(bad).status == "compensated"
    assert TeamEntry.objects.get(id=bad.id).status == "cancelled"
    assert TeamEntry.objects.get(id=good.id).status == "awaiting_payment"


def test_entries_need_open_entries_and_a_free_name(event_bus: EventBus, organiser) -> None:
    closed = ChampionshipFactory.create(actor_id=organiser.id)
    client = APIClient()
    client.force_authenticate(UserFactory.create())
    response = client.post(
        f"/api/v1/championships/{closed.id}/entries/", {"team_name": "X"}, format="json"
    )
    assert response.status_code == 409
    nope = client.post("/api/v1/championships/nope/entries/", {"team_name": "X"}, format="json")
    assert nope.status_code == 404


def test_a_name_the_championship_holds_for_the_same_is_refused_before_payment(
    event_bus: EventBus, open_championship
) -> None:
    # Given a registered team "Red Lions" and an entry "Blue  Tigers"
    TeamFactory.create(championship=open_championship, name="Red Lions")
    request_entry(open_championship, "Blue  Tigers")

    # When managers ask to enter names the championship holds for the same (it collapses
    # inner spaces and folds case)
    for name in ("Red  Lions", " RED LIONS", "blue tigers", "Blue\tTigers"):
        with pytest.raises(InvalidState, match="already entered"):
            request_entry(open_championship, name)

    # Then nothing is taken (and charged, to be refunded), and the entry's name is kept
    # as the championship will register it
    # Before: "Red  Lions" was accepted and paid; its RegisterTeam failed "already
    # registered" 5 times and the payment was voided
    names = TeamEntry.objects.filter(championship=open_championship)
    assert list(names.values_list("team_name", flat=True)) == ["Blue Tigers"]


def test_a_draft_takes_no_entries_and_tells_nothing_of_its_teams(
    event_bus: EventBus, open_championship, organiser
) -> None:
    # Given a championship with open entries and a team entered, then made a draft
    request_entry(open_championship, "Alpha")
    championship_update(
        actor_id=organiser.id, championship_id=open_championship.id, visibility="draft"
    )
    client = APIClient()
    client.force_authenticate(UserFactory.create())
    url = f"/api/v1/championships/{open_championship.id}/entries/"

    # When somebody else enters a team, with a new name or a taken one
    new = client.post(url, {"team_name": "Gamma"}, format="json")
    taken = client.post(url, {"team_name": "Alpha"}, format="json")

    # Then the draft does not exist for them (before: an entry created, and a 409
    # naming the team already entered)
    assert (new.status_code, taken.status_code) == (404, 404)
    assert TeamEntry.objects.filter(championship=open_championship).count() == 1


def test_organisers_open_entries_through_the_api(organiser) -> None:
    championship = ChampionshipFactory.create(actor_id=organiser.id)
    client = APIClient()
    body = {"fee": "10.00", "currency": "eur", "payment_deadline_seconds": 600, "capacity": 8}
    client.force_authenticate(UserFactory.create())
    url = f"/api/v1/championships/{championship.id}/entries/open/"
    assert client.post(url, body, format="json").status_code == 403
    client.force_authenticate(organiser)
    bad = client.post(url, {**body, "currency": "euros", "capacity": 0}, format="json")
    assert bad.status_code == 400
    assert set(bad.json()) == {"currency", "capacity"}
    ok = client.post(url, body, format="json")
    assert ok.status_code == 200
    assert ok.json()["currency"] == "EUR"
    assert StoredEvent.objects.filter(event_type="EntriesOpened").count() == 1


@pytest.mark.parametrize(
    ("sent", "stored"), [("-0", "0.00"), ("-0.00", "0.00"), ("10", "10.00"), ("7.5", "7.50")]
)
def test_an_entry_fee_is_kept_with_two_places_and_never_negative_zero(
    organiser, sent: str, stored: str
) -> None:
    # Given an organiser opening entries with a fee written in any way the API accepts
    championship = ChampionshipFactory.create(actor_id=organiser.id)
    client = APIClient()
    client.force_authenticate(organiser)
    body = {"fee": sent, "currency": "EUR", "payment_deadline_seconds": 60, "capacity": 4}
    url = f"/api/v1/championships/{championship.id}/entries/open/"

    # When the entries open
    answer = client.post(url, body, format="json")

    # Then the answer, the window and the event all say the same amount, with two places
    # (before: "-0" came back as "-0.00" and the event said "-0", "10" as "10")
    assert answer.status_code == 200, answer.content
    assert answer.json()["fee"] == stored
    assert str(EntryWindow.objects.get(championship=championship).fee) == stored
    assert StoredEvent.objects.get(event_type="EntriesOpened").payload["fee"] == stored


def test_managers_request_an_entry_through_the_api(event_bus: EventBus, open_championship) -> None:
    manager = UserFactory.create()
    client = APIClient()
    client.force_authenticate(manager)
    url = f"/api/v1/championships/{open_championship.id}/entries/"
    created = client.post(url, {"team_name": "Rovers"}, format="json")
    assert created.status_code == 201
    assert client.post(url, {"team_name": "rovers"}, format="json").status_code == 409
    assert client.post(url, {"team_name": ""}, format="json").status_code == 400
    settle(event_bus)
    detail = client.get(f"/api/v1/entries/{created.json()['id']}/")
    assert detail.json()["status"] == "awaiting_payment"
    client.force_authenticate(UserFactory.create())
    assert client.get(f"/api/v1/entries/{created.json()['id']}/").status_code == 404


def test_only_the_manager_organisers_and_superusers_read_an_entry(
    event_bus: EventBus, open_championship, organiser
) -> None:
    # Given an entry, and another championship's organiser (staff, in Organisers)
    manager = UserFactory.create()
    entry = entries.team_entry_request(
        actor_id=manager.id, championship_id=open_championship.id, team_name="Secret Squad"
    )
    stranger = UserFactory.create(is_staff=True)
    stranger.groups.add(Group.objects.get(name=ORGANISERS_GROUP))
    superuser = UserFactory.create(is_staff=True, is_superuser=True)
    client = APIClient()

    # When each asks the API for it
    def status_for(user) -> int:
        client.force_authenticate(user)
        return client.get(f"/api/v1/entries/{entry.id}/").status_code

    # Then the manager, the organiser and a superuser read it; for the stranger it does
    # not exist
    # Before: any staff user read any entry (200 with the team, status and fee)
    assert [status_for(u) for u in (manager, organiser, superuser, stranger)] == [
        200,
        200,
        200,
        404,
    ]


def test_no_entries_once_fixtures_are_generated(organiser) -> None:
    championship = ChampionshipFactory.create(actor_id=organiser.id)
    for name in ("A", "B"):
        TeamFactory.create(championship=championship, name=name)
    fixtures_generate(actor_id=organiser.id, championship_id=championship.id)
    client = APIClient()
    client.force_authenticate(organiser)
    body = {"fee": "10.00", "currency": "EUR", "payment_deadline_seconds": 60, "capacity": 4}
    url = f"/api/v1/championships/{championship.id}/entries/open/"
    assert client.post(url, body, format="json").status_code == 409


@pytest.mark.parametrize("group_format", ["groups", "groups_knockout"])
def test_a_group_championship_takes_no_entries_before_anything_is_paid(
    event_bus: EventBus, organiser, group_format: str
) -> None:
    # Given a championship whose teams each need a group (which an entry does not name),
    # and a window left open on it by an older version
    championship = ChampionshipFactory.create(actor_id=organiser.id, format=group_format)
    EntryWindow.objects.create(
        championship=championship,
        fee="25.00",
        currency="EUR",
        payment_deadline_seconds=60,
        capacity=4,
    )
    client = APIClient()
    body = {"fee": "10.00", "currency": "EUR", "payment_deadline_seconds": 60, "capacity": 4}

    # When its organiser opens entries, and a manager asks to enter a team
    client.force_authenticate(organiser)
    url = f"/api/v1/championships/{championship.id}/entries/"
    opened = client.post(f"{url}open/", body, format="json")
    client.force_authenticate(UserFactory.create())
    asked = client.post(url, {"team_name": "X"}, format="json")

    # Then both are refused with a 400 saying why, and no entry exists to be charged
    # Before: entries opened and the entry was taken; once paid, its RegisterTeam failed 5
    # times ("a team of a group championship needs a group"): charged, then refunded
    assert (opened.status_code, asked.status_code) == (400, 400)
    assert "needs a group" in str(opened.json())
    assert "needs a group" in str(asked.json())
    assert not TeamEntry.objects.filter(championship=championship).exists()
    assert not StoredEvent.objects.filter(event_type="EntriesOpened").exists()


def test_organisers_see_and_operate_only_the_entry_sagas_of_their_championships(
    event_bus: EventBus, open_championship
) -> None:
    # Given an entry saga running in one organiser's championship, and another organiser
    # (both staff in the Organisers group, which may view and operate sagas)
    owner = open_championship.owner
    stranger = UserFactory.create()
    for user in (owner, stranger):
        user.is_staff = True
        user.save()
        user.groups.add(Group.objects.get(name=ORGANISERS_GROUP))
    request_entry(open_championship, "Rovers")
    settle(event_bus)
    saga = SagaInstance.objects.get(saga_type="team_entry")
    assert saga.status == "running"
    client = Client()

    # When the other organiser looks for it and asks to compensate it
    client.force_login(stranger)
    listing = client.get("/admin/sagas/sagainstance/")
    detail = client.get(f"/admin/sagas/sagainstance/{saga.id}/change/")
    commands_listing = client.get("/admin/sagas/commandrecord/")
    client.post(
        "/admin/sagas/sagainstance/", {"action": "compensate", "_selected_action": [str(saga.id)]}
    )

    # Then none of it is theirs to see or to change (before: listed, shown, compensated)
    assert listing.status_code == 200
    assert listing.context["cl"].result_count == 0
    assert detail.status_code == 302  # the admin's "does not exist" redirect
    assert commands_listing.context["cl"].result_count == 0
    saga.refresh_from_db()
    assert saga.status == "running"

    # While their own organiser sees the saga and its commands
    client.force_login(owner)
    own = client.get("/admin/sagas/sagainstance/")
    assert own.context["cl"].result_count == 1
    assert b"Compensate selected sagas" in own.content
    assert client.get(f"/admin/sagas/sagainstance/{saga.id}/change/").status_code == 200
    assert client.get("/admin/sagas/commandrecord/").context["cl"].result_count >= 1


def test_an_entry_request_retried_with_its_idempotency_key_is_replayed(
    event_bus: EventBus, open_championship
) -> None:
    # Given a team manager whose entry request's answer was lost
    client = APIClient()
    client.force_authenticate(UserFactory.create())
    url = f"/api/v1/championships/{open_championship.id}/entries/"
    headers = {"Idempotency-Key": "entry-1"}
    first = client.post(url, {"team_name": "Bob FC"}, format="json", headers=headers)

    # When the app retries it with the same key
    retried = client.post(url, {"team_name": "Bob FC"}, format="json", headers=headers)

    # Then it gets the first answer back, and one entry was requested (before: the key
    # was ignored and the retry answered 409 "already entered")
    assert first.status_code == retried.status_code == 201
    assert retried.json() == first.json()
    assert retried["Idempotent-Replayed"] == "true"
    assert TeamEntry.objects.filter(championship=open_championship).count() == 1
    assert StoredEvent.objects.filter(event_type="TeamEntryRequested").count() == 1


class CreateFailsProvider(fake.FakeProvider):
    def create_payment(self, request: payments.PaymentRequest) -> payments.CreatedPayment:
        raise ValueError("currency not supported")


def test_a_forward_command_failing_during_compensation_does_not_stop_the_compensation(
    event_bus: EventBus, open_championship, settings
) -> None:
    # Given an entry whose RequestPayment is still pending, and an operator's compensate
    entry = request_entry(open_championship, "Lions")
    settle(event_bus, never="RequestPayment")
    saga = saga_of(entry)
    engine.saga_compensate(saga_id=saga.id, actor="ops")

    # When the RequestPayment fails for good (a provider error that is not an outage)
    settings.PAYMENTS_PROVIDER = f"{__name__}.CreateFailsProvider"
    request = CommandRecord.objects.get(name="RequestPayment")
    for _ in range(bus.MAX_ATTEMPTS):
        bus.run(request.id)
    settle(event_bus)

    # Then the compensation runs to its end and frees the slot
    # Before: the saga turned "failed" halfway; ReleaseSlot was never sent
    assert saga_of(entry).status == "compensated"
    assert TeamEntry.objects.get(id=entry.id).status == "cancelled"
    assert CommandRecord.objects.get(name="ReleaseSlot").status == "done"


def test_a_cancel_entry_that_failed_for_good_is_retried_by_an_operator(
    event_bus: EventBus, open_championship, monkeypatch
) -> None:
    # Given a declined payment, and the mail server down while the entry is cancelled
    entry = request_entry(open_championship, "Declined")
    settle(event_bus)
    webhook(paid(entry, "failed"))

    def refused(*args: object, **kwargs: object) -> int:
        raise smtplib.SMTPServerDisconnected("mail server away")

    working = handlers.send_mail
    monkeypatch.setattr(handlers, "send_mail", refused)
    settle(event_bus)
    assert CommandRecord.objects.get(name="CancelEntry").status == "failed"
    saga = saga_of(entry)
    assert saga.status == "compensated"

    # When the mail server is back and an operator retries the saga's step
    monkeypatch.setattr(handlers, "send_mail", working)
    assert engine.saga_retry_step(saga_id=saga.id, actor="ops") == 1
    settle(event_bus)

    # Then the manager is told and the entry says why; the saga stays compensated
    # Before: refused ("compensated: nothing to retry"), and nothing else could send it
    entry.refresh_from_db()
    assert CommandRecord.objects.get(name="CancelEntry").status == "done"
    assert entry.cancel_reason != ""
    assert saga_of(entry).status == "compensated"
    with pytest.raises(engine.SagaActionError, match="nothing to retry"):
        engine.saga_retry_step(saga_id=saga.id, actor="ops")


def test_generating_the_fixtures_closes_entries_and_ends_those_in_progress(
    event_bus: EventBus, organiser
) -> None:
    # Given a championship whose entries are open: one entry awaiting payment, one
    # paid but not registered yet, one on the waiting list, and one registered team
    championship = ChampionshipFactory.create(actor_id=organiser.id)
    TeamFactory.create(championship=championship, name="A")
    open_entries(championship, organiser.id, capacity=4)
    registered = request_entry(championship, "Registered")
    settle(event_bus)
    webhook(paid(registered))
    settle(event_bus)
    awaiting = request_entry(championship, "Awaiting")
    settle(event_bus)
    paid_entry = request_entry(championship, "Paid")
    settle(event_bus)
    webhook(paid(paid_entry))
    waiting = request_entry(championship, "Waiting")
    settle(event_bus, never="RegisterTeam")
    statuses = {e.team_name: e.status for e in TeamEntry.objects.all()}
    assert statuses == {
        "Registered": "registered",
        "Awaiting": "awaiting_payment",
        "Paid": "paid",
        "Waiting": "waiting",
    }

    # When the organiser generates the fixtures
    fixtures_generate(actor_id=organiser.id, championship_id=championship.id)
    settle(event_bus)

    # Then the entries that can no longer become teams are cancelled (payments voided),
    # the registered team stays, and no more entries are taken
    # Before: the waiting entry waited for ever; the others could still pay, and were
    # refunded only after RegisterTeam had failed five times
    for entry in (awaiting, paid_entry, waiting):
        entry.refresh_from_db()
        assert entry.status == "cancelled", entry.team_name
        assert "fixtures" in entry.cancel_reason
        assert saga_of(entry).status == "compensated"
    assert set(
        Payment.objects.filter(entry__in=[awaiting, paid_entry]).values_list("status", flat=True)
    ) == {"voided"}
    registered.refresh_from_db()
    assert registered.status == "registered"
    assert Payment.objects.get(entry=registered).status == "succeeded"
    assert not window(championship).is_open
    assert Team.objects.filter(championship=championship).count() == 2


def test_a_payment_is_not_requested_for_an_entry_whose_saga_is_being_undone(
    event_bus: EventBus, open_championship
) -> None:
    # Given an entry whose RequestPayment is pending when an operator compensates it
    entry = request_entry(open_championship, "Lions")
    settle(event_bus, never="RequestPayment")
    engine.saga_compensate(saga_id=saga_of(entry).id, actor="ops")
    event_bus.deliver()

    # When it runs after the VoidPayment (nothing to void yet) and before the ReleaseSlot
    bus.run(CommandRecord.objects.get(name="VoidPayment").id)
    bus.run(CommandRecord.objects.get(name="RequestPayment").id)
    settle(event_bus)

    # Then no payment was created at the provider
    # Before: a payment was requested after the compensation had voided none
    assert not Payment.objects.filter(entry=entry).exists()
    assert TeamEntry.objects.get(id=entry.id).status == "cancelled"


def test_a_manager_with_entries_is_not_deleted_with_the_record_of_their_payment(
    event_bus: EventBus, open_championship
) -> None:
    # Given a manager whose team entered and paid
    entry = request_entry(open_championship, "Lions")
    settle(event_bus)
    assert webhook(paid(entry)).status_code == 200
    settle(event_bus)

    # When an operator deletes the manager's account
    # Then it is refused: the entry and its payment are records of money received
    # Before: the entry and the payment went with the user (CASCADE)
    with pytest.raises(ProtectedError):
        entry.manager.delete()
    assert Payment.objects.filter(entry=entry, status="succeeded").exists()
    assert TeamEntry.objects.filter(id=entry.id).exists()


def test_an_organiser_cannot_register_a_name_a_live_entry_holds(
    event_bus: EventBus, open_championship, organiser
) -> None:
    # Given an entry "Red Lions" awaiting payment
    entry = request_entry(open_championship, "Red Lions")
    settle(event_bus)

    # When the organiser registers (or renames a team to) "red  lions" directly
    # Then it is refused
    # Before: registered; the manager then paid, RegisterTeam failed five times ("already
    # registered") and the entry was refunded
    with pytest.raises(InvalidState, match="already entered"):
        team_register(
            actor_id=organiser.id, championship_id=open_championship.id, name="red  lions"
        )
    other = TeamFactory.create(championship=open_championship, name="Tigers")
    with pytest.raises(InvalidState, match="already entered"):
        team_update(
            actor_id=organiser.id,
            championship_id=open_championship.id,
            team_id=other.id,
            name="RED LIONS",
        )

    # And the entry, paid, is registered under its name
    webhook(paid(entry))
    settle(event_bus)
    entry.refresh_from_db()
    assert entry.status == "registered"
    assert Team.objects.get(id=entry.id).name == "Red Lions"


@pytest.mark.parametrize(("amount", "currency"), [("1.00", "EUR"), ("25.00", "USD"), ("x", "EUR")])
def test_a_payment_of_another_amount_than_the_fee_fails_the_entry_and_is_refunded(
    event_bus: EventBus, open_championship, amount, currency
) -> None:
    # Given an entry awaiting its 25.00 EUR
    entry = request_entry(open_championship, "Lions")
    settle(event_bus)

    # When the provider reports a payment of another amount or currency
    body = {**paid(entry), "amount": amount, "currency": currency}
    assert webhook(body).status_code == 200
    settle(event_bus)

    # Then the entry is not registered: it is cancelled and what was paid refunded
    # Before: registered, whatever was paid
    entry.refresh_from_db()
    assert entry.status == "cancelled"
    assert "the fee is 25.00 EUR" in entry.cancel_reason
    assert Payment.objects.get(entry=entry).status == "voided"
    assert not Team.objects.filter(id=entry.id).exists()


class NoCallsProvider(fake.FakeProvider):
    def create_payment(self, request: payments.PaymentRequest) -> payments.CreatedPayment:
        raise AssertionError("a free entry asked the provider for a payment")

    def cancel_payment(self, provider_payment_id: str) -> None:
        raise AssertionError("a free entry asked the provider to cancel a payment")


def test_a_free_entry_is_registered_without_the_payment_provider(
    event_bus: EventBus, organiser, settings
) -> None:
    # Given entries with no fee, and a provider that must not be asked
    championship = ChampionshipFactory.create(actor_id=organiser.id)
    open_entries(championship, organiser.id, capacity=4, fee="0")
    settings.PAYMENTS_PROVIDER = f"{__name__}.NoCallsProvider"

    # When a manager enters a team
    entry = request_entry(championship, "Lions")
    settle(event_bus)

    # Then the team is registered at once
    # Before: a payment of 0.00 was asked of the provider (a real one refuses it: the
    # entry was then cancelled), and paid only by its webhook
    entry.refresh_from_db()
    assert entry.status == "registered"
    assert Team.objects.filter(id=entry.id, name="Lions").exists()
    assert Payment.objects.get(entry=entry).provider == "free"


def test_a_free_entry_undone_asks_no_provider_to_cancel(
    event_bus: EventBus, organiser, settings
) -> None:
    # Given a free entry paid, its registration not yet run, when the fixtures close entries
    championship = ChampionshipFactory.create(actor_id=organiser.id)
    for name in ("A", "B"):
        TeamFactory.create(championship=championship, name=name)
    open_entries(championship, organiser.id, capacity=4, fee="0")
    settings.PAYMENTS_PROVIDER = f"{__name__}.NoCallsProvider"
    entry = request_entry(championship, "Lions")
    settle(event_bus, never="RegisterTeam")

    fixtures_generate(actor_id=organiser.id, championship_id=championship.id)
    settle(event_bus)

    entry.refresh_from_db()
    assert entry.status == "cancelled"
    assert Payment.objects.get(entry=entry).status == "voided"
