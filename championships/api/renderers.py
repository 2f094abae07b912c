"""Renderers for the exports; errors still render as JSON."""

from __future__ import annotations

from typing import Any

from rest_framework.renderers import BaseRenderer, JSONRenderer


class _TextRenderer(BaseRenderer):
    charset = "utf-8"

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Any = None,
    ) -> Any:
        if isinstance(data, bytes | str):
            return data
        return JSONRenderer().render(data)


class ICalendarRenderer(_TextRenderer):
    media_type = "text/calendar"
    format = "ics"


class CSVRenderer(_TextRenderer):
    media_type = "text/csv"
    format = "csv"
