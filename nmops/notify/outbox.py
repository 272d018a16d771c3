"""The outbox table: messages written first, then claimed by one sender at a time.

A row goes ``pending`` -> ``sending`` (claimed: ``claimed_by`` a token unique to one pass of
one sender, until ``claimed_until``) -> ``sent``, or back to ``pending`` with a later
``next_try_at`` after a failure, or ``dead`` when it has failed too often or for too long.

Each claim is one UPDATE whose WHERE repeats the claim conditions, so of two senders (two
processes, two hosts on PostgreSQL) only one can move a row to ``sending``: SQLite takes the
write lock for the whole statement, PostgreSQL re-checks the WHERE on the row it waited for.
A claim whose sender died expires and is taken again. Every later change of the row names the
claim token, so a sender whose claim was taken over cannot mark someone else's row.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Row
from sqlalchemy.dialects import postgresql, sqlite

from nmops.state.schema import OUTBOX_CHANNELS, check_value, outbox
from nmops.state.store import Store

BACKOFF_BASE = 30.0  # seconds before the first retry; doubled each time
BACKOFF_CAP = 3600.0
ERROR_LIMIT = 500  # characters of last_error kept


@dataclass(frozen=True)
class NewRow:
    key: str  # unique: a row with the same key is never written twice
    channel: str  # mail | webhook
    target: str  # the recipient or the webhook URL
    subject: str
    body: dict[str, Any]


@dataclass(frozen=True)
class OutboxRow:
    id: int
    key: str
    channel: str
    target: str
    subject: str
    body: dict[str, Any]
    state: str
    attempts: int
    last_error: str | None
    created_at: datetime
    next_try_at: datetime
    claimed_by: str | None
    claimed_until: datetime | None
    sent_at: datetime | None


def _row(row: Row[Any]) -> OutboxRow:
    return OutboxRow(**{c.name: getattr(row, c.name) for c in outbox.columns})


def backoff(attempts: int, row_id: int = 0) -> timedelta:
    """The wait after the ``attempts``-th failure: 30 s, 1 min, 2 min ... at most an hour,
    spread by up to a tenth by the row's id, so rows that failed together do not all come
    back in the same second (no storm when the server returns)."""
    base = min(BACKOFF_BASE * 2 ** max(attempts - 1, 0), BACKOFF_CAP)
    spread = (int(hashlib.sha256(str(row_id).encode()).hexdigest()[:4], 16) / 0xFFFF) * 0.1
    return timedelta(seconds=base * (1 + spread))


def _insert(conn: Connection) -> Any:
    # ON CONFLICT DO NOTHING on the unique key: queueing the same message twice is a no-op,
    # also when two processes race to queue it.
    if conn.dialect.name == "postgresql":
        return postgresql.insert(outbox).on_conflict_do_nothing(index_elements=["key"])
    if conn.dialect.name == "sqlite":
        return sqlite.insert(outbox).on_conflict_do_nothing(index_elements=["key"])
    raise NotImplementedError(f"the outbox does not support {conn.dialect.name}")


def add(store: Store, rows: Sequence[NewRow]) -> int:
    """Queue ``rows`` (those whose key is new); returns how many were written."""
    if not rows:
        return 0
    now = store.now()
    written = 0
    with store.begin() as conn:
        # RETURNING counts what was written (the driver's rowcount is -1 on PostgreSQL).
        statement = _insert(conn).returning(outbox.c.id)
        for new in rows:
            check_value("outbox channel", new.channel, OUTBOX_CHANNELS)
            result = conn.execute(
                statement.values(
                    key=new.key,
                    channel=new.channel,
                    target=new.target,
                    subject=new.subject,
                    body=new.body,
                    state="pending",
                    attempts=0,
                    created_at=now,
                    next_try_at=now,
                )
            )
            written += len(result.all())
    return written


def _claimable(now: datetime) -> sa.ColumnElement[bool]:
    due = sa.and_(outbox.c.state == "pending", outbox.c.next_try_at <= now)
    expired = sa.and_(outbox.c.state == "sending", outbox.c.claimed_until < now)
    return sa.or_(due, expired)


def release_waits(store: Store) -> None:
    """Make every pending row due now (``--flush``); one that fails again is scheduled as
    usual, so a pass still tries each row once."""
    with store.begin() as conn:
        conn.execute(
            sa.update(outbox).where(outbox.c.state == "pending").values(next_try_at=store.now())
        )


def claim(store: Store, token: str, *, ttl: float, limit: int) -> list[OutboxRow]:
    """Take up to ``limit`` due rows for ``token``, counting the attempt now: a sender that
    dies mid-send still used one (so a mail that kills its sender is given up in the end)."""
    now = store.now()
    claimable = _claimable(now)
    ids = sa.select(outbox.c.id).where(claimable).order_by(outbox.c.id).limit(limit)
    with store.begin() as conn:
        conn.execute(
            sa.update(outbox)
            .where(outbox.c.id.in_(ids.scalar_subquery()), claimable)
            .values(
                state="sending",
                claimed_by=token,
                claimed_until=now + timedelta(seconds=ttl),
                attempts=outbox.c.attempts + 1,
            )
        )
        rows = conn.execute(
            sa.select(outbox)
            .where(outbox.c.claimed_by == token, outbox.c.state == "sending")
            .order_by(outbox.c.id)
        ).all()
    return [_row(r) for r in rows]


def _mine(row_id: int, token: str) -> sa.ColumnElement[bool]:
    return sa.and_(outbox.c.id == row_id, outbox.c.claimed_by == token, outbox.c.state == "sending")


def renew(store: Store, row_id: int, token: str, ttl: float) -> bool:
    """Extend the claim right before sending; False when it is no longer ours."""
    until = store.now() + timedelta(seconds=ttl)
    with store.begin() as conn:
        done = conn.execute(
            sa.update(outbox).where(_mine(row_id, token)).values(claimed_until=until)
        ).rowcount
    return bool(done)


def mark_sent(store: Store, row_id: int, token: str) -> bool:
    with store.begin() as conn:
        done = conn.execute(
            sa.update(outbox)
            .where(_mine(row_id, token))
            .values(state="sent", sent_at=store.now(), claimed_until=None, last_error=None)
        ).rowcount
    return bool(done)


def mark_failed(
    store: Store, row_id: int, token: str, error: str, *, retry_at: datetime | None
) -> bool:
    """Back to ``pending`` until ``retry_at``, or ``dead`` (``retry_at`` None)."""
    values: dict[str, Any] = {"last_error": error[:ERROR_LIMIT], "claimed_until": None}
    if retry_at is None:
        values["state"] = "dead"
    else:
        values.update(state="pending", next_try_at=retry_at, claimed_by=None)
    with store.begin() as conn:
        done = conn.execute(sa.update(outbox).where(_mine(row_id, token)).values(**values)).rowcount
    return bool(done)


def requeue_dead(store: Store, *, since: datetime) -> int:
    """Dead rows created after ``since`` back to ``pending`` with their tries and age reset
    (someone fixed what killed them and asks for another go; the message keeps its own Date);
    returns how many."""
    now = store.now()
    with store.begin() as conn:
        done = conn.execute(
            sa.update(outbox)
            .where(outbox.c.state == "dead", outbox.c.created_at >= since)
            .values(
                state="pending",
                attempts=0,
                created_at=now,
                next_try_at=now,
                claimed_by=None,
                claimed_until=None,
            )
        ).rowcount
    return int(done)


def waiting(store: Store, *, dead_since: datetime | None = None) -> list[OutboxRow]:
    """Rows not sent yet (pending, sending), and the dead ones created after ``dead_since``."""
    states: list[sa.ColumnElement[bool]] = [outbox.c.state.in_(("pending", "sending"))]
    if dead_since is not None:
        states.append(sa.and_(outbox.c.state == "dead", outbox.c.created_at >= dead_since))
    with store.read() as conn:
        rows = conn.execute(sa.select(outbox).where(sa.or_(*states)).order_by(outbox.c.id)).all()
    return [_row(r) for r in rows]


def count_waiting(store: Store) -> int:
    """The outbox depth: rows still to be sent."""
    with store.read() as conn:
        count = conn.execute(
            sa.select(sa.func.count())
            .select_from(outbox)
            .where(outbox.c.state.in_(("pending", "sending")))
        ).scalar_one()
    return int(count)


def by_keys(store: Store, keys: Sequence[str]) -> list[OutboxRow]:
    with store.read() as conn:
        rows = conn.execute(
            sa.select(outbox).where(outbox.c.key.in_(list(keys))).order_by(outbox.c.id)
        ).all()
    return [_row(r) for r in rows]
