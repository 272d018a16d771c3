"""Every IX output format nmops had to guess, in one place, used by both sides.

IX-CLI.md marks these [?]: no public transcript shows them. The parsers read them and the
lab's simulator prints them from the same definitions here, so when a real transcript turns
up, this module is the one to change (and the tests of both sides follow).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from nmops.dns.addresses import IPAddress

# --- show ikev2 sa [?] -----------------------------------------------------------------------
# Modelled on IKEv1's `show ike sa` [C]: `Local address is A, port is P`, `Remote address is
# A, port is P`, `State is established`, one block per SA headed by the tunnel interface.
# Only the tunnel, the two ends and the state are read: which peer FQDN a tunnel talks to
# comes from the running config (`ikev2 peer-fqdn-ipv4/6` in its block), never from here.
IKEV2_SA_HEADER = "IKEv2 SA, {tunnel}"
IKEV2_SA_HEADER_RE = re.compile(r"^IKEv2 SA, (\S+)")
IKEV2_SA_END_RE = re.compile(
    r"^(?P<side>Local|Remote) address is (?P<addr>[^\s,]+), port is (?P<port>\d+)"
)
IKEV2_SA_STATE_RE = re.compile(r"^State is (\S+)")
NO_IKEV2_SA = "% No IKEv2 SA."


@dataclass(frozen=True)
class SaText:
    tunnel: str
    local: IPAddress
    local_port: int
    remote: IPAddress
    remote_port: int
    state: str = "established"


def render_ikev2_sa(sas: Iterable[SaText]) -> str:
    out: list[str] = []
    for sa in sas:
        out += [
            IKEV2_SA_HEADER.format(tunnel=sa.tunnel),
            f"  Local address is {sa.local}, port is {sa.local_port}",
            f"  Remote address is {sa.remote}, port is {sa.remote_port}",
            f"  State is {sa.state}",
        ]
    return "".join(f"{line}\n" for line in out)


# --- show ipv6 interface [?] -----------------------------------------------------------------
# The `show ip interface` layout [C], with link-local and global address lists, each address
# as `ADDR/LEN (state, origin)`.
IPV6_LINK_LOCAL_TITLE = "Link-local address"
IPV6_GLOBAL_TITLE = "Global unicast address"
IPV6_ADDRESS_RE = re.compile(r"^(?P<addr>[0-9A-Fa-f:.]+/\d+)(?:\s*\((?P<flags>[^)]*)\))?$")
IPV6_DISABLED = "IPv6 protocol processing disabled"


@dataclass(frozen=True)
class Ipv6Text:
    status: str  # the `Interface X is ...` line
    enabled: bool
    link_local: str | None  # `fe80::.../64`
    globals: tuple[tuple[str, str, str], ...]  # (address/len, state, origin)
    mtu: int


def render_ipv6_interface(text: Ipv6Text) -> str:
    lines = [text.status]
    if not text.enabled or text.link_local is None:
        lines.append(f"  {IPV6_DISABLED}")
        return "\n".join(lines) + "\n"
    lines += [
        "  IPv6 is enabled",
        f"  {IPV6_LINK_LOCAL_TITLE}:",
        f"    {text.link_local} (preferred)",
    ]
    if text.globals:
        lines.append(f"  {IPV6_GLOBAL_TITLE}(es):")
        lines += [f"    {addr} ({state}, {origin})" for addr, state, origin in text.globals]
    lines.append(f"  MTU is {text.mtu} octets")
    return "\n".join(lines) + "\n"


# --- show ip interface, the parts not seen [?] -----------------------------------------------
UNNUMBERED_LINE = "  Interface is unnumbered. Using address of {ifname}"

# --- `no interface GigaEthernet0.0`: a physical port cannot be deleted; no transcript shows
# the refusal, so this keeps the `% <input> -- <diagnostic>` shape both series document [?]
CANNOT_DELETE = "% {name} -- Cannot delete a physical interface."

# --- config mode held by another session: the line after `% CONFIG process is occupied.` [?]
OCCUPIED_HINT = "% You may use 'svintr-config' command with administrator privilege."

# --- sub-mode prompts `HOST(config-NAME)# ` by block kind (nmops.ix.lines.BLOCK_KINDS) -------
# [C]: interface, watch-group, ppp profile and ip dhcp profile; the rest [?] in that style.
# The driver does not depend on them (it accepts any `(config-...)`); the simulator prints
# them.
SUBMODE_PROMPTS = {
    "interface": "{0}",  # [C] config-GigaEthernet2.0, config-Tunnel0.0
    "watch-group": "watch-{0}-{1}",  # [C] config-watch-map-e-10
    "ppp-profile": "ppp-{0}",  # [C] config-ppp-flets-v4
    "ospf": "router-ospf",
    "ospf6": "router-ospf6",
    "rip": "router-rip",
    "bgp": "router-bgp",
    "bgp-address-family": "router-bgp-af",
    "ikev2-default-profile": "ikev2-default-profile",
    "ikev2-profile": "ikev2-profile-{0}",
    "ike-proposal": "ike-proposal-{0}",
    "ipsec-policy": "ipsec-policy-{0}",
    "dhcp-profile": "dhcp-{0}",  # [C]
    "dhcp6-client-profile": "dhcp6c-{0}",
    "dhcp6-server-profile": "dhcp6s-{0}",
    "route-map": "route-map-{0}-{1}-{2}",
    "class-map": "class-map-{0}",
    "policy-map": "policy-map-{0}",
    "policy-class": "policy-map-class-{0}",
    "l2tp": "l2tp-{0}",
    "device": "device-{0}",
}
