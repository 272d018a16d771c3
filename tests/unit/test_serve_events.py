"""The scheduler's missed and overrun runs become `job_runs` rows (for the next report), from
APScheduler's own event objects."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from apscheduler.events import (
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    JobExecutionEvent,
    JobSubmissionEvent,
)

from nmops.config.load import load_config
from nmops.service.scheduler import Service
from nmops.state import Store
from nmops.state.jobruns import job_runs_since

GOOD = Path(__file__).resolve().parent.parent / "data" / "config" / "good" / "nmops.yaml"
AT = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


def test_missed_and_overrun_runs_are_recorded(tmp_path: Path) -> None:
    with Store.open(f"sqlite:///{tmp_path / 'state.db'}") as store:
        service = Service(GOOD, tmp_path, store, load_config(GOOD))
        service._on_event(JobExecutionEvent(EVENT_JOB_MISSED, "ddns-watch", "default", AT))
        later = [AT.replace(minute=5), AT.replace(minute=10)]
        service._on_event(
            JobSubmissionEvent(EVENT_JOB_MAX_INSTANCES, "ddns-watch", "default", later)
        )
        service._on_event(JobExecutionEvent(EVENT_JOB_EXECUTED, "ddns-watch", "default", AT))
        rows = job_runs_since(store, AT)
    assert [(r.outcome, r.scheduled_at) for r in rows] == [
        ("missed", AT),
        ("overrun", later[0]),
        ("overrun", later[1]),
    ]
    assert all(r.started_at is None and r.detail for r in rows)
