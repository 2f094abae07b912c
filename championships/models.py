"""Write-side rows (one per aggregate, ``version`` = its stream version) and the
standings read model. Rows change only through ``championships.commands`` (write side)
and ``championships.projections`` (read side)."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models.functions import Lower


class ChampionshipFormat(models.TextChoices):
    ROUND_ROBIN = "round_robin", "Round robin"
    DOUBLE_ROUND_ROBIN = "double_round_robin", "Double round robin"
    GROUPS = "groups", "Groups (each a round robin)"
    KNOCKOUT = "knockout", "Knockout (single elimination)"
    GROUPS_KNOCKOUT = "groups_knockout", "Groups, then knockout"


# Formats whose teams register in a group.
GROUP_FORMATS = (ChampionshipFormat.GROUPS, ChampionshipFormat.GROUPS_KNOCKOUT)
# Formats with a bracket (championships.knockout).
BRACKET_FORMATS = (ChampionshipFormat.KNOCKOUT, ChampionshipFormat.GROUPS_KNOCKOUT)


class MatchStage(models.TextChoices):
    LEAGUE = "", "League or group"
    KNOCKOUT = "knockout", "Knockout"
    THIRD_PLACE = "third_place", "Third-place match"


class MatchStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    LIVE = "live", "Live"
    COMPLETED = "completed", "Completed"
    POSTPONED = "postponed", "Postponed"
    CANCELLED = "cancelled", "Cancelled"
    AWARDED = "awarded", "Awarded (forfeit)"


class Visibility(models.TextChoices):
    DRAFT = "draft", "Draft (organisers only)"
    PUBLISHED = "published", "Published"


class WithdrawalPolicy(models.TextChoices):
    EXPUNGE = "expunge", "Expunge: all the team's results are annulled"
    AWARD_REMAINING = (
        "award_remaining",
        "Award remaining: played results stand, remaining matches awarded to the opponents",
    )


class Championship(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    season = models.CharField(max_length=50)
    format = models.CharField(max_length=32, choices=ChampionshipFormat.choices)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_championships"
    )
    organisers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="organised_championships"
    )
    points_win = models.PositiveSmallIntegerField(default=3)
    points_draw = models.PositiveSmallIntegerField(default=1)
    points_loss = models.PositiveSmallIntegerField(default=0)
    tie_breakers = models.JSONField(default=list)
    head_to_head_reapply = models.BooleanField(default=False)
    tie_break_preset = models.CharField(max_length=32, blank=True)
    fixtures_generated = models.BooleanField(default=False)
    visibility = models.CharField(
        max_length=16, choices=Visibility.choices, default=Visibility.PUBLISHED
    )
    withdrawal_policy = models.CharField(
        max_length=32, choices=WithdrawalPolicy.choices, default=WithdrawalPolicy.EXPUNGE
    )
    withdrawal_award_for = models.PositiveSmallIntegerField(default=3)
    withdrawal_award_against = models.PositiveSmallIntegerField(default=0)
    version = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "id"]

    def __str__(self) -> str:
        return f"{self.name} {self.season}"


class Team(models.Model):
    """Part of the championship aggregate (no stream of its own)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    championship = models.ForeignKey(Championship, on_delete=models.CASCADE, related_name="teams")
    name = models.CharField(max_length=100)
    group = models.CharField(max_length=20, blank=True)
    withdrawn = models.BooleanField(default=False)
    points_deducted = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["group", "name"]
        constraints = [
            models.UniqueConstraint(
                "championship", Lower("name"), name="team_name_unique_in_championship"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Deduction(models.Model):
    """Part of the championship aggregate: one PointsDeducted, as amended since."""

    id = models.UUIDField(primary_key=True, editable=False)
    championship = models.ForeignKey(
        Championship, on_delete=models.CASCADE, related_name="deductions"
    )
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="deductions")
    points = models.PositiveIntegerField()
    reason = models.CharField(max_length=500)
    effective_at = models.DateTimeField(null=True, blank=True)
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["recorded_at", "id"]

    def __str__(self) -> str:
        return f"-{self.points} {self.team_id}"


class DeductionChange(models.Model):
    """One step in a deduction's history: the original (``sequence`` 0) and each
    DeductionAmended after it."""

    deduction = models.ForeignKey(Deduction, on_delete=models.CASCADE, related_name="changes")
    sequence = models.PositiveSmallIntegerField()
    points = models.PositiveIntegerField()
    reason = models.CharField(max_length=500)
    effective_at = models.DateTimeField(null=True, blank=True)
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["deduction", "sequence"]
        constraints = [
            models.UniqueConstraint(
                fields=["deduction", "sequence"], name="deduction_change_sequence_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.deduction_id}#{self.sequence}: {self.points}"


class Match(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    championship = models.ForeignKey(Championship, on_delete=models.CASCADE, related_name="matches")
    group = models.CharField(max_length=20, blank=True)
    round = models.PositiveIntegerField(null=True, blank=True)
    # Empty only in a knockout match whose teams are not decided yet.
    home_team = models.ForeignKey(
        Team, on_delete=models.PROTECT, null=True, blank=True, related_name="home_matches"
    )
    away_team = models.ForeignKey(
        Team, on_delete=models.PROTECT, null=True, blank=True, related_name="away_matches"
    )
    status = models.CharField(
        max_length=16, choices=MatchStatus.choices, default=MatchStatus.SCHEDULED
    )
    kickoff = models.DateTimeField(null=True, blank=True)
    home_score = models.PositiveSmallIntegerField(default=0)
    away_score = models.PositiveSmallIntegerField(default=0)
    minute = models.PositiveSmallIntegerField(null=True, blank=True)
    awarded_to = models.ForeignKey(
        Team, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    version = models.PositiveIntegerField(default=0)
    # Knockout (championships.knockout): where the match sits in the bracket, where its
    # winner (and, for a semi-final with a third-place match, its loser) goes next, and
    # how it was decided.
    stage = models.CharField(max_length=16, choices=MatchStage.choices, blank=True, default="")
    bracket_round = models.PositiveSmallIntegerField(null=True, blank=True)
    bracket_position = models.PositiveSmallIntegerField(null=True, blank=True)
    leg = models.PositiveSmallIntegerField(default=0)
    next_match_id = models.UUIDField(null=True, blank=True)
    next_slot = models.CharField(max_length=4, blank=True)
    loser_next_match_id = models.UUIDField(null=True, blank=True)
    loser_next_slot = models.CharField(max_length=4, blank=True)
    home_source = models.CharField(max_length=20, blank=True)
    away_source = models.CharField(max_length=20, blank=True)
    extra_time = models.BooleanField(default=False)
    penalties_home = models.PositiveSmallIntegerField(null=True, blank=True)
    penalties_away = models.PositiveSmallIntegerField(null=True, blank=True)

    # Not a column: set by the match commands to the goals they left (in order), so the
    # API's response to a command is built without reading them back.
    written_goals: tuple[Any, ...] | None = None
    # Not a column either: the goals read with the row (``championships.rows`` on
    # PostgreSQL), as ``rows.match_goals`` gives them.
    read_goals: list[tuple[Any, ...]] | None = None

    class Meta:
        verbose_name_plural = "matches"
        ordering = ["round", "kickoff", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(home_team=models.F("away_team")), name="match_two_teams"
            ),
        ]
        indexes = [models.Index(fields=["championship", "round"], name="match_championship_round")]

    def __str__(self) -> str:
        return f"{self.home_team_id} v {self.away_team_id}"

    @property
    def home(self) -> Team:
        """The home team, once decided (a knockout match may wait for it)."""
        if self.home_team is None:
            raise ValueError(f"the home team of match {self.id} is not decided yet")
        return self.home_team

    @property
    def away(self) -> Team:
        if self.away_team is None:
            raise ValueError(f"the away team of match {self.id} is not decided yet")
        return self.away_team

    @property
    def home_name(self) -> str:
        return self.home_team.name if self.home_team is not None else "To be decided"

    @property
    def away_name(self) -> str:
        return self.away_team.name if self.away_team is not None else "To be decided"

    @property
    def is_knockout(self) -> bool:
        return self.stage != MatchStage.LEAGUE

    @property
    def winner_id(self) -> uuid.UUID | None:
        """The team that goes through (knockout), once the match has a result."""
        if self.status == MatchStatus.AWARDED:
            return self.awarded_to_id
        if self.status != MatchStatus.COMPLETED:
            return None
        if self.home_score != self.away_score:
            return self.home_team_id if self.home_score > self.away_score else self.away_team_id
        if self.penalties_home is None or self.penalties_away is None:
            return None
        if self.penalties_home == self.penalties_away:
            return None
        return self.home_team_id if self.penalties_home > self.penalties_away else self.away_team_id

    @property
    def loser_id(self) -> uuid.UUID | None:
        winner = self.winner_id
        if winner is None:
            return None
        return self.away_team_id if winner == self.home_team_id else self.home_team_id


class KnockoutRules(models.Model):
    """Part of the championship aggregate: how its bracket was drawn (BracketDrawn)."""

    championship = models.OneToOneField(
        Championship, on_delete=models.CASCADE, primary_key=True, related_name="knockout_rules"
    )
    seeding = models.CharField(max_length=16, default="bracket")
    third_place_match = models.BooleanField(default=False)
    qualifiers_per_group = models.PositiveSmallIntegerField(default=0)
    knockout_slots = models.JSONField(default=list)
    legs = models.JSONField(default=list)  # per bracket round, first round first
    away_goals = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"knockout rules of {self.championship_id}"


class Goal(models.Model):
    """Part of the match aggregate: one GoalScored."""

    match = models.ForeignKey(Match, on_delete=models.CASCADE, related_name="goals")
    sequence = models.PositiveSmallIntegerField()
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="+")
    minute = models.PositiveSmallIntegerField()
    player = models.CharField(max_length=100, blank=True)
    own_goal = models.BooleanField(default=False)
    penalty = models.BooleanField(default=False)

    class Meta:
        ordering = ["match", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["match", "sequence"], name="goal_sequence_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.minute}' {self.player}"


# --- standings read model (championships.projections) -------------------------------


class StandingsHead(models.Model):
    """The standings projection's state for one championship: its rules, and the
    version of its ``standings-<id>`` stream. Locked while a handler updates the tables,
    so concurrent deliveries for one championship take turns."""

    championship_id = models.UUIDField(primary_key=True)
    points_win = models.PositiveSmallIntegerField(default=3)
    points_draw = models.PositiveSmallIntegerField(default=1)
    points_loss = models.PositiveSmallIntegerField(default=0)
    tie_breakers = models.JSONField(default=list)
    head_to_head_reapply = models.BooleanField(default=False)
    version = models.PositiveIntegerField(default=0)
    # Drawing of lots (LotsDrawn): group → team ids in the order drawn.
    lots = models.JSONField(default=dict)

    def __str__(self) -> str:
        return f"standings {self.championship_id}@{self.version}"


class Standing(models.Model):
    championship_id = models.UUIDField()
    group = models.CharField(max_length=20, blank=True)
    team_id = models.UUIDField()
    team_name = models.CharField(max_length=100, blank=True)
    position = models.PositiveSmallIntegerField(default=0)
    played = models.PositiveIntegerField(default=0)
    won = models.PositiveIntegerField(default=0)
    drawn = models.PositiveIntegerField(default=0)
    lost = models.PositiveIntegerField(default=0)
    goals_for = models.PositiveIntegerField(default=0)
    goals_against = models.PositiveIntegerField(default=0)
    goal_difference = models.IntegerField(default=0)
    away_goals_for = models.PositiveIntegerField(default=0)
    points_deducted = models.PositiveIntegerField(default=0)
    points = models.IntegerField(default=0)
    form = models.CharField(max_length=5, blank=True)
    withdrawn = models.BooleanField(default=False)
    # Withdrawn under ``expunge``: the team's results are not counted, for anyone.
    expunged = models.BooleanField(default=False)
    # FIFA fair-play points of the group matches (0 or less).
    fair_play = models.IntegerField(default=0)
    # Level with others when every criterion is used up and no lots are drawn: they
    # share the position.
    tied = models.BooleanField(default=False)

    class Meta:
        ordering = ["championship_id", "group", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["championship_id", "team_id"], name="standing_team_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["championship_id", "group", "position"], name="standing_table")
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.team_name} {self.points}"


class AppliedResult(models.Model):
    """The result of one match as the standings currently count it: a correction or an
    award applies the difference to what is recorded here, and a redelivered event (its
    ``version`` not newer) changes nothing. Also the source of head-to-head and form."""

    match_id = models.UUIDField(primary_key=True)
    championship_id = models.UUIDField()
    group = models.CharField(max_length=20, blank=True)
    home_team_id = models.UUIDField()
    away_team_id = models.UUIDField()
    home_score = models.PositiveSmallIntegerField()
    away_score = models.PositiveSmallIntegerField()
    version = models.PositiveIntegerField()
    # When the match was played (from its result events): the form's order is kickoff,
    # then round, then ``sequence``, the global position of the event that first
    # completed the match (for results recorded without a kickoff or a round).
    kickoff = models.DateTimeField(null=True)
    round = models.PositiveIntegerField(null=True)
    sequence = models.BigIntegerField()

    class Meta:
        indexes = [
            models.Index(fields=["home_team_id", "away_team_id"], name="applied_result_pair"),
            models.Index(fields=["home_team_id", "-sequence"], name="applied_result_home"),
            models.Index(fields=["away_team_id", "-sequence"], name="applied_result_away"),
        ]

    def __str__(self) -> str:
        return f"{self.home_team_id} {self.home_score}-{self.away_score} {self.away_team_id}"


class AppliedCard(models.Model):
    """A CardShown the standings count in fair play (keyed by event id: redelivery is a
    no-op); its match's postponement takes it off again."""

    event_id = models.UUIDField(primary_key=True)
    championship_id = models.UUIDField()
    match_id = models.UUIDField(db_index=True)
    team_id = models.UUIDField()
    group = models.CharField(max_length=20, blank=True)
    points = models.IntegerField()

    def __str__(self) -> str:
        return f"{self.points} {self.team_id}"


class AppliedDeduction(models.Model):
    """A PointsDeducted event already counted (keyed by event id: redelivery is a no-op)."""

    event_id = models.UUIDField(primary_key=True)
    championship_id = models.UUIDField()
    team_id = models.UUIDField()
    points = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"-{self.points} {self.team_id}"


class DeductionNote(models.Model):
    """A deduction as the table's footnotes show it (read model, from PointsDeducted
    and DeductionAmended). ``version``: the championship stream version last applied,
    so a redelivered event changes nothing."""

    deduction_id = models.UUIDField(primary_key=True)
    championship_id = models.UUIDField()
    group = models.CharField(max_length=20, blank=True)
    team_id = models.UUIDField()
    points = models.PositiveIntegerField()
    original_points = models.PositiveIntegerField()
    reason = models.CharField(max_length=500)
    effective_at = models.DateTimeField(null=True, blank=True)
    amended = models.BooleanField(default=False)
    # Position of the PointsDeducted event: the footnotes' order.
    sequence = models.BigIntegerField()
    version = models.PositiveIntegerField()

    class Meta:
        indexes = [
            models.Index(fields=["championship_id", "sequence"], name="deduction_note_order")
        ]

    def __str__(self) -> str:
        return f"-{self.points} {self.team_id}: {self.reason}"


# --- REST API (championships.api) ---------------------------------------------------


class IdempotencyRecord(models.Model):
    """The first response to a POST sent with an ``Idempotency-Key``: a retry with the
    same key (same user) gets it back instead of running the command again. Written in
    the command's transaction, so a record exists exactly when the write committed."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    # sha256 of method, path and body: the same key with another request is refused.
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(default=0)
    body = models.JSONField(null=True, encoder=DjangoJSONEncoder)
    headers = models.JSONField(default=dict)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique_per_user"),
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created")]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key} → {self.status_code}"


# --- player statistics read model (championships.projections.players) ----------------


class PlayerStatsHead(models.Model):
    """Locked while a delivery changes one championship's player statistics (and by a
    rebuild), so they take turns."""

    championship_id = models.UUIDField(primary_key=True)

    def __str__(self) -> str:
        return f"player stats {self.championship_id}"


class PlayerMatchStat(models.Model):
    """One player's goals and cards in one match (a postponed match's are void). Top
    scorers and the fair-play table add these up."""

    championship_id = models.UUIDField()
    match_id = models.UUIDField()
    team_id = models.UUIDField()
    player = models.CharField(max_length=100)
    goals = models.PositiveSmallIntegerField(default=0)
    penalty_goals = models.PositiveSmallIntegerField(default=0)
    own_goals = models.PositiveSmallIntegerField(default=0)
    yellow = models.PositiveSmallIntegerField(default=0)
    second_yellow = models.PositiveSmallIntegerField(default=0)
    red = models.PositiveSmallIntegerField(default=0)
    # The match stream version last applied (redelivery of an older event is a no-op).
    version = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["match_id", "team_id", "player"], name="player_match_stat_unique"
            ),
        ]
        indexes = [models.Index(fields=["championship_id"], name="player_stat_championship")]

    def __str__(self) -> str:
        return f"{self.player}: {self.goals} goals"

    @property
    def fair_play(self) -> int:
        """FIFA fair-play points for this match: yellow -1, indirect red -3, direct red
        -4, yellow and direct red -5 (World Cup 2022 regulations art. 13)."""
        if self.red:
            return -5 if self.yellow else -4
        if self.second_yellow:
            return -3
        return -self.yellow


class PlayerStatsApplied(models.Model):
    """The last version of each match stream the player statistics have applied."""

    match_id = models.UUIDField(primary_key=True)
    championship_id = models.UUIDField()
    version = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"{self.match_id}@{self.version}"
