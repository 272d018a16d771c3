"""The outbox on a real PostgreSQL: the same tests as on SQLite (queueing, claims, retries,
webhooks), and two sender processes at once, with ON CONFLICT and the claim's UPDATE as
PostgreSQL runs them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from nmops.state import Store
from tests.integration.test_mail_smtp import (  # noqa: F401
    quick_reconnects,
    test_a_sender_that_died_holding_a_claim_is_taken_over_once,
    test_smtp_down_then_up_delivers_exactly_once,
    test_two_sender_processes_send_each_row_once,
)
from tests.state_pg import PgCluster, running_cluster
from tests.unit.test_notify_outbox import *  # noqa: F403
from tests.unit.test_notify_webhook import *  # noqa: F403


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    with running_cluster() as cluster:
        yield cluster


@pytest.fixture  # type: ignore[no-redef]
def state_url(pg_cluster: PgCluster) -> str:
    return pg_cluster.create_database()


def test_the_backend_is_postgresql(store: Store) -> None:
    assert store.engine.dialect.name == "postgresql"
