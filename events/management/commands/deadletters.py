"""``manage.py deadletters``: list, show, retry and skip parked dead letters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.management.base import BaseCommand, CommandError, CommandParser

from events.deadletters import DeadLetterError, dead_letter_retry, dead_letter_skip
from events.management.arguments import at_least
from events.models import DeadLetter

STATUSES = [*DeadLetter.Status.values, "all"]
ERROR_PREVIEW_LENGTH = 60


class Command(BaseCommand):
    help = (
        "Inspect and resolve dead letters. Retry and skip take several ids; each is "
        "resolved on its own, and the command fails if any of them could not be."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")

        listing = sub.add_parser("list", help="a table of dead letters (parked by default)")
        listing.add_argument("--status", choices=STATUSES, default=DeadLetter.Status.PARKED)
        listing.add_argument("--subscription", metavar="NAME")
        listing.add_argument(
            "--limit", type=at_least(0), default=100, help="at most this many rows"
        )

        show = sub.add_parser("show", help="one dead letter with its traceback")
        show.add_argument("id", type=int)

        retry = sub.add_parser("retry", help="deliver the events again")
        retry.add_argument("ids", type=int, nargs="+", metavar="ID")
        retry.add_argument("--note", default="", metavar="TEXT", help="why (optional)")
        retry.add_argument("--user", metavar="USERNAME", help="recorded as resolved by")

        skip = sub.add_parser("skip", help="move the subscriptions past the events, unhandled")
        skip.add_argument("ids", type=int, nargs="+", metavar="ID")
        skip.add_argument("--reason", required=True, metavar="TEXT", help="why (required)")
        skip.add_argument("--user", metavar="USERNAME", help="recorded as resolved by")

    def handle(self, *args: Any, **options: Any) -> None:
        subcommand = options["subcommand"]
        if subcommand == "list":
            self._list(options["status"], options["subscription"], options["limit"])
        elif subcommand == "show":
            self._show(options["id"])
        elif subcommand == "retry":
            self._resolve(dead_letter_retry, "retried", options["ids"], options)
        else:
            if not options["reason"].strip():
                raise CommandError("skip needs a reason: --reason TEXT")
            self._resolve(dead_letter_skip, "skipped", options["ids"], options)

    def _list(self, status: str, subscription: str | None, limit: int) -> None:
        letters = DeadLetter.objects.order_by("-last_failed_at", "-pk")
        if status != "all":
            letters = letters.filter(status=status)
        if subscription:
            letters = letters.filter(subscription=subscription)
        total = letters.count()
        if not total:
            self.stdout.write("No dead letters.")
            return
        rows = [
            (
                str(letter.pk),
                letter.status,
                letter.subscription,
                f"{letter.stream_id}@{letter.event_version}",
                letter.event_type,
                str(letter.attempts),
                letter.last_failed_at.strftime("%Y-%m-%d %H:%M:%S"),
                _truncate(letter.last_error, ERROR_PREVIEW_LENGTH),
            )
            for letter in letters[:limit]
        ]
        header = ("ID", "STATUS", "SUBSCRIPTION", "STREAM@VERSION", "EVENT", "TRIES", "LAST FAILED")
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
        for row in [(*header, "LAST ERROR"), *rows]:
            cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
            self.stdout.write("  ".join([*cells, row[-1]]).rstrip())
        if total > len(rows):
            self.stdout.write(f"… {total - len(rows)} more (use --limit)")

    def _show(self, dead_letter_id: int) -> None:
        try:
            letter = DeadLetter.objects.select_related("resolved_by").get(pk=dead_letter_id)
        except DeadLetter.DoesNotExist:
            raise CommandError(f"dead letter {dead_letter_id} does not exist") from None
        fields = [
            ("id", letter.pk),
            ("status", letter.status),
            ("subscription", letter.subscription),
            ("stream", f"{letter.stream_type} {letter.stream_id}"),
            (
                "event",
                f"{letter.event_type} v{letter.event_version} (position {letter.event_position})",
            ),
            ("event id", letter.event_id),
            ("attempts", letter.attempts),
            ("first failed", letter.first_failed_at.isoformat()),
            ("last failed", letter.last_failed_at.isoformat()),
            ("resolved by", letter.resolved_by.get_username() if letter.resolved_by else "-"),
            ("resolved at", letter.resolved_at.isoformat() if letter.resolved_at else "-"),
            ("note", letter.resolution_note or "-"),
            ("last error", letter.last_error),
        ]
        for label, value in fields:
            self.stdout.write(f"{label:>13}: {value}")
        self.stdout.write("")
        self.stdout.write(letter.traceback or "(no traceback)")

    def _resolve(
        self,
        command: Callable[..., DeadLetter],
        done: str,
        ids: list[int],
        options: dict[str, Any],
    ) -> None:
        user = _user(options["user"])
        note = (options.get("reason") or options.get("note") or "").strip()
        failures: list[str] = []
        for dead_letter_id in ids:
            try:
                letter = command(dead_letter_id=dead_letter_id, user=user, note=note)
            except DeadLetterError as exc:
                failures.append(str(exc))
                continue
            self.stdout.write(f"{done} dead letter {letter.pk}: {letter}")
        if failures:
            raise CommandError("; ".join(failures))


def _user(username: str | None) -> AbstractBaseUser | None:
    if not username:
        return None
    User = get_user_model()
    try:
        return User.objects.get(**{User.USERNAME_FIELD: username})
    except User.DoesNotExist:
        raise CommandError(f"no user named {username!r}") from None


def _truncate(text: str, length: int) -> str:
    line = text.splitlines()[0] if text else ""
    return line if len(line) <= length else line[: length - 1] + "…"
