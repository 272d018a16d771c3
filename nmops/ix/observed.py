"""What a router said about itself, as a plain value (pure: no I/O, no SSH)."""

from __future__ import annotations

from dataclasses import dataclass, field

from nmops.dns.addresses import IPAddress
from nmops.ix.lines import Config
from nmops.ix.parsers import IkeSa, NmStatus, VersionInfo
from nmops.ix.routerconfig import NetMeisterConfig, Tunnel


@dataclass(frozen=True)
class RouterFacts:
    name: str
    reachable: bool
    error: str | None = None
    path: str | None = None  # the management path that answered
    version: VersionInfo | None = None
    # family -> global addresses on the interface NetMeister notifies for it
    addresses: dict[str, tuple[IPAddress, ...]] = field(default_factory=dict)
    interfaces: dict[str, str] = field(default_factory=dict)  # family -> that interface
    nm: NmStatus | None = None
    netmeister: NetMeisterConfig | None = None  # the `nm ...` lines of the running config
    tunnels: tuple[Tunnel, ...] = ()  # from the running config
    ike: tuple[IkeSa, ...] = ()
    running: Config | None = None
    saved: bool | None = None
    seconds: float = 0.0
    locked: bool = False  # logged in, but config mode (needed for `show`) stayed occupied
    unreadable: bool = False  # logged in, but its output could not be read

    def tunnel(self, interface: str) -> Tunnel | None:
        return next((t for t in self.tunnels if t.interface == interface), None)
