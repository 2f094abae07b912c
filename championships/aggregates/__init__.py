"""Pure decision logic: state + command → events; ``apply(state, event)`` → state.

Nothing here touches the database; ``championships.commands`` loads the state from
the aggregate's row, calls a decision function, applies the events and saves both.
"""

from championships.aggregates.championship import (
    ChampionshipState,
    DeductionState,
    TeamState,
    apply_championship,
    replay_championship,
)
from championships.aggregates.match import (
    GoalState,
    MatchState,
    apply_match,
    replay_match,
)

__all__ = [
    "ChampionshipState",
    "DeductionState",
    "GoalState",
    "MatchState",
    "TeamState",
    "apply_championship",
    "apply_match",
    "replay_championship",
    "replay_match",
]
