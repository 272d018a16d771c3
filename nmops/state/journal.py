"""Write ahead, then act: each step's edits and their undo, recorded before anything is sent.

Every call is its own committed transaction, so a crash at any point leaves on disk how far a
step got: ``sent`` edits were confirmed, and ``in_flight`` says whether the next one was
written without its answer being read (it may or may not have been applied). The next run
finds the step in :func:`unfinished` and undoes it before doing anything new.

Lines are stored exactly as they will be typed, so they must not carry a secret: the journal
refuses any line that masking would change.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Row

from nmops.ix.lines import Edit
from nmops.ix.masking import mask_line
from nmops.state.schema import JOURNAL_STATES, UNFINISHED, check_value, journal
from nmops.state.store import StateError, Store

# One edit as stored: the block headers from the top, and the line typed there.
Step = tuple[tuple[str, ...], str]
EditLike = Edit | tuple[Sequence[str], str]

FINAL = ("done", "undone", "failed")


class JournalSecretError(StateError):
    """A line given to the journal carries a secret."""


@dataclass(frozen=True)
class JournalEntry:
    id: int
    action_id: int | None
    router: str
    state: str
    edits: tuple[Step, ...]
    undo: tuple[Step, ...]
    touched: frozenset[tuple[str, ...]]
    before: frozenset[tuple[str, ...]]
    sent: int
    in_flight: bool
    holder: str
    created_at: datetime
    updated_at: datetime
    note: str | None = None


def begin_step(
    store: Store,
    *,
    router: str,
    action_id: int | None,
    edits: Iterable[EditLike],
    undo: Iterable[EditLike],
    holder: str,
    touched: Iterable[Sequence[str]] = (),
    before: Iterable[Sequence[str]] = (),
) -> int:
    """Record a step before sending it (state ``pending``); returns the entry's id.
    ``touched`` and ``before`` are config paths (block headers, then the line): what the step
    touches, and what of that the config held before (see ``nmops.ix.lines.around``)."""
    rows = {
        "edits": _stored(router, "edit", edits),
        "undo": _stored(router, "undo edit", undo),
        "touched": _paths(router, "touched path", touched),
        "before": _paths(router, "earlier path", before),
    }
    now = store.now()
    with store.begin() as conn:
        key = conn.execute(
            sa.insert(journal).values(
                action_id=action_id,
                router=router,
                state="pending",
                sent=0,
                in_flight=False,
                holder=holder,
                created_at=now,
                updated_at=now,
                **rows,
            )
        ).inserted_primary_key
    if not key or not isinstance(key[0], int):
        raise StateError(f"state database {store.where}: no id for the new journal entry")
    return key[0]


def _stored(router: str, what: str, edits: Iterable[EditLike]) -> list[list[Any]]:
    stored: list[list[Any]] = []
    for index, edit in enumerate(edits):
        context, line = (edit.context, edit.line) if isinstance(edit, Edit) else edit
        if isinstance(context, str):
            raise TypeError(f"{what} {index}: the context is a tuple of headers, not {context!r}")
        for text in (*context, line):
            if mask_line(text) != text:
                raise JournalSecretError(
                    f"refusing to journal {what} {index} for {router} "
                    f"({mask_line(text)!r}): it carries a secret, and the journal never "
                    "stores one; a step that types a secret cannot be journaled"
                )
        stored.append([list(context), line])
    return stored


def _paths(router: str, what: str, paths: Iterable[Sequence[str]]) -> list[list[str]]:
    stored = sorted([list(p) for p in paths])
    for path in stored:
        for text in path:
            if mask_line(text) != text:
                raise JournalSecretError(
                    f"refusing to journal a {what} for {router} ({mask_line(text)!r}): it "
                    "carries a secret, and the journal never stores one"
                )
    return stored


def mark_sending(store: Store, entry_id: int, index: int) -> None:
    """Edit ``index`` is about to be written (it is in flight until :func:`mark_sent`)."""
    with store.begin() as conn:
        entry = _get(store, conn, entry_id)
        if entry.state not in ("pending", "sending") or entry.sent != index:
            raise _out_of_order(entry, f"mark edit {index} as sending")
        if index >= len(entry.edits):
            raise StateError(f"journal entry {entry_id} has no edit {index}")
        _set(store, conn, entry_id, state="sending", in_flight=True)


def mark_sent(store: Store, entry_id: int, index: int) -> None:
    """The router's answer to edit ``index`` was read: ``index + 1`` edits are sent."""
    with store.begin() as conn:
        entry = _get(store, conn, entry_id)
        if entry.state != "sending" or not entry.in_flight or entry.sent != index:
            raise _out_of_order(entry, f"mark edit {index} as sent")
        _set(store, conn, entry_id, sent=index + 1, in_flight=False)


def mark_undoing(store: Store, entry_id: int, note: str | None = None) -> None:
    """The step's undo is about to be sent (a crash now leaves it ``undoing``)."""
    with store.begin() as conn:
        entry = _get(store, conn, entry_id)
        if entry.state not in UNFINISHED:
            raise _out_of_order(entry, "undo it")
        _set(store, conn, entry_id, state="undoing", note=note if note else entry.note)


def finish(store: Store, entry_id: int, state: str, note: str | None = None) -> None:
    """Close the step: ``done``, ``undone`` or ``failed``."""
    check_value("final journal state", state, FINAL)
    with store.begin() as conn:
        entry = _get(store, conn, entry_id)
        _set(store, conn, entry_id, state=state, in_flight=False, note=note or entry.note)


def unfinished(store: Store, router: str | None = None) -> list[JournalEntry]:
    """Steps not closed (pending, sending or undoing), oldest first."""
    query = sa.select(journal).where(journal.c.state.in_(UNFINISHED)).order_by(journal.c.id)
    if router is not None:
        query = query.where(journal.c.router == router)
    with store.read() as conn:
        return [_entry(row) for row in conn.execute(query)]


def get_entry(store: Store, entry_id: int) -> JournalEntry:
    with store.read() as conn:
        return _get(store, conn, entry_id)


def _get(store: Store, conn: Connection, entry_id: int) -> JournalEntry:
    row = conn.execute(sa.select(journal).where(journal.c.id == entry_id)).first()
    if row is None:
        raise StateError(f"state database {store.where}: there is no journal entry {entry_id}")
    return _entry(row)


def _set(store: Store, conn: Connection, entry_id: int, **values: Any) -> None:
    if "state" in values:
        check_value("journal state", values["state"], JOURNAL_STATES)
    conn.execute(
        sa.update(journal).where(journal.c.id == entry_id).values(updated_at=store.now(), **values)
    )


def _out_of_order(entry: JournalEntry, doing: str) -> StateError:
    return StateError(
        f"journal entry {entry.id} ({entry.router}): cannot {doing} while it is {entry.state} "
        f"with {entry.sent} of {len(entry.edits)} edits sent"
        + (" and one in flight" if entry.in_flight else "")
    )


def _steps(value: Any) -> tuple[Step, ...]:
    return tuple((tuple(context), line) for context, line in value)


def _entry(row: Row[Any]) -> JournalEntry:
    m = row._mapping
    return JournalEntry(
        id=m["id"],
        action_id=m["action_id"],
        router=m["router"],
        state=m["state"],
        edits=_steps(m["edits"]),
        undo=_steps(m["undo"]),
        touched=frozenset(tuple(p) for p in m["touched"]),
        before=frozenset(tuple(p) for p in m["before"]),
        sent=m["sent"],
        in_flight=bool(m["in_flight"]),
        holder=m["holder"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        note=m["note"],
    )
