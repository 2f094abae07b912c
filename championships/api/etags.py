"""ETags are stream versions: strong tags like ``"3"``.

A championship's tag is its championship stream version, a match's its match stream
version, standings' the ``standings-<id>`` stream version. ``If-Match`` on a write
becomes the command's ``expected_version``; ``If-None-Match`` on a read gives 304.
"""

from __future__ import annotations

import re

from rest_framework.request import Request
from rest_framework.response import Response

from championships.api.errors import BadRequest, PreconditionFailed

_STRONG = re.compile(r'"(\d{1,9})"')
_TAG = re.compile(r'(W/)?"[^"]*"')


def etag(version: int) -> str:
    return f'"{version}"'


def expected_version(request: Request) -> int | None:
    """The version named by ``If-Match`` (None without the header, or with ``*``)."""
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return None
    match = _STRONG.fullmatch(header.strip())
    if match is not None:
        return int(match.group(1))
    tags = [t.strip() for t in header.split(",")]
    if all(_TAG.fullmatch(t) for t in tags):
        # RFC 9110: If-Match compares strongly, so a weak tag never matches; a list is
        # not one version a command can check. Either way the precondition fails.
        raise PreconditionFailed(
            detail='If-Match must be the one strong ETag you read, like "3" '
            f"(weak tags never match, and a list is not one version); got {header}"
        )
    raise BadRequest(f'If-Match must be one strong ETag of this API, like "3"; got {header}')


def not_modified(request: Request, version: int) -> Response | None:
    """A 304 if ``If-None-Match`` names ``version`` (weak comparison, as RFC 9110 asks)."""
    header = request.headers.get("If-None-Match")
    if not header:
        return None
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    if "*" in tags or etag(version) in tags:
        return Response(status=304, headers={"ETag": etag(version)})
    return None
