"""Which addresses an interface has, from the config and the lab's WAN (pure).

The PPPoE interface (`ip address ipcp`, or `dhcp` on a twin's WAN) gets the lab's WAN IPv4
address. The router's global IPv6 address (in the lab's /64 for it) sits where the config
puts it, by the same rule nmops reads configs with (`routerconfig.v6_global_interface`): the
LAN interface the WAN proxies to (RA + ND proxy, the seed), or the interface with
`ipv6 address autoconfig` (DHCPv6-PD / autoconfig on the WAN). Every interface with
`ipv6 enable` has a link-local address.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
from dataclasses import dataclass

from nmops.ix import lines, routerconfig
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


def _children(config: lines.Config, ifname: str) -> list[str] | None:
    found = routerconfig.interface_lines(config, ifname)
    return None if found is None else list(found)


def _mtu(ifname: str, children: list[str]) -> int:
    if any(c.startswith("ppp binding ") for c in children):
        return PPPOE_MTU
    return TUNNEL_MTU if ifname.startswith("Tunnel") else ETHERNET_MTU


def _port(ifname: str) -> int:
    match = _PORT_RE.match(ifname)
    offset = 0 if ifname.startswith("GigaEthernet") else 8  # tunnels etc. get other MACs
    return offset + (int(match[1]) if match else 0)


def ipv4_state(config: lines.Config, wan: WanAddresses, ifname: str) -> V4State:
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
        elif child.startswith("ip address dhcp"):
            address, origin = ipaddress.IPv4Interface((wan.pppoe_v4, 32)), "DHCP"
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


def ipv6_state(config: lines.Config, wan: WanAddresses, ifname: str) -> V6State:
    children = _children(config, ifname)
    if children is None:
        return V6State(ifname, False, False, False, None, (), ETHERNET_MTU)
    admin_up = "shutdown" not in children
    enabled = "ipv6 enable" in children
    mtu = _mtu(ifname, children)
    if not enabled or not admin_up:
        return V6State(ifname, True, admin_up, enabled, None, (), mtu)
    globals_: list[tuple[ipaddress.IPv6Interface, str]] = []
    if routerconfig.v6_global_interface(config) == ifname:
        globals_.append((ipaddress.IPv6Interface((wan.v6_global, 64)), "RA"))
    for child in children:
        if child.startswith("ipv6 address "):
            with contextlib.suppress(ValueError):
                globals_.append((ipaddress.IPv6Interface(child.split()[2]), "config"))
    link_local = wan.link_local(_port(ifname))
    return V6State(ifname, True, admin_up, enabled, link_local, tuple(globals_), mtu)


def interface_names(config: lines.Config) -> list[str]:
    return [block.line.split()[1] for block in config.blocks("interface")]
