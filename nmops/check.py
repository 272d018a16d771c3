"""``nmops check``: observe (DNS and routers) and diagnose, as one value the CLI renders."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from dataclasses import dataclass

from nmops.config.load import Config
from nmops.config.model import Router
from nmops.diagnose import (
    Finding,
    PeerView,
    expectation,
    peer_views,
    router_findings,
    with_router_truth,
)
from nmops.dns.classify import NameResult, aggregate, classify_server
from nmops.dns.observe import names_to_check, query_all
from nmops.ix.observed import RouterFacts
from nmops.status import ExitCode, Status, severity, worst

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RouterReport:
    name: str
    names: tuple[NameResult, ...]
    facts: RouterFacts | None = None  # None: the router was not asked
    peers: tuple[PeerView, ...] = ()
    findings: tuple[Finding, ...] = ()

    @property
    def exit_code(self) -> ExitCode:
        codes = [severity(n.status, partial=n.partial) for n in self.names]
        codes += [severity(f.status) for f in self.findings]
        return worst(codes)


@dataclass(frozen=True)
class CheckReport:
    routers: tuple[RouterReport, ...]
    queries: int = 0
    seconds: float = 0.0

    @property
    def exit_code(self) -> ExitCode:
        return worst([r.exit_code for r in self.routers])


async def check_dns(config: Config, routers: list[Router]) -> CheckReport:
    """The DNS side alone (no router is asked)."""
    return await run_check(config, routers, ask_routers=False)


async def run_check(
    config: Config, routers: list[Router], *, ask_routers: bool = True
) -> CheckReport:
    """Observe (DNS at every authoritative server; each router's own view over SSH, in
    parallel) and diagnose. Never raises for DNS or router trouble: it becomes a status."""
    started = time.monotonic()
    dns_cfg = config.settings.dns
    names = names_to_check(config, routers)
    asked = [r for r in routers if ask_routers and r.management]
    facts: dict[str, RouterFacts] = {}
    if asked:
        # Imported here: SSH (asyncssh, cryptography) costs ~0.15 s of start-up, which a
        # DNS-only check or a cron run against routers without management paths need not pay.
        from nmops.ix.facts import collect_all

        (servers_for, outcomes, queries), facts = await asyncio.gather(
            query_all(config, names), collect_all(config, asked)
        )
    else:
        servers_for, outcomes, queries = await query_all(config, names)
    by_name = {r.name: r for r in routers}
    by_router: dict[str, list[NameResult]] = defaultdict(list)
    for n in names:
        router = by_name[n.router]
        found = servers_for[n.fqdn]
        if isinstance(found, str):
            result = NameResult(
                n.fqdn, n.family, n.rdtype, Status.ERROR, False, (), None, (), found
            )
        else:
            expect, source = expectation(router, facts.get(router.name), n.family)
            server_results = sorted(
                (
                    classify_server(
                        str(server),
                        outcome,
                        expect=expect,
                        allow_documentation=dns_cfg.allow_documentation,
                        expect_source=source,
                    )
                    for server, outcome in outcomes[(n.fqdn, n.rdtype)]
                ),
                key=lambda s: s.server,
            )
            result = aggregate(n.fqdn, n.family, n.rdtype, server_results)
            result = with_router_truth(result, router, facts.get(router.name))
        by_router[n.router].append(result)
    checked = {n.fqdn: n for results in by_router.values() for n in results}
    reports = []
    for r in routers:
        router_facts = facts.get(r.name)
        peers = peer_views(router_facts, checked) if router_facts is not None else ()
        reports.append(
            RouterReport(
                r.name,
                tuple(by_router[r.name]),
                facts=router_facts,
                peers=peers,
                findings=router_findings(router_facts, peers),
            )
        )
    return CheckReport(tuple(reports), queries=queries, seconds=time.monotonic() - started)
