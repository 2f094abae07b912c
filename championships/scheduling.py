"""Round-robin fixtures by the circle (Berger) method. Pure: ids in, rounds out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")

Round = list[tuple[T, T]]


def single_round_robin(teams: Sequence[T]) -> list[Round[T]]:
    """n-1 rounds (n rounds for odd n: each team has one bye) where every pair meets once.

    The first team stays fixed while the others rotate; venues alternate so that in a
    single round robin no team plays three home or three away games in a row.
    """
    slots: list[T | None] = list(teams)
    if len(slots) < 2:
        return []
    if len(slots) % 2:
        # The bye takes the fixed seat, so every team rotates and alternates venues.
        slots.insert(0, None)
    n = len(slots)
    rounds: list[Round[T]] = []
    for r in range(n - 1):
        pairs: Round[T] = []
        for i in range(n // 2):
            a, b = slots[i], slots[n - 1 - i]
            if a is None or b is None:
                continue
            # The fixed team alternates by round; the others alternate by their side of
            # the circle, which flips as they rotate past the fixed team.
            swap = r % 2 == 1 if i == 0 else i % 2 == 1
            pairs.append((b, a) if swap else (a, b))
        rounds.append(pairs)
        slots = [slots[0], slots[-1], *slots[1:-1]]
    return rounds


def double_round_robin(teams: Sequence[T]) -> list[Round[T]]:
    """The single round robin, then the same rounds with venues mirrored.

    The second half is rotated (it starts at a round chosen among all n-1 candidates) so
    that as few teams as possible play three home or three away games in a row across
    the halfway point; the choice is deterministic.
    """
    first = single_round_robin(teams)
    if not first:
        return []
    mirrored = [[(away, home) for home, away in rnd] for rnd in first]
    best: list[Round[T]] | None = None
    best_score = -1
    for shift in range(len(mirrored)):
        candidate = first + mirrored[shift:] + mirrored[:shift]
        score = three_in_a_row_count(candidate)
        if best is None or score < best_score:
            best, best_score = candidate, score
        if score == 0:
            break
    assert best is not None
    return best


def venue_sequences(rounds: Sequence[Round[T]]) -> dict[T, list[str]]:
    """Each team's venues in round order ('H' / 'A'), byes skipped."""
    sequences: dict[T, list[str]] = {}
    for rnd in rounds:
        for home, away in rnd:
            sequences.setdefault(home, []).append("H")
            sequences.setdefault(away, []).append("A")
    return sequences


def three_in_a_row_count(rounds: Sequence[Round[T]]) -> int:
    """How many times some team plays a third consecutive home (or away) game."""
    count = 0
    for venues in venue_sequences(rounds).values():
        count += sum(
            1 for i in range(2, len(venues)) if venues[i] == venues[i - 1] == venues[i - 2]
        )
    return count
