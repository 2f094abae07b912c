"""Events of the knockout formats and of match details (cards), and the upcasters of the
result events they extended (v1 → v2: the new fields take their defaults).

Kept apart from ``championships.events`` so the formats can be read in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from championships.events import CHAMPIONSHIP_STREAM, MATCH_STREAM
from events.registry import Event, registry


@dataclass(frozen=True)
class BracketDrawn(Event):
    """The knockout rules a bracket was drawn with (FixturesGenerated lists its matches)."""

    event_type = "BracketDrawn"
    stream_type = CHAMPIONSHIP_STREAM

    championship_id: UUID
    seeding: str
    third_place_match: bool
    qualifiers_per_group: int
    knockout_slots: tuple[str, ...]
    legs: tuple[int, ...]  # per bracket round, first round first
    away_goals: bool


@dataclass(frozen=True)
class TeamAdvanced(Event):
    """A team takes a place (``slot``: home or away) in a knockout match: the winner (or,
    for the third-place match, the loser) of ``from_match_id``, or a group qualifier
    (``source`` such as ``1A``). ``previous_team_id``: the team it replaces after a
    correction."""

    event_type = "TeamAdvanced"
    stream_type = MATCH_STREAM

    match_id: UUID
    championship_id: UUID
    slot: str
    team_id: UUID
    previous_team_id: UUID | None
    from_match_id: UUID | None
    source: str


CARD_KINDS = ("yellow", "second_yellow", "red")


@dataclass(frozen=True)
class CardShown(Event):
    """A yellow, second yellow or (direct) red card for a player of ``team_id``."""

    event_type = "CardShown"
    stream_type = MATCH_STREAM

    match_id: UUID
    championship_id: UUID
    team_id: UUID
    player: str
    minute: int
    card: str
    group: str
    stage: str


# FIFA fair play (World Cup 2022 regulations art. 13) per card, so that a player's cards in
# a match add up: yellow -1; a second yellow makes -3; a direct red -4, after a yellow -5.
FAIR_PLAY_POINTS = {"yellow": -1, "second_yellow": -2, "red": -4}


@dataclass(frozen=True)
class LotsDrawn(Event):
    """The organiser's drawing of lots among teams of a group still level when every
    tie-break criterion is used up: ``team_ids`` in the order drawn."""

    event_type = "LotsDrawn"
    stream_type = CHAMPIONSHIP_STREAM

    championship_id: UUID
    group: str
    team_ids: tuple[UUID, ...]


KNOCKOUT_EVENTS: tuple[type[Event], ...] = (BracketDrawn, TeamAdvanced, CardShown, LotsDrawn)


def _same(payload: dict[str, Any]) -> dict[str, Any]:
    # v2 only added fields with defaults (knockout details): a v1 payload decodes as is.
    return payload


def register_upcasters() -> None:
    # The results' v1 upcasters are championships.events.UPCASTERS (v2 added their round
    # and kickoff too, which have no defaults).
    registry.register_upcaster("MatchScheduled", 1, _same)
