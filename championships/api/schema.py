"""OpenAPI pieces shared by the views (headers the API reads and sends)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from championships.api.serializers import MATCH_STATUSES


class ErrorSerializer(serializers.Serializer[Any]):
    detail = serializers.CharField(help_text="What went wrong, for a person.")


class FieldErrorsSerializer(serializers.Serializer[Any]):
    """A 400: ``{"detail": ...}`` for the request as a whole, or one list of messages per
    invalid field (``non_field_errors`` for a combination of fields)."""

    detail = serializers.CharField(required=False)
    non_field_errors = serializers.ListField(child=serializers.CharField(), required=False)


class ConflictSerializer(serializers.Serializer[Any]):
    detail = serializers.CharField()
    current_version = serializers.IntegerField(
        required=False,
        help_text="The resource's version now (also its ETag): present when a concurrent "
        "write or a stale If-Match is the cause.",
    )


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

ERROR = OpenApiResponse(ErrorSerializer, description='{"detail": "..."}.')
BAD_REQUEST = OpenApiResponse(
    FieldErrorsSerializer,
    description='Invalid input: {"detail": "..."} or per-field messages {"field": ["..."]}; '
    "nothing is written.",
    examples=[
        OpenApiExample(
            "a field out of range",
            value={"minute": ["Ensure this value is less than or equal to 150."]},
        ),
        OpenApiExample("a rule", value={"detail": "a correction needs a reason"}),
    ],
)


def _retry(description: str) -> OpenApiResponse:
    return OpenApiResponse(
        ErrorSerializer,
        description=f"{description}: retry after the Retry-After header's seconds.",
    )


# Any endpoint may answer these.
_ANSWER_ERRORS = {
    406: OpenApiResponse(ErrorSerializer, description="Accept names no JSON type."),
    429: _retry("Too many requests"),
    503: _retry("Briefly unavailable"),
}
WRITE_ERRORS = {
    400: BAD_REQUEST,
    401: OpenApiResponse(ErrorSerializer, description="Not authenticated."),
    403: OpenApiResponse(ErrorSerializer, description="Not an organiser of this championship."),
    404: ERROR,
    409: OpenApiResponse(
        ConflictSerializer,
        description="Not allowed in the current state (no current_version), or a concurrent "
        "writer kept winning after the retries (with current_version and the ETag).",
        examples=[
            OpenApiExample("state", value={"detail": "cannot start a match that is completed"}),
            OpenApiExample(
                "race",
                value={
                    "detail": "another change to this resource won the race: try again",
                    "current_version": 7,
                },
            ),
        ],
    ),
    412: OpenApiResponse(
        ConflictSerializer,
        description="If-Match names an old version: reload (current_version, ETag) and retry.",
        examples=[
            OpenApiExample(
                "stale",
                value={
                    "detail": "the resource is at version 4, not 3: reload it and try again",
                    "current_version": 4,
                },
            )
        ],
    ),
    413: OpenApiResponse(ErrorSerializer, description="The body is over 2.5 MB."),
    415: OpenApiResponse(ErrorSerializer, description="The body is not application/json."),
    422: OpenApiResponse(
        ErrorSerializer, description="Idempotency-Key reused for a different request."
    ),
    **_ANSWER_ERRORS,
}
READ_ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="A query parameter is invalid."),
    401: OpenApiResponse(ErrorSerializer, description="The token sent is invalid or expired."),
    404: ERROR,
    **_ANSWER_ERRORS,
}
# A list that belongs to nothing (no 404).
LIST_ERRORS = {code: answer for code, answer in READ_ERRORS.items() if code != 404}
ID = OpenApiParameter(
    "id",
    OpenApiTypes.UUID,
    OpenApiParameter.PATH,
    description="The id (a malformed one is a 404, like an unknown one).",
)

# For the text exports: their errors are JSON whatever the success's media type.
JSON_READ_ERRORS = {(code, "application/json"): answer for code, answer in READ_ERRORS.items()}
