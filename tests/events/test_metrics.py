"""The event-store counters of events/metrics.py, as Prometheus scrapes them at /metrics.

Counters live for the whole process, so each test compares before and after.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from bench.models import ProbeFault
from bench.probe import SUBSCRIPTION, ProbeTicked
from events import delivery, store
from events.models import Checkpoint

pytestmark = pytest.mark.django_db


def scrape(client: Client) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def value(
    scraped: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return scraped.get((name, frozenset(labels.items())), 0.0)


def deliver(stream: str) -> None:
    delivery.deliver_stream(stream, "probe")


def test_metrics_endpoint_declares_every_event_store_metric(client):
    response = client.get("/metrics")

    text = response.content.decode()
    for name, kind in (
        ("easychamp_events_appended_total", "counter"),
        ("easychamp_events_delivered_total", "counter"),
        ("easychamp_event_handler_failures_total", "counter"),
        ("easychamp_events_dead_lettered_total", "counter"),
        ("easychamp_delivery_wakeups_total", "counter"),
        ("easychamp_event_processing_seconds", "histogram"),
        ("easychamp_delivery_lag_seconds", "histogram"),
    ):
        assert f"# TYPE {name} {kind}\n" in text


def test_delivered_events_are_counted_per_subscription(client):
    store.append("m1", [ProbeTicked(n=i) for i in range(3)], 0)
    before = scrape(client)

    deliver("m1")

    after = scrape(client)
    name = "easychamp_events_delivered_total"
    assert (
        value(after, name, subscription=SUBSCRIPTION)
        - value(before, name, subscription=SUBSCRIPTION)
        == 3
    )
    timings = "easychamp_event_processing_seconds_count"
    assert (
        value(after, timings, subscription=SUBSCRIPTION)
        - value(before, timings, subscription=SUBSCRIPTION)
        == 3
    )


def test_handling_time_and_lag_count_only_the_passes_that_commit(client):
    store.append("m3", [ProbeTicked(n=i) for i in range(3)], 0)
    ProbeFault.objects.create(stream_id="m3", version=3)
    before = scrape(client)

    deliver("m3")  # v1 and v2 delivered, after passes that v3's failure rolled back

    after = scrape(client)
    for name in (
        "easychamp_event_processing_seconds_count",
        "easychamp_delivery_lag_seconds_count",
    ):
        # Before: 4 (the rolled-back batch pass counted v1 and v2 too)
        assert (
            value(after, name, subscription=SUBSCRIPTION)
            - value(before, name, subscription=SUBSCRIPTION)
            == 2
        ), name


def test_failures_and_dead_letters_are_counted(client):
    store.append("m2", [ProbeTicked(n=0)], 0)
    ProbeFault.objects.create(stream_id="m2", version=1)
    before = scrape(client)

    for _ in range(4):
        deliver("m2")
        Checkpoint.objects.filter(stream_id="m2").update(
            next_attempt_at=timezone.now() - timedelta(seconds=1)
        )

    after = scrape(client)
    failures = "easychamp_event_handler_failures_total"
    labels = {
        "subscription": SUBSCRIPTION,
        "event_type": "bench.ProbeTicked",
        "error": "ProbeFailure",
    }
    assert value(after, failures, **labels) - value(before, failures, **labels) == 4
    parked = "easychamp_events_dead_lettered_total"
    assert (
        value(after, parked, subscription=SUBSCRIPTION)
        - value(before, parked, subscription=SUBSCRIPTION)
        == 1
    )


def test_appended_events_are_counted_per_type_once_committed(
    client, django_capture_on_commit_callbacks
):
    before = scrape(client)

    with django_capture_on_commit_callbacks(execute=True):
        store.append("m3", [ProbeTicked(n=i) for i in range(2)], 0)
    with django_capture_on_commit_callbacks(execute=False):
        store.append("m4", [ProbeTicked(n=0)], 0)  # never committed

    after = scrape(client)
    name = "easychamp_events_appended_total"
    labels = {"event_type": "bench.ProbeTicked"}
    assert value(after, name, **labels) - value(before, name, **labels) == 2
