"""OpenAPI pieces shared by the views (headers the API reads and sends)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

from championships.api.serializers import MATCH_STATUSES

IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description='Optional. The ETag you read (e.g. "3"): the write happens only if the '
    "resource is still at that version, else 412.",
)
IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="Optional. An ETag you hold: 304 with no body if it is still current.",
)
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="Optional, up to 255 characters. A retry with the same key returns the "
    "first response (with Idempotent-Replayed: true) and writes nothing; the same key "
    "with a different request is 422.",
)
ETAG = OpenApiParameter(
    "ETag",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    response=True,
    description='The stream version, a strong tag like "3".',
)
ROUND = OpenApiParameter("round", OpenApiTypes.INT, description="Only this round.")
STATUS = OpenApiParameter("status", OpenApiTypes.STR, enum=MATCH_STATUSES)
GROUP = OpenApiParameter("group", OpenApiTypes.STR, description="Only this group.")

ERROR = OpenApiResponse(description='{"detail": "..."} or per-field messages {"field": ["..."]}.')
WRITE_ERRORS = {
    400: ERROR,
    401: OpenApiResponse(description="Not authenticated."),
    403: OpenApiResponse(description="Not an organiser of this championship."),
    404: ERROR,
    409: OpenApiResponse(description="Not allowed in the current state, or a lost race."),
    412: OpenApiResponse(description="If-Match names an old version."),
    422: OpenApiResponse(description="Idempotency-Key reused for a different request."),
    429: OpenApiResponse(description="Too many requests: retry after Retry-After seconds."),
    503: OpenApiResponse(description="Briefly unavailable: retry after Retry-After seconds."),
}
READ_ERRORS = {
    404: ERROR,
    429: OpenApiResponse(description="Too many requests: retry after Retry-After seconds."),
    503: OpenApiResponse(description="Briefly unavailable: retry after Retry-After seconds."),
}
ID = OpenApiParameter(
    "id",
    OpenApiTypes.UUID,
    OpenApiParameter.PATH,
    description="The id (a malformed one is a 404, like an unknown one).",
)
