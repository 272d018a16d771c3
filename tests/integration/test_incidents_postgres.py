"""The incident tests on a real PostgreSQL (the same test bodies as on SQLite)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.state_pg import PgCluster, running_cluster
from tests.unit.test_incidents import *  # noqa: F403


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    with running_cluster() as cluster:
        yield cluster


@pytest.fixture  # type: ignore[no-redef]
def state_url(pg_cluster: PgCluster) -> str:
    return pg_cluster.create_database()
