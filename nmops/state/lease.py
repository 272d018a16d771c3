"""One actor at a time: a lease row that processes on any machine take by compare-and-set.

Only the holder of the lease may change routers (``fix --apply``, ``peers sync``). A holder
that crashes stops renewing; once its lease expires, the next process takes it over. Expiry
is judged by each process's clock, so hosts sharing a PostgreSQL database need NTP; the ttl
(two minutes by default) is the margin.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from types import TracebackType

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from nmops.state.schema import LEASE_ACTOR, UTCDateTime, lease
from nmops.state.store import StateError, Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Holder:
    holder: str
    host: str
    pid: int
    purpose: str
    acquired_at: datetime
    expires_at: datetime

    def describe(self, now: datetime | None = None) -> str:
        """``nmops fix --apply on HOST (pid N) since HH:MM:SS UTC, expires HH:MM:SS UTC``."""
        day = (now or self.acquired_at).date()
        return (
            f"{self.purpose} on {self.host} (pid {self.pid}) since "
            f"{_when(self.acquired_at, day)}, expires {_when(self.expires_at, day)}"
        )


def _when(at: datetime, day: date) -> str:
    # The date only when it is not today's: a lease normally lives for minutes.
    return at.strftime("%H:%M:%S UTC" if at.date() == day else "%Y-%m-%d %H:%M:%S UTC")


class LeaseHeld(StateError):
    """Another process holds the lease."""

    def __init__(self, holder: Holder, now: datetime | None = None) -> None:
        self.holder = holder
        super().__init__(
            f"the state lease is held by {holder.describe(now)}; one nmops acts at a time: "
            "wait for it to finish (or, if that process is gone, for the lease to expire)"
        )


class LeaseLost(StateError):
    """The lease was taken over (or released) while this process still meant to hold it."""


class Lease:
    """The ``actor`` lease for one process; ``with Lease(store, purpose=...):`` holds it."""

    def __init__(self, store: Store, *, purpose: str, ttl: float = 120.0) -> None:
        if ttl <= 0:
            raise ValueError(f"lease ttl must be positive, not {ttl}")
        self.store = store
        self.purpose = purpose
        self.ttl = ttl
        self.holder = uuid.uuid4().hex
        self.host = socket.gethostname()
        self.pid = os.getpid()

    def acquire(
        self,
        *,
        wait: float = 0.0,
        poll: float = 1.0,
        on_wait: Callable[[Holder], None] | None = None,
    ) -> None:
        """Take the lease, waiting up to ``wait`` seconds for its holder (``on_wait`` is told
        who that is at each poll); LeaseHeld when it is still held after that."""
        deadline = time.monotonic() + wait
        while not self._take():
            holder = self.held()
            if holder is None:
                continue  # released or expired between the two statements: try again
            if self._dead_here(holder):
                log.warning("state lease: its holder %s is gone; taking it over", holder.describe())
                self._take_from(holder)
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                raise LeaseHeld(holder, self.store.now())
            if on_wait is not None:
                on_wait(holder)
            time.sleep(min(poll, left))
        log.info("state lease taken for %s (holder %s)", self.purpose, self.holder)

    def _dead_here(self, holder: Holder) -> bool:
        """A holder on this host whose process has gone (killed, crashed): its lease need not
        run out first. On another host nmops cannot tell, and waits for the expiry."""
        if holder.host != self.host or holder.pid == self.pid:
            return False
        try:
            os.kill(holder.pid, 0)
        except ProcessLookupError:
            return True
        except OSError:
            return False  # alive, but not ours to signal
        return False

    def _take_from(self, holder: Holder) -> None:
        """Expire ``holder``'s row (only if it is still theirs), so ``_take`` may have it."""
        with self.store.begin() as conn:
            conn.execute(
                sa.update(lease)
                .where(lease.c.name == LEASE_ACTOR, lease.c.holder == holder.holder)
                .values(expires_at=self.store.now() - timedelta(seconds=1))
            )

    def _take(self) -> bool:
        """One compare-and-set: take over an expired (or our own) row, else insert one."""
        now = self.store.now()
        row = {
            "holder": self.holder,
            "host": self.host,
            "pid": self.pid,
            "purpose": self.purpose,
            "renewed_at": now,
            "expires_at": now + timedelta(seconds=self.ttl),
        }
        mine = lease.c.holder == self.holder
        # Taking it again keeps the time it was first taken.
        acquired = sa.case((mine, lease.c.acquired_at), else_=sa.literal(now, UTCDateTime()))
        with self.store.begin() as conn:
            taken = conn.execute(
                sa.update(lease)
                .where(lease.c.name == LEASE_ACTOR, sa.or_(lease.c.expires_at < now, mine))
                .values(acquired_at=acquired, **row)
            ).rowcount
        if taken:
            return True
        try:
            # The primary key decides a race between two processes inserting.
            with self.store.begin() as conn:
                conn.execute(sa.insert(lease).values(name=LEASE_ACTOR, acquired_at=now, **row))
        except IntegrityError:
            return False
        return True

    def renew(self) -> None:
        """Extend the lease by its ttl; LeaseLost if it is no longer this process's."""
        now = self.store.now()
        with self.store.begin() as conn:
            renewed = conn.execute(
                sa.update(lease)
                .where(lease.c.name == LEASE_ACTOR, lease.c.holder == self.holder)
                .values(renewed_at=now, expires_at=now + timedelta(seconds=self.ttl))
            ).rowcount
        if not renewed:
            other = self.held()
            raise LeaseLost(
                f"the state lease of {self.purpose} was lost: "
                + (f"it is now held by {other.describe(now)}" if other else "nobody holds it")
                + "; stop changing routers: another nmops may be acting on them"
            )

    def release(self) -> None:
        """Give the lease up (only if it is still ours; a missing row is fine)."""
        with self.store.begin() as conn:
            conn.execute(
                sa.delete(lease).where(lease.c.name == LEASE_ACTOR, lease.c.holder == self.holder)
            )
        log.info("state lease released by %s", self.purpose)

    def held(self) -> Holder | None:
        """Who holds the lease now (None when it is free or has expired)."""
        now = self.store.now()
        with self.store.read() as conn:
            row = conn.execute(
                sa.select(lease).where(lease.c.name == LEASE_ACTOR, lease.c.expires_at >= now)
            ).first()
        if row is None:
            return None
        return Holder(
            holder=row.holder,
            host=row.host,
            pid=row.pid,
            purpose=row.purpose,
            acquired_at=row.acquired_at,
            expires_at=row.expires_at,
        )

    def __enter__(self) -> Lease:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


async def keep_alive(lease: Lease, interval: float | None = None) -> None:
    """Renew ``lease`` every ``interval`` seconds (a third of its ttl by default) until
    cancelled. Run it beside the work, so that a lost lease stops the work::

        async with asyncio.TaskGroup() as group:
            renewing = group.create_task(keep_alive(lease))
            await apply_steps()     # may also call lease.renew() between steps
            renewing.cancel()

    LeaseLost ends this task with an error, and the task group then cancels ``apply_steps``.
    """
    period = lease.ttl / 3 if interval is None else interval
    while True:
        await asyncio.sleep(period)
        # The database calls block: keep them off the event loop that talks to routers.
        await asyncio.to_thread(lease.renew)
