from __future__ import annotations

import json

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString

from events.models import EventStream, StoredEvent


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
