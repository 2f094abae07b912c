"""One match: read it (cached by version), and its lifecycle actions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar
from uuid import UUID

from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from championships import commands, selectors
from championships.api import schema
from championships.api import serializers as s
from championships.api.caching import cache_get, cache_set, match_key
from championships.api.etags import expected_version, not_modified
from championships.api.idempotency import idempotent
from championships.api.views.base import actor, parse, with_etag
from championships.models import Match


def written_match_body(match: Match) -> dict[str, Any]:
    """The body of a match a command just wrote: the row it returns (teams and goals
    included) is all of one version, so it is serialised as it is, with no query."""
    return s.match_detail_json(match)


def match_body(match_id: UUID, version: int) -> tuple[dict[str, Any], int]:
    """The match as JSON and its version (``version`` or newer); from the cache when
    there."""
    key = match_key(match_id, version)
    body = cache_get(key)
    if body is None:
        match = selectors.match_with_teams(match_id=match_id)
        body = s.match_detail_json(match)
        # Cache only a body that is all of one version (no goal committed meanwhile).
        if match.version == version == selectors.match_version(match_id=match_id):
            cache_set(key, body)
        version = match.version
    return body, version


@extend_schema(tags=["matches"], parameters=[schema.ID])
class MatchDetailView(generics.GenericAPIView[Match]):
    serializer_class = s.MatchDetailSerializer

    @extend_schema(
        summary="Read a match with its goals",
        parameters=[schema.IF_NONE_MATCH, schema.ETAG],
        responses={200: s.MatchDetailSerializer, 304: None, **schema.READ_ERRORS},
    )
    def get(self, request: Request, pk: UUID) -> Response:
        version = selectors.match_version_visible(match_id=pk, user=request.user)
        unchanged = not_modified(request, version)
        if unchanged is not None:
            return unchanged
        body, version = match_body(pk, version)
        return with_etag(body, version)


Command = Callable[..., Match]


class MatchActionView(generics.GenericAPIView[Match]):
    """POST ``/matches/{id}/<action>/``: parse the body, run one command, return the match."""

    command: ClassVar[Command]
    serializer_class: Any

    def arguments(self, data: dict[str, Any]) -> dict[str, Any]:
        return data

    @idempotent
    def post(self, request: Request, pk: UUID) -> Response:
        data = parse(self.serializer_class, request).validated_data
        match = type(self).command(
            actor_id=actor(request),
            match_id=pk,
            expected_version=expected_version(request),
            **self.arguments(dict(data)),
        )
        return with_etag(written_match_body(match), match.version)


def _action(summary: str, request: type[s.serializers.Serializer[Any]] | None) -> Any:
    return extend_schema(
        tags=["matches"],
        summary=summary,
        request=request,
        responses={200: s.MatchDetailSerializer, **schema.WRITE_ERRORS},
        parameters=[schema.ID, schema.IF_MATCH, schema.IDEMPOTENCY_KEY, schema.ETAG],
    )


class _Empty(s.serializers.Serializer[Any]):
    pass


@_action("Kick off (scheduled → live)", None)
class MatchStartView(MatchActionView):
    command = commands.match_start
    serializer_class = _Empty


@_action("Record a goal in a live match", s.GoalSerializer)
class MatchGoalView(MatchActionView):
    command = commands.match_record_goal
    serializer_class = s.GoalSerializer

    def arguments(self, data: dict[str, Any]) -> dict[str, Any]:
        data["team_id"] = data.pop("team")
        return data


@_action("Move the clock of a live match", s.MatchUpdateSerializer)
class MatchClockView(MatchActionView):
    command = commands.match_update
    serializer_class = s.MatchUpdateSerializer


def _penalties(data: dict[str, Any]) -> dict[str, Any]:
    pens = data.pop("penalties", None)
    data["penalties"] = None if pens is None else (pens["home"], pens["away"])
    return data


@_action("Final whistle; a scheduled or postponed match needs both scores", s.CompleteSerializer)
class MatchCompleteView(MatchActionView):
    command = commands.match_complete
    serializer_class = s.CompleteSerializer

    def arguments(self, data: dict[str, Any]) -> dict[str, Any]:
        return _penalties(data)


@_action("Correct a recorded result", s.CorrectSerializer)
class MatchCorrectView(MatchActionView):
    command = commands.match_correct_result
    serializer_class = s.CorrectSerializer

    def arguments(self, data: dict[str, Any]) -> dict[str, Any]:
        return _penalties(data)


@_action("Postpone (or abandon a live match)", s.PostponeSerializer)
class MatchPostponeView(MatchActionView):
    command = commands.match_postpone
    serializer_class = s.PostponeSerializer

    def arguments(self, data: dict[str, Any]) -> dict[str, Any]:
        data["kickoff"] = data.pop("kickoff_at")
        return data


@_action("Cancel a match without a result", s.CancelSerializer)
class MatchCancelView(MatchActionView):
    command = commands.match_cancel
    serializer_class = s.CancelSerializer


@_action("Award the match (forfeit) with a stated score", s.AwardSerializer)
class MatchAwardView(MatchActionView):
    command = commands.match_award
    serializer_class = s.AwardSerializer

    def arguments(self, data: dict[str, Any]) -> dict[str, Any]:
        data["awarded_to_team_id"] = data.pop("awarded_to")
        return data


@_action("Change the kickoff of a match not yet started", s.RescheduleSerializer)
class MatchRescheduleView(MatchActionView):
    command = commands.match_reschedule
    serializer_class = s.RescheduleSerializer

    def arguments(self, data: dict[str, Any]) -> dict[str, Any]:
        return {"kickoff": data["kickoff_at"]}


@_action("Swap home and away of a match not yet started", None)
class MatchSwapView(MatchActionView):
    command = commands.match_swap_venues
    serializer_class = _Empty
