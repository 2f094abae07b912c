"""The live pusher subscription: what it sends, to which groups, and only after commit."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
import uuid
from datetime import timedelta
from typing import Any

import pytest
import redis
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from championships import commands, live
from championships.events import standings_stream_id
from easychamp import settings as project_settings
from events.store import RecordedEvent
from events.subscriptions import subscriptions
from tests.championships.conftest import ids
from tests.championships.conftest import live as start
from tests.championships.factories import MatchFactory

pytestmark = pytest.mark.django_db


class Listener:
    """A channel in the (in-memory) layer that has joined some groups."""

    def __init__(self, *groups: str) -> None:
        self.layer = get_channel_layer()
        self.channel = async_to_sync(self.layer.new_channel)()
        for group in groups:
            async_to_sync(self.layer.group_add)(group, self.channel)

    def received(self) -> list[dict[str, object]]:
        async def drain() -> list[dict[str, object]]:
            messages = []
            queue = self.layer.channels.get(self.channel)
            while queue is not None and not queue.empty():
                messages.append(await self.layer.receive(self.channel))
            return messages

        return async_to_sync(drain)()


def recorded_goal(event_bus) -> RecordedEvent:
    match = MatchFactory.create()
    start(match)
    commands.match_record_goal(**ids(match), team_id=match.home.id, minute=9)
    return event_bus.published()[-1]


def test_a_match_event_goes_to_its_match_and_championship_groups(event_bus):
    goal = recorded_goal(event_bus)
    championship_id = goal.data.championship_id  # type: ignore[attr-defined]

    assert live.groups_for(goal) == [f"match.{goal.stream_id}", f"championship.{championship_id}"]


def test_standings_and_championship_events_go_to_the_championship_group(event_bus):
    match = MatchFactory.create()
    commands.match_complete(**ids(match), home_score=1, away_score=0)
    event_bus.deliver()
    published = event_bus.published()
    standings = [r for r in published if r.stream_type == "standings"]
    championship = [r for r in published if r.stream_type == "championship"]

    assert [r.stream_id for r in standings] == [standings_stream_id(match.championship_id)] * len(
        standings
    )
    assert standings
    assert championship
    assert {tuple(live.groups_for(r)) for r in standings + championship} == {
        (f"championship.{match.championship_id}",)
    }


def test_a_delivery_pushes_the_envelope_with_its_version_after_commit(
    event_bus, django_capture_on_commit_callbacks
):
    # Given a page's channel in the match's group
    goal = recorded_goal(event_bus)
    page = Listener(live.match_group(goal.stream_id))

    # When the events are delivered
    with django_capture_on_commit_callbacks(execute=True):
        event_bus.deliver()

    # Then it got each event of the match as its envelope, in version order
    messages = page.received()
    assert [(m["stream_id"], m["version"]) for m in messages] == [
        (goal.stream_id, v) for v in (1, 2, 3)
    ]
    # Pages are public: the domain facts, not the metadata (who acted, correlation ids)
    assert json.loads(messages[-1]["text"]) == {**goal.envelope(), "metadata": {}}  # type: ignore[arg-type]


def test_nothing_is_pushed_when_the_delivery_rolls_back(
    event_bus, django_capture_on_commit_callbacks
):
    goal = recorded_goal(event_bus)
    page = Listener(live.match_group(goal.stream_id))
    subscription = subscriptions.get(live.SUBSCRIPTION)

    def failing_delivery() -> None:
        with transaction.atomic():
            subscription.handler(goal)
            raise RuntimeError("the delivery transaction fails after the handler")

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        failing_delivery()

    assert page.received() == []


def test_a_redelivered_event_is_pushed_again_with_the_same_version(
    event_bus, django_capture_on_commit_callbacks
):
    # Pages drop a version they already applied, so a repeat is harmless.
    goal = recorded_goal(event_bus)
    page = Listener(live.match_group(goal.stream_id))
    subscription = subscriptions.get(live.SUBSCRIPTION)

    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            subscription.handler(goal)

    assert [m["version"] for m in page.received()] == [3, 3]


def test_an_old_event_is_not_pushed(event_bus, django_capture_on_commit_callbacks):
    goal = recorded_goal(event_bus)
    page = Listener(live.match_group(goal.stream_id))
    old = dataclasses.replace(
        goal, occurred_at=goal.occurred_at - live.STALE_AFTER - timedelta(seconds=1)
    )

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        live.push_batch([old])

    assert callbacks == []

    assert page.received() == []


def test_a_failed_push_is_counted_not_raised(
    event_bus, settings, django_capture_on_commit_callbacks
):
    goal = recorded_goal(event_bus)
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]},
        }
    }
    before = live.push_failures._value.get()

    with django_capture_on_commit_callbacks(execute=True):
        live.push_batch([goal])

    assert live.push_failures._value.get() == before + 1


def test_a_push_whose_groups_cannot_be_read_is_counted_not_raised(
    event_bus, monkeypatch, django_capture_on_commit_callbacks
):
    # A draft notice reads its championship's matches to know their groups: a database
    # failure there happens in an on_commit hook, where it must not escape
    goal = recorded_goal(event_bus)

    def unreadable(recorded: RecordedEvent) -> list[str]:
        raise RuntimeError("database gone")

    monkeypatch.setattr(live, "groups_for", unreadable)
    before = live.push_failures._value.get()

    with django_capture_on_commit_callbacks(execute=True):
        live.push_batch([goal])

    assert live.push_failures._value.get() == before + 1


@pytest.mark.redis
def test_pushes_through_the_redis_layer_arrive_in_order(settings):
    # The worker's path: one event loop thread of its own per process, kept between pushes.
    configured: dict[str, Any] = dict(project_settings.CHANNEL_LAYERS["default"])
    settings.CHANNEL_LAYERS = {
        "default": {
            **configured,
            "CONFIG": {**configured["CONFIG"], "prefix": f"test-{uuid.uuid4().hex}"},
        }
    }
    messages = [("match.m1", {"type": live.MESSAGE_TYPE, "version": v}) for v in (1, 2, 3)]

    async def page_receives(count: int) -> list[int]:
        # A pub/sub layer delivers to channels of its own process and event loop.
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add("match.m1", channel)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, live.send, messages[:2])
        await loop.run_in_executor(None, live.send, messages[2:])
        return [(await layer.receive(channel))["version"] for _ in range(count)]

    assert async_to_sync(page_receives)(3) == [1, 2, 3]


# --- push on commit, and claims ------------------------------------------------------


@pytest.fixture
def redis_layer(settings) -> None:
    configured: dict[str, Any] = dict(project_settings.CHANNEL_LAYERS["default"])
    settings.CHANNEL_LAYERS = {
        "default": {
            **configured,
            "CONFIG": {**configured["CONFIG"], "prefix": f"test-{uuid.uuid4().hex}"},
        }
    }


def claimed(recorded: RecordedEvent) -> bool:
    """Whether a process has pushed ``recorded`` (its claim is in Redis)."""
    client = redis.Redis.from_url(project_settings.REDIS_URL)
    try:
        return bool(client.exists(live._claim_key(recorded)))
    finally:
        client.close()


async def page(group: str) -> tuple[Any, str]:
    """A page's channel in the Redis pub/sub layer, joined to ``group``."""
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(group, channel)
    return layer, channel


@pytest.mark.redis
def test_the_committing_process_pushes_a_live_event_and_claims_it(event_bus, redis_layer):
    goal = recorded_goal(event_bus)

    async def page_receives() -> dict[str, Any]:
        layer, channel = await page(live.match_group(goal.stream_id))
        # From a request thread, while the page's consumer runs on its event loop.
        await asyncio.get_running_loop().run_in_executor(None, live.push_committed, [goal])
        return dict(await asyncio.wait_for(layer.receive(channel), 10))

    pushed = async_to_sync(page_receives)()

    assert (pushed["stream_id"], pushed["version"]) == (goal.stream_id, goal.version)
    assert json.loads(pushed["text"])["event_type"] == "GoalScored"
    assert claimed(goal)  # the live pusher will skip it


@pytest.mark.redis
def test_the_live_pusher_skips_an_event_its_committing_process_pushed(
    event_bus, redis_layer, django_capture_on_commit_callbacks
):
    pushed_first = recorded_goal(event_bus)
    match = MatchFactory.create()
    start(match)
    commands.match_record_goal(**ids(match), team_id=match.home.id, minute=30)
    later = event_bus.published()[-1]

    # The page on an event loop of its own; the pushes from this thread, which has the
    # database connection.
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def join() -> tuple[Any, str]:
        layer, channel = await page(live.match_group(pushed_first.stream_id))
        await layer.group_add(live.match_group(later.stream_id), channel)
        return layer, channel

    async def receive_until_later(layer: Any, channel: str) -> list[tuple[str, int]]:
        received: list[tuple[str, int]] = []
        while not received or received[-1] != (later.stream_id, later.version):
            message = await asyncio.wait_for(layer.receive(channel), 10)
            received.append((message["stream_id"], message["version"]))
        return received

    try:
        layer, channel = asyncio.run_coroutine_threadsafe(join(), loop).result(10)
        live.push_committed([pushed_first])
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            live.push_batch([pushed_first, later])
        received = asyncio.run_coroutine_threadsafe(
            receive_until_later(layer, channel), loop
        ).result(30)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)

    # A second push of the first event would come before the later one's.
    assert received == [
        (pushed_first.stream_id, pushed_first.version),
        (later.stream_id, later.version),
    ]
    assert claimed(later)


@pytest.mark.redis
def test_without_redis_a_push_on_commit_is_counted_not_raised(event_bus, settings):
    goal = recorded_goal(event_bus)
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]},
        }
    }
    before = live.push_failures._value.get()

    live.push_committed([goal])

    assert live.push_failures._value.get() == before + 1


def test_push_on_commit_never_raises_and_counts_the_failure(event_bus, redis_layer, monkeypatch):
    goal = recorded_goal(event_bus)

    def broken(*args: object) -> None:
        raise RuntimeError("layer gone")

    monkeypatch.setattr(live, "get_channel_layer", broken)
    before = live.push_failures._value.get()

    live.push_committed([goal])

    assert live.push_failures._value.get() == before + 1


def test_push_on_commit_leaves_unit_tests_in_memory_layer_to_the_pusher(
    event_bus, django_capture_on_commit_callbacks
):
    goal = recorded_goal(event_bus)
    page = Listener(live.match_group(goal.stream_id))

    live.push_committed([goal])
    assert page.received() == []

    with django_capture_on_commit_callbacks(execute=True):
        live.push_batch([goal])
    assert [m["version"] for m in page.received()] == [goal.version]
