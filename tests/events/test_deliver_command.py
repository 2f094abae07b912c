import pytest
from django.core.management import call_command

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
