"""Every write to championships: keyword-only functions named ``<entity>_<action>``.

Each runs in one transaction: it loads the aggregate's row, decides (pure, in
``championships.aggregates``), appends the events at the row's version and updates the
row. Errors: ``championships.exceptions`` and ``events.store.ConcurrencyError``.
"""

from championships.commands.cards import match_show_card
from championships.commands.championship import (
    championship_add_organiser,
    championship_create,
    championship_remove_organiser,
    championship_update,
    deduction_amend,
    fixtures_generate,
    match_schedule,
    team_deduct_points,
    team_register,
    team_remove,
    team_update,
    team_withdraw,
)
from championships.commands.lots import championship_draw_lots
from championships.commands.match import (
    match_award,
    match_cancel,
    match_complete,
    match_correct_result,
    match_postpone,
    match_record_goal,
    match_reschedule,
    match_start,
    match_swap_venues,
    match_update,
)

__all__ = [
    "championship_add_organiser",
    "championship_create",
    "championship_draw_lots",
    "championship_remove_organiser",
    "championship_update",
    "deduction_amend",
    "fixtures_generate",
    "match_award",
    "match_cancel",
    "match_complete",
    "match_correct_result",
    "match_postpone",
    "match_record_goal",
    "match_reschedule",
    "match_schedule",
    "match_show_card",
    "match_start",
    "match_swap_venues",
    "match_update",
    "team_deduct_points",
    "team_register",
    "team_remove",
    "team_update",
    "team_withdraw",
]
