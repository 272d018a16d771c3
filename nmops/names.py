"""Syntax checks for every name that ends up in a DNS query or a router command (pure)."""

from __future__ import annotations

import ipaddress
import re

# fullmatch and ASCII only: `$` would let a trailing newline through, \d would admit other
# scripts' digits.
_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", re.IGNORECASE | re.ASCII)
# IX interface names, the one pattern for the config, the dialect and the lab: a kind, a port
# number, optional `/slot` and `:port-VLAN` parts, an optional `.sub-interface`. Seen in real
# configs [C]: GigaEthernet0.1, FastEthernet1/0:2.0, GigaEthernet2:1.0, BRI0.0,
# USB-Serial0.0, BVI1, Loopback0.0, Null0.0, Tunnel1.0.
INTERFACE_KINDS = (
    "GigaEthernet",
    "FastEthernet",
    "TenGigaEthernet",
    "Tunnel",
    "Loopback",
    "BVI",
    "Dialer",
    "Null",
    "BRI",
    "Serial",
    "USB-Ethernet",
    "USB-Serial",
)
_KINDS_RE = "|".join(map(re.escape, INTERFACE_KINDS))
_IX_INTERFACE = re.compile(
    rf"(?:{_KINDS_RE})\d{{1,4}}(?:[/:]\d{{1,4}}){{0,3}}(?:\.\d{{1,5}})?", re.ASCII
)


def check_label(value: str) -> str:
    """A single DNS label (letters, digits, inner hyphens, 1-63 characters)."""
    if not _LABEL.fullmatch(value):
        raise ValueError(f"{value!r} is not a DNS label (letters, digits and inner hyphens)")
    return value.lower()


def check_name(value: str) -> str:
    """A router name: DNS-label syntax (it is the default DDNS host label), case kept as
    written so reports show what the inventory says."""
    check_label(value)
    return value


def check_domain(value: str) -> str:
    """A domain name of LDH labels, without the trailing dot."""
    name = value.rstrip(".")
    if not name or len(name) > 253:
        raise ValueError(f"{value!r} is not a domain name")
    for label in name.split("."):
        if not _LABEL.fullmatch(label):
            raise ValueError(f"{value!r} is not a domain name ({label!r} is not a DNS label)")
    return name.lower()


def is_interface(value: str) -> bool:
    return _IX_INTERFACE.fullmatch(value) is not None


def check_interface(value: str) -> str:
    """An IX interface name such as ``GigaEthernet0.1`` or ``Tunnel1.0``."""
    if not is_interface(value):
        raise ValueError(f"{value!r} is not an IX interface name")
    return value


def check_printable(value: str, what: str = "value") -> str:
    """No whitespace at the ends and no control characters anywhere (newlines especially)."""
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value) or value != value.strip():
        raise ValueError(f"{what} {value!r} contains whitespace or control characters")
    return value


def check_host(value: str) -> str:
    """An IP address (canonical text) or a DNS name, nothing else: hosts nmops connects to
    (management paths, mail servers) and writes into known_hosts patterns."""
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        pass
    try:
        return check_domain(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address or a host name") from None
