"""Timelines from change rows (pure): a status holds from its change to the next one, so the
state database's changes-only tables (transitions, link paths) give time in each status,
availability and the digest's strip of cells."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

# A strip cell's class, worst first: what the worst moment in the cell was.
CELL_ORDER = ("crit", "warn", "ok", "none")


@dataclass(frozen=True)
class Segment:
    start: datetime
    end: datetime
    status: str

    @property
    def length(self) -> timedelta:
        return self.end - self.start


def segments(
    changes: Sequence[tuple[datetime, str]], start: datetime, end: datetime
) -> list[Segment]:
    """The statuses between ``start`` and ``end`` from ``changes`` (time, new status), oldest
    first; a change before ``start`` gives the status at ``start``. Time before the first
    change is unknown and has no segment."""
    out: list[Segment] = []
    ordered = sorted(changes, key=lambda c: c[0])
    for i, (at, status) in enumerate(ordered):
        until = ordered[i + 1][0] if i + 1 < len(ordered) else end
        a, b = max(at, start), min(until, end)
        if a < b:
            out.append(Segment(a, b, status))
    return out


def time_in(segs: Sequence[Segment], good: Callable[[str], bool]) -> tuple[timedelta, timedelta]:
    """(time ``good`` holds, time known)."""
    known = sum((s.length for s in segs), timedelta(0))
    ok = sum((s.length for s in segs if good(s.status)), timedelta(0))
    return ok, known


def availability(segs: Sequence[Segment], good: Callable[[str], bool]) -> float | None:
    """The share of the known time ``good`` held (None: nothing known)."""
    ok, known = time_in(segs, good)
    return None if known <= timedelta(0) else ok / known


def strip(
    segs: Sequence[Segment],
    start: datetime,
    end: datetime,
    cells: int,
    cell_class: Callable[[str], str],
) -> list[str]:
    """``cells`` equal slices of [start, end), each classed by its worst segment."""
    size = (end - start) / cells
    out = []
    for i in range(cells):
        a, b = start + size * i, start + size * (i + 1)
        found = [cell_class(s.status) for s in segs if s.start < b and s.end > a]
        out.append(min(found, key=CELL_ORDER.index) if found else "none")
    return out


def changes_within(changes: Sequence[tuple[datetime, str]], start: datetime) -> int:
    """How many times the status changed at or after ``start`` (the first row is where the
    timeline begins, not a change)."""
    ordered = sorted(changes, key=lambda c: c[0])
    return sum(1 for prev, cur in pairwise(ordered) if cur[0] >= start and cur[1] != prev[1])
