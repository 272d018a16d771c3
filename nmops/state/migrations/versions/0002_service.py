"""The service's tables: outbox (mail and webhooks), incidents, silences, link paths, job
runs, pins.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    # --- outbox: every mail and webhook is written here first, then claimed by a sender.
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("key", sa.String, nullable=False),  # dedupe: one message per key, ever
        sa.Column("channel", sa.String, nullable=False),  # mail | webhook
        sa.Column("target", sa.String, nullable=False),  # recipients or the URL (no secrets)
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("body", sa.JSON, nullable=False),
        sa.Column("state", sa.String, nullable=False),  # pending | sending | sent | dead
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("next_try_at", TIME, nullable=False),
        sa.Column("claimed_by", sa.String),
        sa.Column("claimed_until", TIME),
        sa.Column("sent_at", TIME),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.UniqueConstraint("key", name="uq_outbox_key"),
    )
    op.create_index("ix_outbox_state_next_try_at", "outbox", ["state", "next_try_at"])

    # --- incidents: findings across runs; one row per open-to-resolved episode.
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("router", sa.String, nullable=False),
        sa.Column("subject", sa.String, nullable=False),
        sa.Column("kind", sa.String, nullable=False),  # problem | flapping
        sa.Column("status", sa.String, nullable=False),  # the finding's status when opened
        sa.Column("detail", sa.Text),
        sa.Column("opened_at", TIME),  # None: seen bad, not yet confirmed
        sa.Column("since_at", TIME, nullable=False),  # when the problem was first seen
        sa.Column("resolved_at", TIME),
        sa.Column("bad_count", sa.Integer, nullable=False),
        sa.Column("good_count", sa.Integer, nullable=False),
        sa.Column("flaps", sa.Integer, nullable=False),
        sa.Column("told_at", TIME),  # the last open/remind notice, silenced or not
        sa.Column("notified_at", TIME),  # the last one mailed
        sa.Column("silenced", sa.Boolean, nullable=False),
        sa.Column("last_run", sa.Integer, nullable=False),  # a run is applied once
        sa.PrimaryKeyConstraint("id", name="pk_incidents"),
    )
    op.create_index("ix_incidents_router_subject", "incidents", ["router", "subject"])
    op.create_index("ix_incidents_resolved_at", "incidents", ["resolved_at"])

    op.create_table(
        "silences",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("router", sa.String, nullable=False),  # a router name, or * for all
        sa.Column("starts_at", TIME, nullable=False),
        sa.Column("ends_at", TIME, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("created_by", sa.String, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_silences"),
    )
    op.create_index("ix_silences_ends_at", "silences", ["ends_at"])

    # --- link paths: which tunnel carried each VPN link at each check, a row per change.
    op.create_table(
        "link_paths",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("router", sa.String, nullable=False),
        sa.Column("peer", sa.String, nullable=False),
        sa.Column("path", sa.String, nullable=False),  # ipv6 | ipv4 | down
        sa.Column("at", TIME, nullable=False),
        sa.Column("run_id", sa.Integer, nullable=False),
        sa.Column("detail", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_link_paths"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_link_paths_run_id_runs"),
    )
    op.create_index("ix_link_paths_router_peer_at", "link_paths", ["router", "peer", "at"])
    op.create_index("ix_link_paths_at", "link_paths", ["at"])

    # --- job runs of `nmops serve`: fired, missed, overrun, with their outcome.
    op.create_table(
        "job_runs",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("job", sa.String, nullable=False),
        sa.Column("scheduled_at", TIME, nullable=False),
        sa.Column("started_at", TIME),
        sa.Column("finished_at", TIME),
        sa.Column("outcome", sa.String, nullable=False),  # running | ok | failed | missed | overrun
        sa.Column("exit_code", sa.Integer),
        sa.Column("detail", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_job_runs"),
    )
    op.create_index("ix_job_runs_job_scheduled_at", "job_runs", ["job", "scheduled_at"])

    # --- pins: a tunnel switched from a broken peer FQDN to the peer's literal address.
    op.create_table(
        "pins",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("router", sa.String, nullable=False),
        sa.Column("tunnel", sa.String, nullable=False),
        sa.Column("peer", sa.String, nullable=False),
        sa.Column("family", sa.String, nullable=False),
        sa.Column("address", sa.String, nullable=False),
        sa.Column("fqdn", sa.String, nullable=False),
        sa.Column("pinned_at", TIME, nullable=False),
        sa.Column("released_at", TIME),
        sa.Column("reason", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_pins"),
    )
    op.create_index("ix_pins_router_tunnel", "pins", ["router", "tunnel"])


def downgrade() -> None:
    raise NotImplementedError("nmops does not downgrade its state database")
