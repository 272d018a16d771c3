"""``nmops check``: observe (DNS and routers) and diagnose, as one value the CLI renders."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from dataclasses import dataclass

from nmops.config.load import Config
from nmops.config.model import Family, Router
from nmops.diagnose import (
    Finding,
    PeerView,
    expectation,
    peer_views,
    router_findings,
    with_router_truth,
)
from nmops.dns.classify import NameResult, aggregate, classify_server
from nmops.dns.discover import make_resolver, zone_servers
from nmops.dns.engine import Limits, Outcome, Question, Server, ServerClient
from nmops.dns.wire import AAAA, A, question_wire
from nmops.errors import DnsError
from nmops.ix.facts import collect_all
from nmops.ix.observed import RouterFacts
from nmops.status import ExitCode, Status, severity, worst

log = logging.getLogger(__name__)

_RDTYPE: dict[Family, tuple[str, int]] = {"ipv4": ("A", A), "ipv6": ("AAAA", AAAA)}


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
class _Name:
    router: str
    fqdn: str
    family: Family
    rdtype: str
    question: Question


def _names(config: Config, routers: list[Router]) -> list[_Name]:
    nm = config.inventory.netmeister
    payload = config.settings.dns.edns_payload
    out: list[_Name] = []
    for router in routers:
        for family in router.ddns.families():
            fqdn = nm.fqdn(router.host_label, family)
            rdtype, code = _RDTYPE[family]
            question = Question(fqdn, code, question_wire(fqdn, code, payload))
            out.append(_Name(router.name, fqdn, family, rdtype, question))
    return out


async def _servers_by_name(config: Config, names: list[_Name]) -> dict[str, list[Server] | str]:
    """The servers to ask for each name, or why none could be found."""
    dns_cfg = config.settings.dns
    if dns_cfg.servers:
        fixed = [Server.parse(s) for s in dns_cfg.servers]
        return {n.fqdn: fixed for n in names}
    try:
        resolver = make_resolver([Server.parse(s) for s in dns_cfg.bootstrap], dns_cfg.timeout)
    except DnsError as exc:
        return {n.fqdn: str(exc) for n in names}
    # One discovery per parent name (HOST.GROUP.ZONE and HOST.GROUP.v6.ZONE), run together.
    parents = sorted({n.fqdn.split(".", 1)[1] for n in names})

    async def discover(parent: str) -> list[Server] | str:
        try:
            return await zone_servers(parent, resolver, dns_cfg.port)
        except DnsError as exc:
            return str(exc)

    found = dict(zip(parents, await asyncio.gather(*map(discover, parents)), strict=True))
    return {n.fqdn: found[n.fqdn.split(".", 1)[1]] for n in names}


async def _query(
    config: Config, names: list[_Name]
) -> tuple[dict[str, list[Server] | str], dict[tuple[str, str], list[tuple[Server, Outcome]]], int]:
    """Ask every server its names: (servers per name or why none, outcomes per name, count)."""
    dns_cfg = config.settings.dns
    servers_for = await _servers_by_name(config, names)
    per_server: dict[Server, list[_Name]] = defaultdict(list)
    for n in names:
        found = servers_for[n.fqdn]
        if not isinstance(found, str):
            for server in found:
                per_server[server].append(n)
    limits = Limits(dns_cfg.timeout, dns_cfg.retries, dns_cfg.concurrency, dns_cfg.rate)

    async def ask(server: Server, todo: list[_Name]) -> tuple[Server, list[_Name], list[Outcome]]:
        try:
            async with ServerClient(server, limits) as client:
                outcomes = await client.ask_all([n.question for n in todo])
        except OSError as exc:
            # No socket to this server at all (no route, wrong family...): every question to
            # it failed, the others go on.
            failed = Outcome(None, f"socket: {exc.strerror or exc}")
            outcomes = [failed] * len(todo)
        return server, todo, outcomes

    outcomes: dict[tuple[str, str], list[tuple[Server, Outcome]]] = defaultdict(list)
    queries = 0
    for server, todo, said in await asyncio.gather(
        *(ask(s, todo) for s, todo in per_server.items())
    ):
        queries += len(todo)
        for n, outcome in zip(todo, said, strict=True):
            outcomes[(n.fqdn, n.rdtype)].append((server, outcome))
    return servers_for, outcomes, queries


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
    names = _names(config, routers)
    asked = [r for r in routers if ask_routers and r.management]
    (servers_for, outcomes, queries), facts = await asyncio.gather(
        _query(config, names), collect_all(config, asked)
    )
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
