"""Which published addresses can be real DDNS registrations (pure)."""

from __future__ import annotations

import ipaddress

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_DOCUMENTATION: dict[int, tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]] = {
    4: tuple(map(ipaddress.IPv4Network, ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"))),
    6: tuple(map(ipaddress.IPv6Network, ("2001:db8::/32", "3fff::/20"))),
}
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_ULA = ipaddress.ip_network("fc00::/7")


def bogus_reason(addr: IPAddress, *, allow_documentation: bool = False) -> str | None:
    """Why ``addr`` cannot be a router's public address, or ``None`` when it can."""
    if any(addr in net for net in _DOCUMENTATION[addr.version]):
        return None if allow_documentation else "documentation range"
    if addr.is_loopback:
        return "loopback"
    if addr.is_link_local:
        return "link-local"
    if addr.is_multicast:
        return "multicast"
    if addr.is_unspecified:
        return "unspecified"
    if isinstance(addr, ipaddress.IPv4Address) and addr in _CGNAT:
        return "CGNAT (shared address space)"
    if isinstance(addr, ipaddress.IPv6Address) and addr in _ULA:
        return "unique local (ULA)"
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return "IPv4-mapped"
    if addr.is_private:
        return "private"
    if addr.is_reserved or not addr.is_global:
        return "reserved"
    return None
