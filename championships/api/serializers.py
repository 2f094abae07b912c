"""Input serializers parse and type-check; output serializers render rows. Business
rules (score ranges, who may play whom, lifecycle) stay in the commands."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

from rest_framework import serializers

from championships import selectors
from championships.aggregates.championship import MAX_AWARD, MAX_DEDUCTION, MAX_POINTS
from championships.aggregates.match import MAX_MINUTE, MAX_SCORE
from championships.models import (
    Championship,
    ChampionshipFormat,
    Deduction,
    Match,
    MatchStatus,
    Team,
    Visibility,
    WithdrawalPolicy,
)
from championships.tiebreakers import CRITERIA, PRESETS

MAX_ROUND = 1000
MAX_DAYS_BETWEEN_ROUNDS = 365


def _score_field(**kwargs: Any) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=0, max_value=MAX_SCORE, **kwargs)


def _points_field(**kwargs: Any) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=0, max_value=MAX_POINTS, **kwargs)


# --- championships ------------------------------------------------------------------


class ChampionshipSerializer(serializers.ModelSerializer[Championship]):
    owner = serializers.IntegerField(source="owner_id", read_only=True)
    organisers = serializers.SerializerMethodField()
    points_for_win = serializers.IntegerField(source="points_win")
    points_for_draw = serializers.IntegerField(source="points_draw")
    points_for_loss = serializers.IntegerField(source="points_loss")
    tiebreak_preset = serializers.CharField(source="tie_break_preset")
    tiebreakers = serializers.ListField(child=serializers.CharField(), source="tie_breakers")
    withdrawal_award_score = serializers.SerializerMethodField()
    groups = serializers.SerializerMethodField()
    version = serializers.IntegerField(help_text="The championship stream version (its ETag).")

    class Meta:
        model = Championship
        fields = [
            "id",
            "name",
            "season",
            "format",
            "owner",
            "organisers",
            "points_for_win",
            "points_for_draw",
            "points_for_loss",
            "tiebreak_preset",
            "tiebreakers",
            "head_to_head_reapply",
            "fixtures_generated",
            "visibility",
            "withdrawal_policy",
            "withdrawal_award_score",
            "groups",
            "version",
            "created_at",
        ]
        read_only_fields = fields

    def get_withdrawal_award_score(self, championship: Championship) -> list[int]:
        """[for, against]: the score of a match awarded because the opponent withdrew."""
        return [championship.withdrawal_award_for, championship.withdrawal_award_against]

    def get_groups(self, championship: Championship) -> list[str]:
        """The teams' groups (normalised: trimmed, one spelling per name ignoring case)."""
        return sorted({team.group for team in championship.teams.all() if team.group})

    def get_organisers(self, championship: Championship) -> list[int]:
        """Co-organisers' user ids (the owner is ``owner``)."""
        return sorted(user.pk for user in championship.organisers.all())


class _RulesSerializer(serializers.Serializer[Any]):
    points_for_win = _points_field(required=False)
    points_for_draw = _points_field(required=False)
    points_for_loss = _points_field(required=False, help_text="Win >= draw >= loss.")
    tiebreak_preset = serializers.ChoiceField(choices=sorted(PRESETS), required=False)
    tiebreakers = serializers.ListField(
        child=serializers.ChoiceField(choices=list(CRITERIA)),
        required=False,
        allow_empty=False,
        min_length=1,
    )
    head_to_head_reapply = serializers.BooleanField(required=False, allow_null=True)
    visibility = serializers.ChoiceField(
        choices=Visibility.choices,
        required=False,
        help_text="draft: visible to its organisers only; published (default): to everyone.",
    )
    withdrawal_policy = serializers.ChoiceField(
        choices=WithdrawalPolicy.choices,
        required=False,
        help_text="What a withdrawal does to the team's matches (default expunge).",
    )
    withdrawal_award_score = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=MAX_AWARD),
        min_length=2,
        max_length=2,
        required=False,
        help_text="[for, against] of a match awarded under award_remaining (default [3, 0]).",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "tiebreak_preset" in attrs and "tiebreakers" in attrs:
            raise serializers.ValidationError("give tiebreak_preset or tiebreakers, not both")
        score = attrs.get("withdrawal_award_score")
        if score is not None and score[0] <= score[1]:
            raise serializers.ValidationError(
                {"withdrawal_award_score": ["the awarded team must win, e.g. [3, 0]"]}
            )
        return attrs

    def check_points_order(self, attrs: dict[str, Any], current: Championship | None) -> None:
        """Win >= draw >= loss, with the current rules filling in what is not given."""
        defaults = (
            (3, 1, 0)
            if current is None
            else (
                current.points_win,
                current.points_draw,
                current.points_loss,
            )
        )
        win = attrs.get("points_for_win", defaults[0])
        draw = attrs.get("points_for_draw", defaults[1])
        loss = attrs.get("points_for_loss", defaults[2])
        if not win >= draw >= loss:
            raise serializers.ValidationError(
                {"points_for_draw": ["points must satisfy win >= draw >= loss"]}
            )

    def command_kwargs(self) -> dict[str, Any]:
        """The validated data under the commands' argument names."""
        data = dict(self.validated_data)
        renames: dict[str, str] = {
            "points_for_win": "points_win",
            "points_for_draw": "points_draw",
            "points_for_loss": "points_loss",
            "tiebreak_preset": "tie_breakers",
            "tiebreakers": "tie_breakers",
            "withdrawal_award_score": "award_score",
        }
        data = {renames.get(name, name): value for name, value in data.items()}
        if "award_score" in data:
            data["award_score"] = tuple(data["award_score"])
        return data


class ChampionshipCreateSerializer(_RulesSerializer):
    name = serializers.CharField(max_length=200)
    season = serializers.CharField(
        max_length=50, required=False, help_text="Defaults to the current year."
    )
    format = serializers.ChoiceField(
        choices=ChampionshipFormat.choices, default=ChampionshipFormat.ROUND_ROBIN
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        self.check_points_order(attrs, None)
        return super().validate(attrs)


class ChampionshipUpdateSerializer(_RulesSerializer):
    name = serializers.CharField(max_length=200, required=False)
    season = serializers.CharField(max_length=50, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # Fixtures and standings are built for the format: refuse rather than ignore it.
        if isinstance(self.initial_data, dict) and "format" in self.initial_data:
            raise serializers.ValidationError(
                {"format": ["the format cannot be changed once the championship exists"]}
            )
        self.check_points_order(attrs, self.context.get("championship"))
        return super().validate(attrs)


class OrganiserAddSerializer(serializers.Serializer[Any]):
    user = serializers.IntegerField(min_value=1, help_text="The user id of the new co-organiser.")


# --- teams --------------------------------------------------------------------------


class TeamSerializer(serializers.ModelSerializer[Team]):
    class Meta:
        model = Team
        fields = ["id", "name", "group", "withdrawn", "points_deducted"]
        read_only_fields = fields


class TeamRegisterSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=100)
    # Blank is allowed, as its own default ("no group"): clients generated from the
    # schema send the default, which a non-blank field refused.
    group = serializers.CharField(
        max_length=20,
        required=False,
        default="",
        allow_blank=True,
        help_text="Only for the groups format; empty: none.",
    )


class TeamUpdateSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=100, required=False)
    group = serializers.CharField(
        max_length=20,
        required=False,
        help_text="Groups format only; before fixtures and matches exist. Trimmed, and "
        'spelled like an existing group of the same name ignoring case ("a " is group A).',
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError("give name or group")
        return attrs


class WithdrawSerializer(serializers.Serializer[Any]):
    reason = serializers.CharField(max_length=500, required=False, default="", allow_blank=True)


class TeamRefSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    name = serializers.CharField()


# --- matches ------------------------------------------------------------------------


class PenaltiesSerializer(serializers.Serializer[Any]):
    home = serializers.IntegerField(min_value=0, max_value=999)
    away = serializers.IntegerField(min_value=0, max_value=999)


def penalties_json(match: Match) -> dict[str, int] | None:
    if match.penalties_home is None or match.penalties_away is None:
        return None
    return {"home": match.penalties_home, "away": match.penalties_away}


def team_ref(team: Team | None) -> dict[str, str] | None:
    return None if team is None else {"id": str(team.id), "name": team.name}


class MatchSerializer(serializers.ModelSerializer[Match]):
    championship = serializers.UUIDField(source="championship_id")
    home_team = TeamRefSerializer(allow_null=True, help_text="null while undecided (knockout).")
    away_team = TeamRefSerializer(allow_null=True, help_text="null while undecided (knockout).")
    kickoff_at = serializers.DateTimeField(source="kickoff", allow_null=True)
    awarded_to = serializers.UUIDField(source="awarded_to_id", allow_null=True)
    version = serializers.IntegerField(help_text="The match stream version (its ETag).")
    stage = serializers.CharField(help_text='"" (league or group), "knockout", "third_place".')
    penalties = serializers.SerializerMethodField()

    def get_penalties(self, match: Match) -> dict[str, int] | None:
        """The shoot-out's score ``{"home", "away"}``, or null."""
        return penalties_json(match)

    class Meta:
        model = Match
        fields = [
            "id",
            "championship",
            "group",
            "round",
            "home_team",
            "away_team",
            "status",
            "kickoff_at",
            "home_score",
            "away_score",
            "minute",
            "awarded_to",
            "version",
            "stage",
            "bracket_round",
            "leg",
            "extra_time",
            "penalties",
        ]
        read_only_fields = fields


class GoalOutSerializer(serializers.Serializer[Any]):
    sequence = serializers.IntegerField()
    team = serializers.UUIDField(source="team_id")
    minute = serializers.IntegerField()
    player = serializers.CharField()
    own_goal = serializers.BooleanField()
    penalty = serializers.BooleanField()


class MatchDetailSerializer(MatchSerializer):
    goals = serializers.SerializerMethodField()

    class Meta(MatchSerializer.Meta):
        fields = [*MatchSerializer.Meta.fields, "goals"]
        read_only_fields = fields

    def get_goals(self, match: Match) -> list[dict[str, Any]]:
        goals = selectors.goals_for_match(match_id=match.id)
        return list(GoalOutSerializer(goals, many=True).data)


_DATETIME = serializers.DateTimeField()


def match_detail_json(match: Match) -> dict[str, Any]:
    """What ``MatchDetailSerializer`` gives, built directly: every goal's response is a
    match, and DRF's field machinery cost more than the rest of the serialisation.
    ``match`` has its teams loaded; its goals are those a command just wrote, else those
    read with it (``rows``, on PostgreSQL), else one query."""
    goals: Iterable[tuple[int, Any, int, str, bool, bool]]
    if match.written_goals is not None:
        goals = [
            (n, g.team_id, g.minute, g.player, g.own_goal, g.penalty)
            for n, g in enumerate(match.written_goals, start=1)
        ]
    elif match.read_goals is not None:
        goals = [(n, *g) for n, g in enumerate(match.read_goals, start=1)]
    else:
        goals = selectors.goals_for_match(match_id=match.id).values_list(
            "sequence", "team_id", "minute", "player", "own_goal", "penalty"
        )
    return {
        "id": str(match.id),
        "championship": str(match.championship_id),
        "group": match.group,
        "round": match.round,
        "home_team": team_ref(match.home_team),
        "away_team": team_ref(match.away_team),
        "status": match.status,
        "kickoff_at": None if match.kickoff is None else _DATETIME.to_representation(match.kickoff),
        "home_score": match.home_score,
        "away_score": match.away_score,
        "minute": match.minute,
        "awarded_to": None if match.awarded_to_id is None else str(match.awarded_to_id),
        "version": match.version,
        "stage": match.stage,
        "bracket_round": match.bracket_round,
        "leg": match.leg,
        "extra_time": match.extra_time,
        "penalties": penalties_json(match),
        "goals": [
            {
                "sequence": sequence,
                "team": str(team_id),
                "minute": minute,
                "player": player,
                "own_goal": own_goal,
                "penalty": penalty,
            }
            for sequence, team_id, minute, player, own_goal, penalty in goals
        ],
    }


_TEAM_ID = serializers.UUIDField()


class _ChampionshipTeamField(serializers.PrimaryKeyRelatedField[Team]):
    """A team of the championship in the serializer's context (else a 400)."""

    default_error_messages = {
        "does_not_exist": "team {pk_value} is not registered in this championship",
        "incorrect_type": "expected a team id (UUID), got {data_type}",
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(pk_field=serializers.UUIDField(), **kwargs)

    def get_queryset(self) -> Any:
        return selectors.teams_for_championship(championship_id=self.context["championship_id"])

    def to_internal_value(self, data: Any) -> Team:
        # The view may have read the body's teams at once (``teams_named_in``).
        teams: dict[UUID, Team] | None = self.context.get("teams")
        if teams is None:
            return super().to_internal_value(data)
        pk = _TEAM_ID.to_internal_value(data)
        team = teams.get(pk)
        if team is None:
            self.fail("does_not_exist", pk_value=pk)
        return team


def teams_named_in(body: Any, championship_id: UUID, fields: Sequence[str]) -> dict[UUID, Team]:
    """The championship's teams whose ids ``body`` gives in ``fields``, in one query: for
    ``_ChampionshipTeamField`` (context ``teams``), instead of a query per field."""
    ids = set()
    for name in fields:
        value = body.get(name) if isinstance(body, dict) else None
        if value is None:
            continue
        try:
            ids.add(_TEAM_ID.to_internal_value(value))
        except serializers.ValidationError:
            continue  # the field reports it
    if not ids:
        return {}
    teams = selectors.teams_for_championship(championship_id=championship_id)
    return {team.id: team for team in teams.filter(id__in=ids)}


class MatchScheduleSerializer(serializers.Serializer[Any]):
    home_team = _ChampionshipTeamField()
    away_team = _ChampionshipTeamField()
    round = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=MAX_ROUND
    )
    kickoff_at = serializers.DateTimeField(required=False, allow_null=True)
    allow_duplicate = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Once fixtures are generated, a match the round robin already has is "
        "refused (409) unless this is true (a play-off, a replay).",
    )


class FixturesGenerateSerializer(serializers.Serializer[Any]):
    double_round_robin = serializers.BooleanField(
        required=False, allow_null=True, default=None, help_text="Defaults to the format."
    )
    first_kickoff_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    days_between_rounds = serializers.IntegerField(
        required=False, default=7, min_value=0, max_value=MAX_DAYS_BETWEEN_ROUNDS
    )
    # Bracket formats (knockout, groups_knockout) only.
    seeding = serializers.ChoiceField(
        choices=["bracket", "standard"],
        required=False,
        default="bracket",
        help_text="bracket: 1 v 2, 3 v 4, ...; standard: 1 v 16, 8 v 9, ... (knockout formats).",
    )
    third_place_match = serializers.BooleanField(required=False, default=False)
    legs = serializers.JSONField(
        required=False,
        help_text="1 (default) or 2 for every round but the final, or a list with one per round.",
    )
    away_goals = serializers.BooleanField(
        required=False, default=False, help_text="Two-legged ties: away goals before penalties."
    )
    qualifiers_per_group = serializers.IntegerField(
        required=False, default=2, min_value=1, max_value=64, help_text="groups_knockout."
    )
    knockout_slots = serializers.ListField(
        child=serializers.CharField(max_length=21),
        required=False,
        allow_null=True,
        default=None,
        max_length=256,
        help_text='groups_knockout: the qualifiers in bracket order, e.g. ["1A", "2B", ...].',
    )
    seeds = serializers.ListField(
        child=serializers.UUIDField(),
        required=False,
        allow_null=True,
        default=None,
        max_length=256,
        help_text="knockout: every team id in seed order (default: registration order).",
    )

    def validate_legs(self, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | list):
            raise serializers.ValidationError("legs must be 1, 2 or a list of them per round")
        if isinstance(value, list) and (
            len(value) > 8 or any(isinstance(v, bool) or not isinstance(v, int) for v in value)
        ):
            raise serializers.ValidationError("legs must be a list of at most 8 numbers 1 or 2")
        return value


class GoalSerializer(serializers.Serializer[Any]):
    team = serializers.UUIDField(help_text="The team the goal counts for (own goal: the other).")
    minute = serializers.IntegerField(min_value=0, max_value=MAX_MINUTE)
    player = serializers.CharField(max_length=100, required=False, default="", allow_blank=True)
    own_goal = serializers.BooleanField(required=False, default=False)
    penalty = serializers.BooleanField(required=False, default=False)


class CompleteSerializer(serializers.Serializer[Any]):
    home_score = _score_field(required=False, allow_null=True, default=None)
    away_score = _score_field(required=False, allow_null=True, default=None)
    extra_time = serializers.BooleanField(
        required=False, default=False, help_text="Knockout: the scores are after extra time."
    )
    penalties = PenaltiesSerializer(
        required=False,
        allow_null=True,
        default=None,
        help_text="Knockout: the shoot-out of a match (or second leg) that ended level.",
    )


class CorrectSerializer(serializers.Serializer[Any]):
    home_score = _score_field()
    away_score = _score_field()
    reason = serializers.CharField(max_length=500)
    extra_time = serializers.BooleanField(required=False, allow_null=True, default=None)
    penalties = PenaltiesSerializer(required=False, allow_null=True, default=None)


class PostponeSerializer(serializers.Serializer[Any]):
    reason = serializers.CharField(max_length=500, required=False, default="", allow_blank=True)
    kickoff_at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class RescheduleSerializer(serializers.Serializer[Any]):
    kickoff_at = serializers.DateTimeField(
        allow_null=True, help_text="The new kickoff (null: to be fixed)."
    )


class CancelSerializer(serializers.Serializer[Any]):
    reason = serializers.CharField(max_length=500, required=False, default="", allow_blank=True)


class AwardSerializer(serializers.Serializer[Any]):
    awarded_to = serializers.UUIDField(help_text="The team the match is awarded to.")
    home_score = _score_field()
    away_score = _score_field()
    reason = serializers.CharField(max_length=500)


class MatchUpdateSerializer(serializers.Serializer[Any]):
    minute = serializers.IntegerField(min_value=0, max_value=MAX_MINUTE)


# --- deductions ---------------------------------------------------------------------


class DeductionCreateSerializer(serializers.Serializer[Any]):
    team = _ChampionshipTeamField()
    points = serializers.IntegerField(min_value=1, max_value=MAX_DEDUCTION)
    reason = serializers.CharField(max_length=500)
    effective_at = serializers.DateTimeField(
        required=False, allow_null=True, default=None, help_text="Defaults to now."
    )


class DeductionAmendSerializer(serializers.Serializer[Any]):
    points = serializers.IntegerField(
        min_value=0, max_value=MAX_DEDUCTION, help_text="The new number; 0 withdraws it."
    )
    reason = serializers.CharField(max_length=500)
    effective_at = serializers.DateTimeField(
        required=False, allow_null=True, default=None, help_text="Defaults to now."
    )


class DeductionStepSerializer(serializers.Serializer[Any]):
    points = serializers.IntegerField()
    reason = serializers.CharField()
    effective_at = serializers.DateTimeField(allow_null=True)
    recorded_at = serializers.DateTimeField()


class DeductionSerializer(serializers.ModelSerializer[Deduction]):
    championship = serializers.UUIDField(source="championship_id")
    team = TeamRefSerializer()
    original = serializers.SerializerMethodField()
    amendments = serializers.SerializerMethodField()

    class Meta:
        model = Deduction
        fields = [
            "id",
            "championship",
            "team",
            "points",
            "reason",
            "effective_at",
            "recorded_at",
            "original",
            "amendments",
        ]
        read_only_fields = fields

    def _steps(self, deduction: Deduction) -> list[Any]:
        return sorted(deduction.changes.all(), key=lambda c: c.sequence)

    def get_original(self, deduction: Deduction) -> dict[str, Any]:
        """The deduction as first recorded (PointsDeducted)."""
        return dict(DeductionStepSerializer(self._steps(deduction)[0]).data)

    def get_amendments(self, deduction: Deduction) -> list[dict[str, Any]]:
        """Each DeductionAmended, oldest first; ``points`` is the current number."""
        return list(DeductionStepSerializer(self._steps(deduction)[1:], many=True).data)


# --- standings and events -----------------------------------------------------------


class _StandingTeamSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField(source="team_id")
    name = serializers.CharField(source="team_name")


class StandingRowSerializer(serializers.Serializer[Any]):
    position = serializers.IntegerField()
    group = serializers.CharField(help_text='The group ("" outside the groups format).')
    team = _StandingTeamSerializer(source="*")
    played = serializers.IntegerField()
    won = serializers.IntegerField()
    drawn = serializers.IntegerField()
    lost = serializers.IntegerField()
    goals_for = serializers.IntegerField()
    goals_against = serializers.IntegerField()
    goal_difference = serializers.IntegerField()
    points_deducted = serializers.IntegerField()
    points = serializers.IntegerField()
    form = serializers.CharField(help_text="Last five results, oldest first, e.g. WWDLW.")
    withdrawn = serializers.BooleanField()
    fair_play = serializers.IntegerField(help_text="FIFA fair-play points (0 or less).")
    tied = serializers.BooleanField(
        help_text="Level with the teams sharing this position when every tie-break "
        "criterion is used up, until the organiser draws lots."
    )


class DeductionNoteSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField(source="deduction_id")
    group = serializers.CharField()
    team = serializers.UUIDField(source="team_id")
    team_name = serializers.CharField()
    points = serializers.IntegerField(help_text="In force now (after any amendment).")
    original_points = serializers.IntegerField()
    amended = serializers.BooleanField()
    reason = serializers.CharField()
    effective_at = serializers.DateTimeField()
    note = serializers.SerializerMethodField()

    def get_note(self, note: Any) -> str:
        """The footnote's text, e.g. "Everton: 6 points deducted (reduced on appeal),
        26 Feb 2024"."""
        return footnote(note.team_name, note.points, note.reason, note.effective_at)


def footnote(team_name: str, points: int, reason: str, effective_at: Any) -> str:
    unit = "point" if points == 1 else "points"
    when = f", {effective_at:%d %b %Y}" if effective_at is not None else ""
    return f"{team_name}: {points} {unit} deducted ({reason}){when}"


class StandingsSerializer(serializers.Serializer[Any]):
    championship = serializers.UUIDField()
    version = serializers.IntegerField(help_text="The standings stream version (its ETag).")
    groups = serializers.ListField(
        child=serializers.CharField(), help_text="Group names in order ([''] without groups)."
    )
    rows = StandingRowSerializer(many=True, help_text="Ordered by group, then position.")
    deductions = DeductionNoteSerializer(
        many=True,
        help_text="The table's footnotes: one per points deduction in force, in the order "
        "they were recorded (a deduction amended to 0 is withdrawn and not listed).",
    )


class EventEnvelopeSerializer(serializers.Serializer[Any]):
    event_id = serializers.UUIDField()
    stream_id = serializers.CharField()
    stream_type = serializers.CharField()
    version = serializers.IntegerField()
    position = serializers.IntegerField(help_text="The event's id in the store (not a cursor).")
    event_type = serializers.CharField()
    schema_version = serializers.IntegerField()
    occurred_at = serializers.DateTimeField()
    payload = serializers.DictField()
    metadata = serializers.DictField()
    feed_position = serializers.IntegerField(
        help_text="Its place in the feed (commit order): the cursor to resume after."
    )
    undecoded = serializers.BooleanField(
        required=False,
        help_text="Present (true) only for a stored event this server cannot decode: "
        "payload is then the raw stored JSON, and error says why.",
    )
    error = serializers.CharField(required=False)


class EventFeedSerializer(serializers.Serializer[Any]):
    events = EventEnvelopeSerializer(many=True)
    next_after = serializers.IntegerField(help_text="Pass as ?after= to read on.")
    has_more = serializers.BooleanField()


class FixturesGeneratedSerializer(serializers.Serializer[Any]):
    matches = MatchSerializer(many=True)


MATCH_STATUSES = MatchStatus.values
