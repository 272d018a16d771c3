"""Does an interface's inbound filter let a packet in? (pure)

Read from the config tree: `ip|ipv6 filter LIST SEQ in` on the interface, in sequence order,
each list's `ip|ipv6 access-list LIST permit|deny ...` entries in order; the first entry that
matches decides. What nmops cannot judge (an address it does not know, a keyword it does not
read) makes the answer unknown, never a guess: the lint then says nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from nmops.config.model import Family
from nmops.ix.lines import Config

Verdict = Literal["allowed", "denied", "unknown"]


@dataclass(frozen=True)
class Packet:
    """An inbound packet from anywhere to the router: a protocol number and, for UDP/TCP, the
    destination port."""

    protocol: int
    dport: int | None = None
    what: str = ""  # how a person names it: "IKE (udp/500)"


IKE = Packet(17, 500, "IKE (udp/500)")
NAT_T = Packet(17, 4500, "IKE NAT-T (udp/4500)")
ESP = Packet(50, None, "ESP")

_PROTOCOLS = {"icmp": 1, "tcp": 6, "udp": 17, "esp": 50, "ah": 51, "icmpv6": 58}
_FILTER = re.compile(r"^(ip|ipv6) filter (\S+) (\d{1,9}) in$")


def _word(family: Family) -> str:
    return "ipv6" if family == "ipv6" else "ip"


def inbound_lists(config: Config, interface: str, family: Family) -> list[str]:
    """The access lists filtering ``family`` into ``interface``, in sequence order."""
    children = config.block(f"interface {interface}") or ()
    found: list[tuple[int, str]] = []
    for child in children:
        match = _FILTER.match(child.line)
        if match is not None and match[1] == _word(family):
            found.append((int(match[3]), match[2]))
    return [name for _, name in sorted(found)]


def verdict(config: Config, interface: str, family: Family, packet: Packet) -> Verdict:
    """What the inbound filters of ``interface`` do to ``packet``. No filter: allowed (the
    IX passes what no filter names); filters that none matches: denied [?]."""
    lists = inbound_lists(config, interface, family)
    if not lists:
        return "allowed"
    prefix = f"{_word(family)} access-list "
    entries: dict[str, list[str]] = {}
    for line in config.top_lines():
        if line.startswith(prefix):
            name, _, rest = line[len(prefix) :].partition(" ")
            entries.setdefault(name, []).append(rest)
    for name in lists:
        for entry in entries.get(name, ()):
            result = _entry(entry, packet)
            if result is not None:
                return result
    return "denied"


def _entry(entry: str, packet: Packet) -> Verdict | None:
    """One entry's say about ``packet``: allowed, denied, unknown, or None (no match)."""
    words = entry.split()
    if not words:
        return None
    action = words[0]
    if action == "dynamic":
        return None  # opens the way back for what the router sent; not for new packets
    if action not in ("permit", "deny") or len(words) < 2:
        return "unknown"
    matches = _matches(words[1:], packet)
    if matches is None:
        return "unknown"
    if not matches:
        return None
    return "allowed" if action == "permit" else "denied"


def _matches(words: list[str], packet: Packet) -> bool | None:
    """``PROTO src S [sport P] dest D [dport P] ...`` against ``packet``; None: cannot say."""
    proto, rest = words[0], words[1:]
    if proto == "ip":
        wanted = None
    elif proto.isdigit():
        wanted = int(proto)
    elif proto in _PROTOCOLS:
        wanted = _PROTOCOLS[proto]
    else:
        return None
    if wanted is not None and wanted != packet.protocol:
        return False
    fields = _fields(rest)
    if fields is None:
        return None
    for key in ("src", "dest"):
        if fields.get(key, ["any"]) != ["any"]:
            return None  # an address: the peer's or ours, neither known here
    if fields.get("sport", ["any"]) != ["any"]:
        return None  # the peer's source port is not known either
    dport = fields.get("dport", ["any"])
    if dport == ["any"]:
        return True
    if packet.dport is None:
        return False  # a port match never matches a protocol without ports
    return _port(dport, packet.dport)


_KEYS = ("src", "sport", "dest", "dport")


def _fields(words: list[str]) -> dict[str, list[str]] | None:
    out: dict[str, list[str]] = {}
    key: str | None = None
    for word in words:
        if word in _KEYS:
            key = word
            out[key] = []
        elif key is None:
            return None
        else:
            out[key].append(word)
    return out


def _port(spec: list[str], port: int) -> bool | None:
    try:
        numbers = [int(w) for w in spec[1:]]
    except ValueError:
        return None
    match spec[0], numbers:
        case "eq", [n]:
            return port == n
        case "ne", [n]:
            return port != n
        case "gt", [n]:
            return port > n
        case "lt", [n]:
            return port < n
        case "range", [low, high]:
            return low <= port <= high
    return None
