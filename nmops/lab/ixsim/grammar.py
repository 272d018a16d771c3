"""The grammar of the IX config commands the simulator accepts when they are typed (data).

A line typed in a session must match one of these patterns, argument shapes included, or the
simulator answers as an IX does (`% WORD -- Invalid command.` naming the first word it could
not take, `% Expects a subcommand or item selection.` when the line stops short). A config
loaded at start-up is not checked: real configs hold far more (BGP, EtherIP, QoS ...) and the
simulator keeps and shows them verbatim.

Evidence, in IX-CLI.md's terms, per group below: [C] seen in real IX configs or transcripts,
[G] only in the seed's golden configs (so they must be accepted), [?] a guess in the same
style. Numeric ranges are guesses unless marked. The IX also accepts unique abbreviations
(`int`, `no shu`) [C]; nmops never types them, so the simulator does not.

Pattern language: words are literal; `a|b` one of them; `<kind>` an argument (see
``_KINDS``), `<int:LO-HI>` a number in range; `[ ... ]` optional; `;` marks how much of a
pattern a `no` line needs (without it, `no` needs the whole line).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache

from nmops.names import check_domain, is_interface

# --- argument kinds --------------------------------------------------------------------------

_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@+-]{0,62}", re.ASCII)


def _is_name(token: str) -> bool:
    return _NAME_RE.fullmatch(token) is not None


def _is_int(token: str, lo: int = 0, hi: int = 2**32 - 1) -> bool:
    return token.isascii() and token.isdigit() and lo <= int(token) <= hi


def _ip(version: int, prefix: bool) -> Callable[[str], bool]:
    def check(token: str) -> bool:
        if ("/" in token) != prefix:
            return False
        try:
            value = ipaddress.ip_interface(token) if prefix else ipaddress.ip_address(token)
        except ValueError:
            return False
        return value.version == version

    return check


def _is_fqdn(token: str) -> bool:
    try:
        check_domain(token)
    except ValueError:
        return False
    return "." in token


_SINGLE: dict[str, Callable[[str], bool]] = {
    "word": lambda t: t.isascii() and t.isprintable(),
    "name": _is_name,
    "ipv4": _ip(4, False),
    "ipv4-prefix": _ip(4, True),
    "ipv6": _ip(6, False),
    "ipv6-prefix": _ip(6, True),
    "fqdn": _is_fqdn,
    # What a prompt can show: the driver follows only such hostnames.
    "host": lambda t: re.fullmatch(r"[A-Za-z0-9._-]{1,63}", t, re.ASCII) is not None,
}


# --- patterns --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Element:
    options: tuple[str, ...]  # literals and `<kind>`s
    optional: tuple[_Element, ...] | None = None  # an optional group instead of options


@dataclass(frozen=True)
class Pattern:
    text: str
    elements: tuple[_Element, ...]
    no_length: int  # elements a `no` line must match


def _compile(text: str) -> Pattern:
    tokens = text.split()
    no_length: int | None = None

    def group(pos: int, closing: bool) -> tuple[tuple[_Element, ...], int]:
        nonlocal no_length
        out: list[_Element] = []
        while pos < len(tokens):
            token = tokens[pos]
            if token == "]":
                if not closing:
                    raise ValueError(f"unbalanced ] in {text!r}")
                return tuple(out), pos + 1
            if token == "[":
                inner, pos = group(pos + 1, True)
                out.append(_Element((), inner))
                continue
            if token == ";":
                no_length = len(out)
            else:
                out.append(_Element(tuple(token.split("|"))))
            pos += 1
        if closing:
            raise ValueError(f"unbalanced [ in {text!r}")
        return tuple(out), pos

    elements, _ = group(0, False)
    return Pattern(text, elements, len(elements) if no_length is None else no_length)


@dataclass(frozen=True)
class Model:
    """Which ports a model has: physical interfaces by kind and port numbers [C]."""

    name: str
    ports: dict[str, tuple[int, ...]]
    port_vlans: dict[str, tuple[int, ...]]  # `GigaEthernet2:G.S` groups on switch ports


MODELS = {
    "IX2215": Model(
        "IX2215",
        {"GigaEthernet": (0, 1, 2), "BRI": (0,), "USB-Serial": (0,)},
        {"GigaEthernet": (2,)},
    ),
    "IX2105": Model("IX2105", {"GigaEthernet": (0, 1), "USB-Serial": (0,)}, {}),
    "IX2106": Model("IX2106", {"GigaEthernet": (0, 1), "USB-Serial": (0,)}, {}),
    "IX3110": Model("IX3110", {"GigaEthernet": (0, 1, 2, 3), "USB-Serial": (0,)}, {}),
}
_VIRTUAL = {"Tunnel": 1000, "Loopback": 10, "BVI": 100, "Null": 1, "Dialer": 100}
_IFNAME_PARTS = re.compile(
    r"(?P<kind>[A-Za-z-]+?)(?P<port>\d+)(?::(?P<group>\d+))?(?:\.(?P<sub>\d+))?"
)


def interface_exists(model: Model, name: str) -> bool:
    """Whether ``model`` has the interface ``name`` (a port it has, or a virtual one)."""
    if not is_interface(name) or "/" in name:
        return False
    match = _IFNAME_PARTS.fullmatch(name)
    if match is None:
        return False
    kind, port = match["kind"], int(match["port"])
    sub = int(match["sub"]) if match["sub"] is not None else None
    if kind in _VIRTUAL:
        if match["group"] is not None:
            return False
        return port < _VIRTUAL[kind] and (sub is None or sub == 0 or kind != "Null")
    if port not in model.ports.get(kind, ()):
        return False
    if match["group"] is not None and port not in model.port_vlans.get(kind, ()):
        return False
    return sub is not None and sub <= 4094  # [?] sub-interface range


_IF = ("interface",)
_TOP = ("top",)
_PROFILES = ("ikev2-default-profile", "ikev2-profile")
_OSPF = ("ospf", "ospf6")

# (contexts, pattern). A context is a block kind of nmops.ix.lines, or "top".
_RULES: tuple[tuple[tuple[str, ...], str], ...] = (
    # --- global [C] unless marked ---
    (_TOP, "hostname ; <host>"),
    (_TOP, "timezone ; <word> <int:0-59>"),
    (_TOP, "ip route default|<ipv4-prefix> <ifname>|<ipv4> ; [ distance|metric <int:1-255> ]"),
    (_TOP, "ipv6 route default|<ipv6-prefix> <ifname>|<ipv6> ; [ distance|metric <int:1-255> ]"),
    (_TOP, "ip dhcp enable"),
    (_TOP, "ipv6 dhcp enable"),
    (_TOP, "ip|ipv6 ufs-cache enable|max-entries [ <int:1-1000000> ]"),
    (_TOP, "proxy-dns ip|ipv6 enable"),
    (_TOP, "proxy-dns ip|ipv6 request both|ipv4|ipv6"),
    (_TOP, "proxy-dns server <ipv4>|<ipv6>"),
    (_TOP, "ip name-server <ipv4>|<ipv6>"),
    (_TOP, "username <name> ; password plain|hash|secret <word> administrator|operator"),
    (_TOP, "ssh-server ip enable"),
    (_TOP, "telnet-server ip enable"),
    (_TOP, "http-server ip enable"),
    (_TOP, "ntp ip enable"),
    (_TOP, "ntp server <ipv4>|<ipv6>|<fqdn> ; [ priority <int:1-10> ]"),
    (_TOP, "snmp-agent ip enable"),
    (_TOP, "logging buffered <int:1-100000> [ cyclic ]"),
    (_TOP, "logging timestamp datetime"),
    (_TOP, "ikev2 authentication psk id keyid|fqdn|ipv4|ipv6 <word> ; key char|hex|secret <word>"),
    (_TOP, "ikev2 default-profile"),
    (_TOP, "ikev2 profile <name>"),
    (_TOP, "ppp profile <name>"),
    (_TOP, "ip dhcp profile <name>"),
    (_TOP, "ipv6 dhcp client-profile|server-profile <name>"),
    (_TOP, "watch-group <name> <int:1-65535>"),
    (_TOP, "network-monitor <name> enable"),
    (_TOP, "ip router ospf <int:1-65535>"),
    (_TOP, "interface <ifname>"),
    (_TOP, "device <word>"),
    # [C] NetMeister; `nm standby`/`nm outgoing-interface` [G]
    (_TOP, "nm ip enable"),
    (_TOP, "nm account <name> ; password plain|secret <word>"),
    (_TOP, "nm sitename ; <name>"),
    (_TOP, "nm ddns hostname ; <name>"),
    (_TOP, "nm ddns notify interface <ifname> protocol ip|ipv6"),
    (_TOP, "nm standby ip enable"),
    (_TOP, "nm outgoing-interface <ifname> ; auto protocol ip|ipv6"),
    (_TOP, "nm standby outgoing-interface <ifname> ; auto protocol ip|ipv6"),
    # --- access lists [C]; `dynamic NAME access ACL` [G] ---
    (_TOP, "ip access-list <name> permit|deny ; <acl4>"),
    (_TOP, "ip access-list dynamic <name> access <name>"),
    (_TOP, "ipv6 access-list <name> permit|deny ; <acl6>"),
    (_TOP, "ipv6 access-list dynamic <name> access <name>"),
    (_TOP, "ip|ipv6 access-list <name>"),  # `no ip access-list NAME`: the whole list
    # --- interfaces [C]; `ip ospf ...` [G] ---
    (_IF, "description ; <rest>"),
    (_IF, "shutdown"),
    (_IF, "ip address ; <ipv4-prefix> [ secondary ]"),
    (_IF, "ip address ; ipcp|map-e"),
    (_IF, "ip address ; dhcp [ receive-default ]"),
    (_IF, "ip unnumbered ; <ifname>"),
    (_IF, "ip mtu ; <int:68-9000>"),
    (_IF, "ipv6 mtu ; <int:1280-9000>"),
    (_IF, "ip tcp adjust-mss ; auto|<int:536-1460>"),
    (_IF, "ipv6 tcp adjust-mss ; auto|<int:1220-1440>"),
    (_IF, "ip napt enable|hairpinning"),
    (_IF, "ip filter <name> <int:1-65535> in|out [ suppress-logging ]"),
    (_IF, "ipv6 filter <name> <int:1-65535> in|out [ suppress-logging ]"),
    (_IF, "ip dhcp binding ; <name>"),
    (_IF, "ip proxy-arp"),
    (_IF, "ip ospf cost ; <int:1-65535>"),
    (_IF, "ip ospf mtu-ignore"),
    (_IF, "encapsulation pppoe|ppp"),
    (_IF, "encapsulation dot1q <int:1-4094> tpid 8100"),
    (_IF, "auto-connect"),
    (_IF, "ppp binding ; <name>"),
    (_IF, "ipv6 enable"),
    (_IF, "ipv6 address ; autoconfig [ receive-default ]"),
    (_IF, "ipv6 address ; <ipv6-prefix> [ anycast|eui-64 ]"),
    (_IF, "ipv6 traffic-class tos ; <int:0-255>"),
    (_IF, "ipv6 dhcp client|server ; <name>"),
    (_IF, "ipv6 nd proxy ; <ifname>"),
    (_IF, "ipv6 nd ra enable|other-config-flag"),
    (_IF, "tunnel mode ; ipsec|ipsec-ikev2|4-over-6"),
    (_IF, "tunnel mode ; map-e [ ocn ]"),
    (_IF, "tunnel mode ; ether-ip ipv6|ipsec-ikev2"),
    (_IF, "tunnel destination ; <ipv6>|<fqdn>"),
    (_IF, "ikev2 connect-type ; auto"),
    (_IF, "ikev2 outgoing-interface ; <ifname> [ auto|<ipv4>|<ipv6> ]"),
    (_IF, "ikev2 peer ; <ipv4>|<ipv6>|any authentication psk [ id keyid|fqdn|ipv4|ipv6 <word> ]"),
    (_IF, "ikev2 peer-fqdn-ipv4|peer-fqdn-ipv6 ; <fqdn> authentication psk id keyid|fqdn <word>"),
    (_IF, "ikev2 binding ; <name>"),
    (_IF, "ikev2 ipsec pre-fragment"),
    (_IF, "ikev2 dpd interval ; <int:1-3600>"),
    # --- watch-group [C]; the LED and NetMeister actions [G] ---
    (("watch-group",), "event <int:1-65535> ; ip unreach-host|reach-host <ipv4> <ifname>"),
    (
        ("watch-group",),
        "action <int:1-65535> ; ip shutdown-route|resume-route <ipv4-prefix> <ifname>|<ipv4>",
    ),
    (("watch-group",), "action <int:1-65535> ; turn-BAK-LED-on"),
    (("watch-group",), "action <int:1-65535> ; netmeister-switch-mode standby"),
    (("watch-group",), "probe-counter watch|variance|restorer <int:1-255>"),
    (("watch-group",), "probe-timer variance|restorer|wait <int:1-3600>"),
    # --- profiles [C] ---
    (("ppp-profile",), "authentication myname ; <word>"),
    (("ppp-profile",), "authentication password ; <word> <word>"),
    (("ppp-profile",), "authentication request chap|pap"),
    (("dhcp-profile",), "dns-server ; <ipv4> [ <ipv4> ]"),
    (("dhcp-profile",), "default-gateway ; <ipv4>"),
    (("dhcp-profile",), "assignable-range ; <ipv4> <ipv4>"),
    (("dhcp-profile",), "lease-time ; <int:60-4294967295>"),
    (("dhcp6-client-profile",), "information-request"),
    (("dhcp6-client-profile",), "option-request dns-servers|domain-search-list|ntp-servers"),
    (("dhcp6-server-profile",), "dns-server ; dhcp|<ipv6>"),
    (_PROFILES, "local-authentication ; psk id keyid|fqdn|ipv4|ipv6 <word>"),
    (_PROFILES, "dpd interval ; <int:1-3600>"),
    (_PROFILES, "sa-lifetime|child-lifetime ; <int:60-86400>"),
    # --- OSPF [code]; `network IF area N` [G] ---
    (_OSPF, "router-id ; <ipv4>"),
    (_OSPF, "redistribute connected|static"),
    (_OSPF, "area <int:0-4294967295>"),
    (_OSPF, "network <ifname>|<ipv4-prefix> ; area <int:0-4294967295>"),
    (_OSPF, "passive-interface <ifname>"),
    # --- BGP [?]: argument shapes in the IX style; the nesting (`router bgp N` >
    # `address-family ...`) is [C] (IX-CLI.md: real configs nest two levels) ---
    (_TOP, "router bgp <int:1-4294967295>"),
    (("bgp",), "bgp router-id ; <ipv4>"),
    (("bgp",), "neighbor <ipv4>|<ipv6> ; remote-as <int:1-4294967295>"),
    (("bgp",), "address-family ipv4|ipv6 [ unicast ]"),
    (("bgp-address-family",), "network <ipv4-prefix>|<ipv6-prefix>"),
    (("bgp-address-family",), "neighbor <ipv4>|<ipv6> activate"),
    (("bgp-address-family",), "redistribute connected|static"),
)

# Lines after which the IX prints `% You must restart the router ...` [C dot1q; rest none].
RESTART_NOTICE = (re.compile(r"^encapsulation dot1q\b"),)


@dataclass(frozen=True)
class Verdict:
    ok: bool
    word: str | None = None  # the first word no pattern could take
    incomplete: bool = False


@cache
def _rules(context: str) -> tuple[Pattern, ...]:
    return tuple(_compile(text) for contexts, text in _RULES if context in contexts)


@dataclass
class _Trace:
    furthest: int = -1  # the furthest word some pattern stumbled on
    short: bool = False  # some pattern wanted more than the line had


class Grammar:
    """The patterns for one model (its ports decide which interface names exist)."""

    def __init__(self, model: str = "IX2215") -> None:
        self.model = MODELS.get(model.upper(), MODELS["IX2215"])

    def check(self, line: str, context: str, *, negation: bool = False) -> Verdict:
        """Whether ``line`` may be typed in ``context`` (a block kind, or "top"); with
        ``negation``, whether it may follow `no`."""
        tokens = line.split()
        trace = _Trace()
        for pattern in _rules(context):
            forms = [pattern.elements]
            if negation and pattern.no_length < len(pattern.elements):
                forms.insert(0, pattern.elements[: pattern.no_length])
            for elements in forms:
                if len(tokens) in self._match(elements, tokens, 0, trace):
                    return Verdict(True)
        if trace.short:
            return Verdict(False, incomplete=True)
        index = min(max(trace.furthest, 0), len(tokens) - 1) if tokens else 0
        return Verdict(False, word=tokens[index] if tokens else "")

    def _match(
        self, elements: tuple[_Element, ...], tokens: list[str], pos: int, trace: _Trace
    ) -> set[int]:
        """Every position at which ``elements`` can end, starting at ``pos``."""
        if not elements:
            if pos < len(tokens):
                trace.furthest = max(trace.furthest, pos)  # a word too many
            return {pos}
        head, rest = elements[0], elements[1:]
        if head.optional is not None:
            mids = self._match(head.optional, tokens, pos, trace) | {pos}
            return set().union(*(self._match(rest, tokens, mid, trace) for mid in mids))
        if pos >= len(tokens):
            trace.short = True
            return set()
        afters = self._element(head, tokens, pos)
        if not afters:
            trace.furthest = max(trace.furthest, pos)
            return set()
        return set().union(*(self._match(rest, tokens, after, trace) for after in afters))

    def _element(self, element: _Element, tokens: list[str], pos: int) -> set[int]:
        out: set[int] = set()
        for option in element.options:
            if option.startswith("<") and option.endswith(">"):
                out |= self._argument(option[1:-1], tokens, pos)
            elif tokens[pos] == option:
                out.add(pos + 1)
        return out

    def _argument(self, kind: str, tokens: list[str], pos: int) -> set[int]:
        token = tokens[pos]
        if kind == "rest":
            return {len(tokens)}
        if kind in ("acl4", "acl6"):
            return set(_acl(tokens, pos, 4 if kind == "acl4" else 6))
        if kind == "ifname":
            ok = interface_exists(self.model, token)
        elif kind.startswith("int"):
            lo, _, hi = kind.partition(":")[2].partition("-")
            ok = _is_int(token, int(lo or 0), int(hi or 2**32 - 1))
        else:
            ok = _SINGLE[kind](token)
        return {pos + 1} if ok else set()

    def restart_needed(self, line: str) -> bool:
        return any(p.match(line) for p in RESTART_NOTICE)


def _acl(tokens: list[str], pos: int, version: int) -> Iterable[int]:
    """`PROTO src ADDR [sport PORTS] dest ADDR [dport PORTS]`, `dynamic`-less forms [C]."""
    addr = _ip(version, True)

    def address(i: int) -> int | None:
        if i < len(tokens) and (tokens[i] == "any" or addr(tokens[i])):
            return i + 1
        return None

    def ports(i: int) -> int | None:
        if i < len(tokens) and tokens[i] == "any":
            return i + 1
        if i + 1 < len(tokens) and tokens[i] == "eq" and _is_int(tokens[i + 1], 0, 65535):
            return i + 2
        if (
            i + 2 < len(tokens)
            and tokens[i] == "range"
            and _is_int(tokens[i + 1], 0, 65535)
            and _is_int(tokens[i + 2], 0, 65535)
        ):
            return i + 3
        return None

    if pos >= len(tokens):
        return
    proto = tokens[pos]
    if proto not in ("ip", "tcp", "udp", "icmp") and not _is_int(proto, 0, 255):
        return
    i = pos + 1
    with_ports = proto in ("tcp", "udp")
    if i >= len(tokens) or tokens[i] != "src":
        return
    after = address(i + 1)
    if after is None:
        return
    i = after
    if with_ports and i < len(tokens) and tokens[i] == "sport":
        after = ports(i + 1)
        if after is None:
            return
        i = after
    if i >= len(tokens) or tokens[i] != "dest":
        return
    after = address(i + 1)
    if after is None:
        return
    i = after
    if with_ports and i < len(tokens) and tokens[i] == "dport":
        after = ports(i + 1)
        if after is None:
            return
        i = after
    yield i


__all__ = ["MODELS", "Grammar", "Model", "Verdict", "interface_exists"]
