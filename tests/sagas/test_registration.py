"""Player registration in-process: the API, the page, the saga's steps and emails."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from events.models import StoredEvent
from events.testing import EventBus
from sagas import bus, engine, registration
from sagas.events import EmailSent, LeagueAssigned, PlayerProfileCreated, UserRegistered
from sagas.models import CommandRecord, League, PlayerProfile, SagaInstance, SagaStep
from tests.sagas.conftest import settle

pytestmark = pytest.mark.django_db

STRONG = "correct-horse-battery-9"


def register(client: APIClient, username: str, password: str = STRONG, email: str = "") -> dict:
    response = client.post(
        "/api/v1/auth/register/",
        {"username": username, "email": email or f"{username}@example.com", "password": password},
        format="json",
    )
    return {"status": response.status_code, "body": response.json()}


def me(client: APIClient, token: str) -> dict:
    response = client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 200
    return dict(response.json())


def test_register_answers_201_with_a_token_at_once_and_the_saga_completes(
    event_bus: EventBus, default_league: League
) -> None:
    client = APIClient()
    answer = register(client, "alice")
    assert answer["status"] == 201
    token = answer["body"]["token"]
    assert answer["body"]["user"]["username"] == "alice"
    assert me(client, token)["registration"] == "pending"

    settle(event_bus)

    assert me(client, token) == {
        "id": answer["body"]["user"]["id"],
        "username": "alice",
        "email": "alice@example.com",
        "profile": {"display_name": "alice"},
        "league": {"id": str(default_league.id), "name": "Players"},
        "waiting_list_position": None,
        "registration": "completed",
    }
    assert [m.subject for m in mail.outbox] == ["Welcome to Players"]
    saga = SagaInstance.objects.get(saga_type="player_registration")
    assert saga.status == "completed"
    assert list(saga.steps.values_list("step", flat=True)) == [
        "on_user_registered",
        "on_profile_created",
        "on_league_assigned",
        "on_email_sent",
    ]


def test_events_carry_the_saga_correlation_id_and_their_cause(
    event_bus: EventBus, default_league: League
) -> None:
    register(APIClient(), "bob")
    settle(event_bus)
    registered = event_bus.published(UserRegistered)[0]
    profile = event_bus.published(PlayerProfileCreated)[0]
    assigned = event_bus.published(LeagueAssigned)[0]
    email = event_bus.published(EmailSent)[0]
    correlation = registered.metadata.correlation_id
    assert {profile.metadata.correlation_id, assigned.metadata.correlation_id} == {correlation}
    assert email.metadata.correlation_id == correlation
    assert profile.metadata.causation_id == str(registered.event_id)
    assert assigned.metadata.causation_id == str(profile.event_id)
    assert email.metadata.causation_id == str(assigned.event_id)
    saga = SagaInstance.objects.get()
    saga_events = StoredEvent.objects.filter(stream_id=f"saga-{saga.id}")
    assert list(saga_events.values_list("event_type", flat=True)) == [
        "SagaStarted",
        "SagaStepTaken",
        "SagaStepTaken",
        "SagaStepTaken",
        "SagaStepTaken",
        "SagaStatusChanged",
    ]


@pytest.mark.parametrize(
    ("username", "email", "password", "field"),
    [
        ("taken", "new@example.com", STRONG, "username"),
        ("TAKEN", "new@example.com", STRONG, "username"),
        ("newbie", "not-an-email", STRONG, "email"),
        ("newbie", "new@example.com", "12345678", "password"),
        ("newbie", "new@example.com", "short", "password"),
        ("newbie", "new@example.com", "password", "password"),
        ("bad name!", "new@example.com", STRONG, "username"),
        ("", "new@example.com", STRONG, "username"),
        # 51 characters, 153 once NFKC-normalised as stored (it was a DataError, 500)
        ("\ufb03" * 51, "new@example.com", STRONG, "username"),
        # "taken" in full-width letters is stored as "taken"
        ("\uff54\uff41\uff4b\uff45\uff4e", "new@example.com", STRONG, "username"),
    ],
)
def test_bad_input_gets_field_errors_and_creates_nothing(
    username: str, email: str, password: str, field: str
) -> None:
    User.objects.create_user("taken", "taken@example.com", STRONG)
    users, events = User.objects.count(), StoredEvent.objects.count()
    answer = register(APIClient(), username, password, email)
    assert answer["status"] == 400
    assert field in answer["body"]
    assert (User.objects.count(), StoredEvent.objects.count()) == (users, events)


def test_a_player_signs_in_with_the_username_they_signed_up_with(event_bus: EventBus) -> None:
    # Given a player who signed up as "ﬃ_player" (stored NFKC-normalised: "ffi_player"),
    # with an email whose domain has capitals
    answer = register(APIClient(), "\ufb03_player", email="P@EXAMPLE.COM")
    assert answer["status"] == 201

    # When they ask for a token with the name they typed, or the stored one
    typed, stored = (
        APIClient().post(
            "/api/v1/auth/token/", {"username": name, "password": STRONG}, format="json"
        )
        for name in ("\ufb03_player", "ffi_player")
    )

    # Then both sign in (the typed one was refused: "Unable to log in")
    assert (typed.status_code, stored.status_code) == (200, 200)
    # and the event says what was stored
    registered = event_bus.published(UserRegistered)[-1].data
    assert isinstance(registered, UserRegistered)
    assert (registered.username, registered.email) == ("ffi_player", "P@example.com")


def test_missing_fields_and_wrong_types_are_field_errors() -> None:
    response = APIClient().post("/api/v1/auth/register/", {"username": ["x"]}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"username", "email", "password"}


def test_league_full_waiting_list_then_a_place_frees(
    event_bus: EventBus, default_league: League
) -> None:
    client = APIClient()
    tokens = [register(client, name)["body"]["token"] for name in ("p1", "p2", "p3", "p4")]
    settle(event_bus)
    assert [me(client, t)["registration"] for t in tokens] == [
        "completed",
        "completed",
        "waiting_list",
        "waiting_list",
    ]
    assert [me(client, t)["waiting_list_position"] for t in tokens] == [None, None, 1, 2]
    assert sorted(m.subject for m in mail.outbox) == [
        "Welcome to Players",
        "Welcome to Players",
        "You are on the waiting list of Players",
        "You are on the waiting list of Players",
    ]

    registration.player_leave_league(user_id=User.objects.get(username="p1").id)
    settle(event_bus)

    p3 = me(client, tokens[2])
    assert (p3["registration"], p3["league"]["name"]) == ("completed", "Players")
    assert me(client, tokens[3])["waiting_list_position"] == 1
    assert me(client, tokens[0])["league"] is None
    assert [m.to for m in mail.outbox].count(["p3@example.com"]) == 2  # waiting list, welcome


def test_a_redelivered_event_never_runs_a_step_twice(
    event_bus: EventBus, default_league: League
) -> None:
    register(APIClient(), "carol")
    settle(event_bus)
    steps, commands = SagaStep.objects.count(), CommandRecord.objects.count()
    saga_class = engine.saga_class("player_registration")
    for recorded in event_bus.published():
        if recorded.event_type in saga_class.steps:
            engine.handle(saga_class, recorded)
    assert (SagaStep.objects.count(), CommandRecord.objects.count()) == (steps, commands)
    assert len(mail.outbox) == 1


def test_a_command_runs_once_whatever_the_number_of_tasks(
    event_bus: EventBus, default_league: League
) -> None:
    register(APIClient(), "dave")
    settle(event_bus)

    for record in CommandRecord.objects.all():
        assert bus.run(record.id) == "already done"
    assert PlayerProfile.objects.count() == 1
    assert len(mail.outbox) == 1


def test_the_sign_up_page_creates_the_user_and_shows_the_registration(
    client, event_bus: EventBus, default_league: League
) -> None:
    page = client.get("/signup/")
    assert page.status_code == 200
    assert b"Sign up" in page.content
    bad = client.post("/signup/", {"username": "erin", "email": "erin@x", "password": "1"})
    assert bad.status_code == 200
    assert not User.objects.filter(username="erin").exists()
    done = client.post(
        "/signup/", {"username": "erin", "email": "erin@example.com", "password": STRONG}
    )
    assert done.status_code == 302
    settle(event_bus)
    status = client.get("/signup/done/")
    assert b'data-registration="completed"' in status.content


@pytest.mark.parametrize("entry_point", ["page", "api"])
def test_an_email_longer_than_the_user_table_takes_is_a_field_error(client, entry_point) -> None:
    # A valid address of 260 characters: the standard allows 320, auth_user.email 254
    email = "a" * 64 + "@" + ("b" * 63 + ".") * 3 + "com"
    body = {"username": "longmail", "email": email, "password": STRONG}

    if entry_point == "page":
        response = client.post("/signup/", body)
        # Before: a 500 (value too long for type character varying(254))
        assert response.status_code == 200
        assert b"254" in response.content
    else:
        response = APIClient().post("/api/v1/auth/register/", body, format="json")
        assert response.status_code == 400
        assert "email" in response.json()
    assert not User.objects.filter(username="longmail").exists()


def test_a_session_signed_in_through_djangos_backend_stays_signed_in(client) -> None:
    # Sessions from before the normalising backend record Django's; they stay valid
    user = User.objects.create_user("earlier", "earlier@example.com", STRONG)
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")

    assert client.get("/api/v1/me/").status_code == 200


def test_a_failed_sign_in_hashes_the_password_once(monkeypatch) -> None:
    # The normalising backend settles it: Django's, listed after it for older sessions,
    # is not asked to hash the same wrong password again
    User.objects.create_user("hashed", "hashed@example.com", STRONG)
    hashed: list[str] = []
    original_check, original_set = User.check_password, User.set_password

    def check(user: Any, raw: str) -> bool:
        hashed.append("check")
        return original_check(user, raw)

    def set_(user: Any, raw: str | None) -> None:
        hashed.append("set")
        original_set(user, raw)

    monkeypatch.setattr(User, "check_password", check)
    monkeypatch.setattr(User, "set_password", set_)

    for username in ("hashed", "nobody"):
        response = APIClient().post(
            "/api/v1/auth/token/", {"username": username, "password": "wrong-1"}, format="json"
        )
        assert response.status_code == 400

    # one hash per attempt: the known user's check, the unknown user's timing hash
    assert hashed == ["check", "set"]


def test_me_needs_authentication() -> None:
    assert APIClient().get("/api/v1/me/").status_code == 401


def test_the_demo_has_a_default_league_with_free_places() -> None:
    call_command("load_demo", stdout=StringIO())
    call_command("load_demo", stdout=StringIO())
    league = League.objects.get(is_default=True)
    assert league.players.count() < league.capacity
    assert League.objects.count() == 1


def test_staff_free_a_place_from_the_admin(
    client, event_bus: EventBus, default_league: League
) -> None:
    api = APIClient()
    tokens = [register(api, name)["body"]["token"] for name in ("a1", "a2", "a3")]
    settle(event_bus)
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    leaving = PlayerProfile.objects.get(user__username="a1")
    response = client.post(
        "/admin/sagas/playerprofile/",
        {"action": "leave_league", "_selected_action": [str(leaving.pk)]},
    )
    assert response.status_code == 302
    settle(event_bus)
    assert me(api, tokens[2])["registration"] == "completed"
    assert me(api, tokens[0])["league"] is None


def test_the_admin_refuses_a_username_taken_in_another_case(client) -> None:
    # Given a user "bob", and staff editing another user, "carl"
    User.objects.create_user("bob", "bob@example.com", STRONG)
    carl = User.objects.create_user("carl", "carl@example.com", STRONG)
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    form = {
        "email": "carl@example.com",
        "is_active": "on",
        "date_joined_0": "2026-11-30",
        "date_joined_1": "12:00:00",
    }
    url = f"/admin/auth/user/{carl.pk}/change/"

    # When they rename carl "Bob", then "Carl"
    taken = client.post(url, {**form, "username": "Bob"})
    renamed = client.post(url, {**form, "username": "Carl"})

    # Then the first is a form error (not the database index's 500), the second is saved
    assert taken.status_code == 200
    assert "A user with that username already exists." in taken.content.decode()
    assert renamed.status_code == 302
    assert User.objects.get(pk=carl.pk).username == "Carl"


# --- mail failures: nothing a player was given is undone --------------------------------

REAL_SEND_MAIL = registration.send_mail


def refusing(prefix: str):
    """send_mail, refusing (the mail server down) every mail whose subject starts so."""

    def send_mail(subject: str, body: str, sender: str | None, to: list[str]) -> int:
        if subject.startswith(prefix):
            raise ConnectionRefusedError("mail server down")
        return REAL_SEND_MAIL(subject, body, sender, to)

    return send_mail


def registration_saga(username: str) -> SagaInstance:
    user = User.objects.get(username=username)
    return SagaInstance.objects.get(saga_type="player_registration", correlation_key=str(user.id))


def test_a_welcome_failing_for_good_stops_the_saga_for_a_retry(
    event_bus: EventBus, default_league, monkeypatch
) -> None:
    # Given a new player with a place, and a mail server refusing the welcome every time
    client = APIClient()
    token = register(client, "zed")["body"]["token"]
    monkeypatch.setattr(registration, "send_mail", refusing("Welcome"))

    # When the saga runs through every attempt
    settle(event_bus)

    # Then the place stays and the saga waits for an operator, who retries it later
    assert me(client, token)["league"] is not None
    saga = registration_saga("zed")
    assert saga.status == "failed"
    monkeypatch.setattr(registration, "send_mail", REAL_SEND_MAIL)
    engine.saga_retry_step(saga_id=saga.id, actor="ops")
    settle(event_bus)
    assert me(client, token)["registration"] == "completed"
    assert [m.subject for m in mail.outbox] == ["Welcome to Players"]


def test_a_waiting_list_mail_failing_for_good_still_lets_the_player_in_later(
    event_bus: EventBus, default_league, monkeypatch
) -> None:
    # Given a full league (2 places) and a third player whose waiting-list mail fails
    client = APIClient()
    tokens = [register(client, name)["body"]["token"] for name in ("p1", "p2", "p3")]
    monkeypatch.setattr(registration, "send_mail", refusing("You are on the waiting list"))
    settle(event_bus)
    monkeypatch.setattr(registration, "send_mail", REAL_SEND_MAIL)

    # When a place frees
    registration.player_leave_league(user_id=User.objects.get(username="p1").id)
    settle(event_bus)

    # Then the third player gets it, and the welcome
    p3 = me(client, tokens[2])
    assert p3["league"] is not None
    assert p3["registration"] == "completed"
    assert registration_saga("p3").state["waiting_list_email"].startswith("failed")


def test_no_waiting_list_mail_once_the_player_has_a_place(
    event_bus: EventBus, default_league
) -> None:
    # Given a third player whose waiting-list mail is held up (the mail server hiccups)
    client = APIClient()
    for name in ("p1", "p2", "p3"):
        register(client, name)
    settle(event_bus, never="SendWaitingListEmail")

    # When a place frees meanwhile, and then the waiting-list mail's retry runs
    registration.player_leave_league(user_id=User.objects.get(username="p1").id)
    settle(event_bus)

    # Then the player got the welcome and no "you are on the waiting list"
    to_p3 = [m.subject for m in mail.outbox if m.to == ["p3@example.com"]]
    assert to_p3 == ["Welcome to Players"]
    assert registration_saga("p3").status == "completed"


# --- the order of places ----------------------------------------------------------------


def test_a_place_made_free_goes_to_the_waiting_list_before_a_newcomer(
    event_bus: EventBus,
) -> None:
    # Given a full one-place league and a player waiting
    league = registration.league_create(name="Solo", capacity=1, is_default=True)
    client = APIClient()
    register(client, "x")
    waiting = register(client, "a")["body"]["token"]
    settle(event_bus)
    assert me(client, waiting)["waiting_list_position"] == 1

    # When the league gets a second place (an operator's change) and a newcomer signs up
    League.objects.filter(id=league.id).update(capacity=2)
    newcomer = register(client, "b")["body"]["token"]
    settle(event_bus)

    # Then the waiting player has the place and the newcomer waits
    assert me(client, waiting)["league"] is not None
    assert me(client, newcomer)["waiting_list_position"] == 1


def test_the_waiting_list_does_not_follow_a_workers_clock(event_bus: EventBus, monkeypatch) -> None:
    # Given a full one-place league and a player waiting
    registration.league_create(name="Solo", capacity=1, is_default=True)
    client = APIClient()
    register(client, "x")
    settle(event_bus)
    first = register(client, "a")["body"]["token"]
    settle(event_bus)
    assert me(client, first)["waiting_list_position"] == 1

    # When the next player is wait-listed by a worker whose clock is 5 s behind
    real_now = timezone.now
    monkeypatch.setattr(timezone, "now", lambda: real_now() - timedelta(seconds=5))
    second = register(client, "b")["body"]["token"]
    settle(event_bus)
    monkeypatch.setattr(timezone, "now", real_now)

    # Then the first still comes first, and gets the place that frees
    assert me(client, second)["waiting_list_position"] == 2
    registration.player_leave_league(user_id=User.objects.get(username="x").id)
    settle(event_bus)
    assert me(client, first)["league"] is not None
    assert me(client, second)["waiting_list_position"] == 1


def test_deleting_a_league_member_gives_the_place_to_the_first_waiting(
    event_bus: EventBus,
) -> None:
    # Given a league of one place, held, and a player waiting for it
    league = registration.league_create(name="Tiny", capacity=1, is_default=True)
    register(APIClient(), "holder")
    settle(event_bus)
    register(APIClient(), "waiter")
    settle(event_bus)
    waiter = PlayerProfile.objects.get(user__username="waiter")
    assert waiter.waiting_for_id == league.id

    # When the holder's account is deleted (admin: Users, delete)
    User.objects.get(username="holder").delete()
    settle(event_bus)

    # Then the waiting player has the place
    # Before: the place stayed empty until another newcomer signed up
    waiter.refresh_from_db()
    assert waiter.league_id == league.id
    assert waiter.waiting_for_id is None


@pytest.mark.parametrize("first", ["holder", "waiter"])
def test_deleting_a_member_and_a_waiting_player_together_gives_the_place_on(
    event_bus: EventBus, first: str
) -> None:
    # Given a league of one place, held, and two players waiting for it
    league = registration.league_create(name="Tiny", capacity=1, is_default=True)
    second = "waiter" if first == "holder" else "holder"
    for name in (first, second, "next"):
        register(APIClient(), name)
        settle(event_bus)
    assert PlayerProfile.objects.get(user__username=first).league_id == league.id

    # When the holder and the first waiting player are deleted at once (the admin's
    # "Delete selected users")
    User.objects.filter(username__in=["holder", "waiter"]).delete()
    settle(event_bus)

    # Then the last waiting player has the place
    # Before: the place went to the other player being deleted, and was lost with them
    assert PlayerProfile.objects.get(user__username="next").league_id == league.id


def test_a_deactivated_account_on_the_waiting_list_is_passed_over(event_bus: EventBus) -> None:
    # Given a full league of one, and two players waiting, the first of them deactivated
    league = registration.league_create(name="Tiny", capacity=1, is_default=True)
    for name in ("holder", "away", "next"):
        register(APIClient(), name)
        settle(event_bus)
    User.objects.filter(username="away").update(is_active=False)
    following = PlayerProfile.objects.get(user__username="next")
    assert registration.waiting_list_position(following) == 1

    # When the place frees
    registration.player_leave_league(user_id=User.objects.get(username="holder").id)
    settle(event_bus)

    # Then it goes to the next active player; the deactivated one keeps waiting
    # Before: the deactivated account got the place nobody could use
    assert PlayerProfile.objects.get(user__username="next").league_id == league.id
    assert PlayerProfile.objects.get(user__username="away").waiting_for_id == league.id
