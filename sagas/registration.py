"""Player registration: sign-up records ``UserRegistered`` with the new user; the saga
creates the player's profile, assigns the default league (or its waiting list) and sends
the welcome (or waiting-list) email.

    UserRegistered → CreatePlayerProfile → PlayerProfileCreated → AssignToDefaultLeague
      → LeagueAssigned → SendWelcomeEmail → EmailSent(welcome) → completed
      → PlayerWaitListed → SendWaitingListEmail → EmailSent(waiting_list)   (league full)
    a place frees (player_leave_league) → the first on the list: LeagueAssigned → ...
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import (
    CommonPasswordValidator,
    MinimumLengthValidator,
    NumericPasswordValidator,
    UserAttributeSimilarityValidator,
    validate_password,
)
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q

from events import store
from events.clock import database_now
from events.registry import Event
from events.store import RecordedEvent
from sagas.bus import command_handler
from sagas.engine import Saga, StepContext, step
from sagas.events import (
    PLAYER_STREAM,
    USER_STREAM,
    EmailSent,
    LeagueAssigned,
    LeagueCreated,
    PlayerLeftLeague,
    PlayerProfileCreated,
    PlayerWaitListed,
    UserRegistered,
    league_stream,
    player_stream,
    user_stream,
)
from sagas.models import CommandRecord, League, PlayerProfile, SagaInstance, SagaStatus, SentEmail

SAGA_TYPE = "player_registration"
PASSWORD_VALIDATORS: list[Any] = [
    MinimumLengthValidator(8),
    CommonPasswordValidator(),
    NumericPasswordValidator(),
]


class RegistrationInvalid(Exception):
    """Field errors: ``{"username": ["..."], ...}``."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(errors)
        self.errors = errors


def registration_errors(username: str, email: str, password: str) -> dict[str, list[str]]:
    """What is wrong with a sign-up, per field (empty when it may go ahead)."""
    User = get_user_model()
    username = User.normalize_username(username)
    errors: dict[str, list[str]] = {}
    username_field = User._meta.get_field("username")
    try:
        username_field.run_validators(username)
        if not username:
            raise ValidationError("This field may not be blank.")
        if User.objects.filter(username__iexact=username).exists():
            raise ValidationError("A user with that username already exists.")
    except ValidationError as exc:
        errors["username"] = list(exc.messages)
    try:
        validate_email(email)
        longest = User._meta.get_field("email").max_length
        if longest is not None and len(email) > longest:
            raise ValidationError(f"Ensure this value has at most {longest} characters.")
    except ValidationError as exc:
        errors["email"] = list(exc.messages)
    try:
        user = User(username=username, email=email)
        validate_password(
            password,
            user,
            password_validators=[*PASSWORD_VALIDATORS, UserAttributeSimilarityValidator()],
        )
    except ValidationError as exc:
        errors["password"] = list(exc.messages)
    return errors


def player_register(*, username: str, email: str, password: str) -> Any:
    """Create the user and record ``UserRegistered``, in one transaction. Raises
    ``RegistrationInvalid`` (nothing created) for a taken username, an invalid email or
    a weak password."""
    # As create_user stores it (NFKC): checked in that form, since it can be longer.
    username = get_user_model().normalize_username(username)
    errors = registration_errors(username, email, password)
    if errors:
        raise RegistrationInvalid(errors)
    try:
        with transaction.atomic():
            user = get_user_model().objects.create_user(
                username=username, email=email, password=password
            )
            store.append(
                user_stream(user.id),
                # As stored (the email's domain lower-cased by create_user).
                [UserRegistered(user_id=user.id, username=user.username, email=user.email)],
                0,
                stream_type=USER_STREAM,
            )
    except IntegrityError:
        # Two sign-ups with one name at the same moment: the second loses here.
        raise RegistrationInvalid(
            {"username": ["A user with that username already exists."]}
        ) from None
    return user


# --- leagues ---------------------------------------------------------------------------


def league_create(
    *, name: str, capacity: int, is_default: bool = False, league_id: uuid.UUID | None = None
) -> League:
    with transaction.atomic():
        league = League.objects.create(
            id=league_id or uuid.uuid4(), name=name, capacity=capacity, is_default=is_default
        )
        store.append(
            league_stream(league.id),
            [
                LeagueCreated(
                    league_id=league.id, name=name, capacity=capacity, is_default=is_default
                )
            ],
            0,
        )
    return league


DEMO_LEAGUE_ID = uuid.UUID("6d0c3b8e-2f6a-4c55-9a51-6e2a1c0de100")


def default_league_ensure(capacity: int = 100) -> League | None:
    """The demo's default league, made once (None when a default league exists)."""
    if League.objects.filter(is_default=True).exists():
        return None
    return league_create(
        name="EasyChamp Players League",
        capacity=capacity,
        is_default=True,
        league_id=DEMO_LEAGUE_ID,
    )


def player_leave_league(*, user_id: int) -> PlayerProfile:
    """The player leaves their league; the first on its waiting list takes the place."""
    with transaction.atomic():
        profile = PlayerProfile.objects.select_for_update().get(user_id=user_id)
        league_id = profile.league_id
        if league_id is None:
            return profile
        league = League.objects.select_for_update().get(id=league_id)
        profile.league = None
        _append(profile, [PlayerLeftLeague(user_id=user_id, league_id=league.id)])
        league_fill_from_waiting_list(league)
    return profile


def leave_league_when_deleted(sender: Any, instance: PlayerProfile, **kwargs: Any) -> None:
    """post_delete of a profile (its user deleted, say, or several at once in the admin):
    the place it held goes to the waiting list, as when the player leaves. After the
    delete, not before: every profile deleted with it is gone by then, so none of them
    is given the place (the instance is as it was read before the deletion)."""
    if instance.league_id is not None:
        stream = player_stream(instance.user_id)
        store.append(
            stream,
            [PlayerLeftLeague(user_id=instance.user_id, league_id=instance.league_id)],
            store.stream_version(stream),
            stream_type=PLAYER_STREAM,
        )
    # Also the league it was waiting for: it may have been given the place meanwhile (the
    # instance read before that committed), and the place went with it.
    for league_id in (instance.league_id, instance.waiting_for_id):
        if league_id is None:
            continue
        league = League.objects.select_for_update().filter(id=league_id).first()
        if league is not None:
            league_fill_from_waiting_list(league)


def league_fill_from_waiting_list(league: League) -> int:
    """Assign waiting players (first come, first served) to the league's free places."""
    assigned = 0
    while league.players.count() < league.capacity:
        first = (
            PlayerProfile.objects.select_for_update()
            # A deactivated account keeps its turn but is passed over while inactive.
            .filter(waiting_for=league, user__is_active=True)
            .order_by("waiting_since", "id")
            .first()
        )
        if first is None:
            break
        first.league = league
        first.waiting_for = None
        first.waiting_since = None
        _append(
            first,
            [LeagueAssigned(user_id=first.user_id, league_id=league.id, from_waiting_list=True)],
        )
        assigned += 1
    return assigned


def waiting_list_position(profile: PlayerProfile) -> int | None:
    if profile.waiting_for_id is None or profile.waiting_since is None:
        return None
    # The fill's order: by waiting_since, then id; deactivated accounts are passed over.
    ahead = (
        PlayerProfile.objects.filter(waiting_for_id=profile.waiting_for_id, user__is_active=True)
        .filter(
            Q(waiting_since__lt=profile.waiting_since)
            | Q(waiting_since=profile.waiting_since, id__lt=profile.id)
        )
        .count()
    )
    return ahead + 1


def _append(profile: PlayerProfile, events: list[Event]) -> None:
    store.append(player_stream(profile.user_id), events, profile.version, stream_type=PLAYER_STREAM)
    profile.version += len(events)
    profile.save()


# --- command handlers ------------------------------------------------------------------


@command_handler("CreatePlayerProfile")
def create_player_profile(command: CommandRecord) -> None:
    user_id = command.payload["user_id"]
    if PlayerProfile.objects.filter(user_id=user_id).exists():
        return
    user = get_user_model().objects.get(id=user_id)
    profile = PlayerProfile.objects.create(user=user, display_name=user.get_username())
    _append(profile, [PlayerProfileCreated(user_id=user_id, display_name=profile.display_name)])


@command_handler("AssignToDefaultLeague")
def assign_to_default_league(command: CommandRecord) -> None:
    """A place in the default league, or its waiting list. Places go in the order these
    commands run, which is close to sign-up order but not guaranteed with several
    workers (see the README). Free places go to the waiting list first."""
    profile = PlayerProfile.objects.select_for_update().get(user_id=command.payload["user_id"])
    if profile.league_id is not None or profile.waiting_for_id is not None:
        return
    # The profile, then the league: the order of player_leave_league.
    league = League.objects.select_for_update().filter(is_default=True).first()
    if league is None:
        raise LookupError("there is no default league")
    league_fill_from_waiting_list(league)
    if league.players.count() < league.capacity:
        profile.league = league
        _append(profile, [LeagueAssigned(user_id=profile.user_id, league_id=league.id)])
        return
    profile.waiting_for = league
    # The database's clock: the waiting list's order must not depend on a worker's.
    profile.waiting_since = database_now()
    position = PlayerProfile.objects.filter(waiting_for=league).count() + 1
    _append(
        profile,
        [PlayerWaitListed(user_id=profile.user_id, league_id=league.id, position=position)],
    )


def _send_player_email(
    command: CommandRecord,
    kind: str,
    subject: str,
    body: str,
    still_true: Callable[[PlayerProfile], bool] | None = None,
) -> None:
    """Send once per command: the row, the event, then the mail, all before the commit
    (a mail that cannot be sent rolls the rest back and is retried). ``still_true``: what
    the mail says, checked with the profile locked (a retry may come after it changed):
    when it no longer holds, nothing is sent."""
    if SentEmail.objects.filter(command_id=command.id).exists():
        return
    # Only the profile's row: the user's stays free for logins while the mail is sent.
    profile = (
        PlayerProfile.objects.select_for_update(of=("self",))
        .select_related("user")
        .get(user_id=command.payload["user_id"])
    )
    if still_true is not None and not still_true(profile):
        return
    to = profile.user.email
    SentEmail.objects.create(command_id=command.id, kind=kind, to=to, subject=subject)
    _append(profile, [EmailSent(user_id=profile.user_id, kind=kind, to=to, command_id=command.id)])
    send_mail(subject, body, None, [to])


@command_handler("SendWelcomeEmail")
def send_welcome_email(command: CommandRecord) -> None:
    league = League.objects.get(id=command.payload["league_id"])
    _send_player_email(
        command,
        "welcome",
        f"Welcome to {league.name}",
        f"Hello {command.payload['username']},\n\nyou play in {league.name}. Good luck!\n",
    )


@command_handler("SendWaitingListEmail")
def send_waiting_list_email(command: CommandRecord) -> None:
    league = League.objects.get(id=command.payload["league_id"])
    _send_player_email(
        command,
        "waiting_list",
        f"You are on the waiting list of {league.name}",
        f"Hello {command.payload['username']},\n\n{league.name} is full: you are number "
        f"{command.payload['position']} on its waiting list. We will write when a place "
        "frees up.\n",
        # A retry after a place freed must not tell a player with a place to wait.
        still_true=lambda profile: profile.waiting_for_id is not None,
    )


# --- the saga --------------------------------------------------------------------------


class PlayerRegistrationSaga(Saga):
    saga_type = SAGA_TYPE
    stream_types = (USER_STREAM, PLAYER_STREAM)

    @classmethod
    def correlate(cls, recorded: RecordedEvent) -> str | None:
        user_id = getattr(recorded.data, "user_id", None)
        return str(user_id) if user_id is not None else None

    @step(UserRegistered, starts=True)
    def on_user_registered(self, ctx: StepContext) -> None:
        event = ctx.event.data if ctx.event else None
        assert isinstance(event, UserRegistered)
        ctx.state.update(user_id=event.user_id, username=event.username, phase="profile")
        ctx.send("CreatePlayerProfile", {"user_id": event.user_id})

    @step(PlayerProfileCreated)
    def on_profile_created(self, ctx: StepContext) -> None:
        ctx.state["phase"] = "league"
        ctx.send("AssignToDefaultLeague", {"user_id": ctx.state["user_id"]})

    @step(LeagueAssigned)
    def on_league_assigned(self, ctx: StepContext) -> None:
        event = ctx.event.data if ctx.event else None
        assert isinstance(event, LeagueAssigned)
        ctx.state.update(phase="welcome", league_id=str(event.league_id))
        ctx.send(
            "SendWelcomeEmail",
            {
                "user_id": ctx.state["user_id"],
                "username": ctx.state["username"],
                "league_id": str(event.league_id),
            },
        )

    @step(PlayerWaitListed)
    def on_wait_listed(self, ctx: StepContext) -> None:
        # The compensating path: no place, so the waiting list and its email instead.
        event = ctx.event.data if ctx.event else None
        assert isinstance(event, PlayerWaitListed)
        ctx.state.update(phase="waiting_list", waiting_for=str(event.league_id))
        ctx.send(
            "SendWaitingListEmail",
            {
                "user_id": ctx.state["user_id"],
                "username": ctx.state["username"],
                "league_id": str(event.league_id),
                "position": event.position,
            },
        )

    @step(EmailSent)
    def on_email_sent(self, ctx: StepContext) -> None:
        event = ctx.event.data if ctx.event else None
        assert isinstance(event, EmailSent)
        if event.kind == "welcome":
            ctx.state["phase"] = "completed"
            ctx.complete()

    def on_command_failed(self, ctx: StepContext, command: str, error: str) -> None:
        """Nothing here is undone (the account stays, a place once given is the
        player's): a command failing for good stops the saga for an operator to retry
        it, except the waiting-list email, which is only news: the saga goes on waiting
        for a place (and its welcome)."""
        if command == "SendWaitingListEmail":
            ctx.state["waiting_list_email"] = f"failed: {error}"[:200]
            return
        ctx.fail(f"{command} failed: {error}")


def registration_status(user_id: int) -> str:
    """``pending``, ``completed`` or ``waiting_list``, as the saga moves."""
    saga = SagaInstance.objects.filter(saga_type=SAGA_TYPE, correlation_key=str(user_id)).first()
    if saga is None:
        return "pending"
    if saga.status == SagaStatus.COMPLETED:
        return "completed"
    if saga.state.get("phase") == "waiting_list":
        return "waiting_list"
    return "pending"
