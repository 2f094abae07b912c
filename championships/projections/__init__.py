"""Read models built from events. Standings: ``apply_standings`` (the handler's work)
and ``rebuild_standings`` (replay from the store)."""

from championships.projections.rebuild import rebuild_standings
from championships.projections.standings import HANDLED_EVENTS, HANDLED_TYPES, apply_standings

__all__ = ["HANDLED_EVENTS", "HANDLED_TYPES", "apply_standings", "rebuild_standings"]
