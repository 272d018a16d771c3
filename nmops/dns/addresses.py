"""Which published addresses can be real DDNS registrations (pure)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Server:
    """A DNS server to ask: an address and a port."""

    host: str
    port: int

    @classmethod
    def parse(cls, value: str, default_port: int = 53) -> Server:
        """``IP``, ``IP:PORT``, ``[IPv6]:PORT`` or a bare IPv6 address; raises ValueError with
        a message fit for a config error."""
        host, port = value, str(default_port)
        if value.startswith("["):
            host, _, rest = value[1:].partition("]")
            if rest:
                if not rest.startswith(":"):
                    raise ValueError(f"{value!r} is not IP or IP:PORT")
                port = rest[1:]
        elif value.count(":") == 1:
            host, port = value.split(":")
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            raise ValueError(f"{value!r} is not IP or IP:PORT (an address, not a name)") from None
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{value!r}: port must be 1-65535")
        if ip.is_unspecified or ip.is_multicast or str(ip) == "255.255.255.255":
            raise ValueError(f"{value!r}: a DNS server is a unicast address")
        return cls(str(ip), int(port))

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"
