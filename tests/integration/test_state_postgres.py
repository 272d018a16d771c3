"""The state tests on a real PostgreSQL: the same test bodies as on SQLite.

The star imports bring in every shared state test (migrations, lease and its process race,
observations, actions, timeline, journal and its killed process); the ``state_url`` fixture
below replaces the SQLite file with a fresh database on a private cluster. test_state_sqlite
is left out: it is about SQLite's file and settings.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import quote

import pytest

from nmops.lab.bind import free_port
from nmops.state import StateError, Store, start_run
from nmops.state.schema import runs
from tests.state_pg import PgCluster, running_cluster
from tests.unit.test_state_actions import *  # noqa: F403
from tests.unit.test_state_journal import *  # noqa: F403
from tests.unit.test_state_lease import *  # noqa: F403
from tests.unit.test_state_observations import *  # noqa: F403
from tests.unit.test_state_store import *  # noqa: F403
from tests.unit.test_state_store import START, FakeClock


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    with running_cluster() as cluster:
        yield cluster


# Replaces the star-imported SQLite file: every shared test now runs on PostgreSQL.
@pytest.fixture  # type: ignore[no-redef]
def state_url(pg_cluster: PgCluster) -> str:
    return pg_cluster.create_database()


def test_the_backend_is_postgresql(store: Store) -> None:
    assert store.engine.dialect.name == "postgresql"


def test_times_are_utc_whatever_the_session_time_zone(state_url: str) -> None:
    tokyo = state_url + "?options=" + quote("-c timezone=Asia/Tokyo")
    with Store.open(tokyo, clock=FakeClock()) as store:
        run_id = start_run(store, "check", 1)
        with store.read() as conn:
            zone = conn.exec_driver_sql("SHOW timezone").scalar()
            started = conn.exec_driver_sql(
                f"SELECT started_at FROM runs WHERE id = {int(run_id)}"
            ).scalar()
        assert zone == "Asia/Tokyo" and started == START  # the same instant, shown in JST
        assert isinstance(started, datetime) and started.utcoffset() is not None
        with store.read() as conn:
            typed = conn.execute(runs.select().where(runs.c.id == run_id)).one().started_at
        assert typed == START and typed.tzinfo is UTC


def test_a_server_that_is_not_there_is_a_clear_error() -> None:
    url = f"postgresql://nmops:secret-pw@127.0.0.1:{free_port()}/nmops"
    with pytest.raises(StateError, match="is the PostgreSQL server running") as raised:
        Store.open(url)
    assert "secret-pw" not in str(raised.value)
