"""``nmops fix``: finish what an earlier run left half-done, check, plan, and (with
``--apply``) walk each router's ladder through the safe apply path; everything recorded.

A dry run holds no lease and sends nothing that changes a router: its check runs on the
read-only session type. ``--apply`` takes the actor lease first (waiting for whoever holds
it), so its plan is made from a check no other actor can race.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from nmops.apply import Applier, Progress, StepResult
from nmops.check import CheckReport, build_report, observe
from nmops.config.load import Config
from nmops.config.model import Router
from nmops.dns.observe import names_to_check
from nmops.errors import NmopsError
from nmops.plan import OpenPin, Plan, make_plan
from nmops.plan_pins import pin_steps
from nmops.record import lost_routers, record, situations, with_lost
from nmops.report.plan_text import commands
from nmops.state import (
    Holder,
    Lease,
    Store,
    add_action,
    finish_run,
    keep_alive,
    start_run,
    unfinished,
)
from nmops.state.pins import open_pins
from nmops.status import ExitCode, worst

log = logging.getLogger(__name__)
T = TypeVar("T")


class FixRefused(NmopsError):
    """The policy or the reviewed plan does not allow what was asked."""


@dataclass
class FixResult:
    plan: Plan
    report: CheckReport  # the check the plan was made from
    results: list[StepResult] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)  # what was put back first
    final: CheckReport | None = None  # a check after applying
    stopped: bool = False  # nmops was stopping: steps and the final check left for next time

    @property
    def lost(self) -> bool:
        return any(r.outcome == "lost" for r in self.results)

    @property
    def exit_code(self) -> ExitCode:
        codes = [(self.final or self.report).exit_code]
        if self.lost:
            codes.append(ExitCode.CRITICAL)
        if self.stopped and self.final is None:
            codes.append(ExitCode.WARNING)  # what the steps did is not known yet
        return worst(codes)


async def run_fix(
    config: Config,
    store: Store,
    routers: list[Router],
    *,
    apply: bool = False,
    plan_id: str | None = None,
    allow_unsaved: bool = False,
    wait: float = 0.0,
    progress: Progress | None = None,
    on_wait: Callable[[Holder], None] | None = None,
    stopping: Callable[[], bool] = lambda: False,
) -> FixResult:
    """Recover, check, plan and (``apply``) act. ``stopping`` is asked before each step: once
    it says yes, the step in hand finishes and no other starts."""
    policy = config.settings.policy
    say: Progress = progress or (lambda text, left: log.info("%s", text))
    if policy.actions == "off":
        raise FixRefused("policy.actions is off: nmops fix neither plans nor acts")
    if apply and policy.actions != "apply":
        raise FixRefused(
            "policy.actions is plan: nmops fix --apply may not act (set policy.actions: apply "
            "in nmops.yaml once the plans look right)"
        )
    if not apply:
        return await _plan_only(config, store, routers, allow_unsaved=allow_unsaved)
    return await leased(
        store,
        "nmops fix --apply",
        lambda lease: _apply(
            config,
            store,
            routers,
            lease,
            plan_id=plan_id,
            allow_unsaved=allow_unsaved,
            say=say,
            stopping=stopping,
        ),
        wait=wait,
        on_wait=on_wait,
    )


async def leased(
    store: Store,
    purpose: str,
    work: Callable[[Lease], Awaitable[T]],
    *,
    wait: float = 0.0,
    on_wait: Callable[[Holder], None] | None = None,
) -> T:
    """``work`` under the actor lease, renewed beside it: a lost lease stops it. Whoever
    changes routers (fix, peers sync) goes through here, so two actors never act at once."""
    lease = Lease(store, purpose=purpose)
    await asyncio.to_thread(lease.acquire, wait=wait, on_wait=on_wait)
    try:
        async with asyncio.TaskGroup() as group:
            renewing = group.create_task(keep_alive(lease))
            try:
                return await work(lease)
            finally:
                renewing.cancel()
    except BaseExceptionGroup as group:
        # The task group's wrapper around one error of ours (LeaseLost, FixRefused): that
        # error, as the CLI knows how to report it.
        if len(group.exceptions) == 1 and isinstance(group.exceptions[0], NmopsError):
            raise group.exceptions[0] from None
        raise
    finally:
        await asyncio.to_thread(lease.release)
    raise AssertionError("unreachable: the task group returns or raises")


async def recover_unfinished(
    applier: Applier, store: Store, by_name: dict[str, Router], say: Progress
) -> tuple[list[str], set[str]]:
    """Put back what an interrupted step left half-done, before anything else: what was
    done, and the routers that still have an unfinished step (not to be acted on)."""
    recovered: list[str] = []
    for entry in [e for e in unfinished(store) if e.router in by_name]:
        say(f"{entry.router}: an interrupted step (journal {entry.id}) is put back first", None)
        try:
            text = await applier.recover(by_name[entry.router], entry)
        except (NmopsError, OSError) as exc:
            text = f"cannot put it back yet: {exc}"
        recovered.append(f"{entry.router}: journal {entry.id}: {text}")
        say(f"{entry.router}: {text}", None)
    return recovered, {e.router for e in unfinished(store) if e.router in by_name}


async def _check(
    config: Config, store: Store, routers: list[Router], kind: str
) -> tuple[int, CheckReport]:
    run_id = start_run(store, kind, [r.name for r in routers])
    seen = await observe(config, routers)
    report = build_report(config, routers, seen)
    report = with_lost(report, lost_routers(store, report))
    record(store, run_id, report)
    return run_id, report


async def _plan_only(
    config: Config, store: Store, routers: list[Router], *, allow_unsaved: bool
) -> FixResult:
    run_id, report = await _check(config, store, routers, "fix")
    plan = _plan(config, store, report, routers, allow_unsaved=allow_unsaved)
    names = {r.name for r in routers}
    waiting = [
        f"{e.router}: journal {e.id} was interrupted ({e.sent} of {len(e.edits)} lines sent): "
        "`nmops fix --apply` puts it back before anything else"
        for e in unfinished(store)
        if e.router in names
    ]
    for step in plan.steps:
        for problem in step.problems:
            add_action(
                store,
                run_id=run_id,
                router=step.router,
                problem=problem,
                rung=step.rung.value,
                commands=commands(step),
                why=step.why,
                plan_id=plan.id,
                outcome="planned",
            )
    finish_run(store, run_id, int(report.exit_code))
    return FixResult(plan, report, recovered=waiting)


def _plan(
    config: Config, store: Store, report: CheckReport, routers: list[Router], *, allow_unsaved: bool
) -> Plan:
    now = store.now()
    found = situations(config, store, report, routers, now)
    plan = make_plan(found, config.settings.policy, now, allow_unsaved=allow_unsaved)
    owners = {n.fqdn: (n.router, n.family) for n in names_to_check(config, config.routers())}
    pins = [
        OpenPin(p.router, p.tunnel, p.peer, "ipv4" if p.family == "ipv4" else "ipv6", p.address,
                p.fqdn)
        for p in open_pins(store)
    ]  # fmt: skip
    extra = pin_steps(found, config.settings.policy, pins, owners)
    return Plan(plan.steps + tuple(extra), plan.waiting) if extra else plan


async def _apply(
    config: Config,
    store: Store,
    routers: list[Router],
    lease: Lease,
    *,
    plan_id: str | None,
    allow_unsaved: bool,
    say: Progress,
    stopping: Callable[[], bool],
) -> FixResult:
    by_name = {r.name: r for r in routers}
    run_id = start_run(store, "fix", list(by_name))
    applier = Applier(
        config, store, run_id, plan_id or "", lease.holder, say, allow_unsaved, stopping
    )
    recovered, blocked = await recover_unfinished(applier, store, by_name, say)
    seen = await observe(config, routers)
    report = build_report(config, routers, seen)
    report = with_lost(report, lost_routers(store, report))
    record(store, run_id, report)
    plan = _plan(config, store, report, routers, allow_unsaved=allow_unsaved)
    if plan_id is not None and plan.id != plan_id:
        finish_run(store, run_id, int(ExitCode.UNKNOWN))
        raise FixRefused(
            f"the plan is now {plan.id}, not the reviewed {plan_id}: the situation changed; "
            "review the new plan (nmops fix) before applying it"
        )
    applier.plan_id = plan.id
    result = FixResult(plan, report, recovered=recovered)
    peers = {
        s.router.name: s.peers for s in situations(config, store, report, routers, store.now())
    }
    acting = [r for r in routers if plan.for_router(r.name) and r.name not in blocked]
    for name in blocked:
        say(f"{name}: not acted on: an interrupted step there could not be put back", None)
    limit = asyncio.Semaphore(config.settings.ssh.concurrency)

    async def one(router: Router) -> list[StepResult]:
        async with limit:
            lease.renew()
            return await applier.run_router(
                router, plan.for_router(router.name), peers[router.name]
            )

    for outcome in await asyncio.gather(*(one(r) for r in acting)):
        result.results += outcome
    result.stopped = stopping()
    if acting and not result.stopped:  # a service on its way down leaves it to the next run
        final_seen = await observe(config, routers)
        final = build_report(config, routers, final_seen)
        result.final = with_lost(final, lost_routers(store, final))
        record(store, run_id, result.final)
    finish_run(store, run_id, int(result.exit_code))
    return result
