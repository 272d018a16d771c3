"""The state database's tables (SQLAlchemy Core), the same on SQLite and PostgreSQL.

The migrations in ``migrations/versions`` create these tables; a test compares the migrated
database with this module, so a column added here without a migration fails the suite.

Enumerated columns (run kinds, rungs, outcomes, journal states) are checked in Python, not by
CHECK constraints: SQLite cannot alter a CHECK, so adding a value in a later issue would mean
rebuilding a table that others reference.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

RUN_KINDS = ("check", "fix", "peers-sync", "report", "serve")
RUNGS = (
    "config-fix",
    "reregister",
    "client-restart",
    "tunnel-bounce",
    "reboot",
    "upstream",
    "needs-human",
    "peers-sync",
    "pin",
    "unpin",
)
OUTCOMES = (
    "planned",
    "running",
    "applied",
    "verified",
    "no-effect",
    "failed",
    "undone",
    "blocked",
    "lost",
    "skipped",
)
JOURNAL_STATES = ("pending", "sending", "done", "undoing", "undone", "failed")
UNFINISHED = ("pending", "sending", "undoing")
LEASE_ACTOR = "actor"

# The migration that brings a database to these tables (a test checks it is Alembic's head):
# Store.open recognises an up-to-date database by it without loading Alembic.
REVISION = "0002"


class UTCDateTime(sa.TypeDecorator[datetime]):
    """An aware UTC ``datetime`` in and out, on every backend.

    SQLite has no time zones: the value is stored as naive UTC text (fixed width, so text
    comparison orders it) and comes back aware. A naive value is refused rather than guessed.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: the state database stores UTC only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {value!r}")
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# Named constraints: later migrations (batch mode on SQLite) refer to them by name.
metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String, nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime),
    sa.Column("host", sa.String, nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("exit_code", sa.Integer),
    sa.Column("routers", sa.Integer, nullable=False),
    sa.Index(None, "started_at"),
)

subjects = sa.Table(
    "subjects",
    metadata,
    sa.Column("router", sa.String, primary_key=True),
    sa.Column("subject", sa.String, primary_key=True),
    sa.Column("status", sa.String, nullable=False),
    sa.Column("detail", sa.Text),
    sa.Column("since_at", UTCDateTime, nullable=False),
    sa.Column("since_run", sa.Integer, nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("last_at", UTCDateTime, nullable=False),
    sa.Column("last_run", sa.Integer, nullable=False),
)

transitions = sa.Table(
    "transitions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("router", sa.String, nullable=False),
    sa.Column("subject", sa.String, nullable=False),
    sa.Column("from_status", sa.String),
    sa.Column("to_status", sa.String, nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("detail", sa.Text),
    # The timeline: one router since a time, or every router since a time.
    sa.Index(None, "router", "at"),
    sa.Index(None, "at"),
)

actions = sa.Table(
    "actions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("router", sa.String, nullable=False),
    sa.Column("problem", sa.String, nullable=False),
    sa.Column("rung", sa.String, nullable=False),
    sa.Column("commands", sa.JSON, nullable=False),
    sa.Column("why", sa.Text, nullable=False),
    sa.Column("outcome", sa.String, nullable=False),
    sa.Column("detail", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("started_at", UTCDateTime),
    sa.Column("finished_at", UTCDateTime),
    sa.Column("plan_id", sa.String),
    # actions_for / reboots_since (router, then time or problem); the timeline of all routers.
    sa.Index(None, "router", "created_at"),
    sa.Index(None, "router", "problem"),
    sa.Index(None, "created_at"),
    sa.Index(None, "run_id"),
)

journal = sa.Table(
    "journal",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("action_id", sa.Integer, sa.ForeignKey("actions.id")),
    sa.Column("router", sa.String, nullable=False),
    sa.Column("state", sa.String, nullable=False),
    sa.Column("edits", sa.JSON, nullable=False),
    sa.Column("undo", sa.JSON, nullable=False),
    # The config paths the step touches, and those of them (with their blocks) that existed
    # before it: enough to put them back from whatever state an interruption left.
    sa.Column("touched", sa.JSON, nullable=False),
    sa.Column("before", sa.JSON, nullable=False),
    sa.Column("sent", sa.Integer, nullable=False),
    sa.Column("in_flight", sa.Boolean, nullable=False),
    sa.Column("holder", sa.String, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("note", sa.Text),
    # unfinished(): every run asks for the few entries not done.
    sa.Index(None, "state", "router"),
    sa.Index(None, "action_id"),
)

lease = sa.Table(
    "lease",
    metadata,
    sa.Column("name", sa.String, primary_key=True),
    sa.Column("holder", sa.String, nullable=False),
    sa.Column("host", sa.String, nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("purpose", sa.String, nullable=False),
    sa.Column("acquired_at", UTCDateTime, nullable=False),
    sa.Column("renewed_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
)


# --- 0002: the service (issue 9) and pins (issue 8) ----------------------------------------

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("key", sa.String, nullable=False),
    sa.Column("channel", sa.String, nullable=False),
    sa.Column("target", sa.String, nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("body", sa.JSON, nullable=False),
    sa.Column("state", sa.String, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("next_try_at", UTCDateTime, nullable=False),
    sa.Column("claimed_by", sa.String),
    sa.Column("claimed_until", UTCDateTime),
    sa.Column("sent_at", UTCDateTime),
    sa.UniqueConstraint("key"),
    sa.Index(None, "state", "next_try_at"),
)
OUTBOX_CHANNELS = ("mail", "webhook")
OUTBOX_STATES = ("pending", "sending", "sent", "dead")

incidents = sa.Table(
    "incidents",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("router", sa.String, nullable=False),
    sa.Column("subject", sa.String, nullable=False),
    sa.Column("kind", sa.String, nullable=False),
    sa.Column("status", sa.String, nullable=False),
    sa.Column("detail", sa.Text),
    sa.Column("opened_at", UTCDateTime),  # None: seen bad, not yet confirm_after times
    sa.Column("since_at", UTCDateTime, nullable=False),
    sa.Column("resolved_at", UTCDateTime),
    sa.Column("bad_count", sa.Integer, nullable=False),
    sa.Column("good_count", sa.Integer, nullable=False),
    sa.Column("flaps", sa.Integer, nullable=False),
    sa.Column("told_at", UTCDateTime),  # the last open/remind notice, silenced or not
    sa.Column("notified_at", UTCDateTime),  # the last one that was mailed
    sa.Column("silenced", sa.Boolean, nullable=False),
    sa.Column("last_run", sa.Integer, nullable=False),  # a run is applied once
    sa.Index(None, "router", "subject"),
    sa.Index(None, "resolved_at"),
)
INCIDENT_KINDS = ("problem", "flapping")

silences = sa.Table(
    "silences",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("router", sa.String, nullable=False),
    sa.Column("starts_at", UTCDateTime, nullable=False),
    sa.Column("ends_at", UTCDateTime, nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("created_by", sa.String, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index(None, "ends_at"),
)

# Which path carried each VPN link as its routers' IKE SAs showed it: a row per change.
link_paths = sa.Table(
    "link_paths",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("router", sa.String, nullable=False),
    sa.Column("peer", sa.String, nullable=False),
    sa.Column("path", sa.String, nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("detail", sa.Text),
    sa.Index(None, "router", "peer", "at"),
    sa.Index(None, "at"),
)
LINK_PATHS = ("ipv6", "ipv4", "down")

job_runs = sa.Table(
    "job_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("job", sa.String, nullable=False),
    sa.Column("scheduled_at", UTCDateTime, nullable=False),
    sa.Column("started_at", UTCDateTime),
    sa.Column("finished_at", UTCDateTime),
    sa.Column("outcome", sa.String, nullable=False),
    sa.Column("exit_code", sa.Integer),
    sa.Column("detail", sa.Text),
    sa.Index(None, "job", "scheduled_at"),
)
JOB_OUTCOMES = ("running", "ok", "failed", "missed", "overrun")

pins = sa.Table(
    "pins",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("router", sa.String, nullable=False),
    sa.Column("tunnel", sa.String, nullable=False),
    sa.Column("peer", sa.String, nullable=False),
    sa.Column("family", sa.String, nullable=False),
    sa.Column("address", sa.String, nullable=False),
    sa.Column("fqdn", sa.String, nullable=False),
    sa.Column("pinned_at", UTCDateTime, nullable=False),
    sa.Column("released_at", UTCDateTime),
    sa.Column("reason", sa.Text),
    sa.Index(None, "router", "tunnel"),
)


def check_value(what: str, value: str, allowed: tuple[str, ...]) -> str:
    """``value`` if it is one of ``allowed``; a ValueError naming the choices otherwise."""
    if value not in allowed:
        raise ValueError(f"unknown {what} {value!r}; expected one of {', '.join(allowed)}")
    return value
