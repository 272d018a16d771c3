"""Finding a zone's authoritative servers: NS through a resolver, then their addresses."""

from __future__ import annotations

import logging

import dns.asyncresolver
import dns.exception
import dns.name
import dns.nameserver
import dns.rdatatype
import dns.resolver

from nmops.dns.addresses import Server
from nmops.errors import DnsError

log = logging.getLogger(__name__)


def make_resolver(bootstrap: list[Server], timeout: float) -> dns.asyncresolver.Resolver:
    """The configured bootstrap resolvers, or the system's when none are configured."""
    if bootstrap:
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [dns.nameserver.Do53Nameserver(s.host, s.port) for s in bootstrap]
    else:
        try:
            resolver = dns.asyncresolver.Resolver()
        except dns.resolver.NoResolverConfiguration as exc:
            raise DnsError(
                "no system resolver to discover the zone's servers with: set dns.servers or "
                "dns.bootstrap"
            ) from exc
    resolver.lifetime = timeout * 3
    resolver.timeout = timeout
    return resolver


async def zone_servers(name: str, resolver: dns.asyncresolver.Resolver, port: int) -> list[Server]:
    """The authoritative servers of the zone that holds ``name``, as addresses."""
    try:
        zone = await dns.asyncresolver.zone_for_name(name, resolver=resolver)
        ns = await resolver.resolve(zone, "NS")
    except dns.exception.DNSException as exc:
        raise DnsError(f"cannot find the authoritative servers for {name}: {exc}") from exc
    servers: list[Server] = []
    for target in sorted(str(rd.target) for rd in ns):
        for rdtype in ("A", "AAAA"):
            try:
                answer = await resolver.resolve(target, rdtype)
            except dns.resolver.NoAnswer:
                continue
            except dns.exception.DNSException as exc:
                log.warning("no %s for name server %s: %s", rdtype, target, exc)
                continue
            servers.extend(Server(rd.address, port) for rd in answer)
    if not servers:
        raise DnsError(f"the name servers of {zone} ({len(ns)}) have no addresses")
    log.info("zone %s: servers %s", zone, ", ".join(map(str, servers)))
    return sorted(set(servers), key=str)
