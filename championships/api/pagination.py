from typing import Any

from rest_framework.pagination import LimitOffsetPagination


class Pagination(LimitOffsetPagination):
    """``?limit=&offset=``: 50 by default, at most 200 (a huge limit is clamped)."""

    default_limit = 50
    max_limit = 200

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        """DRF's, with ``next`` and ``previous`` nullable as OpenAPI 3.1 says it (the
        schema is 3.1: its ``nullable: true`` would mean nothing there)."""
        paginated = super().get_paginated_response_schema(schema)
        for link in ("next", "previous"):
            field = paginated["properties"][link]
            field.pop("nullable", None)
            field["type"] = ["string", "null"]
        return paginated
