"""Opening the state database: the engine, SQLite's settings, migrations and transactions."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DatabaseError, DBAPIError, OperationalError

from nmops.errors import NmopsError
from nmops.state.schema import REVISION

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
BUSY_TIMEOUT_MS = 10_000
# Any constant: PostgreSQL's advisory lock lets one process migrate while the others wait.
_PG_MIGRATION_LOCK = 0x6E6D6F7073
# Execution option: a read-only transaction (SQLite: BEGIN DEFERRED, so readers never wait).
_READ_ONLY = "nmops_read_only"

Clock = Callable[[], datetime]


class StateError(NmopsError):
    """The state database cannot be used as asked; the message says what to do."""


def utc_now() -> datetime:
    return datetime.now(UTC)


class Store:
    """The state database: an engine, a clock, and transactions."""

    def __init__(self, engine: Engine, *, clock: Clock | None = None) -> None:
        self.engine = engine
        self._clock = clock or utc_now
        self.where = describe(engine.url)

    @classmethod
    def open(cls, url: str, *, clock: Clock | None = None) -> Store:
        """The database at ``url``, upgraded to this nmops's schema and ready to use."""
        store = cls(make_engine(url), clock=clock)
        try:
            upgrade(store)
        except BaseException:
            store.close()
            raise
        return store

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def now(self) -> datetime:
        value = self._clock()
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"the clock returned a naive datetime {value!r}")
        return value.astimezone(UTC)

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """One write transaction, committed on leaving, rolled back on an exception.

        On SQLite it takes the write lock at once (BEGIN IMMEDIATE): a transaction that reads
        and then writes must not fail half-way because another process wrote in between.
        """
        with self.errors(), self.engine.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """One read-only transaction (a consistent snapshot that never waits for writers)."""
        with self.errors(), self.engine.connect() as conn:
            conn.execution_options(**{_READ_ONLY: True})
            with conn.begin():
                yield conn

    @contextmanager
    def errors(self) -> Iterator[None]:
        """Turns the database's environmental failures (locked, unreachable...) into
        StateError; mistakes in SQL or constraint violations pass through unchanged."""
        try:
            yield
        except DBAPIError as exc:
            if isinstance(exc, OperationalError) or type(exc) is DatabaseError:
                raise state_error(exc, self.where) from exc
            raise


def describe(url: URL) -> str:
    """How messages name a database: the file for SQLite, the URL without password otherwise."""
    if url.get_backend_name() == "sqlite":
        return url.database or ":memory:"
    return url.render_as_string(hide_password=True)


_HINTS = (
    ("locked", "another process kept it locked for the whole busy timeout; try again"),
    ("readonly", "the file or its folder is not writable by this user"),
    ("read-only", "the file or its folder is not writable by this user"),
    ("unable to open", "check that its folder exists and is writable by this user"),
    ("not a database", "the file is not an SQLite database; point nmops at another file"),
    ("disk i/o", "check the disk and the file's permissions"),
    ("password authentication", "check the user and password in the database URL"),
    ("does not exist", "create the database (and user) on the server first"),
    ("connection refused", "is the PostgreSQL server running and reachable at that address?"),
    ("connection failed", "is the PostgreSQL server running and reachable at that address?"),
    ("timeout expired", "is the PostgreSQL server reachable at that address?"),
)


def state_error(exc: DBAPIError, where: str) -> StateError:
    text = str(exc.orig).strip() or type(exc.orig).__name__
    lowered = text.lower()
    hint = next((hint for key, hint in _HINTS if key in lowered), None)
    return StateError(f"state database {where}: {text}" + (f"; {hint}" if hint else ""))


def make_engine(url: str, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> Engine:
    """An engine for ``url`` with nmops's settings (no migration). ``postgresql://`` means
    psycopg 3, the driver nmops depends on."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(parsed, pool_pre_ping=True)
    _make_folder(parsed)
    engine = sa.create_engine(parsed)
    _sqlite_settings(engine, busy_timeout_ms)
    return engine


def _make_folder(url: URL) -> None:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    folder = Path(database).parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StateError(
            f"state database {database}: cannot create its folder {folder}: "
            f"{exc.strerror or exc}; create it or choose another path"
        ) from exc


def _sqlite_settings(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # sqlite3's own transaction handling skips BEGIN before DDL and SELECT: switch it off
        # and let on_begin below start every transaction.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")  # first: WAL may wait
            mode = _wal(cursor, busy_timeout_ms)
            # NORMAL is durable against a killed process in WAL mode (not against power loss).
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()
        if str(mode).lower() != "wal":
            log.warning("state database %s: journal mode is %s, not WAL", engine.url, mode)

    @event.listens_for(engine, "begin")
    def on_begin(conn: Connection) -> None:
        deferred = conn.get_execution_options().get(_READ_ONLY, False)
        conn.exec_driver_sql("BEGIN DEFERRED" if deferred else "BEGIN IMMEDIATE")


def _wal(cursor: Any, busy_timeout_ms: int) -> str:
    """Switch to WAL. While other processes open the same new file, the switch (it needs an
    exclusive lock) fails at once with "locked", without waiting: retry for the busy timeout."""
    deadline = time.monotonic() + busy_timeout_ms / 1000
    while True:
        try:
            return str(cursor.execute("PRAGMA journal_mode=WAL").fetchone()[0])
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc).lower() or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


# --- migrations ------------------------------------------------------------------------------
# Alembic is imported only when a database needs upgrading: it costs ~0.1 s of start-up, and
# an up-to-date database (the usual case) is recognised without it.


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration without an alembic.ini: the scripts ship inside the package."""
    from alembic.config import Config

    config = Config()
    # ConfigParser interpolates "%": a path holding one must not be read as a reference.
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def current_revisions(conn: Connection) -> tuple[str, ...]:
    """The revisions the database is at (none for an empty database)."""
    if not sa.inspect(conn).has_table("alembic_version"):
        return ()
    rows = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars()
    return tuple(sorted(rows))


def upgrade(store: Store, revision: str = "head") -> None:
    """Bring the database to ``revision``; one at the head already costs two SELECTs."""
    with store.read() as conn:
        current = current_revisions(conn)
    if revision == "head" and current == (REVISION,):
        return
    from alembic import command
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    _check_known(store, script, current)
    with store.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_MIGRATION_LOCK)))
        # Another process may have migrated while this one waited for the lock.
        current = current_revisions(conn)
        _check_known(store, script, current)
        log.info(
            "state database %s: upgrading from %s to %s",
            store.where,
            ", ".join(current) or "an empty database",
            revision,
        )
        command.upgrade(alembic_config(conn), revision)


def _check_known(store: Store, script: ScriptDirectory, current: tuple[str, ...]) -> None:
    known = {s.revision for s in script.walk_revisions()}
    unknown = [rev for rev in current if rev not in known]
    if unknown:
        raise StateError(
            f"state database {store.where} is at revision {', '.join(unknown)}, newer than "
            "this nmops knows; upgrade nmops"
        )
