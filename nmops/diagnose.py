"""The three-way truth check (pure): DNS answers, the router's own addresses, the IKE peer
addresses in use. Turns observations into findings with stable codes."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from nmops.config.model import Family, Router
from nmops.dns.addresses import IPAddress
from nmops.dns.classify import NameResult
from nmops.ix import routerconfig
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


ROUTER_SOURCE = "the router has"


def expectation(
    router: Router, facts: RouterFacts | None, family: Family
) -> tuple[frozenset[IPAddress], str]:
    """What DNS should say, and who says so: the router's own global addresses once it has
    been asked, else the inventory's ``expect`` (empty: no opinion)."""
    if facts is not None and facts.reachable and facts.addresses.get(family):
        return frozenset(facts.addresses[family]), ROUTER_SOURCE
    return router.expected(family), "expected"


def with_router_truth(name: NameResult, facts: RouterFacts | None) -> NameResult:
    """``no-address`` when the router was asked and its notify interface has no global address:
    DNS cannot be right, and the fault is upstream of DDNS."""
    family = "ipv4" if name.family == "ipv4" else "ipv6"
    if facts is None or not facts.reachable or family not in facts.interfaces:
        return name
    if facts.addresses.get(family):
        return name
    return dataclasses.replace(
        name,
        status=Status.NO_ADDRESS,
        detail=f"{facts.interfaces[family]} has no global {family} address (DNS says "
        f"{', '.join(map(str, name.addresses)) or 'nothing'})",
    )


def peer_views(facts: RouterFacts, names: Mapping[str, NameResult]) -> tuple[PeerView, ...]:
    """Each IKE SA, judged by what its tunnel's config says it should reach: ``peer-stale``
    when the peer's name is right in DNS (``ok``) but the SA still talks to an address DNS no
    longer gives, or when a tunnel with a fixed peer address talks to another one."""
    views = []
    for sa in facts.ike:
        tunnel = facts.tunnel(sa.tunnel)
        fqdn = tunnel.peer_fqdn if tunnel is not None else None
        status: Status | None = None
        detail = None
        if tunnel is not None and tunnel.peer_address is not None:
            status = Status.OK if sa.remote == tunnel.peer_address else Status.PEER_STALE
            if status is Status.PEER_STALE:
                detail = f"{sa.tunnel} talks to {sa.remote}, its config says {tunnel.peer_address}"
        name = names.get(fqdn) if fqdn else None
        if name is not None and name.status is Status.OK:
            if sa.remote in name.addresses:
                status = Status.OK
            else:
                status = Status.PEER_STALE
                detail = (
                    f"{sa.tunnel} talks to {sa.remote} but {fqdn} is "
                    f"{', '.join(map(str, name.addresses))}: renegotiate the tunnel"
                )
        views.append(PeerView(sa.tunnel, fqdn, sa.remote, sa.local, sa.state, status, detail))
    return tuple(views)


def ddns_config_findings(router: Router, facts: RouterFacts) -> list[Finding]:
    """Where the router's NetMeister lines disagree with the inventory, or with where the
    config itself puts the global IPv6 address (``ddns-config``)."""
    nm, running = facts.netmeister, facts.running
    families = router.families()
    if nm is None or running is None or not families:
        return []
    out: list[Finding] = []
    if not nm.enabled:
        out.append(Finding(Status.DDNS_CONFIG, "`nm ip enable` is missing: NetMeister is off"))
    for family in families:
        protocol = "ip" if family == "ipv4" else "ipv6"
        want = router.notify_interface(family)
        have = nm.notify.get(family)
        if have is None:
            out.append(
                Finding(
                    Status.DDNS_CONFIG,
                    f"no `nm ddns notify interface {want} protocol {protocol}` line: "
                    f"the {family} name is not updated",
                )
            )
        elif want is not None and have != want:
            out.append(
                Finding(
                    Status.DDNS_CONFIG,
                    f"`nm ddns notify` for {family} names {have}, the inventory says {want}",
                )
            )
    v6 = nm.notify.get("ipv6")
    carrier = routerconfig.v6_global_interface(running)
    if "ipv6" in families and v6 is not None and carrier is not None and carrier != v6:
        out.append(
            Finding(
                Status.DDNS_CONFIG,
                f"IPv6 is notified on {v6}, but the config puts the global IPv6 address on "
                f"{carrier}",
            )
        )
    return out


def nm_findings(router: Router, facts: RouterFacts) -> list[Finding]:
    """``nm-failed``: the NetMeister client says it failed, or is off although its config
    enables it. DDNS then silently stops following the router's next address change."""
    nm, config = facts.nm, facts.netmeister
    if nm is None or not router.families():
        return []
    code = f" ({nm.code})" if nm.code is not None else ""
    if nm.result.lower().startswith(("fail", "error")):
        return [Finding(Status.NM_FAILED, f"NetMeister client: {nm.result}{code}")]
    if nm.result.lower().startswith("disable") and config is not None and config.enabled:
        return [
            Finding(Status.NM_FAILED, "NetMeister client is off although `nm ip enable` is set")
        ]
    return []


def router_findings(
    router: Router, facts: RouterFacts | None, peers: tuple[PeerView, ...]
) -> tuple[Finding, ...]:
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
    out += ddns_config_findings(router, facts)
    out += nm_findings(router, facts)
    if facts.saved is False:
        out.append(
            Finding(
                Status.UNSAVED,
                "running config differs from startup: a reboot would revert it (write memory)",
            )
        )
    return tuple(out)
