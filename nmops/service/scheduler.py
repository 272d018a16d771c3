"""The service loop: APScheduler 3 (a background scheduler) runs each job on its cron trigger,
coalesced, one instance at a time, with a misfire grace time; a run that was too late or
found the previous one still running is recorded (missed, overrun) for the next report.

SIGTERM (and Ctrl-C) stop new runs and let a running job finish: the journal makes a kill at
any point safe, so a stop timeout that cuts it short costs nothing but time. SIGHUP reloads
nmops.yaml and the job files; a reload that fails keeps what runs and says why.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from nmops.config.load import Config, load_config
from nmops.errors import ConfigError, NmopsError
from nmops.service import memory
from nmops.service.answers import LastAnswers
from nmops.service.jobs import Job, cron_trigger, load_jobs
from nmops.service.run import Hooks, run_job
from nmops.state import Store
from nmops.state.jobruns import record_skipped

log = logging.getLogger(__name__)
BEAT = 1.0  # seconds between heartbeats of the main loop
COMPACT = "(state compaction)"  # not a valid job name, so never a job file's


@dataclass
class Service:
    config_path: Path
    jobs_dir: Path
    store: Store
    config: Config
    jobs: dict[str, Job] = field(default_factory=dict)
    beat: float = field(default_factory=time.monotonic)
    _stop: threading.Event = field(default_factory=threading.Event)
    _reload: threading.Event = field(default_factory=threading.Event)
    _scheduler: Any = None
    answers: LastAnswers = field(default_factory=LastAnswers)

    @classmethod
    def open(cls, config_path: Path, jobs_dir: Path) -> Service:
        from nmops.cli.app import open_store  # one definition of where the state lives

        config = load_config(config_path)
        return cls(config_path, jobs_dir, open_store(config), config)

    # --- jobs ----------------------------------------------------------------------------

    def load_jobs(self) -> list[str]:
        """(Re)load the job files; returns their problems (the good ones are scheduled)."""
        found, problems = load_jobs(self.jobs_dir)
        unknown = [
            f"{f.path.name}: routers: no router named {r!r} in the inventory"
            for f in found
            for r in f.job.routers
            if r not in self.config.inventory.routers
        ]
        bad = {p.split(":", 1)[0] for p in unknown}
        self.jobs = {f.job.name: f.job for f in found if f.path.name not in bad}
        for problem in problems + unknown:
            log.error("job file: %s", problem)
        if self._scheduler is not None:
            self._schedule()
        return problems + unknown

    def _schedule(self) -> None:
        scheduler = self._scheduler
        scheduler.remove_all_jobs()
        for job in self.jobs.values():
            scheduler.add_job(
                self._fire,
                cron_trigger(job.schedule, job.timezone),
                args=[job.name],
                id=job.name,
                name=job.name,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=int(job.misfire_grace),
                replace_existing=True,
            )
            log.info("job %s: %s (%s), %s", job.name, job.schedule, job.timezone, job.run)
        # Retention, daily at a quiet hour; not a job file: it is the service's own upkeep.
        scheduler.add_job(
            self._compact,
            cron_trigger("43 3 * * *", self.config.settings.policy.timezone),
            id=COMPACT,
            name=COMPACT,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=3600,
            replace_existing=True,
        )

    def _compact(self) -> None:
        from nmops.state.retention import compact

        retention = self.config.settings.state.retention
        if retention is None or self._stop.is_set():
            return
        try:
            compact(self.store, retention)
        except NmopsError as exc:
            log.error("state compaction failed (retried tomorrow): %s", exc)

    def _fire(self, name: str) -> None:
        job = self.jobs.get(name)
        if job is None or self._stop.is_set():
            return
        try:
            run_job(
                job, self.config, self.store, hooks=Hooks(self._stop.is_set, self.answers.update)
            )
        finally:
            memory.trim()

    def _on_event(self, event: Any) -> None:
        from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED

        outcome = {EVENT_JOB_MISSED: "missed", EVENT_JOB_MAX_INSTANCES: "overrun"}.get(event.code)
        if outcome is None:
            return
        detail = (
            "later than its misfire grace time (the host slept, or nmops was not running)"
            if outcome == "missed"
            else "the previous run was still running"
        )
        # A missed run's event names its time; an overrun's names the times it skipped.
        times = getattr(event, "scheduled_run_times", None) or [event.scheduled_run_time]
        for when in times:
            try:
                record_skipped(self.store, event.job_id, when, outcome, detail)
            except NmopsError as exc:
                log.error("job %s: %s not recorded: %s", event.job_id, outcome, exc)
            log.warning("job %s: %s run at %s: %s", event.job_id, outcome, when, detail)

    # --- the loop ------------------------------------------------------------------------

    def reload(self) -> None:
        """New nmops.yaml and job files; on any problem the old ones stay."""
        try:
            config = load_config(self.config_path)
        except ConfigError as exc:
            log.error(
                "reload refused, keeping the running configuration: %s", "; ".join(exc.problems)
            )
            return
        self.config = config
        self.answers.keep(set(config.inventory.routers))
        problems = self.load_jobs()
        log.info("reloaded: %d jobs, %d problems", len(self.jobs), len(problems))

    def alive(self) -> bool:
        return (
            self._scheduler is not None
            and self._scheduler.running
            and (time.monotonic() - self.beat < 10 * BEAT)
        )

    def stop(self) -> None:
        self._stop.set()

    def run(self, *, signals: bool = True) -> None:
        from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED
        from apscheduler.schedulers.background import BackgroundScheduler

        self._scheduler = BackgroundScheduler(timezone="UTC")
        self._scheduler.add_listener(self._on_event, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)
        self._schedule()
        if signals:
            self._signals()
        self._scheduler.start()
        log.info("nmops serve: %d jobs", len(self.jobs))
        try:
            while not self._stop.is_set():
                self.beat = time.monotonic()
                if self._reload.is_set():
                    self._reload.clear()
                    self.reload()
                self._stop.wait(BEAT)
        finally:
            log.info("stopping: waiting for a running job to finish")
            self._scheduler.shutdown(wait=True)
            self._scheduler = None

    def _signals(self) -> None:
        def stop(signum: int, frame: FrameType | None) -> None:
            self._stop.set()

        def hup(signum: int, frame: FrameType | None) -> None:
            self._reload.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGHUP, hup)
