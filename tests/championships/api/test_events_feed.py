"""The event feed: a championship's envelopes (its matches' and standings' too)."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection

from tests.championships.api.conftest import url
from tests.championships.factories import ChampionshipFactory, TeamFactory

pytestmark = pytest.mark.django_db


def _feed(client, championship, query=""):
    return client.get(url(f"championships/{championship.id}/events/{query}"))


def test_feed_lists_the_championship_and_match_streams_in_order(
    anonymous, api, championship, match, event_bus
):
    api.post(url(f"matches/{match.id}/start/"), format="json")
    event_bus.deliver()

    body = _feed(anonymous, championship).json()

    events = body["events"]
    assert [e["event_type"] for e in events if e["stream_type"] != "standings"] == [
        "ChampionshipCreated",
        "TeamRegistered",
        "TeamRegistered",
        "MatchScheduled",
        "MatchStarted",
    ]
    assert "StandingsUpdated" in {e["event_type"] for e in events}
    feed_positions = [e["feed_position"] for e in events]
    assert feed_positions == sorted(feed_positions)
    assert body["next_after"] == feed_positions[-1]
    assert body["has_more"] is False
    assert set(events[0]) == {
        "event_id",
        "stream_id",
        "stream_type",
        "version",
        "position",
        "event_type",
        "schema_version",
        "occurred_at",
        "payload",
        "metadata",
        "feed_position",
    }
    started = next(e for e in events if e["event_type"] == "MatchStarted")
    assert (started["stream_id"], started["payload"]["match_id"]) == (str(match.id), str(match.id))


def test_feed_pages_with_after_and_limit(anonymous, championship, match):
    first = _feed(anonymous, championship, "?limit=2").json()

    second = _feed(anonymous, championship, f"?after={first['next_after']}&limit=2").json()
    rest = _feed(anonymous, championship, f"?after={second['next_after']}").json()

    assert [e["event_type"] for e in first["events"]] == ["ChampionshipCreated", "TeamRegistered"]
    assert first["has_more"] is True
    assert [e["event_type"] for e in second["events"]] == ["TeamRegistered", "MatchScheduled"]
    assert rest == {"events": [], "next_after": second["next_after"], "has_more": False}


def test_a_page_exactly_full_says_there_is_no_more(anonymous, championship, match):
    every = _feed(anonymous, championship).json()["events"]

    exact = _feed(anonymous, championship, f"?limit={len(every)}").json()

    # Before: has_more true, and the next page empty
    assert len(exact["events"]) == len(every)
    assert exact["has_more"] is False
    assert _feed(anonymous, championship, f"?limit={len(every) - 1}").json()["has_more"] is True


def test_feed_leaves_out_other_championships(anonymous, owner, championship):
    other = ChampionshipFactory.create(actor_id=owner.id)
    TeamFactory.create(championship=other)

    events = _feed(anonymous, championship).json()["events"]

    assert {e["stream_id"] for e in events} == {str(championship.id)}


@pytest.mark.parametrize("query", ["?after=-1", "?after=x", "?limit=0", "?limit=1001"])
def test_feed_with_bad_paging_is_400(anonymous, championship, query):
    response = _feed(anonymous, championship, query)

    assert response.status_code == 400
    assert "detail" in response.json()


def test_feed_of_an_unknown_championship_is_404(anonymous):
    response = anonymous.get(url("championships/00000000-0000-0000-0000-000000000000/events/"))

    assert response.status_code == 404


def test_an_undecodable_stored_event_is_marked_and_the_feed_goes_on(anonymous, championship):
    with connection.cursor() as cursor:  # a row written behind the store's back
        cursor.execute(
            "INSERT INTO event_store (event_id, stream_id, stream_type, version, event_type,"
            " schema_version, occurred_at, payload, metadata)"
            " VALUES (%s, %s, 'championship', 99, 'TeamRegistered', 1, %s, %s, %s)",
            [
                uuid.uuid4().hex if connection.vendor == "sqlite" else uuid.uuid4(),
                str(championship.id),
                "2026-01-01T00:00:00+00:00",
                '{"team_id": 5}',
                '{"correlation_id": "c"}',
            ],
        )
    TeamFactory.create(championship=championship)

    body = _feed(anonymous, championship).json()

    broken = [e for e in body["events"] if e.get("undecoded")]
    assert len(broken) == 1
    assert broken[0]["payload"] == {"team_id": 5}
    assert "payload is invalid" in broken[0]["error"]
    assert body["events"][-1]["event_type"] == "TeamRegistered"
    assert "undecoded" not in body["events"][-1]


def test_metadata_is_for_organisers_only(anonymous, stranger, api, owner, championship, match):
    api.post(url(f"matches/{match.id}/start/"), format="json", HTTP_X_CORRELATION_ID="corr-1")

    public = _feed(anonymous, championship).json()["events"]
    other = _feed(stranger, championship).json()["events"]
    organiser = _feed(api, championship).json()["events"]

    assert {str(e["metadata"]) for e in public} == {"{}"}
    assert {str(e["metadata"]) for e in other} == {"{}"}
    assert [e["payload"] for e in public] == [e["payload"] for e in organiser]
    started = next(e for e in organiser if e["event_type"] == "MatchStarted")
    assert started["metadata"]["user_id"] == str(owner.id)
    assert started["metadata"]["correlation_id"] == "corr-1"
