"""What the digest reads from the state database, as plain values (the I/O half)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from nmops.incidents import Incident, incidents_since
from nmops.linkpaths import PathChange, path_changes
from nmops.state import Action, SubjectState, subject_states
from nmops.state.actions import to_action
from nmops.state.pins import Pin, open_pins
from nmops.state.schema import UTCDateTime, actions, job_runs, subjects, transitions
from nmops.state.store import Store

Changes = list[tuple[datetime, str]]


@dataclass(frozen=True)
class JobRun:
    job: str
    scheduled_at: datetime
    outcome: str
    detail: str | None


@dataclass(frozen=True)
class DigestData:
    since: datetime  # the digest's period: since .. now
    now: datetime
    start: datetime  # where the timelines begin (7 days back)
    states: list[SubjectState]
    changes: dict[tuple[str, str], Changes]  # (router, subject) -> (time, status)
    incidents: list[Incident]
    actions: list[Action]
    missed: list[JobRun]
    pins: list[Pin]
    paths: dict[tuple[str, str], list[PathChange]]  # (router, peer) -> changes
    newest: datetime | None  # the newest observation


def _changes(store: Store, start: datetime) -> dict[tuple[str, str], Changes]:
    before = (
        sa.select(sa.func.max(transitions.c.id))
        .where(transitions.c.at < start)
        .group_by(transitions.c.router, transitions.c.subject)
    )
    query = (
        sa.select(transitions.c.router, transitions.c.subject, transitions.c.at)
        .add_columns(transitions.c.to_status)
        .where(sa.or_(transitions.c.at >= start, transitions.c.id.in_(before)))
        .order_by(transitions.c.id)
    )
    out: dict[tuple[str, str], Changes] = defaultdict(list)
    with store.read() as conn:
        for row in conn.execute(query):
            out[row.router, row.subject].append((row.at, row.to_status))
    return dict(out)


def read(store: Store, *, since: datetime, now: datetime, start: datetime) -> DigestData:
    with store.read() as conn:
        done = conn.execute(
            sa.select(actions)
            .where(actions.c.created_at >= since, actions.c.outcome != "planned")
            .order_by(actions.c.created_at, actions.c.id)
        ).all()
        missed = conn.execute(
            sa.select(job_runs)
            .where(job_runs.c.scheduled_at >= since, job_runs.c.outcome.in_(("missed", "overrun")))
            .order_by(job_runs.c.scheduled_at)
        ).all()
        # Coerced: SQLite gives a bare aggregate back as text, not through the column type.
        latest = sa.type_coerce(sa.func.max(subjects.c.last_at), UTCDateTime())
        newest = conn.execute(sa.select(latest)).scalar()
    paths: dict[tuple[str, str], list[PathChange]] = defaultdict(list)
    for change in path_changes(store, start):
        paths[change.router, change.peer].append(change)
    return DigestData(
        since=since,
        now=now,
        start=start,
        states=subject_states(store),
        changes=_changes(store, start),
        incidents=incidents_since(store, since),
        actions=[to_action(row) for row in done],
        missed=[JobRun(r.job, r.scheduled_at, r.outcome, r.detail) for r in missed],
        pins=open_pins(store),
        paths=dict(paths),
        newest=newest,
    )
