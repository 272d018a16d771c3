"""One timeline of what changed and what nmops did: transitions and actions, merged."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from nmops.state.actions import to_action
from nmops.state.schema import actions, transitions
from nmops.state.store import Store

# At the same instant, what was seen comes before what was done about it.
_ORDER = {"transition": 0, "action": 1}


@dataclass(frozen=True)
class Event:
    """``transition``: ``subject`` changed, ``what`` is ``old -> new`` (``new`` alone when first
    seen). ``action``: ``subject`` is the problem, ``what`` the rung, with its outcome."""

    at: datetime
    router: str
    kind: str
    subject: str | None
    what: str
    detail: str | None
    outcome: str | None


def timeline(store: Store, router: str | None, since: datetime) -> list[Event]:
    """Everything since ``since`` (for ``router``, or every router), oldest first. Actions are
    placed when they were created."""
    changes = sa.select(transitions).where(transitions.c.at >= since)
    done = sa.select(actions).where(actions.c.created_at >= since)
    if router is not None:
        changes = changes.where(transitions.c.router == router)
        done = done.where(actions.c.router == router)
    with store.read() as conn:
        rows = conn.execute(changes.order_by(transitions.c.id)).all()
        action_rows = conn.execute(done.order_by(actions.c.id)).all()
    events: list[tuple[datetime, int, int, Event]] = []
    for row in rows:
        what = row.to_status if row.from_status is None else f"{row.from_status} -> {row.to_status}"
        event = Event(row.at, row.router, "transition", row.subject, what, row.detail, None)
        events.append((event.at, _ORDER[event.kind], row.id, event))
    for row in action_rows:
        action = to_action(row)
        event = Event(
            action.created_at,
            action.router,
            "action",
            action.problem,
            action.rung,
            action.detail or action.why,
            action.outcome,
        )
        events.append((event.at, _ORDER[event.kind], action.id, event))
    events.sort(key=lambda item: item[:3])
    return [event for *_, event in events]
