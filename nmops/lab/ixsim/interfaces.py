"""Which addresses an interface has, from the config and the lab's WAN (pure).

As in the seed network: the PPPoE interface (`ip address ipcp`) gets the lab's PPPoE IPv4
address; the IPv6 /64 arrives by RA on the WAN and is proxied (ND proxy) to the LAN, so the
global IPv6 address sits on the LAN interface named by `ipv6 nd proxy IF` (or, without a
proxy, the one sending RAs). Every interface with `ipv6 enable` has a link-local address.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
from dataclasses import dataclass

from nmops.lab.ixsim.config import RunningConfig
from nmops.lab.ixsim.wan import WanAddresses

PPPOE_MTU = 1454
ETHERNET_MTU = 1500
TUNNEL_MTU = 1436
_PORT_RE = re.compile(r"^[A-Za-z-]+(\d+)")


@dataclass(frozen=True)
class V4State:
    name: str
    configured: bool  # the interface block exists
    admin_up: bool
    address: ipaddress.IPv4Interface | None
    origin: str | None  # `config`, `IPCP`, `DHCP`
    unnumbered: str | None  # `ip unnumbered IF`
    mtu: int


@dataclass(frozen=True)
class V6State:
    name: str
    configured: bool
    admin_up: bool
    enabled: bool  # `ipv6 enable`
    link_local: ipaddress.IPv6Address | None
    globals: tuple[tuple[ipaddress.IPv6Interface, str], ...]  # (address, origin: RA, config)
    mtu: int


def _children(config: RunningConfig, ifname: str) -> list[str] | None:
    return config.block(f"interface {ifname}")


def _mtu(ifname: str, children: list[str]) -> int:
    if any(c.startswith("ppp binding ") for c in children):
        return PPPOE_MTU
    return TUNNEL_MTU if ifname.startswith("Tunnel") else ETHERNET_MTU


def _port(ifname: str) -> int:
    match = _PORT_RE.match(ifname)
    offset = 0 if ifname.startswith("GigaEthernet") else 8  # tunnels etc. get other MACs
    return offset + (int(match[1]) if match else 0)


def ipv4_state(config: RunningConfig, wan: WanAddresses, ifname: str) -> V4State:
    children = _children(config, ifname)
    if children is None:
        return V4State(ifname, False, False, None, None, None, ETHERNET_MTU)
    admin_up = "shutdown" not in children
    address: ipaddress.IPv4Interface | None = None
    origin: str | None = None
    unnumbered: str | None = None
    for child in children:
        if child == "ip address ipcp":
            address, origin = ipaddress.IPv4Interface((wan.pppoe_v4, 32)), "IPCP"
        elif child == "ip address dhcp":
            origin = "DHCP"  # the lab runs no DHCP server on the WAN
        elif child.startswith("ip address "):
            try:
                address = ipaddress.IPv4Interface(child.split()[2])
                origin = "config"
            except ValueError:
                pass  # `ip address map-e` and other shapes the lab does not model
        elif child.startswith("ip unnumbered "):
            unnumbered = child.split()[2]
    if not admin_up:
        address = None
    return V4State(ifname, True, admin_up, address, origin, unnumbered, _mtu(ifname, children))


def v6_lan_interface(config: RunningConfig) -> str | None:
    """The interface that carries the router's global IPv6 address."""
    for _, children in config.blocks("interface "):
        for child in children:
            if child.startswith("ipv6 nd proxy "):
                return child.split()[3]
    for header, children in config.blocks("interface "):
        if "ipv6 nd ra enable" in children:
            return header.split()[1]
    return None


def ipv6_state(config: RunningConfig, wan: WanAddresses, ifname: str) -> V6State:
    children = _children(config, ifname)
    if children is None:
        return V6State(ifname, False, False, False, None, (), ETHERNET_MTU)
    admin_up = "shutdown" not in children
    enabled = "ipv6 enable" in children
    mtu = _mtu(ifname, children)
    if not enabled or not admin_up:
        return V6State(ifname, True, admin_up, enabled, None, (), mtu)
    globals_: list[tuple[ipaddress.IPv6Interface, str]] = []
    if v6_lan_interface(config) == ifname:
        globals_.append((ipaddress.IPv6Interface((wan.v6_global, 64)), "RA"))
    for child in children:
        if child.startswith("ipv6 address "):
            with contextlib.suppress(ValueError):
                globals_.append((ipaddress.IPv6Interface(child.split()[2]), "config"))
    link_local = wan.link_local(_port(ifname))
    return V6State(ifname, True, admin_up, enabled, link_local, tuple(globals_), mtu)


def interface_names(config: RunningConfig) -> list[str]:
    return [header.split()[1] for header, _ in config.blocks("interface ")]
