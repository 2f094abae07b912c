"""What reacts to championship events. Registered in ChampionshipsConfig.ready()."""

from __future__ import annotations

from championships import advancement, live, projections
from championships.events import CHAMPIONSHIP_STREAM
from championships.projections import players
from events.store import RecordedEvent
from events.subscriptions import subscribe

STANDINGS_SUBSCRIPTION = projections.standings.SUBSCRIPTION


def standings_on_event(recorded: RecordedEvent) -> None:
    """Results, deductions, teams and rules → the standings tables (+ StandingsUpdated)."""
    projections.apply_standings(recorded)


def register() -> None:
    subscribe(
        STANDINGS_SUBSCRIPTION,
        standings_on_event,
        event_types=projections.HANDLED_EVENTS,
        stream_types=["championship", "match"],
    )
    subscribe(
        advancement.SUBSCRIPTION,
        advancement.advance_on_result,
        event_types=advancement.HANDLED_EVENTS,
        stream_types=["match"],
    )
    subscribe(
        advancement.TABLES_SUBSCRIPTION,
        advancement.advance_on_table_change,
        event_types=advancement.TABLE_EVENTS,
        stream_types=[CHAMPIONSHIP_STREAM],
    )
    subscribe(
        players.SUBSCRIPTION,
        players.apply_player_stats,
        event_types=players.HANDLED_EVENTS,
        stream_types=["match"],
    )
    subscribe(
        live.SUBSCRIPTION,
        live.push_on_event,
        stream_types=live.STREAM_TYPES,
        batch_handler=live.push_batch,
    )
