"""Job files (`jobs/*.yaml`, one job per file): what runs, when, on which routers.

A bad job file is a located problem (file, line, key); the good files still load, so one typo
never stops the watch on DDNS.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from nmops.config.incidents import Duration
from nmops.config.load import _validate
from nmops.config.yamlsrc import load_located
from nmops.errors import ConfigError
from nmops.names import check_name

JobKind = Literal["check", "fix", "peers-sync", "report"]


class Ping(BaseModel):
    """A healthchecks-style URL: URL/start when the run starts, URL on success, URL/EXIT on
    failure (the exit status)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    url: str

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")) or any(c.isspace() for c in value):
            raise ValueError("a ping URL is http(s)://... without spaces")
        return value.rstrip("/")


class Job(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    schedule: str  # cron: 5 fields (minute first), or 6 with seconds first (fast labs)
    timezone: str = "Asia/Tokyo"
    run: JobKind
    apply: bool = False  # fix and peers-sync only: act (still under policy.actions)
    routers: list[str] = Field(default_factory=list)  # empty: every router
    since: Duration = timedelta(hours=24)  # report: the period it covers
    ping: Ping | None = None
    misfire_grace: float = Field(60.0, gt=0, le=86400)  # a run this late still runs

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_name(value)

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        fields = value.split()
        if len(fields) not in (5, 6):
            raise ValueError("a cron expression has 5 fields (or 6, seconds first)")
        cron_trigger(value, "UTC")  # raises ValueError with APScheduler's words
        return " ".join(fields)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a time zone (e.g. Asia/Tokyo, UTC)") from None
        return value

    @field_validator("routers")
    @classmethod
    def _routers(cls, value: list[str]) -> list[str]:
        return [check_name(v) for v in value]


def cron_trigger(expression: str, timezone: str) -> object:
    """APScheduler's trigger for a 5- or 6-field expression."""
    from apscheduler.triggers.cron import CronTrigger

    fields = expression.split()
    zone = ZoneInfo(timezone)
    if len(fields) == 5:
        return CronTrigger.from_crontab(expression, timezone=zone)
    second, minute, hour, day, month, dow = fields
    return CronTrigger(
        second=second, minute=minute, hour=hour, day=day, month=month, day_of_week=dow,
        timezone=zone,
    )  # fmt: skip


@dataclass(frozen=True)
class JobFile:
    path: Path
    job: Job


def load_jobs(directory: Path) -> tuple[list[JobFile], list[str]]:
    """Every `*.yaml` job in ``directory``: the good ones, and each problem located."""
    jobs: list[JobFile] = []
    problems: list[str] = []
    if not directory.is_dir():
        return [], [f"{directory}: no such jobs directory"]
    names: dict[str, Path] = {}
    for path in sorted(directory.glob("*.yaml")):
        try:
            src = load_located(path)
            job = _validate(Job, src.data, src, path.parent)
        except ConfigError as exc:
            problems += exc.problems
            continue
        if job.name in names:
            problems.append(f"{src.where(('name',))}: name: {job.name!r} is also the name of "
                            f"the job in {names[job.name].name}")  # fmt: skip
            continue
        names[job.name] = path
        jobs.append(JobFile(path, job))
    return jobs, problems
