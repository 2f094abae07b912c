"""Drawing of lots: a command on the championship stream."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from championships.aggregates import lots as agg
from championships.commands.championship import _load
from championships.commands.streams import championship_state, command, save_championship
from championships.models import Championship


@command
def championship_draw_lots(
    *,
    actor_id: int,
    championship_id: uuid.UUID,
    group: str,
    team_ids: Sequence[uuid.UUID],
    expected_version: int | None = None,
) -> Championship:
    """Record the order lots gave among teams level on every criterion (FIFA art. 13);
    the standings apply it to those teams."""
    row = _load(championship_id, actor_id, expected_version)
    state = championship_state(row)
    save_championship(row, state, agg.draw_lots(state, group=group, team_ids=team_ids))
    return row
