"""Waiting for the world to follow a repair step (I/O): DNS at the zone's authoritative
servers, a tunnel's IKE SA. Bounded, polling, and saying how long is left."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from nmops.config.load import Config
from nmops.config.model import Family, Router
from nmops.dns.addresses import IPAddress
from nmops.dns.classify import NameResult, aggregate, classify_server
from nmops.dns.observe import names_to_check, query_all
from nmops.status import Status

# Called with what is awaited and the seconds left, between looks.
Tick = Callable[[str, float], None]


@dataclass(frozen=True)
class DnsWait:
    ok: bool  # every asked name showed exactly the router's addresses at every server
    names: dict[str, NameResult]  # family -> the last look
    waited: float


async def look_up(
    config: Config, router: Router, expect: Mapping[Family, frozenset[IPAddress]]
) -> dict[str, NameResult]:
    """One look at ``router``'s names (the families in ``expect``), judged against ``expect``."""
    names = [n for n in names_to_check(config, [router]) if n.family in expect]
    servers_for, outcomes, _ = await query_all(config, names)
    allow_doc = config.settings.dns.allow_documentation
    out: dict[str, NameResult] = {}
    for n in names:
        found = servers_for[n.fqdn]
        if isinstance(found, str):
            out[n.family] = NameResult(
                n.fqdn, n.family, n.rdtype, Status.ERROR, False, (), None, (), found
            )
            continue
        servers = sorted(
            (
                classify_server(
                    str(server),
                    outcome,
                    expect=expect[n.family],
                    allow_documentation=allow_doc,
                    expect_source="the router has",
                    any_of=True,
                )
                for server, outcome in outcomes[(n.fqdn, n.rdtype)]
            ),
            key=lambda s: s.server,
        )
        out[n.family] = aggregate(n.fqdn, n.family, n.rdtype, servers)
    return out


async def wait_for_dns(
    config: Config,
    router: Router,
    expect: Mapping[Family, frozenset[IPAddress]],
    *,
    timeout: float,
    poll: float,
    tick: Tick | None = None,
) -> DnsWait:
    """Poll until DNS gives ``expect`` for every family in it, or ``timeout`` passes."""
    started = time.monotonic()
    deadline = started + timeout
    while True:
        names = await look_up(config, router, expect)
        ok = bool(names) and all(n.status is Status.OK and not n.partial for n in names.values())
        left = deadline - time.monotonic()
        if ok or left <= 0:
            return DnsWait(ok, names, time.monotonic() - started)
        if tick is not None:
            tick(f"DNS for {router.name} to follow", left)
        await asyncio.sleep(min(poll, max(left, 0.0)))
