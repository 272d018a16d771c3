"""Pins: tunnels switched from a broken peer FQDN to the peer's literal address, until DNS
is right again. `peers diff` reads them so that a pin is not taken for drift."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from nmops.state.schema import pins
from nmops.state.store import Store


@dataclass(frozen=True)
class Pin:
    id: int
    router: str
    tunnel: str
    peer: str
    family: str
    address: str
    fqdn: str
    pinned_at: datetime
    released_at: datetime | None
    reason: str | None


def open_pins(store: Store, router: str | None = None) -> list[Pin]:
    query = sa.select(pins).where(pins.c.released_at.is_(None)).order_by(pins.c.id)
    if router is not None:
        query = query.where(pins.c.router == router)
    with store.read() as conn:
        return [Pin(**row._mapping) for row in conn.execute(query)]


def add_pin(
    store: Store,
    *,
    router: str,
    tunnel: str,
    peer: str,
    family: str,
    address: str,
    fqdn: str,
    reason: str,
) -> int:
    with store.begin() as conn:
        # One open pin per tunnel: a new one replaces the old.
        conn.execute(
            pins.update()
            .where(pins.c.router == router, pins.c.tunnel == tunnel, pins.c.released_at.is_(None))
            .values(released_at=store.now())
        )
        inserted = conn.execute(
            pins.insert().values(
                router=router,
                tunnel=tunnel,
                peer=peer,
                family=family,
                address=address,
                fqdn=fqdn,
                pinned_at=store.now(),
                reason=reason,
            )
        )
        key = inserted.inserted_primary_key
        assert key is not None
        return int(key[0])


def release_pin(store: Store, pin_id: int) -> None:
    with store.begin() as conn:
        conn.execute(
            pins.update()
            .where(pins.c.id == pin_id, pins.c.released_at.is_(None))
            .values(released_at=store.now())
        )
