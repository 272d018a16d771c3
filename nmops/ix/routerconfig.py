"""What a router's own config says about DDNS and its tunnels (pure).

The truth about which peer a tunnel means to reach, which interface NetMeister notifies and
where the global IPv6 address sits is in the running config, whose format is known [C], not
in `show` outputs whose format is guessed. ``check``, ``fix`` and ``peers lint`` read it here.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from nmops.config.model import Family
from nmops.dns.addresses import IPAddress
from nmops.ix.lines import Config, Node

_NOTIFY_RE = re.compile(r"^nm ddns notify interface (\S+)(?: protocol (ip|ipv6))?\b")
_PEER_FQDN_RE = re.compile(r"^ikev2 peer-fqdn-ipv(?P<family>[46]) (?P<fqdn>\S+)")
_PEER_ADDR_RE = re.compile(r"^ikev2 peer (?P<address>[0-9A-Fa-f:.]+)(?:\s|$)")
_OUTGOING_RE = re.compile(r"^ikev2 outgoing-interface (\S+)")


@dataclass(frozen=True)
class NetMeisterConfig:
    enabled: bool  # `nm ip enable`
    group: str | None  # `nm account GROUP ...`
    hostname: str | None  # `nm ddns hostname H`, else None (the router's hostname)
    notify: dict[Family, str]  # `nm ddns notify interface IF protocol ip|ipv6`


@dataclass(frozen=True)
class Tunnel:
    interface: str  # Tunnel1.0
    family: Family | None  # of the peer: from peer-fqdn-ipv4/6, or the literal address
    peer_fqdn: str | None  # lower case, no trailing dot
    peer_address: IPAddress | None  # `ikev2 peer ADDRESS` (a fixed hub, or a pin)
    outgoing: str | None  # `ikev2 outgoing-interface IF`
    up: bool  # `no shutdown` and not `shutdown`


def hostname(config: Config) -> str | None:
    lines = (line for line in config.top_lines() if line.startswith("hostname "))
    return next((line.split(" ", 1)[1] for line in lines), None)


def netmeister(config: Config) -> NetMeisterConfig:
    enabled = False
    group = host = None
    notify: dict[Family, str] = {}
    for line in config.top_lines():
        if line == "nm ip enable":
            enabled = True
        elif line.startswith("nm account "):
            group = line.split()[2].lower()
        elif line.startswith("nm ddns hostname "):
            host = line.split()[3].lower()
        elif match := _NOTIFY_RE.match(line):
            family: Family = "ipv6" if match[2] == "ipv6" else "ipv4"
            notify[family] = match[1]
    return NetMeisterConfig(enabled, group, host, notify)


def tunnels(config: Config) -> tuple[Tunnel, ...]:
    """Every IKEv2 tunnel interface with its peer, in config order."""
    out = []
    for block in config.blocks("interface"):
        name = block.line.split()[1]
        children = [c.line for c in block.children]
        if not any(c.startswith(("ikev2 peer", "tunnel mode ipsec")) for c in children):
            continue
        out.append(_tunnel(name, block))
    return tuple(out)


def _tunnel(name: str, block: Node) -> Tunnel:
    family: Family | None = None
    fqdn: str | None = None
    address: IPAddress | None = None
    outgoing: str | None = None
    up = False
    for child in block.children:
        line = child.line
        if match := _PEER_FQDN_RE.match(line):
            family = "ipv6" if match["family"] == "6" else "ipv4"
            fqdn = match["fqdn"].lower().rstrip(".")
        elif match := _PEER_ADDR_RE.match(line):
            try:
                address = ipaddress.ip_address(match["address"])
            except ValueError:
                continue
            family = "ipv6" if address.version == 6 else "ipv4"
        elif match := _OUTGOING_RE.match(line):
            outgoing = match[1]
        elif line == "no shutdown":
            up = True
        elif line == "shutdown":
            up = False
    return Tunnel(name, family, fqdn, address, outgoing, up)


def interface_lines(config: Config, ifname: str) -> tuple[str, ...] | None:
    children = config.block(f"interface {ifname}")
    return None if children is None else tuple(c.line for c in children)


def v6_global_interface(config: Config) -> str | None:
    """Where this config puts the router's global IPv6 address [C]: with RA from upstream and
    ND proxy (the seed), on the LAN interface the WAN proxies to; with DHCPv6-PD or
    `ipv6 address autoconfig` on an interface, on that interface. None: it does not say."""
    for block in config.blocks("interface"):
        for child in block.children:
            if child.line.startswith("ipv6 nd proxy "):
                return child.line.split()[3]
    for block in config.blocks("interface"):
        if any(c.line.startswith("ipv6 address autoconfig") for c in block.children):
            return block.line.split()[1]
    for block in config.blocks("interface"):
        if any(
            c.line.startswith("ipv6 address ") and not c.line.startswith("ipv6 address fe80")
            for c in block.children
        ):
            return block.line.split()[1]
    return None
