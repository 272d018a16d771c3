"""Runs, and what each run saw: the current state of every subject and its timeline.

``subjects`` holds one row per (router, subject) with how long it has been in its status;
``transitions`` gets a row only when a status changes, so it grows with changes, not runs.
Recording a run is set-based (one SELECT per chunk of routers, then executemany), so 10,000
routers cost a few statements, not one per row.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Row

from nmops.state.schema import RUN_KINDS, check_value, runs, subjects, transitions
from nmops.state.store import StateError, Store

log = logging.getLogger(__name__)

OK = "ok"
GONE = "no longer observed"
# Bound parameters per IN (...): under SQLite's oldest limit (999), far under PostgreSQL's.
_CHUNK = 900


@dataclass(frozen=True)
class Observed:
    router: str
    subject: str
    status: str
    detail: str | None = None


@dataclass(frozen=True)
class SubjectState:
    router: str
    subject: str
    status: str
    detail: str | None
    since_at: datetime
    since_run: int
    count: int
    last_at: datetime
    last_run: int


@dataclass(frozen=True)
class Transition:
    router: str
    subject: str
    from_status: str | None
    to_status: str
    at: datetime
    run_id: int
    detail: str | None


def start_run(store: Store, kind: str, routers: int | Collection[str]) -> int:
    """A new run of ``kind`` over ``routers`` (the routers, or how many); returns its id."""
    check_value("run kind", kind, RUN_KINDS)
    with store.begin() as conn:
        result = conn.execute(
            sa.insert(runs).values(
                kind=kind,
                started_at=store.now(),
                host=socket.gethostname(),
                pid=os.getpid(),
                routers=routers if isinstance(routers, int) else len(routers),
            )
        )
        run_id = result.inserted_primary_key[0] if result.inserted_primary_key else None
    if not isinstance(run_id, int):
        raise StateError(f"state database {store.where}: no id for the new run")
    return run_id


def finish_run(store: Store, run_id: int, exit_code: int) -> None:
    with store.begin() as conn:
        updated = conn.execute(
            sa.update(runs)
            .where(runs.c.id == run_id)
            .values(finished_at=store.now(), exit_code=exit_code)
        ).rowcount
    if not updated:
        raise StateError(f"state database {store.where}: there is no run {run_id}")


def record_run(
    store: Store, run_id: int, observed: Iterable[Observed], *, routers: Iterable[str]
) -> list[Transition]:
    """Record what run ``run_id`` observed; returns the transitions it caused.

    A subject in the same status again counts one more run; a new status starts anew (and is
    a transition). ``routers`` are the routers this run checked completely: their subjects
    that were not observed this time (a finding that went away) become ``ok``. Leave out a
    router that could only be checked in part (e.g. unreachable), so that what was not looked
    at keeps its state; its observations are still recorded. If one subject is observed twice,
    the last observation counts.
    """
    now = store.now()
    seen = {(o.router, o.subject): o for o in observed}
    checked = set(routers)
    touched = sorted(checked | {router for router, _ in seen})
    new_rows: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    found: list[Transition] = []
    with store.begin() as conn:
        existing = _states(conn, touched)
        for key, obs in seen.items():
            old = existing.get(key)
            if old is None:
                new_rows.append(_fresh(obs, run_id, now))
                found.append(Transition(*key, None, obs.status, now, run_id, obs.detail))
            else:
                changed.append(_update(old, obs.status, obs.detail, run_id, now))
                if old.status != obs.status:
                    found.append(Transition(*key, old.status, obs.status, now, run_id, obs.detail))
        for key, old in existing.items():
            if key in seen or old.router not in checked:
                continue
            changed.append(_update(old, OK, None, run_id, now))
            if old.status != OK:
                found.append(Transition(*key, old.status, OK, now, run_id, GONE))
        if new_rows:
            conn.execute(sa.insert(subjects), new_rows)
        if changed:
            conn.execute(_UPDATE, changed)
        if found:
            conn.execute(sa.insert(transitions), [vars(t) for t in found])
    log.debug(
        "run %s: %d subjects new, %d updated, %d transitions",
        run_id,
        len(new_rows),
        len(changed),
        len(found),
    )
    return found


# Executemany: the SET clause comes from the keys of each row; the b_ parameters name the
# subject (column names are reserved for the SET values).
_UPDATE = sa.update(subjects).where(
    subjects.c.router == sa.bindparam("b_router"),
    subjects.c.subject == sa.bindparam("b_subject"),
)


def _fresh(obs: Observed, run_id: int, now: datetime) -> dict[str, Any]:
    return {
        "router": obs.router,
        "subject": obs.subject,
        "status": obs.status,
        "detail": obs.detail,
        "since_at": now,
        "since_run": run_id,
        "count": 1,
        "last_at": now,
        "last_run": run_id,
    }


def _update(
    old: SubjectState, status: str, detail: str | None, run_id: int, now: datetime
) -> dict[str, Any]:
    same = old.status == status
    # Recording the same run twice must not count it twice.
    count = (old.count if old.last_run == run_id else old.count + 1) if same else 1
    return {
        "b_router": old.router,
        "b_subject": old.subject,
        "status": status,
        "detail": detail,
        "since_at": old.since_at if same else now,
        "since_run": old.since_run if same else run_id,
        "count": count,
        "last_at": now,
        "last_run": run_id,
    }


def _states(conn: Connection, routers: list[str]) -> dict[tuple[str, str], SubjectState]:
    states: dict[tuple[str, str], SubjectState] = {}
    for start in range(0, len(routers), _CHUNK):
        chunk = routers[start : start + _CHUNK]
        for row in conn.execute(sa.select(subjects).where(subjects.c.router.in_(chunk))):
            state = _state(row)
            states[state.router, state.subject] = state
    return states


def _state(row: Row[Any]) -> SubjectState:
    # By mapping: a Row is a tuple, and row.count would be tuple.count.
    m = row._mapping
    return SubjectState(
        router=m["router"],
        subject=m["subject"],
        status=m["status"],
        detail=m["detail"],
        since_at=m["since_at"],
        since_run=m["since_run"],
        count=m["count"],
        last_at=m["last_at"],
        last_run=m["last_run"],
    )


def subject_states(store: Store, router: str | None = None) -> list[SubjectState]:
    """The current state of every subject (of ``router``), by router then subject."""
    query = sa.select(subjects).order_by(subjects.c.router, subjects.c.subject)
    if router is not None:
        query = query.where(subjects.c.router == router)
    with store.read() as conn:
        return [_state(row) for row in conn.execute(query)]


def consecutive(store: Store, router: str, subject: str) -> SubjectState | None:
    """The state of one subject: its status, since when and for how many runs in a row."""
    query = sa.select(subjects).where(subjects.c.router == router, subjects.c.subject == subject)
    with store.read() as conn:
        row = conn.execute(query).first()
    return None if row is None else _state(row)
