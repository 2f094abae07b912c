from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.defaultfilters import truncatechars
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from events.deadletters import DeadLetterError, dead_letter_retry, dead_letter_skip
from events.models import Checkpoint, DeadLetter, EventStream, StoredEvent

ERROR_PREVIEW_LENGTH = 80


def _compact(moment: datetime | None) -> str:
    """A short local timestamp for list columns (the detail page shows the full one)."""
    if moment is None:
        return "-"
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S")


class ReadOnlyAdmin(admin.ModelAdmin):
    """The event log is immutable: nobody adds, edits or deletes through the admin."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(StoredEvent)
class StoredEventAdmin(ReadOnlyAdmin):
    list_display = ("position", "event_type", "stream_type", "stream_id", "version", "occurred_at")
    list_filter = ("stream_type", "event_type")
    search_fields = ("stream_id", "=event_id", "event_type")
    date_hierarchy = "occurred_at"
    list_per_page = 100
    show_full_result_count = False
    readonly_fields = (
        "position",
        "event_id",
        "stream_id",
        "stream_type",
        "version",
        "event_type",
        "schema_version",
        "occurred_at",
        "pretty_payload",
        "pretty_metadata",
    )
    exclude = ("payload", "metadata")

    @admin.display(description="payload")
    def pretty_payload(self, obj: StoredEvent) -> SafeString:
        return format_html("<pre>{}</pre>", json.dumps(obj.payload, indent=2, sort_keys=True))

    @admin.display(description="metadata")
    def pretty_metadata(self, obj: StoredEvent) -> SafeString:
        return format_html("<pre>{}</pre>", json.dumps(obj.metadata, indent=2, sort_keys=True))


@admin.register(EventStream)
class EventStreamAdmin(ReadOnlyAdmin):
    list_display = ("stream_id", "stream_type", "version", "updated_at")
    list_filter = ("stream_type",)
    search_fields = ("stream_id",)
    show_full_result_count = False


@admin.register(Checkpoint)
class CheckpointAdmin(ReadOnlyAdmin):
    list_display = (
        "subscription",
        "stream_id",
        "version",
        "attempts",
        "blocked",
        "next_attempt_at",
        "short_error",
    )
    list_filter = ("subscription", "blocked")
    search_fields = ("stream_id",)
    show_full_result_count = False

    @admin.display(description="last error")
    def short_error(self, obj: Checkpoint) -> str:
        return truncatechars(obj.last_error, ERROR_PREVIEW_LENGTH)


class DeadLetterActionForm(helpers.ActionForm):
    note = forms.CharField(
        required=False,
        label="Note",
        widget=forms.TextInput(attrs={"placeholder": "why (optional for retry)", "size": 40}),
    )


class SkipReasonForm(forms.Form):
    reason = forms.CharField(
        label="Reason",
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
        help_text="Recorded on each dead letter: why its event may be passed over unhandled.",
        error_messages={"required": "Skipping loses the event for this subscription: say why."},
    )


@admin.register(DeadLetter)
class DeadLetterAdmin(ReadOnlyAdmin):
    """Dead letters are resolved only through the retry/skip commands, never edited."""

    list_display = (
        "id",
        "subscription",
        "stream_id",
        "event_type",
        "event_version",
        "attempts",
        "short_error",
        "failures",
        "status",
        "resolution",
    )
    list_display_links = ("id", "subscription")
    list_filter = ("status", "subscription", "event_type", "stream_type")
    search_fields = ("stream_id", "=event_id")
    list_select_related = ("resolved_by",)
    action_form = DeadLetterActionForm
    actions = ("retry_selected", "skip_selected")
    fieldsets = (
        (
            "Event",
            {
                "fields": (
                    "subscription",
                    "stream_id",
                    "stream_type",
                    "event_link",
                    "event_type",
                    "event_version",
                    "checkpoint_link",
                )
            },
        ),
        ("Failure", {"fields": ("attempts", "first_failed_at", "last_failed_at", "last_error")}),
        ("Traceback", {"fields": ("traceback_pre",)}),
        ("Resolution", {"fields": ("status", "resolved_by", "resolved_at", "resolution_note")}),
    )
    readonly_fields = (
        "subscription",
        "stream_id",
        "stream_type",
        "event_link",
        "event_type",
        "event_version",
        "checkpoint_link",
        "attempts",
        "first_failed_at",
        "last_failed_at",
        "last_error",
        "traceback_pre",
        "status",
        "resolved_by",
        "resolved_at",
        "resolution_note",
    )

    def has_resolve_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("events.change_deadletter")

    @admin.display(description="last error")
    def short_error(self, obj: DeadLetter) -> str:
        return truncatechars(obj.last_error, ERROR_PREVIEW_LENGTH)

    @admin.display(description="failed (first / last)", ordering="last_failed_at")
    def failures(self, obj: DeadLetter) -> SafeString:
        return format_html("{}<br>{}", _compact(obj.first_failed_at), _compact(obj.last_failed_at))

    @admin.display(description="resolved (by / at)", ordering="resolved_at")
    def resolution(self, obj: DeadLetter) -> SafeString | str:
        if obj.resolved_at is None:
            return "-"
        by = obj.resolved_by.get_username() if obj.resolved_by else "-"
        return format_html("{}<br>{}", by, _compact(obj.resolved_at))

    @admin.display(description="event")
    def event_link(self, obj: DeadLetter) -> SafeString:
        url = reverse("admin:events_storedevent_change", args=[obj.event_position])
        return format_html('<a href="{}">#{} {}</a>', url, obj.event_position, obj.event_id)

    @admin.display(description="checkpoint")
    def checkpoint_link(self, obj: DeadLetter) -> SafeString | str:
        checkpoint = Checkpoint.objects.filter(
            subscription=obj.subscription, stream_id=obj.stream_id
        ).first()
        if checkpoint is None:
            return "-"
        url = reverse("admin:events_checkpoint_change", args=[checkpoint.pk])
        blocked = " (blocked)" if checkpoint.blocked else ""
        return format_html('<a href="{}">at version {}{}</a>', url, checkpoint.version, blocked)

    @admin.display(description="traceback")
    def traceback_pre(self, obj: DeadLetter) -> SafeString:
        return format_html('<pre class="dead-letter-traceback">{}</pre>', obj.traceback or "-")

    @admin.action(description="Retry selected dead letters", permissions=["resolve"])
    def retry_selected(self, request: HttpRequest, queryset: QuerySet[DeadLetter]) -> None:
        note = request.POST.get("note", "").strip()
        self._resolve_each(request, queryset, dead_letter_retry, note, "Retried")

    @admin.action(description="Skip selected dead letters…", permissions=["resolve"])
    def skip_selected(
        self, request: HttpRequest, queryset: QuerySet[DeadLetter]
    ) -> TemplateResponse | None:
        if "confirm" in request.POST:
            form = SkipReasonForm(request.POST)
            if form.is_valid():
                reason = form.cleaned_data["reason"]
                self._resolve_each(request, queryset, dead_letter_skip, reason, "Skipped")
                return None
        else:
            form = SkipReasonForm(initial={"reason": request.POST.get("note", "").strip()})
        context = {
            **self.admin_site.each_context(request),
            "title": "Skip dead letters",
            "opts": self.opts,
            "queryset": queryset.order_by("pk"),
            "form": form,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "media": self.media,
        }
        return TemplateResponse(request, "admin/events/deadletter/skip_confirmation.html", context)

    def _resolve_each(
        self,
        request: HttpRequest,
        queryset: QuerySet[DeadLetter],
        command: Callable[..., DeadLetter],
        note: str,
        done_verb: str,
    ) -> None:
        # One command (one transaction) per letter: a letter that cannot be resolved
        # is reported and does not hold back the others.
        done = 0
        for pk in queryset.order_by("pk").values_list("pk", flat=True):
            try:
                command(dead_letter_id=pk, user=request.user, note=note)
            except DeadLetterError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(request, f"{done_verb} {done} dead letter(s).", messages.SUCCESS)
