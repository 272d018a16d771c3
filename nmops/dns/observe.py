"""Observing DNS for a set of routers: which servers to ask, and asking them all (I/O)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass

from nmops.config.load import Config
from nmops.config.model import Family, Router
from nmops.dns.addresses import Server
from nmops.dns.discover import make_resolver, zone_servers
from nmops.dns.engine import Limits, Outcome, Question, ServerClient
from nmops.dns.wire import AAAA, A, question_wire
from nmops.errors import DnsError

_RDTYPE: dict[Family, tuple[str, int]] = {"ipv4": ("A", A), "ipv6": ("AAAA", AAAA)}


@dataclass(frozen=True)
class DnsName:
    router: str
    fqdn: str
    family: Family
    rdtype: str
    question: Question


def names_to_check(config: Config, routers: list[Router]) -> list[DnsName]:
    """Each router's names, only the families its ``ddns`` lists."""
    nm = config.inventory.netmeister
    payload = config.settings.dns.edns_payload
    out: list[DnsName] = []
    for router in routers:
        for family in router.families():
            fqdn = nm.fqdn(router.host_label, family)
            rdtype, code = _RDTYPE[family]
            question = Question(fqdn, code, question_wire(fqdn, code, payload))
            out.append(DnsName(router.name, fqdn, family, rdtype, question))
    return out


async def servers_by_name(config: Config, names: list[DnsName]) -> dict[str, list[Server] | str]:
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


async def query_all(
    config: Config, names: list[DnsName]
) -> tuple[dict[str, list[Server] | str], dict[tuple[str, str], list[tuple[Server, Outcome]]], int]:
    """Ask every server its names: (servers per name or why none, outcomes per name, count)."""
    dns_cfg = config.settings.dns
    servers_for = await servers_by_name(config, names)
    per_server: dict[Server, list[DnsName]] = defaultdict(list)
    for n in names:
        found = servers_for[n.fqdn]
        if not isinstance(found, str):
            for server in found:
                per_server[server].append(n)
    limits = Limits(dns_cfg.timeout, dns_cfg.retries, dns_cfg.concurrency, dns_cfg.rate)

    async def ask(
        server: Server, todo: list[DnsName]
    ) -> tuple[Server, list[DnsName], list[Outcome]]:
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
