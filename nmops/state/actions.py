"""What nmops did (or meant to do) about each problem: one row per action and its outcome."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Row

from nmops.ix.masking import mask_line
from nmops.state.schema import OUTCOMES, RUNGS, UTCDateTime, actions, check_value
from nmops.state.store import StateError, Store

# Outcomes of an action that was (at least partly) carried out, and of one that is over.
_STARTED = frozenset({"running", "applied", "verified", "no-effect", "failed", "undone", "lost"})
_FINISHED = frozenset(OUTCOMES) - {"planned", "running"}
# A reboot that was sent counts against the budget, whether or not it helped.
_REBOOTED = ("applied", "verified", "no-effect", "lost")


@dataclass(frozen=True)
class Action:
    id: int
    run_id: int
    router: str
    problem: str
    rung: str
    commands: tuple[str, ...]
    why: str
    outcome: str
    detail: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    plan_id: str | None


def add_action(
    store: Store,
    *,
    run_id: int,
    router: str,
    problem: str,
    rung: str,
    commands: Iterable[str],
    why: str,
    plan_id: str | None = None,
    outcome: str = "planned",
) -> int:
    """Record an action; returns its id. ``commands`` should come masked; they are masked
    again here all the same, because this table is shown and exported."""
    check_value("rung", rung, RUNGS)
    check_value("outcome", outcome, OUTCOMES)
    now = store.now()
    row = {
        "run_id": run_id,
        "router": router,
        "problem": problem,
        "rung": rung,
        "commands": [mask_line(command) for command in commands],
        "why": why,
        "outcome": outcome,
        "created_at": now,
        "started_at": now if outcome in _STARTED else None,
        "finished_at": now if outcome in _FINISHED else None,
        "plan_id": plan_id,
    }
    with store.begin() as conn:
        key = conn.execute(sa.insert(actions).values(**row)).inserted_primary_key
    if not key or not isinstance(key[0], int):
        raise StateError(f"state database {store.where}: no id for the new action")
    return key[0]


def set_outcome(store: Store, action_id: int, outcome: str, detail: str | None = None) -> None:
    """Set an action's outcome (and ``detail``, kept as it was when None). The first outcome
    that means it ran sets ``started_at``; the first that means it is over, ``finished_at``."""
    check_value("outcome", outcome, OUTCOMES)
    now = sa.literal(store.now(), UTCDateTime())
    values: dict[str, Any] = {"outcome": outcome}
    if detail is not None:
        values["detail"] = detail
    if outcome in _STARTED:
        values["started_at"] = sa.func.coalesce(actions.c.started_at, now)
    if outcome in _FINISHED:
        values["finished_at"] = sa.func.coalesce(actions.c.finished_at, now)
    with store.begin() as conn:
        updated = conn.execute(
            sa.update(actions).where(actions.c.id == action_id).values(**values)
        ).rowcount
    if not updated:
        raise StateError(f"state database {store.where}: there is no action {action_id}")


def actions_for(
    store: Store, router: str, problem: str | None = None, since: datetime | None = None
) -> list[Action]:
    """``router``'s actions (about ``problem``, created at or after ``since``), oldest first."""
    query = sa.select(actions).where(actions.c.router == router)
    if problem is not None:
        query = query.where(actions.c.problem == problem)
    if since is not None:
        query = query.where(actions.c.created_at >= since)
    with store.read() as conn:
        rows = conn.execute(query.order_by(actions.c.created_at, actions.c.id)).all()
    return [to_action(row) for row in rows]


def reboots_since(store: Store, router: str, since: datetime) -> list[datetime]:
    """When ``router`` was rebooted (a reboot sent, whatever came of it) at or after ``since``."""
    at = sa.func.coalesce(actions.c.started_at, actions.c.created_at)
    query = (
        sa.select(actions.c.started_at, actions.c.created_at)
        .where(
            actions.c.router == router,
            actions.c.rung == "reboot",
            actions.c.outcome.in_(_REBOOTED),
            at >= since,
        )
        .order_by(at)
    )
    with store.read() as conn:
        rows = conn.execute(query).all()
    # Typed columns, not the coalesce: SQLite gives a bare function result back as text.
    return [row.started_at or row.created_at for row in rows]


def to_action(row: Row[Any]) -> Action:
    m = row._mapping
    return Action(
        id=m["id"],
        run_id=m["run_id"],
        router=m["router"],
        problem=m["problem"],
        rung=m["rung"],
        commands=tuple(m["commands"]),
        why=m["why"],
        outcome=m["outcome"],
        detail=m["detail"],
        created_at=m["created_at"],
        started_at=m["started_at"],
        finished_at=m["finished_at"],
        plan_id=m["plan_id"],
    )
