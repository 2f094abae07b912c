"""Withdrawal policies through a whole season (issue #9): the tables the regulations
give, whatever order the streams are delivered in, and equal after a rebuild."""

from __future__ import annotations

import pytest

from championships import commands, projections
from championships.models import Championship, Match, MatchStatus, Team
from events.delivery import deliver_stream
from tests.championships.conftest import standings_snapshot, table
from tests.championships.factories import ChampionshipFactory, TeamFactory

pytestmark = pytest.mark.django_db

NAMES = ("Ajax", "Benfica", "Celtic", "Dynamo")


def _season(owner, policy: str) -> tuple[Championship, dict[str, Team]]:
    championship = ChampionshipFactory.create(
        actor_id=owner.id, format="double_round_robin", withdrawal_policy=policy
    )
    teams = {n: TeamFactory.create(championship=championship, name=n) for n in NAMES}
    commands.fixtures_generate(actor_id=owner.id, championship_id=championship.id)
    return championship, teams


def _rounds(championship: Championship) -> list[list[Match]]:
    matches = Match.objects.filter(championship=championship).select_related(
        "home_team", "away_team"
    )
    rounds: dict[int, list[Match]] = {}
    for m in matches.order_by("round", "id"):
        rounds.setdefault(m.round or 0, []).append(m)
    return [rounds[r] for r in sorted(rounds)]


# Every home side wins 1-0 except Dynamo, who lose every match 0-2.
def _play_round(championship: Championship, matches: list[Match]) -> None:
    for m in matches:
        if m.home.name == "Dynamo":
            score = (0, 2)
        elif m.away.name == "Dynamo":
            score = (2, 0)
        else:
            score = (1, 0)
        commands.match_complete(
            actor_id=championship.owner_id,
            championship_id=championship.id,
            match_id=m.id,
            home_score=score[0],
            away_score=score[1],
        )


def _expected_points(championship: Championship, excluded: str | None) -> dict[str, int]:
    """Points from the results that count, computed independently of the projection."""
    points = {n: 0 for n in NAMES}
    rounds = _rounds(championship)
    for matches in rounds:
        for m in Match.objects.filter(id__in=[x.id for x in matches]).select_related(
            "home_team", "away_team"
        ):
            names = (m.home.name, m.away.name)
            if excluded in names:
                continue
            if m.status not in (MatchStatus.COMPLETED, MatchStatus.AWARDED):
                continue
            if m.home_score > m.away_score:
                points[names[0]] += 3
            elif m.home_score < m.away_score:
                points[names[1]] += 3
            else:
                points[names[0]] += 1
                points[names[1]] += 1
    return points


def test_expunge_mid_season_annuls_every_result_of_the_team(owner, event_bus):
    championship, teams = _season(owner, "expunge")
    rounds = _rounds(championship)
    for matches in rounds[:3]:  # half the double round robin
        _play_round(championship, matches)

    commands.team_withdraw(
        actor_id=owner.id,
        championship_id=championship.id,
        team_id=teams["Dynamo"].id,
        reason="club dissolved",
    )
    for matches in rounds[3:]:
        _play_round(
            championship,
            [m for m in matches if "Dynamo" not in (m.home.name, m.away.name)],
        )
    event_bus.deliver()

    rows = {r[1]: r for r in table(championship)}
    expected = _expected_points(championship, "Dynamo")
    # Each other team played the two others twice: 4 matches, none against Dynamo.
    assert {n: rows[n][2] for n in ("Ajax", "Benfica", "Celtic")} == {
        "Ajax": 4,
        "Benfica": 4,
        "Celtic": 4,
    }
    assert {n: rows[n][8] for n in NAMES} == expected
    assert (rows["Dynamo"][0], rows["Dynamo"][2], rows["Dynamo"][8]) == (4, 0, 0)
    dynamo_matches = Match.objects.filter(championship=championship, status=MatchStatus.CANCELLED)
    assert dynamo_matches.count() == 3  # its second-half matches

    live = standings_snapshot(championship.id)
    projections.rebuild_standings(championship.id)
    assert standings_snapshot(championship.id) == live


def test_award_remaining_late_in_the_season_keeps_results_and_awards_the_rest(owner, event_bus):
    championship, teams = _season(owner, "award_remaining")
    rounds = _rounds(championship)
    for matches in rounds[:5]:
        _play_round(championship, matches)

    commands.team_withdraw(
        actor_id=owner.id, championship_id=championship.id, team_id=teams["Dynamo"].id
    )
    _play_round(
        championship,
        [m for m in rounds[5] if "Dynamo" not in (m.home.name, m.away.name)],
    )
    event_bus.deliver()

    rows = {r[1]: r for r in table(championship)}
    expected = _expected_points(championship, None)
    assert {n: rows[n][8] for n in NAMES} == expected
    assert {n: rows[n][2] for n in NAMES} == {n: 6 for n in NAMES}
    assert rows["Dynamo"][0] == 4  # withdrawn: below every active team
    awarded = Match.objects.get(championship=championship, status=MatchStatus.AWARDED)
    assert "Dynamo" in (awarded.home.name, awarded.away.name)
    assert sorted([awarded.home_score, awarded.away_score]) == [0, 3]

    live = standings_snapshot(championship.id)
    projections.rebuild_standings(championship.id)
    assert standings_snapshot(championship.id) == live


def test_a_result_delivered_after_the_expunging_withdrawal_is_still_annulled(owner, event_bus):
    championship, teams = _season(owner, "expunge")
    first = _rounds(championship)[0]
    _play_round(championship, first)
    commands.team_withdraw(
        actor_id=owner.id, championship_id=championship.id, team_id=teams["Dynamo"].id
    )

    # The championship stream first (the withdrawal), the match streams after it.
    deliver_stream(str(championship.id), "championship")
    for m in first:
        deliver_stream(str(m.id), "match")
    event_bus.deliver()

    live = standings_snapshot(championship.id)
    rows = {r[1]: r for r in table(championship)}
    assert rows["Dynamo"][2] == 0
    assert sum(int(str(rows[n][2])) for n in NAMES) == 2  # only the match without Dynamo counts
    projections.rebuild_standings(championship.id)
    assert standings_snapshot(championship.id) == live
