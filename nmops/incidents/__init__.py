"""Incidents: the check runs' findings over time, and what is worth telling about them.

:func:`update` is the I/O around the pure :func:`nmops.incidents.core.advance`: it reads the
run's subject states, their recent flips and the unresolved incidents, writes the changes in
one transaction and returns the events (``silenced`` set) for the notifiers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import Connection, Row

from nmops.config.load import Config
from nmops.incidents.core import OK, Incident, Outcome, Rules, Seen, advance
from nmops.incidents.silences import active_silences
from nmops.notify.events import Event
from nmops.state.schema import incidents, runs, subjects, transitions
from nmops.state.store import StateError, Store

__all__ = ["Incident", "incidents_since", "open_incidents", "rules", "update"]


def rules(config: Config) -> Rules:
    settings = config.settings
    inc = settings.incidents
    return Rules(
        confirm_after=settings.policy.confirm_after,
        resolve_after=inc.resolve_after,
        remind_every=inc.remind_every,
        flips=inc.flapping.flips,
        window=inc.flapping.window,
    )


def to_incident(row: Row[object]) -> Incident:
    return Incident(**row._mapping)


# Above this many routers of interest, one scan of the run's subjects is cheaper than an IN list.
_IN_LIMIT = 500


def _seen(
    conn: Connection, run_id: int, now: datetime, rule: Rules, unresolved: Iterable[tuple[str, str]]
) -> list[Seen]:
    """The run's subjects that can change an incident: the bad ones, and the good ones with an
    unresolved incident or recent flips (a good, steady subject without one changes nothing,
    and on a big inventory nearly every subject is that)."""
    flips: dict[tuple[str, str], list[datetime]] = defaultdict(list)
    recent = sa.select(transitions).where(transitions.c.at > now - rule.window)
    for t in conn.execute(recent.order_by(transitions.c.id)):
        if t.from_status is not None and (t.from_status == OK) != (t.to_status == OK):
            flips[t.router, t.subject].append(t.at)
    wanted = set(unresolved) | set(flips)
    query = sa.select(subjects).where(subjects.c.last_run == run_id)
    routers = sorted({router for router, _ in wanted})
    if len(routers) <= _IN_LIMIT:
        query = query.where(sa.or_(subjects.c.status != OK, subjects.c.router.in_(routers)))
    out = []
    for row in conn.execute(query.order_by(subjects.c.router, subjects.c.subject)):
        m = row._mapping
        key = m["router"], m["subject"]
        if m["status"] == OK and key not in wanted:
            continue
        times = flips.get(key, [])
        out.append(
            Seen(
                router=m["router"],
                subject=m["subject"],
                status=m["status"],
                detail=m["detail"],
                since_at=m["since_at"],
                flips=len(times),
                first_flip_at=min(times) if times else None,
            )
        )
    return out


def _write(conn: Connection, outcome: Outcome) -> dict[tuple[str, str], int]:
    ids: dict[tuple[str, str], int] = {}
    for inc in outcome.write:
        values = {k: v for k, v in vars(inc).items() if k != "id"}
        if inc.id is None:
            key = conn.execute(sa.insert(incidents).values(**values)).inserted_primary_key
            if not key or not isinstance(key[0], int):
                raise StateError("state database: no id for the new incident")
            ids[inc.key] = key[0]
        else:
            conn.execute(sa.update(incidents).where(incidents.c.id == inc.id).values(**values))
            ids[inc.key] = inc.id
    if outcome.drop:
        conn.execute(sa.delete(incidents).where(incidents.c.id.in_(outcome.drop)))
    return ids


def update(
    store: Store, config: Config, run_id: int, *, now: datetime | None = None
) -> list[Event]:
    """Apply check run ``run_id`` (already recorded) to the incidents; the events to tell.

    Idempotent: a run applied before changes nothing and returns no event.
    """
    now = now or store.now()
    rule = rules(config)
    settings = config.settings
    zone = settings.policy.zone
    with store.begin() as conn:
        # One updater at a time per run (PostgreSQL; SQLite's write lock already is that).
        conn.execute(sa.select(runs.c.id).where(runs.c.id == run_id).with_for_update()).first()
        unresolved = [
            to_incident(row)
            for row in conn.execute(sa.select(incidents).where(incidents.c.resolved_at.is_(None)))
        ]
        seen = _seen(conn, run_id, now, rule, (inc.key for inc in unresolved))
        quiet = active_silences(conn, now)

        def silenced(router: str) -> bool:
            if any(s.covers(router, now) for s in quiet):
                return True
            return settings.incidents.in_maintenance(router, now, zone) is not None

        outcome = advance(seen, unresolved, rule, run_id=run_id, now=now, silenced=silenced)
        ids = _write(conn, outcome)
    return [
        event if event.incident_id is not None else _with_id(event, ids.get(key))
        for key, event in outcome.events
    ]


def _with_id(event: Event, incident_id: int | None) -> Event:
    from dataclasses import replace

    return replace(event, incident_id=incident_id)


def open_incidents(store: Store, routers: Iterable[str] | None = None) -> list[Incident]:
    """Incidents open now (not pending, not resolved), oldest first."""
    query = sa.select(incidents).where(
        incidents.c.opened_at.is_not(None), incidents.c.resolved_at.is_(None)
    )
    if routers is not None:
        query = query.where(incidents.c.router.in_(list(routers)))
    with store.read() as conn:
        return [to_incident(r) for r in conn.execute(query.order_by(incidents.c.opened_at))]


def incidents_since(store: Store, since: datetime) -> list[Incident]:
    """Every incident open at some time since ``since``: opened since, still open, or
    resolved since; oldest first."""
    query = sa.select(incidents).where(
        incidents.c.opened_at.is_not(None),
        sa.or_(incidents.c.resolved_at.is_(None), incidents.c.resolved_at >= since),
    )
    with store.read() as conn:
        return [
            to_incident(r)
            for r in conn.execute(query.order_by(incidents.c.opened_at, incidents.c.id))
        ]
