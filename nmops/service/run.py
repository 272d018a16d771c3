"""One run of one job: a plain single-pass function (tests call it with a frozen clock).

Each run is recorded in `job_runs` (running, then ok or failed with its exit status); a run
that fails to run at all is `failed` with one line saying why, never an exception that would
stop the scheduler. `ok` means the job did its work: a check that found problems is `ok` with
exit status 2, as a monitoring plugin would say.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from nmops import aio
from nmops.config.load import Config
from nmops.errors import NmopsError
from nmops.notify.events import Event, EventKind
from nmops.service.jobs import Job
from nmops.service.ping import ping
from nmops.state import Store
from nmops.state.jobruns import finish_job_run, start_job_run
from nmops.status import ExitCode

if TYPE_CHECKING:
    from nmops.apply import StepResult
    from nmops.check import CheckReport

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Hooks:
    """What the service hands a run: ``stopping`` (the service going down) is asked between
    steps, and ``checked`` is told every check report the run makes (for the metrics)."""

    stopping: Callable[[], bool] = lambda: False
    checked: Callable[[CheckReport], None] = lambda report: None


@dataclass(frozen=True)
class JobResult:
    job: str
    outcome: str  # ok | failed
    exit_code: int
    detail: str


def run_job(
    job: Job,
    config: Config,
    store: Store,
    *,
    scheduled_at: datetime | None = None,
    hooks: Hooks = Hooks(),
) -> JobResult:
    """Run ``job`` once, now; record and ping its outcome. Once ``hooks.stopping`` says the
    service is going down, the step in hand finishes and no new one starts."""
    when = scheduled_at or store.now()
    run_id = start_job_run(store, job.name, when)
    if job.ping is not None:
        ping(job.ping.url, "start")
    try:
        code, detail = _RUNS[job.run](job, config, store, hooks)
        outcome = "failed" if code is ExitCode.UNKNOWN else "ok"
    except NmopsError as exc:
        code, detail, outcome = ExitCode.UNKNOWN, str(exc), "failed"
    except Exception as exc:  # a job never takes the scheduler down
        log.exception("job %s failed", job.name)
        code, detail, outcome = ExitCode.UNKNOWN, f"internal error: {type(exc).__name__}", "failed"
    finish_job_run(store, run_id, outcome, int(code), detail)
    if job.ping is not None:
        ping(job.ping.url, "" if outcome == "ok" else str(int(code)))
    log.info("job %s: %s (exit %d) %s", job.name, outcome, int(code), detail)
    return JobResult(job.name, outcome, int(code), detail)


def _check(job: Job, config: Config, store: Store, hooks: Hooks) -> tuple[ExitCode, str]:
    from nmops.alerting import after_check
    from nmops.check import run_check
    from nmops.record import record_check

    routers = config.routers(job.routers or None)
    report = aio.run(run_check(config, routers))
    report, run_id = record_check(store, report)
    hooks.checked(report)
    alerted = after_check(store, config, run_id)
    said = f"{len(alerted.events)} notices, {alerted.queued} queued"
    if alerted.delivery is not None:
        said += f", {alerted.delivery.sent} sent, {alerted.delivery.waiting} waiting"
    return report.exit_code, f"{len(routers)} routers: {report.exit_code.label}; {said}"


def _fix(job: Job, config: Config, store: Store, hooks: Hooks) -> tuple[ExitCode, str]:
    from nmops.apply import STOPPING
    from nmops.fix import run_fix

    routers = config.routers(job.routers or None)
    result = aio.run(
        run_fix(config, store, routers, apply=job.apply, wait=60.0, stopping=hooks.stopping)
    )
    hooks.checked(result.final or result.report)
    events = _action_events(result.results, store.now())
    if events:
        from nmops.alerting import channels
        from nmops.notify.deliver import deliver_pending
        from nmops.notify.queue import queue_alerts

        if channels(config):
            queue_alerts(
                store,
                config.settings,
                events,
                run_key=f"fix:{result.plan.id}:{store.now().isoformat()}",
            )
            deliver_pending(store, config.settings)
    done = [r for r in result.results if r.outcome != "skipped"]
    said = f"plan {result.plan.id}: {len(result.plan.steps)} steps, {len(done)} carried out"
    if result.stopped:
        left = sum(r.detail == STOPPING for r in result.results)
        said += f", {left} left and the final check: nmops was stopping"
    return result.exit_code, said


def _action_events(results: Sequence[StepResult], now: datetime) -> list[Event]:
    out: list[Event] = []
    for result in results:
        if result.outcome == "skipped":
            continue
        kind: EventKind = "needs-human" if result.outcome == "needs-human" else "action"
        out.append(
            Event(
                kind=kind,
                router=result.step.router,
                subject=",".join(result.step.problems),
                status=result.outcome,
                detail=f"{result.step.rung.value}: {result.detail}",
                at=now,
            )
        )
    return out


def _report(job: Job, config: Config, store: Store, hooks: Hooks) -> tuple[ExitCode, str]:
    from nmops.notify.deliver import deliver_pending
    from nmops.notify.queue import queue_message
    from nmops.report.digest import build_digest

    now = store.now()
    language = config.settings.report.language
    message = build_digest(store, config, since=now - job.since, now=now, language=language)
    if config.settings.mail is None:
        return ExitCode.UNKNOWN, "no mail: settings in nmops.yaml; the digest was not sent"
    queued = queue_message(
        store, config.settings, message, key=f"report:{job.name}:{now.isoformat()}"
    )
    delivery = deliver_pending(store, config.settings)
    code = ExitCode.OK if delivery.ok else ExitCode.WARNING
    return code, f"digest queued ({queued}), {delivery.sent} sent, {delivery.waiting} waiting"


def _peers_sync(job: Job, config: Config, store: Store, hooks: Hooks) -> tuple[ExitCode, str]:
    from nmops.peers.sync import peers_diff, peers_sync

    routers = config.routers(job.routers or None)
    if job.apply:
        result = aio.run(peers_sync(config, store, routers, wait=60.0, stopping=hooks.stopping))
    else:
        result = aio.run(peers_diff(config, routers, store))
    drifted = [r.router for r in result.routers if r.drift is not None and not r.drift.clean]
    said = ", ".join(f"{r.router}: {r.outcome}" for r in result.routers if r.outcome)
    return result.exit_code, f"drift on {len(drifted)} routers" + (f"; {said}" if said else "")


_RUNS = {"check": _check, "fix": _fix, "report": _report, "peers-sync": _peers_sync}
