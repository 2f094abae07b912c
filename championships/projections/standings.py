"""The standings projection: one table per (championship, group).

``apply_standings`` handles one recorded event inside the delivery transaction. A
result is applied incrementally: the difference between what ``AppliedResult`` holds
for that match and the new result is added to the two teams' rows, then only that group
is re-ranked (head-to-head reads only the results among the tied teams). Redelivery
is a no-op: results are keyed by match and stream version, deductions by event id.
Each change appends ``StandingsUpdated`` to the ``standings-<championship>`` stream.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol
from uuid import UUID

from django.db import connection, transaction
from django.db.models import F, Q

from championships import events as ev
from championships import knockout_events as kev
from championships.models import (
    AppliedCard,
    AppliedDeduction,
    AppliedResult,
    DeductionNote,
    Standing,
    StandingsHead,
)
from championships.tiebreakers import (
    DEFAULT_PRESET,
    PRESETS,
    Result,
    TeamRecord,
    rank_with_ties,
)
from easychamp import prepared
from events import store
from events.registry import Event

HANDLED_EVENTS: tuple[type[Event], ...] = (
    ev.ChampionshipCreated,
    ev.ChampionshipUpdated,
    ev.TeamRegistered,
    ev.TeamUpdated,
    ev.TeamRemoved,
    ev.TeamWithdrawn,
    ev.PointsDeducted,
    ev.DeductionAmended,
    ev.MatchCompleted,
    ev.MatchResultCorrected,
    ev.MatchAwarded,
    # Fair play (cards in group matches; a postponed match's are void) and lots.
    kev.CardShown,
    ev.MatchPostponed,
    kev.LotsDrawn,
)
HANDLED_TYPES = tuple(cls.event_type for cls in HANDLED_EVENTS)
# The subscription that keeps the tables (registered in championships.handlers).
SUBSCRIPTION = "championships.standings"
FORM_LENGTH = 5

_STAT_FIELDS = [
    "team_name",
    "played",
    "won",
    "drawn",
    "lost",
    "goals_for",
    "goals_against",
    "goal_difference",
    "away_goals_for",
    "points_deducted",
    "points",
    "form",
    "withdrawn",
    "expunged",
    "group",
    "fair_play",
    "tied",
]


def apply_standings(recorded: store.RecordedEvent, *, publish: bool = True) -> None:
    """Bring the standings up to date with one event (idempotent)."""
    event = recorded.data
    championship_id: UUID = getattr(event, "championship_id")  # noqa: B009
    # Joins the delivery transaction without a savepoint (two round trips saved): a
    # failing handler rolls back the whole delivery batch anyway.
    with transaction.atomic(savepoint=False):
        head = _lock_head(championship_id)
        tables = _Tables(head)
        changed = tables.apply(recorded)
        for group in sorted(changed):
            tables.rerank(group)
        tables.save()
        if publish and changed:
            _publish(head, tables, sorted(changed))


def new_head(championship_id: UUID) -> StandingsHead:
    """Default rules until the championship's ChampionshipCreated is handled."""
    preset = PRESETS[DEFAULT_PRESET]
    return StandingsHead(
        championship_id=championship_id,
        tie_breakers=list(preset.criteria),
        head_to_head_reapply=preset.head_to_head_reapply,
    )


def _lock_head(championship_id: UUID) -> StandingsHead:
    # Deliveries for different streams of one championship (two matches finishing at
    # once) take turns here, so their read-modify-write of a group never interleaves.
    default = new_head(championship_id)
    head, _ = StandingsHead.objects.select_for_update().get_or_create(
        championship_id=championship_id,
        defaults={
            "tie_breakers": default.tie_breakers,
            "head_to_head_reapply": default.head_to_head_reapply,
        },
    )
    return head


def _publish(head: StandingsHead, tables: _Tables, groups: list[str]) -> None:
    updates = []
    for group in groups:
        rows = sorted(tables.group_rows(group), key=lambda r: r.position)
        updates.append(
            ev.StandingsUpdated(
                championship_id=head.championship_id,
                group=group,
                team_ids=tuple(r.team_id for r in rows),
                points=tuple(r.points for r in rows),
            )
        )
    stream_id = ev.standings_stream_id(head.championship_id)
    store.append(stream_id, updates, head.version, stream_type=ev.STANDINGS_STREAM)
    head.version += len(updates)
    head.save(update_fields=["version"])


class _Tables:
    """The rows of one championship touched by one event, loaded lazily per group."""

    def __init__(self, head: StandingsHead) -> None:
        self.head = head
        self.championship_id = head.championship_id
        self._groups: dict[str, dict[UUID, Standing]] = {}
        # Rows whose figures changed (saved whole) and rows that only changed position.
        self._dirty: set[UUID] = set()
        self._moved: set[UUID] = set()
        self._new: list[Standing] = []
        self._removed: list[Standing] = []

    # --- rows -----------------------------------------------------------------------

    def group_rows(self, group: str) -> list[Standing]:
        if group not in self._groups:
            self._groups[group] = {
                r.team_id: r
                for r in Standing.objects.filter(championship_id=self.championship_id, group=group)
            }
        return list(self._groups[group].values())

    def row(self, group: str, team_id: UUID) -> Standing:
        self.group_rows(group)
        found = self._groups[group].get(team_id)
        if found is None:
            # A result can be delivered before its TeamRegistered (another stream).
            found = Standing(championship_id=self.championship_id, group=group, team_id=team_id)
            self._groups[group][team_id] = found
            self._new.append(found)
        self._dirty.add(team_id)
        return found

    def all_groups(self) -> list[str]:
        groups = Standing.objects.filter(championship_id=self.championship_id)
        return sorted(set(groups.values_list("group", flat=True)))

    def remove(self, group: str, team_id: UUID) -> bool:
        self.group_rows(group)
        found = self._groups[group].pop(team_id, None)
        if found is None:
            return False
        self._dirty.discard(team_id)
        if found in self._new:
            self._new.remove(found)
        elif found.pk is not None:
            self._removed.append(found)
        return True

    def move(self, row: Standing, group: str) -> None:
        """Put ``row`` in another group (a team moved before it played)."""
        self.group_rows(row.group)
        self._groups[row.group].pop(row.team_id, None)
        self.group_rows(group)
        row.group = group
        self._groups[group][row.team_id] = row
        self._dirty.add(row.team_id)

    def save(self) -> None:
        if self._removed:
            Standing.objects.filter(pk__in=[r.pk for r in self._removed]).delete()
        new_ids = {r.team_id for r in self._new}
        Standing.objects.bulk_create(self._new)
        rows = [r for group in self._groups.values() for r in group.values()]
        moved: list[Standing] = []
        for row in rows:
            if row.team_id in new_ids:
                continue
            if row.team_id in self._dirty:
                row.save(update_fields=[*_STAT_FIELDS, "position"])
            elif row.team_id in self._moved:
                moved.append(row)
        _save_positions(moved)

    # --- events ---------------------------------------------------------------------

    def apply(self, recorded: store.RecordedEvent) -> set[str]:
        """The groups whose table changed."""
        event = recorded.data
        if isinstance(event, ev.ChampionshipCreated | ev.ChampionshipUpdated):
            return self._rules(event)
        if isinstance(event, ev.TeamRegistered):
            row = self.row(event.group, event.team_id)
            if row.team_name == event.name and row.pk is not None:
                return set()
            row.team_name = event.name
            return {event.group}
        if isinstance(event, ev.TeamUpdated):
            return self._team_updated(event)
        if isinstance(event, ev.TeamRemoved):
            return {event.group} if self.remove(event.group, event.team_id) else set()
        if isinstance(event, ev.TeamWithdrawn):
            row = self.row(event.group, event.team_id)
            if row.withdrawn:
                return set()
            row.withdrawn = True
            if event.policy == ev.EXPUNGE:
                row.expunged = True
                self._expunge(row)
            return {event.group}
        if isinstance(event, ev.PointsDeducted):
            _, created = AppliedDeduction.objects.get_or_create(
                event_id=recorded.event_id,
                defaults={
                    "championship_id": self.championship_id,
                    "team_id": event.team_id,
                    "points": event.points,
                },
            )
            if not created:
                return set()
            DeductionNote.objects.create(**deduction_note(recorded, event))
            row = self.row(event.group, event.team_id)
            row.points_deducted += event.points
            self._score(row)
            return {event.group}
        if isinstance(event, ev.DeductionAmended):
            note = DeductionNote.objects.filter(deduction_id=event.deduction_id).first()
            if note is None or note.version >= recorded.version:
                return set()
            amend_note(note, recorded, event)
            note.save()
            row = self.row(event.group, event.team_id)
            row.points_deducted += event.points - event.previous_points
            self._score(row)
            return {event.group}
        if isinstance(event, ev.MatchCompleted | ev.MatchResultCorrected | ev.MatchAwarded):
            # Knockout results decide ties, not tables.
            return set() if event.stage else self._result(recorded, event)
        if isinstance(event, kev.CardShown):
            return self._card(recorded, event)
        if isinstance(event, ev.MatchPostponed):
            return self._void_cards(event.match_id)
        if isinstance(event, kev.LotsDrawn):
            self.head.lots = {**self.head.lots, event.group: [str(t) for t in event.team_ids]}
            self.head.save(update_fields=["lots"])
            return {event.group}
        return set()

    def _card(self, recorded: store.RecordedEvent, event: kev.CardShown) -> set[str]:
        if event.stage:
            return set()  # fair play counts the group matches
        points = kev.FAIR_PLAY_POINTS[event.card]
        _, created = AppliedCard.objects.get_or_create(
            event_id=recorded.event_id,
            defaults={
                "championship_id": self.championship_id,
                "match_id": event.match_id,
                "team_id": event.team_id,
                "group": event.group,
                "points": points,
            },
        )
        if not created:
            return set()
        self.row(event.group, event.team_id).fair_play += points
        return {event.group}

    def _void_cards(self, match_id: UUID) -> set[str]:
        cards = list(AppliedCard.objects.filter(match_id=match_id))
        for card in cards:
            self.row(card.group, card.team_id).fair_play -= card.points
        AppliedCard.objects.filter(match_id=match_id).delete()
        return {card.group for card in cards}

    def _rules(self, event: ev.ChampionshipCreated | ev.ChampionshipUpdated) -> set[str]:
        head = self.head
        rules = (
            event.points_win,
            event.points_draw,
            event.points_loss,
            list(event.tie_breakers),
            event.head_to_head_reapply,
        )
        current = (
            head.points_win,
            head.points_draw,
            head.points_loss,
            head.tie_breakers,
            head.head_to_head_reapply,
        )
        if rules == current:
            return set()
        (
            head.points_win,
            head.points_draw,
            head.points_loss,
            head.tie_breakers,
            head.head_to_head_reapply,
        ) = rules
        head.save(
            update_fields=[
                "points_win",
                "points_draw",
                "points_loss",
                "tie_breakers",
                "head_to_head_reapply",
            ]
        )
        groups = self.all_groups()
        for group in groups:
            for row in self.group_rows(group):
                self._score(self.row(group, row.team_id))
        return set(groups)

    def _team_updated(self, event: ev.TeamUpdated) -> set[str]:
        row = self.row(event.previous_group, event.team_id)
        if (row.team_name, row.group) == (event.name, event.group):
            return set()
        row.team_name = event.name
        if row.group != event.group:
            self.move(row, event.group)
            return {event.previous_group, event.group}
        return {event.group}

    def _expunge(self, row: Standing) -> None:
        """Annul every result of ``row``'s team (``expunge``): out of both teams' rows,
        out of head-to-head and form."""
        results = AppliedResult.objects.filter(
            Q(home_team_id=row.team_id) | Q(away_team_id=row.team_id),
            championship_id=self.championship_id,
        )
        touched: dict[UUID, Standing] = {}
        for applied in results:
            home = self.row(applied.group, applied.home_team_id)
            away = self.row(applied.group, applied.away_team_id)
            _count(home, away, applied.home_score, applied.away_score, -1)
            touched |= {home.team_id: home, away.team_id: away}
        results.delete()
        forms = _forms(list(touched))
        for other in touched.values():
            other.form = forms[other.team_id]
            self._score(other)
        row.form = ""
        self._score(row)

    def _result(
        self,
        recorded: store.RecordedEvent,
        event: ev.MatchCompleted | ev.MatchResultCorrected | ev.MatchAwarded,
    ) -> set[str]:
        applied = AppliedResult.objects.filter(match_id=event.match_id).first()
        if applied is not None and applied.version >= recorded.version:
            return set()
        home = self.row(event.group, event.home_team_id)
        away = self.row(event.group, event.away_team_id)
        if home.expunged or away.expunged:
            # A result of an expunged team, delivered after its withdrawal: annulled.
            return set()
        if applied is not None:
            _count(home, away, applied.home_score, applied.away_score, -1)
            applied.home_score, applied.away_score = event.home_score, event.away_score
            applied.version = recorded.version
            applied.kickoff = event.kickoff or applied.kickoff
            applied.round = event.round if event.round is not None else applied.round
            applied.save(update_fields=["home_score", "away_score", "version", "kickoff", "round"])
        else:
            AppliedResult.objects.create(
                match_id=event.match_id,
                championship_id=self.championship_id,
                group=event.group,
                home_team_id=event.home_team_id,
                away_team_id=event.away_team_id,
                home_score=event.home_score,
                away_score=event.away_score,
                version=recorded.version,
                kickoff=event.kickoff,
                round=event.round,
                sequence=recorded.position,
            )
        _count(home, away, event.home_score, event.away_score, +1)
        forms = _forms([home.team_id, away.team_id])
        for row in (home, away):
            row.form = forms[row.team_id]
            self._score(row)
        return {event.group}

    # --- ranking --------------------------------------------------------------------

    def _score(self, row: Standing) -> None:
        score(row, self.head)

    def rerank(self, group: str) -> None:
        rows = self.group_rows(group)
        among = _results_among(self.championship_id, group)
        tied_before = {r.team_id: r.tied for r in rows}
        for row in reposition(rows, self.head, among, group):
            self._moved.add(row.team_id)
        for row in rows:
            if row.tied != tied_before[row.team_id]:
                self._dirty.add(row.team_id)


def score(row: Standing, head: StandingsHead) -> None:
    """Goal difference and points (after deductions) from the row's counts."""
    row.goal_difference = row.goals_for - row.goals_against
    row.points = (
        row.won * head.points_win
        + row.drawn * head.points_draw
        + row.lost * head.points_loss
        - row.points_deducted
    )


def reposition(
    rows: list[Standing],
    head: StandingsHead,
    results_among: Callable[[frozenset[UUID]], Iterable[Result]],
    group: str = "",
) -> list[Standing]:
    """Rank one group's rows by the head's rules (and the lots drawn in the group); the
    rows whose position changed. Teams still level when the criteria and lots run out
    share the best of their positions and are marked ``tied``."""
    by_team = {r.team_id: r for r in rows}
    lots = [UUID(t) for t in head.lots.get(group, [])]
    ranked, tied = rank_with_ties(
        [_record(r) for r in rows],
        criteria=head.tie_breakers,
        head_to_head_reapply=head.head_to_head_reapply,
        points_for=(head.points_win, head.points_draw, head.points_loss),
        results_among=results_among,
        lots=lots,
    )
    # Before a ball is kicked nobody is level on anything yet: plain order.
    shared = {
        team_id: block
        for block in tied
        if all(by_team[t].played for t in block)
        for team_id in block
    }
    first_of: dict[frozenset[UUID], int] = {}
    moved = []
    for place, record in enumerate(ranked, start=1):
        row = by_team[record.team_id]
        block = shared.get(record.team_id)
        position = first_of.setdefault(block, place) if block is not None else place
        is_tied = block is not None
        if row.position != position or row.tied != is_tied:
            row.position, row.tied = position, is_tied
            moved.append(row)
    return moved


def _save_positions(rows: list[Standing]) -> None:
    """One UPDATE for every row that only moved (bulk_update's per-field CASE costs more)."""
    if not rows:
        return
    table = connection.ops.quote_name(Standing._meta.db_table)
    cases = " ".join(["WHEN %s THEN %s"] * len(rows))
    params: list[int | bool] = [value for row in rows for value in (row.pk, row.position)]
    params += [value for row in rows for value in (row.pk, row.tied)]
    params += [row.pk for row in rows]
    placeholders = ", ".join(["%s"] * len(rows))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET position = CASE id {cases} END, "
            f"tied = CASE id {cases} END WHERE id IN ({placeholders})",
            params,
        )


def deduction_note(recorded: store.RecordedEvent, event: ev.PointsDeducted) -> dict[str, object]:
    """The footnote of a new deduction (fields of ``DeductionNote``)."""
    return {
        "deduction_id": event.deduction_id,
        "championship_id": event.championship_id,
        "group": event.group,
        "team_id": event.team_id,
        "points": event.points,
        "original_points": event.points,
        "reason": event.reason,
        "effective_at": event.effective_at or recorded.occurred_at,
        "amended": False,
        "sequence": recorded.position,
        "version": recorded.version,
    }


def amend_note(
    note: DeductionNote, recorded: store.RecordedEvent, event: ev.DeductionAmended
) -> None:
    note.points, note.reason = event.points, event.reason
    note.effective_at = event.effective_at or recorded.occurred_at
    note.amended, note.version = True, recorded.version


def _count(home: Standing, away: Standing, home_score: int, away_score: int, sign: int) -> None:
    """Add (sign=+1) or remove (sign=-1) one result from both teams' rows."""
    for row, scored, conceded, is_away in (
        (home, home_score, away_score, False),
        (away, away_score, home_score, True),
    ):
        row.played += sign
        row.goals_for += sign * scored
        row.goals_against += sign * conceded
        if is_away:
            row.away_goals_for += sign * scored
        if scored > conceded:
            row.won += sign
        elif scored < conceded:
            row.lost += sign
        else:
            row.drawn += sign


# The order matches were played, latest first: kickoff, then round, then the order the
# results were entered (a match without a kickoff or round counts as earlier).
LATEST_FIRST = (
    F("kickoff").desc(nulls_last=True),
    F("round").desc(nulls_last=True),
    F("sequence").desc(),
)


class _Ordered(Protocol):
    @property
    def kickoff(self) -> datetime | None: ...
    @property
    def round(self) -> int | None: ...
    @property
    def sequence(self) -> int: ...


def played_order(result: _Ordered) -> tuple[bool, datetime, bool, int, int]:
    """Sort key, oldest first, agreeing with ``LATEST_FIRST`` reversed."""
    return (
        result.kickoff is not None,
        result.kickoff or datetime.min.replace(tzinfo=UTC),
        result.round is not None,
        result.round or 0,
        result.sequence,
    )


def _forms(team_ids: list[UUID]) -> dict[UUID, str]:
    """Each team's form, from its last results (on PostgreSQL one prepared statement for
    all the teams: the two of every result delivered)."""
    if connection.vendor != "postgresql":
        return {
            team_id: form(
                team_id,
                AppliedResult.objects.filter(
                    Q(home_team_id=team_id) | Q(away_team_id=team_id)
                ).order_by(*LATEST_FIRST)[:FORM_LENGTH],
            )
            for team_id in team_ids
        }
    if not team_ids:
        return {}
    sql = " UNION ALL ".join([_FORM_SQL] * len(team_ids))
    params = [value for team_id in team_ids for value in (team_id, team_id, team_id)]
    rows: dict[UUID, list[_Played]] = {team_id: [] for team_id in team_ids}
    for team_id, *played in prepared.fetch(sql, params):
        rows[team_id].append(_Played(*played))
    forms = {}
    for team_id, played in rows.items():
        latest_first: list[_Played] = sorted(played, key=played_order, reverse=True)
        forms[team_id] = form(team_id, latest_first)
    return forms


class _Played(NamedTuple):
    home_team_id: UUID
    away_team_id: UUID
    home_score: int
    away_score: int
    kickoff: datetime | None
    round: int | None
    sequence: int


# PostgreSQL only (the other databases take the ORM's queries).
_RESULTS = AppliedResult._meta.db_table
# One team's last results, latest first (LATEST_FIRST); the columns of _Played.
_FORM_SQL = (
    f"(SELECT %s::uuid, home_team_id, away_team_id, home_score, away_score, kickoff, "
    f'"round", "sequence" FROM {_RESULTS} WHERE home_team_id = %s OR away_team_id = %s '
    f'ORDER BY kickoff DESC NULLS LAST, "round" DESC NULLS LAST, "sequence" DESC '
    f"LIMIT {FORM_LENGTH})"
)
_AMONG_SQL = (
    f"SELECT home_team_id, away_team_id, home_score, away_score FROM {_RESULTS} "
    f'WHERE championship_id = %s AND "group" = %s '
    f"AND home_team_id = ANY(%s) AND away_team_id = ANY(%s)"
)


class _Scores(Protocol):
    @property
    def home_team_id(self) -> UUID: ...
    @property
    def home_score(self) -> int: ...
    @property
    def away_score(self) -> int: ...


def form(team_id: UUID, latest_first: Iterable[_Scores]) -> str:
    """The team's last five results (given latest first) as letters, oldest first."""
    letters = []
    for r in list(latest_first)[:FORM_LENGTH]:
        scored, conceded = (
            (r.home_score, r.away_score)
            if r.home_team_id == team_id
            else (r.away_score, r.home_score)
        )
        letters.append("W" if scored > conceded else "L" if scored < conceded else "D")
    # Oldest first, latest on the right: "WWDLW" reads in playing order.
    return "".join(reversed(letters))


def _record(row: Standing) -> TeamRecord:
    return TeamRecord(
        team_id=row.team_id,
        name=row.team_name,
        points=row.points,
        won=row.won,
        goals_for=row.goals_for,
        goals_against=row.goals_against,
        away_goals_for=row.away_goals_for,
        withdrawn=row.withdrawn,
        fair_play=row.fair_play,
    )


def _results_among(
    championship_id: UUID, group: str
) -> Callable[[frozenset[UUID]], Iterable[Result]]:
    """Results among a set of tied teams: one indexed query per tie, and none for a
    subset of a tie already fetched (UEFA re-application)."""
    fetched: list[tuple[frozenset[UUID], list[Result]]] = []

    def among(team_ids: frozenset[UUID]) -> list[Result]:
        for known, results in fetched:
            if team_ids <= known:
                return [
                    r for r in results if r.home_team_id in team_ids and r.away_team_id in team_ids
                ]
        ids = list(team_ids)
        rows: Iterable[tuple[Any, ...]]
        if connection.vendor == "postgresql":
            rows = prepared.fetch(_AMONG_SQL, [championship_id, group, ids, ids])
        else:
            rows = AppliedResult.objects.filter(
                home_team_id__in=ids,
                away_team_id__in=ids,
                championship_id=championship_id,
                group=group,
            ).values_list("home_team_id", "away_team_id", "home_score", "away_score")
        results = [Result(*row) for row in rows]
        fetched.append((team_ids, results))
        return results

    return among
