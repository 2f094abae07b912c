from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from bench.models import ProbeFault
from bench.probe import SUBSCRIPTION, ProbeTicked
from events import delivery, store
from events.deadletters import dead_letter_retry
from events.models import Checkpoint, DeadLetter

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:events_deadletter_changelist")
SKIP_TEMPLATE = "admin/events/deadletter/skip_confirmation.html"


def park(stream: str, events: int = 3, failing_version: int = 2) -> DeadLetter:
    """Append ``events`` probe events and dead-letter ``failing_version`` (four attempts)."""
    store.append(stream, [ProbeTicked(n=i) for i in range(events)], 0)
    ProbeFault.objects.create(stream_id=stream, version=failing_version)
    for _ in range(4):
        delivery.deliver_stream(stream, "probe")
        Checkpoint.objects.filter(subscription=SUBSCRIPTION, stream_id=stream).update(
            next_attempt_at=timezone.now() - timedelta(seconds=1)
        )
    return DeadLetter.objects.get(stream_id=stream)


def checkpoint(stream: str) -> Checkpoint:
    return Checkpoint.objects.get(subscription=SUBSCRIPTION, stream_id=stream)


def run_action(client: Client, action: str, *letters: DeadLetter, **data: str) -> Response:
    return client.post(
        CHANGELIST,
        {"action": action, "_selected_action": [letter.pk for letter in letters], **data},
    )


def messages_of(response: Response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def log_in_staff(client: Client, django_user_model):
    """Log ``client`` in as a staff user holding only the given events permissions."""

    def login(*codenames: str):
        user = django_user_model.objects.create_user("staff", password="x", is_staff=True)
        user.user_permissions.set(
            Permission.objects.filter(content_type__app_label="events", codename__in=codenames)
        )
        client.force_login(user)
        return user

    return login


def test_changelist_lists_dead_letters_with_filters(admin_client):
    letter = park("p1")

    response = admin_client.get(CHANGELIST)

    assert response.status_code == 200
    html = response.content.decode()
    assert "p1" in html
    assert "bench.ProbeTicked" in html
    assert "probe fault at p1@2" in html
    for title in ("status", "subscription", "event type", "stream type"):
        assert f"By {title}" in html
    assert list(response.context["cl"].result_list) == [letter]


def test_changelist_filters_by_status_and_searches_stream_and_event_id(admin_client):
    letter = park("p1")
    park("p2")

    skipped = admin_client.get(CHANGELIST, {"status__exact": "skipped"})
    by_stream = admin_client.get(CHANGELIST, {"q": "p2"})
    by_event = admin_client.get(CHANGELIST, {"q": str(letter.event_id)})

    assert list(skipped.context["cl"].result_list) == []
    assert [dl.stream_id for dl in by_stream.context["cl"].result_list] == ["p2"]
    assert list(by_event.context["cl"].result_list) == [letter]


def test_detail_page_is_read_only_with_traceback_and_event_link(admin_client):
    letter = park("p1")

    response = admin_client.get(reverse("admin:events_deadletter_change", args=[letter.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert '<pre class="dead-letter-traceback">Traceback' in html
    assert "ProbeFailure: probe fault at p1@2" in html
    assert reverse("admin:events_storedevent_change", args=[letter.event_position]) in html
    assert reverse("admin:events_checkpoint_change", args=[checkpoint("p1").pk]) in html
    assert 'name="_save"' not in html


def test_dead_letters_cannot_be_added_changed_or_deleted(admin_client):
    letter = park("p1")
    change_url = reverse("admin:events_deadletter_change", args=[letter.pk])

    add = admin_client.get(reverse("admin:events_deadletter_add"))
    delete = admin_client.post(reverse("admin:events_deadletter_delete", args=[letter.pk]))
    change = admin_client.post(change_url, {"status": "skipped", "last_error": "x"})
    changelist = admin_client.get(CHANGELIST)

    assert (add.status_code, delete.status_code, change.status_code) == (403, 403, 403)
    assert "delete_selected" not in changelist.content.decode()
    letter.refresh_from_db()
    assert (letter.status, letter.last_error) == ("parked", "ProbeFailure: probe fault at p1@2")


def test_retry_action_unblocks_the_stream_and_records_user_and_note(admin_client, admin_user):
    letter = park("p1")

    response = run_action(admin_client, "retry_selected", letter, note="fixed the handler")

    assert response.status_code == 302
    letter.refresh_from_db()
    assert (letter.status, letter.resolved_by, letter.resolution_note) == (
        "retried",
        admin_user,
        "fixed the handler",
    )
    assert letter.resolved_at is not None
    assert not checkpoint("p1").blocked
    assert messages_of(response) == ["Retried 1 dead letter(s)."]


def test_retrying_a_resolved_letter_is_an_admin_message_not_an_error_page(admin_client):
    resolved, parked = park("p1"), park("p2")
    dead_letter_retry(dead_letter_id=resolved.pk)

    response = run_action(admin_client, "retry_selected", resolved, parked)

    assert response.status_code == 302
    assert messages_of(response) == [
        f"dead letter {resolved.pk} is already retried",
        "Retried 1 dead letter(s).",
    ]
    parked.refresh_from_db()
    assert parked.status == "retried"


def test_skip_action_asks_for_a_reason_first(admin_client):
    letter = park("p1")

    response = run_action(admin_client, "skip_selected", letter)

    assert response.status_code == 200
    assert SKIP_TEMPLATE in [t.name for t in response.templates]
    html = response.content.decode()
    assert '<textarea name="reason"' in html
    assert f'name="_selected_action" value="{letter.pk}"' in html
    assert 'name="action" value="skip_selected"' in html
    letter.refresh_from_db()
    assert letter.status == "parked"


def test_confirmed_skip_moves_past_the_event_and_records_reason_and_user(admin_client, admin_user):
    letter = park("p1")

    response = run_action(
        admin_client, "skip_selected", letter, confirm="yes", reason="bad import data"
    )

    assert response.status_code == 302
    letter.refresh_from_db()
    assert (letter.status, letter.resolved_by, letter.resolution_note) == (
        "skipped",
        admin_user,
        "bad import data",
    )
    assert (checkpoint("p1").version, checkpoint("p1").blocked) == (2, False)
    assert messages_of(response) == ["Skipped 1 dead letter(s)."]


def test_skip_without_a_reason_asks_again(admin_client):
    letter = park("p1")

    response = run_action(admin_client, "skip_selected", letter, confirm="yes", reason="  ")

    assert response.status_code == 200
    assert SKIP_TEMPLATE in [t.name for t in response.templates]
    assert "Skipping loses the event for this subscription: say why." in response.content.decode()
    letter.refresh_from_db()
    assert letter.status == "parked"


def test_the_action_bar_note_prefills_the_skip_reason(admin_client):
    letter = park("p1")

    response = run_action(admin_client, "skip_selected", letter, note="duplicate event")

    assert response.context["form"].initial == {"reason": "duplicate event"}


def test_staff_with_the_change_permission_may_resolve(client, log_in_staff):
    letter = park("p1")
    user = log_in_staff("view_deadletter", "change_deadletter")

    run_action(client, "retry_selected", letter)

    letter.refresh_from_db()
    assert (letter.status, letter.resolved_by) == ("retried", user)


def test_staff_who_may_only_view_see_no_actions_and_cannot_run_them(client, log_in_staff):
    letter = park("p1")
    log_in_staff("view_deadletter")

    page = client.get(CHANGELIST)
    retry = run_action(client, "retry_selected", letter)
    skip = run_action(client, "skip_selected", letter)

    assert page.status_code == 200
    assert "retry_selected" not in page.content.decode()
    # The action is not offered, so the post just shows the changelist again.
    assert [r.templates[0].name for r in (retry, skip)] == [
        "admin/events/deadletter/change_list.html"
    ] * 2
    letter.refresh_from_db()
    assert letter.status == "parked"


def test_staff_without_any_dead_letter_permission_is_refused(client, log_in_staff):
    letter = park("p1")
    log_in_staff()

    page = client.get(CHANGELIST)
    retry = run_action(client, "retry_selected", letter)

    assert (page.status_code, retry.status_code) == (403, 403)
    letter.refresh_from_db()
    assert letter.status == "parked"


def test_non_staff_users_are_sent_to_the_login_page(client, django_user_model):
    letter = park("p1")
    client.force_login(django_user_model.objects.create_user("fan", password="x"))

    response = run_action(client, "retry_selected", letter)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    letter.refresh_from_db()
    assert letter.status == "parked"


def test_checkpoint_admin_is_read_only_and_filters_by_blocked(admin_client):
    park("p1")
    store.append("p9", [ProbeTicked(n=0)], 0)
    delivery.deliver_stream("p9", "probe")
    changelist = reverse("admin:events_checkpoint_changelist")

    blocked = admin_client.get(changelist, {"blocked__exact": "1"})
    add = admin_client.get(reverse("admin:events_checkpoint_add"))

    assert [cp.stream_id for cp in blocked.context["cl"].result_list] == ["p1"]
    html = blocked.content.decode()
    assert "By subscription" in html
    assert "By blocked" in html
    assert "ProbeFailure: probe fault at p1@2" in html
    assert add.status_code == 403


def test_changelist_shows_who_resolved_a_letter(admin_client, admin_user):
    letter = park("p1")
    dead_letter_retry(dead_letter_id=letter.pk, user=admin_user)

    response = admin_client.get(CHANGELIST, {"status__exact": "retried"})

    row = response.content.decode().split('class="field-resolution">', 1)[1].split("</td>")[0]
    assert row.startswith(f"{admin_user.get_username()}<br>")
