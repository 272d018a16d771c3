"""One simulated IX router: configs, addresses, faults, config lock, reload, DDNS and IKE.

No sockets here: the SSH server watches the router (``watchers``) and the CLI sessions call
it. Timers run on the asyncio loop the lab was started in.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Protocol

from nmops.dns.addresses import IPAddress
from nmops.lab.ddns import DdnsRegistry
from nmops.lab.ixsim import ike, texts
from nmops.lab.ixsim.config import Applied, Outcome, RunningConfig
from nmops.lab.ixsim.interfaces import ipv4_state, ipv6_state, v6_lan_interface
from nmops.lab.ixsim.wan import WanAddresses, WanAllocator

log = logging.getLogger(__name__)

JST = timezone(timedelta(hours=9), "JST")

FAULT_KINDS = (
    "ddns-v6-stuck",  # v6 registration stops updating until reboot (the seed's complaint)
    "ddns-v4-stuck",
    "address-change",  # new PPPoE address and IPv6 prefix at once; an event, not a state
    "ike-peer-stale",  # SAs keep the peer's old address until cleared or reboot
    "ssh-down",  # new SSH connections are refused
    "config-locked",  # someone else sits in config mode
    "slow",  # every reply is delayed
    "reload-hangs",  # a reload never comes back (until the fault is cleared: power cycle)
)
_CLEARED_BY_RELOAD = frozenset(
    {"ddns-v6-stuck", "ddns-v4-stuck", "ike-peer-stale", "config-locked"}
)


@dataclass(frozen=True)
class Timings:
    ddns_delay: float = 3.0  # boot or change -> DDNS registration; also IKE setup after boot
    reload_delay: float = 20.0
    slow_delay: float = 0.5
    nm_interval: float = 5 * 86400.0  # only shown as `Next Request`
    # Every reply waits this long: a real IX's CLI plus a WAN round trip (0: answer at once).
    reply_delay: float = 0.0

    @classmethod
    def fast(cls) -> Timings:
        return cls(ddns_delay=0.15, reload_delay=0.4, slow_delay=0.2)


class State(enum.Enum):
    UP = "up"
    RELOADING = "reloading"
    HUNG = "hung"  # reloaded with `reload-hangs`: never came back


class SessionHandle(Protocol):
    """What the router needs from a CLI session."""

    def config_taken_over(self) -> None: ...

    def drop(self) -> None: ...


class _Phantom:
    """The other administrator of the `config-locked` fault."""

    def config_taken_over(self) -> None:
        pass

    def drop(self) -> None:
        pass


PHANTOM = _Phantom()


class SimRouter:
    def __init__(
        self,
        name: str,
        config_text: str,
        wan: WanAddresses,
        *,
        registry: DdnsRegistry,
        allocator: WanAllocator,
        zone: str = "nmddns.jp",
        timings: Timings | None = None,
        alive: Callable[[IPAddress], bool] | None = None,
    ) -> None:
        self.name = name
        self.startup = RunningConfig.from_text(config_text)
        self.running = self.startup.copy()
        self.wan = wan
        self.registry = registry
        self.allocator = allocator
        self.zone = zone.lower().rstrip(".")
        self.timings = timings or Timings()
        self.alive: Callable[[IPAddress], bool] = alive or (lambda _address: True)
        self.faults: set[str] = set()
        self.state = State.RELOADING  # until power_on()
        self.sessions: set[SessionHandle] = set()
        self.watchers: list[Callable[[SimRouter], None]] = []
        self.wake_cause = texts.WAKE_POWER_ON
        self.started_at = datetime.now(JST)
        self.nm_last_request: datetime | None = None
        self.registered: dict[str, tuple[str, IPAddress]] = {}  # rdtype -> (fqdn, address)
        self._config_owner: SessionHandle | None = None
        self._booted = time.monotonic()
        self._sas: dict[str, ike.IkeSa] = {}
        self._ddns_timer: asyncio.TimerHandle | None = None
        self._ike_timer: asyncio.TimerHandle | None = None
        self._ike_ready = False
        self._boot_timer: asyncio.TimerHandle | None = None
        self._shown_clock: datetime | None = None

    # --- life cycle ---------------------------------------------------------------------

    def power_on(self) -> None:
        self._boot(texts.WAKE_POWER_ON)

    def reload(self) -> None:
        """`reload` confirmed: every session drops; back after a delay with the startup config."""
        log.info("%s: reloading", self.name)
        self.state = State.RELOADING
        self.faults -= _CLEARED_BY_RELOAD
        self._config_owner = None
        self._sas.clear()
        self._ike_ready = False
        self._cancel_timers()
        for session in list(self.sessions):
            session.drop()
        self.sessions.clear()
        if "reload-hangs" in self.faults:
            self.state = State.HUNG
            log.info("%s: hangs in reload", self.name)
        else:
            self._boot_timer = asyncio.get_running_loop().call_later(
                self.timings.reload_delay, self._boot, texts.WAKE_COMMAND
            )
        self._notify()

    def shutdown(self) -> None:
        """The lab stops: no more timers."""
        self._cancel_timers()
        for session in list(self.sessions):
            session.drop()
        self.sessions.clear()

    def _boot(self, cause: str) -> None:
        self.running = self.startup.copy()
        self.state = State.UP
        self.wake_cause = cause
        self.started_at = datetime.now(JST)
        self._booted = time.monotonic()
        self._sas.clear()
        self._ike_ready = False
        self._boot_timer = None
        self._schedule_ddns()
        # SAs come up once both ends have registered; from then on they hold an address
        # that `ike-peer-stale` can pin.
        self._ike_timer = asyncio.get_running_loop().call_later(self._ike_setup, self._ike_up)
        log.info("%s: up (%s)", self.name, cause)
        self._notify()

    def _cancel_timers(self) -> None:
        for timer in (self._ddns_timer, self._boot_timer, self._ike_timer):
            if timer is not None:
                timer.cancel()
        self._ddns_timer = self._boot_timer = self._ike_timer = None

    def _notify(self) -> None:
        for watcher in list(self.watchers):
            watcher(self)

    @property
    def reachable(self) -> bool:
        """Whether the router accepts new SSH connections."""
        return self.state is State.UP and "ssh-down" not in self.faults

    @property
    def settled(self) -> bool:
        """Nothing pending: no DDNS registration and no boot on its way."""
        return (
            self._ddns_timer is None
            and self._ike_timer is None
            and self.state is not State.RELOADING
        )

    @property
    def uptime(self) -> float:
        return time.monotonic() - self._booted

    def clock(self) -> datetime:
        """The router's clock, strictly later on every call (so `! Current time` always
        changes, as on a router where calls are seconds apart)."""
        now = datetime.now(JST).replace(microsecond=0)
        if self._shown_clock is not None and now <= self._shown_clock:
            now = self._shown_clock + timedelta(seconds=1)
        self._shown_clock = now
        return now

    # --- faults -------------------------------------------------------------------------

    def fault(self, kind: str) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; known: {', '.join(FAULT_KINDS)}")
        log.info("%s: fault %s", self.name, kind)
        if kind == "address-change":
            self.wan = self.allocator.renew(self.wan)
            self._schedule_ddns()
            self._notify()
            return
        if kind == "ike-peer-stale":
            self.ike_sas()  # pin the SAs as they are now
        self.faults.add(kind)
        if kind == "config-locked":
            owner = self._config_owner
            if owner is not None and owner is not PHANTOM:
                owner.config_taken_over()
            self._config_owner = PHANTOM
        self._notify()

    def clear(self, kind: str | None = None) -> None:
        kinds = set(self.faults) if kind is None else {kind}
        unknown = kinds - set(FAULT_KINDS)
        if unknown:
            raise ValueError(
                f"unknown fault {sorted(unknown)[0]!r}; known: {', '.join(FAULT_KINDS)}"
            )
        self.faults -= kinds
        if "config-locked" in kinds and self._config_owner is PHANTOM:
            self._config_owner = None
        if "ike-peer-stale" in kinds:
            self._sas.clear()  # the stuck SAs are torn down and renegotiated
        if kinds & {"ddns-v4-stuck", "ddns-v6-stuck"}:
            self._schedule_ddns()
        if "reload-hangs" in kinds and self.state is State.HUNG:
            self._boot(texts.WAKE_POWER_ON)  # someone cycled the power
        self._notify()

    # --- sessions and config mode -------------------------------------------------------

    def attach(self, session: SessionHandle) -> None:
        self.sessions.add(session)

    def detach(self, session: SessionHandle) -> None:
        self.sessions.discard(session)
        self.leave_config(session)

    def enter_config(self, session: SessionHandle, *, takeover: bool) -> bool:
        owner = self._config_owner
        if owner is not None and owner is not session:
            if not takeover:
                return False
            if owner is PHANTOM:
                self.faults.discard("config-locked")
            else:
                owner.config_taken_over()
        self._config_owner = session
        return True

    def leave_config(self, session: SessionHandle) -> None:
        if self._config_owner is session:
            self._config_owner = None

    @property
    def config_owner(self) -> SessionHandle | None:
        return self._config_owner

    # --- config -------------------------------------------------------------------------

    @property
    def hostname(self) -> str:
        return self.running.hostname

    def apply_config(self, line: str, block: str | None) -> Applied:
        result = self.running.apply(line, block)
        if result.outcome in (Outcome.APPLIED, Outcome.ENTERED):
            # Any change may touch the NetMeister lines, the hostname or an interface.
            self._schedule_ddns()
        return result

    def save(self) -> None:
        self.startup = self.running.copy()

    @property
    def unsaved(self) -> bool:
        return self.running.render() != self.startup.render()

    # --- addresses ----------------------------------------------------------------------

    def address_of(self, ifname: str, family: int) -> IPAddress | None:
        """The address DDNS would publish for ``ifname``: its IPv4 address, or its first
        global IPv6 address."""
        if family == 4:
            v4 = ipv4_state(self.running, self.wan, ifname).address
            return v4.ip if v4 is not None else None
        globals_ = ipv6_state(self.running, self.wan, ifname).globals
        return globals_[0][0].ip if globals_ else None

    def own_address(self, family: int) -> IPAddress | None:
        """The address IKE talks from: the PPPoE address, or the global IPv6 address."""
        if family == 4:
            return self.wan.pppoe_v4
        lan = v6_lan_interface(self.running)
        return self.address_of(lan, 6) if lan is not None else None

    def owns(self, address: IPAddress) -> bool:
        return address in (self.wan.pppoe_v4, self.wan.v6_global)

    # --- NetMeister DDNS ----------------------------------------------------------------

    def ddns_names(self) -> dict[str, str] | None:
        """``{"A": fqdn, "AAAA": fqdn}`` from the NetMeister lines, or None when off."""
        if "nm ip enable" not in set(self.running.top_lines()):
            return None
        account = self.running.value("nm account")
        if not account:
            return None
        group = account.split()[0].lower()
        host = (self.running.value("nm ddns hostname") or self.hostname).lower()
        return {"A": f"{host}.{group}.{self.zone}", "AAAA": f"{host}.{group}.v6.{self.zone}"}

    def _schedule_ddns(self) -> None:
        if self._ddns_timer is not None:
            self._ddns_timer.cancel()
        self._ddns_timer = asyncio.get_running_loop().call_later(
            self.timings.ddns_delay, self._register_ddns
        )

    def _register_ddns(self) -> None:
        self._ddns_timer = None
        if self.state is not State.UP:
            return
        names = self.ddns_names()
        if names is None:
            return
        for line in self.running.top_lines():
            words = line.split()
            if words[:4] != ["nm", "ddns", "notify", "interface"] or len(words) != 7:
                continue
            ifname, protocol = words[4], words[6]
            rdtype, family = ("A", 4) if protocol == "ip" else ("AAAA", 6)
            if f"ddns-v{family}-stuck" in self.faults:
                continue
            address = self.address_of(ifname, family)
            if address is None:
                continue  # nothing to publish: the old record stays, as at NetMeister
            self.registry.set(names[rdtype], rdtype, [address])
            self.registered[rdtype] = (names[rdtype], address)
            log.debug("%s: DDNS %s %s -> %s", self.name, names[rdtype], rdtype, address)
        self.nm_last_request = datetime.now(JST)

    # --- IKE ----------------------------------------------------------------------------

    def ike_sas(self) -> list[ike.IkeSa]:
        """The SAs as they stand now (re-resolving peers the way DPD would)."""
        if self.state is not State.UP or not self._ike_ready:
            return []
        fams: dict[int, str] = {4: "A", 6: "AAAA"}
        self._sas = ike.refresh_sas(
            self._sas,
            ike.tunnel_peers(self.running),
            {4: self.own_address(4), 6: self.own_address(6)},
            lambda fqdn, family: self.registry.get(fqdn, fams[family]),
            self.alive,
            stale="ike-peer-stale" in self.faults,
        )
        return [self._sas[key] for key in sorted(self._sas)]

    def clear_ike(self) -> None:
        self._sas.clear()

    @property
    def _ike_setup(self) -> float:
        return 2 * self.timings.ddns_delay

    def _ike_up(self) -> None:
        self._ike_timer = None
        self._ike_ready = True
        self.ike_sas()
