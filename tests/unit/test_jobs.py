"""Job files: the shipped ones load, a bad one is a located problem and the good ones still
load; cron triggers fire when the expression says, in the job's time zone."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from nmops.service.jobs import cron_trigger, load_jobs

JOBS = Path(__file__).resolve().parents[2] / "jobs"


def test_the_shipped_jobs_load() -> None:
    jobs, problems = load_jobs(JOBS)
    assert problems == []
    assert {j.job.name: j.job.run for j in jobs} == {
        "ddns-watch": "check",
        "ddns-repair": "fix",
        "peer-sync": "peers-sync",
        "daily-report": "report",
    }


def test_a_bad_job_file_is_located_and_the_good_ones_still_load(tmp_path: Path) -> None:
    (tmp_path / "a-good.yaml").write_text("name: good\nschedule: '*/5 * * * *'\nrun: check\n")
    (tmp_path / "b-bad.yaml").write_text(
        "name: bad\nschedule: '*/5 * * *'\nrun: check\nfrequency: often\n"
    )
    (tmp_path / "c-kind.yaml").write_text("name: kind\nschedule: '0 8 * * *'\nrun: reboot\n")
    (tmp_path / "d-twin.yaml").write_text("name: good\nschedule: '0 8 * * *'\nrun: report\n")
    (tmp_path / "e-syntax.yaml").write_text("name: [unclosed\n")
    jobs, problems = load_jobs(tmp_path)
    assert [j.job.name for j in jobs] == ["good"]
    text = "\n".join(problems)
    assert "b-bad.yaml:2: schedule:" in text and "5 fields" in text
    assert "b-bad.yaml:4: frequency: unknown key" in text
    assert "c-kind.yaml:3: run:" in text
    assert "d-twin.yaml:1: name: 'good' is also the name of the job in a-good.yaml" in text
    assert "e-syntax.yaml" in text


def test_a_missing_directory_is_a_problem(tmp_path: Path) -> None:
    assert load_jobs(tmp_path / "nowhere") == (
        [],
        [f"{tmp_path / 'nowhere'}: no such jobs directory"],
    )


@pytest.mark.parametrize(
    ("expression", "zone", "after", "fires"),
    [
        (
            "*/5 * * * *",
            "UTC",
            datetime(2026, 12, 3, 10, 1, tzinfo=UTC),
            datetime(2026, 12, 3, 10, 5, tzinfo=UTC),
        ),
        # 08:00 in Tokyo is 23:00 UTC the day before.
        (
            "0 8 * * *",
            "Asia/Tokyo",
            datetime(2026, 12, 3, 0, 0, tzinfo=UTC),
            datetime(2026, 12, 3, 23, 0, tzinfo=UTC),
        ),
        (
            "*/3 * * * * *",
            "UTC",
            datetime(2026, 12, 3, 10, 0, 1, tzinfo=UTC),
            datetime(2026, 12, 3, 10, 0, 3, tzinfo=UTC),
        ),
    ],
)
def test_cron_triggers_fire_when_the_expression_says(
    expression: str, zone: str, after: datetime, fires: datetime
) -> None:
    trigger = cron_trigger(expression, zone)
    got = trigger.get_next_fire_time(None, after)  # type: ignore[attr-defined]
    assert got == fires
