"""What only SQLite needs: its settings on every connection, its file, its locks."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from nmops.state import StateError, Store, start_run
from nmops.state.schema import runs
from nmops.state.store import make_engine
from tests.unit import test_state_store as base

# Shared fixtures (see test_state_store).
clock = base.clock


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "deep" / "er" / "nmops.db"


@pytest.fixture
def store(db: Path, clock: base.FakeClock) -> Iterator[Store]:
    with Store.open(f"sqlite:///{db}", clock=clock) as opened:
        yield opened


def test_open_creates_the_folders_and_a_wal_database(db: Path, store: Store) -> None:
    assert db.is_file()
    start_run(store, "check", 1)
    assert db.with_name(db.name + "-wal").exists()


def test_every_connection_gets_the_settings(store: Store) -> None:
    connections = [store.engine.raw_connection() for _ in range(3)]  # three at once
    try:
        for conn in connections:
            pragmas = {
                name: conn.cursor().execute(f"PRAGMA {name}").fetchone()[0]
                for name in ("journal_mode", "busy_timeout", "foreign_keys", "synchronous")
            }
            assert pragmas == {
                "journal_mode": "wal",
                "busy_timeout": 10_000,
                "foreign_keys": 1,
                "synchronous": 1,  # NORMAL
            }
    finally:
        for conn in connections:
            conn.close()


def test_a_folder_that_cannot_be_made_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StateError, match=r"cannot create its folder .*choose another path"):
        Store.open(f"sqlite:///{blocker / 'nmops.db'}")


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "nmops.db"
    path.write_bytes(b"this is not SQLite" * 100)
    with pytest.raises(StateError, match=r"nmops\.db: .*not an SQLite database"):
        Store.open(f"sqlite:///{path}")


def test_a_database_locked_too_long_is_a_clear_error(db: Path, store: Store) -> None:
    hurried = Store(make_engine(f"sqlite:///{db}", busy_timeout_ms=50))
    other = sqlite3.connect(db, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(StateError, match=r"locked.*try again"), hurried.begin() as conn:
            conn.execute(sa.delete(runs))
        # Readers do not wait for a writer (WAL).
        with hurried.read() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(runs)).scalar() == 0
    finally:
        other.close()
        hurried.close()


def test_a_write_transaction_takes_the_lock_at_once(db: Path, store: Store) -> None:
    # BEGIN IMMEDIATE: while one transaction is open, another writer cannot even begin, so a
    # read-then-write transaction never fails half-way on a lock.
    hurried = Store(make_engine(f"sqlite:///{db}", busy_timeout_ms=50))
    try:
        with store.begin(), pytest.raises(StateError, match="locked"), hurried.begin():
            pass
    finally:
        hurried.close()
