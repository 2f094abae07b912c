"""The API's JSON renderer, and the exports' (whose errors still render as JSON)."""

from __future__ import annotations

from typing import Any

from rest_framework.renderers import BaseRenderer
from rest_framework.renderers import JSONRenderer as DRFJSONRenderer


class JSONRenderer(DRFJSONRenderer):
    """DRF's, UTF-8; but a body holding a lone surrogate (a client's invalid text echoed
    back in a 400, such as ``"\\ud800"`` for a choice) cannot be UTF-8, and failed as an
    HTML 500: that body is rendered with non-ASCII characters escaped instead."""

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Any = None,
    ) -> Any:
        try:
            return super().render(data, accepted_media_type, renderer_context)
        except UnicodeEncodeError:
            return _EscapedJSONRenderer().render(data, accepted_media_type, renderer_context)


class _EscapedJSONRenderer(DRFJSONRenderer):
    ensure_ascii = True


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
