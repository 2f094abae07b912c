"""Sagas in the admin: instances by type and status, each with its step history (linked
to the events) and its commands; "retry step" and "compensate" for stuck ones (staff with
the change permission only); the payment circuit breaker's state above the list."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from championships.admin import organised
from championships.models import Championship
from sagas import engine, registration
from sagas.entries.commands import SAGA_TYPE as ENTRY_SAGA
from sagas.events import saga_stream
from sagas.models import (
    CommandRecord,
    EntryWindow,
    League,
    Payment,
    PlayerProfile,
    SagaInstance,
    SagaStep,
    TeamEntry,
)
from sagas.payments import breaker


def _events_link(query: str, label: str) -> SafeString:
    url = reverse("admin:events_storedevent_changelist") + "?" + urlencode({"q": query})
    return format_html('<a href="{}">{}</a>', url, label)


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class SagaStepInline(ReadOnlyInline):
    model = SagaStep
    fields = ("created_at", "step", "event_link", "commands", "compensation", "status_after")
    readonly_fields = fields

    @admin.display(description="event handled")
    def event_link(self, obj: SagaStep) -> SafeString | str:
        if obj.event_id is None:
            return "-"
        return _events_link(str(obj.event_id), f"{obj.event_type} {obj.event_id}")


class CommandInline(ReadOnlyInline):
    model = CommandRecord
    fields = ("created_at", "name", "step", "compensation", "status", "attempts", "last_error")
    readonly_fields = fields


def visible_sagas(request: HttpRequest) -> QuerySet[SagaInstance]:
    """The sagas the request's user may see and operate: all for a superuser; for an
    organiser, the team entries of the championships they organise (player
    registrations belong to the platform, not to a championship)."""
    sagas = SagaInstance.objects.all()
    if request.user.is_superuser:
        return sagas
    entries = TeamEntry.objects.filter(
        championship__in=Championship.objects.filter(organised(request))
    )
    keys = [str(entry_id) for entry_id in entries.values_list("id", flat=True)]
    return sagas.filter(saga_type=ENTRY_SAGA, correlation_key__in=keys)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SagaInstance)
class SagaInstanceAdmin(ReadOnlyAdmin):
    list_display = (
        "saga_type",
        "correlation_key",
        "status",
        "current_step",
        "deadline",
        "updated_at",
    )
    list_filter = ("saga_type", "status")
    search_fields = ("=correlation_key", "=id", "correlation_id")
    readonly_fields = (
        "id",
        "saga_type",
        "correlation_key",
        "correlation_id",
        "status",
        "current_step",
        "deadline",
        "reason",
        "pretty_state",
        "stream_link",
        "created_at",
        "updated_at",
    )
    exclude = ("state", "version")
    inlines = [SagaStepInline, CommandInline]
    actions = ["retry_step", "compensate"]
    change_list_template = "admin/sagas/sagainstance/change_list.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[SagaInstance]:
        # The list, the change pages and the actions' selection all come from here.
        return visible_sagas(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_staff and super().has_view_permission(request, obj))

    def has_operate_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_staff and request.user.has_perm("sagas.change_sagainstance"))

    @admin.display(description="state")
    def pretty_state(self, obj: SagaInstance) -> SafeString:
        return format_html("<pre>{}</pre>", json.dumps(obj.state, indent=2, sort_keys=True))

    @admin.display(description="saga stream")
    def stream_link(self, obj: SagaInstance) -> SafeString:
        return _events_link(saga_stream(obj.id), f"events of {saga_stream(obj.id)}")

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        extra = {**(extra_context or {}), "breaker": breaker.state()}
        return super().changelist_view(request, extra_context=extra)

    @admin.action(description="Retry the failed step of selected sagas", permissions=["operate"])
    def retry_step(self, request: HttpRequest, queryset: QuerySet[SagaInstance]) -> None:
        self._each(request, queryset, engine.saga_retry_step, "Retried")

    @admin.action(description="Compensate selected sagas", permissions=["operate"])
    def compensate(self, request: HttpRequest, queryset: QuerySet[SagaInstance]) -> None:
        self._each(request, queryset, engine.saga_compensate, "Compensating")

    def _each(
        self, request: HttpRequest, queryset: QuerySet[SagaInstance], action: Any, verb: str
    ) -> None:
        done = 0
        for saga_id in queryset.values_list("id", flat=True):
            try:
                action(saga_id=saga_id, actor=request.user.get_username())
            except engine.SagaActionError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(request, f"{verb} {done} saga(s).", messages.SUCCESS)


@admin.register(CommandRecord)
class CommandRecordAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "name", "status", "attempts", "saga", "step")
    list_filter = ("status", "name")
    search_fields = ("=id", "correlation_id")

    def get_queryset(self, request: HttpRequest) -> QuerySet[CommandRecord]:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(saga__in=visible_sagas(request))


@admin.register(League)
class LeagueAdmin(ReadOnlyAdmin):
    list_display = ("name", "capacity", "is_default", "players_count")

    @admin.display(description="players")
    def players_count(self, obj: League) -> int:
        return obj.players.count()


@admin.register(PlayerProfile)
class PlayerProfileAdmin(ReadOnlyAdmin):
    list_display = ("display_name", "user", "league", "waiting_for", "waiting_since")
    list_filter = ("league", "waiting_for")
    actions = ["leave_league"]

    def has_operate_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_staff and request.user.has_perm("sagas.change_playerprofile"))

    @admin.action(description="Remove from their league (frees a place)", permissions=["operate"])
    def leave_league(self, request: HttpRequest, queryset: QuerySet[PlayerProfile]) -> None:
        for user_id in queryset.values_list("user_id", flat=True):
            registration.player_leave_league(user_id=user_id)
        self.message_user(request, "Done.", messages.SUCCESS)


@admin.register(EntryWindow)
class EntryWindowAdmin(ReadOnlyAdmin):
    list_display = ("championship", "fee", "currency", "payment_deadline_seconds", "capacity")


@admin.register(TeamEntry)
class TeamEntryAdmin(ReadOnlyAdmin):
    list_display = ("team_name", "championship", "status", "manager", "created_at")
    list_filter = ("status",)


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ("provider_payment_id", "entry", "amount", "currency", "status")
    list_filter = ("status",)


# --- users: usernames unique ignoring case (migration 0003's index) ---------------------


class UserChangeFormIgnoringCase(UserChangeForm):
    def clean_username(self) -> str:
        username = str(self.cleaned_data.get("username") or "")
        taken = (
            get_user_model()
            .objects.filter(username__iexact=username)
            .exclude(pk=self.instance.pk)
            .exists()
        )
        if taken:
            # A form error, not the database index's IntegrityError (a 500).
            raise ValidationError("A user with that username already exists.")
        return username


class EasyChampUserAdmin(UserAdmin):
    form = UserChangeFormIgnoringCase


admin.site.unregister(get_user_model())
admin.site.register(get_user_model(), EasyChampUserAdmin)
