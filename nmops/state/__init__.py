"""nmops's state database (SQLite in WAL mode, or PostgreSQL): what each run saw, what was
done about it, the journal of changes in flight, and the lease that lets one process act.

SQLAlchemy Core only; the schema is built by the Alembic migrations in ``migrations/``, run by
:meth:`Store.open`. Every time is an aware UTC ``datetime``.
"""

from __future__ import annotations

from nmops.state.actions import Action, actions_for, add_action, reboots_since, set_outcome
from nmops.state.history import Event, timeline
from nmops.state.journal import (
    JournalEntry,
    JournalSecretError,
    begin_step,
    finish,
    mark_sending,
    mark_sent,
    mark_undoing,
    unfinished,
)
from nmops.state.lease import Holder, Lease, LeaseHeld, LeaseLost, keep_alive
from nmops.state.observations import (
    Observed,
    SubjectState,
    Transition,
    consecutive,
    finish_run,
    record_run,
    start_run,
    subject_states,
)
from nmops.state.store import StateError, Store

__all__ = [
    "Action",
    "Event",
    "Holder",
    "JournalEntry",
    "JournalSecretError",
    "Lease",
    "LeaseHeld",
    "LeaseLost",
    "Observed",
    "StateError",
    "Store",
    "SubjectState",
    "Transition",
    "actions_for",
    "add_action",
    "begin_step",
    "consecutive",
    "finish",
    "finish_run",
    "keep_alive",
    "mark_sending",
    "mark_sent",
    "mark_undoing",
    "reboots_since",
    "record_run",
    "set_outcome",
    "start_run",
    "subject_states",
    "timeline",
    "unfinished",
]
