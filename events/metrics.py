"""Prometheus metrics of the event store and delivery (exposed at /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

events_appended = Counter(
    "easychamp_events_appended_total", "Events appended to the store", ["event_type"]
)
events_delivered = Counter(
    "easychamp_events_delivered_total",
    "Events handled by a subscription (checkpoint advanced)",
    ["subscription"],
)
handler_failures = Counter(
    "easychamp_event_handler_failures_total",
    "Failed delivery attempts of an event (handler, decoding, checkpoint advance, commit)",
    ["subscription", "event_type", "error"],
)
dead_letters = Counter(
    "easychamp_events_dead_lettered_total", "Events parked as dead letters", ["subscription"]
)
wakeups = Counter(
    "easychamp_delivery_wakeups_total",
    "Delivery wake-ups by outcome (enqueued, coalesced, failed)",
    ["outcome"],
)
handle_seconds = Histogram(
    "easychamp_event_processing_seconds",
    "Time a subscription's handler takes for one event",
    ["subscription"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0),
)
delivery_lag_seconds = Histogram(
    "easychamp_delivery_lag_seconds",
    "From an event's append to its handling by a subscription",
    ["subscription"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0, 60.0, 300.0),
)
delivery_hook_failures = Counter(
    "easychamp_delivery_hook_failures_total",
    "transaction.on_commit hooks of a handler that failed after its delivery committed "
    "(logged and noted on the checkpoint; the events stay delivered)",
    ["subscription"],
)
