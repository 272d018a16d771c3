"""``nmops demo``: the DNS side of nmops on the built-in lab, as a short story."""

from __future__ import annotations

import ipaddress
import tempfile
from dataclasses import dataclass
from pathlib import Path

from nmops.check import CheckReport, check_dns
from nmops.config.load import load_config
from nmops.lab.configs import LabRouter, write_lab_config
from nmops.lab.ddns import DdnsRegistry, DdnsServer
from nmops.status import ExitCode, Status

GROUP, ZONE = "fetburner", "nmddns.jp"
# The seed network's two routers, with documentation-range addresses standing in for FLET'S.
SEED = {
    "ix2215-tokyo": ("203.0.113.10", "2001:db8:100::1"),
    "ix2215-kagawa": ("198.51.100.20", "2001:db8:200::1"),
}
TOKYO_NEW_A = "203.0.113.99"


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


def _status(report: CheckReport, router: str, family: str) -> Status | None:
    for r in report.routers:
        for n in r.names:
            if r.name == router and n.family == family:
                return n.status
    return None


async def run_demo(workdir: Path | None = None) -> DemoResult:
    registry = DdnsRegistry()
    for name, (v4, v6) in SEED.items():
        registry.set(f"{name}.{GROUP}.{ZONE}", "A", [ipaddress.ip_address(v4)])
        registry.set(f"{name}.{GROUP}.v6.{ZONE}", "AAAA", [ipaddress.ip_address(v6)])
    server = DdnsServer(registry, ZONE)
    await server.start()
    try:
        with tempfile.TemporaryDirectory(prefix="nmops-demo-") as tmp:
            base = workdir or Path(tmp)
            path = write_lab_config(
                base,
                dns_servers=[server.address],
                group=GROUP,
                zone=ZONE,
                routers=[
                    LabRouter(name, site=name.split("-")[-1], expect={"ipv4": [v4], "ipv6": [v6]})
                    for name, (v4, v6) in SEED.items()
                ],
            )
            config = load_config(path)
            healthy = await check_dns(config, config.routers())
            # What the seed article fears: kagawa's AAAA registration stops and drops out,
            # and tokyo's PPPoE address changes while DDNS still says the old one.
            registry.remove(f"ix2215-kagawa.{GROUP}.v6.{ZONE}", "AAAA")
            registry.set(f"ix2215-tokyo.{GROUP}.{ZONE}", "A", [ipaddress.ip_address(TOKYO_NEW_A)])
            broken = await check_dns(config, config.routers())
    finally:
        await server.stop()
    problems = []
    if healthy.exit_code is not ExitCode.OK:
        problems.append(f"the healthy check said {healthy.exit_code.name}, not OK")
    if broken.exit_code is not ExitCode.CRITICAL:
        problems.append(f"the broken check said {broken.exit_code.name}, not CRITICAL")
    if _status(broken, "ix2215-kagawa", "ipv6") is not Status.MISSING:
        problems.append("kagawa's lost AAAA was not reported as missing")
    if _status(broken, "ix2215-tokyo", "ipv4") is not Status.STALE:
        problems.append("tokyo's changed A was not reported as stale")
    steps = (
        DemoStep(
            "1. A healthy network",
            healthy,
            f"The lab DDNS server on {server.address} answers for {ZONE} as NetMeister's "
            "servers would. nmops asked it directly (no recursion, no cache) for each "
            "router's A and AAAA names: all registered, all as expected. Exit code 0 (OK).",
        ),
        DemoStep(
            "2. Two faults",
            broken,
            "kagawa's IPv6 registration dropped out: the name exists but has no AAAA (NODATA), "
            f"so nmops reports 'missing'. tokyo's A record now says {TOKYO_NEW_A}, but the "
            f"router's address is {SEED['ix2215-tokyo'][0]} (the inventory's `expect`, the "
            "truth until nmops asks the router itself): 'stale'. Either would break the VPN; "
            "exit code 2 (CRITICAL) pages someone.",
        ),
    )
    return DemoResult(steps, not problems, tuple(problems))
