"""The three-way truth check (pure): DNS answers, the router's own addresses, the IKE peer
addresses in use. Turns observations into findings with stable codes."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from nmops.config.model import Family, Router
from nmops.dns.addresses import IPAddress
from nmops.dns.classify import NameResult
from nmops.ix.observed import RouterFacts
from nmops.status import Status


@dataclass(frozen=True)
class Finding:
    """A router-level finding (not tied to one DNS name)."""

    status: Status
    detail: str
    tunnel: str | None = None


@dataclass(frozen=True)
class PeerView:
    """One IKE SA as the router uses it, judged against DNS."""

    tunnel: str
    peer_fqdn: str | None
    remote: IPAddress
    local: IPAddress
    state: str
    status: Status | None  # None: the peer's name was not checked in this run
    detail: str | None = None


def expectation(
    router: Router, facts: RouterFacts | None, family: Family
) -> tuple[frozenset[IPAddress], str]:
    """What DNS should say, and who says so: the router's own global addresses once it has
    been asked, else the inventory's ``expect`` (empty: no opinion)."""
    if facts is not None and facts.reachable and facts.addresses.get(family):
        return frozenset(facts.addresses[family]), "the router has"
    return router.expected(family), "expected"


def with_router_truth(name: NameResult, router: Router, facts: RouterFacts | None) -> NameResult:
    """``no-address`` when the router was asked and its notify interface has no global address:
    DNS cannot be right, and the fault is upstream of DDNS."""
    family: Family = "ipv4" if name.family == "ipv4" else "ipv6"
    if facts is None or not facts.reachable or facts.addresses.get(family):
        return name
    interface = router.ddns.interface(family)
    return dataclasses.replace(
        name,
        status=Status.NO_ADDRESS,
        detail=f"{interface} has no global {family} address (DNS says "
        f"{', '.join(map(str, name.addresses)) or 'nothing'})",
    )


def peer_views(facts: RouterFacts, names: Mapping[str, NameResult]) -> tuple[PeerView, ...]:
    """Each IKE SA: ``peer-stale`` when the peer's name is right in DNS (``ok``) but the SA
    still talks to an address DNS no longer gives."""
    views = []
    for sa in facts.ike:
        fqdn = sa.peer_fqdn.lower().rstrip(".") if sa.peer_fqdn else None
        name = names.get(fqdn) if fqdn else None
        status: Status | None = None
        detail = None
        if name is not None and name.status is Status.OK:
            if sa.remote in name.addresses:
                status = Status.OK
            else:
                status = Status.PEER_STALE
                detail = (
                    f"{sa.tunnel} talks to {sa.remote} but {fqdn} is "
                    f"{', '.join(map(str, name.addresses))}: clear the SA"
                )
        views.append(PeerView(sa.tunnel, fqdn, sa.remote, sa.local, sa.state, status, detail))
    return tuple(views)


def router_findings(facts: RouterFacts | None, peers: tuple[PeerView, ...]) -> tuple[Finding, ...]:
    if facts is None:
        return ()
    if facts.locked:
        return (Finding(Status.LOCKED, facts.error or "config mode is occupied"),)
    if facts.unreadable:
        return (Finding(Status.ERROR, facts.error or "the router's output could not be read"),)
    if not facts.reachable:
        return (Finding(Status.UNREACHABLE, facts.error or "no management path answered"),)
    out = [
        Finding(Status.PEER_STALE, p.detail or "", p.tunnel)
        for p in peers
        if p.status is Status.PEER_STALE
    ]
    if facts.saved is False:
        out.append(
            Finding(
                Status.UNSAVED,
                "running config differs from startup: a reboot would revert it (write memory)",
            )
        )
    return tuple(out)
