import pytest
from django.core.management import CommandError, call_command

from bench.models import ProbeCounter
from bench.probe import ProbeTicked
from events import store

pytestmark = pytest.mark.django_db


def test_deliver_command_catches_every_subscription_up(capsys):
    store.append("p1", [ProbeTicked(n=0), ProbeTicked(n=1)], 0)
    store.append("p2", [ProbeTicked(n=0)], 0)

    call_command("deliver")

    assert dict(ProbeCounter.objects.values_list("stream_id", "applied")) == {"p1": 2, "p2": 1}
    assert "Delivered 3 events." in capsys.readouterr().out


@pytest.mark.parametrize("rounds", ["0", "-3"])
def test_deliver_needs_at_least_one_round(rounds):
    store.append("p1", [ProbeTicked(n=0)], 0)

    # Before: it delivered nothing, said "Delivered 0 events." and exited 0
    with pytest.raises(CommandError, match="at least 1"):
        call_command("deliver", "--rounds", rounds)
