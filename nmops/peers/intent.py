"""What each router's config must say, computed from the inventory (pure).

The intent holds what varies between routers (interfaces, filters, tunnels, OSPF, the names
and keys); the templates hold the IX text around it. Secrets stay references here: the
render decides whether they are read.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal

from nmops.config.model import Family, Inventory, Router
from nmops.config.network import Ipoe, Pppoe, router_slots
from nmops.config.secrets import SecretRef
from nmops.errors import ConfigError

MAP_E = "Tunnel0.0"
# [?] the IX's OSPF cost of an interface without `ip ospf cost` (the seed writes none for 1).
DEFAULT_OSPF_COST = 1
# Sequence numbers of the WAN filters: fixed per purpose, so adding a tunnel or MAP-E never
# renumbers the others (the seed's numbering).
_V6_SEQ = {"dhcpv6": 1, "icmpv6": 2, "ipip": 3, "ikev2": 4, "ipsec": 5}
_V4_SEQ = {"ikev2": 1, "ipsec": 2}
_DENY, _DYNAMIC = 100, 100


@dataclass(frozen=True)
class Filter:
    """`ip filter LIST SEQ in|out` (or `ipv6 filter ...`) on an interface."""

    family: Family
    list: str
    seq: int
    direction: Literal["in", "out"]

    @property
    def line(self) -> str:
        word = "ipv6" if self.family == "ipv6" else "ip"
        return f"{word} filter {self.list} {self.seq} {self.direction}"


@dataclass(frozen=True)
class TunnelIntent:
    number: int
    peer: str  # the peer router's name
    family: Family
    peer_fqdn: str | None  # the name the peer registers for ``family``...
    peer_address: str | None  # ...or its fixed address (a hub)
    peer_id: str  # the peer's PSK identity
    outgoing: str  # this router's WAN for ``family``
    cost: int
    unnumbered: str  # the LAN interface whose address the tunnel borrows

    @property
    def interface(self) -> str:
        return f"Tunnel{self.number}.0"

    @property
    def peer_line(self) -> str:
        auth = f"authentication psk id keyid {self.peer_id}"
        if self.peer_fqdn is not None:
            suffix = "6" if self.family == "ipv6" else "4"
            return f"ikev2 peer-fqdn-ipv{suffix} {self.peer_fqdn} {auth}"
        return f"ikev2 peer {self.peer_address} {auth}"

    @property
    def cost_line(self) -> str | None:
        return None if self.cost == DEFAULT_OSPF_COST else f"ip ospf cost {self.cost}"


@dataclass(frozen=True)
class Psk:
    id: str
    secret: SecretRef


@dataclass(frozen=True)
class InterfaceIntent:
    name: str
    role: Literal["ipoe", "pppoe", "lan", "map-e"]
    filters: tuple[Filter, ...] = ()


@dataclass(frozen=True)
class Route:
    interface: str
    distance: int | None = None


@dataclass(frozen=True)
class Ospf:
    process: int
    networks: tuple[str, ...]  # the tunnels, area 0


@dataclass(frozen=True)
class NetMeisterIntent:
    group: str
    password: SecretRef | None
    hostname: str | None  # `nm ddns hostname`, only when it differs from the hostname
    notify: tuple[tuple[Family, str], ...]  # (family, interface)
    outgoing: str | None  # `nm outgoing-interface` (MAP-E), with the PPPoE as standby
    standby: str | None


@dataclass(frozen=True)
class RouterIntent:
    name: str
    model: str
    local_id: str
    lan_interface: str
    lan_address: ipaddress.IPv4Interface
    ipoe: Ipoe | None
    pppoe: Pppoe | None
    hgw: ipaddress.IPv4Interface | None
    monitor: ipaddress.IPv4Address | None  # set when the watch-group failover applies
    routes: tuple[Route, ...]
    interfaces: tuple[InterfaceIntent, ...]
    netmeister: NetMeisterIntent
    psks: tuple[Psk, ...]
    tunnels: tuple[TunnelIntent, ...]
    ospf: Ospf | None

    def interface(self, name: str) -> InterfaceIntent | None:
        return next((i for i in self.interfaces if i.name == name), None)

    @property
    def map_e(self) -> bool:
        return self.ipoe is not None and self.ipoe.map_e

    @property
    def failover(self) -> bool:
        """MAP-E primary with PPPoE backup: the watch-group and the standby NetMeister path."""
        return self.map_e and self.pppoe is not None


def intent(inventory: Inventory, router_name: str) -> RouterIntent:
    """The intent for ``router_name``. A router the inventory cannot render (no WAN, no LAN,
    a link its keys cannot carry) is a ConfigError; the loader reports the same problems
    located, so this is only reached with an inventory built in code."""
    router = inventory.routers.get(router_name)
    if router is None:
        raise ConfigError([f"no router named {router_name!r} in the inventory"])
    missing = [key for key in ("wan", "lan") if getattr(router, key) is None]
    if missing:
        raise ConfigError(
            [f"routers.{router_name}: needs {' and '.join(missing)} to render its config"]
        )
    assert router.wan is not None and router.lan is not None
    ipoe, pppoe = router.wan.ipoe, router.wan.pppoe
    tunnels = tuple(_tunnels(inventory, router))
    failover = ipoe is not None and ipoe.map_e and pppoe is not None
    return RouterIntent(
        name=router.name,
        model=router.model,
        local_id=router.name,
        lan_interface=router.lan.interface,
        lan_address=router.lan.address,
        ipoe=ipoe,
        pppoe=pppoe,
        hgw=router.hgw.address if router.hgw is not None else None,
        monitor=router.monitor.target if failover and router.monitor is not None else None,
        routes=_routes(ipoe, pppoe),
        interfaces=_interfaces(router, ipoe, pppoe, tunnels),
        netmeister=_netmeister(inventory, router, ipoe, pppoe),
        psks=_psks(inventory, router, tunnels),
        tunnels=tunnels,
        ospf=Ospf(1, tuple(t.interface for t in tunnels)) if tunnels else None,
    )


def _tunnels(inventory: Inventory, router: Router) -> list[TunnelIntent]:
    assert router.wan is not None and router.lan is not None
    out = []
    for slot in router_slots(inventory, router.name):
        peer = inventory.routers[slot.peer]
        outgoing = router.wan.interface(slot.family)
        problem = _cannot(router, peer, slot.family)
        if outgoing is None or problem is not None:
            raise ConfigError([f"routers.{router.name}: {problem or 'no WAN for ' + slot.family}"])
        fqdn = address = None
        if peer.notify_interface(slot.family) is not None:
            fqdn = inventory.netmeister.fqdn(peer.host_label, slot.family)
        else:
            assert peer.address is not None
            address = str(peer.address.of(slot.family))
        out.append(
            TunnelIntent(
                number=slot.number,
                peer=peer.name,
                family=slot.family,
                peer_fqdn=fqdn,
                peer_address=address,
                peer_id=peer.name,
                outgoing=outgoing,
                cost=slot.cost,
                unnumbered=router.lan.interface,
            )
        )
    return sorted(out, key=lambda t: t.number)


def _cannot(router: Router, peer: Router, family: Family) -> str | None:
    fixed = peer.address.of(family) if peer.address is not None else None
    if peer.notify_interface(family) is None and fixed is None:
        return f"{peer.name} has no {family} DDNS name and no fixed {family} address"
    if peer.psk is None or router.psk is None:
        return f"a link between {router.name} and {peer.name} needs both their `psk`"
    return None


def _routes(ipoe: Ipoe | None, pppoe: Pppoe | None) -> tuple[Route, ...]:
    routes = []
    if ipoe is not None and ipoe.map_e:
        routes.append(Route(MAP_E))
    if pppoe is not None:
        # Behind MAP-E the PPPoE route is the backup: a higher distance.
        routes.append(Route(pppoe.interface, 100 if routes else None))
    return tuple(routes)


def _interfaces(
    router: Router,
    ipoe: Ipoe | None,
    pppoe: Pppoe | None,
    tunnels: tuple[TunnelIntent, ...],
) -> tuple[InterfaceIntent, ...]:
    """Each WAN with its inbound filters: what it needs, and IKE (udp/500) and ESP where a
    tunnel goes out on it; everything else denied, replies let back by the dynamic list."""
    assert router.lan is not None
    used = {(t.family, t.outgoing) for t in tunnels}
    out = []
    if ipoe is not None:
        wanted = ["dhcpv6", "icmpv6"]
        if ipoe.map_e:
            wanted.append("ipip")  # MAP-E is IPv4 in IPv6
        if ("ipv6", ipoe.interface) in used:
            wanted += ["ikev2", "ipsec"]
        filters = [Filter("ipv6", name, _V6_SEQ[name], "in") for name in wanted]
        filters += [Filter("ipv6", "deny", _DENY, "in"), Filter("ipv6", "dynamic", _DYNAMIC, "out")]
        out.append(InterfaceIntent(ipoe.interface, "ipoe", tuple(filters)))
    if pppoe is not None:
        names = ["ikev2", "ipsec"] if ("ipv4", pppoe.interface) in used else []
        filters = [Filter("ipv4", name, _V4_SEQ[name], "in") for name in names]
        filters += [Filter("ipv4", "deny", _DENY, "in"), Filter("ipv4", "dynamic", _DYNAMIC, "out")]
        out.append(InterfaceIntent(pppoe.interface, "pppoe", tuple(filters)))
    out.append(InterfaceIntent(router.lan.interface, "lan"))
    if ipoe is not None and ipoe.map_e:
        filters = [Filter("ipv4", "deny", _DENY, "in"), Filter("ipv4", "dynamic", _DYNAMIC, "out")]
        out.append(InterfaceIntent(MAP_E, "map-e", tuple(filters)))
    return tuple(out)


def _netmeister(
    inventory: Inventory, router: Router, ipoe: Ipoe | None, pppoe: Pppoe | None
) -> NetMeisterIntent:
    label = router.host_label
    failover = ipoe is not None and ipoe.map_e and pppoe is not None
    return NetMeisterIntent(
        group=inventory.netmeister.group,
        password=inventory.netmeister.password,
        hostname=label if label != router.name.lower() else None,
        notify=tuple(
            (family, ifname)
            for family in ("ipv4", "ipv6")
            if (ifname := router.notify_interface(family)) is not None
        ),
        # NetMeister speaks IPv4 only [C]: over MAP-E, with the PPPoE as its standby path.
        outgoing=MAP_E if failover else None,
        standby=pppoe.interface if failover and pppoe is not None else None,
    )


def _psks(
    inventory: Inventory, router: Router, tunnels: tuple[TunnelIntent, ...]
) -> tuple[Psk, ...]:
    """The keys for itself and every peer, by identity (the peer's key is the peer's `psk`:
    both ends hold the same pair)."""
    names = {router.name, *(t.peer for t in tunnels)}
    out = []
    for name in sorted(names):
        ref = inventory.routers[name].psk
        if ref is not None:
            out.append(Psk(name, ref))
    return tuple(out)
