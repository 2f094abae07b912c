"""Teams through the API: rename, move group, remove before fixtures; withdrawal under
each policy (issue #9)."""

from __future__ import annotations

import pytest

from championships import events as ev
from championships.models import Championship, Match, MatchStatus, Team
from tests.championships.api.conftest import event_count, url
from tests.championships.factories import ChampionshipFactory, TeamFactory

pytestmark = pytest.mark.django_db


def _version(championship):
    return Championship.objects.get(id=championship.id).version


def _table(client, championship_id):
    body = client.get(url(f"championships/{championship_id}/standings/")).json()
    return [
        (r["position"], r["team"]["name"], r["played"], r["points"], r["withdrawn"])
        for r in body["rows"]
    ]


def test_rename_a_team(api, championship, home, event_bus):
    response = api.patch(
        url(f"championships/{championship.id}/teams/{home.id}/"),
        {"name": "  Home   United "},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["name"] == "Home United"
    assert response["ETag"] == f'"{_version(championship)}"'
    event_bus.assert_published(ev.TeamUpdated, team_id=home.id, name="Home United")
    event_bus.deliver()
    assert [row[1] for row in _table(api, championship.id)] == ["Home United"]


def test_rename_to_a_taken_name_is_409_and_writes_nothing(api, championship, home, away):
    before = event_count()

    response = api.patch(
        url(f"championships/{championship.id}/teams/{home.id}/"),
        {"name": "away fc"},
        format="json",
    )

    assert response.status_code == 409
    assert "already registered" in response.json()["detail"]
    assert event_count() == before


def test_empty_patch_is_400_with_detail(api, championship, home):
    response = api.patch(
        url(f"championships/{championship.id}/teams/{home.id}/"), {}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["give name or group"]}


@pytest.fixture
def grouped(owner):
    return ChampionshipFactory.create(actor_id=owner.id, format="groups")


def test_groups_are_normalised_and_listed(api, grouped):
    for name, group in [("Ajax", "a"), ("Benfica", "A "), ("Celtic", " b"), ("Dynamo", "B")]:
        response = api.post(
            url(f"championships/{grouped.id}/teams/"), {"name": name, "group": group}, format="json"
        )
        assert response.status_code == 201

    teams = api.get(url(f"championships/{grouped.id}/teams/")).json()["results"]

    assert {t["name"]: t["group"] for t in teams} == {
        "Ajax": "A",
        "Benfica": "A",
        "Celtic": "B",
        "Dynamo": "B",
    }
    assert api.get(url(f"championships/{grouped.id}/")).json()["groups"] == ["A", "B"]


def test_a_group_typo_is_fixed_by_moving_the_team_then_fixtures_generate(api, grouped):
    ids = {}
    for name, group in [("Ajax", "A"), ("Benfica", "A"), ("Celtic", "B"), ("Dynamo", "Bb")]:
        ids[name] = api.post(
            url(f"championships/{grouped.id}/teams/"), {"name": name, "group": group}, format="json"
        ).json()["id"]
    blocked = api.post(url(f"championships/{grouped.id}/fixtures/"), {}, format="json")

    moved = api.patch(
        url(f"championships/{grouped.id}/teams/{ids['Dynamo']}/"), {"group": "b "}, format="json"
    )
    generated = api.post(url(f"championships/{grouped.id}/fixtures/"), {}, format="json")

    assert blocked.status_code == 409
    assert moved.status_code == 200
    assert moved.json()["group"] == "B"
    assert generated.status_code == 201
    assert {m["group"] for m in generated.json()["matches"]} == {"A", "B"}


def test_moving_a_team_after_fixtures_is_409(api, grouped):
    teams = [
        TeamFactory.create(championship=grouped, name=n, group=g)
        for n, g in [("A1", "A"), ("A2", "A"), ("B1", "B"), ("B2", "B")]
    ]
    api.post(url(f"championships/{grouped.id}/fixtures/"), {}, format="json")

    response = api.patch(
        url(f"championships/{grouped.id}/teams/{teams[0].id}/"), {"group": "B"}, format="json"
    )

    assert response.status_code == 409


def test_remove_a_team_before_fixtures(api, championship, home, away, event_bus):
    response = api.delete(url(f"championships/{championship.id}/teams/{home.id}/"))

    assert response.status_code == 204
    assert response["ETag"] == f'"{_version(championship)}"'
    assert not Team.objects.filter(id=home.id).exists()
    event_bus.assert_published(ev.TeamRemoved, team_id=home.id)
    event_bus.deliver()
    assert [row[1] for row in _table(api, championship.id)] == ["Away FC"]


def test_removing_a_team_with_a_match_is_409(api, championship, match, home):
    response = api.delete(url(f"championships/{championship.id}/teams/{home.id}/"))

    assert response.status_code == 409
    assert "withdraw it instead" in response.json()["detail"]
    assert Team.objects.filter(id=home.id).exists()


def test_a_stranger_may_not_rename_or_remove(stranger, championship, home):
    path = url(f"championships/{championship.id}/teams/{home.id}/")

    assert stranger.patch(path, {"name": "X"}, format="json").status_code == 403
    assert stranger.delete(path).status_code == 403


def test_a_team_of_another_championship_is_404(api, championship):
    foreign = TeamFactory.create()

    response = api.patch(
        url(f"championships/{championship.id}/teams/{foreign.id}/"), {"name": "X"}, format="json"
    )

    assert response.status_code == 404


# --- withdrawal ---------------------------------------------------------------------


def _season(api, owner, policy, award=None):
    """Four teams, a single round robin generated; returns (championship id, teams by
    name, matches by (home, away) names)."""
    body = {"name": "League", "withdrawal_policy": policy}
    if award is not None:
        body["withdrawal_award_score"] = award
    cid = api.post(url("championships/"), body, format="json").json()["id"]
    teams = {
        name: api.post(url(f"championships/{cid}/teams/"), {"name": name}, format="json").json()[
            "id"
        ]
        for name in ("Ajax", "Benfica", "Celtic", "Dynamo")
    }
    api.post(url(f"championships/{cid}/fixtures/"), {}, format="json")
    matches = {
        (m.home.name, m.away.name): m
        for m in Match.objects.filter(championship_id=cid).select_related("home_team", "away_team")
    }
    return cid, teams, matches


def _match(matches, a, b):
    return matches.get((a, b)) or matches[(b, a)]


def _result(api, match, winner_name, score=(2, 0)):
    home_won = match.home.name == winner_name
    home, away = score if home_won else score[::-1]
    response = api.post(
        url(f"matches/{match.id}/complete/"),
        {"home_score": home, "away_score": away},
        format="json",
    )
    assert response.status_code == 200


def test_withdrawal_under_expunge_annuls_every_result_and_cancels_the_rest(
    api, anonymous, owner, event_bus
):
    cid, teams, matches = _season(api, owner, "expunge")
    _result(api, _match(matches, "Ajax", "Dynamo"), "Ajax")
    _result(api, _match(matches, "Benfica", "Dynamo"), "Dynamo")
    _result(api, _match(matches, "Ajax", "Benfica"), "Ajax")

    response = api.post(
        url(f"championships/{cid}/teams/{teams['Dynamo']}/withdraw/"),
        {"reason": "insolvency"},
        format="json",
    )
    event_bus.deliver()

    assert response.status_code == 200
    assert response.json()["withdrawn"] is True
    remaining = _match(matches, "Celtic", "Dynamo")
    assert Match.objects.get(id=remaining.id).status == MatchStatus.CANCELLED
    assert _table(anonymous, cid) == [
        (1, "Ajax", 1, 3, False),
        (2, "Celtic", 0, 0, False),
        (3, "Benfica", 1, 0, False),
        (4, "Dynamo", 0, 0, True),
    ]


def test_withdrawal_under_award_remaining_keeps_results_and_awards_the_rest(
    api, anonymous, owner, event_bus
):
    cid, teams, matches = _season(api, owner, "award_remaining", award=[3, 0])
    _result(api, _match(matches, "Benfica", "Dynamo"), "Dynamo")

    response = api.post(
        url(f"championships/{cid}/teams/{teams['Dynamo']}/withdraw/"), {}, format="json"
    )
    event_bus.deliver()

    assert response.status_code == 200
    for opponent in ("Ajax", "Celtic"):
        awarded = Match.objects.get(id=_match(matches, opponent, "Dynamo").id)
        assert awarded.status == MatchStatus.AWARDED
        assert str(awarded.awarded_to_id) == teams[opponent]
        assert sorted([awarded.home_score, awarded.away_score]) == [0, 3]
    # Ajax and Celtic are level on everything (each awarded 3-0): they share first place.
    assert _table(anonymous, cid) == [
        (1, "Ajax", 1, 3, False),
        (1, "Celtic", 1, 3, False),
        (3, "Benfica", 1, 0, False),
        (4, "Dynamo", 3, 3, True),
    ]


@pytest.mark.parametrize("policy", ["expunge", "award_remaining"])
@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("start", {}),
        ("complete", {"home_score": 1, "away_score": 0}),
        ("award", None),
        ("postpone", {}),
    ],
)
def test_a_withdrawn_teams_remaining_match_cannot_be_played(api, owner, policy, action, body):
    cid, teams, matches = _season(api, owner, policy)
    match = _match(matches, "Ajax", "Dynamo")
    api.post(url(f"championships/{cid}/teams/{teams['Dynamo']}/withdraw/"), {}, format="json")
    before = event_count()
    if body is None:
        body = {
            "awarded_to": str(match.home_team_id),
            "home_score": 3,
            "away_score": 0,
            "reason": "x",
        }

    response = api.post(url(f"matches/{match.id}/{action}/"), body, format="json")

    assert response.status_code == 409
    assert event_count() == before


def test_a_goal_in_a_live_match_of_a_withdrawn_team_is_refused(api, owner):
    cid, teams, matches = _season(api, owner, "award_remaining")
    match = _match(matches, "Ajax", "Dynamo")
    api.post(url(f"matches/{match.id}/start/"), {}, format="json")
    api.post(url(f"championships/{cid}/teams/{teams['Dynamo']}/withdraw/"), {}, format="json")

    response = api.post(
        url(f"matches/{match.id}/goals/"), {"team": teams["Ajax"], "minute": 80}, format="json"
    )

    assert response.status_code == 409
    assert Match.objects.get(id=match.id).status == MatchStatus.AWARDED


def test_withdrawing_twice_is_409(api, owner):
    cid, teams, _ = _season(api, owner, "expunge")
    api.post(url(f"championships/{cid}/teams/{teams['Ajax']}/withdraw/"), {}, format="json")

    response = api.post(
        url(f"championships/{cid}/teams/{teams['Ajax']}/withdraw/"), {}, format="json"
    )

    assert response.status_code == 409


def test_the_policy_is_changed_with_patch_and_validated(api, championship):
    path = url(f"championships/{championship.id}/")

    changed = api.patch(
        path,
        {"withdrawal_policy": "award_remaining", "withdrawal_award_score": [2, 0]},
        format="json",
    )
    bad_policy = api.patch(path, {"withdrawal_policy": "forfeit"}, format="json")
    bad_score = api.patch(path, {"withdrawal_award_score": [0, 3]}, format="json")

    assert changed.status_code == 200
    assert (changed.json()["withdrawal_policy"], changed.json()["withdrawal_award_score"]) == (
        "award_remaining",
        [2, 0],
    )
    assert bad_policy.status_code == 400
    assert "withdrawal_policy" in bad_policy.json()
    assert bad_score.status_code == 400
    assert "withdrawal_award_score" in bad_score.json()
