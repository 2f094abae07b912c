from __future__ import annotations

import uuid

import pytest
from django.core.management import CommandError, call_command

from championships.models import Standing
from tests.championships.conftest import play, standings_snapshot
from tests.championships.factories import TeamFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def teams(championship):
    return [TeamFactory.create(championship=championship, name=n) for n in "ABCD"]


def test_rebuild_command_restores_the_live_standings_and_reports_progress(
    championship, teams, event_bus, capsys
):
    play(championship, teams[0], teams[1], "2-0")
    play(championship, teams[2], teams[3], "1-1")
    event_bus.deliver()
    live = standings_snapshot(championship.id)
    Standing.objects.filter(championship_id=championship.id).update(points=99)

    call_command("rebuild_standings", "--championship", str(championship.id))

    out, err = capsys.readouterr()
    assert standings_snapshot(championship.id) == live
    assert "events replayed" in err
    assert "Rebuilt the standings from" in out


@pytest.mark.parametrize(
    ("given", "message"),
    [("not-a-uuid", "not a valid id"), (str(uuid.UUID(int=5)), "no championship")],
)
def test_rebuild_command_rejects_an_unknown_championship(given, message):
    with pytest.raises(CommandError, match=message):
        call_command("rebuild_standings", "--championship", given)


@pytest.mark.parametrize(
    "command", ["rebuild_standings", "rebuild_player_stats", "advance_brackets"]
)
def test_an_empty_championship_id_is_refused_not_taken_for_all(command):
    # Before: --championship "" (an unset shell variable) ran over every championship
    with pytest.raises(CommandError, match="not a valid id"):
        call_command(command, "--championship", "")
