"""The lab's simulated WAN: a PPPoE IPv4 address and an IPv6 /64 per router (pure).

Only documentation ranges are handed out (the lab runs with allow_documentation), so nothing
the lab publishes can ever be mistaken for a real host. Allocation is deterministic: routers
get addresses in the order they are added, and a renewal takes the next free one, so a freed
address is reused as late as possible (and then, as on a real ISP, by another router).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from nmops.errors import NmopsError

# TEST-NET-2 and -3 first; TEST-NET-1 only as overflow for labs of several hundred routers.
V4_POOLS = tuple(
    ipaddress.IPv4Network(net) for net in ("198.51.100.0/24", "203.0.113.0/24", "192.0.2.0/24")
)
V6_BASE = ipaddress.IPv6Network("2001:db8::/32")
NEC_OUI = 0x0060B9  # the link-local addresses look like an NEC box's EUI-64


class WanExhausted(NmopsError):
    """The documentation ranges have no free address left: run fewer routers."""


@dataclass(frozen=True)
class WanAddresses:
    pppoe_v4: ipaddress.IPv4Address
    v6_prefix: ipaddress.IPv6Network  # a /64 delegated to the router's LAN
    serial: int  # stable per router: its MAC addresses, hence link-local addresses

    @property
    def v6_global(self) -> ipaddress.IPv6Address:
        """The router's own global address in its prefix (on the LAN interface, RA + ND proxy)."""
        return self.v6_prefix[1]

    def link_local(self, port: int) -> ipaddress.IPv6Address:
        """EUI-64 link-local address of physical port ``port`` (GigaEthernetN)."""
        nic = ((self.serial << 4) | (port & 0xF)) & 0xFFFFFF
        mac = (NEC_OUI << 24) | nic
        eui = ((mac >> 24) << 40) | (0xFFFE << 24) | (mac & 0xFFFFFF)
        eui ^= 0x02 << 56  # flip the universal/local bit
        return ipaddress.IPv6Address((0xFE80 << 112) | eui)


class WanAllocator:
    """Hands out unique addresses to the lab's routers."""

    def __init__(self) -> None:
        self._v4 = [host for net in V4_POOLS for host in net.hosts()]
        self._v4_used: set[ipaddress.IPv4Address] = set()
        self._v4_next = 0
        self._v6_used: set[int] = set()
        self._v6_next = 1
        self._serials = 0

    def allocate(self) -> WanAddresses:
        self._serials += 1
        return WanAddresses(self._take_v4(), self._take_v6(), self._serials)

    def renew(self, old: WanAddresses) -> WanAddresses:
        """New PPPoE address and new prefix (as after a PPPoE reconnect / prefix change)."""
        new = WanAddresses(self._take_v4(), self._take_v6(), old.serial)
        self.release(old)
        return new

    def release(self, old: WanAddresses) -> None:
        self._v4_used.discard(old.pppoe_v4)
        self._v6_used.discard(int(old.v6_prefix.network_address) >> 80 & 0xFFFF)

    def _take_v4(self) -> ipaddress.IPv4Address:
        for _ in range(len(self._v4)):
            address = self._v4[self._v4_next % len(self._v4)]
            self._v4_next += 1
            if address not in self._v4_used:
                self._v4_used.add(address)
                return address
        raise WanExhausted(f"no free IPv4 address left in {', '.join(map(str, V4_POOLS))}")

    def _take_v6(self) -> ipaddress.IPv6Network:
        # 2001:db8:N::/64 for N in 1..0xffff: short, readable, and 65535 of them.
        for _ in range(0xFFFF):
            index = self._v6_next
            self._v6_next = self._v6_next % 0xFFFF + 1
            if index not in self._v6_used:
                self._v6_used.add(index)
                base = int(V6_BASE.network_address) | (index << 80)
                return ipaddress.IPv6Network((base, 64))
        raise WanExhausted(f"no free /64 left in {V6_BASE}")
