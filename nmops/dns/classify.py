"""From what each server said to one status per name (pure).

Addresses are compared as sets of ``ipaddress`` objects, never as text or by order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import dns.rcode

from nmops.dns.addresses import IPAddress, bogus_reason
from nmops.dns.engine import Outcome
from nmops.status import Status


@dataclass(frozen=True)
class ServerResult:
    server: str
    status: Status
    addresses: tuple[IPAddress, ...] = ()
    ttl: int | None = None
    detail: str | None = None

    @property
    def answer_key(self) -> tuple[Status, frozenset[IPAddress]]:
        """What two servers must share to agree: the kind of answer and the address set."""
        kind = self.status if self.status in (Status.NXDOMAIN, Status.MISSING) else Status.OK
        return kind, frozenset(self.addresses)


@dataclass(frozen=True)
class NameResult:
    fqdn: str
    family: str  # "ipv4" | "ipv6"
    rdtype: str  # "A" | "AAAA"
    status: Status
    partial: bool
    addresses: tuple[IPAddress, ...]
    ttl: int | None
    servers: tuple[ServerResult, ...]
    detail: str | None = None


def sort_addresses(addrs: frozenset[IPAddress] | set[IPAddress]) -> tuple[IPAddress, ...]:
    return tuple(sorted(addrs, key=lambda a: (a.version, int(a))))


def classify_server(
    server: str,
    outcome: Outcome,
    *,
    expect: frozenset[IPAddress],
    allow_documentation: bool,
    expect_source: str = "expected",
    any_of: bool = False,
) -> ServerResult:
    """One server's answer for one name. ``any_of``: ``expect`` are the addresses the router
    has, and NetMeister publishes one of them, so any subset of them is right; otherwise
    (the inventory's fixed ``expect``) the answer must be exactly ``expect``."""
    reply = outcome.reply
    if reply is None:
        status = Status.TIMEOUT if outcome.timed_out else Status.ERROR
        return ServerResult(server, status, detail=outcome.error)
    if reply.rcode == dns.rcode.SERVFAIL:
        return ServerResult(server, Status.SERVFAIL)
    if reply.rcode == dns.rcode.REFUSED:
        return ServerResult(server, Status.REFUSED)
    if reply.rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
        return ServerResult(
            server, Status.ERROR, detail=f"rcode {dns.rcode.Rcode.make(reply.rcode).name}"
        )
    if not reply.authoritative:
        return ServerResult(server, Status.LAME, detail="answer without the AA bit")
    if reply.rcode == dns.rcode.NXDOMAIN:
        return ServerResult(server, Status.NXDOMAIN, ttl=reply.ttl)
    addrs = sort_addresses(set(reply.addresses))
    if not addrs:
        return ServerResult(server, Status.MISSING, ttl=reply.ttl)
    for addr in addrs:
        reason = bogus_reason(addr, allow_documentation=allow_documentation)
        if reason is not None:
            return ServerResult(server, Status.BOGUS, addrs, reply.ttl, f"{addr} is {reason}")
    right = frozenset(addrs) <= expect if any_of else frozenset(addrs) == expect
    if expect and not right:
        detail = f"{expect_source} {', '.join(map(str, sort_addresses(expect)))}"
        return ServerResult(server, Status.STALE, addrs, reply.ttl, detail)
    return ServerResult(server, Status.OK, addrs, reply.ttl)


def aggregate(fqdn: str, family: str, rdtype: str, servers: Sequence[ServerResult]) -> NameResult:
    """All servers that answered agree -> their status; they differ -> ``disagree``; some failed
    while the rest agree -> the agreed status, marked partial; none answered -> the failure."""
    answered = [s for s in servers if not s.status.is_server_failure]
    if not answered:
        common = Counter(s.status for s in servers).most_common(1)
        status = common[0][0] if common else Status.ERROR
        return NameResult(
            fqdn, family, rdtype, status, False, (), None, tuple(servers), "no server answered"
        )
    partial = len(answered) < len(servers)
    keys = {s.answer_key for s in answered}
    ttls = [s.ttl for s in answered if s.ttl is not None]
    ttl = min(ttls) if ttls else None
    if len(keys) == 1:
        first = answered[0]
        statuses = {s.status for s in answered}
        # Same answer everywhere, so the same status too (unless expect/bogus rules differ).
        status = first.status if len(statuses) == 1 else Status.DISAGREE
        return NameResult(
            fqdn,
            family,
            rdtype,
            status,
            partial,
            first.addresses,
            ttl,
            tuple(servers),
            first.detail,
        )
    union: set[IPAddress] = set()
    for s in answered:
        union.update(s.addresses)
    return NameResult(
        fqdn,
        family,
        rdtype,
        Status.DISAGREE,
        partial,
        sort_addresses(union),
        ttl,
        tuple(servers),
        f"{len(keys)} different answers",
    )
