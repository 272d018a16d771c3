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

_FIX = "set dns.servers or dns.bootstrap"


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
                "no system resolver (/etc/resolv.conf names none, or cannot be read) to find "
                f"the zone's servers with: {_FIX}"
            ) from exc
    resolver.lifetime = timeout * 3
    resolver.timeout = timeout
    return resolver


async def zone_servers(name: str, resolver: dns.asyncresolver.Resolver, port: int) -> list[Server]:
    """The authoritative servers of the zone that holds ``name``, as addresses."""
    asking = ("SOA", name)  # zone_for_name walks up from the name with SOA queries
    try:
        zone = await dns.asyncresolver.zone_for_name(name, resolver=resolver)
        asking = ("NS", zone.to_text(omit_final_dot=True))
        ns = await resolver.resolve(zone, "NS")
    except dns.exception.DNSException as exc:
        why = explain(exc, *asking, resolver)
        raise DnsError(f"cannot find the authoritative servers for {name}: {why}") from exc
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
        raise DnsError(
            f"the resolvers found no address for any of the {len(ns)} name servers of "
            f"{zone.to_text(omit_final_dot=True)}: {_FIX}"
        )
    log.info("zone %s: servers %s", zone, ", ".join(map(str, servers)))
    return sorted(set(servers), key=str)


def explain(
    exc: dns.exception.DNSException, rdtype: str, name: str, resolver: dns.resolver.BaseResolver
) -> str:
    """What went wrong while finding the zone's servers, in words a user can act on (not
    dnspython's "There is no SOA RR at the DNS root name")."""
    query = f"the {rdtype} query for {name}"
    asked = ", ".join(
        str(Server(ns.address, ns.port))
        if isinstance(ns, dns.nameserver.Do53Nameserver)
        else str(ns)
        for ns in resolver.nameservers
    )
    if isinstance(exc, dns.resolver.LifetimeTimeout):
        seconds = exc.kwargs.get("timeout") or resolver.lifetime
        return (
            f"no resolver answered {query} within {seconds:.1f} s (asked {asked}): check "
            f"that they are reachable, or {_FIX}"
        )
    if isinstance(exc, dns.resolver.NoNameservers):
        said = sorted({_said(err[3]) for err in exc.kwargs.get("errors") or []})
        return f"no resolver could answer {query} (asked {asked}: {', '.join(said)}): {_FIX}"
    if isinstance(exc, dns.resolver.NoRootSOA):
        return (
            f"the resolvers (asked {asked}) found no zone at all for {name}, not even the "
            f"root: DNS is filtered or broken here; {_FIX}"
        )
    if isinstance(exc, dns.resolver.NXDOMAIN):
        return (
            f"the resolvers say {name} does not exist (NXDOMAIN): check netmeister.zone, or {_FIX}"
        )
    if isinstance(exc, dns.resolver.NoAnswer):
        return (
            f"the resolvers know no {rdtype} records for {name}: check netmeister.zone, or {_FIX}"
        )
    if isinstance(exc, dns.resolver.NoResolverConfiguration):
        return f"no resolver is configured to send {query} to: {_FIX}"
    return f"{query} failed ({type(exc).__name__}: {exc}): {_FIX}"


def _said(err: object) -> str:
    """One server's failure as dnspython records it: an rcode name or an exception."""
    if isinstance(err, str):
        return err  # REFUSED, SERVFAIL, NOTIMP ...
    if isinstance(err, dns.exception.Timeout):
        return "timed out"
    if isinstance(err, OSError):
        return err.strerror or type(err).__name__
    return type(err).__name__
