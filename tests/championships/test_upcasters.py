"""Events stored before issue #9 still decode (upcasters v1 → v2)."""

from __future__ import annotations

import json
import uuid

from championships import events as ev
from events.registry import registry

CHAMPIONSHIP = uuid.uuid4()
TEAM = uuid.uuid4()


def _decode(event_type: str, payload: dict[str, object]) -> object:
    return registry.decode(event_type, 1, json.dumps(payload, default=str))


def test_a_v1_deduction_gets_a_stable_id_and_no_date():
    payload = {
        "championship_id": str(CHAMPIONSHIP),
        "team_id": str(TEAM),
        "group": "",
        "points": 3,
        "reason": "late registration",
    }

    first, again = _decode("PointsDeducted", payload), _decode("PointsDeducted", payload)

    assert isinstance(first, ev.PointsDeducted)
    assert first.deduction_id == again.deduction_id  # type: ignore[attr-defined]
    assert first.effective_at is None


def test_a_v1_withdrawal_keeps_its_results_with_no_policy():
    event = _decode(
        "TeamWithdrawn",
        {"championship_id": str(CHAMPIONSHIP), "team_id": str(TEAM), "group": "", "reason": ""},
    )

    assert isinstance(event, ev.TeamWithdrawn)
    assert event.policy == ""


def test_v1_results_have_no_round_or_kickoff():
    payload = {
        "match_id": str(uuid.uuid4()),
        "championship_id": str(CHAMPIONSHIP),
        "group": "",
        "home_team_id": str(TEAM),
        "away_team_id": str(uuid.uuid4()),
        "home_score": 1,
        "away_score": 0,
    }

    completed = _decode("MatchCompleted", payload)
    awarded = _decode(
        "MatchAwarded", {**payload, "awarded_to_team_id": str(TEAM), "reason": "forfeit"}
    )
    corrected = _decode(
        "MatchResultCorrected",
        {**payload, "previous_home_score": 0, "previous_away_score": 0, "reason": "r"},
    )

    for event in (completed, awarded, corrected):
        assert (event.round, event.kickoff) == (None, None)  # type: ignore[attr-defined]
