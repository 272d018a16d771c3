"""Retention: delete history older than ``state.retention`` so the database stays bounded.

What is current stays, however old: every subject's row (its status and since when), open
and pending incidents, unfinished journal entries, pins in force, silences not yet over, mail
still waiting, the newest path of every VPN link, and the runs any of those point at. So do
the actions of a router that has a problem older than the cutoff: the repair ladder reads
them to know which rungs were tried, and losing them would make it climb again.

Each table is compacted in its own transaction, so a large first compaction never holds
SQLite's write lock for long; rerunning it deletes nothing more.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import Connection

from nmops.state.schema import (
    UNFINISHED,
    actions,
    incidents,
    job_runs,
    journal,
    link_paths,
    outbox,
    pins,
    runs,
    silences,
    subjects,
    transitions,
)
from nmops.state.store import Store

log = logging.getLogger(__name__)
OK = "ok"


@dataclass(frozen=True)
class Compacted:
    cutoff: datetime
    deleted: dict[str, int] = field(default_factory=dict)  # table -> rows deleted

    @property
    def total(self) -> int:
        return sum(self.deleted.values())

    def summary(self) -> str:
        parts = [f"{n} {table}" for table, n in self.deleted.items() if n]
        return f"before {self.cutoff:%Y-%m-%d %H:%M} UTC: " + (
            ", ".join(parts) if parts else "nothing to delete"
        )


def compact(store: Store, retention: timedelta, *, now: datetime | None = None) -> Compacted:
    """Delete what is older than ``retention`` and no longer current (see the module)."""
    cutoff = (now or store.now()) - retention
    deleted: dict[str, int] = {}
    for table, step in _STEPS:
        with store.begin() as conn:
            deleted[table] = max(step(conn, cutoff), 0)
    if store.engine.dialect.name == "sqlite":
        _checkpoint(store)
    result = Compacted(cutoff, deleted)
    log.info("state database %s compacted: %s", store.where, result.summary())
    return result


def _checkpoint(store: Store) -> None:
    """SQLite reuses deleted pages by itself; its WAL file only shrinks at a checkpoint, which
    must run outside any transaction (inside one it finds the tables locked)."""
    raw = store.engine.raw_connection()
    try:
        raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.Error as exc:  # busy readers: a later checkpoint does it
        log.info("state database %s: no WAL checkpoint now: %s", store.where, exc)
    finally:
        raw.close()


def _transitions(conn: Connection, cutoff: datetime) -> int:
    return conn.execute(sa.delete(transitions).where(transitions.c.at < cutoff)).rowcount


def _journal(conn: Connection, cutoff: datetime) -> int:
    return conn.execute(
        sa.delete(journal).where(journal.c.updated_at < cutoff, journal.c.state.not_in(UNFINISHED))
    ).rowcount


def _actions(conn: Connection, cutoff: datetime) -> int:
    # A router with a problem older than the cutoff keeps its actions since that problem began.
    oldest_bad = (
        sa.select(sa.func.min(subjects.c.since_at))
        .where(subjects.c.router == actions.c.router, subjects.c.status != OK)
        .scalar_subquery()
    )
    kept_by_journal = sa.select(journal.c.action_id).where(journal.c.action_id.is_not(None))
    return conn.execute(
        sa.delete(actions).where(
            actions.c.created_at < cutoff,
            sa.or_(oldest_bad.is_(None), actions.c.created_at < oldest_bad),
            actions.c.id.not_in(kept_by_journal),
        )
    ).rowcount


def _link_paths(conn: Connection, cutoff: datetime) -> int:
    # The newest row of a link says which path it is on now: it stays.
    newest = sa.select(sa.func.max(link_paths.c.id)).group_by(
        link_paths.c.router, link_paths.c.peer
    )
    return conn.execute(
        sa.delete(link_paths).where(link_paths.c.at < cutoff, link_paths.c.id.not_in(newest))
    ).rowcount


def _job_runs(conn: Connection, cutoff: datetime) -> int:
    return conn.execute(
        sa.delete(job_runs).where(job_runs.c.scheduled_at < cutoff, job_runs.c.outcome != "running")
    ).rowcount


def _incidents(conn: Connection, cutoff: datetime) -> int:
    return conn.execute(sa.delete(incidents).where(incidents.c.resolved_at < cutoff)).rowcount


def _outbox(conn: Connection, cutoff: datetime) -> int:
    return conn.execute(
        sa.delete(outbox).where(outbox.c.created_at < cutoff, outbox.c.state.in_(("sent", "dead")))
    ).rowcount


def _pins(conn: Connection, cutoff: datetime) -> int:
    return conn.execute(sa.delete(pins).where(pins.c.released_at < cutoff)).rowcount


def _silences(conn: Connection, cutoff: datetime) -> int:
    return conn.execute(sa.delete(silences).where(silences.c.ends_at < cutoff)).rowcount


def _runs(conn: Connection, cutoff: datetime) -> int:
    # Last: a run goes only when nothing that stays refers to it.
    referenced = sa.union(
        sa.select(transitions.c.run_id),
        sa.select(actions.c.run_id),
        sa.select(link_paths.c.run_id),
        sa.select(subjects.c.since_run),
        sa.select(subjects.c.last_run),
        sa.select(incidents.c.last_run),
    ).subquery()
    return conn.execute(
        sa.delete(runs).where(
            runs.c.started_at < cutoff, runs.c.id.not_in(sa.select(referenced.c[0]))
        )
    ).rowcount


_STEPS = (
    ("transitions", _transitions),
    ("journal", _journal),
    ("actions", _actions),
    ("link_paths", _link_paths),
    ("job_runs", _job_runs),
    ("incidents", _incidents),
    ("outbox", _outbox),
    ("pins", _pins),
    ("silences", _silences),
    ("runs", _runs),
)
