from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from bench.models import ProbeFault
from bench.probe import SUBSCRIPTION, ProbeTicked
from events import delivery, store
from events.clock import DatabaseNow
from events.deadletters import dead_letter_skip
from events.models import Checkpoint, DeadLetter

pytestmark = pytest.mark.django_db


def park(stream: str, events: int = 3, failing_version: int = 2) -> DeadLetter:
    """Append ``events`` probe events and dead-letter ``failing_version`` (four attempts)."""
    store.append(stream, [ProbeTicked(n=i) for i in range(events)], 0)
    ProbeFault.objects.create(stream_id=stream, version=failing_version)
    for _ in range(4):
        delivery.deliver_stream(stream, "probe")
        Checkpoint.objects.filter(subscription=SUBSCRIPTION, stream_id=stream).update(
            next_attempt_at=DatabaseNow(-1)  # due now, by the clock delivery goes by
        )
    return DeadLetter.objects.get(stream_id=stream)


def deadletters(*args: str) -> str:
    out = StringIO()
    call_command("deadletters", *args, stdout=out)
    return out.getvalue()


def status(letter: DeadLetter) -> str:
    letter.refresh_from_db()
    return letter.status


def test_list_shows_parked_letters_as_a_table():
    letter = park("p1")
    dead_letter_skip(dead_letter_id=park("p2").pk, note="old")

    output = deadletters("list")

    header, *rows = output.splitlines()
    assert header.split()[:4] == ["ID", "STATUS", "SUBSCRIPTION", "STREAM@VERSION"]
    assert len(rows) == 1
    assert rows[0].split()[:6] == [
        str(letter.pk),
        "parked",
        SUBSCRIPTION,
        "p1@2",
        "bench.ProbeTicked",
        "4",
    ]
    assert "ProbeFailure: probe fault at p1@2" in rows[0]


def test_list_filters_by_status_and_subscription():
    park("p1")
    dead_letter_skip(dead_letter_id=park("p2").pk, note="old")

    everything = deadletters("list", "--status", "all")
    skipped = deadletters("list", "--status", "skipped")
    other = deadletters("list", "--subscription", "no.such.subscription")

    assert len(everything.splitlines()) == 3
    assert [line.split()[3] for line in skipped.splitlines()[1:]] == ["p2@2"]
    assert other.strip() == "No dead letters."


def test_list_rejects_an_unknown_status():
    with pytest.raises(CommandError, match="invalid choice: 'lost'"):
        deadletters("list", "--status", "lost")


def test_show_prints_the_letter_and_its_traceback():
    letter = park("p1")

    output = deadletters("show", str(letter.pk))

    assert f"subscription: {SUBSCRIPTION}" in output
    assert f"event: bench.ProbeTicked v2 (position {letter.event_position})" in output
    assert "Traceback (most recent call last)" in output
    assert output.rstrip().endswith("ProbeFailure: probe fault at p1@2")


def test_show_of_an_unknown_id_fails_clearly():
    with pytest.raises(CommandError, match="dead letter 999999 does not exist"):
        deadletters("show", "999999")


def test_retry_resolves_each_letter_with_note_and_user(django_user_model):
    first, second = park("p1"), park("p2")
    user = django_user_model.objects.create_user("ops")

    output = deadletters(
        "retry", str(first.pk), str(second.pk), "--note", "handler fixed", "--user", "ops"
    )

    assert f"retried dead letter {first.pk}" in output
    assert f"retried dead letter {second.pk}" in output
    for letter in (first, second):
        letter.refresh_from_db()
        assert (letter.status, letter.resolved_by, letter.resolution_note) == (
            "retried",
            user,
            "handler fixed",
        )
    assert not Checkpoint.objects.filter(blocked=True).exists()


def test_retry_reports_unknown_and_resolved_ids_but_resolves_the_others():
    resolved, parked = park("p1"), park("p2")
    deadletters("retry", str(resolved.pk))

    with pytest.raises(CommandError) as failure:
        deadletters("retry", "999999", str(resolved.pk), str(parked.pk))

    assert str(failure.value) == (
        f"dead letter 999999 does not exist; dead letter {resolved.pk} is already retried"
    )
    assert status(parked) == "retried"


def test_skip_moves_past_the_event_and_records_reason_and_user(django_user_model):
    letter = park("p1")
    user = django_user_model.objects.create_user("ops")

    output = deadletters("skip", str(letter.pk), "--reason", "bad import", "--user", "ops")

    assert f"skipped dead letter {letter.pk}" in output
    letter.refresh_from_db()
    assert (letter.status, letter.resolved_by, letter.resolution_note) == (
        "skipped",
        user,
        "bad import",
    )
    assert Checkpoint.objects.get(stream_id="p1").version == 2


def test_skip_without_a_reason_fails_and_changes_nothing():
    letter = park("p1")

    with pytest.raises(CommandError, match="the following arguments are required: --reason"):
        deadletters("skip", str(letter.pk))
    with pytest.raises(CommandError, match="skip needs a reason"):
        deadletters("skip", str(letter.pk), "--reason", "  ")

    assert status(letter) == "parked"


def test_skip_of_an_already_resolved_letter_fails_clearly():
    letter = park("p1")
    deadletters("skip", str(letter.pk), "--reason", "bad import")

    with pytest.raises(CommandError, match=f"dead letter {letter.pk} is already skipped"):
        deadletters("skip", str(letter.pk), "--reason", "again")


def test_an_unknown_user_fails_before_anything_is_resolved():
    letter = park("p1")

    with pytest.raises(CommandError, match="no user named 'ghost'"):
        deadletters("retry", str(letter.pk), "--user", "ghost")

    assert status(letter) == "parked"


def test_a_subcommand_is_required():
    with pytest.raises(CommandError, match="required: SUBCOMMAND"):
        deadletters()


def test_list_with_a_negative_limit_is_a_usage_error():
    # Before: a traceback (Negative indexing is not supported)
    with pytest.raises(CommandError, match="at least 0"):
        call_command("deadletters", "list", "--limit", "-1", stdout=StringIO())
