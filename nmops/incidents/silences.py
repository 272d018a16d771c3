"""Silences: a router (or ``*``, every router) whose incidents are recorded, not mailed,
until a time. Cleared silences end early and stay in the table, as a record."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import Connection

from nmops.state.schema import silences
from nmops.state.store import StateError, Store

EVERY_ROUTER = "*"


@dataclass(frozen=True)
class Silence:
    id: int
    router: str
    starts_at: datetime
    ends_at: datetime
    reason: str | None
    created_by: str
    created_at: datetime

    def covers(self, router: str, moment: datetime) -> bool:
        return self.router in (EVERY_ROUTER, router) and self.starts_at <= moment < self.ends_at


def add_silence(
    store: Store, router: str, length: timedelta, *, reason: str | None, created_by: str
) -> Silence:
    now = store.now()
    made = Silence(0, router, now, now + length, reason, created_by, now)
    values = {k: v for k, v in vars(made).items() if k != "id"}
    with store.begin() as conn:
        key = conn.execute(sa.insert(silences).values(**values)).inserted_primary_key
    if not key or not isinstance(key[0], int):
        raise StateError(f"state database {store.where}: no id for the new silence")
    return replace(made, id=key[0])


def active_silences(conn: Connection, moment: datetime) -> list[Silence]:
    query = (
        sa.select(silences)
        .where(silences.c.starts_at <= moment, silences.c.ends_at > moment)
        .order_by(silences.c.id)
    )
    return [Silence(**row._mapping) for row in conn.execute(query)]


def list_silences(store: Store) -> list[Silence]:
    """The silences in force now or later, oldest first."""
    with store.read() as conn:
        query = sa.select(silences).where(silences.c.ends_at > store.now()).order_by(silences.c.id)
        return [Silence(**row._mapping) for row in conn.execute(query)]


def clear_silence(store: Store, silence_id: int) -> Silence | None:
    """End a silence now; None when there is no such silence in force."""
    now = store.now()
    with store.begin() as conn:
        row = conn.execute(
            sa.select(silences).where(silences.c.id == silence_id, silences.c.ends_at > now)
        ).first()
        if row is None:
            return None
        conn.execute(sa.update(silences).where(silences.c.id == silence_id).values(ends_at=now))
    return replace(Silence(**row._mapping), ends_at=now)
