"""The saga engine on a saga of the tests' own: steps once per event, compensations in
reverse order, commands that fail for good, deadlines, operators' actions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import CommandError, call_command
from django.utils import timezone

from events import store
from events.registry import Event, registry
from events.store import RecordedEvent
from events.subscriptions import subscriptions
from events.testing import EventBus
from sagas import bus, engine
from sagas.bus import command_handler
from sagas.engine import Saga, StepContext, step
from sagas.events import SagaCompensationDone
from sagas.models import CommandRecord, SagaInstance, SagaStatus, SagaStep
from tests.sagas.conftest import settle

pytestmark = pytest.mark.django_db

STREAM = "test_saga"


@dataclass(frozen=True)
class OrderBegun(Event):
    event_type = "test.OrderBegun"
    stream_type = STREAM
    key: str


@dataclass(frozen=True)
class OrderAdvanced(Event):
    event_type = "test.OrderAdvanced"
    stream_type = STREAM
    key: str
    command: str = "test.Noop"


@dataclass(frozen=True)
class OrderBroke(Event):
    event_type = "test.OrderBroke"
    stream_type = STREAM
    key: str


undone: list[str] = []
fail_compensation = {"UndoA": False, "UndoB_once": False}


@command_handler("test.Noop")
def noop(command: CommandRecord) -> None:
    pass


@command_handler("test.Explode")
def explode(command: CommandRecord) -> None:
    raise RuntimeError("boom")


@command_handler("test.UndoA")
def undo_a(command: CommandRecord) -> None:
    if fail_compensation["UndoA"]:
        raise RuntimeError("cannot undo A")
    undone.append("UndoA")


@command_handler("test.UndoB")
def undo_b(command: CommandRecord) -> None:
    if fail_compensation["UndoB_once"] and command.attempts == 0:
        raise RuntimeError("UndoB fails its first attempt")
    undone.append("UndoB")


class OrderSaga(Saga):
    saga_type = "test_order"
    stream_types = (STREAM,)

    @classmethod
    def correlate(cls, recorded: RecordedEvent) -> str | None:
        return str(getattr(recorded.data, "key", "")) or None

    @step(OrderBegun, starts=True, compensate="test.UndoA")
    def on_begun(self, ctx: StepContext) -> None:
        assert ctx.event is not None
        assert isinstance(ctx.event.data, OrderBegun)
        ctx.state["key"] = ctx.event.data.key
        ctx.send("test.Noop", {})
        ctx.set_deadline(timedelta(hours=1))

    @step(OrderAdvanced, compensate="test.UndoB")
    def on_advanced(self, ctx: StepContext) -> None:
        assert ctx.event is not None
        ctx.send(ctx.event.data.command, {})  # type: ignore[attr-defined]

    @step(OrderBroke)
    def on_broke(self, ctx: StepContext) -> None:
        ctx.compensate("it broke")


@pytest.fixture(autouse=True)
def order_saga() -> Iterator[None]:
    for cls in (OrderBegun, OrderAdvanced, OrderBroke):
        registry.register(cls)
    engine.register(OrderSaga)
    undone.clear()
    fail_compensation.update(UndoA=False, UndoB_once=False)
    yield
    subscriptions.unregister(OrderSaga.subscription_name())
    engine._sagas.pop(OrderSaga.saga_type, None)
    for cls in (OrderBegun, OrderAdvanced, OrderBroke):
        registry.unregister(cls.event_type)


def write(key: str, *events: Event) -> None:
    stream = f"order-{key}"
    store.append(stream, list(events), store.stream_version(stream), stream_type=STREAM)


def saga(key: str = "k1") -> SagaInstance:
    return SagaInstance.objects.get(saga_type="test_order", correlation_key=key)


def test_compensations_run_in_reverse_order_one_at_a_time(event_bus: EventBus) -> None:
    write("k1", OrderBegun(key="k1"), OrderAdvanced(key="k1"), OrderBroke(key="k1"))
    settle(event_bus)
    assert undone == ["UndoB", "UndoA"]
    assert [d.command for d in event_bus.published_data(SagaCompensationDone)] == [
        "test.UndoB",
        "test.UndoA",
    ]
    instance = saga()
    assert (instance.status, instance.reason, instance.deadline) == (
        "compensated",
        "it broke",
        None,
    )
    undo_b_record = CommandRecord.objects.get(name="test.UndoB")
    undo_a_record = CommandRecord.objects.get(name="test.UndoA")
    assert undo_b_record.done_at is not None
    assert undo_b_record.done_at < undo_a_record.created_at  # A was sent after B finished


def test_a_compensation_that_fails_once_is_retried_and_runs_once(event_bus: EventBus) -> None:
    fail_compensation["UndoB_once"] = True
    write("k1", OrderBegun(key="k1"), OrderAdvanced(key="k1"), OrderBroke(key="k1"))
    settle(event_bus)
    assert undone == ["UndoB", "UndoA"]
    assert CommandRecord.objects.get(name="test.UndoB").attempts == 1
    assert saga().status == "compensated"
    for record in CommandRecord.objects.filter(compensation=True):
        assert bus.run(record.id) == "already done"
    assert undone == ["UndoB", "UndoA"]


def test_a_command_failing_for_good_compensates(event_bus: EventBus) -> None:
    write("k1", OrderBegun(key="k1"), OrderAdvanced(key="k1", command="test.Explode"))
    settle(event_bus)
    exploded = CommandRecord.objects.get(name="test.Explode")
    assert (exploded.status, exploded.attempts) == ("failed", bus.MAX_ATTEMPTS)
    assert "boom" in exploded.last_error
    assert undone == ["UndoB", "UndoA"]
    assert saga().status == "compensated"
    assert "test.Explode failed" in saga().reason


def test_a_failing_compensation_stops_the_saga_until_an_operator_retries_it(
    event_bus: EventBus,
) -> None:
    fail_compensation["UndoA"] = True
    write("k1", OrderBegun(key="k1"), OrderAdvanced(key="k1"), OrderBroke(key="k1"))
    settle(event_bus)
    assert saga().status == "failed"
    assert undone == ["UndoB"]

    fail_compensation["UndoA"] = False
    assert engine.saga_retry_step(saga_id=saga().id, actor="ops") == 1
    assert saga().status == "compensating"
    settle(event_bus)
    assert undone == ["UndoB", "UndoA"]
    assert saga().status == "compensated"


def test_a_timeout_that_fails_does_not_hold_up_the_others(event_bus: EventBus, monkeypatch):
    # Given two sagas past their deadlines, the first one's timeout failing
    write("k1", OrderBegun(key="k1"))
    write("k2", OrderBegun(key="k2"))
    settle(event_bus)
    for key, seconds in (("k1", 2), ("k2", 1)):
        SagaInstance.objects.filter(correlation_key=key).update(
            deadline=timezone.now() - timedelta(seconds=seconds)
        )

    def on_timeout(self: OrderSaga, ctx: StepContext) -> None:
        if ctx.instance.correlation_key == "k1":
            raise RuntimeError("the entry's row is gone")
        Saga.on_timeout(self, ctx)

    monkeypatch.setattr(OrderSaga, "on_timeout", on_timeout)

    # When the deadlines are checked
    # Then the second times out, the first waits for the next check
    # Before: the first one's error ended the check, every time (ordered by deadline):
    # no saga timed out any more
    assert engine.time_out_due() == 1
    settle(event_bus)
    assert (saga("k1").status, saga("k2").status) == ("running", "timed_out")


def test_a_saga_past_its_deadline_times_out(event_bus: EventBus) -> None:
    write("k1", OrderBegun(key="k1"))
    write("k2", OrderBegun(key="k2"))
    settle(event_bus)
    SagaInstance.objects.filter(correlation_key="k1").update(
        deadline=timezone.now() - timedelta(seconds=1)
    )
    assert engine.time_out_due() == 1
    assert engine.time_out_due() == 0
    settle(event_bus)
    assert (saga("k1").status, saga("k1").current_step) == ("timed_out", "timeout")
    assert saga("k2").status == "running"
    assert undone == ["UndoA"]


def test_an_operator_compensates_a_running_saga(event_bus: EventBus) -> None:
    write("k1", OrderBegun(key="k1"), OrderAdvanced(key="k1"))
    settle(event_bus)
    engine.saga_compensate(saga_id=saga().id, actor="ops")
    settle(event_bus)
    assert undone == ["UndoB", "UndoA"]
    assert saga().status == "compensated"
    with pytest.raises(engine.SagaActionError):
        engine.saga_compensate(saga_id=saga().id)
    with pytest.raises(engine.SagaActionError):
        engine.saga_retry_step(saga_id=saga().id)


def test_events_for_a_finished_saga_are_recorded_and_ignored(event_bus: EventBus) -> None:
    write("k1", OrderBegun(key="k1"), OrderBroke(key="k1"), OrderAdvanced(key="k1"))
    settle(event_bus)
    assert saga().status == "compensated"
    assert SagaStep.objects.filter(step="ignored:on_advanced").count() == 1
    assert not CommandRecord.objects.filter(step="on_advanced").exists()


def test_an_event_that_does_not_start_a_saga_finds_none(event_bus: EventBus) -> None:
    write("k9", OrderAdvanced(key="k9"))
    settle(event_bus)
    assert not SagaInstance.objects.exists()


def test_the_sagas_command_lists_instances_and_the_stuck_ones(event_bus: EventBus) -> None:
    write("k1", OrderBegun(key="k1"))
    write("k2", OrderBegun(key="k2"))
    settle(event_bus)
    SagaInstance.objects.filter(correlation_key="k2").update(
        deadline=timezone.now() - timedelta(minutes=1)
    )
    out = StringIO()
    call_command("sagas", "--json", stdout=out)
    listed = json.loads(out.getvalue())["sagas"]
    assert [(s["type"], s["correlation_key"], s["status"]) for s in listed] == [
        ("test_order", "k1", "running"),
        ("test_order", "k2", "running"),
    ]
    assert set(listed[0]) >= {"type", "correlation_key", "status", "current_step", "deadline"}
    out = StringIO()
    call_command("sagas", "--json", "--stuck", stdout=out)
    assert [s["correlation_key"] for s in json.loads(out.getvalue())["sagas"]] == ["k2"]


def test_admin_lists_sagas_with_the_breaker_and_staff_act_on_them(
    event_bus: EventBus, client, settings
) -> None:
    settings.PAYMENTS_BREAKER_NAME = "admin-test"
    write("k1", OrderBegun(key="k1"), OrderAdvanced(key="k1"))
    settle(event_bus)
    admin = User.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin)
    listing = client.get("/admin/sagas/sagainstance/?status=running")
    assert listing.status_code == 200
    assert b"data-breaker-state=" in listing.content
    detail = client.get(f"/admin/sagas/sagainstance/{saga().id}/change/")
    assert detail.status_code == 200
    assert b"on_advanced" in detail.content
    assert b"/admin/events/storedevent/?q=" in detail.content
    response = client.post(
        "/admin/sagas/sagainstance/",
        {"action": "compensate", "_selected_action": [str(saga().id)]},
    )
    assert response.status_code == 302
    assert saga().status == "compensating"

    nobody = User.objects.create_user("viewer", "v@example.com", "pw", is_staff=True)
    client.force_login(nobody)
    assert client.get("/admin/sagas/sagainstance/").status_code == 403

    organiser = User.objects.create_user("org", "o@example.com", "pw", is_staff=True)
    organiser.groups.add(Group.objects.get(name="Organisers"))
    client.force_login(organiser)
    # An organiser sees the entry sagas of their own championships only (this one belongs
    # to none: tests/sagas/test_entries.py shows them operating theirs).
    assert client.get("/admin/sagas/sagainstance/").context["cl"].result_count == 0


def test_the_sagas_command_refuses_a_negative_limit():
    # Before: a traceback (Negative indexing is not supported)
    with pytest.raises(CommandError, match="at least 0"):
        call_command("sagas", "--limit", "-1", stdout=StringIO())


def test_saga_streams_written_before_their_per_type_stream_type_can_go_on() -> None:
    # Given a saga whose stream head still has the old type "saga"
    import importlib

    from django.apps import apps

    from events import store
    from events.models import EventStream
    from sagas.events import SagaStepTaken, saga_stream

    migration = importlib.import_module("sagas.migrations.0006_saga_stream_heads_typed_per_saga")
    instance = SagaInstance.objects.create(
        saga_type="test_order", correlation_key="old", status=SagaStatus.RUNNING
    )
    stream = saga_stream(instance.id)
    step = SagaStepTaken(
        saga_id=instance.id, step="start", handled_event_id="", handled_event_type="X"
    )
    store.append(stream, [step], 0, stream_type="saga")
    with pytest.raises(store.InvalidAppend):
        store.append(stream, [step], 1, stream_type="saga.test_order")

    # When the migration runs
    migration.type_the_heads(apps, None)

    # Then the saga's next step is appended under its type
    store.append(stream, [step], 1, stream_type="saga.test_order")
    assert EventStream.objects.get(stream_id=stream).stream_type == "saga.test_order"


def test_the_saga_stream_migration_reads_each_saga_type_once(django_assert_max_num_queries):
    import importlib

    from django.apps import apps

    migration = importlib.import_module("sagas.migrations.0006_saga_stream_heads_typed_per_saga")
    for key in ("a", "b", "c"):
        SagaInstance.objects.create(saga_type="test_order", correlation_key=key)

    # Before: the model's ordering made DISTINCT one row per saga, and every saga of the
    # type was listed and updated again for each (quadratic in the number of sagas)
    with django_assert_max_num_queries(3):
        migration.type_the_heads(apps, None)
