"""The runs of `nmops serve`'s jobs: fired (running, ok, failed), missed or overrun."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from nmops.state.schema import JOB_OUTCOMES, check_value, job_runs
from nmops.state.store import Store


@dataclass(frozen=True)
class JobRun:
    id: int
    job: str
    scheduled_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    outcome: str
    exit_code: int | None
    detail: str | None


def start_job_run(store: Store, job: str, scheduled_at: datetime) -> int:
    with store.begin() as conn:
        result = conn.execute(
            job_runs.insert().values(
                job=job, scheduled_at=scheduled_at, started_at=store.now(), outcome="running"
            )
        )
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])


def finish_job_run(
    store: Store, run_id: int, outcome: str, exit_code: int | None, detail: str | None
) -> None:
    check_value("job outcome", outcome, JOB_OUTCOMES)
    with store.begin() as conn:
        conn.execute(
            job_runs.update()
            .where(job_runs.c.id == run_id)
            .values(
                outcome=outcome,
                exit_code=exit_code,
                detail=(detail or "")[:2000] or None,
                finished_at=store.now(),
            )
        )


def record_skipped(
    store: Store, job: str, scheduled_at: datetime, outcome: str, detail: str
) -> None:
    """A run that did not happen: `missed` (too late) or `overrun` (the last one still ran)."""
    check_value("job outcome", outcome, ("missed", "overrun"))
    with store.begin() as conn:
        conn.execute(
            job_runs.insert().values(
                job=job, scheduled_at=scheduled_at, outcome=outcome, detail=detail
            )
        )


def job_runs_since(store: Store, since: datetime) -> list[JobRun]:
    query = sa.select(job_runs).where(job_runs.c.scheduled_at >= since).order_by(job_runs.c.id)
    with store.read() as conn:
        return [JobRun(**row._mapping) for row in conn.execute(query)]
