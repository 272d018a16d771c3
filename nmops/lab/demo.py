"""``nmops demo``: nmops on the built-in lab (simulated IX routers + DDNS), as a short story."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from nmops.check import CheckReport, run_check
from nmops.config.load import load_config
from nmops.dns.classify import NameResult
from nmops.lab.runner import start_lab
from nmops.status import ExitCode, Status

FAULTY = "ix2215-kagawa"
FAULTS = ("ddns-v6-stuck", "address-change")


@dataclass(frozen=True)
class DemoStep:
    title: str
    report: CheckReport
    explanation: str


@dataclass(frozen=True)
class DemoResult:
    steps: tuple[DemoStep, ...]
    ok: bool  # the story ran as intended
    problems: tuple[str, ...]


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


async def run_demo(workdir: Path | None = None) -> DemoResult:
    with tempfile.TemporaryDirectory(prefix="nmops-demo-") as tmp:
        lab = await start_lab(workdir or Path(tmp), fast=True)
        try:
            config = load_config(lab.config_path)
            healthy = await run_check(config, config.routers())
            # The seed article's failure: NetMeister stops registering kagawa's IPv6 address,
            # and then the prefix changes (a new PPPoE address and a new IPv6 prefix).
            for kind in FAULTS:
                await lab.fault(FAULTY, kind)
            broken = await run_check(config, config.routers())
        finally:
            await lab.stop()
    problems = []
    if healthy.exit_code is not ExitCode.OK:
        problems.append(f"the healthy check said {healthy.exit_code.name}, not OK")
    if broken.exit_code is not ExitCode.CRITICAL:
        problems.append(f"the broken check said {broken.exit_code.name}, not CRITICAL")
    if _status(broken, FAULTY, "ipv6") is not Status.STALE:
        problems.append(f"{FAULTY}'s stuck AAAA was not reported as stale")
    if _status(broken, FAULTY, "ipv4") is not Status.STALE:
        problems.append(f"{FAULTY}'s A, not yet updated, was not reported as stale")
    steps = (
        DemoStep(
            "1. A healthy network",
            healthy,
            "Two simulated IX2215s (the seed network's configs) run SSH servers on 127.0.0.1 and "
            "register their addresses with a stand-in for NetMeister DDNS. nmops asked the "
            "zone's server directly for each router's A and AAAA names, logged in to each "
            "router (read-only) for the addresses on its `nm ddns notify` interfaces, its "
            "NetMeister state, its IKE SAs and whether its config is saved: the three truths "
            "agree. Exit code 0 (OK).",
        ),
        DemoStep(
            f"2. {FAULTY}: IPv6 registration stuck, then a new address",
            broken,
            f"{FAULTY} got a new PPPoE address and a new IPv6 prefix. NetMeister has not "
            f"heard of either yet: DNS still says {_dns(broken, FAULTY, 'ipv4')} and "
            f"{_dns(broken, FAULTY, 'ipv6')} while the router has "
            f"{_addresses(broken, FAULTY, 'ipv4')} and {_addresses(broken, FAULTY, 'ipv6')}: "
            "both 'stale'. Worse, its IPv6 registration is stuck, as in the seed article, so "
            "re-registering will fix the A record but not the AAAA. The tunnels from tokyo have "
            "no peer to reach. Exit code 2 (CRITICAL) pages someone; nmops fix re-registers "
            "and, as a last resort, reboots.",
        ),
    )
    return DemoResult(steps, not problems, tuple(problems))
