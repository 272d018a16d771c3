"""The mistakes that break these VPNs, found in config trees (pure).

Lint reads rendered configs or the routers' running ones through the same line model, so it
must read any real IX config: each rule looks only for the lines it knows and ignores the
rest. Rules that span a link (the peer's name, its notify line, the PSK pair) find the peer
by the PSK identity the tunnel names, or else by the name it dials.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from nmops.config.model import Family
from nmops.dns.addresses import IPAddress
from nmops.ix.lines import Config
from nmops.ix.masking import MASK, mask_line
from nmops.ix.routerconfig import NetMeisterConfig, hostname, netmeister, v6_global_interface
from nmops.peers.filters import ESP, IKE, NAT_T, Packet, verdict
from nmops.status import ExitCode

log = logging.getLogger(__name__)

Severity = Literal["error", "warning"]
# [?] the cost of an interface without `ip ospf cost` (as the render assumes).
DEFAULT_OSPF_COST = 1

# Every rule's code, its severity and what it is about: the stable vocabulary of findings.
RULES: dict[str, tuple[Severity, str]] = {
    "peer-fqdn": ("error", "a tunnel's peer FQDN is not the name the peer registers"),
    "peer-notify": ("error", "the peer does not register the name for the tunnel's family"),
    "psk-id": ("error", "the PSK identities of a link do not match"),
    "psk-key": ("error", "the two ends of a link hold different keys for one identity"),
    "lan-overlap": ("error", "two routers' LANs overlap"),
    "mtu-ignore": ("warning", "a tunnel without `ip ospf mtu-ignore`"),
    "backup-cost": ("warning", "a backup path is not dearer than the primary"),
    "filter-ike": ("error", "IKE is not allowed in on a tunnel's WAN"),
    "filter-nat-t": ("error", "IKE NAT-T is not allowed in on a tunnel's WAN behind NAT"),
    "filter-esp": ("error", "ESP is not allowed in on a tunnel's WAN"),
    "v6-notify": ("error", "IPv6 is notified on an interface without the global address"),
    "v6-no-address": ("warning", "the IPv6 notify interface has no global address"),
    "unreadable": ("warning", "a rule could not read this config"),
}


@dataclass(frozen=True)
class Finding:
    code: str
    router: str
    line: str  # the line it is about, with its blocks (`interface X > line`), secrets masked
    message: str
    hint: str

    @property
    def severity(self) -> Severity:
        return RULES[self.code][0]

    def document(self) -> dict[str, str]:
        return {
            "code": self.code,
            "severity": self.severity,
            "router": self.router,
            "line": self.line,
            "message": self.message,
            "hint": self.hint,
        }


def exit_code(findings: Iterable[Finding]) -> ExitCode:
    """2 with an error, 1 with warnings only, 0 when clean."""
    severities = {f.severity for f in findings}
    if "error" in severities:
        return ExitCode.CRITICAL
    return ExitCode.WARNING if severities else ExitCode.OK


# --- what a rule reads of a config -----------------------------------------------------------

_PEER = re.compile(
    r"^ikev2 peer(?:-fqdn-ipv(?P<fam>[46]) (?P<fqdn>\S+)| (?P<addr>\S+))"
    r"(?:.*? psk id (?P<idtype>\S+) (?P<id>\S+))?"
)
_PSK = re.compile(r"^ikev2 authentication psk id (\S+) (\S+) key (?:char|hex) (\S+)")
_LOCAL = re.compile(r"^local-authentication psk id (\S+) (\S+)")
_ADDRESS = re.compile(r"^ip address (\d+\.\d+\.\d+\.\d+/\d+)$")
_ROUTE = re.compile(r"^ip route (?:default|0\.0\.0\.0/0) (\S+)(?: .*?distance (\d+))?")
_COST = re.compile(r"^ip ospf cost (\d+)$")


@dataclass(frozen=True)
class TunnelView:
    interface: str
    line: str  # the peer line
    family: Family
    fqdn: str | None
    address: str | None
    peer_id: tuple[str, str] | None  # (type, value): ("keyid", "ix2215-tokyo")
    outgoing: str | None
    cost: int
    mtu_ignore: bool


@dataclass(frozen=True)
class RouterView:
    """The lines the rules read, taken once from one config."""

    name: str
    config: Config
    hostname: str | None
    nm: NetMeisterConfig
    local_id: tuple[str, str] | None
    psks: dict[tuple[str, str], str] = field(default_factory=dict)  # identity -> key
    tunnels: tuple[TunnelView, ...] = ()

    def registers(self, family: Family, zone: str) -> str | None:
        """The name this router registers for ``family`` (None: it registers none)."""
        host = self.nm.hostname or (self.hostname or "").lower()
        if not self.nm.enabled or family not in self.nm.notify or not host or not self.nm.group:
            return None
        return name_for(host, self.nm.group, family, zone)

    def would_register(self, family: Family, zone: str) -> str | None:
        """Its name for ``family`` whether or not it registers it."""
        host = self.nm.hostname or (self.hostname or "").lower()
        if not host or not self.nm.group:
            return None
        return name_for(host, self.nm.group, family, zone)


def name_for(host: str, group: str, family: Family, zone: str) -> str:
    return f"{host}.{group}.{'v6.' if family == 'ipv6' else ''}{zone}".lower()


def view(name: str, config: Config) -> RouterView:
    local: tuple[str, str] | None = None
    for block in config.blocks("ikev2-default-profile"):
        for child in block.children:
            if match := _LOCAL.match(child.line):
                local = (match[1], match[2])
    psks = {}
    for line in config.top_lines():
        if match := _PSK.match(line):
            psks[(match[1], match[2])] = match[3]
    return RouterView(
        name,
        config,
        hostname(config),
        netmeister(config),
        local,
        psks,
        tuple(_tunnels(config)),
    )


def _tunnels(config: Config) -> Iterable[TunnelView]:
    for block in config.blocks("interface"):
        children = [c.line for c in block.children if not c.block]
        if not any(c.startswith("tunnel mode ") and "ipsec" in c for c in children):
            continue
        peer = next((m for c in children if (m := _PEER.match(c)) is not None), None)
        if peer is None:
            continue
        family: Family
        if peer["fam"] is not None:
            family = "ipv6" if peer["fam"] == "6" else "ipv4"
        else:
            try:
                address = ipaddress.ip_address(peer["addr"])
            except ValueError:
                continue  # `ikev2 peer any` and the like: no peer to judge
            family = "ipv6" if address.version == 6 else "ipv4"
        outgoing = next(
            (c.split()[2] for c in children if c.startswith("ikev2 outgoing-interface ")), None
        )
        costs = [int(m[1]) for c in children if (m := _COST.match(c)) is not None]
        yield TunnelView(
            interface=block.line.split()[1],
            line=peer.string,
            family=family,
            fqdn=peer["fqdn"].lower().rstrip(".") if peer["fqdn"] else None,
            address=peer["addr"],
            peer_id=(peer["idtype"], peer["id"]) if peer["id"] else None,
            outgoing=outgoing,
            cost=costs[-1] if costs else DEFAULT_OSPF_COST,
            mtu_ignore="ip ospf mtu-ignore" in children,
        )


# --- the rules ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    views: Mapping[str, RouterView]
    zone: str
    complete: bool  # every router of the network is here: an unknown peer is a finding
    # router -> interface -> the global IPv6 addresses it really has (`--running`)
    addresses: Mapping[str, Mapping[str, tuple[IPAddress, ...]]]
    # Rules ask the same question for every tunnel of a hub: answer each once.
    _peers: dict[tuple[str, TunnelView], RouterView | None] = field(
        default_factory=dict, compare=False, repr=False
    )

    _lans: dict[str, list[tuple[str, ipaddress.IPv4Network]]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def lans(self, v: RouterView) -> list[tuple[str, ipaddress.IPv4Network]]:
        if v.name not in self._lans:
            self._lans[v.name] = _lans(v)
        return self._lans[v.name]

    def peer_of(self, tunnel: TunnelView, me: str) -> RouterView | None:
        """The router a tunnel means: the one whose identity it names, else the one whose
        name or address it dials."""
        key = (me, tunnel)
        if key not in self._peers:
            self._peers[key] = self._find_peer(tunnel, me)
        return self._peers[key]

    def _find_peer(self, tunnel: TunnelView, me: str) -> RouterView | None:
        if tunnel.peer_id is not None:
            for v in self.views.values():
                if v.name != me and v.local_id == tunnel.peer_id:
                    return v
        for v in self.views.values():
            if v.name == me:
                continue
            if tunnel.fqdn is not None and tunnel.fqdn == v.would_register(
                tunnel.family, self.zone
            ):
                return v
            if tunnel.address is not None and _has_address(v, tunnel.address):
                return v
        return None


def _has_address(v: RouterView, address: str) -> bool:
    for block in v.config.blocks("interface"):
        for child in block.children:
            words = child.line.split()
            is_address = words[:2] in (["ip", "address"], ["ipv6", "address"])
            if is_address and len(words) >= 3 and words[2].split("/")[0] == address:
                return True
    return False


Rule = Callable[[RouterView, Context], Iterable[Finding]]


def _at(*path: str) -> str:
    return " > ".join(mask_line(p) for p in path)


def _peer_rules(v: RouterView, ctx: Context) -> Iterator[Finding]:
    for t in v.tunnels:
        where = _at(f"interface {t.interface}", t.line)
        peer = ctx.peer_of(t, v.name)
        if peer is None:
            if ctx.complete and t.fqdn is not None:
                yield Finding(
                    "peer-fqdn",
                    v.name,
                    where,
                    f"{t.interface} dials {t.fqdn}, which no router of the network registers",
                    "name the peer's DDNS name: HOST.GROUP.v6.ZONE (IPv6) or HOST.GROUP.ZONE",
                )
            continue
        if t.fqdn is not None:
            expected = peer.would_register(t.family, ctx.zone)
            if expected is not None and t.fqdn != expected:
                yield Finding(
                    "peer-fqdn",
                    v.name,
                    where,
                    f"{t.interface} dials {t.fqdn}, but {peer.name} registers {expected}",
                    f"write {expected} in the peer line",
                )
            elif peer.registers(t.family, ctx.zone) is None:
                family = "ipv6" if t.family == "ipv6" else "ip"
                why = "" if peer.nm.enabled else " (and `nm ip enable` is missing)"
                yield Finding(
                    "peer-notify",
                    v.name,
                    where,
                    f"{t.interface} dials {peer.name} over {t.family}, but {peer.name} has no "
                    f"`nm ddns notify ... protocol {family}`{why}: the name is never updated",
                    f"on {peer.name}: nm ddns notify interface IF protocol {family}",
                )
        yield from _psk_findings(v, t, peer, where)


def _psk_findings(v: RouterView, t: TunnelView, peer: RouterView, where: str) -> Iterator[Finding]:
    if t.peer_id is None:
        return
    shown = " ".join(t.peer_id)
    if peer.local_id is not None and peer.local_id != t.peer_id:
        yield Finding(
            "psk-id",
            v.name,
            where,
            f"{t.interface} expects {peer.name} as `{shown}`, but it authenticates as "
            f"`{' '.join(peer.local_id)}`",
            f"use `psk id {' '.join(peer.local_id)}` in the peer line",
        )
        return
    if t.peer_id not in v.psks:
        yield Finding(
            "psk-id",
            v.name,
            where,
            f"no `ikev2 authentication psk id {shown} key ...` for {t.interface}'s peer",
            f"add ikev2 authentication psk id {shown} key char KEY (the key {peer.name} holds)",
        )
    if v.local_id is not None and v.local_id not in peer.psks:
        mine = " ".join(v.local_id)
        yield Finding(
            "psk-id",
            v.name,
            where,
            f"{peer.name} holds no key for `{mine}`, the identity {v.name} authenticates as",
            f"on {peer.name}: ikev2 authentication psk id {mine} key char KEY",
        )
    for identity in dict.fromkeys(i for i in (t.peer_id, v.local_id) if i is not None):
        a, b = v.psks.get(identity), peer.psks.get(identity)
        if a is not None and b is not None and MASK not in (a, b) and a != b:
            yield Finding(
                "psk-key",
                v.name,
                _at(f"ikev2 authentication psk id {' '.join(identity)} key char {MASK}"),
                f"{v.name} and {peer.name} hold different keys for `{' '.join(identity)}`",
                "give both ends the same key for each identity",
            )


def _lan_overlap(v: RouterView, ctx: Context) -> Iterator[Finding]:
    mine = ctx.lans(v)
    for other in ctx.views.values():
        if other.name == v.name:
            continue
        for ifname, net in mine:
            for other_if, other_net in ctx.lans(other):
                if net.overlaps(other_net):
                    yield Finding(
                        "lan-overlap",
                        v.name,
                        _at(f"interface {ifname}", f"ip address {net}"),
                        f"{v.name}'s LAN {net} ({ifname}) overlaps {other.name}'s {other_net} "
                        f"({other_if}): the VPN cannot route between them",
                        "give each site its own LAN prefix",
                    )


def _lans(v: RouterView) -> list[tuple[str, ipaddress.IPv4Network]]:
    """Static IPv4 networks on interfaces that are not WANs (no NAPT, no PPP, no tunnel
    leaves through them) and not tunnels."""
    outgoing = {t.outgoing for t in v.tunnels}
    out = []
    for block in v.config.blocks("interface"):
        name = block.line.split()[1]
        children = [c.line for c in block.children]
        if name.startswith("Tunnel") or name in outgoing:
            continue
        if "ip napt enable" in children or any(c.startswith("ppp binding") for c in children):
            continue
        for line in children:
            if match := _ADDRESS.match(line):
                try:
                    out.append((name, ipaddress.IPv4Interface(match[1]).network))
                except ValueError:
                    continue
    return out


def _mtu_ignore(v: RouterView, ctx: Context) -> Iterator[Finding]:
    """Only where OSPF runs: a tunnel named in a `network` line of `ip router ospf N`."""
    ospf = {
        words[1]
        for block in v.config.blocks("ospf")
        for child in block.children
        if len(words := child.line.split()) >= 2 and words[0] == "network"
    }
    for t in v.tunnels:
        if t.interface in ospf and not t.mtu_ignore:
            yield Finding(
                "mtu-ignore",
                v.name,
                _at(f"interface {t.interface}"),
                f"{t.interface} has no `ip ospf mtu-ignore`: OSPF stalls in ExStart when the "
                "two ends' tunnel MTUs differ",
                f"add `ip ospf mtu-ignore` to interface {t.interface}",
            )


def _backup_cost(v: RouterView, ctx: Context) -> Iterator[Finding]:
    """The backup WAN is the one whose default route has the higher distance; a tunnel over
    it must cost more than a tunnel to the same peer over another WAN."""
    routes: dict[str, int] = {}
    for line in v.config.top_lines():
        if match := _ROUTE.match(line):
            routes[match[1]] = int(match[2] or 1)
    if len(set(routes.values())) < 2:
        return
    lowest = min(routes.values())
    backup = {ifname for ifname, distance in routes.items() if distance > lowest}
    by_peer: dict[str, list[TunnelView]] = {}
    for t in v.tunnels:
        peer = ctx.peer_of(t, v.name)
        key = peer.name if peer is not None else " ".join(t.peer_id or (t.fqdn or "", ""))
        by_peer.setdefault(key, []).append(t)
    for peer_name, tunnels in by_peer.items():
        primaries = [t for t in tunnels if t.outgoing not in backup]
        for t in tunnels:
            if t.outgoing not in backup:
                continue
            for p in primaries:
                if t.cost <= p.cost:
                    yield Finding(
                        "backup-cost",
                        v.name,
                        _at(f"interface {t.interface}", f"ip ospf cost {t.cost}"),
                        f"{t.interface} (backup, over {t.outgoing}) costs {t.cost}, not more "
                        f"than {p.interface} (primary, over {p.outgoing}) at {p.cost}: OSPF "
                        f"sends {peer_name}'s traffic over the backup",
                        f"give {t.interface} `ip ospf cost` above {p.cost}",
                    )


def _filters(v: RouterView, ctx: Context) -> Iterator[Finding]:
    for t in v.tunnels:
        if t.outgoing is None:
            continue
        wanted: list[tuple[str, Packet]] = [("filter-ike", IKE), ("filter-esp", ESP)]
        if t.family == "ipv4" and _behind_nat(v, t, ctx):
            wanted.append(("filter-nat-t", NAT_T))
        for code, packet in wanted:
            if verdict(v.config, t.outgoing, t.family, packet) == "denied":
                word = "ipv6" if t.family == "ipv6" else "ip"
                yield Finding(
                    code,
                    v.name,
                    _at(f"interface {t.outgoing}"),
                    f"{packet.what} is not allowed in on {t.outgoing}, the WAN "
                    f"{t.interface} goes out on: the peer cannot reach this end",
                    f"permit it ({word} access-list ...) in a `{word} filter LIST SEQ in` on "
                    f"{t.outgoing} before the deny",
                )


def _behind_nat(v: RouterView, t: TunnelView, ctx: Context) -> bool:
    """NAT-T applies when either end's IPv4 WAN has a private address (a NAT in front)."""
    ends = [(v, t.outgoing)]
    peer = ctx.peer_of(t, v.name)
    if peer is not None:
        back = next(
            (b for b in peer.tunnels if b.family == t.family and ctx.peer_of(b, peer.name) is v),
            None,
        )
        if back is not None:
            ends.append((peer, back.outgoing))
    for router, ifname in ends:
        for line in router.config.block(f"interface {ifname}") or ():
            if match := _ADDRESS.match(line.line):
                try:
                    if ipaddress.IPv4Interface(match[1]).ip.is_private:
                        return True
                except ValueError:
                    continue
    return False


def _v6_notify(v: RouterView, ctx: Context) -> Iterator[Finding]:
    notify = v.nm.notify.get("ipv6")
    if notify is None:
        return
    family_line = f"nm ddns notify interface {notify} protocol ipv6"
    where = _at(family_line)
    carrier = v6_global_interface(v.config)
    how = _how(v.config, carrier)
    observed = ctx.addresses.get(v.name)
    if observed is not None and notify in observed:
        # --running: the address the router really has decides.
        if observed[notify]:
            return
        if carrier is not None and carrier != notify:
            yield Finding(
                "v6-notify",
                v.name,
                where,
                f"{notify} has no global IPv6 address on the router; {how} puts it on "
                f"{carrier}: NetMeister has nothing to publish",
                f"nm ddns notify interface {carrier} protocol ipv6",
            )
        else:
            yield Finding(
                "v6-no-address",
                v.name,
                where,
                f"{notify} has no global IPv6 address on the router: the fault is upstream "
                "(the line, the ISP, the home gateway)",
                "look at the IPv6 upstream; the notify line itself looks right",
            )
        return
    if carrier is not None and carrier != notify:
        yield Finding(
            "v6-notify",
            v.name,
            where,
            f"IPv6 is notified on {notify}, but {how} puts the global address on {carrier}",
            f"nm ddns notify interface {carrier} protocol ipv6",
        )


def _how(config: Config, carrier: str | None) -> str:
    """How the config gets its global IPv6 address, in a person's words."""
    for block in config.blocks("interface"):
        for child in block.children:
            if child.line.startswith("ipv6 nd proxy "):
                return f"RA + ND proxy on {block.line.split()[1]}"
    if carrier is not None:
        lines = [c.line for c in config.block(f"interface {carrier}") or ()]
        if any(line.startswith("ipv6 address autoconfig") for line in lines):
            return f"autoconfig / DHCPv6-PD on {carrier}"
    return "the config"


_RULES: tuple[tuple[str, Rule], ...] = (
    ("peer", _peer_rules),
    ("lan", _lan_overlap),
    ("mtu", _mtu_ignore),
    ("cost", _backup_cost),
    ("filters", _filters),
    ("v6-notify", _v6_notify),
)


def lint(
    configs: Mapping[str, Config],
    *,
    zone: str,
    only: Sequence[str] | None = None,
    complete: bool = True,
    addresses: Mapping[str, Mapping[str, tuple[IPAddress, ...]]] | None = None,
) -> list[Finding]:
    """Every finding for the routers in ``only`` (default: all), judged against all of
    ``configs`` (a link needs both ends). ``complete``: ``configs`` hold every router of the
    network, so a peer name nobody registers is a finding. ``addresses``: per router and
    interface, the global IPv6 addresses it really has (``--running``)."""
    views = {name: view(name, config) for name, config in configs.items()}
    ctx = Context(views, zone.lower().rstrip("."), complete, addresses or {})
    wanted = list(only) if only is not None else list(views)
    findings: list[Finding] = []
    for name in wanted:
        v = views.get(name)
        if v is None:
            continue
        for label, rule in _RULES:
            try:
                findings.extend(rule(v, ctx))
            except Exception as exc:  # a config no rule foresaw: say so, never stop the run
                log.debug("%s: rule %s failed", name, label, exc_info=True)
                findings.append(
                    Finding(
                        "unreadable",
                        name,
                        "",
                        f"rule {label} could not read this config ({type(exc).__name__})",
                        "report it with the config (secrets removed)",
                    )
                )
    return list(dict.fromkeys(findings))
