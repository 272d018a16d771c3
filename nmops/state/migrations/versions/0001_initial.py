"""The first state schema: runs, subjects, transitions, actions, journal, lease.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Stored as naive UTC on SQLite, timestamptz on PostgreSQL (nmops.state.schema.UTCDateTime).
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("started_at", TIME, nullable=False),
        sa.Column("finished_at", TIME),
        sa.Column("host", sa.String, nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("exit_code", sa.Integer),
        sa.Column("routers", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
    )
    op.create_index("ix_runs_started_at", "runs", ["started_at"])

    op.create_table(
        "subjects",
        sa.Column("router", sa.String, nullable=False),
        sa.Column("subject", sa.String, nullable=False),
        sa.Column("status", sa.String, nullable=False),
        sa.Column("detail", sa.Text),
        sa.Column("since_at", TIME, nullable=False),
        sa.Column("since_run", sa.Integer, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("last_at", TIME, nullable=False),
        sa.Column("last_run", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("router", "subject", name="pk_subjects"),
    )

    op.create_table(
        "transitions",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("router", sa.String, nullable=False),
        sa.Column("subject", sa.String, nullable=False),
        sa.Column("from_status", sa.String),
        sa.Column("to_status", sa.String, nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.Column("run_id", sa.Integer, nullable=False),
        sa.Column("detail", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_transitions"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_transitions_run_id_runs"),
    )
    op.create_index("ix_transitions_router_at", "transitions", ["router", "at"])
    op.create_index("ix_transitions_at", "transitions", ["at"])

    op.create_table(
        "actions",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("run_id", sa.Integer, nullable=False),
        sa.Column("router", sa.String, nullable=False),
        sa.Column("problem", sa.String, nullable=False),
        sa.Column("rung", sa.String, nullable=False),
        sa.Column("commands", sa.JSON, nullable=False),
        sa.Column("why", sa.Text, nullable=False),
        sa.Column("outcome", sa.String, nullable=False),
        sa.Column("detail", sa.Text),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("started_at", TIME),
        sa.Column("finished_at", TIME),
        sa.Column("plan_id", sa.String),
        sa.PrimaryKeyConstraint("id", name="pk_actions"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_actions_run_id_runs"),
    )
    op.create_index("ix_actions_router_created_at", "actions", ["router", "created_at"])
    op.create_index("ix_actions_router_problem", "actions", ["router", "problem"])
    op.create_index("ix_actions_created_at", "actions", ["created_at"])
    op.create_index("ix_actions_run_id", "actions", ["run_id"])

    op.create_table(
        "journal",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("action_id", sa.Integer),
        sa.Column("router", sa.String, nullable=False),
        sa.Column("state", sa.String, nullable=False),
        sa.Column("edits", sa.JSON, nullable=False),
        sa.Column("undo", sa.JSON, nullable=False),
        sa.Column("touched", sa.JSON, nullable=False),
        sa.Column("before", sa.JSON, nullable=False),
        sa.Column("sent", sa.Integer, nullable=False),
        sa.Column("in_flight", sa.Boolean, nullable=False),
        sa.Column("holder", sa.String, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.Column("note", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_journal"),
        sa.ForeignKeyConstraint(["action_id"], ["actions.id"], name="fk_journal_action_id_actions"),
    )
    op.create_index("ix_journal_state_router", "journal", ["state", "router"])
    op.create_index("ix_journal_action_id", "journal", ["action_id"])

    op.create_table(
        "lease",
        sa.Column("name", sa.String, nullable=False),
        sa.Column("holder", sa.String, nullable=False),
        sa.Column("host", sa.String, nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("purpose", sa.String, nullable=False),
        sa.Column("acquired_at", TIME, nullable=False),
        sa.Column("renewed_at", TIME, nullable=False),
        sa.Column("expires_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_lease"),
    )


def downgrade() -> None:
    raise NotImplementedError("nmops does not downgrade its state database")
