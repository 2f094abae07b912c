"""Rebuilding the standings projection from the event store.

The replay (of what live delivery has handled, up to its checkpoints) runs in
memory with the live projection's own pieces (``_count``, ``score``,
``form``, ``reposition``): results are counted in global order, each group is ranked
once at the end, and the rows are written in bulk. Tests compare the result with the
live projection, field by field.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from uuid import UUID

from django.db import connection, transaction

from championships import events as ev
from championships import knockout_events as kev
from championships.models import (
    AppliedCard,
    AppliedDeduction,
    AppliedResult,
    DeductionNote,
    Match,
    Standing,
    StandingsHead,
)
from championships.projections.standings import (
    HANDLED_TYPES,
    SUBSCRIPTION,
    _count,
    _lock_head,
    amend_note,
    deduction_note,
    form,
    new_head,
    played_order,
    reposition,
    score,
)
from championships.tiebreakers import Result
from events import store
from events.replay import Delivered

BATCH = 1000


class _Replay:
    def __init__(self) -> None:
        self.heads: dict[UUID, StandingsHead] = {}
        self.rows: dict[UUID, dict[UUID, Standing]] = defaultdict(dict)
        self.results: dict[UUID, AppliedResult] = {}
        self.deductions: list[AppliedDeduction] = []
        self.notes: dict[UUID, DeductionNote] = {}
        self.cards: dict[UUID, AppliedCard] = {}

    def head(self, championship_id: UUID) -> StandingsHead:
        if championship_id not in self.heads:
            self.heads[championship_id] = new_head(championship_id)
        return self.heads[championship_id]

    def row(self, championship_id: UUID, group: str, team_id: UUID) -> Standing:
        rows = self.rows[championship_id]
        if team_id not in rows:
            rows[team_id] = Standing(championship_id=championship_id, group=group, team_id=team_id)
        return rows[team_id]

    def apply(self, recorded: store.RecordedEvent) -> None:
        event = recorded.data
        if isinstance(event, ev.ChampionshipCreated | ev.ChampionshipUpdated):
            head = self.head(event.championship_id)
            head.points_win, head.points_draw = event.points_win, event.points_draw
            head.points_loss = event.points_loss
            head.tie_breakers = list(event.tie_breakers)
            head.head_to_head_reapply = event.head_to_head_reapply
        elif isinstance(event, ev.TeamRegistered):
            self.row(event.championship_id, event.group, event.team_id).team_name = event.name
        elif isinstance(event, ev.TeamUpdated):
            row = self.row(event.championship_id, event.previous_group, event.team_id)
            row.team_name, row.group = event.name, event.group
        elif isinstance(event, ev.TeamRemoved):
            self.rows[event.championship_id].pop(event.team_id, None)
        elif isinstance(event, ev.TeamWithdrawn):
            row = self.row(event.championship_id, event.group, event.team_id)
            if not row.withdrawn and event.policy == ev.EXPUNGE:
                row.expunged = True
                self._expunge(row)
            row.withdrawn = True
        elif isinstance(event, ev.PointsDeducted):
            row = self.row(event.championship_id, event.group, event.team_id)
            row.points_deducted += event.points
            self.deductions.append(
                AppliedDeduction(
                    event_id=recorded.event_id,
                    championship_id=event.championship_id,
                    team_id=event.team_id,
                    points=event.points,
                )
            )
            self.notes[event.deduction_id] = DeductionNote(**deduction_note(recorded, event))
        elif isinstance(event, ev.DeductionAmended):
            note = self.notes.get(event.deduction_id)
            if note is not None:
                amend_note(note, recorded, event)
                row = self.row(event.championship_id, event.group, event.team_id)
                row.points_deducted += event.points - event.previous_points
        elif (
            isinstance(event, ev.MatchCompleted | ev.MatchResultCorrected | ev.MatchAwarded)
            and not event.stage  # knockout results decide ties, not tables
        ):
            self._result(recorded, event)
        elif isinstance(event, kev.CardShown) and not event.stage:
            points = kev.FAIR_PLAY_POINTS[event.card]
            self.row(event.championship_id, event.group, event.team_id).fair_play += points
            self.cards[recorded.event_id] = AppliedCard(
                event_id=recorded.event_id,
                championship_id=event.championship_id,
                match_id=event.match_id,
                team_id=event.team_id,
                group=event.group,
                points=points,
            )
        elif isinstance(event, ev.MatchPostponed):
            for key, card in list(self.cards.items()):
                if card.match_id == event.match_id:
                    self.row(
                        card.championship_id, card.group, card.team_id
                    ).fair_play -= card.points
                    del self.cards[key]
        elif isinstance(event, kev.LotsDrawn):
            head = self.head(event.championship_id)
            head.lots = {**head.lots, event.group: [str(t) for t in event.team_ids]}

    def _result(
        self,
        recorded: store.RecordedEvent,
        event: ev.MatchCompleted | ev.MatchResultCorrected | ev.MatchAwarded,
    ) -> None:
        cid = event.championship_id
        home = self.row(cid, event.group, event.home_team_id)
        away = self.row(cid, event.group, event.away_team_id)
        if home.expunged or away.expunged:
            return
        applied = self.results.get(event.match_id)
        if applied is None:
            applied = self.results[event.match_id] = AppliedResult(
                match_id=event.match_id,
                championship_id=cid,
                group=event.group,
                home_team_id=event.home_team_id,
                away_team_id=event.away_team_id,
                home_score=0,
                away_score=0,
                version=0,
                kickoff=event.kickoff,
                round=event.round,
                sequence=recorded.position,
            )
        else:
            _count(home, away, applied.home_score, applied.away_score, -1)
        applied.home_score, applied.away_score = event.home_score, event.away_score
        applied.version = recorded.version
        applied.kickoff = event.kickoff or applied.kickoff
        applied.round = event.round if event.round is not None else applied.round
        _count(home, away, event.home_score, event.away_score, +1)

    def _expunge(self, row: Standing) -> None:
        for match_id, applied in list(self.results.items()):
            if row.team_id in (applied.home_team_id, applied.away_team_id):
                home = self.row(applied.championship_id, applied.group, applied.home_team_id)
                away = self.row(applied.championship_id, applied.group, applied.away_team_id)
                _count(home, away, applied.home_score, applied.away_score, -1)
                del self.results[match_id]

    def save(self) -> None:
        by_team: dict[UUID, list[AppliedResult]] = defaultdict(list)
        by_group: dict[tuple[UUID, str], list[Result]] = defaultdict(list)
        for r in sorted(self.results.values(), key=played_order, reverse=True):
            by_team[r.home_team_id].append(r)
            by_team[r.away_team_id].append(r)
            by_group[r.championship_id, r.group].append(
                Result(r.home_team_id, r.away_team_id, r.home_score, r.away_score)
            )
        for cid, rows in self.rows.items():
            head = self.head(cid)
            groups: dict[str, list[Standing]] = defaultdict(list)
            for row in rows.values():
                score(row, head)
                row.form = form(row.team_id, by_team[row.team_id])
                groups[row.group].append(row)
            for group, members in groups.items():
                reposition(members, head, _among(by_group[cid, group]), group)
        for cid, head in self.heads.items():
            head.version = store.stream_version(ev.standings_stream_id(cid))
        StandingsHead.objects.bulk_create(
            self.heads.values(),
            update_conflicts=True,
            unique_fields=["championship_id"],
            update_fields=[
                "points_win",
                "points_draw",
                "points_loss",
                "tie_breakers",
                "head_to_head_reapply",
                "lots",
                "version",
            ],
        )
        Standing.objects.bulk_create([r for rows in self.rows.values() for r in rows.values()])
        AppliedResult.objects.bulk_create(self.results.values())
        AppliedDeduction.objects.bulk_create(self.deductions)
        DeductionNote.objects.bulk_create(self.notes.values())
        AppliedCard.objects.bulk_create(self.cards.values())

    def publish(self) -> None:
        """StandingsUpdated for every rebuilt group: the standings stream moves on, so
        readers see the rebuilt tables at once (a new ETag and cache key; a client
        holding the old ETag gets the table, not a 304) and live pages reload them."""
        for cid, rows in self.rows.items():
            head = self.heads[cid]
            groups: dict[str, list[Standing]] = defaultdict(list)
            for row in rows.values():
                groups[row.group].append(row)
            updates = [
                ev.StandingsUpdated(
                    championship_id=cid,
                    group=group,
                    team_ids=tuple(r.team_id for r in ranked),
                    points=tuple(r.points for r in ranked),
                )
                for group in sorted(groups)
                for ranked in [sorted(groups[group], key=lambda r: r.position)]
            ]
            if not updates:
                continue
            stream_id = ev.standings_stream_id(cid)
            store.append(stream_id, updates, head.version, stream_type=ev.STANDINGS_STREAM)
            head.version += len(updates)
            StandingsHead.objects.filter(championship_id=cid).update(version=head.version)


def _lock_every_head() -> None:
    table = StandingsHead._meta.db_table
    if connection.vendor == "postgresql":
        # EXCLUSIVE lets readers in but no row lock or insert: a delivery creating the
        # head of a new championship waits too.
        with connection.cursor() as cursor:
            cursor.execute(f'LOCK TABLE "{table}" IN EXCLUSIVE MODE')
    # SQLite: the transaction holds the database's write lock already.


def _among(results: list[Result]) -> Callable[[frozenset[UUID]], list[Result]]:
    def among(team_ids: frozenset[UUID]) -> list[Result]:
        return [r for r in results if r.home_team_id in team_ids and r.away_team_id in team_ids]

    return among


def rebuild_standings(
    championship_id: UUID | None = None, *, progress: Callable[[int], None] | None = None
) -> int:
    """Rebuild the standings (of one championship, or all) from the event store.

    Replays, in position order and without publishing StandingsUpdated, exactly the
    events live delivery has handled (``events.replay``): live delivery waits meanwhile
    and resumes from the same checkpoints, so no event is lost or counted twice. Each
    rebuilt table is then published (StandingsUpdated), so its standings stream version,
    the API's ETag and cache key, moves on. Returns the number of events replayed.
    """
    with transaction.atomic():
        # Live deliveries apply events under their championship's head: hold the heads
        # (all of them, new ones too, for a full rebuild), then read what was delivered.
        if championship_id is None:
            _lock_every_head()
        else:
            _lock_head(championship_id)
        delivered = Delivered(SUBSCRIPTION)
        standings = Standing.objects.all()
        results = AppliedResult.objects.all()
        deductions = AppliedDeduction.objects.all()
        notes = DeductionNote.objects.all()
        cards = AppliedCard.objects.all()
        stream_ids: list[str] | None = None
        if championship_id is not None:
            standings = standings.filter(championship_id=championship_id)
            results = results.filter(championship_id=championship_id)
            deductions = deductions.filter(championship_id=championship_id)
            notes = notes.filter(championship_id=championship_id)
            cards = cards.filter(championship_id=championship_id)
            match_ids = Match.objects.filter(championship_id=championship_id).values_list(
                "id", flat=True
            )
            stream_ids = [str(championship_id), *(str(m) for m in match_ids)]
        for queryset in (standings, results, deductions, notes, cards):
            queryset.delete()
        replay = _Replay()
        replayed = 0
        for recorded in delivered.events(HANDLED_TYPES, stream_ids):
            replay.apply(recorded)
            replayed += 1
            if progress is not None and replayed % BATCH == 0:
                progress(replayed)
        if progress is not None:
            progress(replayed)
        replay.save()
        replay.publish()
    return replayed
