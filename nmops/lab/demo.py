"""``nmops demo``: nmops on the built-in lab (simulated IX routers + DDNS), as a short story:
a healthy network, the seed article's fault, the check that catches it, the plan, the repair
walking its ladder (re-registering fixes the A record, only a reboot the stuck IPv6), a green
check, and the history of it all."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from nmops.check import CheckReport, build_report, observe
from nmops.config.load import Config, load_config
from nmops.dns.classify import NameResult
from nmops.fix import FixResult, run_fix
from nmops.lab.runner import start_lab
from nmops.record import record
from nmops.state import Event, Store, finish_run, start_run, timeline
from nmops.status import ExitCode, Status

FAULTY = "ix2215-kagawa"
FAULTS = ("ddns-v6-stuck", "address-change")


@dataclass(frozen=True)
class DemoStep:
    title: str
    explanation: str
    report: CheckReport | None = None  # a check to show
    fix: FixResult | None = None  # a plan, or a plan carried out
    history: tuple[Event, ...] = ()


@dataclass(frozen=True)
class DemoResult:
    steps: tuple[DemoStep, ...]
    ok: bool  # the story ran as intended
    problems: tuple[str, ...]
    reloads: int = 0  # how many times the faulty router was rebooted
    notes: tuple[str, ...] = field(default_factory=tuple)


def _name(report: CheckReport, router: str, family: str) -> NameResult | None:
    for r in report.routers:
        for n in r.names:
            if r.name == router and n.family == family:
                return n
    return None


def _status(report: CheckReport, router: str, family: str) -> Status | None:
    name = _name(report, router, family)
    return name.status if name is not None else None


def _dns(report: CheckReport, router: str, family: str) -> str:
    name = _name(report, router, family)
    return ", ".join(map(str, name.addresses)) if name and name.addresses else "nothing"


def _addresses(report: CheckReport, router: str, family: str) -> str:
    facts = next((r.facts for r in report.routers if r.name == router), None)
    if facts is None:
        return "unknown"
    return ", ".join(map(str, facts.addresses.get(family, ()))) or "none"


async def _check(config: Config, store: Store) -> CheckReport:
    """`nmops check`, recorded as the command does it."""
    routers = config.routers()
    run_id = start_run(store, "check", [r.name for r in routers])
    report = build_report(config, routers, await observe(config, routers))
    record(store, run_id, report)
    finish_run(store, run_id, int(report.exit_code))
    return report


async def run_demo(workdir: Path | None = None) -> DemoResult:
    with tempfile.TemporaryDirectory(prefix="nmops-demo-") as tmp:
        lab = await start_lab(workdir or Path(tmp), fast=True)
        try:
            config = load_config(lab.config_path)
            with Store.open(config.settings.state.resolved(config.base_dir)) as store:
                started = store.now()
                healthy = await _check(config, store)
                # The seed article's failure: NetMeister stops registering kagawa's IPv6
                # address, and then the prefix changes (a new PPPoE address, a new prefix).
                for kind in FAULTS:
                    await lab.fault(FAULTY, kind)
                broken = await _check(config, store)
                planned = await run_fix(config, store, config.routers())
                repaired = await run_fix(config, store, config.routers(), apply=True)
                green = await _check(config, store)
                events = tuple(
                    e
                    for e in timeline(store, None, started)
                    if e.outcome != "planned" and not (e.kind == "transition" and e.what == "ok")
                )
            reloads = lab.sim.routers[FAULTY].reloads
        finally:
            await lab.stop()
    problems = []
    if healthy.exit_code is not ExitCode.OK:
        problems.append(f"the healthy check said {healthy.exit_code.name}, not OK")
    if broken.exit_code is not ExitCode.CRITICAL:
        problems.append(f"the broken check said {broken.exit_code.name}, not CRITICAL")
    for family in ("ipv4", "ipv6"):
        if _status(broken, FAULTY, family) is not Status.STALE:
            problems.append(f"{FAULTY}'s {family} name was not reported as stale")
    rungs = [(r.step.rung.value, r.outcome) for r in repaired.results]
    if not any(rung == "reregister" for rung, _ in rungs):
        problems.append("the repair did not start by re-registering")
    if ("reboot", "verified") not in rungs or reloads != 1:
        problems.append(f"the repair did not end in exactly one good reboot ({rungs}, {reloads})")
    if green.exit_code is not ExitCode.OK:
        problems.append(f"the check after the repair said {green.exit_code.name}, not OK")
    steps = (
        DemoStep(
            "1. A healthy network",
            "Two simulated IX2215s (the seed network's configs) run SSH servers on 127.0.0.1 and "
            "register their addresses with a stand-in for NetMeister DDNS. nmops asked the "
            "zone's server directly for each router's A and AAAA names, logged in to each "
            "router (read-only) for the addresses on its `nm ddns notify` interfaces, its "
            "NetMeister state, its IKE SAs and whether its config is saved: the three truths "
            "agree. Exit code 0 (OK).",
            report=healthy,
        ),
        DemoStep(
            f"2. {FAULTY}: IPv6 registration stuck, then a new address",
            f"{FAULTY} got a new PPPoE address and a new IPv6 prefix, and its IPv6 "
            f"registration is stuck, as in the seed article. DNS still says "
            f"{_dns(broken, FAULTY, 'ipv4')} and {_dns(broken, FAULTY, 'ipv6')}, the router "
            f"has {_addresses(broken, FAULTY, 'ipv4')} and {_addresses(broken, FAULTY, 'ipv6')}: "
            "both names 'stale', exit code 2 (CRITICAL), and tokyo's tunnels have no peer to "
            "reach.",
            report=broken,
        ),
        DemoStep(
            "3. nmops fix: the plan (a dry run)",
            "Seen in two checks in a row, the problem gets a plan: the gentlest step first, each "
            "next one only if the one before did not help. This run used the read-only session "
            "type: it could not have changed anything.",
            fix=planned,
        ),
        DemoStep(
            "4. nmops fix --apply: walking the ladder",
            "Each step was written to the journal before a line went out, sent line by line, "
            "checked in the re-read config, then DNS was polled at the zone's server. "
            "Re-registering fixed the A record; the client restart did not help the IPv6 name; "
            "the reboot did (one reboot: the day's budget). No step changed the saved config, "
            "so nothing was saved.",
            fix=repaired,
        ),
        DemoStep(
            "5. Green again",
            "DNS, the routers' own addresses and the IKE peers agree again. Exit code 0.",
            report=green,
        ),
        DemoStep(
            "6. nmops history",
            "What was seen and done, from the state database (findings as they came and "
            "went, every step with its outcome).",
            history=events,
        ),
    )
    return DemoResult(steps, not problems, tuple(problems), reloads)
