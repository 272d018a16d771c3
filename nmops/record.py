"""Between a check and the state database: what a report records, and what the plan needs
to know from history (consecutive sightings, steps already tried, reboots, peers)."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from nmops.check import CheckReport, RouterReport
from nmops.config.load import Config
from nmops.config.model import Router
from nmops.diagnose import Finding
from nmops.dns.observe import names_to_check
from nmops.linkpaths import record_paths, samples
from nmops.plan import Rung, Situation
from nmops.state import (
    Observed,
    Store,
    Transition,
    actions_for,
    reboots_since,
    record_run,
    subject_states,
)
from nmops.status import Status

log = logging.getLogger(__name__)

# Outcomes that mean a step was tried (and, the problem still being there, did not help).
TRIED = frozenset({"running", "applied", "no-effect", "failed", "undone", "lost"})


def observed(report: RouterReport) -> list[Observed]:
    """The subjects one router's report says something about."""
    out = [
        Observed(report.name, f"name:{n.family}", n.status.value, n.detail) for n in report.names
    ]
    facts = report.facts
    if facts is not None:
        if facts.locked:
            status = Status.LOCKED
        elif facts.unreadable:
            status = Status.ERROR
        else:
            status = Status.OK if facts.reachable else Status.UNREACHABLE
        out.append(Observed(report.name, "router", status.value, facts.error))
    for finding in report.findings:
        if finding.status in (Status.LOCKED, Status.ERROR, Status.UNREACHABLE):
            continue  # the `router` subject says it
        subject = f"finding:{finding.status.value}" + (
            f":{finding.tunnel}" if finding.tunnel else ""
        )
        out.append(Observed(report.name, subject, finding.status.value, finding.detail))
    return out


def record(store: Store, run_id: int, report: CheckReport) -> list[Transition]:
    """Record a check; a router whose findings could not all be read (not reachable) keeps
    the ones it had instead of having them turn `ok`. The path each VPN link took (from the
    IKE SAs) is recorded beside it, for the digest."""
    complete = [r.name for r in report.routers if r.facts is None or r.facts.reachable]
    rows = [o for r in report.routers for o in observed(r)]
    found = record_run(store, run_id, rows, routers=complete)
    record_paths(store, run_id, samples(report))
    release_gone_pins(store, report)
    return found


# A pin set after the check began may be newer than the config the check read (a fix beside
# it): only pins older than the check, with this margin for recording late, are judged.
PIN_MARGIN = timedelta(minutes=1)


def release_gone_pins(store: Store, report: CheckReport) -> None:
    """Pins the routers' running configs no longer hold are over (a reboot, a person)."""
    from nmops.plan_pins import pins_gone
    from nmops.state.pins import open_pins, release_pin

    began = store.now() - timedelta(seconds=report.seconds) - PIN_MARGIN
    judged = [p for p in open_pins(store) if p.pinned_at < began]
    for pin, why in pins_gone(judged, report.routers):
        release_pin(store, pin.id)
        log.warning("%s: the pin on %s is over: %s", pin.router, pin.tunnel, why)


def record_check(store: Store, report: CheckReport) -> tuple[CheckReport, int]:
    """A whole check run into the state database: the report (with the routers a reboot
    lost marked) and the run's id."""
    from nmops.state import finish_run, start_run

    report = with_lost(report, lost_routers(store, report))
    run_id = start_run(store, "check", [r.name for r in report.routers])
    record(store, run_id, report)
    finish_run(store, run_id, int(report.exit_code))
    return report, run_id


def lost_routers(store: Store, report: CheckReport) -> set[str]:
    """Routers whose last reboot did not bring them back and that have not answered since."""
    out = set()
    for r in report.routers:
        if r.facts is None or r.facts.reachable:
            continue
        reboots = [a for a in actions_for(store, r.name) if a.rung == Rung.REBOOT.value]
        if reboots and reboots[-1].outcome == "lost":
            out.add(r.name)
    return out


def with_lost(report: CheckReport, lost: set[str]) -> CheckReport:
    """``report`` with a ``lost`` finding (CRITICAL) on each router in ``lost``."""
    if not lost:
        return report
    routers = tuple(
        dataclasses.replace(
            r,
            findings=(
                Finding(Status.LOST, "a reboot by nmops did not bring it back: someone has to "
                        "look at it (nmops will not act on it again)"),
                *r.findings,
            ),
        )
        if r.name in lost
        else r
        for r in report.routers
    )  # fmt: skip
    return dataclasses.replace(report, routers=routers)


def _problem(subject: str) -> str | None:
    """The plan's problem key for a subject: `name:ipv6`, or `peer:Tunnel1.0`."""
    if subject.startswith("name:"):
        return subject
    prefix = f"finding:{Status.PEER_STALE.value}:"
    return "peer:" + subject[len(prefix) :] if subject.startswith(prefix) else None


def peers_of(config: Config, report: RouterReport) -> tuple[str, ...]:
    """The inventory routers at the other end of this router's tunnels."""
    if report.facts is None:
        return ()
    owners = {n.fqdn: n.router for n in names_to_check(config, config.routers())}
    found = {owners.get(t.peer_fqdn or "") for t in report.facts.tunnels}
    return tuple(sorted(name for name in found if name and name != report.name))


def situations(
    config: Config, store: Store, report: CheckReport, routers: Iterable[Router], now: datetime
) -> list[Situation]:
    """What the plan needs for each router, from this check and the state database."""
    policy = config.settings.policy
    by_name = {r.name: r for r in report.routers}
    states = {(s.router, s.subject): s for s in subject_states(store)}
    out = []
    for router in routers:
        rep = by_name[router.name]
        counts: dict[str, int] = {}
        tried: dict[str, frozenset[Rung]] = {}
        for (name, subject), state in states.items():
            problem = _problem(subject)
            if name != router.name or problem is None:
                continue
            counts[subject] = state.count if state.status != Status.OK.value else 0
            rungs = {
                Rung(a.rung)
                for a in actions_for(store, router.name, problem, since=state.since_at)
                if a.outcome in TRIED
            }
            if rungs:
                tried[problem] = frozenset(rungs)
        peers = peers_of(config, rep)
        gap = now - timedelta(seconds=policy.link_gap)
        peer_reboots = {}
        for peer in peers:
            times = reboots_since(store, peer, gap)
            if times:
                peer_reboots[peer] = max(times)
        last = actions_for(store, router.name, since=now - timedelta(days=7))
        reboots = [a for a in last if a.rung == Rung.REBOOT.value]
        reachable = rep.facts is not None and rep.facts.reachable
        lost = bool(reboots) and reboots[-1].outcome == "lost" and not reachable
        out.append(
            Situation(
                router,
                rep,
                counts=counts,
                tried=tried,
                reboots=tuple(reboots_since(store, router.name, now - policy.reboot_window)),
                peers=peers,
                peer_reboots=peer_reboots,
                lost=lost,
                management_tunnels=router.management_tunnels,
                reboot_allowed=router.reboot == "allow",
            )
        )
    return out
