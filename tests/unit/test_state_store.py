"""The state database: migrations, revisions, times and transactions.

SQLite files here; tests/integration/test_state_postgres.py runs these same tests (and those
of the other test_state_* modules but test_state_sqlite) on a real PostgreSQL by overriding
the ``state_url`` fixture. The fixtures below are shared that way too.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from nmops.state import (
    Lease,
    StateError,
    Store,
    actions_for,
    finish_run,
    start_run,
    subject_states,
    timeline,
    unfinished,
)
from nmops.state.schema import REVISION, UTCDateTime, metadata, runs
from nmops.state.store import alembic_config, current_revisions, make_engine, upgrade

START = datetime(2025, 3, 1, 9, 0, 0, tzinfo=UTC)


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def state_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'state' / 'nmops.db'}"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(state_url: str, clock: FakeClock) -> Iterator[Store]:
    with Store.open(state_url, clock=clock) as opened:
        yield opened


# --- migrations ------------------------------------------------------------------------------


def revisions() -> list[str]:
    """Alembic's revisions, oldest first."""
    script = ScriptDirectory.from_config(alembic_config())
    return [s.revision for s in reversed(list(script.walk_revisions()))]


def test_open_builds_the_schema_at_the_head(store: Store) -> None:
    assert revisions()[-1] == REVISION  # Store.open's fast path trusts REVISION
    with store.read() as conn:
        assert current_revisions(conn) == (REVISION,)
        tables = set(sa.inspect(conn).get_table_names())
    assert {"runs", "subjects", "transitions", "actions", "journal", "lease"} <= tables


def test_the_migrations_build_exactly_the_tables_of_schema_py(store: Store) -> None:
    with store.read() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert differences == []


def test_opening_an_up_to_date_database_migrates_nothing(
    state_url: str, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        Store.open(state_url).close()
    assert not [r for r in caplog.records if r.name.startswith(("alembic", "nmops.state.store"))]


def _sample_0001(conn: Connection) -> None:
    at = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
    run = {"kind": "check", "host": "old-host", "pid": 4242, "routers": 2, "exit_code": 0}
    run_id = _insert(conn, "runs", {**run, "started_at": at, "finished_at": at})
    _insert(
        conn,
        "subjects",
        {
            "router": "ix-a",
            "subject": "name:ipv4",
            "status": "stale",
            "detail": "198.51.100.1",
            "since_at": at,
            "since_run": run_id,
            "count": 3,
            "last_at": at,
            "last_run": run_id,
        },
    )
    _insert(
        conn,
        "transitions",
        {
            "router": "ix-a",
            "subject": "name:ipv4",
            "from_status": "ok",
            "to_status": "stale",
            "at": at,
            "run_id": run_id,
            "detail": "198.51.100.1",
        },
    )
    action_id = _insert(
        conn,
        "actions",
        {
            "run_id": run_id,
            "router": "ix-a",
            "problem": "name:ipv4:stale",
            "rung": "reregister",
            "commands": ["nm account fetburner password plain ****"],
            "why": "the name is stale",
            "outcome": "verified",
            "created_at": at,
            "started_at": at,
            "finished_at": at,
            "plan_id": "plan-1",
        },
    )
    _insert(
        conn,
        "journal",
        {
            "action_id": action_id,
            "router": "ix-a",
            "state": "sending",
            "edits": [[["interface Tunnel1.0"], "shutdown"]],
            "undo": [[["interface Tunnel1.0"], "no shutdown"]],
            "touched": [
                ["interface Tunnel1.0", "no shutdown"],
                ["interface Tunnel1.0", "shutdown"],
            ],
            "before": [["interface Tunnel1.0"], ["interface Tunnel1.0", "no shutdown"]],
            "sent": 0,
            "in_flight": True,
            "holder": "holder-1",
            "created_at": at,
            "updated_at": at,
        },
    )
    _insert(
        conn,
        "lease",
        {
            "name": "actor",
            "holder": "holder-1",
            "host": "old-host",
            "pid": 4242,
            "purpose": "nmops fix --apply",
            "acquired_at": at,
            "renewed_at": at,
            "expires_at": at + timedelta(minutes=2),
        },
    )


# Column types the sample rows need (times by name); lightweight tables with only the columns
# given, because schema.py describes the newest schema, not the one at each revision.
_TYPES: dict[str, sa.types.TypeEngine[Any]] = {
    "commands": sa.JSON(),
    "edits": sa.JSON(),
    "undo": sa.JSON(),
    "touched": sa.JSON(),
    "before": sa.JSON(),
    "in_flight": sa.Boolean(),
}
_NO_ID = {"subjects", "lease"}


def _insert(conn: Connection, name: str, values: dict[str, object]) -> int | None:
    columns = [
        sa.column(key, UTCDateTime() if key == "at" or key.endswith("_at") else _TYPES.get(key))
        for key in values
    ]
    table = sa.table(name, *columns)
    if name in _NO_ID:
        conn.execute(sa.insert(table).values(values))
        return None
    table.append_column(sa.column("id", sa.Integer()))
    new_id: int = conn.execute(sa.insert(table).values(values).returning(table.c.id)).scalar_one()
    return new_id


def _check_0001(store: Store) -> None:
    at = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
    [state] = subject_states(store, "ix-a")
    assert (state.status, state.count, state.since_at) == ("stale", 3, at)
    [action] = actions_for(store, "ix-a")
    assert action.commands == ("nm account fetburner password plain ****",)
    assert (action.outcome, action.plan_id, action.finished_at) == ("verified", "plan-1", at)
    [entry] = unfinished(store, "ix-a")
    assert entry.edits == ((("interface Tunnel1.0",), "shutdown"),)
    assert (entry.action_id, entry.in_flight) == (action.id, True)
    assert [e.kind for e in timeline(store, "ix-a", at)] == ["transition", "action"]
    lease = Lease(Store(store.engine, clock=lambda: at + timedelta(minutes=1)), purpose="x")
    holder = lease.held()
    assert holder is not None and (holder.host, holder.pid) == ("old-host", 4242)


def _sample_0002(conn: Connection) -> None:
    at = datetime(2025, 1, 2, tzinfo=UTC)
    conn.execute(
        sa.text(
            "INSERT INTO outbox (key, channel, target, subject, body, state, attempts,"
            " created_at, next_try_at) VALUES ('k1', 'mail', 'ops@example.net', 's',"
            " '{}', 'pending', 0, :at, :at)"
        ),
        {"at": at},
    )
    conn.execute(
        sa.text(
            "INSERT INTO pins (router, tunnel, peer, family, address, fqdn, pinned_at)"
            " VALUES ('ix-a', 'Tunnel1.0', 'ix-b', 'ipv6', '2001:db8::1', 'b.g.v6.nmddns.jp', :at)"
        ),
        {"at": at},
    )
    conn.execute(
        sa.text(
            "INSERT INTO incidents (router, subject, kind, status, since_at, bad_count,"
            " good_count, flaps, silenced, last_run) VALUES ('ix-a', 'name:ipv6', 'problem',"
            " 'missing', :at, 1, 0, 0, false, 7)"
        ),
        {"at": at},
    )
    run_id = _insert(
        conn, "runs", {"kind": "check", "started_at": at, "host": "h", "pid": 1, "routers": 1}
    )
    _insert(
        conn,
        "link_paths",
        {"router": "ix-a", "peer": "b.g.nmddns.jp", "path": "ipv4", "at": at, "run_id": run_id},
    )


def _check_0002(store: Store) -> None:
    with store.read() as conn:
        assert conn.execute(sa.text("SELECT key FROM outbox")).scalars().all() == ["k1"]
        assert conn.execute(sa.text("SELECT tunnel FROM pins")).scalars().all() == ["Tunnel1.0"]
        assert conn.execute(sa.text("SELECT status FROM incidents")).scalars().all() == ["missing"]
        assert conn.execute(sa.text("SELECT path FROM link_paths")).scalars().all() == ["ipv4"]


# Sample rows written right after each revision, and the checks that they survived every
# later one. A new migration adds its entry here (the test insists).
SAMPLES: dict[str, tuple[Callable[[Connection], None], Callable[[Store], None]]] = {
    "0001": (_sample_0001, _check_0001),
    "0002": (_sample_0002, _check_0002),
}


def test_upgrading_one_revision_at_a_time_keeps_the_rows(state_url: str, clock: FakeClock) -> None:
    steps = revisions()
    assert list(SAMPLES) == steps, "add sample rows for the new migration to SAMPLES"
    store = Store(make_engine(state_url), clock=clock)
    try:
        for revision in steps:
            upgrade(store, revision)
            with store.read() as conn:
                assert current_revisions(conn) == (revision,)
            with store.begin() as conn:
                SAMPLES[revision][0](conn)
        upgrade(store)
        for _, check in SAMPLES.values():
            check(store)
        # Sequences and defaults still work after the rows written by hand.
        assert start_run(store, "check", 1) > 1
    finally:
        store.close()


def _open_when_told(url: str, ready: Any, go: Any) -> None:
    ready.put(None)
    go.wait(60)
    Store.open(url).close()


def test_processes_opening_a_new_database_at_once_all_succeed(state_url: str) -> None:
    # One migrates; the others wait for its lock, see the head and change nothing.
    spawn = multiprocessing.get_context("spawn")
    ready, go = spawn.Queue(), spawn.Event()
    children = [
        spawn.Process(target=_open_when_told, args=(state_url, ready, go)) for _ in range(4)
    ]
    for child in children:
        child.start()
    for _ in children:
        ready.get(timeout=60)
    go.set()
    for child in children:
        child.join(60)
    assert [child.exitcode for child in children] == [0, 0, 0, 0]
    with Store.open(state_url) as store, store.read() as conn:
        assert current_revisions(conn) == (REVISION,)


def test_a_database_newer_than_this_nmops_is_refused(state_url: str, store: Store) -> None:
    with store.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0999_future'"))
    store.close()
    with pytest.raises(StateError, match="at revision 0999_future, newer than this nmops"):
        Store.open(state_url)
    with pytest.raises(StateError, match="upgrade nmops"):
        Store.open(state_url)


# --- times and transactions ------------------------------------------------------------------


def test_times_go_in_aware_and_come_back_aware_utc(store: Store, clock: FakeClock) -> None:
    tokyo = timezone(timedelta(hours=9))
    clock.now = datetime(2025, 3, 1, 18, 30, 15, 123456, tzinfo=tokyo)
    run_id = start_run(store, "fix", 3)
    with store.read() as conn:
        started = conn.execute(sa.select(runs.c.started_at).where(runs.c.id == run_id)).scalar()
    assert started == datetime(2025, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)
    assert started is not None and started.tzinfo is UTC
    assert store.now().tzinfo is UTC


def test_a_naive_time_is_refused(store: Store, clock: FakeClock) -> None:
    clock.now = datetime(2025, 3, 1, 9, 0)
    with pytest.raises(ValueError, match="naive"):
        store.now()
    with pytest.raises(sa.exc.StatementError, match="naive"), store.begin() as conn:
        conn.execute(sa.insert(runs).values(kind="check", started_at=clock.now, host="h", pid=1))


def test_a_failed_transaction_leaves_nothing(store: Store) -> None:
    with pytest.raises(KeyError), store.begin() as conn:
        conn.execute(
            sa.insert(runs).values(kind="check", started_at=START, host="h", pid=1, routers=0)
        )
        raise KeyError("boom")
    with store.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(runs)).scalar() == 0


def test_foreign_keys_are_enforced(store: Store) -> None:
    from nmops.state.schema import transitions

    with pytest.raises(IntegrityError), store.begin() as conn:
        conn.execute(
            sa.insert(transitions).values(
                router="r", subject="s", to_status="ok", at=START, run_id=12345
            )
        )


def test_runs_are_started_and_finished(store: Store, clock: FakeClock) -> None:
    assert start_run(store, "report", ["ix-a", "ix-b"]) > 0
    run_id = start_run(store, "check", 10_000)
    clock.advance(42)
    finish_run(store, run_id, 2)
    with store.read() as conn:
        row = conn.execute(sa.select(runs).where(runs.c.id == run_id)).one()
    assert (row.kind, row.routers, row.exit_code) == ("check", 10_000, 2)
    assert (row.started_at, row.finished_at) == (START, START + timedelta(seconds=42))
    assert row.pid > 0 and row.host
    with pytest.raises(ValueError, match="unknown run kind 'repair'"):
        start_run(store, "repair", 1)
    with pytest.raises(StateError, match="no run 999"):
        finish_run(store, 999, 0)
