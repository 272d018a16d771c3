"""A lab of simulated IX routers in one asyncio loop, sharing a WAN and a DDNS registry."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from nmops.dns.addresses import IPAddress
from nmops.errors import NmopsError
from nmops.lab.ddns import DdnsRegistry
from nmops.lab.ixsim.faults import FAULT_KINDS
from nmops.lab.ixsim.router import SimRouter, State, Timings
from nmops.lab.ixsim.server import RouterServer, load_host_key
from nmops.lab.ixsim.wan import WanAllocator

log = logging.getLogger(__name__)


class LabError(NmopsError):
    """The lab cannot do what it was asked (unknown router, started twice ...)."""


@dataclass(frozen=True)
class RouterEndpoint:
    name: str
    host: str
    port: int
    fingerprint: str  # `SHA256:...`
    public_key: str  # `ssh-rsa AAAA...`

    @property
    def known_hosts_line(self) -> str:
        return f"[{self.host}]:{self.port} {self.public_key}"


class SimLab:
    """Start with :meth:`start`, inject faults with :meth:`fault`/:meth:`clear`, :meth:`stop`."""

    def __init__(self) -> None:
        self.routers: dict[str, SimRouter] = {}
        self.servers: dict[str, RouterServer] = {}
        self.registry: DdnsRegistry | None = None
        self.state_dir: Path | None = None
        self._by_address: dict[IPAddress, SimRouter] = {}

    async def start(
        self,
        routers: Sequence[tuple[str, str]],
        registry: DdnsRegistry,
        *,
        fast: bool = False,
        state_dir: Path,
        username: str,
        password: str,
        zone: str = "nmddns.jp",
        host: str = "127.0.0.1",
        base_port: int = 0,
        timings: Timings | None = None,
    ) -> dict[str, RouterEndpoint]:
        """Start one SSH server per ``(name, config text)``; ports are free ones unless
        ``base_port`` (then router i listens on base_port + i). Host keys live in
        ``state_dir/keys``, command logs in ``state_dir/logs/NAME.log``; ``state_dir/known_hosts``
        lists every router. DDNS registration follows after the configured delay
        (:meth:`settle` waits for it)."""
        if self.routers:
            raise LabError("this lab is already running; stop it first")
        names = [name for name, _ in routers]
        if len(set(names)) != len(names):
            raise LabError("router names must be unique")
        self.registry = registry
        self.state_dir = state_dir
        timings = timings or (Timings.fast() if fast else Timings())
        allocator = WanAllocator()
        # Smaller keys when fast: generating hundreds of 2048-bit keys takes seconds.
        bits = 1024 if fast else 2048
        keys = await asyncio.gather(
            *(load_host_key(state_dir / "keys" / f"{name}.key", bits) for name in names)
        )
        for index, ((name, text), key) in enumerate(zip(routers, keys, strict=True)):
            router = SimRouter(
                name,
                text,
                allocator.allocate(),
                registry=registry,
                allocator=allocator,
                zone=zone,
                timings=timings,
                alive=self._alive,
            )
            router.watchers.append(self._index_addresses)
            self.routers[name] = router
            self.servers[name] = RouterServer(
                router,
                key,
                username=username,
                password=password,
                log_path=state_dir / "logs" / f"{name}.log",
                host=host,
                port=base_port + index if base_port else 0,
            )
        owners: dict[str, str] = {}
        for router in self.routers.values():
            for fqdn in (router.ddns_names() or {}).values():
                if owners.setdefault(fqdn, router.name) != router.name:
                    self.routers.clear()
                    self.servers.clear()
                    raise LabError(
                        f"{router.name} would register {fqdn}, as {owners[fqdn]} does: "
                        "give one of them another hostname or `nm ddns hostname`"
                    )
        for router in self.routers.values():
            router.power_on()
        try:
            await asyncio.gather(*(server.start() for server in self.servers.values()))
        except OSError:
            await self.stop()
            raise
        endpoints = self.endpoints()
        known_hosts = "".join(f"{e.known_hosts_line}\n" for e in endpoints.values())
        (state_dir / "known_hosts").write_text(known_hosts, encoding="utf-8")
        log.info("lab: %d routers up", len(self.routers))
        return endpoints

    def endpoints(self) -> dict[str, RouterEndpoint]:
        return {
            name: RouterEndpoint(
                name, server.host, server.port, server.fingerprint, server.public_key
            )
            for name, server in self.servers.items()
        }

    def router(self, name: str) -> SimRouter:
        try:
            return self.routers[name]
        except KeyError:
            raise LabError(f"no router {name!r} in this lab") from None

    def fault(self, router: str, kind: str) -> None:
        """Inject a fault (one of FAULT_KINDS); must be called from the lab's loop."""
        self.router(router).fault(kind)

    def clear(self, router: str, kind: str | None = None) -> None:
        """Clear one fault, or all of them."""
        self.router(router).clear(kind)

    async def settle(self, timeout: float = 30.0) -> None:
        """Wait until no router has a DDNS registration, IKE setup or boot pending."""
        deadline = time.monotonic() + timeout
        while not all(router.settled for router in self.routers.values()):
            if time.monotonic() > deadline:
                busy = [name for name, r in self.routers.items() if not r.settled]
                raise LabError(f"lab not settled after {timeout:g}s: {', '.join(busy[:5])}")
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        for router in self.routers.values():
            router.shutdown()
        await asyncio.gather(*(server.stop() for server in self.servers.values()))
        self.routers.clear()
        self.servers.clear()
        self._by_address.clear()

    # An IKE peer answers only where a lab router that is up holds the address.
    def _alive(self, address: IPAddress) -> bool:
        owner = self._by_address.get(address)
        return owner is not None and owner.state is State.UP and owner.owns(address)

    def _index_addresses(self, router: SimRouter) -> None:
        self._by_address[router.wan.pppoe_v4] = router
        self._by_address[router.wan.v6_global] = router


__all__ = ["FAULT_KINDS", "LabError", "RouterEndpoint", "SimLab"]
