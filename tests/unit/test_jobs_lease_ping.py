"""A serve fix job takes the actor lease like `nmops fix --apply` (so the two never act at
once), and its healthchecks-style pings go out without ever being fatal."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import responses
import sqlalchemy as sa

from nmops.config.load import Config, load_config
from nmops.service.jobs import Job, Ping
from nmops.service.run import run_job
from nmops.state import Lease, Store
from nmops.state import lease as lease_module
from nmops.state.schema import actions, job_runs

GOOD = Path(__file__).parents[1] / "data" / "config" / "good"
HC = "https://hc.example/ping/0f1e2d3c"


class _FakeTime:
    """The lease's clock only: waiting for the lease costs no real time (asyncio keeps the
    real one)."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def config(tmp_path: Path) -> Config:
    settings = tmp_path / "nmops.yaml"
    settings.write_text(
        f"inventory: {GOOD / 'inventory.yaml'}\n"
        "state: {url: sqlite:///state.db}\npolicy: {actions: apply}\n",
        encoding="utf-8",
    )
    return load_config(settings)


@pytest.fixture
def store(config: Config) -> Iterator[Store]:
    with Store.open(config.settings.state.resolved(config.base_dir)) as opened:
        yield opened


def _rows(store: Store, table: sa.Table) -> list[sa.Row[object]]:
    with store.read() as conn:
        return list(conn.execute(sa.select(table)))


def test_a_fix_job_waits_for_the_lease_of_a_cli_fix_and_never_acts_beside_it(
    config: Config, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lease_module, "time", _FakeTime())
    # `nmops fix --apply` from cron, on another host, holds the lease.
    cli = Lease(store, purpose="nmops fix --apply")
    cli.host = "other-host"
    cli.acquire()
    job = Job(name="ddns-repair", schedule="*/5 * * * *", run="fix", apply=True)
    result = run_job(job, config, store)
    assert result.outcome == "failed"
    assert "held by nmops fix --apply on other-host" in result.detail
    assert _rows(store, actions) == []  # nothing planned, nothing sent: it never got going
    assert cli.held() is not None and cli.held().holder == cli.holder  # type: ignore[union-attr]
    (row,) = _rows(store, job_runs)
    assert (row.job, row.outcome, row.exit_code) == ("ddns-repair", "failed", 3)


def test_a_cli_fix_waits_while_the_serve_job_holds_the_lease(
    config: Config, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The other way round, at the level both use: the job's lease (as `leased` takes it for
    # `nmops fix --apply` and the serve job alike) makes a second actor wait, then refuse.
    from nmops.state import LeaseHeld

    monkeypatch.setattr(lease_module, "time", _FakeTime())
    serving = Lease(store, purpose="nmops fix --apply")
    serving.host = "serve-host"
    serving.acquire()
    told: list[str] = []
    with pytest.raises(LeaseHeld):
        Lease(store, purpose="nmops fix --apply").acquire(
            wait=30, on_wait=lambda h: told.append(h.host)
        )
    assert told and set(told) == {"serve-host"}


@responses.activate
def test_pings_start_success_and_failure_with_the_exit_status(config: Config, store: Store) -> None:
    responses.add(responses.POST, f"{HC}/start")
    responses.add(responses.POST, f"{HC}/3")
    # A report job without `mail:` cannot send its digest: it fails with UNKNOWN (3).
    job = Job(name="daily-report", schedule="0 8 * * *", run="report", ping=Ping(url=HC))
    result = run_job(job, config, store)
    assert (result.outcome, result.exit_code) == ("failed", 3)
    assert [c.request.url for c in responses.calls] == [f"{HC}/start", f"{HC}/3"]


@responses.activate
def test_a_ping_that_fails_never_fails_the_job(
    config: Config, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    responses.add(responses.POST, f"{HC}/start", body=requests.ConnectionError("down"))
    responses.add(responses.POST, f"{HC}/3", status=500)
    job = Job(name="daily-report", schedule="0 8 * * *", run="report", ping=Ping(url=HC))
    result = run_job(job, config, store)
    assert result.outcome == "failed" and result.exit_code == 3  # the job's own verdict
    (row,) = _rows(store, job_runs)
    assert row.finished_at is not None
    # The URL holds the check's key: never logged.
    assert "0f1e2d3c" not in caplog.text


def test_metrics_and_healthz_over_http(store: Store) -> None:
    from nmops.service.metrics import MetricsServer
    from nmops.state import Observed, finish_run, record_run, start_run

    run_id = start_run(store, "check", ["ix2215-tokyo"])
    record_run(
        store, run_id, [Observed("ix2215-tokyo", "name:ipv6", "missing")], routers=["ix2215-tokyo"]
    )
    finish_run(store, run_id, 2)
    with store.begin() as conn:
        conn.execute(
            sa.insert(job_runs).values(job="ddns-watch", scheduled_at=store.now(), outcome="missed")
        )
    alive = [True]
    server = MetricsServer("127.0.0.1", 0, store, lambda: alive[0])
    server.start()
    try:
        base = f"http://127.0.0.1:{server.port}"
        assert requests.get(f"{base}/healthz", timeout=5).status_code == 200
        alive[0] = False
        assert requests.get(f"{base}/healthz", timeout=5).status_code == 503
        text = requests.get(f"{base}/metrics", timeout=5).text
    finally:
        server.stop()
    assert (
        'nmops_subject_ok{router="ix2215-tokyo",status="missing",subject="name:ipv6"} 0.0' in text
    )
    assert 'nmops_job_runs_total{job="ddns-watch",outcome="missed"} 1.0' in text
    assert "nmops_outbox_depth 0.0" in text
    assert "nmops_last_check_duration_seconds" in text
