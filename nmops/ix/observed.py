"""What a router said about itself, as a plain value (pure: no I/O, no SSH)."""

from __future__ import annotations

from dataclasses import dataclass, field

from nmops.dns.addresses import IPAddress
from nmops.ix.parsers import IkeSa, NmStatus, VersionInfo


@dataclass(frozen=True)
class RouterFacts:
    name: str
    reachable: bool
    error: str | None = None
    path: str | None = None  # the management path that answered
    version: VersionInfo | None = None
    addresses: dict[str, tuple[IPAddress, ...]] = field(default_factory=dict)  # family -> global
    nm: NmStatus | None = None
    ike: tuple[IkeSa, ...] = ()
    saved: bool | None = None
    seconds: float = 0.0
    locked: bool = False  # logged in, but config mode (needed for `show`) stayed occupied
    unreadable: bool = False  # logged in, but its output could not be read
