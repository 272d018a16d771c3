"""Findings across runs become incidents (pure: values in, changes and events out).

One unresolved incident per (router, subject) at a time. It starts *pending* at the first
bad check, opens after ``confirm_after`` bad checks in a row (any bad status counts: missing
then stale is still bad) and resolves after ``resolve_after`` good ones. A subject that flips
between good and bad more than ``flips`` times within ``window`` becomes (or turns its
incident into) one *flapping* incident with one notice; it resolves only once the subject is
good and has not flipped for a whole window, so a slow flapper cannot reopen it every cycle.

Silenced incidents change the same way and their events are returned marked ``silenced``
(recorded and shown, not mailed). An incident that opened silenced is told when the silence
is over if it is still open; one never told resolves silently.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from nmops.notify.events import Event, EventKind

OK = "ok"
PROBLEM = "problem"
FLAPPING = "flapping"


@dataclass(frozen=True)
class Seen:
    """One subject as the run left it (only subjects the run observed)."""

    router: str
    subject: str
    status: str
    detail: str | None
    since_at: datetime  # since when it has had this status
    flips: int = 0  # good/bad flips within the flapping window, this run's included
    first_flip_at: datetime | None = None

    @property
    def bad(self) -> bool:
        return self.status != OK


@dataclass(frozen=True)
class Incident:
    """A row of ``incidents``; ``id`` None: not written yet."""

    id: int | None
    router: str
    subject: str
    kind: str  # problem | flapping
    status: str  # the latest bad status
    detail: str | None
    opened_at: datetime | None  # None: pending (not yet confirmed)
    since_at: datetime
    resolved_at: datetime | None
    bad_count: int
    good_count: int
    flaps: int
    told_at: datetime | None
    notified_at: datetime | None
    silenced: bool
    last_run: int

    @property
    def key(self) -> tuple[str, str]:
        return self.router, self.subject

    @property
    def is_open(self) -> bool:
        return self.opened_at is not None and self.resolved_at is None


@dataclass(frozen=True)
class Rules:
    confirm_after: int
    resolve_after: int
    remind_every: timedelta
    flips: int
    window: timedelta


@dataclass
class Outcome:
    """What one run changes: rows to write (new ones have no id), pending rows to drop, and
    the events to tell, each with the key of its incident (the id is known once written)."""

    write: list[Incident] = field(default_factory=list)
    drop: list[int] = field(default_factory=list)
    events: list[tuple[tuple[str, str], Event]] = field(default_factory=list)


def _window_text(window: timedelta) -> str:
    minutes = int(window.total_seconds() // 60)
    return f"{minutes // 60} h" if minutes % 60 == 0 else f"{minutes} min"


class _Run:
    def __init__(
        self, rules: Rules, run_id: int, now: datetime, silenced: Callable[[str], bool]
    ) -> None:
        self.rules = rules
        self.run_id = run_id
        self.now = now
        self.silenced = silenced
        self.out = Outcome()

    def tell(self, inc: Incident, kind: EventKind, status: str, detail: str, quiet: bool) -> None:
        event = Event(
            kind=kind,
            router=inc.router,
            subject=inc.subject,
            status=status,
            detail=detail,
            at=self.now,
            since=inc.since_at,
            incident_id=inc.id,
            silenced=quiet,
        )
        self.out.events.append((inc.key, event))

    def notice(self, inc: Incident, kind: EventKind, status: str, detail: str) -> Incident:
        """Tell an open/flapping/remind notice; returns the incident with its times set."""
        quiet = self.silenced(inc.router)
        self.tell(inc, kind, status, detail, quiet)
        return dataclasses.replace(
            inc,
            told_at=self.now,
            notified_at=inc.notified_at if quiet else self.now,
            silenced=quiet,
        )

    def flapping_detail(self, s: Seen) -> str:
        now = f"now {s.status}" + (f": {s.detail}" if s.detail else "")
        return f"{s.flips} flips within {_window_text(self.rules.window)}; {now}"

    def fresh(self, s: Seen) -> Incident:
        return Incident(
            id=None,
            router=s.router,
            subject=s.subject,
            kind=PROBLEM,
            status=s.status if s.bad else FLAPPING,
            detail=s.detail,
            opened_at=None,
            since_at=s.since_at,
            resolved_at=None,
            bad_count=0,
            good_count=0,
            flaps=0,
            told_at=None,
            notified_at=None,
            silenced=False,
            last_run=self.run_id,
        )

    def step(self, s: Seen, inc: Incident | None) -> Incident | None:
        """The incident after this run (None: none, or dropped)."""
        if inc is None:
            if not s.bad and s.flips <= self.rules.flips:
                return None
            inc = self.fresh(s)
            if not s.bad:  # flapping, caught on a good check
                inc = dataclasses.replace(inc, since_at=s.first_flip_at or s.since_at)
        inc = dataclasses.replace(inc, last_run=self.run_id)
        if s.bad:
            inc = dataclasses.replace(
                inc, status=s.status, detail=s.detail, bad_count=inc.bad_count + 1, good_count=0
            )
        else:
            inc = dataclasses.replace(inc, good_count=inc.good_count + 1)
        if s.flips > self.rules.flips and inc.kind != FLAPPING:
            inc = dataclasses.replace(
                inc,
                kind=FLAPPING,
                opened_at=inc.opened_at or self.now,
                since_at=min(inc.since_at, s.first_flip_at or inc.since_at),
                flaps=s.flips,
            )
            return self.notice(inc, "flapping", FLAPPING, self.flapping_detail(s))
        if inc.kind == FLAPPING:
            inc = dataclasses.replace(inc, flaps=max(inc.flaps, s.flips))
            calm = s.flips == 0 and inc.good_count >= self.rules.resolve_after
            return self.resolve(inc) if calm else self.ongoing(inc, s)
        if inc.opened_at is None:
            if not s.bad:
                return None  # a blip shorter than confirm_after: no incident
            if inc.bad_count < self.rules.confirm_after:
                return inc
            inc = dataclasses.replace(inc, opened_at=self.now)
            return self.notice(inc, "open", s.status, s.detail or "")
        if not s.bad:
            if inc.good_count >= self.rules.resolve_after:
                return self.resolve(inc)
            return inc
        return self.ongoing(inc, s)

    def ongoing(self, inc: Incident, s: Seen) -> Incident:
        """Still open: told late if a silence kept it from being mailed, reminded when due
        and still wrong."""
        quiet = self.silenced(inc.router)
        flapping = inc.kind == FLAPPING
        if inc.notified_at is None and not quiet:
            kind: EventKind = "flapping" if flapping else "open"
            status = FLAPPING if flapping else inc.status
            detail = self.flapping_detail(s) if flapping else (s.detail or "")
            return self.notice(inc, kind, status, detail)
        due = inc.told_at is None or self.now - inc.told_at >= self.rules.remind_every
        if s.bad and due:
            detail = self.flapping_detail(s) if flapping else (s.detail or "")
            return self.notice(inc, "remind", s.status, detail)
        return inc

    def resolve(self, inc: Incident) -> Incident:
        inc = dataclasses.replace(inc, resolved_at=self.now)
        # Nobody was told it began: nobody is told it ended.
        quiet = self.silenced(inc.router) or inc.notified_at is None
        self.tell(inc, "resolve", OK, f"was {inc.status}", quiet)
        return inc


def advance(
    seen: Sequence[Seen],
    unresolved: Sequence[Incident],
    rules: Rules,
    *,
    run_id: int,
    now: datetime,
    silenced: Callable[[str], bool],
) -> Outcome:
    """Apply one run to the unresolved incidents. A run already applied to an incident (its
    ``last_run``) changes nothing, so applying a run twice tells nothing twice."""
    run = _Run(rules, run_id, now, silenced)
    by_key = {inc.key: inc for inc in unresolved}
    for s in seen:
        inc = by_key.get((s.router, s.subject))
        if inc is not None and inc.last_run >= run_id:
            continue
        after = run.step(s, inc)
        if after is None:
            if inc is not None and inc.id is not None:
                run.out.drop.append(inc.id)
        elif after != inc:
            run.out.write.append(after)
    return run.out
