"""``nmops check``: observe (DNS and routers, I/O) then judge (pure), as one value the CLI
renders. ``fix`` and ``serve`` reuse both halves."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from nmops.config.load import Config
from nmops.config.model import Router
from nmops.diagnose import (
    ROUTER_SOURCE,
    Finding,
    PeerView,
    expectation,
    peer_views,
    router_findings,
    with_router_truth,
)
from nmops.dns.addresses import Server
from nmops.dns.classify import NameResult, aggregate, classify_server
from nmops.dns.engine import Outcome
from nmops.dns.observe import DnsName, names_to_check, query_all
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


@dataclass(frozen=True)
class DnsObservation:
    """What the zone's servers said: the servers asked for each name (or why there were
    none), every server's outcome per name, and how many queries that took."""

    names: tuple[DnsName, ...]
    servers_for: Mapping[str, list[Server] | str]
    outcomes: Mapping[tuple[str, str], list[tuple[Server, Outcome]]]
    queries: int = 0


@dataclass(frozen=True)
class Observation:
    """Everything one check saw, before any judgement."""

    dns: DnsObservation
    facts: Mapping[str, RouterFacts] = field(default_factory=dict)
    # Names of inventory routers outside this run that a router's tunnels point at: looked
    # up only to judge those tunnels (a hub checked alone is judged against its spokes).
    peer_dns: DnsObservation | None = None
    seconds: float = 0.0


async def _ask_dns(config: Config, names: list[DnsName]) -> DnsObservation:
    servers_for, outcomes, queries = await query_all(config, names)
    return DnsObservation(tuple(names), servers_for, outcomes, queries)


async def observe(
    config: Config, routers: list[Router], *, ask_routers: bool = True
) -> Observation:
    """DNS at every authoritative server and each router's own view over SSH, in parallel.
    Never raises for DNS or router trouble: that is what the observation records."""
    started = time.monotonic()
    names = names_to_check(config, routers)
    asked = [r for r in routers if ask_routers and r.management]
    facts: dict[str, RouterFacts] = {}
    if asked:
        # Imported here: SSH (asyncssh, cryptography) costs ~0.15 s of start-up, which a
        # DNS-only check or a cron run against routers without management paths need not pay.
        from nmops.ix.facts import collect_all

        dns, facts = await asyncio.gather(_ask_dns(config, names), collect_all(config, asked))
    else:
        dns = await _ask_dns(config, names)
    peer_dns = None
    extra = _peer_names(config, routers, facts, {n.fqdn for n in names})
    if extra:
        peer_dns = await _ask_dns(config, extra)
    return Observation(dns, facts, peer_dns, time.monotonic() - started)


def _peer_names(
    config: Config, routers: list[Router], facts: Mapping[str, RouterFacts], known: set[str]
) -> list[DnsName]:
    """The names of inventory routers not in ``routers`` that the asked routers' tunnels
    point at."""
    wanted = {t.peer_fqdn for f in facts.values() for t in f.tunnels if t.peer_fqdn} - known
    if not wanted:
        return []
    selected = {r.name for r in routers}
    others = [r for r in config.inventory.routers.values() if r.name not in selected]
    return [n for n in names_to_check(config, others) if n.fqdn in wanted]


def judge_names(
    config: Config,
    routers: Mapping[str, Router],
    dns: DnsObservation,
    facts: Mapping[str, RouterFacts],
) -> dict[str, list[NameResult]]:
    """Each router's names, judged against what its servers said and what it has (pure)."""
    allow_doc = config.settings.dns.allow_documentation
    by_router: dict[str, list[NameResult]] = defaultdict(list)
    for n in dns.names:
        router = routers[n.router]
        found = dns.servers_for[n.fqdn]
        router_facts = facts.get(router.name)
        if isinstance(found, str):
            result = NameResult(
                n.fqdn, n.family, n.rdtype, Status.ERROR, False, (), None, (), found
            )
        else:
            expect, source = expectation(router, router_facts, n.family)
            server_results = sorted(
                (
                    classify_server(
                        str(server),
                        outcome,
                        expect=expect,
                        allow_documentation=allow_doc,
                        expect_source=source,
                        any_of=source == ROUTER_SOURCE,
                    )
                    for server, outcome in dns.outcomes[(n.fqdn, n.rdtype)]
                ),
                key=lambda s: s.server,
            )
            result = aggregate(n.fqdn, n.family, n.rdtype, server_results)
            result = with_router_truth(result, router_facts)
        by_router[n.router].append(result)
    return by_router


def build_report(config: Config, routers: list[Router], seen: Observation) -> CheckReport:
    """Judge an observation (pure): names, IKE peers, router findings."""
    everyone = config.inventory.routers
    by_router = judge_names(config, everyone, seen.dns, seen.facts)
    checked = {n.fqdn: n for results in by_router.values() for n in results}
    if seen.peer_dns is not None:
        for results in judge_names(config, everyone, seen.peer_dns, {}).values():
            checked.update((n.fqdn, n) for n in results)
    reports = []
    for r in routers:
        facts = seen.facts.get(r.name)
        peers = peer_views(facts, checked) if facts is not None else ()
        reports.append(
            RouterReport(
                r.name,
                tuple(by_router[r.name]),
                facts=facts,
                peers=peers,
                findings=router_findings(r, facts, peers),
            )
        )
    queries = seen.dns.queries + (seen.peer_dns.queries if seen.peer_dns else 0)
    return CheckReport(tuple(reports), queries=queries, seconds=seen.seconds)


async def run_check(
    config: Config, routers: list[Router], *, ask_routers: bool = True
) -> CheckReport:
    """Observe and judge."""
    return build_report(config, routers, await observe(config, routers, ask_routers=ask_routers))


async def check_dns(config: Config, routers: list[Router]) -> CheckReport:
    """The DNS side alone (no router is asked)."""
    return await run_check(config, routers, ask_routers=False)
